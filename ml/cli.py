"""Shared plumbing for the scripts/ CLIs: user errors become one line on stderr and exit code 1."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import Any

import click

from ml.errors import MLOpsError, ParamsError

DEFAULT_PARAMS = "params.yaml"
params_option = click.option(
    "--params", "params_path", default=DEFAULT_PARAMS, show_default=True,
    type=click.Path(dir_okay=False), help="The configuration file.",
)


def one_line_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn MLOpsError (and OS errors on our files) into click's 'Error: …' line, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ParamsError as exc:
            raise click.ClickException(one_line(_naming_the_params_file(str(exc), kwargs.get("params_path")))) from None
        except MLOpsError as exc:
            raise click.ClickException(one_line(str(exc))) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(one_line(f"{where}{exc.strerror or exc}")) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get("MLOPS_DEBUG"):
                raise
            raise click.ClickException(one_line(
                f"unexpected {exc.__class__.__name__}: {exc} (set MLOPS_DEBUG=1 for the traceback)")) from None

    return wrapper


def one_line(message: str) -> str:
    """A message whose quoted data (a column or class named with a newline) would otherwise span several lines."""
    return re.sub(r"\s*[\r\n\v\f\x85\u2028\u2029]+\s*", " ", message).strip()


def _naming_the_params_file(message: str, params_path: str | None) -> str:
    """ParamsError names the file by its role ("params.yaml: …"); with --params other.yaml, name that file."""
    prefix = f"{DEFAULT_PARAMS}: "
    if params_path and params_path != DEFAULT_PARAMS and message.startswith(prefix):
        return f"{params_path}: {message.removeprefix(prefix)}"
    return message

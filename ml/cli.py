"""Shared plumbing for the scripts/ CLIs: user errors become one line on stderr and exit code 1."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click

from ml.errors import MLOpsError

params_option = click.option(
    "--params", "params_path", default="params.yaml", show_default=True,
    type=click.Path(dir_okay=False), help="The configuration file.",
)


def one_line_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn MLOpsError (and OS errors on our files) into click's 'Error: …' line, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MLOpsError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get("MLOPS_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {exc.__class__.__name__}: {exc} (set MLOPS_DEBUG=1 for the traceback)") from None

    return wrapper

"""What the GitHub scripts share: settings from the environment, the body file, and --dry-run output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ml.github.errors import GitHubError
from ml.github.markers import check_marker
from ml.github.settings import GitHubSettings

dry_run_option = click.option("--dry-run", is_flag=True,
                              help="Print what would be sent to GitHub and send nothing (no token needed).")


def settings_for(dry_run: bool) -> GitHubSettings:
    return GitHubSettings.from_env(require_token=not dry_run)


def read_text(path: str, what: str) -> str:
    text = Path(path).read_text(encoding="utf-8")
    if not text.strip():
        raise GitHubError(f"{path}: the {what} is empty; nothing to post")
    return text


def valid_marker(marker: str) -> str:
    try:
        return check_marker(marker)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--marker") from None


def echo_plan(settings: GitHubSettings, steps: list[str], payload: Any = None, read: bool = False) -> None:
    """The dry-run report: where the calls would go, in order, and the body (never the token).

    `read`: the plan was made by reading from GitHub (never writing), and the header says so.
    """
    token = "set" if settings.token else "not set"
    sent = "only reads were sent, nothing is written" if read else "nothing is sent"
    click.echo(f"dry run: {sent}. GitHub {settings.api_url}, repository {settings.repository}, "
               f"GITHUB_TOKEN {token}")
    for number, step in enumerate(steps, 1):
        click.echo(f"{number}. {step}")
    if isinstance(payload, str):
        click.echo(f"--- body ({len(payload)} characters) ---\n{payload}")
    elif payload is not None:
        click.echo(f"--- JSON body ---\n{json.dumps(payload, indent=2, sort_keys=True)}")

"""The GitHub Actions side of a step: step outputs (GITHUB_OUTPUT) and the event payload (GITHUB_EVENT_PATH).

Outside Actions (a laptop, a test) outputs are printed as `key=value` lines instead, so every script still runs.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ml.errors import MLOpsError


def write_outputs(values: Mapping[str, Any], env: Mapping[str, str] | None = None) -> None:
    """Append step outputs; multi-line values use a random heredoc delimiter so a value cannot inject outputs."""
    env = os.environ if env is None else env
    lines = []
    for key, value in values.items():
        text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        if "\n" in text:
            delimiter = f"EOF_{secrets.token_hex(8)}"
            lines.append(f"{key}<<{delimiter}\n{text}\n{delimiter}")
        else:
            lines.append(f"{key}={text}")
    target = env.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    for line in lines:
        click.echo(line)


def notice(title: str, message: str) -> None:
    """A notice on the run's summary page: a step that rightly does nothing says why without turning red."""
    _annotate("notice", title, message)


def warning(title: str, message: str) -> None:
    """A warning on the run's summary page: the step works, but something will not work later."""
    _annotate("warning", title, message)


def _annotate(level: str, title: str, message: str) -> None:
    """The message escaped as the runner expects, so it stays one annotation whatever it contains."""
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    click.echo(f"::{level} title={title}::{escaped}")


def read_event(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The triggering event's payload; a missing or garbled file is a one-line error."""
    env = os.environ if env is None else env
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        raise MLOpsError("GITHUB_EVENT_PATH is not set: this step runs inside GitHub Actions")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MLOpsError(f"{path}: cannot read the event payload ({exc})") from None
    if not isinstance(event, dict):
        raise MLOpsError(f"{path}: the event payload is not a JSON object")
    return event

"""Read a JSON report another step wrote, with one-line errors that say which step did not finish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ml.errors import MLOpsError


def load_json_report(path: str | Path, producer: str = "the step that writes it") -> dict[str, Any]:
    """The JSON object in path; missing, garbled or non-object files are an MLOpsError naming the file."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MLOpsError(f"{path}: not found; run {producer} first") from None
    except ValueError:
        raise MLOpsError(f"{path}: not valid JSON") from None
    if not isinstance(payload, dict):
        raise MLOpsError(f"{path}: expected a JSON object")
    return payload

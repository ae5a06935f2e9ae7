"""Hidden HTML-comment markers: how our comments and issues are recognised among everyone else's."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

PR_REPORT_MARKER = "<!-- mlops-template:pr-report -->"
DRIFT_MARKER = "<!-- mlops-template:drift -->"
MAX_BODY = 65536  # GitHub refuses longer comment and issue bodies
_MARKER = re.compile(r"^<!--\s*[^<>]*?\s*-->$")


def check_marker(marker: str) -> str:
    marker = marker.strip()
    if not _MARKER.match(marker):
        raise ValueError(f"a marker must be a single HTML comment like {PR_REPORT_MARKER}, got {marker!r}")
    return marker


def with_marker(body: str, marker: str) -> str:
    """The body starting with the marker (prepended unless it already does), cut to fit GitHub's size limit.

    The cut is at a line break: our reports quote data in code spans, and one cut open would leave the rest of its
    line live markdown (a mention, a link)."""
    if not body.startswith(marker):
        body = f"{marker}\n{body}"
    if len(body) > MAX_BODY:
        note = "\n\n…(truncated to fit GitHub's limit; the full report is in the workflow artifacts)"
        body = body[:max(body.rfind("\n", 0, MAX_BODY - len(note)), len(marker))] + note
    return body


def is_ours(item: Mapping[str, Any], marker: str) -> bool:
    """Whether a comment or issue is ours: anyone can paste a marker, but only a bot token posts as a Bot."""
    author = item.get("user") or {}
    return author.get("type") == "Bot" and (item.get("body") or "").startswith(marker)


def new_nonce(kind: str) -> str:
    """A marker unique to one write, so a retry can tell whether its earlier attempt landed."""
    return f"<!-- mlops-template:{kind} {uuid.uuid4().hex} -->"

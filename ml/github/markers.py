"""Hidden HTML-comment markers: how our comments and issues are recognised among everyone else's."""

from __future__ import annotations

import re
import uuid

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
    """The body with the marker on its first line (added if missing), cut to fit GitHub's size limit."""
    if marker not in body:
        body = f"{marker}\n{body}"
    if len(body) > MAX_BODY:
        note = "\n\n…(truncated to fit GitHub's limit; the full report is in the workflow artifacts)"
        body = body[:MAX_BODY - len(note)] + note
    return body


def new_nonce(kind: str) -> str:
    """A marker unique to one write, so a retry can tell whether its earlier attempt landed."""
    return f"<!-- mlops-template:{kind} {uuid.uuid4().hex} -->"

"""The artifact pr.yml hands to pr-comment.yml: its layout, how it is packed, and how the receiver checks it.

pr-comment.yml runs with a write token on data a PR (perhaps from a fork) produced, so it accepts only the files
listed here, within size limits, as valid UTF-8 / JSON, a comment that is inert markdown (ml.github.inert: no link,
image, mention or HTML of its own), and only for the head SHA it was told about.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from ml.errors import IntegrityError, MLOpsError
from ml.fileio import write_json_atomic
from ml.github.inert import markdown_problem

META = "pr.json"
COMMENT = "pr_comment.md"
REPORT_FILES = ("pr_comment.md", "job_summary.md", "validation.json", "validation.md")
# Absent when the data failed validation: nothing was trained, and the comment says why.
TRAINED_FILES = ("metrics.json", "comparison.json")
MODEL_FILES = ("model.joblib", "metadata.json", "model_card.md")
MODEL_DIR = "model"
MAX_TEXT_BYTES = 256 * 1024
MAX_COMMENT_CHARS = 65_000      # GitHub rejects comment bodies over 65,536 characters
MAX_TOTAL_BYTES = 200 * 1024 * 1024
_SHA = re.compile(r"^[0-9a-f]{40}$")


def pack(reports: Path, model_dir: Path, out: Path, event: dict[str, Any]) -> dict[str, Any]:
    """Copy the reports and the model bundle into `out` with pr.json (PR number and head SHA from the event)."""
    pull = event.get("pull_request") or {}
    meta = {"pr": pull.get("number"), "head_sha": (pull.get("head") or {}).get("sha"),
            "base_sha": (pull.get("base") or {}).get("sha")}
    if not isinstance(meta["pr"], int) or not _SHA.match(str(meta["head_sha"] or "")):
        raise MLOpsError("the event payload has no pull_request number and head SHA: run this on pull_request")
    shutil.rmtree(out, ignore_errors=True)
    (out / MODEL_DIR).mkdir(parents=True)
    for name in REPORT_FILES:
        source = reports / name
        if not source.is_file():
            raise MLOpsError(f"{source}: not found; run the report steps first")
        shutil.copyfile(source, out / name)
    trained = json.loads((reports / "validation.json").read_text(encoding="utf-8")).get("ok") is True
    for name in TRAINED_FILES if trained else ():
        source = reports / name
        if not source.is_file():
            raise MLOpsError(f"{source}: not found; run the report steps first")
        shutil.copyfile(source, out / name)
    for name in MODEL_FILES if trained else ():
        source = model_dir / name
        if source.is_file():
            shutil.copyfile(source, out / MODEL_DIR / name)
        elif name != "model_card.md":
            raise MLOpsError(f"{source}: not found; run train.py first")
    write_json_atomic(out / META, meta)
    return meta


def check(directory: Path, head_sha: str) -> dict[str, Any]:
    """Validate a downloaded artifact; returns pr.json. Any surprise is an IntegrityError naming the file."""
    head_sha = head_sha.strip().lower()
    if not _SHA.match(head_sha):
        raise MLOpsError(f"--head-sha {head_sha!r} is not a 40-hex commit SHA")
    if not directory.is_dir():
        raise IntegrityError(f"{directory}: the artifact was not downloaded")
    allowed = {*REPORT_FILES, *TRAINED_FILES, META, MODEL_DIR, *(f"{MODEL_DIR}/{n}" for n in MODEL_FILES)}
    total = 0
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_symlink():
            raise IntegrityError(f"artifact: {rel} is a link; refusing it")
        if rel not in allowed:
            raise IntegrityError(f"artifact: unexpected file {rel}; refusing the whole artifact")
        if path.is_file():
            total += path.stat().st_size
    if total > MAX_TOTAL_BYTES:
        raise IntegrityError(f"artifact: {total} bytes, over the {MAX_TOTAL_BYTES} byte limit")
    optional = {*TRAINED_FILES, f"{MODEL_DIR}/metadata.json"}
    for name in (*REPORT_FILES, *TRAINED_FILES, META, f"{MODEL_DIR}/metadata.json"):
        path = directory / name
        if not path.is_file():
            if name in optional:
                continue
            raise IntegrityError(f"artifact: {name} is missing")
        text = _text(path, name)
        if name.endswith(".json"):
            try:
                json.loads(text)
            except ValueError:
                raise IntegrityError(f"artifact: {name} is not valid JSON") from None
    comment = _text(directory / COMMENT, COMMENT)
    if len(comment) > MAX_COMMENT_CHARS:
        raise IntegrityError(f"artifact: {COMMENT} has {len(comment)} characters, over GitHub's comment limit")
    problem = markdown_problem(comment)
    if problem:
        raise IntegrityError(f"artifact: {COMMENT} {problem}, which our report never has; refusing to post it")
    meta = json.loads((directory / META).read_text(encoding="utf-8"))
    number = meta.get("pr") if isinstance(meta, dict) else None
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:  # JSON true is an int to Python
        raise IntegrityError(f"artifact: {META} has no valid PR number")
    if str(meta.get("head_sha", "")).lower() != head_sha:
        raise IntegrityError(f"artifact: {META} is for commit {str(meta.get('head_sha'))[:12]}, but the run was for "
                             f"{head_sha[:12]}; refusing it")
    return meta


def _text(path: Path, name: str) -> str:
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise IntegrityError(f"artifact: {name} is over {MAX_TEXT_BYTES} bytes")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"artifact: {name} is not UTF-8 text") from None
    if "\0" in text:
        raise IntegrityError(f"artifact: {name} contains NUL bytes")
    return text

"""Atomic file writes and hashing, so a crash never leaves a half-written report or registry entry."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    with open(path, "rb") as handle:
        return sha256_stream(handle, chunk_size)


def sha256_stream(handle: BinaryIO, chunk_size: int = 1 << 20) -> str:
    """The sha256 of what is left to read in an open file."""
    digest = hashlib.sha256()
    while chunk := handle.read(chunk_size):
        digest.update(chunk)
    return digest.hexdigest()


def _process_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once, at import: the umask can only be read by setting it, which would race with other threads.
UMASK = _process_umask()


def temp_file_beside(path: Path) -> tuple[int, str]:
    """mkstemp next to `path`, with the mode an ordinary new file gets (0644 under umask 022).

    mkstemp makes 0600 files; renamed into place they stay unreadable to anyone else, e.g. the container image's
    non-root server reading a bundle copied in with its modes.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~UMASK)
    return fd, tmp


def staging_dir(parent: Path, prefix: str) -> Path:
    """mkdtemp with an ordinary new directory's mode (0755 under umask 022), not mkdtemp's private 0700: staging
    directories are renamed into place as bundles and registry versions."""
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    staging.chmod(0o777 & ~UMASK)
    return staging


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write to a temporary file in the same directory, fsync, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, payload: Any, indent: int | None = 2) -> Path:
    """Strict JSON: NaN and infinities (a metric undefined on some holdout) are written as null, since jq,
    JavaScript and GitHub's fromJSON reject them. indent=None for large machine-read files: json's C encoder
    only runs without indentation (~10× faster)."""
    try:
        text = json.dumps(payload, indent=indent, sort_keys=True, default=str, allow_nan=False)
    except ValueError:  # rare, so only then is the payload walked
        text = json.dumps(_finite(payload), indent=indent, sort_keys=True, default=str, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def remove_outputs(*paths: str | Path) -> None:
    """Delete a step's previous outputs before it runs, so a failure leaves nothing stale behind."""
    for path in paths:
        Path(path).unlink(missing_ok=True)


PARQUET_SUFFIXES = (".parquet", ".pq")  # in any case: every other data file is read as CSV


def is_parquet(path: str | Path) -> bool:
    return Path(path).suffix.lower() in PARQUET_SUFFIXES

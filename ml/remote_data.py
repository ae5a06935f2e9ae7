"""Download a data file from a configured URL (production data for drift.yml, new training data for retrain.yml).

Bounded in size, written atomically, with an optional bearer token sent only to that URL.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import requests

from ml.errors import DataError
from ml.fileio import temp_file_beside

MAX_BYTES = 2 * 1024 ** 3
TIMEOUT = (10.0, 120.0)


def shown_url(url: str) -> str:
    """The URL to name in messages: never its user:password or its query string (it may hold a signature)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else f"{host}{parts.path}"


def download(url: str, dest: Path, token: str | None = None, max_bytes: int = MAX_BYTES) -> int:
    """Fetch url into dest; returns the size. HTTP errors, empty and oversized bodies are DataErrors."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DataError(f"{shown_url(url)!r}: not an http(s) URL")
    shown = shown_url(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_beside(dest)
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle, requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as resp:
            if resp.status_code >= 400:
                raise DataError(f"{shown}: HTTP {resp.status_code} {resp.reason}")
            for chunk in resp.iter_content(chunk_size=1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise DataError(f"{shown}: larger than {max_bytes} bytes; refusing it")
                handle.write(chunk)
        if size == 0:
            raise DataError(f"{shown}: empty response")
        os.replace(tmp, dest)
    except requests.RequestException as exc:
        raise DataError(f"{shown}: download failed ({exc.__class__.__name__})") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return size

"""Tiny HTTP client on http.client: one fresh connection per call, so a check never rides a stale keep-alive."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body)


def request(method: str, url: str, payload: Any = None, timeout: float = 5.0,
            extra_headers: Mapping[str, str] | None = None) -> Response:
    """Send one request; raises OSError (ConnectionRefusedError, TimeoutError...) when the server is unreachable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{url}: only http:// and https:// URLs are supported")
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname, parts.port, timeout=timeout)
    body = None if payload is None else json.dumps(payload).encode()
    headers = {"Connection": "close", **(extra_headers or {})}
    if body is not None:
        headers["Content-Type"] = "application/json"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, data, elapsed)
    except http.client.HTTPException as exc:
        raise ConnectionError(f"{url}: bad HTTP answer ({exc.__class__.__name__})") from None
    finally:
        conn.close()


def get(url: str, timeout: float = 5.0) -> Response:
    return request("GET", url, timeout=timeout)


def join(base: str, path: str) -> str:
    return base.rstrip("/") + path


def is_ready(base_url: str, timeout: float = 2.0) -> bool:
    try:
        return get(join(base_url, "/health/ready"), timeout=timeout).status == 200
    except OSError:
        return False


def readiness_failure(base_url: str, timeout: float = 2.0) -> str | None:
    """The reason a server gave up becoming ready (503 with status "failed"), or None while it may still get there."""
    try:
        response = get(join(base_url, "/health/ready"), timeout=timeout)
        body = response.json() if response.status == 503 else {}
    except (OSError, ValueError):
        return None
    if isinstance(body, dict) and body.get("status") == "failed":
        return str(body.get("detail") or "the server reports a failed start-up")
    return None

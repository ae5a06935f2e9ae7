"""Pure ASGI middleware: X-Model-Version on every response, request metrics, and a JSON 500 as the last resort.

Pure ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task and a memory stream per request.
It is the outermost layer, so even an unexpected exception answers with a version header and is counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from serving.metrics import Metrics

log = logging.getLogger("serving")

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, version_header: Callable[[], bytes],
                 known_paths: Callable[[], frozenset[str]]):
        self.app = app
        self.metrics = metrics
        self.version_header = version_header
        self.known_paths = known_paths

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        header = (b"x-model-version", self.version_header())
        status = 0

        async def send_with_version(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_version)
        except Exception as exc:
            log.error("unhandled %s on %s %s: %s", exc.__class__.__name__, scope["method"], scope["path"], exc)
            if status == 0:
                status = 500
                body = orjson.dumps({"detail": f"internal error ({exc.__class__.__name__})"})
                await send({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), header]})
                await send({"type": "http.response.body", "body": body})
        finally:
            path = scope["path"]
            self.metrics.observe_request(scope["method"], path if path in self.known_paths() else "other",
                                         status, time.perf_counter() - started)

"""A bounded load generator for the deploy tests: threads sending POST /predict through nginx, with and without
client keep-alive, recording every answer's time, status and X-Model-Version.

The keep-alive clients behave like an ordinary HTTP/1.1 client (http.client): one connection reused until the
server says `Connection: close` or closes it. No retries: every error is a failed request.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Answer:
    sent: float          # time.time() when the request started
    version: str | None  # X-Model-Version, None on failure
    error: str | None
    keepalive: bool


@dataclass
class LoadGenerator:
    port: int
    records: list[dict]
    keepalive_clients: int = 2
    fresh_clients: int = 2
    pause: float = 0.005           # between requests of one client: leave CPU for the servers
    max_seconds: float = 180.0
    max_requests: int = 200_000
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._bodies = [json.dumps(r["features"]).encode() for r in self.records]

    def __enter__(self) -> LoadGenerator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._deadline = time.monotonic() + self.max_seconds
        for i in range(self.keepalive_clients + self.fresh_clients):
            thread = threading.Thread(target=self._client, args=(i < self.keepalive_clients, i), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _record(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)
            if len(self.answers) >= self.max_requests:
                self._stop.set()

    def _client(self, keepalive: bool, index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json"}
        if not keepalive:
            headers["Connection"] = "close"
        n = index
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            body = self._bodies[n % len(self._bodies)]
            n += 1
            sent = time.time()
            try:
                conn.request("POST", "/predict", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    self._record(Answer(sent, None, f"HTTP {response.status}", keepalive))
                else:
                    self._record(Answer(sent, response.getheader("x-model-version"), None, keepalive))
                if not keepalive or response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                self._record(Answer(sent, None, f"{exc.__class__.__name__}: {exc}", keepalive))
                conn.close()
            time.sleep(self.pause)
        conn.close()

    # -- reading the results --------------------------------------------------------------------------------
    def failures(self) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.error]

    def count(self, keepalive: bool | None = None) -> int:
        with self._lock:
            return sum(1 for a in self.answers if keepalive is None or a.keepalive == keepalive)

    def versions_between(self, start: float, end: float) -> set[str | None]:
        with self._lock:
            return {a.version for a in self.answers if start <= a.sent < end and not a.error}

    def wait_for_traffic(self, requests: int = 20, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        start = self.count()
        while self.count() - start < requests and time.monotonic() < deadline:
            time.sleep(0.05)

"""The prediction log the drift job reads: JSON lines, appended off the request path, rotated by size.

A request only appends a tuple to a deque; a background thread formats and writes everything queued every
`flush_seconds`. Each line: {"ts", "model_version", "features", "prediction", "probability"}. Files are named
predictions-<UTC start>-<host>-<pid>-<n>.jsonl so several servers can share one directory; a file is closed
and a new one started once it reaches max_bytes. If the disk cannot keep up, records beyond `max_pending`
are dropped and counted rather than slowing down or exhausting the server.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ml.errors import MLOpsError

log = logging.getLogger("serving")


class PredictionLog:
    def __init__(self, directory: Path, model_version: str, max_bytes: int, flush_seconds: float = 0.5,
                 max_pending: int = 200_000):
        self.directory = Path(directory)
        self.model_version = model_version
        self.max_bytes = max_bytes
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self.dropped = 0  # refused because too many were queued (event-loop side)
        self.failed = 0  # lost to write errors (writer side)
        self.written = 0
        self.files: list[Path] = []
        self._queued = 0  # records accepted into the queue (event-loop side only)
        self._queue: deque[tuple[float, list[dict], list, list | None]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._size = 0
        self._prefix = (f"predictions-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-"
                        f"{socket.gethostname().split('.')[0]}-{os.getpid()}")

    def start(self) -> None:
        """Create the directory and the first file now, so an unwritable directory stops start-up."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._open()
        except OSError as exc:
            raise MLOpsError(f"prediction log directory {self.directory}: {exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, records: list[dict], predictions: list, probabilities: list | None) -> None:
        """Called on the event loop for every answered request: O(1), no I/O."""
        if self._queued - self.written - self.dropped - self.failed + len(records) > self.max_pending:
            self.dropped += len(records)
            return
        self._queued += len(records)
        self._queue.append((time.time(), records, predictions, probabilities))

    def close(self) -> None:
        """Write everything still queued (graceful shutdown), then close the file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._write_queued()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self._write_queued()

    def _open(self) -> None:
        path = self.directory / f"{self._prefix}-{len(self.files) + 1}.jsonl"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size
        self.files.append(path)

    def _lines(self) -> list[bytes]:
        lines = []
        version = self.model_version
        while self._queue:
            stamp, records, predictions, probabilities = self._queue.popleft()
            ts = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")
            for i, record in enumerate(records):
                lines.append(orjson.dumps({
                    "ts": ts, "model_version": version, "features": record, "prediction": predictions[i],
                    "probability": None if probabilities is None else probabilities[i],
                }, option=orjson.OPT_APPEND_NEWLINE))
        return lines

    def _write_queued(self) -> None:
        chunk: list[bytes] = []
        size = 0
        for line in self._lines():
            if chunk and self._size + size + len(line) > self.max_bytes:
                self._write(chunk, size)
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if chunk:
            self._write(chunk, size)

    def _write(self, chunk: list[bytes], size: int) -> None:
        try:
            if self._fd is None or (self._size and self._size + size > self.max_bytes):
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                self._open()
            os.write(self._fd, b"".join(chunk))  # whole lines in one append
        except OSError as exc:
            self.failed += len(chunk)
            log.error("prediction log: %d records lost: cannot write to %s (%s)",
                      len(chunk), self.directory, exc.strerror or exc)
            return
        self._size += size
        self.written += len(chunk)

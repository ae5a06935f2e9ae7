"""The prediction log the drift job reads: JSON lines, appended off the request path, rotated by size.

A request only appends a tuple to a deque; a background thread formats and writes everything queued every
`flush_seconds`. Each line: {"ts", "model_version", "features", "prediction", "probability"}. Files are named
predictions-<UTC start>-<host>-<pid>-<n>.jsonl so several servers can share one directory; a file is closed
and a new one started once it reaches max_bytes. If the disk cannot keep up, records beyond `max_pending`
are dropped and counted rather than slowing down or exhausting the server.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ml.errors import MLOpsError

log = logging.getLogger("serving")

WRITE_CHUNK = 1 << 18
# Characters JSON leaves unescaped that some line splitters treat as line breaks (U+0085, U+2028, U+2029).
_LINE_BREAKS = ((b"\xc2\x85", b"\\u0085"), (b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


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

    def _lines(self) -> Iterator[bytes]:
        version = self.model_version
        last_ms, ts = -1, ""
        while self._queue:
            stamp, records, predictions, probabilities = self._queue.popleft()
            ms = int(stamp * 1000)
            if ms != last_ms:  # under load many requests share a millisecond
                last_ms, ts = ms, datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
            for i, record in enumerate(records):
                entry = {"ts": ts, "model_version": version, "features": record, "prediction": predictions[i],
                         "probability": None if probabilities is None else probabilities[i]}
                try:
                    yield orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
                except orjson.JSONEncodeError:  # e.g. a lone surrogate in a category value: escape it
                    yield (json.dumps(entry) + "\n").encode()

    def _write_queued(self) -> None:
        # Lines go straight into a bounded buffer: holding thousands of small bytes objects is far slower.
        buffer, count = bytearray(), 0
        for line in self._lines():
            if buffer and (len(buffer) >= WRITE_CHUNK or self._size + len(buffer) + len(line) > self.max_bytes):
                self._write(buffer, count)
                buffer, count = bytearray(), 0
            buffer += line
            count += 1
        if buffer:
            self._write(buffer, count)

    def _write(self, chunk: bytearray, count: int) -> None:
        for raw, escaped in _LINE_BREAKS:  # keep one record per line for readers that use str.splitlines()
            chunk = chunk.replace(raw, escaped)
        size = len(chunk)
        try:
            if self._fd is None or (self._size and self._size + size > self.max_bytes):
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                self._open()
            view = memoryview(chunk)
            while view:  # whole lines, appended; a regular file rarely takes less than all of it
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            self.failed += count
            log.error("prediction log: %d records lost: cannot write to %s (%s)",
                      count, self.directory, exc.strerror or exc)
            return
        self._size += size
        self.written += count

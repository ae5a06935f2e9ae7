"""The prediction log the drift job reads: JSON lines, written off the request path, rotated by size.

A request serialises its records with orjson into an in-memory buffer (about a microsecond per record); a
background thread swaps the buffer out every `flush_seconds` and appends it to the current file. Formatting on
the event loop in small pieces keeps the writer thread's hold on the GIL to a buffer swap, so flushes do not
stall requests (formatting a flush's worth of records on the writer thread showed up as 100 ms latency spikes).

Each line: {"ts", "model_version", "features", "prediction", "probability"}. Files are named
predictions-<UTC start>-<host>-<pid>-<n>.jsonl so several servers can share one directory; a new file is started
before one would exceed max_bytes. If the disk cannot keep up, records beyond `max_pending_bytes` of unwritten
log are dropped and counted rather than slowing down or exhausting the server.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ml.errors import MLOpsError

log = logging.getLogger("serving")

# Requests carrying this header (a deploy's smoke test and bake probes) are answered and counted in the metrics but
# not logged: they are the model's own golden records, not production traffic for the drift job to compare.
UNLOGGED_HEADER = "X-Smoke-Test"

# Characters JSON leaves unescaped that some line splitters treat as line breaks (U+0085, U+2028, U+2029).
_LINE_BREAKS = ((b"\xc2\x85", b"\\u0085"), (b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


class PredictionLog:
    def __init__(self, directory: Path, model_version: str, max_bytes: int, flush_seconds: float = 0.5,
                 max_pending_bytes: int = 64 << 20):
        self.directory = Path(directory)
        self.model_version = model_version
        self.max_bytes = max_bytes
        self.flush_seconds = flush_seconds
        self.max_pending_bytes = max_pending_bytes
        self.dropped = 0  # refused because too much was waiting to be written (event-loop side)
        self.failed = 0  # lost to write errors (writer side)
        self.written = 0
        self.files: list[Path] = []
        self._buffer = bytearray()
        self._lock = threading.Lock()  # guards the buffer swap
        self._stamp_ms, self._stamp = -1, ""
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
        """Called on the event loop for every answered request: serialise, no I/O."""
        if len(self._buffer) > self.max_pending_bytes:
            self.dropped += len(records)
            return
        now_ms = int(time.time() * 1000)
        if now_ms != self._stamp_ms:  # under load many requests share a millisecond
            self._stamp_ms = now_ms
            self._stamp = datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="milliseconds")
        lines = bytearray()
        for i, record in enumerate(records):
            entry = {"ts": self._stamp, "model_version": self.model_version, "features": record,
                     "prediction": predictions[i], "probability": None if probabilities is None else probabilities[i]}
            try:
                lines += orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
            except orjson.JSONEncodeError:  # e.g. a lone surrogate in a category value: escape it
                lines += (json.dumps(entry) + "\n").encode()
        with self._lock:
            self._buffer += lines

    def close(self) -> None:
        """Write everything still buffered (graceful shutdown), then close the file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._write_buffered()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self._write_buffered()

    def _open(self) -> None:
        path = self.directory / f"{self._prefix}-{len(self.files) + 1}.jsonl"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size
        self.files.append(path)

    def _write_buffered(self) -> None:
        with self._lock:
            chunk, self._buffer = self._buffer, bytearray()
        for raw, escaped in _LINE_BREAKS:  # keep one record per line for readers that use str.splitlines()
            chunk = chunk.replace(raw, escaped)
        start = 0
        while start < len(chunk):
            room = self.max_bytes - self._size
            end = len(chunk) if len(chunk) - start <= room else chunk.rfind(b"\n", start, start + max(room, 0)) + 1
            if end <= start:  # not even one more line fits
                if self._size == 0:  # a line longer than max_bytes gets a file of its own
                    end = chunk.index(b"\n", start) + 1
                elif not self._rotate(chunk.count(b"\n", start)):
                    return
                else:
                    continue
            self._write(chunk, start, end)
            start = end

    def _rotate(self, pending: int) -> bool:
        try:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._open()
        except OSError as exc:
            self._lost(pending, exc)
            return False
        return True

    def _write(self, chunk: bytearray, start: int, end: int) -> None:
        count = chunk.count(b"\n", start, end)
        view = memoryview(chunk)[start:end]
        try:
            if self._fd is None:
                self._open()
            while view:  # whole lines, appended; a regular file rarely takes less than all of it
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            self._lost(count, exc)
            return
        self._size += end - start
        self.written += count

    def _lost(self, count: int, exc: OSError) -> None:
        self.failed += count
        log.error("prediction log: %d records lost: cannot write to %s (%s)",
                  count, self.directory, exc.strerror or exc)

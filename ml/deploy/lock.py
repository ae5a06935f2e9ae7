"""One deploy at a time per state directory: an fcntl lock that the kernel drops if the holder dies (kill -9 too)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ml.deploy.errors import DeployLocked

LOCK_FILE = "deploy.lock"


def lock_holder(state_dir: str | Path) -> str | None:
    """The pid of the deploy holding the lock now, or None when none does. Read from the kernel's table of locks
    (Linux's /proc/locks), so asking never takes the lock a deploy starting at that moment needs."""
    try:
        info = (Path(state_dir) / LOCK_FILE).stat()
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    file_id = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in table.splitlines():  # "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF"; waiters carry "->"
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and "->" not in fields and fields[5] == file_id:
            return fields[4]
    return None


@contextmanager
def deploy_lock(state_dir: str | Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold state_dir/deploy.lock for the block; wait up to wait_seconds for a running deploy, then refuse."""
    path = Path(state_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise DeployLocked(
                        f"{path}: another deploy is running (pid {holder}); try again when it ends") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock

"""Who is publishing a GitHub draft release, and whether they are gone for good.

A model-vN draft is a publish in flight: its uploads may take a long while, and two people may promote at once.
So each publish marks its draft, and a draft is deleted only once abandoned: its publisher's process provably
exited (same machine), it was made by another GitHub Actions run and this is one too (release.yml's promote job runs
one at a time, in its concurrency group: the other run is over), or it started longer ago than any upload could take.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ABANDONED_AFTER = 12 * 3600  # seconds: far beyond four 2 GiB uploads at 1 MB/s with retries, the slowest we expect
_MARKER = re.compile(r"<!-- mlops-template:model-publish id=(\w+) started=(\d+) machine=(\S+) pid=(\d+) -->")
_UNKNOWN = "-"
_ACTIONS = "actions-run-"


@dataclass(frozen=True)
class Publisher:
    publish_id: str
    started: int  # unix seconds, by the publisher's clock
    machine: str  # where `pid` names the publisher (see this_machine), or "-" where that cannot be known
    pid: int

    @classmethod
    def this_process(cls) -> Publisher:
        return cls(uuid.uuid4().hex, int(time.time()), this_machine() or _UNKNOWN, os.getpid())

    @property
    def marker(self) -> str:
        return (f"<!-- mlops-template:model-publish id={self.publish_id} started={self.started} "
                f"machine={self.machine} pid={self.pid} -->")

    def is_gone(self) -> bool:
        if time.time() - self.started > ABANDONED_AFTER:
            return True
        here = this_machine() or _UNKNOWN
        if self.machine.startswith(_ACTIONS) and here.startswith(_ACTIONS) and self.machine != here:
            return True  # a job cancelled or killed mid-publish must not block the next run's release for hours
        return self.machine != _UNKNOWN and self.machine == here and not _running(self.pid)


def _publisher_of(release: Mapping[str, Any]) -> Publisher | None:
    match = _MARKER.search(release.get("body") or "")
    if match is None:
        return None
    publish_id, started, machine, pid = match.groups()
    return Publisher(publish_id, int(started), machine, int(pid))


def abandoned(draft: Mapping[str, Any]) -> bool:
    """Whether no publish will ever finish this draft. One without a marker (made by hand, or by an older version
    of this code) counts as abandoned once created longer ago than ABANDONED_AFTER."""
    publisher = _publisher_of(draft)
    if publisher is not None:
        return publisher.is_gone()
    return time.time() - datetime.fromisoformat(draft["created_at"]).timestamp() > ABANDONED_AFTER


def this_machine() -> str | None:
    """This GitHub Actions run attempt, or else this boot of this kernel and this pid namespace: where a pid names one
    process (Linux only). A hostname would not do: two laptops may share one, and containers on one host see
    different pids."""
    run, attempt = os.environ.get("GITHUB_RUN_ID"), os.environ.get("GITHUB_RUN_ATTEMPT", "1")
    if os.environ.get("GITHUB_ACTIONS") == "true" and run:
        return f"{_ACTIONS}{run}-{attempt}"
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot}/{namespace.strip('pid:[]')}"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        pass
    return True

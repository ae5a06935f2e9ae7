"""The kubernetes backend's deploy state, kept in the cluster: ConfigMap <name>-deploy-state in the deploy namespace.

A GitHub-hosted runner loses its state directory with the job, so a state kept there leaves the next deploy not
knowing what is live and `rollback` nothing to go back to. In the cluster, every runner reads the same state.

Every write carries the resourceVersion this process last read or wrote (`kubectl replace`; `kubectl create` when
there is no ConfigMap yet), so of two writers that read the same version the API server refuses one (409 Conflict,
or AlreadyExists): two deploys can never both win. The deploy lock is a lease in the same ConfigMap (`lock.json`:
who, renewed when), renewed in the background while the deploy runs; a deploy killed outright stops renewing it,
and once it is LEASE_SECONDS old the next deploy takes over and recovers what the killed one left (`pending`).
Lease ages compare the writer's clock with the reader's, so runners' clocks must agree to a few seconds (NTP).

Migration: with no state in the cluster yet, a state file in the state directory (from before) is taken over by the
first deploy or rollback, written to the cluster, and renamed so it is never read again.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ml.deploy.errors import DeployError, DeployLocked
from ml.deploy.state import DeployState, now_iso, parse_state, state_json, state_path
from ml.deploy.store import Log, StateStore

STATE_KEY = "state.json"
LOCK_KEY = "lock.json"
LEASE_SECONDS = 30.0
RENEW_SECONDS = 10.0
CALL_SECONDS = 10.0  # per kubectl call on the state: a hung one must end in time for a retry within the lease
MIGRATED_SUFFIX = ".migrated-to-cluster"
_LOST_RACE = ("(Conflict)", "(AlreadyExists)")  # kubectl's reasons when another writer got there first

Kubectl = Callable[..., str]  # kubectl(*args, timeout=…, stdin=None) -> stdout; raises DeployError naming it


class StateConflict(DeployError):
    """The ConfigMap changed since this process read it: another deploy wrote it."""


class ConfigMapStateStore(StateStore):
    def __init__(self, kubectl: Kubectl, name: str, app: str, state_dir: Path):
        self.kubectl, self.name, self.app = kubectl, name, app
        self.where = f"configmap/{name}"
        self.legacy = state_path(state_dir)
        self.identity = {"pid": os.getpid(), "host": socket.gethostname()}
        self._data: dict[str, str] | None = None  # the ConfigMap's data as last read or written
        self._version: str | None = None          # its resourceVersion then (None: there is no ConfigMap)
        self._mutex = threading.Lock()            # the renewer and the deploy write through the same version

    # -- StateStore ------------------------------------------------------------------------------------------
    @contextmanager
    def lock(self, wait_seconds: float, log: Log) -> Iterator[None]:
        deadline = time.monotonic() + wait_seconds
        while True:
            self._read()
            holder = self.holder()
            if holder is None:
                try:
                    self._take(log)
                    break
                except StateConflict:  # another deploy wrote between our read and our write: name it
                    self._read()
                    holder = self.holder() or "it took the lock at the same moment"
            if time.monotonic() >= deadline:
                raise DeployLocked(f"{self.where}: another deploy is running ({holder}); try again when it ends")
            time.sleep(1)
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew_until, args=(stop,), daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            self._release(log)

    def load(self) -> DeployState:
        data = self._current()
        if STATE_KEY in data:
            return parse_state(data[STATE_KEY], self.where)
        if self.legacy.exists():  # not migrated yet: what the state directory still says
            return parse_state(self.legacy.read_text(encoding="utf-8"), str(self.legacy))
        return DeployState()

    def save(self, state: DeployState) -> None:
        with self._mutex:
            self._write({**self._current(), STATE_KEY: state_json(state), LOCK_KEY: self._lease()})

    def holder(self) -> str | None:
        lease = _lease_of(self._current(), self.where)
        if not lease or _age(lease) >= lease["seconds"]:
            return None
        return f"{lease.get('pid')} on {lease.get('host')}"

    # -- the ConfigMap ---------------------------------------------------------------------------------------
    def _current(self) -> dict[str, str]:
        if self._data is None:
            self._read()
        return self._data or {}

    def _read(self) -> None:
        out = self.kubectl("get", "configmap", self.name, "-o", "json", "--ignore-not-found", timeout=CALL_SECONDS)
        self._data, self._version = _data_and_version(out, self.where) if out else ({}, None)

    def _write(self, data: dict[str, str]) -> None:
        """Create the ConfigMap, or replace it only if it is still the version last read or written."""
        metadata: dict[str, Any] = {"name": self.name,
                                    "labels": {"app": self.app, "app.kubernetes.io/managed-by": "deploy.py"}}
        if self._version is not None:
            metadata["resourceVersion"] = self._version
        manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
        verb = "create" if self._version is None else "replace"
        try:
            out = self.kubectl(verb, "-f", "-", "-o", "json", stdin=json.dumps(manifest), timeout=CALL_SECONDS)
        except DeployError as exc:
            if self._landed(data):
                return
            if any(reason in str(exc) for reason in _LOST_RACE):
                raise StateConflict(f"{self.where} was changed by another deploy since this one read it") from None
            raise
        self._data, self._version = _data_and_version(out, self.where)

    def _landed(self, data: dict[str, str]) -> bool:
        """Whether a write that failed went through all the same (kubectl timed out or lost its connection after the
        API server applied it): the ConfigMap then holds exactly `data`, our lease and all, at a version we never
        saw. Taken for another deploy's write, it would fail our next save and end the lease's renewals."""
        try:
            out = self.kubectl("get", "configmap", self.name, "-o", "json", "--ignore-not-found", timeout=CALL_SECONDS)
        except DeployError:
            return False
        if not out:
            return False
        found, version = _data_and_version(out, self.where)
        if found != data:
            return False
        self._data, self._version = found, version
        return True

    # -- the lease -------------------------------------------------------------------------------------------
    def _lease(self) -> str:
        return json.dumps({**self.identity, "renewed_at": now_iso(), "seconds": LEASE_SECONDS})

    def _take(self, log: Log) -> None:
        """Write our lease, and the state file of the state directory if the cluster has no state yet."""
        data = dict(self._current())
        migrating = STATE_KEY not in data and self.legacy.exists()
        if migrating:
            data[STATE_KEY] = state_json(parse_state(self.legacy.read_text(encoding="utf-8"), str(self.legacy)))
        with self._mutex:
            self._write({**data, LOCK_KEY: self._lease()})
        if migrating:  # from now on the cluster's state is read, never the file: renaming it is only bookkeeping
            moved = self.legacy.with_name(self.legacy.name + MIGRATED_SUFFIX)
            try:
                self.legacy.rename(moved)
            except OSError as exc:
                log(f"moved the deploy state from {self.legacy} to {self.where}; could not rename the file to "
                    f"{moved.name} ({exc.strerror or exc}): delete it, or it is taken over again should {self.where} "
                    "ever be deleted")
                return
            log(f"moved the deploy state from {self.legacy} to {self.where} (the file is now {moved.name})")

    def _renew_until(self, stop: threading.Event) -> None:
        """Keep the lease fresh through long steps (readiness wait, bake). A renewal that fails is retried at the
        next tick; one that conflicts means the lease was taken over, and the deploy's next save fails on it too."""
        while not stop.wait(RENEW_SECONDS):
            with self._mutex:
                try:
                    self._write({**self._current(), LOCK_KEY: self._lease()})
                except StateConflict:
                    return
                except DeployError:
                    continue

    def _release(self, log: Log) -> None:
        """Drop the lease; should that fail, it only makes the next deploy wait until the lease runs out."""
        data = {key: value for key, value in self._current().items() if key != LOCK_KEY}
        with self._mutex:
            try:
                self._write(data)
            except DeployError as exc:
                log(f"could not release the deploy lock in {self.where} ({exc}); it expires in {LEASE_SECONDS:g} s")


def _data_and_version(out: str, where: str) -> tuple[dict[str, str], str]:
    try:
        obj = json.loads(out)
        return dict(obj.get("data") or {}), str(obj["metadata"]["resourceVersion"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DeployError(f"{where}: kubectl answered with something that is not a ConfigMap ({exc})") from None


def _lease_of(data: dict[str, str], where: str) -> dict[str, Any] | None:
    if LOCK_KEY not in data:
        return None
    try:
        lease = json.loads(data[LOCK_KEY])
        datetime.fromisoformat(lease["renewed_at"])
        lease["seconds"] = float(lease.get("seconds", LEASE_SECONDS))
    except (ValueError, KeyError, TypeError) as exc:
        raise DeployError(f"{where}: unreadable {LOCK_KEY} ({exc}); fix or delete that key") from None
    return lease


def _age(lease: dict[str, Any]) -> float:
    renewed = datetime.fromisoformat(lease["renewed_at"])
    return (datetime.now(renewed.tzinfo) - renewed) / timedelta(seconds=1)

"""Where a backend keeps its deploy state, and the lock that lets one deploy at a time change it.

The host and compose backends keep it in the state directory, beside the slots they run on that machine. The
kubernetes backend keeps it in the cluster (ml/deploy/configmap_state.py): its deploys may run on a new runner
every time, whose state directory starts empty.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from ml.deploy.lock import deploy_lock, lock_holder
from ml.deploy.state import DeployState, load_state, save_state, state_path

Log = Callable[[str], None]


class StateStore(ABC):
    where: str  # names the state in messages

    @abstractmethod
    def lock(self, wait_seconds: float, log: Log) -> AbstractContextManager[None]:
        """Hold the deploy lock for the block; wait up to wait_seconds for a running deploy, then DeployLocked."""

    @abstractmethod
    def load(self) -> DeployState:
        """The state as it is now (an empty one before the first deploy)."""

    @abstractmethod
    def save(self, state: DeployState) -> None:
        """Write the whole state; called under the lock before every step."""

    @abstractmethod
    def holder(self) -> str | None:
        """Who holds the lock now (a pid, or a pid and host), None when nobody does."""


class LocalStateStore(StateStore):
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.where = str(state_path(state_dir))

    def lock(self, wait_seconds: float, log: Log) -> AbstractContextManager[None]:
        return deploy_lock(self.state_dir, wait_seconds)

    def load(self) -> DeployState:
        return load_state(self.state_dir)

    def save(self, state: DeployState) -> None:
        save_state(self.state_dir, state)

    def holder(self) -> str | None:
        return lock_holder(self.state_dir)

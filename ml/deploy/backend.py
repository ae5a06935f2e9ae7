"""What the deploy flow needs from a platform: two slots, a switch, and URLs to check them through."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from ml.deploy import http
from ml.deploy.store import LocalStateStore, StateStore


class Backend(ABC):
    name: str

    @abstractmethod
    def prepare(self) -> None:
        """Make sure the router exists (nginx running / Services present) before anything else."""

    @abstractmethod
    def live_colour(self) -> str | None:
        """The colour the router actually sends traffic to (not what the state file believes)."""

    @abstractmethod
    def start_slot(self, colour: str, model_dir: Path, release: dict[str, Any]) -> dict[str, Any]:
        """Start (or restart) the idle slot with this model; returns slot facts to record in the state."""

    @abstractmethod
    def wait_ready(self, colour: str, timeout: float) -> None:
        """Return once the slot answers /health/ready; raise DeployError with the reason otherwise."""

    @abstractmethod
    def is_ready(self, colour: str) -> bool:
        """One quick readiness check of the slot, bypassing the router."""

    @abstractmethod
    def slot_url(self, colour: str) -> str:
        """Where to reach this slot directly (smoke tests, bake metrics), bypassing the live route."""

    @abstractmethod
    def live_url(self) -> str:
        """Where users reach the live slot (through the router)."""

    @abstractmethod
    def switch(self, colour: str) -> None:
        """Send all new traffic to `colour`; return once the router has taken the change."""

    @abstractmethod
    def stop_slot(self, colour: str) -> None:
        """Stop the slot once no request can still be routed to it."""

    @abstractmethod
    def down(self) -> None:
        """Stop both slots (host, compose: and nginx), taking the model off this platform."""

    def state_store(self, state_dir: Path) -> StateStore:
        """Where the deploy state lives: the state directory, unless the platform keeps it."""
        return LocalStateStore(state_dir)

    def slot_version(self, colour: str) -> str | None:
        """The X-Model-Version the slot itself answers with (None when it does not answer): what it really serves,
        whatever the state file says."""
        try:
            return http.get(http.join(self.slot_url(colour), "/health/live"), 2).header("x-model-version")
        except OSError:
            return None

    def prune(self, colour: str, keep: dict[str, Any] | None) -> None:  # noqa: B027 - only host keeps copies
        """Delete the slot's local bundle copies except the one its state record `keep` names."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release helpers (port-forwards...)."""

"""The deploy state file: which colour is live, what each slot runs, and a deploy in progress.

It is what lets `status` and `rollback` work from a new process (the kubernetes backend keeps the same JSON in a
ConfigMap, ml/deploy/configmap_state.py, so that works from a new runner too). A deploy records itself as
`pending` before it touches anything, so a deploy killed halfway is visible to the next one, which returns traffic
to `live` (the last colour that finished its bake) before starting over.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.deploy.errors import DeployError
from ml.fileio import write_json_atomic

STATE_FILE = "state.json"
COLOURS = ("blue", "green")
HISTORY_LIMIT = 100
ADOPTED = "unknown (adopted)"  # the version of a slot found serving before this state file knew of it
_SHAPES: dict[str, tuple[type, ...]] = {"backend": (str, type(None)), "live": (str, type(None)), "slots": (dict,),
                                         "pending": (dict, type(None)), "history": (list,)}


def other(colour: str | None) -> str:
    """The idle colour when `colour` is live (blue when nothing is live yet)."""
    return "green" if colour == "blue" else "blue"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class DeployState:
    backend: str | None = None
    live: str | None = None
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def record(self, **event: Any) -> dict[str, Any]:
        entry = {"at": now_iso(), **event}
        self.history = [*self.history, entry][-HISTORY_LIMIT:]
        return entry

    def live_version(self) -> str | None:
        return self.slots.get(self.live or "", {}).get("version")


def state_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / STATE_FILE


def load_state(state_dir: str | Path) -> DeployState:
    path = state_path(state_dir)
    return parse_state(path.read_text(encoding="utf-8"), str(path)) if path.exists() else DeployState()


def parse_state(text: str, where: str) -> DeployState:
    """The state in `text` (JSON), checked; `where` names its origin (a file, a ConfigMap) in the one-line error."""
    try:
        raw = json.loads(text)
        _check_shape(raw)
    except ValueError as exc:
        raise DeployError(f"{where}: unreadable deploy state ({exc}); fix or delete it") from None
    state = DeployState(**{k: raw[k] for k in DeployState.__dataclass_fields__ if k in raw})
    if state.live not in (None, *COLOURS):
        raise DeployError(f"{where}: live colour must be blue or green, got {state.live!r}")
    return state


def _check_shape(raw: Any) -> None:
    """A hand-edited or foreign file fails here in one line, not later deep inside a deploy."""
    if not isinstance(raw, dict):
        raise ValueError(f"a JSON {type(raw).__name__}, not an object")
    for key, kinds in _SHAPES.items():
        if key in raw and not isinstance(raw[key], kinds):
            raise ValueError(f"{key!r} is a {type(raw[key]).__name__}")
    if not all(isinstance(entry, dict) for entry in [*raw.get("slots", {}).values(), *raw.get("history", [])]):
        raise ValueError("slots and history entries must be objects")


def save_state(state_dir: str | Path, state: DeployState) -> Path:
    return write_json_atomic(state_path(state_dir), asdict(state))


def state_json(state: DeployState) -> str:
    return json.dumps(asdict(state), indent=2, sort_keys=True, default=str)

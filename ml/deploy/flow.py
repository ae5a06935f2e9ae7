"""The one deploy flow both backends share.

lock → recover from an interrupted deploy → start the idle slot with the new model → wait for readiness →
smoke test it directly → switch → bake (metrics of the new slot + probes through the live route) → commit,
or switch back. Every step before the switch that fails leaves the old slot serving; a failed bake switches back.
The state file is written before each step, so a deploy killed at any point is finished off by the next one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.deploy import http
from ml.deploy.backend import Backend
from ml.deploy.bake import BakeVerdict, bake
from ml.deploy.errors import DeployError
from ml.deploy.failpoints import failpoint
from ml.deploy.lock import deploy_lock
from ml.deploy.smoke import smoke_test, version_label
from ml.deploy.state import COLOURS, DeployState, load_state, now_iso, other, save_state

Log = Callable[[str], None]


@dataclass(frozen=True)
class DeploySettings:
    ready_timeout: float = 60.0
    latency_budget_ms: float | None = 250.0
    smoke_rounds: int = 3
    bake_seconds: float = 30.0
    max_error_rate: float = 0.01
    max_p95_ms: float | None = None
    keep_standby: bool = True      # keep the old slot running after a deploy: rollback is then a switch only
    lock_wait_seconds: float = 0.0


def _quiet(_: str) -> None:
    pass


def recover(backend: Backend, state: DeployState, log: Log) -> None:
    """Undo what an interrupted deploy left behind: traffic goes back to the last colour that passed its bake."""
    actual = backend.live_colour()
    if state.pending:
        target = state.live
        interrupted = state.pending
        if target and actual != target and backend.is_ready(target):
            backend.switch(target)
            log(f"an interrupted deploy of {interrupted.get('version')} had switched to {actual}; "
                f"traffic is back on {target} ({state.live_version()})")
        elif target and actual != target:
            state.live = actual if actual and backend.is_ready(actual) else target
            log(f"slot {target} is not ready; traffic stays on {actual}")
        state.record(event="recovered", interrupted=interrupted, live=state.live)
        state.pending = None
    elif not state.live and actual and backend.is_ready(actual):
        log(f"slot {actual} already serves traffic (deployed without this state file): treating it as live")
        state.live = actual
        state.slots.setdefault(actual, {"version": "unknown (adopted)"})
    elif state.live and actual and actual != state.live:
        log(f"the router sends traffic to {actual} while the state file says {state.live}; trusting the router")
        state.live = actual


def _probe(live_url: str, golden: list[dict[str, Any]], label: str) -> Callable[[], str | None]:
    """A request through the live route per bake poll: real traffic for the metrics, and a direct check."""
    counter = {"n": 0}

    def probe() -> str | None:
        record = golden[counter["n"] % len(golden)]
        counter["n"] += 1
        try:
            response = http.request("POST", http.join(live_url, "/predict"), record["features"])
        except OSError as exc:
            return f"probe through {live_url} failed ({exc})"
        if response.status != 200:
            return f"probe through {live_url} answered {response.status}"
        if response.header("x-model-version") != label:
            return f"probe through {live_url} answered from {response.header('x-model-version')}, expected {label}"
        return None

    return probe


def deploy(backend: Backend, state_dir: Path, model_dir: Path, settings: DeploySettings,
           release: dict[str, Any] | None = None, log: Log = _quiet) -> dict[str, Any]:
    from ml.bundle import read_metadata  # imports joblib and numpy: not for status/rollback

    metadata = read_metadata(model_dir)
    label = version_label(metadata)
    with deploy_lock(state_dir, settings.lock_wait_seconds):
        state = load_state(state_dir)
        state.backend = backend.name
        backend.prepare()
        recover(backend, state, log)
        save_state(state_dir, state)
        live = state.live
        idle = other(live)
        state.pending = {"colour": idle, "version": label, "stage": "starting", "pid": os.getpid(),
                         "started_at": now_iso()}
        save_state(state_dir, state)

        def refuse(message: str) -> DeployError:
            backend.stop_slot(idle)
            state.pending = None
            state.record(event="deploy", result="refused", colour=idle, version=label, message=message)
            save_state(state_dir, state)
            where = f"traffic stays on {live} ({state.live_version()})" if live else "nothing was live"
            return DeployError(f"{label} not deployed: {message}; {where}")

        log(f"starting {label} on slot {idle}")
        try:
            slot = backend.start_slot(idle, model_dir, release or {})
            failpoint("after-start")
            backend.wait_ready(idle, settings.ready_timeout)
        except DeployError as exc:
            raise refuse(str(exc)) from None
        smoke = smoke_test(backend.slot_url(idle), model_dir, settings.latency_budget_ms, settings.smoke_rounds)
        if not smoke.ok:
            raise refuse(smoke.one_line())
        log(smoke.one_line())
        failpoint("after-smoke")

        state.pending["stage"] = "switching"
        save_state(state_dir, state)
        switch_started = now_iso()
        try:
            backend.switch(idle)
        except DeployError as exc:
            if not live:
                raise
            backend.switch(live)  # if this fails too, `pending` stays recorded and the next deploy recovers
            raise refuse(f"the switch failed ({exc}); switched back") from None
        switched_at = now_iso()
        log(f"switched live traffic to {idle} ({label})")
        state.slots[idle] = {**slot, **(release or {}), "version": label, "deployed_at": switched_at}
        state.pending["stage"] = "baking"
        save_state(state_dir, state)
        failpoint("after-switch")

        verdict = _bake(backend, idle, metadata, label, settings)
        event = {"event": "deploy", "colour": idle, "version": label, "switch_started": switch_started,
                 "switched_at": switched_at, "bake": verdict.one_line()}
        if not verdict.ok and live:
            backend.switch(live)
            backend.stop_slot(idle)
            state.slots.pop(idle, None)
            state.pending = None
            state.record(**event, result="rolled back", switched_back_at=now_iso())
            save_state(state_dir, state)
            raise DeployError(f"{label} rolled back to {live} ({state.live_version()}): {verdict.one_line()}")
        log(verdict.one_line())
        state.live = idle
        state.pending = None
        entry = state.record(**event, result="deployed" if verdict.ok else "deployed, bake failed (nothing to "
                                                                           "roll back to)")
        save_state(state_dir, state)
        if live and not settings.keep_standby:
            backend.stop_slot(live)
            log(f"stopped slot {live}")
        return entry


def _bake(backend: Backend, colour: str, metadata: dict[str, Any], label: str,
          settings: DeploySettings) -> BakeVerdict:
    if settings.bake_seconds <= 0:
        return BakeVerdict(ok=True, problems=[])
    probe = _probe(backend.live_url(), metadata.get("golden") or [], label) if metadata.get("golden") else None
    return bake(backend.slot_url(colour), settings.bake_seconds, settings.max_error_rate, settings.max_p95_ms,
                probe=probe)


def rollback(backend: Backend, state_dir: Path, settings: DeploySettings, log: Log = _quiet) -> dict[str, Any]:
    """Switch back to the other slot's version (restarting it first if it was stopped)."""
    with deploy_lock(state_dir, settings.lock_wait_seconds):
        state = load_state(state_dir)
        if not state.slots and not state.pending:
            raise DeployError("nothing to roll back to: nothing was deployed with this state directory")
        backend.prepare()
        recover(backend, state, log)
        live = state.live
        target = other(live)
        previous = state.slots.get(target)
        if not live or not previous:
            save_state(state_dir, state)
            raise DeployError("nothing to roll back to: no previous version was deployed on the other slot")
        if not backend.is_ready(target):
            log(f"slot {target} is stopped; restarting {previous.get('version')}")
            backend.start_slot(target, Path(previous.get("model_dir", "")), previous)
            backend.wait_ready(target, settings.ready_timeout)
        started = now_iso()
        backend.switch(target)
        state.live = target
        entry = state.record(event="rollback", colour=target, version=previous.get("version"),
                             switch_started=started, switched_at=now_iso(), result="rolled back",
                             replaced=state.slots.get(live, {}).get("version"))
        save_state(state_dir, state)
        log(f"rolled back: {target} ({previous.get('version')}) is live")
        return entry


def status(backend: Backend, state_dir: Path) -> dict[str, Any]:
    state = load_state(state_dir)
    slots = {}
    for colour in COLOURS:
        info = state.slots.get(colour, {})
        slots[colour] = {"version": info.get("version"), "ready": backend.is_ready(colour),
                         "deployed_at": info.get("deployed_at")}
    return {"backend": state.backend or backend.name, "live": state.live, "router_live": backend.live_colour(),
            "live_version": state.live_version(), "slots": slots, "pending": state.pending,
            "last": state.history[-1] if state.history else None}

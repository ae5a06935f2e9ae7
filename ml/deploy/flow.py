"""The one deploy flow both backends share.

lock → recover from an interrupted deploy → start the idle slot with the new model → wait for readiness →
smoke test it directly → switch → bake (metrics of the new slot + probes through the live route) → commit,
or switch back. Every step before the switch that fails leaves the old slot serving; a failed bake switches back,
unless the old slot no longer answers (then the new one stays live: switching to a dead slot is an outage).
The state (the backend's store: a file, or a ConfigMap) is written before each step, so a deploy killed at any
point is finished off by the next one; a slot's record changes only when a deploy commits, so a rollback always
restarts what that slot really served.
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
from ml.deploy.smoke import NOT_TRAFFIC, smoke_test, version_label
from ml.deploy.state import ADOPTED, COLOURS, DeployState, now_iso, other

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


SMOKE_TESTED = ("switching", "baking")  # the stages an interrupted deploy reaches only once its smoke test passed


def recover(backend: Backend, state: DeployState, log: Log) -> None:
    """Undo what an interrupted deploy left behind: traffic goes back to the last colour that passed its bake."""
    if state.pending:
        _recover_interrupted(backend, state, log)
    actual = backend.live_colour()
    if not state.live and actual and backend.is_ready(actual):
        log(f"slot {actual} already serves traffic (deployed without this state file): treating it as live")
        state.live = actual
        state.slots.setdefault(actual, {"version": ADOPTED})
    elif state.live and actual and actual != state.live:
        log(f"the router sends traffic to {actual} while the state file says {state.live}; trusting the router")
        state.live = actual
    _prune(backend, state)


def _recover_interrupted(backend: Backend, state: DeployState, log: Log) -> None:
    """Back to the last baked colour if it answers, stopping a half-deployed slot (so each slot's record again says
    what a rollback would serve); otherwise the interrupted slot becomes live, but only if it passed its smoke test
    (an untested one is stopped: nothing may ever route users to it)."""
    interrupted = state.pending or {}
    what = f"an interrupted {interrupted.get('event', 'deploy')} of {interrupted.get('version')}"
    target, colour = state.live, interrupted.get("colour")
    if target and backend.is_ready(target):
        actual = backend.live_colour()
        if actual != target:  # the router file may name a switch nginx never applied: switch for real
            backend.switch(target)
            log(f"{what} had switched to {actual}; traffic is back on {target} ({state.live_version()})")
        if interrupted.get("event") != "rollback":  # a rollback's target still serves what its record says
            backend.stop_slot(other(target))
    elif interrupted.get("stage") in SMOKE_TESTED and colour and backend.is_ready(colour):
        backend.switch(colour)  # the router may not have reloaded onto it yet
        state.slots[colour] = interrupted["slot"]
        state.live = colour
        log(f"{f'slot {target} is not ready' if target else 'nothing was live'}: {colour} "
            f"({state.live_version()}), left serving by {what}, is live now")
    elif colour:
        backend.stop_slot(colour)
        why = ("never got it past its smoke test" if interrupted.get("stage") not in SMOKE_TESTED
               else "had smoke-tested it, but it no longer answers")
        log(f"stopped slot {colour}: {what} {why}")
    state.record(event="recovered", interrupted=interrupted, live=state.live)
    state.pending = None


def _fail_over(backend: Backend, state: DeployState, log: Log) -> None:
    """A dead live slot with a standby that answers as its record says: the standby takes the traffic first, so a
    deploy (which replaces the idle slot) never stops the only slot that still answers."""
    live, standby = state.live, other(state.live)
    record = state.slots.get(standby)
    if not live or not record or backend.is_ready(live) or not backend.is_ready(standby):
        return
    if record.get("version") != ADOPTED and backend.slot_version(standby) != record.get("version"):
        return
    backend.switch(standby)
    log(f"slot {live} ({state.live_version()}) is down: switched traffic to the standby {standby} "
        f"({record.get('version')})")
    state.record(event="failover", colour=standby, version=record.get("version"), replaced=state.live_version())
    state.live = standby


def _prune(backend: Backend, state: DeployState) -> None:
    """Drop every bundle copy no slot record names (refused, interrupted or replaced deploys left them)."""
    for colour in COLOURS:
        backend.prune(colour, state.slots.get(colour))


def _where(backend: Backend, live: str | None, version: str | None) -> str:
    """Where traffic is after a refused deploy, as the slot really is."""
    if not live:
        return "nothing was live"
    if backend.is_ready(live):
        return f"traffic stays on {live} ({version})"
    return f"slot {live} ({version}) stays live but does not answer"


def _old_slot_gone(backend: Backend, live: str | None, version: str | None) -> str | None:
    """Why traffic cannot go back to the slot that served before the switch (None when it can)."""
    if not live:
        return "nothing was live to switch back to"
    if not backend.is_ready(live):
        return f"slot {live} ({version}) is not ready to switch back to"
    return None


def _probe(live_url: str, golden: list[dict[str, Any]], label: str) -> Callable[[], str | None]:
    """A request through the live route per bake poll: real traffic for the metrics, and a direct check."""
    counter = {"n": 0}

    def probe() -> str | None:
        record = golden[counter["n"] % len(golden)]
        counter["n"] += 1
        try:
            response = http.request("POST", http.join(live_url, "/predict"), record["features"],
                                    extra_headers=NOT_TRAFFIC)
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
    release = release or {}
    store = backend.state_store(state_dir)
    with store.lock(settings.lock_wait_seconds, log):
        state = store.load()
        state.backend = backend.name
        backend.prepare()
        recover(backend, state, log)
        _fail_over(backend, state, log)
        store.save(state)
        live, live_version = state.live, state.live_version()
        idle = other(live or backend.live_colour())  # nothing live: never the colour the router points at

        # Until the commit, state.slots[idle] keeps describing the old standby (its bundle copy is kept), so an
        # unfinished deploy never makes a rollback serve one version while reporting another.
        state.pending = {"event": "deploy", "colour": idle, "version": label, "stage": "starting", "pid": os.getpid(),
                         "started_at": now_iso()}
        store.save(state)

        def finish(**event: Any) -> dict[str, Any]:
            """Every end of a deploy: `pending` cleared, the outcome recorded, bundle copies nothing names dropped."""
            state.pending = None
            entry = state.record(event="deploy", colour=idle, version=label, **event)
            store.save(state)
            _prune(backend, state)
            return entry

        def refuse(message: str) -> DeployError:
            backend.stop_slot(idle)
            finish(result="refused", message=message)
            return DeployError(f"{label} not deployed: {message}; {_where(backend, live, live_version)}")

        log(f"starting {label} on slot {idle}")
        try:
            state.pending["slot"] = {**backend.start_slot(idle, model_dir, release), **release, "version": label}
            store.save(state)
            failpoint("after-start")
            backend.wait_ready(idle, settings.ready_timeout)
        except DeployError as exc:
            raise refuse(str(exc)) from None
        try:  # the preview address itself may fail (kubernetes: its port-forward)
            smoke = smoke_test(backend.slot_url(idle), model_dir, settings.latency_budget_ms, settings.smoke_rounds)
        except DeployError as exc:
            raise refuse(f"the smoke test could not run ({exc})") from None
        if not smoke.ok:
            raise refuse(smoke.one_line())
        log(smoke.one_line())
        failpoint("after-smoke")

        state.pending["stage"] = "switching"
        store.save(state)
        switch_started = now_iso()
        try:
            backend.switch(idle)
        except DeployError as exc:
            gone = _old_slot_gone(backend, live, live_version)
            if gone:  # stopping the new slot would leave nothing: `pending` stays, for the next run to recover
                raise DeployError(f"{label} not deployed: the switch failed ({exc}); {gone}, so {idle} keeps "
                                  "running until the next deploy or rollback recovers") from None
            try:
                backend.switch(live)
            except DeployError as back:  # nginx kept its old config: traffic is still on `live`
                raise refuse(f"the switch failed ({exc}); switching back failed too ({back})") from None
            raise refuse(f"the switch failed ({exc}); switched back") from None
        switched_at = now_iso()
        log(f"switched live traffic to {idle} ({label})")
        state.pending["stage"] = "baking"
        store.save(state)
        failpoint("after-switch")

        verdict = _bake(backend, idle, metadata, label, settings)
        event = {"switch_started": switch_started, "switched_at": switched_at, "bake": verdict.one_line()}

        def commit(result: str) -> dict[str, Any]:
            state.slots[idle] = {**state.pending["slot"], "deployed_at": switched_at}
            state.live = idle
            return finish(**event, result=result)

        if not verdict.ok and live:
            gone = _old_slot_gone(backend, live, live_version)
            if not gone:
                try:
                    backend.switch(live)
                except DeployError as back:
                    gone = f"switching back to {live} failed ({back})"
            if gone:
                commit(f"deployed, bake failed ({gone})")
                raise DeployError(f"{label} kept live on {idle}: {gone} ({verdict.one_line()})")
            backend.stop_slot(idle)
            finish(**event, result="rolled back", switched_back_at=now_iso())
            raise DeployError(f"{label} rolled back to {live} ({live_version}): {verdict.one_line()}")
        log(verdict.one_line())
        entry = commit("deployed" if verdict.ok else "deployed, bake failed (nothing to roll back to)")
        if live and not settings.keep_standby:
            backend.stop_slot(live)
            log(f"stopped slot {live}")
        return entry


def _bake(backend: Backend, colour: str, metadata: dict[str, Any], label: str,
          settings: DeploySettings) -> BakeVerdict:
    """The bake after the switch. One that cannot run (kubernetes: a port-forward that will not start) is a failed
    bake: traffic goes back, never left on a model nobody watched."""
    if settings.bake_seconds <= 0:
        return BakeVerdict(ok=True, problems=[])
    try:
        probe = _probe(backend.live_url(), metadata.get("golden") or [], label) if metadata.get("golden") else None
        return bake(backend.slot_url(colour), settings.bake_seconds, settings.max_error_rate, settings.max_p95_ms,
                    probe=probe)
    except DeployError as exc:
        return BakeVerdict(ok=False, problems=[f"the bake could not run ({exc})"])


def rollback(backend: Backend, state_dir: Path, settings: DeploySettings, log: Log = _quiet) -> dict[str, Any]:
    """Switch back to the other slot's version (restarted from its recorded bundle if it is down or serves
    another version), only once that slot answers as the version it reports."""
    store = backend.state_store(state_dir)
    with store.lock(settings.lock_wait_seconds, log):
        state = store.load()
        if not state.slots and not state.pending:
            raise DeployError(f"nothing to roll back to: {store.where} records no deploy")
        backend.prepare()
        recover(backend, state, log)
        store.save(state)
        live = state.live
        target = other(live)
        previous = state.slots.get(target)
        if not live or not previous:
            raise DeployError("nothing to roll back to: no previous version was deployed on the other slot")
        try:
            previous = _serve_recorded(backend, target, previous, settings.ready_timeout, log)
        except DeployError as exc:
            raise DeployError(f"not rolled back: {exc}; traffic stays on {live} ({state.live_version()})") from None
        # Recorded like a deploy's switch: a rollback killed before nginx reloads is undone by the next run, which
        # would otherwise trust a router file naming a colour nginx never served.
        state.pending = {"event": "rollback", "colour": target, "version": previous.get("version"),
                         "stage": "switching", "slot": previous, "pid": os.getpid(), "started_at": now_iso()}
        store.save(state)
        started = now_iso()
        backend.switch(target)
        state.live, state.slots[target], state.pending = target, previous, None
        entry = state.record(event="rollback", colour=target, version=previous.get("version"),
                             switch_started=started, switched_at=now_iso(), result="rolled back",
                             replaced=state.slots.get(live, {}).get("version"))
        store.save(state)
        _prune(backend, state)
        log(f"rolled back: {target} ({previous.get('version')}) is live")
        return entry


def _serve_recorded(backend: Backend, colour: str, record: dict[str, Any], ready_timeout: float,
                    log: Log) -> dict[str, Any]:
    """Make the slot answer as the version its record names, restarting it from the recorded bundle if it is down
    or serves something else, and stopping it if even then it does not: a rollback never reports one version while
    another one answers. Returns the record, with the restarted server's facts (its pid)."""
    version = record.get("version")
    if version == ADOPTED:  # found serving before this state file: no version or bundle to check or restart
        if backend.is_ready(colour):
            return record
        raise DeployError(f"slot {colour} ({ADOPTED}) is down and was never deployed from a recorded bundle")
    answering = backend.slot_version(colour) if backend.is_ready(colour) else None
    if answering == version:
        return record
    log(f"slot {colour} {f'answers as {answering}' if answering else 'is stopped'}; restarting {version}")
    record = {**record, **backend.start_slot(colour, Path(record.get("model_dir", "")), record)}
    backend.wait_ready(colour, ready_timeout)
    answering = backend.slot_version(colour)
    if answering != version:
        backend.stop_slot(colour)
        raise DeployError(f"slot {colour} restarted from its recorded bundle answers as {answering}, not {version}")
    return record


def down(backend: Backend, state_dir: Path, log: Log = _quiet) -> None:
    """Stop both slots, under the deploy lock: never in the middle of someone's deploy."""
    with backend.state_store(state_dir).lock(0, log):
        backend.down()


def status(backend: Backend, state_dir: Path) -> dict[str, Any]:
    store = backend.state_store(state_dir)
    state = store.load()
    slots = {}
    for colour in COLOURS:
        info = state.slots.get(colour, {})
        slots[colour] = {"version": info.get("version"), "ready": backend.is_ready(colour),
                         "deployed_at": info.get("deployed_at")}
    return {"backend": state.backend or backend.name, "live": state.live, "router_live": backend.live_colour(),
            "live_version": state.live_version(), "slots": slots, "pending": state.pending,
            "running_pid": store.holder(), "state": store.where,
            "last": state.history[-1] if state.history else None}

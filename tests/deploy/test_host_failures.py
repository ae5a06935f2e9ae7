"""Failure modes of the host backend with real nginx and uvicorn, each under continuous load: a bad model never
takes traffic, rollback is quick, a deploy killed halfway leaves traffic served and the next deploy succeeds."""

from __future__ import annotations

import time

import pytest

from tests.conftest import assert_ok
from tests.deploy.bundles import golden, tamper_artifact, unservable_golden
from tests.deploy.hostenv import assert_all_new_after, epoch, refused, wait_until
from tests.deploy.loadgen import LoadGenerator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_env(host_env):
    """v1 live on one slot before the failure tests start."""
    assert_ok(host_env.deploy(host_env.bundle(1)))
    return host_env


@pytest.fixture
def load(live_env):
    with LoadGenerator(live_env.listen_port, golden(live_env.base_bundle), pause=0.01) as generator:
        generator.wait_for_traffic()
        yield generator
    failures = generator.failures()
    assert not failures, f"{len(failures)} failed requests, e.g. {failures[:3]}"


def live_version(env) -> str:
    state = env.state()
    return state["slots"][state["live"]]["version"]


def still_serving(env, load, version: str) -> None:
    started = time.time()
    load.wait_for_traffic(20)
    assert load.versions_between(started, time.time()) == {version}
    assert env.state()["pending"] is None


def test_the_prediction_log_keeps_production_traffic_outside_the_checkout(live_env):
    """Slots log under the state directory: beside params.yaml they would write into the checkout, which the next
    job's `git clean` empties under them. The deploy's own smoke and bake requests are not production traffic."""
    log_dir = live_env.state_dir / "logs" / "predictions"

    def records() -> int:
        return sum(len(path.read_text().splitlines()) for path in log_dir.glob("*.jsonl"))

    time.sleep(1.0)  # past the log's 0.5 s flush
    assert log_dir.is_dir() and records() == 0  # the deploy of v1 smoke-tested and baked it: nothing logged
    for _ in range(3):
        assert live_env.answering() == "v1"
    assert wait_until(lambda: records() == 3)
    assert not (live_env.params.parent / "logs").exists() and not (live_env.root / "logs").exists()


def test_bodies_up_to_the_servers_limit_pass_nginx_and_larger_ones_get_its_json_413(live_env):
    """nginx's default client_max_body_size (1m) would answer a valid 2 MB request with an HTML error page, and a
    body nginx spills to a temp file fails when it runs as root: every body up to the model server's limit reaches
    it, and a larger one gets the same JSON 413 the server gives."""
    import json

    import requests

    url = f"http://127.0.0.1:{live_env.listen_port}/predict"
    record = json.dumps(golden(live_env.base_bundle)[0]["features"])
    padded = record[:-1] + " " * 2_000_000 + "}"  # valid JSON, 2 MB
    ok = requests.post(url, data=padded, headers={"Content-Type": "application/json"}, timeout=30)
    assert ok.status_code == 200 and ok.headers["x-model-version"] == "v1", ok.text[:200]
    for size, says in ((8_100_000, "8000000"), (9_000_000, "8388608")):  # the server's limit, then nginx's
        too_big = requests.post(url, data=record[:-1] + " " * size + "}",
                                headers={"Content-Type": "application/json"}, timeout=30)
        assert too_big.status_code == 413 and too_big.json() == {"detail": f"request body exceeds {says} bytes"}


@pytest.mark.parametrize(("name", "spoil", "extra", "needles"), [
    ("tampered", tamper_artifact, (), ("v90 not deployed", "will not become ready", "sha256")),
    ("refused-input", unservable_golden, (), ("v92 not deployed", "smoke test failed", "422")),
    ("too-slow", None, ("--latency-budget-ms", "0.001"), ("v93 not deployed", "exceeds the 0.001 ms budget")),
])
def test_a_bad_model_never_takes_traffic(live_env, load, name, spoil, extra, needles):
    version = {"tampered": 90, "wrong-answers": 91, "refused-input": 92, "too-slow": 93}[name]
    bundle = live_env.bundle(version, name)
    if spoil is unservable_golden:
        spoil(bundle, live_env.params)
    elif spoil:
        spoil(bundle)
    live_before, version_before = live_env.state()["live"], live_version(live_env)
    message = refused(live_env.deploy(bundle, "--ready-timeout", "20", *extra), *needles)
    assert f"traffic stays on {live_before} ({version_before})" in message
    assert live_env.last_event()["result"] == "refused"
    still_serving(live_env, load, version_before)


def test_a_failed_bake_switches_back_automatically(live_env, load):
    version_before = live_version(live_env)
    message = refused(live_env.deploy(live_env.bundle(6), "--max-p95-ms", "0.0001"),
                      f"v6 rolled back to {live_env.state()['live']} ({version_before})", "bake failed", "p95")
    event = live_env.last_event()
    assert event["result"] == "rolled back" and "switched_back_at" in event, message
    assert live_version(live_env) == version_before
    assert_all_new_after(load, epoch(event["switched_back_at"]), time.time(), version_before, settle=0.0)
    still_serving(live_env, load, version_before)


def test_rollback_restores_previous_version_within_2s(live_env, load):
    previous = live_version(live_env)
    assert_ok(live_env.deploy(live_env.bundle(2)))
    started = time.time()
    run = live_env.cli("rollback")
    assert_ok(run)
    assert f"rolled back to {previous}" in run.stdout
    load.wait_for_traffic(20)
    # from 2 s after `rollback` was invoked (its own start-up included) every answer is the previous version
    assert_all_new_after(load, started, time.time(), previous)
    assert live_version(live_env) == previous


@pytest.mark.parametrize("failpoint", ["before-reload", "after-switch"])
def test_deploy_killed_mid_switch_is_recovered_by_the_next(live_env, load, failpoint):
    live_before, version_before = live_env.state()["live"], live_version(live_env)
    run = live_env.deploy(live_env.bundle(3), ML_DEPLOY_FAILPOINT=failpoint)
    assert run.returncode == -9, run.describe()
    status = live_env.cli("status")
    assert_ok(status)
    assert "interrupted deploy" in status.stdout
    started = time.time()
    load.wait_for_traffic(20)
    assert load.versions_between(started, time.time()) <= {version_before, "v3"}  # served, by one of the two
    next_version = 4 if version_before != "v4" else 5
    assert_ok(live_env.deploy(live_env.bundle(next_version)))
    state = live_env.state()
    assert state["pending"] is None and state["live"] != live_before
    assert live_version(live_env) == f"v{next_version}"
    assert any(e["event"] == "recovered" and e["interrupted"]["version"] == "v3" for e in state["history"][-3:])


def test_a_second_deploy_waits_for_the_lock(live_env):
    from ml.deploy.lock import deploy_lock

    with deploy_lock(live_env.state_dir):
        run = live_env.deploy(live_env.bundle(5))
    refused(run, "another deploy is running")

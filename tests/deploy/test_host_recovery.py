"""What a deploy or rollback does after something went wrong before it (a refused or killed deploy, a crashed
slot, an nginx that will not reload), with real nginx and uvicorn: users stay on a slot that answers, and every
report names the version that really answers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from ml.deploy import http
from ml.deploy.nginx import Nginx
from ml.deploy.state import COLOURS, other
from tests.conftest import assert_ok
from tests.deploy.bundles import copy_as_version, golden, unservable_golden
from tests.deploy.hostenv import HostDeployEnv, failing_reloads, refused, wait_until
from tests.deploy.loadgen import LoadGenerator

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path, deploy_workspace):
    """A host deployment of its own: each test starts from a fresh state directory."""
    params, bundle = deploy_workspace
    host = HostDeployEnv(tmp_path, params, bundle)
    yield host
    host.down()


def deployed(env: HostDeployEnv, *versions: int) -> None:
    for version in versions:
        assert_ok(env.deploy(env.bundle(version)))


def status(env: HostDeployEnv) -> dict:
    return json.loads(assert_ok(env.cli("status", "--json")).stdout)


def assert_live(env: HostDeployEnv, colour: str, version: str) -> None:
    state = env.state()
    assert (state["live"], state["slots"][colour]["version"], state["pending"]) == (colour, version, None), state
    assert env.answering() == version


@pytest.mark.parametrize(("args", "failpoint", "exit_code"), [
    (("--latency-budget-ms", "0.001"), None, 1),
    ((), "after-smoke", -9),
], ids=["refused", "killed-after-smoke"])
def test_rollback_after_a_failed_deploy_serves_the_version_it_reports(env, args, failpoint, exit_code):
    """The failed deploy of v3 replaced v1 on the standby slot; rollback must bring v1 back, not v3."""
    deployed(env, 1, 2)
    failpoints = {"ML_DEPLOY_FAILPOINT": failpoint} if failpoint else {}
    assert env.deploy(env.bundle(3), *args, **failpoints).returncode == exit_code
    run = assert_ok(env.cli("rollback"))
    assert "slot green is stopped; restarting v1" in run.stderr  # the failed deploy left nothing running there
    assert "rolled back to v1 on green" in run.stdout
    assert_live(env, "green", "v1")
    assert_ok(env.cli("rollback"))  # and forth: blue's v2 was never touched
    assert_live(env, "blue", "v2")


def test_rollback_refuses_a_slot_that_answers_another_version_than_recorded(env):
    deployed(env, 1, 2)
    state = env.state()
    state["slots"]["green"]["version"] = "v9"  # the record no longer matches the bundle green serves (v1)
    (env.state_dir / "state.json").write_text(json.dumps(state))
    refused(env.cli("rollback"), "not rolled back", "answers as v1, not v9", "traffic stays on blue (v2)")
    assert_live(env, "blue", "v2")
    assert not status(env)["slots"]["green"]["ready"]  # restarted, found wrong, stopped again


def test_after_an_interrupted_first_deploy_the_next_one_leaves_its_slot_serving(env):
    assert env.deploy(env.bundle(1), ML_DEPLOY_FAILPOINT="after-switch").returncode == -9
    with LoadGenerator(env.listen_port, golden(env.base_bundle), pause=0.01) as load:
        load.wait_for_traffic()
        started = time.time()
        run = env.deploy(env.bundle(2), "--latency-budget-ms", "0.001")
        refused(run, "v2 not deployed", "traffic stays on green (v1)")
        load.wait_for_traffic()
    assert not load.failures(), load.failures()[:3]
    assert load.versions_between(started, time.time()) == {"v1"}  # v2 (on blue) never reached a user
    assert "nothing was live: green (v1)" in run.stderr
    assert_live(env, "green", "v1")


def test_a_failed_bake_keeps_the_new_slot_when_the_old_one_died(env):
    deployed(env, 1)
    env.kill_slot("green")
    run = env.deploy(env.bundle(2), "--max-p95-ms", "0.0001", "--bake-seconds", "3")
    refused(run, "v2 kept live on blue", "slot green (v1) is not ready to switch back to", "bake failed")
    assert_live(env, "blue", "v2")
    assert env.last_event()["result"].startswith("deployed, bake failed")


def test_a_switch_nginx_refuses_both_ways_leaves_traffic_on_the_old_slot(env, tmp_path):
    deployed(env, 1)
    with LoadGenerator(env.listen_port, golden(env.base_bundle), pause=0.01) as load:
        load.wait_for_traffic()
        run = env.deploy(env.bundle(2), **failing_reloads(tmp_path))
        load.wait_for_traffic()
    refused(run, "v2 not deployed: the switch failed (nginx -s reload failed", "switching back failed too",
            "traffic stays on green (v1)")
    assert not load.failures(), load.failures()[:3]
    assert_live(env, "green", "v1")
    assert env.last_event()["result"] == "refused"


def test_a_failed_switch_with_the_old_slot_dead_keeps_the_new_one_running(env, tmp_path):
    deployed(env, 1)
    env.kill_slot("green")
    run = env.deploy(env.bundle(2), **failing_reloads(tmp_path))
    refused(run, "v2 not deployed: the switch failed", "slot green (v1) is not ready to switch back to",
            "blue keeps running")
    info = status(env)
    assert info["router_live"] == "green" and info["pending"]  # nginx kept its config; the next run recovers
    assert env.answering() is None  # green is dead: nothing could be done without a reload
    deployed(env, 3)  # nginx reloads again: blue (v2, smoke-tested) becomes live, v3 goes to green
    assert_live(env, "green", "v3")


def smoke_failing(env: HostDeployEnv, version: int) -> Path:
    return unservable_golden(env.bundle(version, f"v{version}-bad"), env.params)


def test_a_first_deploy_never_routes_users_to_the_model_under_test(env):
    with LoadGenerator(env.listen_port, golden(env.base_bundle), pause=0.01) as load:
        refused(env.deploy(smoke_failing(env, 1)), "v1 not deployed", "smoke test failed", "nothing was live")
    assert load.answers and "v1" not in {answer.version for answer in load.answers}


def test_an_interrupted_deploy_never_makes_its_untested_slot_live(env):
    assert env.deploy(smoke_failing(env, 1), ML_DEPLOY_FAILPOINT="after-start").returncode == -9
    colour = env.state()["pending"]["colour"]
    assert wait_until(lambda: http.is_ready(env.slot_url(colour)), 30)
    # the router already points at it (as it did when a first deploy used the router's colour)
    port = env.blue_port if colour == "blue" else env.green_port
    Nginx(env.state_dir / "nginx-router", "router", env.router_port).point_to(colour, port)
    run = assert_ok(env.deploy(env.bundle(2)))
    assert f"stopped slot {colour}: an interrupted deploy of v1 never got it past its smoke test" in run.stderr
    assert_live(env, other(colour), "v2")
    assert colour not in env.state()["slots"]
    refused(env.cli("rollback"), "nothing to roll back to")


def test_a_rollback_killed_before_the_reload_is_undone_without_a_failed_request(env):
    deployed(env, 1, 2)
    live = env.state()["live"]
    assert env.cli("rollback", ML_DEPLOY_FAILPOINT="before-reload").returncode == -9
    assert "interrupted rollback" in assert_ok(env.cli("status")).stdout
    assert env.answering() == "v2"
    with LoadGenerator(env.listen_port, golden(env.base_bundle), pause=0.01) as load:
        load.wait_for_traffic()
        run = assert_ok(env.deploy(env.bundle(3)))
        load.wait_for_traffic()
    assert not load.failures(), load.failures()[:3]
    assert "an interrupted rollback of v1" in run.stderr
    assert_live(env, other(live), "v3")


def test_a_dead_live_slot_hands_traffic_to_the_ready_standby_before_a_deploy(env):
    deployed(env, 1, 2)
    assert_ok(env.cli("rollback"))
    live = env.state()["live"]
    env.kill_slot(live)
    run = env.deploy(smoke_failing(env, 3))
    refused(run, "v3 not deployed", f"traffic stays on {other(live)} (v2)")
    assert f"slot {live} (v1) is down: switched traffic to the standby {other(live)} (v2)" in run.stderr
    assert_live(env, other(live), "v2")


def test_a_refused_deploy_says_when_the_live_slot_does_not_answer(env):
    deployed(env, 1)
    live = env.state()["live"]
    env.kill_slot(live)
    refused(env.deploy(smoke_failing(env, 2)), "v2 not deployed", f"slot {live} (v1) stays live but does not answer")


def copies(env: HostDeployEnv, colour: str) -> list[str]:
    return sorted(path.name for path in (env.state_dir / "slots" / colour / "bundles").glob("model-*"))


def test_recovery_and_rollback_keep_only_recorded_copies_and_the_restarted_pid(env):
    deployed(env, 1, 2)
    assert env.deploy(env.bundle(3), ML_DEPLOY_FAILPOINT="after-start").returncode == -9
    assert "slot" in env.cli("rollback").stderr  # recovers v3's slot, then restarts v1 there
    slots = env.state()["slots"]
    for colour in COLOURS:
        assert copies(env, colour) == [Path(slots[colour]["model_dir"]).name]
    target = env.state()["live"]
    pid = int((env.state_dir / "slots" / target / "server.pid").read_text().split()[0])
    assert slots[target]["pid"] == pid
    assert_live(env, target, "v1")


def test_bundles_fetched_from_the_registry_are_dropped_after_their_deploy(env):
    registry = Path(yaml.safe_load(env.params.read_text())["registry"]["path"])
    if not (registry / "v1").exists():
        copy_as_version(env.base_bundle, registry / "v1", 1)
    left_by_a_killed_deploy = env.state_dir / "fetched" / f"v1-{2**22 + os.getpid()}"  # above pid_max: not running
    left_by_a_killed_deploy.mkdir(parents=True)
    assert_ok(env.cli("deploy", "--version", "1", "--bake-seconds", "1", "--latency-budget-ms", "1000"))
    assert env.answering() == "v1"
    assert not list((env.state_dir / "fetched").iterdir())

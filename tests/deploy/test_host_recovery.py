"""What a deploy or rollback does after something went wrong before it (a refused or killed deploy, a crashed
slot, an nginx that will not reload), with real nginx and uvicorn: users stay on a slot that answers, and every
report names the version that really answers."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import assert_ok
from tests.deploy.bundles import golden
from tests.deploy.hostenv import HostDeployEnv, failing_reloads, refused
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
    assert "slot blue is stopped; restarting v1" in run.stderr  # the failed deploy left nothing running there
    assert "rolled back to v1 on blue" in run.stdout
    assert_live(env, "blue", "v1")
    assert_ok(env.cli("rollback"))  # and forth: green's v2 was never touched
    assert_live(env, "green", "v2")


def test_rollback_refuses_a_slot_that_answers_another_version_than_recorded(env):
    deployed(env, 1, 2)
    state = env.state()
    state["slots"]["blue"]["version"] = "v9"  # the record no longer matches the bundle blue serves (v1)
    (env.state_dir / "state.json").write_text(json.dumps(state))
    refused(env.cli("rollback"), "not rolled back", "answers as v1, not v9", "traffic stays on green (v2)")
    assert_live(env, "green", "v2")
    assert not status(env)["slots"]["blue"]["ready"]  # restarted, found wrong, stopped again


def test_after_an_interrupted_first_deploy_the_next_one_leaves_its_slot_serving(env):
    assert env.deploy(env.bundle(1), ML_DEPLOY_FAILPOINT="after-switch").returncode == -9
    with LoadGenerator(env.listen_port, golden(env.base_bundle), pause=0.01) as load:
        load.wait_for_traffic()
        started = time.time()
        run = env.deploy(env.bundle(2), "--latency-budget-ms", "0.001")
        refused(run, "v2 not deployed", "traffic stays on blue (v1)")
        load.wait_for_traffic()
    assert not load.failures(), load.failures()[:3]
    assert load.versions_between(started, time.time()) == {"v1"}  # v2 (on green) never reached a user
    assert "nothing was live: blue (v1)" in run.stderr
    assert_live(env, "blue", "v1")


def test_a_failed_bake_keeps_the_new_slot_when_the_old_one_died(env):
    deployed(env, 1)
    env.kill_slot("blue")
    run = env.deploy(env.bundle(2), "--max-p95-ms", "0.0001", "--bake-seconds", "3")
    refused(run, "v2 kept live on green", "slot blue (v1) is not ready to switch back to", "bake failed")
    assert_live(env, "green", "v2")
    assert env.last_event()["result"].startswith("deployed, bake failed")


def test_a_switch_nginx_refuses_both_ways_leaves_traffic_on_the_old_slot(env, tmp_path):
    deployed(env, 1)
    with LoadGenerator(env.listen_port, golden(env.base_bundle), pause=0.01) as load:
        load.wait_for_traffic()
        run = env.deploy(env.bundle(2), **failing_reloads(tmp_path))
        load.wait_for_traffic()
    refused(run, "v2 not deployed: the switch failed (nginx -s reload failed", "switching back failed too",
            "traffic stays on blue (v1)")
    assert not load.failures(), load.failures()[:3]
    assert_live(env, "blue", "v1")
    assert env.last_event()["result"] == "refused"


def test_a_failed_switch_with_the_old_slot_dead_keeps_the_new_one_running(env, tmp_path):
    deployed(env, 1)
    env.kill_slot("blue")
    run = env.deploy(env.bundle(2), **failing_reloads(tmp_path))
    refused(run, "v2 not deployed: the switch failed", "slot blue (v1) is not ready to switch back to",
            "green keeps running")
    info = status(env)
    assert info["router_live"] == "blue" and info["pending"]  # nginx kept its config; the next run recovers
    assert env.answering() is None  # blue is dead: nothing could be done without a reload
    deployed(env, 3)  # once nginx reloads again, the next deploy recovers and takes over from green
    assert_live(env, "green", "v3")

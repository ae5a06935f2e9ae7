"""The kubernetes backend: manifests validate offline, and `deploy.py --backend kubernetes` drives kubectl in the
right order (checked against a kubectl stand-in that forwards to a real model server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, assert_ok, run_script, script_env
from tests.deploy.hostenv import stand_in_path

MANIFESTS = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))


def test_manifests_validate_offline():
    assert len(MANIFESTS) == 4
    done = subprocess.run([str(Path(sys.executable).with_name("kubernetes-validate")), "--strict", "-k", "1.30.0",
                           *map(str, MANIFESTS)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_manifests_wire_two_slots_a_live_and_a_preview_service():
    docs = {doc["metadata"]["name"]: doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text())}
    for colour in ("blue", "green"):
        deployment = docs[f"model-{colour}"]
        assert deployment["spec"]["selector"]["matchLabels"] == {"app": "model", "slot": colour}
        assert deployment["spec"]["template"]["metadata"]["labels"]["slot"] == colour
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["name"] == "model"  # what `kubectl set image … model=IMAGE` addresses
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert docs["model"]["spec"]["selector"]["slot"] != docs["model-preview"]["spec"]["selector"]["slot"]


@pytest.fixture
def cluster(tmp_path, model_server):
    bundle, port = model_server
    state = tmp_path / "cluster.json"
    state.write_text(json.dumps({
        "services": {"model": "blue", "model-preview": "green"},
        "deployments": {"model-blue": {"image": "model-server:v6", "replicas": 1},
                        "model-green": {"image": "model-server:old", "replicas": 0}}}))
    log = tmp_path / "kubectl.log"
    log.touch()
    env = script_env(PATH=stand_in_path(tmp_path, "kubectl", "fake_kubectl.py"), FAKE_KUBECTL_STATE=str(state),
                     FAKE_KUBECTL_LOG=str(log), FAKE_KUBECTL_FORWARD_PORT=str(port),
                     FAKE_KUBECTL_BROKEN_IMAGES="model-server:broken")

    class Cluster:
        def run(self, command: str, *args: str):
            return run_script("deploy.py", command, "--backend", "kubernetes", "--namespace", "ml",
                              "--state-dir", str(tmp_path / "state"), "--scale-down-delay", "0", *args,
                              cwd=tmp_path, env=env)

        def deploy(self, image: str, *args: str):
            return self.run("deploy", "--model-dir", str(bundle), "--image", image, "--bake-seconds", "1",
                            "--latency-budget-ms", "1000", *args)

        def calls(self) -> list[list[str]]:
            return [json.loads(line) for line in log.read_text().splitlines()]

        def mutations(self) -> list[str]:
            return [" ".join(c[2:]) for c in self.calls() if c[2] in ("set", "scale", "patch", "rollout")]

        def state(self) -> dict:
            return json.loads(state.read_text())

    return Cluster()


def test_deploy_sets_image_on_idle_slot_smokes_via_preview_then_switches(cluster):
    run = assert_ok(cluster.deploy("model-server:v7", "--no-standby"))
    assert "deployed v7 on green" in run.stdout
    assert all(call[:2] == ["--namespace", "ml"] for call in cluster.calls())
    patch = '--type merge -p {"spec": {"selector": {"app": "model", "slot": "%s"}}}'
    assert cluster.mutations() == [
        "set image deployment/model-green model=model-server:v7",
        "scale deployment/model-green --replicas=1",
        "rollout status deployment/model-green --timeout=60s",
        # preview already selects green: smoke-tested through it without a patch
        f"patch service model {patch % 'green'}",
        "scale deployment/model-blue --replicas=0",
    ]
    forwards = [c[-2] for c in cluster.calls() if c[2] == "port-forward"]
    assert forwards[0] == "service/model-preview" and "service/model" in forwards[1:]
    assert cluster.state()["services"]["model"] == "green"


def test_a_slot_that_never_rolls_out_never_takes_traffic(cluster):
    run = cluster.deploy("model-server:broken")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.describe()
    assert "exceeded its progress deadline" in run.stderr and "v7 not deployed" in run.stderr
    assert cluster.state()["services"]["model"] == "blue"
    assert cluster.state()["deployments"]["model-green"]["replicas"] == 0
    assert not any(m.startswith("patch service model ") for m in cluster.mutations())


def test_rollback_and_status_from_new_processes(cluster):
    assert_ok(cluster.deploy("model-server:v7"))
    assert cluster.state()["services"]["model"] == "green"
    status = assert_ok(cluster.run("status", "--json"))
    info = json.loads(status.stdout)
    assert info["live"] == "green" and info["router_live"] == "green" and info["live_version"] == "v7"
    # blue served before this state file existed: adopted as live on the first deploy, so it can be rolled back to
    assert "rolled back to unknown (adopted) on blue" in assert_ok(cluster.run("rollback")).stdout
    assert cluster.state()["services"]["model"] == "blue"
    assert_ok(cluster.deploy("model-server:v8"))   # the same bundle in a new image, onto the idle green slot
    assert cluster.state()["deployments"]["model-green"]["image"] == "model-server:v8"
    assert cluster.state()["services"]["model"] == "green"
    assert_ok(cluster.run("rollback"))
    assert cluster.state()["services"]["model"] == "blue"
    assert cluster.state()["deployments"]["model-blue"]["image"] == "model-server:v6"


def test_deploy_by_registry_version_smokes_that_bundle(cluster, deploy_workspace):
    """--version N fetches the bundle from the registry; the server runs v7, so the smoke test refuses v1."""
    from tests.deploy.bundles import copy_as_version

    params, base = deploy_workspace
    registry = Path(yaml.safe_load(params.read_text())["registry"]["path"])
    if not (registry / "v1").exists():
        copy_as_version(base, registry / "v1", 1)
    run = cluster.run("deploy", "--params", str(params), "--version", "1", "--image", "model-server:v1")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.describe()
    assert "v1 not deployed: smoke test failed" in run.stderr
    assert "X-Model-Version is 'v7', expected 'v1'" in run.stderr
    assert cluster.state()["services"]["model"] == "blue"
    missing = cluster.run("deploy", "--params", str(params), "--version", "99", "--image", "x")
    assert missing.returncode == 1 and "model v99 is not in" in missing.stderr, missing.describe()

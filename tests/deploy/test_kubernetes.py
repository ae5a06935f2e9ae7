"""The kubernetes backend: manifests validate offline, and `deploy.py --backend kubernetes` drives kubectl in the
right order and leaves the live Service answering with the version it reports (checked against a kubectl stand-in
whose pods answer as the version their image holds, forwarding to a real model server)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ml.deploy import http
from ml.deploy.kubernetes import KubernetesBackend, KubernetesSettings
from tests.conftest import REPO, assert_ok, run_script, script_env
from tests.deploy.bundles import copy_as_version
from tests.deploy.hostenv import refused, stand_in_path

pytestmark = pytest.mark.slow
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
def cluster(tmp_path, model_server, deploy_workspace):
    bundle, port = model_server
    state = tmp_path / "cluster.json"
    state.write_text(json.dumps({
        "services": {"model": "blue", "model-preview": "green"},
        "deployments": {"model-blue": {"image": "model-server:v6", "replicas": 1},
                        "model-green": {"image": "model-server:old", "replicas": 0}}}))
    log = tmp_path / "kubectl.log"
    log.touch()
    fake = {"PATH": stand_in_path(tmp_path, "kubectl", "fake_kubectl.py"), "FAKE_KUBECTL_STATE": str(state),
            "FAKE_KUBECTL_LOG": str(log), "FAKE_KUBECTL_FORWARD_PORT": str(port),
            "FAKE_KUBECTL_BROKEN_IMAGES": "model-server:broken"}
    env = script_env(**fake)

    class Cluster:
        fake_env = fake

        def run(self, command: str, *args: str, **extra_env: str):
            return run_script("deploy.py", command, "--backend", "kubernetes", "--namespace", "ml",
                              "--state-dir", str(tmp_path / "state"), "--scale-down-delay", "0", *args,
                              cwd=tmp_path, env={**env, **extra_env})

        def deploy(self, image: str, *args: str, version: int = 7, **extra_env: str):
            return self.run("deploy", "--model-dir", str(self.bundle(version)), "--image", image,
                            "--bake-seconds", "1", "--latency-budget-ms", "1000", *args, **extra_env)

        def bundle(self, version: int) -> Path:
            """The served v7 bundle, or a copy of it as another version (same model, so the same golden answers)."""
            dest = tmp_path / "bundles" / f"v{version}"
            if version != 7 and not dest.exists():
                copy_as_version(deploy_workspace[1], dest, version)
            return bundle if version == 7 else dest

        def answering(self, service: str = "model") -> str | None:
            """The X-Model-Version a fresh port-forward to the Service answers with (None: it did not start)."""
            forward = subprocess.Popen(["kubectl", "--namespace", "ml", "port-forward", f"service/{service}", ":80"],
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                match = re.search(r"127\.0\.0\.1:(\d+)", forward.stdout.readline())
                if not match:
                    return None
                return http.get(f"http://127.0.0.1:{match.group(1)}/health/live").header("x-model-version")
            finally:
                forward.kill()
                forward.wait()

        def calls(self) -> list[list[str]]:
            return [json.loads(line) for line in log.read_text().splitlines()]

        def mutations(self) -> list[str]:
            return [" ".join(c[2:]) for c in self.calls() if c[2] in ("set", "scale", "patch", "rollout")]

        def state(self) -> dict:
            return json.loads(state.read_text())

        def set_image(self, deployment: str, image: str) -> None:
            """A change made behind the deploy script's back (someone ran `kubectl set image`)."""
            cluster = self.state()
            cluster["deployments"][deployment]["image"] = image
            state.write_text(json.dumps(cluster))

        def record(self, colour: str, **changes: str) -> None:
            path = tmp_path / "state" / "state.json"
            deploy_state = json.loads(path.read_text())
            deploy_state["slots"][colour].update(changes)
            path.write_text(json.dumps(deploy_state))

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
    assert cluster.answering() == "v7"


def test_a_bake_that_cannot_watch_the_live_service_switches_back(cluster):
    """kubectl failing after the switch (the live port-forward will not start) is a failed bake, not an exit that
    leaves users on a model nobody watched."""
    assert_ok(cluster.deploy("model-server:v7"))  # v7 live on green, v6 standby on blue
    run = cluster.deploy("model-server:v8", version=8, FAKE_KUBECTL_FAILING_FORWARD="model")
    assert run.returncode == 1 and "v8 rolled back to green (v7)" in run.stderr, run.describe()
    assert "the bake could not run" in run.stderr and "unable to forward port" in run.stderr
    assert cluster.state()["services"]["model"] == "green"


def test_a_smoke_test_that_cannot_reach_the_preview_is_a_refusal(cluster):
    run = cluster.deploy("model-server:v7", FAKE_KUBECTL_FAILING_FORWARD="model-preview")
    assert run.returncode == 1 and "v7 not deployed: the smoke test could not run" in run.stderr, run.describe()
    assert cluster.state()["services"]["model"] == "blue" and cluster.run("status").stdout.count("interrupted") == 0


def test_a_slot_that_never_rolls_out_never_takes_traffic(cluster):
    run = cluster.deploy("model-server:broken")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.describe()
    assert "exceeded its progress deadline" in run.stderr and "v7 not deployed" in run.stderr
    assert cluster.state()["services"]["model"] == "blue"
    assert cluster.state()["deployments"]["model-green"]["replicas"] == 0
    assert not any(m.startswith("patch service model ") for m in cluster.mutations())
    assert cluster.answering() == "v6"


def test_a_slot_that_answers_another_version_is_refused_and_traffic_stays(cluster):
    """The image holds v9 while the bundle says v7 (a wrong --image): refused before the live Service moves."""
    refused(cluster.deploy("model-server:v9"), "v7 not deployed: smoke test failed",
            "X-Model-Version is 'v9', expected 'v7'", "traffic stays on blue")
    assert cluster.state()["services"]["model"] == "blue"
    assert cluster.state()["deployments"]["model-green"]["replicas"] == 0
    assert not any(m.startswith("patch service model ") for m in cluster.mutations())
    assert cluster.answering() == "v6"


def test_rollback_and_status_from_new_processes(cluster):
    assert_ok(cluster.deploy("model-server:v7"))
    assert cluster.state()["services"]["model"] == "green"
    status = assert_ok(cluster.run("status", "--json"))
    info = json.loads(status.stdout)
    assert info["live"] == "green" and info["router_live"] == "green" and info["live_version"] == "v7"
    # blue served before this state file existed: adopted as live on the first deploy, so it can be rolled back to
    assert "rolled back to unknown (adopted) on blue" in assert_ok(cluster.run("rollback")).stdout
    assert cluster.state()["services"]["model"] == "blue"
    assert cluster.answering() == "v6"
    assert_ok(cluster.deploy("model-server:v8", version=8))   # onto the idle green slot
    assert cluster.state()["deployments"]["model-green"]["image"] == "model-server:v8"
    assert cluster.answering() == "v8"
    assert_ok(cluster.run("rollback"))
    assert cluster.state()["services"]["model"] == "blue"
    assert cluster.state()["deployments"]["model-blue"]["image"] == "model-server:v6"
    assert cluster.answering() == "v6"


def deployed_v7_then_v8(cluster) -> None:
    """v7 on green, then v8 on blue: both slots recorded by this state file, green the standby."""
    assert_ok(cluster.deploy("model-server:v7"))
    assert_ok(cluster.deploy("model-server:v8", version=8))
    assert cluster.state()["services"]["model"] == "blue" and cluster.answering() == "v8"


def test_rollback_switches_the_service_to_the_previous_version_and_back(cluster):
    deployed_v7_then_v8(cluster)
    assert "rolled back to v7 on green (replacing v8)" in assert_ok(cluster.run("rollback")).stdout
    assert cluster.state()["services"]["model"] == "green"
    assert cluster.answering() == "v7"
    assert "rolled back to v8 on blue (replacing v7)" in assert_ok(cluster.run("rollback")).stdout
    assert cluster.answering() == "v8"


def test_rollback_after_a_refused_deploy_serves_the_version_it_reports(cluster):
    """The refused v9 (an image holding v10) replaced green's v7 image and scaled it down: rollback restarts v7."""
    deployed_v7_then_v8(cluster)
    refused(cluster.deploy("model-server:v10", version=9), "v9 not deployed", "traffic stays on blue (v8)")
    assert cluster.answering() == "v8"
    run = assert_ok(cluster.run("rollback"))
    assert "slot green is stopped; restarting v7" in run.stderr and "rolled back to v7 on green" in run.stdout
    assert cluster.state()["deployments"]["model-green"]["image"] == "model-server:v7"
    assert cluster.answering() == "v7"


def test_rollback_restarts_a_standby_whose_image_was_changed(cluster):
    deployed_v7_then_v8(cluster)
    cluster.set_image("model-green", "model-server:v9")
    run = assert_ok(cluster.run("rollback"))
    assert "slot green answers as v9; restarting v7" in run.stderr and "rolled back to v7 on green" in run.stdout
    assert cluster.answering() == "v7"


def test_rollback_refuses_a_slot_that_answers_another_version_than_recorded(cluster):
    deployed_v7_then_v8(cluster)
    cluster.record("green", version="v9")  # the record no longer matches green's image (v7)
    refused(cluster.run("rollback"), "not rolled back", "answers as v7, not v9", "traffic stays on blue (v8)")
    assert cluster.state()["services"]["model"] == "blue"
    assert cluster.state()["deployments"]["model-green"]["replicas"] == 0  # restarted, found wrong, stopped again
    assert cluster.answering() == "v8"


def test_a_port_forward_keeps_answering_after_many_connections(cluster, monkeypatch):
    """kubectl writes a line per connection to stdout: unread, the pipe fills and every later connection through
    the forward hangs (a long bake probes through one forward)."""
    for key, value in cluster.fake_env.items():
        monkeypatch.setenv(key, value)
    backend = KubernetesBackend(KubernetesSettings(namespace="ml"))
    try:
        url = http.join(backend.live_url(), "/health/live")
        assert all(http.get(url, timeout=5).header("x-model-version") == "v6" for _ in range(300))
    finally:
        backend.close()


def test_deploy_by_registry_version_smokes_that_bundle(cluster, deploy_workspace):
    """--version N fetches the bundle from the registry; the image holds v7, so the smoke test refuses v1."""
    params, base = deploy_workspace
    registry = Path(yaml.safe_load(params.read_text())["registry"]["path"])
    if not (registry / "v1").exists():
        copy_as_version(base, registry / "v1", 1)
    run = cluster.run("deploy", "--params", str(params), "--version", "1", "--image", "model-server:v7")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.describe()
    assert "v1 not deployed: smoke test failed" in run.stderr
    assert "X-Model-Version is 'v7', expected 'v1'" in run.stderr
    assert cluster.state()["services"]["model"] == "blue"
    missing = cluster.run("deploy", "--params", str(params), "--version", "99", "--image", "x")
    assert missing.returncode == 1 and "model v99 is not in" in missing.stderr, missing.describe()

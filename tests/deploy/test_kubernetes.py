"""The kubernetes backend: manifests validate offline, and `deploy.py --backend kubernetes` drives kubectl in the
right order and leaves the live Service answering with the version it reports (checked against a kubectl stand-in
whose pods answer as the version their image holds, forwarding to a real model server)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from ml.deploy import configmap_state, http
from ml.deploy.configmap_state import LOCK_KEY, STATE_KEY, ConfigMapStateStore
from ml.deploy.errors import DeployError
from ml.deploy.kubernetes import KubernetesBackend, KubernetesSettings
from ml.deploy.state import DeployState
from tests.conftest import REPO, assert_ok, assert_one_line_error, run_script, script_env
from tests.deploy.bundles import copy_as_version
from tests.deploy.hostenv import refused, stand_in_path, wait_until

pytestmark = pytest.mark.slow
MANIFESTS = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))


def test_manifests_validate_offline():
    assert len(MANIFESTS) == 5
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


# The API requests (resource, verb) each kubectl call of the backend is authorized as.
_REQUESTS = {
    "get service": {("services", "get")},
    "get deployment": {("deployments", "get")},
    "get configmap": {("configmaps", "get")},
    "create -f": {("configmaps", "create")},
    "replace -f": {("configmaps", "update")},
    "set image": {("deployments", "get"), ("deployments", "patch")},
    "scale": {("deployments", "get"), ("deployments/scale", "patch")},
    "patch service": {("services", "get"), ("services", "patch")},
    "rollout status": {("deployments", "get"), ("deployments", "list"), ("deployments", "watch")},
    "port-forward": {("services", "get"), ("pods", "list"), ("pods", "get"), ("pods/portforward", "create")},
}
# Granted beyond that on purpose (the Role's comments say why): older kubectl scales by get + update; API servers
# before 1.35 authorize a WebSocket port-forward as get.
_ALSO_GRANTED = {("deployments/scale", "get"), ("deployments/scale", "update"), ("pods/portforward", "get")}


def api_requests(call: list[str]) -> set[tuple[str, str]]:
    if call[0] == "get" and call[-2:] == ["-o", "name"]:
        return {(name.split("/")[0] + "s", "get") for name in call[1:-2]}
    for prefix, requests in _REQUESTS.items():
        if call[:len(prefix.split())] == prefix.split():
            return requests
    raise AssertionError(f"no RBAC mapping for kubectl {call}: add it to _REQUESTS and to rbac-deployer.yaml")


def test_the_deploy_identity_may_do_what_deploys_do_and_no_more(cluster):
    """The Role grants exactly the requests a deploy, a rollback, status and down make, by name where RBAC can."""
    assert_ok(cluster.deploy("model-server:v7"))
    assert_ok(cluster.deploy("model-server:v8", version=8))
    for command in ("status", "rollback", "down"):
        assert_ok(cluster.run(command))
    needed = set().union(*(api_requests(call[2:]) for call in cluster.calls()))
    docs = {(doc["kind"], doc["metadata"]["name"]): doc
            for doc in yaml.safe_load_all((REPO / "deploy" / "kubernetes" / "rbac-deployer.yaml").read_text())}
    rules = docs["Role", "model-deployer"]["rules"]
    granted = {(resource, verb) for rule in rules for resource in rule["resources"] for verb in rule["verbs"]}
    assert granted == needed | _ALSO_GRANTED
    names = {"services": ["model", "model-preview"], "deployments": ["model-blue", "model-green"],
             "deployments/scale": ["model-blue", "model-green"], "configmaps": ["model-deploy-state"]}
    for rule in rules:
        for resource in rule["resources"]:
            named = resource in names and rule["verbs"] != ["create"]  # create cannot be limited by name
            assert rule.get("resourceNames") == (names[resource] if named else None), rule
    binding = docs["RoleBinding", "model-deployer"]
    assert binding["roleRef"]["name"] == "model-deployer"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "model-deployer"}]
    assert ("ServiceAccount", "model-deployer") in docs


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

        def run(self, command: str, *args: str, runner: str = "state", **extra_env: str):
            """deploy.py on a runner whose state directory is tmp_path/<runner> (a new name: a fresh runner)."""
            return run_script("deploy.py", command, "--backend", "kubernetes", "--namespace", "ml",
                              "--state-dir", str(tmp_path / runner), "--scale-down-delay", "0", *args,
                              cwd=tmp_path, env={**env, **extra_env})

        def deploy(self, image: str, *args: str, version: int = 7, runner: str = "state", **extra_env: str):
            return self.run("deploy", "--model-dir", str(self.bundle(version)), "--image", image,
                            "--bake-seconds", "1", "--latency-budget-ms", "1000", *args, runner=runner, **extra_env)

        def bundle(self, version: int) -> Path:
            """The served v7 bundle, or a copy of it as another version (same model, so the same golden answers)."""
            dest = tmp_path / "bundles" / f"v{version}"
            if version != 7 and not dest.exists():
                copy_as_version(deploy_workspace[1], dest, version)
            return bundle if version == 7 else dest

        def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
            return subprocess.run(["kubectl", "--namespace", "ml", *args], env=env, input=stdin, capture_output=True,
                                  text=True, check=False)

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

        def calls(self, kubectl_log: Path = log) -> list[list[str]]:
            return [json.loads(line) for line in kubectl_log.read_text().splitlines()]

        def mutations(self, kubectl_log: Path = log) -> list[str]:
            """The calls that change the slots or the Services (the state ConfigMap's are not among them)."""
            return [" ".join(c[2:]) for c in self.calls(kubectl_log) if c[2] in ("set", "scale", "patch", "rollout")]

        def state(self) -> dict:
            return json.loads(state.read_text())

        def set_image(self, deployment: str, image: str) -> None:
            """A change made behind the deploy script's back (someone ran `kubectl set image`)."""
            cluster = self.state()
            cluster["deployments"][deployment]["image"] = image
            state.write_text(json.dumps(cluster))

        def config_map(self) -> dict[str, str] | None:
            """The data of the deploy state ConfigMap (None: there is none)."""
            obj = self.state().get("configmaps", {}).get("model-deploy-state")
            return obj["data"] if obj else None

        def deploy_state(self) -> dict:
            return json.loads(self.config_map()[STATE_KEY])

        def edit_config_map(self, **data: str | None) -> None:
            """Set (or, with None, drop) keys of the state ConfigMap behind deploy.py's back, as `kubectl edit` would
            (a new resourceVersion, like any write); with no ConfigMap yet, make one."""
            cluster = self.state()
            obj = cluster.setdefault("configmaps", {}).setdefault(
                "model-deploy-state", {"metadata": {"name": "model-deploy-state"}, "data": {}})
            obj["data"] = {k: v for k, v in {**obj["data"], **data}.items() if v is not None}
            cluster["resourceVersion"] = cluster.get("resourceVersion", 1000) + 1
            obj["metadata"]["resourceVersion"] = str(cluster["resourceVersion"])
            state.write_text(json.dumps(cluster))

        def delete_config_map(self) -> None:
            cluster = self.state()
            del cluster["configmaps"]["model-deploy-state"]
            state.write_text(json.dumps(cluster))

        def record(self, colour: str, **changes: str) -> None:
            deploy_state = self.deploy_state()
            deploy_state["slots"][colour].update(changes)
            self.edit_config_map(**{STATE_KEY: json.dumps(deploy_state)})

    return Cluster()


def test_the_kubectl_stand_in_keeps_config_maps_as_the_api_server_does(cluster):
    """The state store's concurrency rests on these answers (kubectl's own messages and exit codes)."""
    missing = cluster.kubectl("get", "configmap", "s", "-o", "json")
    assert (missing.returncode, missing.stderr) == (1, 'Error from server (NotFound): configmaps "s" not found\n')
    quiet = cluster.kubectl("get", "configmap", "s", "-o", "json", "--ignore-not-found")
    assert (quiet.returncode, quiet.stdout) == (0, "")

    def manifest(version: str | None = None, name: str = "s", **data: object) -> str:
        metadata = {"name": name, **({"resourceVersion": version} if version else {})}
        return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})

    created = cluster.kubectl("create", "-f", "-", "-o", "json", stdin=manifest(a="1"))
    assert created.returncode == 0, created.stderr
    first = json.loads(created.stdout)["metadata"]["resourceVersion"]
    assert json.loads(cluster.kubectl("get", "configmap", "s", "-o", "json").stdout)["metadata"]["namespace"] == "ml"
    again = cluster.kubectl("create", "-f", "-", "-o", "json", stdin=manifest(a="2"))
    assert again.returncode == 1 and '(AlreadyExists): error when creating "STDIN": configmaps "s" already exists' \
        in again.stderr
    replaced = cluster.kubectl("replace", "-f", "-", "-o", "json", stdin=manifest(first, a="2"))
    assert replaced.returncode == 0, replaced.stderr
    second = json.loads(replaced.stdout)["metadata"]["resourceVersion"]
    assert int(second) > int(first)
    stale = cluster.kubectl("replace", "-f", "-", "-o", "json", stdin=manifest(first, a="3"))
    assert stale.returncode == 1 and stale.stderr.startswith(
        'Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on configmaps "s": '
        "the object has been modified")
    assert json.loads(cluster.kubectl("get", "configmap", "s", "-o", "json").stdout)["data"] == {"a": "2"}
    for refusal, stdin in (("(BadRequest)", manifest(second, a=3)), ("Too long", manifest(second, a="x" * 2**20))):
        refused_write = cluster.kubectl("replace", "-f", "-", "-o", "json", stdin=stdin)
        assert refused_write.returncode == 1 and refusal in refused_write.stderr
    unconditional = cluster.kubectl("replace", "-f", "-", "-o", "json", stdin=manifest(a="4"))
    assert unconditional.returncode == 0 and json.loads(unconditional.stdout)["data"] == {"a": "4"}
    versioned = cluster.kubectl("create", "-f", "-", "-o", "json", stdin=manifest("5", name="t"))
    assert versioned.returncode == 1 and "(BadRequest)" in versioned.stderr
    assert "resourceVersion should not be set on objects to be created" in versioned.stderr
    gone = cluster.kubectl("replace", "-f", "-", "-o", "json", stdin=manifest(name="t"))
    assert gone.returncode == 1 and '(NotFound): error when replacing "STDIN": configmaps "t" not found' in gone.stderr


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


def test_each_command_on_a_fresh_runner_sees_what_the_others_did(cluster, tmp_path):
    """A GitHub-hosted runner starts every job with an empty state directory: the state lives in the cluster."""
    assert_ok(cluster.deploy("model-server:v7", runner="a"))
    assert cluster.state()["services"]["model"] == "green"
    assert not (tmp_path / "a" / "state.json").exists()
    hosted = {"RUNNER_ENVIRONMENT": "github-hosted", "GITHUB_WORKSPACE": str(tmp_path)}
    status = assert_ok(cluster.run("status", runner="b", **hosted))
    assert "::warning" not in status.stdout  # nothing is lost with the workspace any more
    assert status.stdout.splitlines()[0] == "live: green (v7); router → green"
    info = json.loads(assert_ok(cluster.run("status", "--json", runner="c")).stdout)
    assert info["live"] == "green" and info["router_live"] == "green" and info["live_version"] == "v7"
    assert info["state"] == "configmap/model-deploy-state" and info["running_pid"] is None
    # blue served before any deploy state existed: adopted as live on the first deploy, so it can be rolled back to
    assert "rolled back to unknown (adopted) on blue" in assert_ok(cluster.run("rollback", runner="d")).stdout
    assert cluster.state()["services"]["model"] == "blue"
    assert cluster.answering() == "v6"
    assert_ok(cluster.deploy("model-server:v8", version=8, runner="e"))   # onto the idle green slot
    assert cluster.state()["deployments"]["model-green"]["image"] == "model-server:v8"
    assert cluster.answering() == "v8"
    assert "rolled back to unknown (adopted) on blue (replacing v8)" in assert_ok(
        cluster.run("rollback", runner="f")).stdout
    assert cluster.state()["deployments"]["model-blue"]["image"] == "model-server:v6"
    assert cluster.answering() == "v6"
    assert [e["event"] for e in cluster.deploy_state()["history"]] == ["deploy", "rollback", "deploy", "rollback"]
    assert "scaled both slots to zero" in assert_ok(cluster.run("down", runner="g")).stdout
    assert {d["replicas"] for d in cluster.state()["deployments"].values()} == {0}
    assert [line.split()[-1] for line in assert_ok(cluster.run("status", runner="h")).stdout.splitlines()[1:]] == [
        "down", "down"]


def run_together(*runs):
    """Call each function in its own thread at once; their results in order."""
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        return [future.result() for future in [pool.submit(run) for run in runs]]


@pytest.mark.parametrize("first", [True, False], ids=["first-deploy-create", "later-deploy-replace"])
def test_two_deploys_that_read_the_same_state_one_wins_the_other_changes_nothing(cluster, tmp_path, first):
    """Both read the state (none yet: both `create`; or one version: both `replace` with it) before either writes;
    the API server lets only one write win."""
    history = [] if first else [("deploy", "v7")]
    if not first:
        assert_ok(cluster.deploy("model-server:v7"))
    idle = "green" if first else "blue"
    barrier, versions = tmp_path / "barrier", {"a": 8, "b": 9}
    barrier.mkdir()
    runs = dict(zip(versions, run_together(*[
        lambda runner=runner: cluster.deploy(
            f"model-server:v{versions[runner]}", version=versions[runner], runner=runner,
            FAKE_KUBECTL_READ_BARRIER=str(barrier), FAKE_KUBECTL_LOG=str(tmp_path / f"{runner}.log"))
        for runner in versions]), strict=True))
    assert sorted(run.returncode for run in runs.values()) == [0, 1], [run.describe() for run in runs.values()]
    winner, loser = sorted(runs, key=lambda runner: runs[runner].returncode)
    assert_one_line_error(runs[loser], "configmap/model-deploy-state: another deploy is running",
                          "try again when it ends")
    version = versions[winner]
    assert f"deployed v{version} on {idle}" in runs[winner].stdout
    loser_calls = cluster.calls(tmp_path / f"{loser}.log")
    assert [call[2] for call in loser_calls if call[2] in ("create", "replace")] == ["replace" if history else "create"]
    assert cluster.mutations(tmp_path / f"{loser}.log") == []
    assert not any(call[2] == "port-forward" for call in loser_calls)
    events = [(e["event"], e["version"]) for e in cluster.deploy_state()["history"]]
    assert events == [*history, ("deploy", f"v{version}")]
    assert LOCK_KEY not in cluster.config_map()
    assert cluster.answering() == f"v{version}"


def test_a_deploy_started_while_another_runs_is_refused_naming_it(cluster, tmp_path):
    other_log = tmp_path / "b.log"

    def second_deploy():
        assert wait_until(lambda: LOCK_KEY in (cluster.config_map() or {}), 30)
        during = assert_ok(cluster.run("status", runner="c")).stdout
        return during, cluster.deploy("model-server:v8", version=8, runner="b", FAKE_KUBECTL_LOG=str(other_log))

    first, (during, second) = run_together(
        lambda: cluster.deploy("model-server:v7", "--bake-seconds", "4", runner="a"), second_deploy)
    assert_ok(first)
    assert LOCK_KEY not in cluster.config_map()  # released
    assert re.search(r"^deploy in progress \(pid \d+ on \S+\)", during, re.M), during
    assert_one_line_error(second, "another deploy is running (", " on ")
    assert cluster.mutations(other_log) == []
    assert cluster.answering() == "v7"


def test_a_killed_deploy_holds_the_lock_until_its_lease_runs_out_then_the_next_recovers(cluster):
    killed = cluster.deploy("model-server:v7", runner="a", ML_DEPLOY_FAILPOINT="after-switch")
    assert killed.returncode == -9, killed.describe()
    assert cluster.deploy_state()["pending"]["stage"] == "baking"
    refused(cluster.deploy("model-server:v8", version=8, runner="b"), "another deploy is running")
    lease = json.loads(cluster.config_map()[LOCK_KEY])
    cluster.edit_config_map(**{LOCK_KEY: json.dumps({**lease, "renewed_at": "2020-01-01T00:00:00.000+00:00"})})
    assert "interrupted deploy" in assert_ok(cluster.run("status", runner="c")).stdout
    run = assert_ok(cluster.deploy("model-server:v8", version=8, runner="d"))
    assert "traffic is back on blue" in run.stderr and "deployed v8 on green" in run.stdout
    assert cluster.deploy_state()["history"][0]["event"] == "recovered"
    assert cluster.answering() == "v8"


@pytest.mark.parametrize("lease", [
    {"pid": 1, "host": "h"},
    {"pid": 1, "host": "h", "renewed_at": "2020-01-01T00:00:00.000+00:00", "seconds": "soon"},
    {"pid": 1, "host": "h", "renewed_at": "2020-01-01T00:00:00.000+00:00", "seconds": None},
], ids=["no-renewed-at", "seconds-not-a-number", "seconds-null"])
def test_an_unreadable_lease_is_one_line_naming_it(cluster, lease):
    cluster.edit_config_map(**{LOCK_KEY: json.dumps(lease)})
    assert_one_line_error(cluster.run("status"), f"configmap/model-deploy-state: unreadable {LOCK_KEY}",
                          "fix or delete that key")


def test_a_state_directory_from_before_is_moved_to_the_cluster_once(cluster, tmp_path):
    deployed_v7_then_v8(cluster)
    before = cluster.deploy_state()
    cluster.delete_config_map()  # as an earlier deploy.py left it: the state in the runner's directory only
    old = tmp_path / "self-hosted"
    old.mkdir()
    (old / "state.json").write_text(json.dumps(before))
    assert assert_ok(cluster.run("status", runner="self-hosted")).stdout.startswith("live: blue (v8)")
    assert cluster.config_map() is None  # status only reads
    run = assert_ok(cluster.run("rollback", runner="self-hosted"))
    assert f"moved the deploy state from {old / 'state.json'} to configmap/model-deploy-state" in run.stderr
    assert "rolled back to v7 on green (replacing v8)" in run.stdout
    assert not (old / "state.json").exists() and (old / "state.json.migrated-to-cluster").exists()
    assert cluster.deploy_state()["history"][:-1] == before["history"]
    assert assert_ok(cluster.run("status", runner="fresh")).stdout.startswith("live: green (v7)")
    (old / "state.json").write_text(json.dumps(before))  # a stale copy: once the cluster has the state, ignored
    assert "rolled back to v8 on blue" in assert_ok(cluster.run("rollback", runner="self-hosted")).stdout
    assert cluster.answering() == "v8"


def test_a_state_file_that_cannot_be_renamed_after_its_move_neither_fails_the_command_nor_keeps_the_lock(
        cluster, tmp_path):
    """Once in the cluster the state is read from there only, so the rename is bookkeeping: failing the rollback for it
    (with the lease already taken and never released) would block every deploy for the lease's 30 s."""
    deployed_v7_then_v8(cluster)
    before = cluster.deploy_state()
    cluster.delete_config_map()
    old = tmp_path / "self-hosted"
    old.mkdir()
    (old / "state.json").write_text(json.dumps(before))
    (old / "state.json.migrated-to-cluster").mkdir()  # in the way of the rename
    (old / "state.json.migrated-to-cluster" / "x").touch()
    run = assert_ok(cluster.run("rollback", runner="self-hosted"))
    assert "could not rename" in run.stderr and "rolled back to v7 on green" in run.stdout
    assert LOCK_KEY not in cluster.config_map()
    assert "rolled back to v8 on blue" in assert_ok(cluster.run("rollback", runner="fresh")).stdout


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


def test_the_lease_is_renewed_through_a_long_step_and_the_deploy_still_writes_after(cluster, monkeypatch, tmp_path):
    """A readiness wait or bake longer than the lease: renewals keep it, and go through the same resourceVersion
    as the deploy's own writes (which would otherwise conflict with its own renewals)."""
    for key, value in cluster.fake_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(configmap_state, "RENEW_SECONDS", 0.3)
    store = KubernetesBackend(KubernetesSettings(namespace="ml")).state_store(tmp_path / "runner")

    def renewed_at() -> str:
        return json.loads(cluster.config_map()[LOCK_KEY])["renewed_at"]

    with store.lock(0, print):
        taken = renewed_at()
        assert wait_until(lambda: renewed_at() != taken, 5)
        store.save(DeployState(live="blue"))   # on the version the renewer wrote
        saved = renewed_at()
        assert wait_until(lambda: renewed_at() != saved, 5)  # the renewer goes on from the version the save wrote
        store.save(DeployState(live="green"))
    assert cluster.deploy_state()["live"] == "green" and LOCK_KEY not in cluster.config_map()


def answer_lost_once(backend: KubernetesBackend, verb: str):
    """backend.kubectl, except that the first `verb` is applied and then fails as a kubectl timeout does: the API
    server took the write, its answer never came back."""
    lost = []

    def kubectl(*args: str, **kwargs) -> str:
        out = backend.kubectl(*args, **kwargs)
        if args[0] == verb and not lost:
            lost.append(args)
            raise DeployError(f"`kubectl {' '.join(args)}` did not finish within 60 s")
        return out

    return kubectl, lost


def test_a_save_whose_answer_was_lost_is_its_own_write_not_another_deploys(cluster, monkeypatch, tmp_path):
    """The ConfigMap then holds what this deploy wrote, at a resourceVersion it never saw: the save succeeded, and the
    next one goes on from it instead of failing as if another deploy had written."""
    for key, value in cluster.fake_env.items():
        monkeypatch.setenv(key, value)
    backend = KubernetesBackend(KubernetesSettings(namespace="ml"))
    kubectl, lost = answer_lost_once(backend, "replace")
    store = ConfigMapStateStore(kubectl, backend.state_config_map, "model", tmp_path / "runner")
    with store.lock(0, print):
        store.save(DeployState(live="blue"))
        assert lost and cluster.deploy_state()["live"] == "blue"
        store.save(DeployState(live="green"))
    assert cluster.deploy_state()["live"] == "green" and LOCK_KEY not in cluster.config_map()


def test_a_renewal_whose_answer_was_lost_does_not_stop_the_renewals(cluster, monkeypatch, tmp_path):
    """Taken for another deploy's write, the renewer's own would end the renewals: the lease would run out in the
    middle of the deploy, and the next deploy take over while this one still switches traffic."""
    for key, value in cluster.fake_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(configmap_state, "RENEW_SECONDS", 0.3)
    backend = KubernetesBackend(KubernetesSettings(namespace="ml"))
    kubectl, lost = answer_lost_once(backend, "replace")  # the lease is taken by `create`: the first renewal's
    store = ConfigMapStateStore(kubectl, backend.state_config_map, "model", tmp_path / "runner")

    def renewed_at() -> str:
        return json.loads(cluster.config_map()[LOCK_KEY])["renewed_at"]

    with store.lock(0, print):
        assert wait_until(lambda: bool(lost), 5)
        after_lost = renewed_at()
        assert wait_until(lambda: renewed_at() != after_lost, 5)
        store.save(DeployState(live="green"))
    assert cluster.deploy_state()["live"] == "green" and LOCK_KEY not in cluster.config_map()


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

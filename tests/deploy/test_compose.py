"""The docker-compose variant: same nginx pair, slots as 'containers' (a docker stand-in running real uvicorn)."""

from __future__ import annotations

import json

import pytest
import yaml

from ml.deploy import http
from tests.conftest import REPO, assert_ok, run_script, script_env
from tests.deploy.bundles import free_ports
from tests.deploy.hostenv import stand_in_path

pytestmark = pytest.mark.slow


def test_compose_file_declares_both_slots_on_loopback():
    compose = yaml.safe_load((REPO / "deploy" / "compose" / "docker-compose.yml").read_text())
    for colour in ("blue", "green"):
        service = compose["services"][f"model-{colour}"]
        assert service["ports"][0].startswith("127.0.0.1:")
        assert any(v.endswith(":/model:ro") for v in service["volumes"])
        assert service["environment"]["MODEL_DIR"] == "/model"


def test_compose_backend_deploys_and_rolls_back(tmp_path, deploy_workspace):
    from tests.deploy.bundles import copy_as_version

    params, base = deploy_workspace
    ports = free_ports(4)
    options = ["--backend", "compose", "--params", str(params), "--state-dir", str(tmp_path / "state"),
               "--listen-port", str(ports[0]), "--blue-port", str(ports[1]), "--green-port", str(ports[2]),
               "--router-port", str(ports[3]), "--drain-timeout", "5"]
    env = script_env(PATH=stand_in_path(tmp_path, "docker", "fake_docker.py"), FAKE_DOCKER_DIR=str(tmp_path))

    def cli(*args: str):
        return run_script("deploy.py", *args[:1], *options, *args[1:], cwd=tmp_path, env=env)

    try:
        for version in (1, 2):
            bundle = copy_as_version(base, tmp_path / f"v{version}", version)
            assert_ok(cli("deploy", "--model-dir", str(bundle), "--image", f"model-server:v{version}",
                          "--bake-seconds", "0.5", "--latency-budget-ms", "1000"))
        assert json.loads(assert_ok(cli("status", "--json")).stdout)["live_version"] == "v2"
        # a refused v3 replaced green's standby v1: the rollback restarts green's container from v1's own copy
        refused = copy_as_version(base, tmp_path / "v3", 3)
        assert cli("deploy", "--model-dir", str(refused), "--image", "model-server:v3",
                   "--latency-budget-ms", "0.001").returncode == 1
        assert "rolled back to v1 on green" in assert_ok(cli("rollback")).stdout
        # restarted from its record: v1's own image, not the default --server-image
        assert (tmp_path / "images.log").read_text().splitlines()[-1] == "model-green model-server:v1"
        assert (tmp_path / "state" / "logs" / "green").stat().st_mode & 0o777 == 0o777  # the container user writes
        edge = http.get(f"http://127.0.0.1:{ports[0]}/health/live")
        assert (edge.status, edge.header("x-model-version")) == (200, "v1")
        calls = [json.loads(line)[5:] for line in (tmp_path / "argv.log").read_text().splitlines()]
        assert ["up", "-d", "--force-recreate", "--no-deps", "model-blue"] in calls
        assert ["up", "-d", "--force-recreate", "--no-deps", "model-green"] in calls
        assert_ok(cli("down"))
        stops = [json.loads(x)[5:] for x in (tmp_path / "argv.log").read_text().splitlines()]
        assert ["stop", "-t", "10", "model-green"] in stops
    finally:
        cli("down")

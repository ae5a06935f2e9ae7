"""A real single-host deployment for tests: nginx (edge + router) and uvicorn slots on free loopback ports,
driven through scripts/deploy.py as a subprocess, exactly as the release workflow runs it."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ml.deploy import http
from ml.deploy.nginx import find_nginx
from tests.conftest import ScriptRun, run_script, script_env
from tests.deploy.bundles import copy_as_version, free_ports, golden

FAST = ("--bake-seconds", "1", "--ready-timeout", "60", "--latency-budget-ms", "1000")


class HostDeployEnv:
    def __init__(self, root: Path, params: Path, base_bundle: Path):
        self.root = root
        self.params = params
        self.base_bundle = base_bundle
        self.state_dir = root / "state"
        self.listen_port, self.blue_port, self.green_port, self.router_port = free_ports(4)

    @property
    def options(self) -> tuple[str, ...]:
        return ("--params", str(self.params), "--state-dir", str(self.state_dir),
                "--listen-port", str(self.listen_port), "--blue-port", str(self.blue_port),
                "--green-port", str(self.green_port), "--router-port", str(self.router_port),
                "--drain-timeout", "5")

    def bundle(self, version: int, name: str | None = None) -> Path:
        dest = self.root / "bundles" / (name or f"v{version}")
        if not dest.exists():
            copy_as_version(self.base_bundle, dest, version)
        return dest

    def cli(self, command: str, *args: str, **env: str) -> ScriptRun:
        return run_script("deploy.py", command, *self.options, *args, cwd=self.root, env=script_env(**env))

    def deploy(self, model_dir: Path, *args: str, **env: str) -> ScriptRun:
        return self.cli("deploy", "--model-dir", str(model_dir), *FAST, *args, **env)

    def state(self) -> dict[str, Any]:
        return json.loads((self.state_dir / "state.json").read_text())

    def last_event(self) -> dict[str, Any]:
        return self.state()["history"][-1]

    def slot_url(self, colour: str) -> str:
        return f"http://127.0.0.1:{self.blue_port if colour == 'blue' else self.green_port}"

    def kill_slot(self, colour: str) -> None:
        """SIGKILL a slot's server, as a crash or the OOM killer would."""
        pid = int((self.state_dir / "slots" / colour / "server.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: not http.is_ready(self.slot_url(colour))), f"slot {colour} still answers"

    def answering(self) -> str | None:
        """The X-Model-Version users get through the edge (None: no model answered, e.g. nginx's 502)."""
        response = http.request("POST", f"http://127.0.0.1:{self.listen_port}/predict",
                                golden(self.base_bundle)[0]["features"])
        return response.header("x-model-version") if response.status == 200 else None

    def down(self) -> None:
        self.cli("down")


def refused(run: ScriptRun, *needles: str) -> str:
    """Exit 1 with one 'Error: …' line naming every needle (the deploy's own log lines may come before it)."""
    assert run.returncode == 1, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    error = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1, run.describe()
    for needle in needles:
        assert needle in error[0], run.describe()
    return error[0]


def failing_reloads(tmp_path: Path) -> dict[str, str]:
    """Environment for a deploy whose `nginx -s reload` always fails (tests/deploy/fake_nginx.py)."""
    return {"FAKE_NGINX_REAL": find_nginx(), "PATH": stand_in_path(tmp_path, "nginx", "fake_nginx.py")}


def stand_in_path(tmp_path: Path, name: str, script: str) -> str:
    """A PATH whose `name` runs tests/deploy/<script> (a stand-in for kubectl, docker or nginx) before the real one."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(__file__).with_name(script)} \"$@\"\n")
    tool.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def assert_all_new_after(load, switch_at: float, until: float, version: str, settle: float = 2.0) -> None:
    """Every answer sent from `settle` seconds after the switch until `until` carries the new version."""
    seen = load.versions_between(switch_at + settle, until)
    assert seen <= {version}, f"answers from {sorted(map(str, seen))} after {switch_at + settle:.3f}, want {version}"


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()

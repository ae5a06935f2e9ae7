"""Single-host backend: two uvicorn model servers (blue, green) on loopback ports behind nginx.

Slots are started detached (their own session, pid file, log file) so they outlive the deploy process: a deploy
killed halfway never takes the serving slots down with it. Each slot serves its own copy of the bundle, one new
directory per deploy, so a later rollback restarts exactly what ran before even if the original directory changed
or a deploy was refused on that slot since.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.deploy import http
from ml.deploy.backend import Backend
from ml.deploy.errors import DeployError
from ml.deploy.nginx import Nginx, detached_environ
from ml.deploy.state import COLOURS
from ml.params import load_params
from serving.settings import prediction_log_dir_under

EDGE_SHUTDOWN_TIMEOUT = 30


@dataclass
class HostSettings:
    state_dir: Path
    params_path: Path
    listen_port: int = 8080
    blue_port: int = 8081
    green_port: int = 8082
    router_port: int = 8083
    nginx_workers: int = 1
    shutdown_timeout: int = 10
    server_command: tuple[str, ...] = ()   # default: this Python's uvicorn serving.app:app
    extra_env: tuple[tuple[str, str], ...] = ()


class HostBackend(Backend):
    name = "host"

    def __init__(self, settings: HostSettings):
        self.settings = settings
        self.state_dir = Path(settings.state_dir).resolve()
        self.nginx = Nginx(self.state_dir / "nginx-router", "router", settings.router_port,
                           workers=settings.nginx_workers, shutdown_timeout=settings.shutdown_timeout)
        # The edge's config must not change with per-deploy settings: changing it means reloading the edge.
        self.edge = Nginx(self.state_dir / "nginx-edge", "edge", settings.listen_port, settings.router_port,
                          workers=settings.nginx_workers, shutdown_timeout=EDGE_SHUTDOWN_TIMEOUT)
        self._draining: list[int] = []

    # -- addresses -------------------------------------------------------------------------------------------
    def port(self, colour: str) -> int:
        if colour not in COLOURS:
            raise DeployError(f"unknown slot colour {colour!r}")
        return self.settings.blue_port if colour == "blue" else self.settings.green_port

    def slot_url(self, colour: str) -> str:
        return f"http://127.0.0.1:{self.port(colour)}"

    def live_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.listen_port}"

    def slot_dir(self, colour: str) -> Path:
        return self.state_dir / "slots" / colour

    # -- router ----------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        self.nginx.ensure_include("blue", self.port("blue"))
        self.nginx.ensure_running()
        self.edge.ensure_running()

    def live_colour(self) -> str | None:
        return self.nginx.live_colour()

    def switch(self, colour: str) -> None:
        expected = self.slot_version(colour)
        if expected is None:  # nginx's own 502 carries no version either: never "confirm" a switch to nothing
            raise DeployError(f"slot {colour} does not answer: not switching traffic to it")
        old_workers = self.nginx.point_to(colour, self.port(colour))
        self._draining += old_workers
        self.nginx.wait_old_workers_stopped_accepting(old_workers)
        deadline = time.monotonic() + 10
        while True:  # the reload is asynchronous: confirm nginx now answers from the new slot
            try:
                if http.get(http.join(self.live_url(), "/health/live"), 2).header("x-model-version") == expected:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise DeployError(f"nginx still not answering from slot {colour} 10 s after the reload")
            time.sleep(0.02)

    # -- slots -----------------------------------------------------------------------------------------------
    def pid(self, colour: str) -> int | None:
        """The slot's server pid, if that process still runs (the pid file also holds its start time, so a pid
        the kernel has since given to another process is never signalled)."""
        try:
            pid_text, started = (self.slot_dir(colour) / "server.pid").read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) and _start_time(pid) == started else None

    def running(self, colour: str) -> bool:
        return self.pid(colour) is not None

    def start_slot(self, colour: str, model_dir: Path, release: dict[str, Any]) -> dict[str, Any]:
        self.stop_slot(colour)
        if _port_taken(self.port(colour)):  # whatever holds it would answer the readiness and smoke checks
            raise DeployError(f"port {self.port(colour)} of slot {colour} is held by a process this deploy did not "
                              f"start: stop it, or give the slot another port (--{colour}-port)")
        bundle = self._install_bundle(colour, Path(model_dir))
        return {"port": self.port(colour), "model_dir": str(bundle), **self._launch(colour, bundle, release)}

    def _install_bundle(self, colour: str, model_dir: Path) -> Path:
        """Copy the bundle into a new directory of the slot, never over an older copy: the one the slot's state
        record names must outlive a refused or interrupted deploy, so a rollback restarts what really ran there."""
        slot = self.slot_dir(colour)
        if model_dir.resolve().is_relative_to(slot.resolve()):
            return model_dir  # a rollback restarting the slot's own copy
        bundles = slot / "bundles"
        bundles.mkdir(parents=True, exist_ok=True)
        bundle = Path(tempfile.mkdtemp(prefix="model-", dir=bundles))
        shutil.copytree(model_dir, bundle, dirs_exist_ok=True)  # also copies the source's mode onto the 0700 dir
        return bundle

    def prune(self, colour: str, keep: dict[str, Any] | None) -> None:
        kept = Path(keep["model_dir"]).resolve() if keep and keep.get("model_dir") else None
        for bundle in (self.slot_dir(colour) / "bundles").glob("model-*"):
            if bundle.resolve() != kept:
                shutil.rmtree(bundle, ignore_errors=True)

    def _launch(self, colour: str, bundle: Path, release: dict[str, Any]) -> dict[str, Any]:
        """Start the slot's server on bundle; `release` is the deploy's (or, on a rollback, the slot's record)."""
        slot = self.slot_dir(colour)
        command = list(self.settings.server_command) or [
            sys.executable, "-m", "uvicorn", "serving.app:app", "--host", "127.0.0.1",
            "--timeout-keep-alive", "30", "--timeout-graceful-shutdown", str(self.settings.shutdown_timeout),
            "--no-access-log"]
        command += ["--port", str(self.port(colour))]
        # MODEL_VERSION empty: the slot serves exactly MODEL_DIR (a MODEL_VERSION inherited from a workflow's
        # environment would make the server refuse any other version, e.g. on rollback).
        env = {**detached_environ(), "MODEL_DIR": str(bundle), "MODEL_VERSION": "",
               "PARAMS": str(Path(self.settings.params_path).resolve()), **self._prediction_log_env(),
               **dict(self.settings.extra_env)}
        log = open(slot / "server.log", "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True, cwd=os.getcwd())
        finally:
            log.close()
        (slot / "server.pid").write_text(f"{process.pid} {_start_time(process.pid)}\n")
        return {"pid": process.pid}

    def _prediction_log_env(self) -> dict[str, str]:
        """Slots log under the state directory (unless PREDICTION_LOG_DIR says where): they outlive the checkout."""
        if "PREDICTION_LOG_DIR" in os.environ:
            return {}
        log_dir = prediction_log_dir_under(load_params(self.settings.params_path), self.state_dir)
        return {} if log_dir is None else {"PREDICTION_LOG_DIR": str(log_dir)}

    def is_ready(self, colour: str) -> bool:
        return http.is_ready(self.slot_url(colour))

    def wait_ready(self, colour: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        next_liveness_check = 0.0
        while not self.is_ready(colour):
            failure = http.readiness_failure(self.slot_url(colour))
            if failure:
                raise DeployError(f"slot {colour} will not become ready: {failure}")
            if time.monotonic() >= next_liveness_check:  # at most once a second: `docker compose ps` is slow
                next_liveness_check = time.monotonic() + 1.0
                if not self.running(colour):
                    raise DeployError(f"slot {colour} exited before it became ready: {self._log_tail(colour)}")
            if time.monotonic() > deadline:
                raise DeployError(f"slot {colour} not ready after {timeout:g} s: {self._log_tail(colour)}")
            time.sleep(0.1)
        if not self.running(colour):  # ready, but not the server this deploy started
            raise DeployError(f"slot {colour} exited, yet {self.slot_url(colour)} answers: another process holds "
                              f"its port ({self._log_tail(colour)})")

    def _log_tail(self, colour: str) -> str:
        try:
            lines = (self.slot_dir(colour) / "server.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no server log"
        useful = [ln for ln in lines if "error" in ln.lower() or "refus" in ln.lower()] or lines
        return useful[-1][:300] if useful else "empty server log"

    def stop_slot(self, colour: str) -> None:
        if not self.running(colour):
            return
        self.nginx.wait_drained(self._draining)
        self._draining = []
        self._terminate(colour)

    def _terminate(self, colour: str) -> None:
        """SIGTERM (uvicorn finishes in-flight requests), SIGKILL after the drain timeout."""
        pid = self.pid(colour)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)  # the slot's own session: uvicorn and anything it spawned
            deadline = time.monotonic() + self.settings.shutdown_timeout + 5
            while _alive(pid):
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                    break
                time.sleep(0.05)
        (self.slot_dir(colour) / "server.pid").unlink(missing_ok=True)

    def down(self) -> None:
        """Stop nginx and both slots (tests, or taking the service off this host)."""
        self.edge.stop()
        self.nginx.stop()
        for colour in COLOURS:
            if self.running(colour):
                self._terminate(colour)


def _port_taken(port: int) -> bool:
    """True when a socket on 127.0.0.1:port cannot be bound, as the slot's server is about to (SO_REUSEADDR, as
    uvicorn sets it, so connections of a stopped slot that linger in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for its parent (our Popen child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _start_time(pid: int) -> str:
    """Clock ticks since boot when the process started (field 22 of /proc/PID/stat): identifies it beyond its pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "gone"

"""nginx in front of the slots: render its config, swap the live upstream atomically, test, reload, drain.

Two nginx instances run from the same binary: the edge (users' port, never reloaded by a deploy) and the router
(reloaded on every switch); deploy/nginx/*.conf.template say why.

Why the drain check: `nginx -s reload` starts new workers on the new config, while the old workers keep serving
the requests (and upstream keep-alive connections) they already hold until they finish or worker_shutdown_timeout
ends. Stopping the old slot before they exit would turn those requests into 502s, so we wait for them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ml.deploy.errors import DeployError
from ml.deploy.failpoints import failpoint
from ml.fileio import write_text_atomic

TEMPLATES = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
INCLUDE = "live_upstream.conf"
_LIVE_MARK = re.compile(r"^# live: (blue|green)$", re.MULTILINE)
_TMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def detached_environ() -> dict[str, str]:
    """The environment for processes that must outlive the deploy: a GitHub Actions runner kills every process
    carrying its RUNNER_TRACKING_ID when the job ends, which would take nginx and the slots down with it."""
    return {k: v for k, v in os.environ.items() if k != "RUNNER_TRACKING_ID"}


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def find_nginx() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                           if os.access(p, os.X_OK)), None)
    if not found:
        raise DeployError("nginx not found on PATH or in /usr/sbin; install it (apt-get install nginx)")
    return found


def upstream_block(colour: str, port: int, keepalive: int = 32) -> str:
    return (f"# live: {colour}\n"
            "upstream model_live {\n"
            f"    server 127.0.0.1:{port} max_fails=0;\n"
            f"    keepalive {keepalive};\n"
            # Shorter than the slot's own keep-alive timeout, so nginx never reuses a connection the slot closes.
            "    keepalive_timeout 10s;\n"
            "}\n")


@dataclass
class Nginx:
    prefix: Path
    template: str                      # edge | router
    listen_port: int
    router_port: int = 0               # edge only: where the router listens
    workers: int = 1
    shutdown_timeout: int = 10
    binary: str | None = None

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def include(self) -> Path:
        return self.prefix / INCLUDE

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [self.binary or find_nginx(), "-p", str(self.prefix), "-c", str(self.conf),
               "-e", str(self.prefix / "error.log"), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False, env=detached_environ())

    def render(self) -> bool:
        text = (TEMPLATES / f"{self.template}.conf.template").read_text(encoding="utf-8")
        for key, value in {"PREFIX": str(self.prefix), "WORKERS": str(self.workers),
                           "SHUTDOWN_TIMEOUT": str(self.shutdown_timeout), "ROUTER_PORT": str(self.router_port),
                           "LISTEN": f"127.0.0.1:{self.listen_port}"}.items():
            text = text.replace(f"@@{key}@@", value)
        for name in _TMP_DIRS:
            (self.prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)
        if self.conf.exists() and self.conf.read_text(encoding="utf-8") == text:
            return False
        write_text_atomic(self.conf, text)
        return True

    def ensure_include(self, colour: str, port: int) -> None:
        if not self.include.exists():
            write_text_atomic(self.include, upstream_block(colour, port))

    def live_colour(self) -> str | None:
        try:
            match = _LIVE_MARK.search(self.include.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return match.group(1) if match else None

    def test(self) -> None:
        out = self._run("-t")
        if out.returncode != 0:
            lines = [ln for ln in (out.stderr or out.stdout).splitlines() if "emerg" in ln or "failed" in ln]
            raise DeployError(f"nginx -t rejected the config: {(lines or [out.stderr.strip()])[0]}")

    def master_pid(self) -> int | None:
        """The pid in nginx.pid, if it is still this instance's master. After a crash or a reboot the file can
        name a pid the kernel has given to any other process, which a reload or stop must never signal."""
        try:
            pid = int((self.prefix / "nginx.pid").read_text().strip())
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            return None
        # nginx titles its master "nginx: master process <its command line>", which names this config.
        return pid if title.startswith("nginx: master process") and str(self.conf) in title else None

    def workers_of(self, master: int) -> dict[int, str]:
        """Worker pid → process title ('nginx: worker process' or '… is shutting down')."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == master:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except (OSError, ValueError, IndexError):
                continue
        return found

    def ensure_running(self, log: Callable[[str], None] | None = None) -> None:
        """Start nginx unless it runs; reload it if its rendered config changed (ports or workers edited)."""
        changed = self.render()
        if self.master_pid() is not None:
            if changed:
                self.test()
                (log or _warn)(f"{self.conf} changed: reloading it (clients idle on keep-alive may see one reset)")
                self._run("-s", "reload")
            return
        self.test()
        out = self._run()
        if out.returncode != 0:
            raise DeployError(f"nginx did not start: {(out.stderr.strip().splitlines() or ['no output'])[-1]}")
        deadline = time.monotonic() + 10
        while self.master_pid() is None:
            if time.monotonic() > deadline:
                raise DeployError(f"nginx did not write {self.prefix / 'nginx.pid'} within 10 s")
            time.sleep(0.05)

    def point_to(self, colour: str, port: int) -> list[int]:
        """Rewrite the live upstream, `nginx -t`, reload. Returns the pids of the workers that now drain.

        If nginx refuses the config or the reload, the include is put back: nginx keeps running the old config,
        and `live_colour()` must keep saying so."""
        previous = self.include.read_text(encoding="utf-8") if self.include.exists() else None
        write_text_atomic(self.include, upstream_block(colour, port))
        try:
            return self._reload()
        except DeployError:
            if previous is not None:
                write_text_atomic(self.include, previous)
            raise

    def _reload(self) -> list[int]:
        self.test()
        master = self.master_pid()
        if master is None:
            raise DeployError("nginx is not running (no live master pid); run the deploy again to start it")
        old_workers = list(self.workers_of(master))
        failpoint("before-reload")
        out = self._run("-s", "reload")
        if out.returncode != 0:
            raise DeployError(f"nginx -s reload failed: {out.stderr.strip()}")
        return old_workers

    def wait_old_workers_stopped_accepting(self, old_workers: list[int], timeout: float = 10.0) -> None:
        """After a reload, old workers accept new connections until the master tells them to quit; only then
        does every new connection reach the new upstream."""
        deadline = time.monotonic() + timeout
        while True:
            master = self.master_pid()
            workers = self.workers_of(master) if master else {}
            if all(pid not in workers or "shutting down" in workers[pid] for pid in old_workers):
                return
            if time.monotonic() > deadline:
                raise DeployError(f"nginx old workers still accepting {timeout:g} s after the reload "
                                  f"(see {self.prefix / 'error.log'})")
            time.sleep(0.01)

    def draining(self, old_workers: list[int] = ()) -> list[int]:
        """Workers still finishing requests from before a reload."""
        master = self.master_pid()
        if master is None:
            return []
        workers = self.workers_of(master)
        return [pid for pid, title in workers.items() if "shutting down" in title or pid in old_workers]

    def wait_drained(self, old_workers: list[int] = (), timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else self.shutdown_timeout + 5)
        while self.draining(old_workers):
            if time.monotonic() > deadline:
                raise DeployError(f"old nginx workers still draining after {self.shutdown_timeout + 5} s")
            time.sleep(0.05)

    def stop(self) -> None:
        master = self.master_pid()
        if master is None:
            return
        os.kill(master, signal.SIGQUIT)  # graceful: `nginx -s quit`
        deadline = time.monotonic() + self.shutdown_timeout + 5
        while self.master_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)

"""The deploy machinery's parts on their own: state file, lock, nginx config and switch, metrics reading."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from ml.deploy.bake import Snapshot, judge, quantile
from ml.deploy.errors import DeployError, DeployLocked
from ml.deploy.lock import deploy_lock, lock_holder
from ml.deploy.nginx import Nginx, find_nginx
from ml.deploy.smoke import version_label
from ml.deploy.state import DeployState, load_state, other, save_state
from tests.deploy.hostenv import failing_reloads


def test_state_round_trips_and_a_corrupt_file_is_one_clear_error(tmp_path):
    state = DeployState(backend="host", live="green", slots={"green": {"version": "v3"}})
    state.record(event="deploy", version="v3")
    save_state(tmp_path, state)
    loaded = load_state(tmp_path)
    assert loaded.live == "green" and loaded.live_version() == "v3" and loaded.history[0]["event"] == "deploy"
    assert load_state(tmp_path / "fresh").live is None
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(DeployError, match="unreadable deploy state"):
        load_state(tmp_path)
    (tmp_path / "state.json").write_text('{"live": "purple"}')
    with pytest.raises(DeployError, match="blue or green"):
        load_state(tmp_path)
    assert other("blue") == "green" and other("green") == "blue" and other(None) == "blue"


@pytest.mark.parametrize("text", ['[]', '{"slots": [1]}', '{"slots": {"blue": 1}}', '{"history": {}}',
                                  '{"history": ["x"]}', '{"pending": "starting"}', '{"backend": 3}'])
def test_a_wrongly_shaped_state_file_is_one_clear_error(tmp_path, text):
    (tmp_path / "state.json").write_text(text)
    with pytest.raises(DeployError, match="unreadable deploy state"):
        load_state(tmp_path)


def test_history_is_bounded(tmp_path):
    state = DeployState()
    for i in range(150):
        state.record(event="deploy", version=f"v{i}")
    assert len(state.history) == 100 and state.history[-1]["version"] == "v149"


def test_lock_excludes_a_second_process_and_is_released_when_the_holder_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from ml.deploy.lock import deploy_lock
        with deploy_lock({str(tmp_path)!r}):
            print("held", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert lock_holder(tmp_path) == str(holder.pid)
        from tests.conftest import assert_ok, run_script

        status = assert_ok(run_script("deploy.py", "status", "--state-dir", str(tmp_path), cwd=tmp_path))
        assert f"deploy in progress (pid {holder.pid})" in status.stdout and "interrupted" not in status.stdout
        with pytest.raises(DeployLocked, match=f"pid {holder.pid}"), deploy_lock(tmp_path, wait_seconds=0.3):
            pass
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs, the kernel drops the lock
        holder.wait()
    assert lock_holder(tmp_path) is None
    with deploy_lock(tmp_path):
        assert lock_holder(tmp_path) == str(os.getpid())
    assert lock_holder(tmp_path) is None


def test_version_label_matches_the_servers_convention():
    assert version_label({"version": 4, "artifact_sha256": "ab" * 32}) == "v4"
    assert version_label({"version": None, "artifact_sha256": "0123456789abcdef"}) == "dev-01234567"


@pytest.fixture
def router(tmp_path):
    from tests.deploy.bundles import free_ports

    port, blue, green = free_ports(3)
    nginx = Nginx(tmp_path / "router", "router", port, shutdown_timeout=2)
    nginx.ensure_include("blue", blue)
    nginx.ensure_running()
    deadline = time.monotonic() + 5  # a freshly started master forks its workers a moment later
    while not nginx.workers_of(nginx.master_pid()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert nginx.workers_of(nginx.master_pid()), "nginx started no worker"
    yield nginx, blue, green
    nginx.stop()


def test_a_stale_pid_file_naming_another_process_is_never_signalled(tmp_path):
    """After a crash or a reboot nginx.pid may name a pid the kernel gave to something else."""
    from tests.deploy.bundles import free_ports

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        nginx = Nginx(tmp_path / "router", "router", free_ports(1)[0], shutdown_timeout=2)
        nginx.ensure_include("blue", 1)
        nginx.prefix.mkdir(parents=True, exist_ok=True)
        (nginx.prefix / "nginx.pid").write_text(f"{other.pid}\n")
        assert nginx.master_pid() is None
        nginx.ensure_running()  # starts nginx instead of "reloading" the other process
        master = nginx.master_pid()
        assert master is not None and master != other.pid
        nginx.stop()
        assert nginx.master_pid() is None
        assert other.poll() is None, "the other process was signalled"
    finally:
        other.kill()
        other.wait()


def test_rendered_configs_pass_nginx_t(tmp_path, router):
    nginx, _, _ = router
    assert nginx.master_pid() is not None
    edge = Nginx(tmp_path / "edge", "edge", 1, router_port=2)
    edge.render()
    edge.test()
    text = edge.conf.read_text()
    assert "@@" not in text and "127.0.0.1:2" in text and "worker_shutdown_timeout" in text
    assert "@@" not in nginx.conf.read_text()


def test_switch_rewrites_the_include_reloads_and_old_workers_drain(router):
    nginx, blue, green = router
    assert nginx.live_colour() == "blue"
    old = nginx.point_to("green", green)
    assert old and nginx.live_colour() == "green"
    assert f"127.0.0.1:{green}" in nginx.include.read_text()
    nginx.wait_old_workers_stopped_accepting(old)
    nginx.wait_drained(old, timeout=10)
    assert not nginx.draining(old)
    assert set(nginx.workers_of(nginx.master_pid())).isdisjoint(old)


def test_a_config_nginx_rejects_is_rolled_back_before_any_reload(router, monkeypatch):
    nginx, blue, _ = router
    before = nginx.include.read_text()
    workers = set(nginx.workers_of(nginx.master_pid()))
    with pytest.raises(DeployError, match="nginx -t rejected"):
        nginx.point_to("green", 70000)  # not a port: nginx -t refuses it
    assert nginx.include.read_text() == before
    assert set(nginx.workers_of(nginx.master_pid())) == workers  # no reload happened


def test_a_reload_nginx_refuses_puts_the_include_back(router, tmp_path, monkeypatch):
    """nginx keeps running its old config when the reload fails: the include, which says what is live, must too."""
    nginx, _, green = router
    before = nginx.include.read_text()
    for name, value in failing_reloads(tmp_path).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(DeployError, match="nginx -s reload failed"):
        nginx.point_to("green", green)
    assert nginx.include.read_text() == before and nginx.live_colour() == "blue"


def test_a_switch_to_a_slot_that_does_not_answer_is_refused(tmp_path, deploy_workspace):
    """nginx's 502 for a dead slot carries no X-Model-Version, and neither does the dead slot: not a confirmation."""
    from ml.deploy.host import HostBackend, HostSettings
    from tests.deploy.bundles import free_ports

    listen, blue, green, router = free_ports(4)
    backend = HostBackend(HostSettings(tmp_path / "state", deploy_workspace[0], listen, blue, green, router,
                                       shutdown_timeout=2))
    try:
        backend.prepare()
        with pytest.raises(DeployError, match="slot green does not answer"):
            backend.switch("green")
        assert backend.live_colour() == "blue"
    finally:
        backend.down()


def test_a_slot_port_another_process_holds_is_refused_before_starting(tmp_path, deploy_workspace):
    """Else that process would pass the readiness and smoke checks in the slot's name, and take its traffic."""
    import socket

    from ml.deploy.host import HostBackend, HostSettings
    from tests.deploy.bundles import free_ports

    listen, blue, green, router = free_ports(4)
    backend = HostBackend(HostSettings(tmp_path / "state", deploy_workspace[0], listen, blue, green, router))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", green))
        squatter.listen()
        with pytest.raises(DeployError, match=f"port {green} of slot green is held by a process this deploy did not"):
            backend.start_slot("green", deploy_workspace[1], {})
    assert not (tmp_path / "state" / "slots" / "green" / "server.pid").exists()


def test_find_nginx_names_the_fix_when_missing(monkeypatch):
    assert find_nginx()
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("os.access", lambda *a: False)
    with pytest.raises(DeployError, match="apt-get install nginx"):
        find_nginx()


def _metrics(observations: list[tuple[str, int, float]]) -> Snapshot:
    """Prometheus text from the real server's metrics registry."""
    from serving.metrics import Metrics

    metrics = Metrics()
    metrics.model_version = "v1"
    for path, status, seconds in observations:
        metrics.observe_request("POST" if "predict" in path else "GET", path, status, seconds)
    return Snapshot.from_text(metrics.render())


def test_bake_judges_only_the_window_and_only_prediction_routes():
    before = [("/predict", 500, 0.001)] * 5 + [("/health/ready", 503, 0.001)] * 50
    start = _metrics(before)
    healthy = _metrics(before + [("/predict", 200, 0.003)] * 100 + [("/predict", 422, 0.001)] * 10)
    verdict = judge(start, healthy, max_error_rate=0.01, max_p95_ms=10, min_requests=1)
    assert verdict.ok, verdict.one_line()
    assert verdict.requests == 110 and verdict.errors == 0 and verdict.p95_ms == 5.0

    failing = _metrics(before + [("/predict", 200, 0.003)] * 90 + [("/predict/batch", 500, 0.003)] * 10)
    verdict = judge(start, failing, max_error_rate=0.05, max_p95_ms=None, min_requests=1)
    assert not verdict.ok and "error rate 10.0%" in verdict.one_line()

    slow = _metrics(before + [("/predict", 200, 0.3)] * 20)
    verdict = judge(start, slow, max_error_rate=0.01, max_p95_ms=100, min_requests=1)
    assert not verdict.ok and "p95 latency bucket 500 ms" in verdict.one_line()


def test_bake_refuses_metrics_without_a_latency_histogram():
    snapshot = Snapshot.from_text('http_requests_total{path="/predict",status="200"} 3\n')
    verdict = judge(snapshot, snapshot, 0.01, None, 1)
    assert not verdict.ok and "no latency histogram" in verdict.one_line()


def test_quantile_reads_cumulative_buckets():
    buckets = {0.001: 10.0, 0.01: 90.0, 0.1: 100.0, float("inf"): 100.0}
    assert quantile(buckets, 0.5) == 0.01 and quantile(buckets, 0.95) == 0.1 and quantile({}, 0.5) is None


def test_cli_refuses_ambiguous_or_impossible_requests_in_one_line(tmp_path):
    from tests.conftest import assert_one_line_error, run_script

    state = ("--state-dir", str(tmp_path / "state"))
    assert_one_line_error(run_script("deploy.py", "deploy", *state, cwd=tmp_path), "exactly one of --model-dir")
    assert_one_line_error(run_script("deploy.py", "rollback", *state, cwd=tmp_path), "nothing to roll back to")
    assert not (tmp_path / "state" / "nginx-router").exists()  # refused before starting anything


@pytest.mark.parametrize(("options", "needles"), [
    (("--blue-port", "8082"), ("--blue-port and --green-port are both 8082",)),
    (("--router-port", "9000", "--green-port", "9000"), ("--router-port and --green-port are both 9000",)),
    (("--listen-port", "8081"), ("--listen-port and --blue-port are both 8081",)),
    (("--blue-port", "0"), ("--blue-port 0: not a TCP port",)),
    (("--nginx-workers", "0"), ("--nginx-workers 0: must be 1 to 64",)),
    (("--drain-timeout", "-1"), ("--drain-timeout -1: must be 1 to 3600 seconds",)),
])
def test_cli_refuses_clashing_ports_and_impossible_worker_counts_before_starting_anything(tmp_path, options,
                                                                                        needles):
    from tests.conftest import assert_one_line_error, run_script

    state = tmp_path / "state"
    (tmp_path / "m").mkdir()
    for command in (("status",), ("deploy", "--model-dir", str(tmp_path / "m"))):
        run = run_script("deploy.py", *command, "--state-dir", str(state), *options, cwd=tmp_path)
        assert_one_line_error(run, *needles)
    assert not state.exists()


def test_cli_names_a_wrongly_shaped_state_file_in_one_line(tmp_path):
    from tests.conftest import assert_one_line_error, run_script

    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.json").write_text('{"slots": [1]}')
    assert_one_line_error(run_script("deploy.py", "status", "--state-dir", str(tmp_path / "state"), cwd=tmp_path),
                          "unreadable deploy state", "fix or delete it")


def test_status_before_any_deploy_says_nothing_is_live(tmp_path):
    from tests.conftest import assert_ok, run_script

    run = assert_ok(run_script("deploy.py", "status", "--state-dir", str(tmp_path / "state"), cwd=tmp_path))
    assert run.stdout.splitlines()[0] == "live: nothing (-); router → nothing"
    assert [line.split() for line in run.stdout.splitlines()[1:]] == [["blue", "-", "down"], ["green", "-", "down"]]


def test_status_on_a_hosted_runner_warns_that_the_state_in_its_workspace_is_lost(tmp_path):
    from tests.conftest import assert_ok, run_script, script_env

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    hosted = {"RUNNER_ENVIRONMENT": "github-hosted", "GITHUB_WORKSPACE": str(workspace)}
    inside = assert_ok(run_script("deploy.py", "status", "--state-dir", ".deploy", cwd=workspace,
                                  env=script_env(**hosted)))
    assert inside.stdout.startswith("::warning title=Deploy state is not kept::.deploy is in the workspace")
    outside = assert_ok(run_script("deploy.py", "status", "--state-dir", str(tmp_path / "srv"), cwd=workspace,
                                   env=script_env(**hosted)))
    self_hosted = assert_ok(run_script("deploy.py", "status", "--state-dir", ".deploy", cwd=workspace,
                                       env=script_env(**{**hosted, "RUNNER_ENVIRONMENT": "self-hosted"})))
    assert "::warning" not in outside.stdout + self_hosted.stdout


@pytest.mark.parametrize("template", ["edge", "router"])
def test_a_large_answer_to_a_slow_client_reaches_it_whole(tmp_path, template):
    """An answer bigger than nginx's buffers and the socket's, to a client that reads slowly, would be spilled to a
    temp file, which nginx's workers cannot open when it runs as root (they run as nobody, outside the state
    directory's owner): the client got it cut short. nginx passes it as the client reads instead."""
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.deploy.bundles import free_ports

    body = b"x" * 8_000_000

    class Upstream(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_ports(1)[0]
    nginx = Nginx(tmp_path / template, template, port, router_port=upstream.server_address[1], shutdown_timeout=2)
    nginx.ensure_include("blue", upstream.server_address[1])
    nginx.ensure_running()
    try:
        with socket.socket() as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect(("127.0.0.1", port))
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            time.sleep(1)  # a slow client: nginx has long filled its buffers
            client.settimeout(30)
            received = b""
            while chunk := client.recv(1 << 16):
                received += chunk
    finally:
        nginx.stop()
        upstream.shutdown()
    assert received.startswith(b"HTTP/1.1 200")
    assert len(received.partition(b"\r\n\r\n")[2]) == len(body), (nginx.prefix / "error.log").read_text()[-300:]

"""The fork server that runs the scripts for the tests, and the `python` shim the workflow harness reaches it
through, give what a fresh `python script.py` gives."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import script_env
from tests.support import script_process

PROBE = textwrap.dedent("""
    import atexit, json, os, sys, threading
    mode = sys.argv[1]
    print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "path": sys.path, "name": __name__,
                      "env": os.environ.get("PROBE_VALUE"), "ml_loaded": "ml" in sys.modules,
                      "stdin": sys.stdin.read()}))
    print("to stderr: é", file=sys.stderr)
    atexit.register(lambda: print("atexit ran"))
    threading.Thread(target=lambda: (__import__("time").sleep(0.2), print("thread finished"))).start()
    if mode == "raise":
        raise ValueError("boom")
    if mode == "message":
        sys.exit("Error: a one-line message")
    if mode == "code":
        sys.exit(3)
    if mode == "kill":
        sys.stdout.flush()
        os.kill(os.getpid(), 9)
""")


def three_ways(monkeypatch, tmp_path: Path, *args: str) -> list[tuple[int, str, str]]:
    """A fresh interpreter, a fork, and a fork asked for through the shim; the script named relative to cwd and a
    PYTHONPATH entry in the environment."""
    (tmp_path / "probe.py").write_text(PROBE)
    env = script_env(PROBE_VALUE="from the test", PYTHONPATH=str(tmp_path / "lib"))
    results = []
    for fresh in ("1", ""):
        monkeypatch.setenv("TESTS_FRESH_INTERPRETER", fresh)
        results.append(script_process.run((sys.executable, "probe.py", *args), tmp_path, env, 60))
    shim = subprocess.run([*script_process.shim_command(), "probe.py", *args], cwd=tmp_path, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    return [*results, (shim.returncode, shim.stdout, shim.stderr)]


@pytest.mark.parametrize("mode", ["ok", "raise", "message", "code", "kill"])
def test_a_forked_run_matches_a_fresh_interpreter(monkeypatch, tmp_path, mode):
    fresh, forked, shimmed = three_ways(monkeypatch, tmp_path, mode)
    want_code = {"ok": 0, "raise": 1, "message": 1, "code": 3, "kill": -9}[mode]
    assert fresh[0] == want_code, fresh
    assert forked == fresh
    assert shimmed == fresh
    assert '"ml_loaded": false' in forked[1] and '"stdin": ""' in forked[1] and "from the test" in forked[1]
    assert f'"path": ["{tmp_path}", "{tmp_path / "lib"}", ' in forked[1]
    if mode == "raise":
        assert "Traceback" in forked[2] and "ValueError: boom" in forked[2]
    if mode != "kill":
        assert forked[1].endswith("thread finished\natexit ran\n"), forked[1]


def test_other_interpreter_variables_get_a_fresh_interpreter(monkeypatch, tmp_path):
    (tmp_path / "seed.py").write_text("import sys\nprint(sys.flags.hash_randomization, hash('x'))\n")
    monkeypatch.setenv("TESTS_FRESH_INTERPRETER", "")
    runs = {seed: script_process.run((sys.executable, "seed.py"), tmp_path, script_env(PYTHONHASHSEED=seed), 60)
            for seed in ("1", "2")}
    assert runs["1"][1] != runs["2"][1] and runs["1"][1].startswith("1 ")


def test_a_run_past_its_timeout_is_killed(monkeypatch, tmp_path):
    script = tmp_path / "sleeper.py"
    script.write_text("import time\ntime.sleep(60)\n")
    monkeypatch.setenv("TESTS_FRESH_INTERPRETER", "")
    with pytest.raises(subprocess.TimeoutExpired):
        script_process.run((sys.executable, str(script)), tmp_path, script_env(), 1)


def test_a_missing_working_directory_fails_before_anything_runs(monkeypatch, tmp_path):
    for fresh in ("1", ""):
        monkeypatch.setenv("TESTS_FRESH_INTERPRETER", fresh)
        with pytest.raises(FileNotFoundError):
            script_process.run((sys.executable, "-c", "pass"), tmp_path / "missing", script_env(), 10)

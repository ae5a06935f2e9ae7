"""The fork server that runs the scripts for the tests gives what a fresh `python script.py` gives."""

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
    print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "path0": sys.path[0], "name": __name__,
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


def both_ways(monkeypatch, tmp_path: Path, *args: str) -> tuple[tuple, tuple]:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    env = script_env(PROBE_VALUE="from the test")
    results = []
    for fresh in ("1", ""):
        monkeypatch.setenv("TESTS_FRESH_INTERPRETER", fresh)
        results.append(script_process.run((sys.executable, str(script), *args), tmp_path, env, 60))
    return results[0], results[1]


@pytest.mark.parametrize("mode", ["ok", "raise", "message", "code", "kill"])
def test_a_forked_run_matches_a_fresh_interpreter(monkeypatch, tmp_path, mode):
    fresh, forked = both_ways(monkeypatch, tmp_path, mode)
    want_code = {"ok": 0, "raise": 1, "message": 1, "code": 3, "kill": -9}[mode]
    assert fresh[0] == want_code, fresh
    assert forked[0] == fresh[0]
    assert forked[1] == fresh[1]
    assert forked[2] == fresh[2]
    assert '"ml_loaded": false' in forked[1] and '"stdin": ""' in forked[1] and "from the test" in forked[1]
    if mode == "raise":
        assert "Traceback" in forked[2] and "ValueError: boom" in forked[2]
    if mode != "kill":
        assert forked[1].endswith("thread finished\natexit ran\n"), forked[1]


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

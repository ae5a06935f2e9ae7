"""Run a script in a process of its own without paying the interpreter's start and the heavy imports each time.

A test run starts the scripts ~1,000 times, and most of each start is importing pandas, scikit-learn, scipy and
pandera (3–4 s on a loaded 2-core machine). A `multiprocessing` fork server imports them once; every run is then a
fork of it, set up as `python scripts/<name>.py` would be: its own argv, working directory, environment,
`sys.path`, stdin from /dev/null, stdout and stderr captured, the script run as `__main__`, an uncaught exception
printed as a traceback with exit 1, atexit handlers run, and the exit code or killing signal reported. The project's
own modules (`ml`, `serving`) are not preloaded: each run imports them fresh, under its own environment.

TESTS_FRESH_INTERPRETER=1 runs every script with a fresh interpreter instead (tests/test_script_process.py checks
that both ways give the same results).
"""

from __future__ import annotations

import atexit
import errno
import io
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

# Imported once by the fork server: the third-party libraries the scripts spend their start-up on.
PRELOAD = ["numpy", "pandas", "scipy.stats", "sklearn.compose", "sklearn.ensemble", "sklearn.linear_model",
           "sklearn.metrics", "sklearn.pipeline", "sklearn.preprocessing", "pandera.pandas", "joblib", "jinja2",
           "yaml", "click", "requests",
           # multiprocessing re-runs the parent's main module in every child: under plain pytest that is pytest's
           # entry point (xdist workers have none), cheap once pytest is imported.
           "pytest"]
# The preloaded BLAS and OpenMP runtimes read their thread counts when loaded; the scripts get one thread anyway.
_SERVER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

_lock = threading.Lock()
_context: multiprocessing.context.BaseContext | None = None
_fresh_path: list[str] = []


def fresh_interpreter() -> bool:
    return os.environ.get("TESTS_FRESH_INTERPRETER", "") not in ("", "0")


def _start() -> multiprocessing.context.BaseContext:
    """The fork server, started on first use with the thread settings above; and a fresh interpreter's sys.path."""
    global _context
    with _lock:
        if _context is None:
            probe = subprocess.run([sys.executable, "-c", "import sys; print('\\n'.join(sys.path[1:]))"],
                                   capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
            _fresh_path[:] = probe.stdout.splitlines()
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            saved = {key: os.environ.get(key) for key in _SERVER_ENV}
            os.environ.update(_SERVER_ENV)
            try:
                from multiprocessing import forkserver

                forkserver.ensure_running()
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
            _context = context
    return _context


def run(command: tuple[str, ...], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `command` = (python, script, *args); a signal gives a negative code, like
    subprocess; subprocess.TimeoutExpired after `timeout` seconds."""
    if fresh_interpreter():
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        return done.returncode, done.stdout, done.stderr
    if not cwd.is_dir():  # subprocess fails in the parent too, before anything runs
        raise FileNotFoundError(errno.ENOENT, "no such directory", str(cwd))
    context = _start()
    with tempfile.TemporaryDirectory(prefix="script-run-") as scratch:
        out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
        process = context.Process(target=_child, args=(list(command[1:]), str(cwd), env, str(out), str(err),
                                                        _fresh_path))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(list(command), timeout)
        return process.exitcode, _read(out), _read(err)


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace") if path.exists() else ""


def _child(argv: list[str], cwd: str, env: dict[str, str], out: str, err: str, path: list[str]) -> None:
    """In the forked process: become `python <argv>` and exit as it would."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, name in ((1, out), (2, err)):
        target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout, sys.stderr = _text_stream(1, line_buffering=False), _text_stream(2, line_buffering=True)
    script = os.path.abspath(argv[0])
    sys.argv = [argv[0], *argv[1:]]
    sys.path[:] = [os.path.dirname(script), *path]
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except BaseException as exc:
        _print_traceback(exc, script)
        code = 1
    try:
        for thread in threading.enumerate():  # the interpreter waits for non-daemon threads before exiting
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _text_stream(fd: int, line_buffering: bool) -> io.TextIOWrapper:
    """A new sys.stdout/stderr on fd, buffered as the interpreter buffers them when they are not a terminal."""
    return io.TextIOWrapper(io.BufferedWriter(io.FileIO(fd, "w", closefd=False)), encoding="utf-8",
                            errors="backslashreplace", line_buffering=line_buffering)


def _print_traceback(exc: BaseException, script: str) -> None:
    """The traceback the interpreter prints: from the script's own frame, without runpy's and ours."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb or exc.__traceback__)


def _exit_code(code: object) -> int:
    """What the interpreter makes of sys.exit(code): None is 0, an int itself, anything else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1

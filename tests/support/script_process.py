"""Run a script in a process of its own without paying the interpreter's start and the heavy imports each time.

A test run starts the scripts hundreds of times, and most of a start is importing pandas, scikit-learn, scipy and
pandera (2–4 s on a loaded 2-core machine). A `multiprocessing` fork server imports them once; every run is then a
fork of it, set up as `python scripts/<name>.py` would be: its own argv, working directory, environment,
`sys.path`, stdin from /dev/null, stdout and stderr captured, the script run as `__main__`, an uncaught exception
printed as a traceback with exit 1, atexit handlers run, and the exit code or killing signal reported. The project's
own modules (`ml`, `serving`) are not preloaded: each run imports them fresh, under its own environment.

The tests' run_script calls run() directly; the workflow harness's steps reach it through a `python` shim
(tests/support/python_shim.py) on a Unix socket. TESTS_FRESH_INTERPRETER=1 runs every script with a fresh
interpreter instead (tests/test_script_process.py checks that all three ways give the same results).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import importlib.machinery
import io
import json
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import traceback
import types
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
_fresh_path: list[str] = []  # a fresh interpreter's sys.path after the script's directory, without PYTHONPATH
_server_vars: dict[str, str] = {}  # the PYTHON* variables the fork server started with
_shim_server: socketserver.ThreadingUnixStreamServer | None = None
SHIM_TIMEOUT = 1800  # a backstop: a step's timeout kills its bash, and a shim then waits on, as python would


def fresh_interpreter() -> bool:
    return os.environ.get("TESTS_FRESH_INTERPRETER", "") not in ("", "0")


def _interpreter_vars(env: dict[str, str] | os._Environ) -> dict[str, str]:
    """The variables the interpreter reads when it starts (PYTHONPATH aside, which a fork can apply itself)."""
    return {key: value for key, value in env.items() if key.startswith("PYTHON") and key != "PYTHONPATH"}


def _start() -> multiprocessing.context.BaseContext:
    """The fork server, started on first use with the thread settings above; and a fresh interpreter's sys.path."""
    global _context
    with _lock:
        if _context is None:
            plain = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
            probe = subprocess.run([sys.executable, "-c", "import sys; print('\\n'.join(sys.path[1:]))"],
                                   capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(), env=plain)
            _fresh_path[:] = probe.stdout.splitlines()
            _server_vars.update(_interpreter_vars(os.environ))
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


def run(command: tuple[str, ...], cwd: Path, env: dict[str, str], timeout: float,
        watch: socket.socket | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `command` = (python, script, *args); a signal gives a negative code, like
    subprocess; subprocess.TimeoutExpired after `timeout` seconds. The run is killed when `watch` (the socket of a
    shim waiting for it) is closed. An environment that sets other interpreter variables (PYTHONHASHSEED…) than
    the fork server started with gets a fresh interpreter."""
    if not cwd.is_dir():  # subprocess fails in the parent too, before anything runs
        raise FileNotFoundError(errno.ENOENT, "no such directory", str(cwd))
    context = None if fresh_interpreter() else _start()
    if context is None or _interpreter_vars(env) != _server_vars:
        done = subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, check=False)
        return done.returncode, done.stdout, done.stderr
    with tempfile.TemporaryDirectory(prefix="script-run-") as scratch:
        out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
        process = context.Process(target=_child, args=(list(command[1:]), str(cwd), env, str(out), str(err),
                                                        _fresh_path))
        process.start()
        multiprocessing.connection.wait([process.sentinel, *([watch] if watch else [])], timeout)
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
    extra = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
    sys.path[:] = [os.path.dirname(script), *extra, *path]
    code = 0
    try:
        _run_as_main(script)
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


def _run_as_main(script: str) -> None:
    """Run the file as the interpreter runs `python script.py`: a new __main__ module with an absolute __file__ (runpy
    would put that path in sys.argv[0] too; the interpreter leaves argv as typed)."""
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
    sys.modules["__main__"] = main
    with open(script, "rb") as source:
        code = compile(source.read(), script, "exec")
    exec(code, main.__dict__)


def _text_stream(fd: int, line_buffering: bool) -> io.TextIOWrapper:
    """A new sys.stdout/stderr on fd, buffered as the interpreter buffers them when they are not a terminal."""
    return io.TextIOWrapper(io.BufferedWriter(io.FileIO(fd, "w", closefd=False)), encoding="utf-8",
                            errors="backslashreplace", line_buffering=line_buffering)


def _print_traceback(exc: BaseException, script: str) -> None:
    """The traceback the interpreter prints: from the script's own frame, without ours."""
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


class _ShimRequest(socketserver.StreamRequestHandler):
    """One script run asked for by tests/support/python_shim.py: a JSON line in, a JSON line out."""

    def handle(self) -> None:
        request = json.loads(self.rfile.readline())
        try:
            code, out, err = run((sys.executable, *request["argv"]), Path(request["cwd"]), request["env"],
                                 SHIM_TIMEOUT, watch=self.connection)
        except subprocess.TimeoutExpired:
            code, out, err = -signal.SIGKILL, "", ""
        except OSError as exc:
            code, out, err = 2, "", f"python: can't run {request['argv'][0]}: {exc}\n"
        with contextlib.suppress(OSError):  # the shim may be gone (its step was killed)
            self.wfile.write(json.dumps({"code": code, "stdout": out, "stderr": err}).encode() + b"\n")


def shim_command() -> list[str]:
    """The command line that makes `python` a shim of this process's fork server (a Unix socket served from a
    thread, started on first use)."""
    global _shim_server
    with _lock:
        if _shim_server is None:
            directory = tempfile.mkdtemp(prefix="scripts-")  # short: a socket's path has at most 108 bytes
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            path = os.path.join(directory, "socket")
            _shim_server = socketserver.ThreadingUnixStreamServer(path, _ShimRequest)
            _shim_server.daemon_threads = True
            threading.Thread(target=_shim_server.serve_forever, name="script-shim", daemon=True).start()
        return [sys.executable, "-I", "-S", str(Path(__file__).with_name("python_shim.py")),
                str(_shim_server.server_address)]

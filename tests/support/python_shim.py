"""`python` in the workflow harness's steps: `python path/to/script.py …` runs as a fork of the test process's fork
server (tests/support/script_process.py) and exits as that run did; any other use execs the real interpreter.

Started as `python -I -S python_shim.py <socket> <args…>`: no site, nothing imported but the standard library.
"""

import json
import os
import signal
import socket
import sys


def main() -> None:
    server, args = sys.argv[1], sys.argv[2:]
    if not args or not args[0].endswith(".py") or not os.path.isfile(args[0]):
        os.execv(sys.executable, [sys.executable, *args])
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(server)
        connection.sendall(json.dumps({"argv": args, "cwd": os.getcwd(), "env": dict(os.environ)}).encode() + b"\n")
        reply = json.loads(connection.makefile("rb").readline())
    for stream, text in ((sys.stdout, reply["stdout"]), (sys.stderr, reply["stderr"])):
        stream.buffer.write(text.encode("utf-8"))
        stream.flush()
    if reply["code"] < 0:  # killed by a signal: die of the same one
        if -reply["code"] not in (signal.SIGKILL, signal.SIGSTOP):  # the two that cannot be caught anyway
            signal.signal(-reply["code"], signal.SIG_DFL)
        os.kill(os.getpid(), -reply["code"])
    sys.exit(reply["code"])


if __name__ == "__main__":
    main()

"""A stand-in for nginx that runs the real one (FAKE_NGINX_REAL) for everything but `-s reload`, which fails the way
a master that cannot be signalled does: how the tests make a switch, and the switch back, fail."""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if argv[-2:] == ["-s", "reload"]:
        print("nginx: [alert] kill(4242, 1) failed (1: Operation not permitted)", file=sys.stderr)
        return 1
    os.execv(os.environ["FAKE_NGINX_REAL"], ["nginx", *argv])
    return 127  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

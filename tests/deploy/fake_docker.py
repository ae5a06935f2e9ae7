"""A stand-in for `docker compose` that runs each slot 'container' as a real uvicorn process on the host, from
the variables docker-compose.yml interpolates (BLUE_MODEL_DIR, BLUE_PORT, PARAMS_FILE…), and logs its argv.

Environment: FAKE_DOCKER_DIR (pid files and the argv log)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def main(argv: list[str]) -> int:
    root = Path(os.environ["FAKE_DOCKER_DIR"])
    with open(root / "argv.log", "a") as log:
        log.write(json.dumps(argv) + "\n")
    assert argv[0] == "compose" and argv[1] == "-f" and argv[3] == "-p", argv
    args = argv[5:]
    service = args[-1]
    colour = service.removeprefix("model-").upper()
    pid_file = root / f"{service}.pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    if args[0] == "up":
        with open(root / "images.log", "a") as images:
            images.write(f"{service} {os.environ['MODEL_SERVER_IMAGE']}\n")
        log = open(root / f"{service}.log", "ab")  # noqa: SIM115
        env = {**os.environ, "MODEL_DIR": os.environ[f"{colour}_MODEL_DIR"], "PARAMS": os.environ["PARAMS_FILE"],
               "PREDICTION_LOG_DIR": os.path.join(os.environ["LOG_DIR"], colour.lower())}
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", "serving.app:app", "--host", "127.0.0.1",
                                    "--port", os.environ[f"{colour}_PORT"]], env=env, stdout=log, stderr=log,
                                   start_new_session=True)
        pid_file.write_text(str(process.pid))
    elif args[0] == "ps":
        if pid and _alive(pid):
            print(f"container-{pid}")
    elif args[0] == "stop":
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            while _alive(pid):
                time.sleep(0.05)
        pid_file.unlink(missing_ok=True)
    elif args[0] == "logs":
        print((root / f"{service}.log").read_text(errors="replace") if (root / f"{service}.log").exists() else "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

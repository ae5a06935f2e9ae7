"""The production Dockerfile: hadolint-clean, pinned, non-root, hash-checked, and its health check works."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.serving.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_hadolint_is_clean():
    done = subprocess.run([str(Path(sys.executable).parent / "hadolint"), str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_the_base_image_is_pinned_by_digest_and_the_build_is_multi_stage():
    steps = instructions()
    base = next(args for op, args in steps if op == "ARG" and args.startswith("PYTHON_IMAGE="))
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.1[12]-slim@sha256:[0-9a-f]{64}", base)
    froms = [args for op, args in steps if op == "FROM"]
    assert len(froms) >= 2 and all(f.startswith("${PYTHON_IMAGE}") for f in froms)


def test_dependencies_come_from_the_lock_file_with_hashes():
    runs = " ".join(args for op, args in instructions() if op == "RUN")
    assert "--require-hashes" in runs and "-r /tmp/requirements.txt" in runs
    assert re.search(r"COPY requirements\.txt ", DOCKERFILE.read_text(encoding="utf-8"))


def test_it_runs_as_a_numeric_non_root_user_with_an_exec_form_command():
    steps = instructions()
    users = [args for op, args in steps if op == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1])
    command = json.loads(next(args for op, args in reversed(steps) if op == "CMD"))
    assert command[:2] == ["uvicorn", "serving.app:app"] and "--port" in command
    ops = [op for op, _ in steps]
    assert ops.index("USER") < len(ops) - 1 - ops[::-1].index("CMD")


def test_the_build_context_holds_what_the_dockerfile_copies():
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[[line.strip() for line in ignore].index("*")] == "*"  # allow-list: nothing else gets in
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for op, args in instructions():
        if op == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                name = source.replace("${MODEL_DIR}", "model").rstrip("/")
                assert name in allowed, f"{name} is copied but excluded by .dockerignore"
                if name != "model":  # model/ is prepared by the release workflow
                    assert (REPO / name).exists(), name


def test_the_healthcheck_command_passes_only_when_the_server_is_ready(server):
    healthcheck = next(args for op, args in instructions() if op == "HEALTHCHECK")
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3:].strip())
    assert command[0] == "python" and "/health/ready" in command[-1]

    def run(port: int) -> int:
        script = command[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        return subprocess.run([sys.executable, *command[1:-1], script], capture_output=True, timeout=30,
                              check=False).returncode

    assert run(server.port) == 0
    assert run(free_port()) != 0  # nothing listening

"""Run an external tool (kubectl, docker compose) and turn its failure into one DeployError line."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from ml.deploy.errors import DeployError


def run_tool(cmd: Sequence[str], shown: str, missing_hint: str, timeout: float = 60,
             env: Mapping[str, str] | None = None, stdin: str | None = None) -> str:
    """stdout of cmd; `shown` names the command in messages (`kubectl get …`), missing_hint says how to get it."""
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False,
                             env=dict(env) if env is not None else None, input=stdin)
    except FileNotFoundError:
        raise DeployError(f"{cmd[0]} not found; {missing_hint}") from None
    except subprocess.TimeoutExpired:
        raise DeployError(f"`{shown}` did not finish within {timeout:g} s") from None
    if out.returncode != 0:
        reason = (out.stderr.strip() or out.stdout.strip()).splitlines()
        raise DeployError(f"`{shown}` failed: {reason[-1] if reason else f'exit code {out.returncode}'}")
    return out.stdout.strip()

"""docker-compose variant of the host backend, for a VM: the slots are containers (deploy/compose/), nginx and
everything else (edge/router, drain, state) work exactly as with uvicorn processes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ml.deploy.errors import DeployError
from ml.deploy.host import HostBackend, HostSettings
from ml.deploy.tools import run_tool

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "docker-compose.yml"


class ComposeBackend(HostBackend):
    name = "compose"

    def __init__(self, settings: HostSettings, image: str, project: str = "mlops-model", docker: str = "docker",
                 compose_file: Path = COMPOSE_FILE):
        super().__init__(settings)
        self.image, self.project, self.docker, self.compose_file = image, project, docker, compose_file

    def compose(self, *args: str, timeout: float = 300, **variables: str) -> str:
        env = {**os.environ, "COMPOSE_PROJECT": self.project, "MODEL_SERVER_IMAGE": self.image,
               "BLUE_PORT": str(self.port("blue")), "GREEN_PORT": str(self.port("green")),
               "PARAMS_FILE": str(Path(self.settings.params_path).resolve()), "LOG_DIR": str(self.state_dir / "logs"),
               **variables}
        cmd = [self.docker, "compose", "-f", str(self.compose_file), "-p", self.project, *args]
        return run_tool(cmd, f"docker compose {' '.join(args)}", "the compose backend needs Docker with compose",
                        timeout, env)

    def running(self, colour: str) -> bool:
        return bool(self.compose("ps", "-q", "--status", "running", f"model-{colour}"))

    def _launch(self, colour: str, bundle: Path, release: dict[str, Any]) -> dict[str, Any]:
        # A rollback restarts a slot from its record: the image it was smoke-tested with, not today's default.
        image = release.get("image") or self.image
        logs = self.state_dir / "logs" / colour
        logs.mkdir(parents=True, exist_ok=True)
        logs.chmod(0o1777)  # the container's user (uid 10001) writes its prediction log here, whoever deploys
        # Each deploy copies its bundle to a new directory: mount the one this container is created with.
        self.compose("up", "-d", "--force-recreate", "--no-deps", f"model-{colour}",
                     **{f"{colour.upper()}_MODEL_DIR": str(bundle), "MODEL_SERVER_IMAGE": image})
        return {"image": image, "container": f"{self.project}-model-{colour}-1"}

    def _terminate(self, colour: str) -> None:
        self.compose("stop", "-t", str(self.settings.shutdown_timeout + 5), f"model-{colour}")

    def _log_tail(self, colour: str) -> str:
        try:
            lines = self.compose("logs", "--no-color", "--tail", "20", f"model-{colour}").splitlines()
        except DeployError as exc:
            return str(exc)
        useful = [ln for ln in lines if "error" in ln.lower()] or lines
        return useful[-1][:300] if useful else "no container logs"

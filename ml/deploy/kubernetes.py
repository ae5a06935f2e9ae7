"""Kubernetes backend: two Deployments (<name>-blue, <name>-green, labelled slot=…), a live Service whose selector
picks the slot, and a preview Service that points at the idle slot for smoke tests. Driven by `kubectl`, so it
works with whatever context the runner has (kind in CI, a real cluster with a kubeconfig secret).

The deploy state (what is live, what each slot runs, history) and the deploy lock live in the cluster, in the
ConfigMap <name>-deploy-state (ml/deploy/configmap_state.py), so any runner can deploy, roll back or ask for status.

The model ships inside the image (one image per model version), so `start_slot` sets the image on the idle
Deployment and scales it up; the bundle directory is still needed locally for its golden records.
`kubectl port-forward service/…` pins one pod when it starts, so forwards are reopened after every change; it
also writes a line per connection to stdout, which is read to the end so a full pipe never stalls the forward.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ml.deploy import http
from ml.deploy.backend import Backend
from ml.deploy.configmap_state import ConfigMapStateStore
from ml.deploy.errors import DeployError
from ml.deploy.state import COLOURS
from ml.deploy.store import StateStore
from ml.deploy.tools import run_tool

_FORWARDING = re.compile(r"Forwarding from (?:127\.0\.0\.1|\[::1\]):(\d+)")


@dataclass
class KubernetesSettings:
    namespace: str = "default"
    name: str = "model"                 # Deployments <name>-blue/-green, Services <name> and <name>-preview
    container: str = "model"
    replicas: int = 1
    scale_down_delay: float = 30.0      # after a switch, before the old slot is scaled to zero
    service_port: int = 80
    live_url: str | None = None         # e.g. an ingress; default: kubectl port-forward to the Service
    preview_url: str | None = None
    kubectl: str = "kubectl"


class KubernetesBackend(Backend):
    name = "kubernetes"

    def __init__(self, settings: KubernetesSettings):
        self.settings = settings
        self._forwards: dict[str, tuple[subprocess.Popen, str]] = {}
        self._switched_from: str | None = None

    # -- kubectl ---------------------------------------------------------------------------------------------
    def kubectl(self, *args: str, timeout: float = 60, stdin: str | None = None) -> str:
        cmd = [self.settings.kubectl, "--namespace", self.settings.namespace, *args]
        return run_tool(cmd, f"kubectl {' '.join(args)}", "install kubectl or pass --kubectl", timeout, stdin=stdin)

    def deployment(self, colour: str) -> str:
        if colour not in COLOURS:
            raise DeployError(f"unknown slot colour {colour!r}")
        return f"{self.settings.name}-{colour}"

    @property
    def preview_service(self) -> str:
        return f"{self.settings.name}-preview"

    @property
    def state_config_map(self) -> str:
        return f"{self.settings.name}-deploy-state"

    def _select(self, service: str, colour: str) -> None:
        patch = {"spec": {"selector": {"app": self.settings.name, "slot": colour}}}
        self.kubectl("patch", "service", service, "--type", "merge", "-p", json.dumps(patch))
        self._close_forward(service)

    def _selected(self, service: str) -> str | None:
        return self.kubectl("get", "service", service, "-o", "jsonpath={.spec.selector.slot}") or None

    # -- Backend ---------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        name = self.settings.name
        self.kubectl("get", f"service/{name}", f"service/{self.preview_service}", f"deployment/{name}-blue",
                     f"deployment/{name}-green", "-o", "name")

    def live_colour(self) -> str | None:
        return self._selected(self.settings.name)

    def start_slot(self, colour: str, model_dir: Path, release: dict[str, Any]) -> dict[str, Any]:
        image = release.get("image")
        if not image:
            raise DeployError("the kubernetes backend needs --image (the model server image with this model)")
        deployment = self.deployment(colour)
        self.kubectl("set", "image", f"deployment/{deployment}", f"{self.settings.container}={image}")
        self.kubectl("scale", f"deployment/{deployment}", f"--replicas={self.settings.replicas}")
        self._close_forward(self.preview_service)
        return {"image": image, "replicas": self.settings.replicas, "deployment": deployment}

    def wait_ready(self, colour: str, timeout: float) -> None:
        seconds = max(1, int(timeout))
        self.kubectl("rollout", "status", f"deployment/{self.deployment(colour)}", f"--timeout={seconds}s",
                     timeout=seconds + 30)

    def is_ready(self, colour: str) -> bool:
        try:
            ready = self.kubectl("get", "deployment", self.deployment(colour), "-o",
                                 "jsonpath={.status.readyReplicas}")
        except DeployError:
            return False
        return ready.isdigit() and int(ready) > 0

    def slot_url(self, colour: str) -> str:
        if self._selected(self.preview_service) != colour:
            self._select(self.preview_service, colour)
        return self.settings.preview_url or self._forward(self.preview_service)

    def live_url(self) -> str:
        return self.settings.live_url or self._forward(self.settings.name)

    def switch(self, colour: str) -> None:
        self._switched_from = self.live_colour()
        self._select(self.settings.name, colour)

    def stop_slot(self, colour: str) -> None:
        if colour == self._switched_from and self.settings.scale_down_delay > 0:
            time.sleep(self.settings.scale_down_delay)  # let clients of the old pods finish
        self.kubectl("scale", f"deployment/{self.deployment(colour)}", "--replicas=0")

    def down(self) -> None:
        for colour in COLOURS:
            self.kubectl("scale", f"deployment/{self.deployment(colour)}", "--replicas=0")

    def state_store(self, state_dir: Path) -> StateStore:
        return ConfigMapStateStore(self.kubectl, self.state_config_map, self.settings.name, state_dir)

    def close(self) -> None:
        for service in list(self._forwards):
            self._close_forward(service)

    # -- port-forward ----------------------------------------------------------------------------------------
    def _forward(self, service: str) -> str:
        if service in self._forwards and self._forwards[service][0].poll() is None:
            return self._forwards[service][1]
        cmd = [self.settings.kubectl, "--namespace", self.settings.namespace, "port-forward",
               f"service/{service}", f":{self.settings.service_port}"]
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 20
        assert process.stdout is not None
        said = ""
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            said = line.strip() or said  # kubectl's own reason, should it give up
            match = _FORWARDING.search(line)
            if match:
                url = f"http://127.0.0.1:{match.group(1)}"
                self._forwards[service] = (process, url)
                threading.Thread(target=_discard, args=(process.stdout,), daemon=True).start()
                self._wait_answering(url)
                return url
        process.kill()
        raise DeployError(f"kubectl port-forward to service/{service} did not start"
                          + (f": {said[:200]}" if said else ""))

    @staticmethod
    def _wait_answering(url: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                http.get(http.join(url, "/health/live"), timeout=2)
                return
            except OSError:
                time.sleep(0.2)

    def _close_forward(self, service: str) -> None:
        entry = self._forwards.pop(service, None)
        if entry:
            entry[0].terminate()
            try:
                entry[0].wait(5)
            except subprocess.TimeoutExpired:
                entry[0].kill()


def _discard(stream: IO[str]) -> None:
    """Read a port-forward's output until it exits: kubectl blocks a connection on a full stdout pipe."""
    for _ in stream:
        pass

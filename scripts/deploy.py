"""Blue/green deploy of a model: `deploy`, `status`, `rollback` and `down`.

  python scripts/deploy.py deploy --model-dir artifacts/model            # host: uvicorn slots behind nginx
  python scripts/deploy.py deploy --version 3                            # fetched from the registry
  python scripts/deploy.py deploy --backend kubernetes --model-dir m --image ghcr.io/o/r:v3
  python scripts/deploy.py status
  python scripts/deploy.py rollback
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ml.actions import warning
from ml.cli import one_line_errors, params_option
from ml.deploy import flow
from ml.deploy.backend import Backend
from ml.deploy.errors import DeployError
from ml.deploy.flow import DeploySettings

HOST_PORTS = ("--listen-port", "--router-port", "--blue-port", "--green-port")
MAX_NGINX_WORKERS = 64
MAX_DRAIN_SECONDS = 3600


def backend_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        params_option,
        click.option("--backend", type=click.Choice(["host", "compose", "kubernetes"]), default="host",
                     show_default=True, envvar="DEPLOY_BACKEND",
                     help="host: uvicorn processes + nginx; compose: containers + nginx (a VM); kubernetes: kubectl."),
        click.option("--server-image", default="model-server:base", show_default=True,
                     help="compose: the model server image (the bundle is mounted into it); deploy --image wins."),
        click.option("--state-dir", default=".deploy", show_default=True, type=click.Path(file_okay=False),
                     envvar="DEPLOY_STATE_DIR",
                     help="host, compose: deploy state, lock, nginx prefix and slot copies; kubernetes: fetched "
                          "bundles only (its state is in the cluster) and a state file to migrate there."),
        click.option("--listen-port", default=8080, show_default=True, help="host: nginx port users call."),
        click.option("--blue-port", default=8081, show_default=True, help="host: blue slot's loopback port."),
        click.option("--green-port", default=8082, show_default=True, help="host: green slot's loopback port."),
        click.option("--router-port", default=8083, show_default=True,
                     help="host: loopback port of the nginx that switches between slots."),
        click.option("--nginx-workers", default=1, show_default=True),
        click.option("--drain-timeout", default=10, show_default=True,
                     help="host: nginx worker_shutdown_timeout and slot graceful-shutdown seconds."),
        click.option("--namespace", default="default", show_default=True, help="kubernetes namespace."),
        click.option("--name", "k8s_name", default="model", show_default=True,
                     help="kubernetes: Deployments NAME-blue/-green, Services NAME and NAME-preview."),
        click.option("--replicas", default=1, show_default=True, help="kubernetes: pods per slot."),
        click.option("--scale-down-delay", default=30.0, show_default=True,
                     help="kubernetes: seconds before the old slot is scaled to zero."),
        click.option("--live-url", help="kubernetes: URL of the live Service (default: kubectl port-forward)."),
        click.option("--preview-url", help="kubernetes: URL of the preview Service (default: port-forward)."),
        click.option("--kubectl", default="kubectl", show_default=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_backend(opts: dict[str, Any]) -> Backend:
    if opts["backend"] == "kubernetes":
        from ml.deploy.kubernetes import KubernetesBackend, KubernetesSettings

        return KubernetesBackend(KubernetesSettings(
            namespace=opts["namespace"], name=opts["k8s_name"], replicas=opts["replicas"],
            scale_down_delay=opts["scale_down_delay"], live_url=opts["live_url"], preview_url=opts["preview_url"],
            kubectl=opts["kubectl"]))
    from ml.deploy.host import HostBackend, HostSettings

    check_host_options(opts)
    settings = HostSettings(
        state_dir=Path(opts["state_dir"]), params_path=Path(opts["params_path"]), listen_port=opts["listen_port"],
        blue_port=opts["blue_port"], green_port=opts["green_port"], router_port=opts["router_port"],
        nginx_workers=opts["nginx_workers"], shutdown_timeout=opts["drain_timeout"])
    if opts["backend"] == "compose":
        from ml.deploy.compose import ComposeBackend

        return ComposeBackend(settings, image=opts.get("image") or opts["server_image"])
    return HostBackend(settings)


def check_host_options(opts: dict[str, Any]) -> None:
    """Refuse ports and worker counts nginx or the slots would only trip over later, in confusing ways."""
    owner: dict[int, str] = {}
    for flag in HOST_PORTS:
        port = opts[flag.removeprefix("--").replace("-", "_")]
        if not 1 <= port <= 65535:
            raise DeployError(f"{flag} {port}: not a TCP port (1-65535)")
        if port in owner:
            raise DeployError(f"{owner[port]} and {flag} are both {port}: the edge, the router and each slot need "
                              "a port of their own")
        owner[port] = flag
    if not 1 <= opts["nginx_workers"] <= MAX_NGINX_WORKERS:
        raise DeployError(f"--nginx-workers {opts['nginx_workers']}: must be 1 to {MAX_NGINX_WORKERS}")
    if not 1 <= opts["drain_timeout"] <= MAX_DRAIN_SECONDS:
        raise DeployError(f"--drain-timeout {opts['drain_timeout']}: must be 1 to {MAX_DRAIN_SECONDS} seconds")


def warn_if_state_dies_with_the_job(backend: str, state_dir: Path) -> None:
    """On GitHub's hosted runners the workspace goes with the job, and the deploy state in it: the next deploy
    cannot recover an interrupted one, nor a rollback find what to go back to. (kubernetes keeps it in the cluster.)"""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if backend != "kubernetes" and os.environ.get("RUNNER_ENVIRONMENT") == "github-hosted" and workspace and \
            state_dir.resolve().is_relative_to(Path(workspace).resolve()):
        warning("Deploy state is not kept", f"{state_dir} is in the workspace of a GitHub-hosted runner, which "
                "is discarded when the job ends: run the deploy job on a self-hosted runner (DEPLOY_RUNNER) with "
                "DEPLOY_STATE_DIR outside its workspace, or rollback and crash recovery will not work (docs/deploy.md)")


def with_backend(func: Callable[..., Any]) -> Callable[..., Any]:
    """Build the backend from the shared options and always release it (port-forwards) afterwards."""

    @functools.wraps(func)
    def wrapper(**opts: Any) -> Any:
        if not opts.get("as_json"):  # stdout is the JSON then
            warn_if_state_dies_with_the_job(opts["backend"], Path(opts["state_dir"]))
        backend = make_backend(opts)
        try:
            return func(backend, opts)
        finally:
            backend.close()

    return wrapper


def _say(message: str) -> None:
    click.echo(message, err=True)


def fetch_version(params_path: str, version: int, state_dir: Path) -> Path:
    from ml.params import load_params
    from ml.registry import open_registry

    dest = state_dir / "fetched" / f"v{version}-{os.getpid()}"  # its own per deploy: a waiting one never clobbers it
    return Path(open_registry(load_params(params_path)).fetch(version, dest))


def drop_fetched(state_dir: Path) -> None:
    """A fetched bundle is read only during its deploy (the host serves its own copy of it), so once that deploy
    ends nothing references it: drop this process's and any a killed deploy left behind."""
    for fetched in (state_dir / "fetched").glob("v*-*"):
        owner = fetched.name.rsplit("-", 1)[1]
        if owner == str(os.getpid()) or not Path(f"/proc/{owner}").exists():
            shutil.rmtree(fetched, ignore_errors=True)


@click.group()
def cli() -> None:
    """Blue/green deployment with smoke tests, bake and automatic rollback."""


@cli.command()
@backend_options
@click.option("--model-dir", type=click.Path(file_okay=False, exists=True), help="The model bundle to deploy.")
@click.option("--version", "version", type=int, help="Deploy this registry version instead of --model-dir.")
@click.option("--image", help="kubernetes: the model server image that contains this model.")
@click.option("--ready-timeout", default=60.0, show_default=True, help="Seconds for the new slot to become ready.")
@click.option("--latency-budget-ms", default=250.0, show_default=True,
              help="Smoke test: p95 latency the new slot must stay under.")
@click.option("--bake-seconds", default=30.0, show_default=True, help="Watch the new slot this long after the switch.")
@click.option("--max-error-rate", default=0.01, show_default=True, help="Bake: highest tolerated 5xx share.")
@click.option("--max-p95-ms", type=float, help="Bake: highest tolerated p95 latency (histogram bucket bound).")
@click.option("--standby/--no-standby", default=True, show_default=True,
              help="Keep the old slot running after the deploy, so rollback is instant.")
@click.option("--wait-lock", default=0.0, show_default=True, help="Seconds to wait for a running deploy.")
@one_line_errors
@with_backend
def deploy(backend: Backend, opts: dict[str, Any]) -> None:
    """Start the idle slot with the model, smoke test it, switch, bake; switch back on failure."""
    if bool(opts["model_dir"]) == (opts["version"] is not None):
        raise DeployError("give exactly one of --model-dir or --version")
    state_dir = Path(opts["state_dir"])
    try:
        _deploy(backend, opts, state_dir)
    finally:
        drop_fetched(state_dir)


def _deploy(backend: Backend, opts: dict[str, Any], state_dir: Path) -> None:
    model_dir = Path(opts["model_dir"]) if opts["model_dir"] else fetch_version(
        opts["params_path"], opts["version"], state_dir)
    settings = DeploySettings(
        ready_timeout=opts["ready_timeout"], latency_budget_ms=opts["latency_budget_ms"],
        bake_seconds=opts["bake_seconds"], max_error_rate=opts["max_error_rate"], max_p95_ms=opts["max_p95_ms"],
        keep_standby=opts["standby"], lock_wait_seconds=opts["wait_lock"])
    release = {"image": opts["image"]} if opts["image"] else {}
    entry = flow.deploy(backend, state_dir, model_dir, settings, release, log=_say)
    click.echo(f"deployed {entry['version']} on {entry['colour']}: {entry['bake']}")


@cli.command()
@backend_options
@click.option("--wait-lock", default=0.0, show_default=True, help="Seconds to wait for a running deploy.")
@click.option("--ready-timeout", default=60.0, show_default=True, help="If the old slot was stopped: start-up time.")
@one_line_errors
@with_backend
def rollback(backend: Backend, opts: dict[str, Any]) -> None:
    """Put the previous version (the other slot) back in front of users."""
    settings = DeploySettings(ready_timeout=opts["ready_timeout"], lock_wait_seconds=opts["wait_lock"])
    entry = flow.rollback(backend, Path(opts["state_dir"]), settings, log=_say)
    click.echo(f"rolled back to {entry['version']} on {entry['colour']} (replacing {entry['replaced']})")


@cli.command()
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@one_line_errors
@with_backend
def status(backend: Backend, opts: dict[str, Any]) -> None:
    """Live colour, each slot's version and readiness, and a deploy that is running or was interrupted."""
    info = flow.status(backend, Path(opts["state_dir"]))
    if opts["as_json"]:
        click.echo(json.dumps(info, indent=2))
        return
    router = info["router_live"] or "nothing"
    click.echo(f"live: {info['live'] or 'nothing'} ({info['live_version'] or '-'}); router → {router}")
    for colour, slot in info["slots"].items():
        click.echo(f"  {colour:5} {slot['version'] or '-':>12}  {'ready' if slot['ready'] else 'down'}")
    if info["running_pid"]:
        what = (info["pending"] or {}).get("event", "deploy")
        click.echo(f"{what} in progress (pid {info['running_pid']}): {info['pending'] or 'starting'}")
    elif info["pending"]:
        what = info["pending"].get("event", "deploy")
        click.echo(f"interrupted {what}: {info['pending']} (the next deploy or rollback cleans it up)")


@cli.command()
@backend_options
@one_line_errors
@with_backend
def down(backend: Backend, opts: dict[str, Any]) -> None:
    """Stop both slots (host, compose: and nginx; kubernetes: scaled to zero, Services and state kept)."""
    flow.down(backend, Path(opts["state_dir"]), log=_say)
    click.echo("scaled both slots to zero" if opts["backend"] == "kubernetes" else "stopped nginx and both slots")


if __name__ == "__main__":
    cli()

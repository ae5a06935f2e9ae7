"""Turn a step's JSON result into GitHub Actions step outputs, so `if:` conditions need no logic in YAML."""

import click

from ml.actions import notice, write_outputs
from ml.cli import one_line_errors, params_option
from ml.errors import MLOpsError, RegistryError
from ml.json_report import load_json_report
from ml.params import load_params
from ml.registry import ModelVersion, open_registry


@click.group()
def main() -> None:
    """Write step outputs for the workflows."""


@main.command()
@click.option("--comparison", default="reports/comparison.json", show_default=True, type=click.Path(dir_okay=False))
@one_line_errors
def gate(comparison: str) -> None:
    """decision and promote=true|false from comparison.json (never fails on a rejection). promote is also true when
    the champion was built from this commit (a re-run after the promotion published), so that version is built
    and deployed rather than skipped."""
    from ml.gate import PROMOTE  # here, not at the top: they pull in numpy, which the other commands do not need
    from ml.promote import already_promoted
    report = load_json_report(comparison, "compare.py")
    decision = report.get("decision")
    if not decision:
        raise MLOpsError(f"{comparison}: has no decision")
    write_outputs({"decision": decision, "promote": decision == PROMOTE or already_promoted(report)})


@main.command()
@click.option("--report", default="reports/drift/drift.json", show_default=True, type=click.Path(dir_okay=False))
@one_line_errors
def drift(report: str) -> None:
    """drifted=true|false from drift.json."""
    payload = load_json_report(report, "detect_drift.py")
    for key in ("drifted", "dataset_drift", "drift"):
        if isinstance(payload.get(key), bool):
            write_outputs({"drifted": payload[key]})
            return
    raise MLOpsError(f"{report}: has no drifted verdict")


@main.command()
@params_option
@one_line_errors
def champion(params_path: str) -> None:
    """version=vN and number=N of the registry's champion (release.yml: what was just promoted)."""
    current = _current_champion(params_path)
    write_outputs({"version": current.name, "number": current.version})


@main.command()
@click.option("--version", "number", type=int, required=True, help="The version this run released (MODEL_NUMBER).")
@params_option
@one_line_errors
def deployable(number: int, params_path: str) -> None:
    """deploy=true|false: false, with a notice, once the champion is another version (a re-run of an older run's
    deploy job must not put its model over the newer one). Not a failure: the newer run deploys the champion."""
    from ml.promote import superseded  # here, not at the top: it pulls in numpy, which the other commands do not need
    reason = superseded(number, _current_champion(params_path))
    if reason:
        notice("Deploy skipped", reason)
    write_outputs({"deploy": reason is None})


def _current_champion(params_path: str) -> ModelVersion:
    current = open_registry(load_params(params_path)).champion()
    if current is None:
        raise RegistryError("the registry has no champion")
    return current


@main.command()
@click.option("--registry", default="ghcr.io", show_default=True)
@click.option("--repository", required=True, help="owner/name (GITHUB_REPOSITORY).")
@one_line_errors
def image(registry: str, repository: str) -> None:
    """image=<registry>/<owner>/<name> in lower case (container registries refuse upper case)."""
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise MLOpsError(f"--repository {repository!r} is not owner/name")
    write_outputs({"image": f"{registry}/{repository.lower()}"})


if __name__ == "__main__":
    main()

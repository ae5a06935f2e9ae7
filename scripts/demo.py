"""The whole local lifecycle on the data params.yaml names, exactly as the workflows run it: `make demo`.

Round 1 trains a model and promotes it as the first champion; round 2 changes a hyperparameter and is judged
against that champion (an estimator with no hyperparameter the demo knows is retrained unchanged, and the output
says so); then the scheduled drift job checks a simulated production batch with drift injected and
shows the issue it would file (or just the report, should the batch not trip the dataset rule). It runs in its own
registry (artifacts/demo/registry) so it never touches yours. Nothing in it is tied to the embedded sample: after
you adopt your own data and estimator it runs on them.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import yaml

from ml.cli import one_line_errors
from ml.demo_plan import round_two_change, round_two_summary
from ml.params import read_params_yaml

DEMO = Path("artifacts/demo")
REPORTS = Path("reports/demo")
SCRIPTS = Path(__file__).resolve().parent


def step(script: str, *args: str, check: bool = True) -> int:
    started = time.perf_counter()
    click.secho(f"$ python scripts/{script} {' '.join(args)}", fg="cyan")
    # Its own registry, always: MODEL_REGISTRY (exported for the GitHub backend, docs/github.md) would override it.
    env = {key: value for key, value in os.environ.items() if key != "MODEL_REGISTRY"}
    code = subprocess.call([sys.executable, str(SCRIPTS / script), *args], env=env)
    click.echo(f"  ({time.perf_counter() - started:.1f}s)")
    if check and code != 0:
        raise click.ClickException(f"scripts/{script} failed (exit {code})")
    return code


def write_params(name: str, base: dict, **model_params) -> str:
    # A deep copy, not a YAML round trip: safe_dump sorts keys by default, and the order of the features is the
    # model's column order (and the file should read like the user's).
    params = copy.deepcopy(base)
    params["registry"] = {"backend": "local", "path": str(DEMO / "registry")}
    if model_params:  # merged where the user's model.params is (which may be absent or null)
        params["model"]["params"] = {**(params["model"].get("params") or {}), **model_params}
    path = DEMO / f"params.{name}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return str(path)


def pr_round(name: str, params: str, summary: str | None = None) -> Path:
    reports = REPORTS / name
    model = str(DEMO / name / "model")
    click.secho(f"\n== {name}: the pull-request pipeline", bold=True)
    if summary:
        click.echo(f"  ({summary})")
    step("validate_data.py", "--params", params, "--reports", str(reports))
    step("train.py", "--params", params, "--model-dir", model)
    step("evaluate.py", "--params", params, "--model-dir", model, "--out", str(reports / "metrics.json"))
    step("compare.py", "--params", params, "--model-dir", model, "--out", str(reports / "comparison.json"))
    step("render_report.py", "--reports", str(reports))
    if step("check_gate.py", "--comparison", str(reports / "comparison.json"), check=False) == 0:
        click.secho(f"\n== {name}: merged, so the release pipeline promotes it", bold=True)
        step("promote.py", "--params", params, "--model-dir", model, "--comparison", str(reports / "comparison.json"))
    else:
        click.secho("  (the PR check fails here, as it should: the champion stays)", fg="yellow")
    return reports


def drift_round(params: str, base: dict) -> Path:
    """The drift job on a simulated production batch with simulate_production.py's typical drift."""
    click.secho("\n== The scheduled drift job, on a simulated production batch with drift injected", bold=True)
    champion = DEMO / "champion"
    step("fetch_model.py", "--params", params, "--dest", str(champion))
    batch = str(DEMO / "production.jsonl")
    step("simulate_production.py", "--params", params, "--reference", base["data"]["path"], "--out", batch,
         "--rows", "2000", "--typical-drift", "--model-dir", str(champion))
    out = REPORTS / "drift"
    step("detect_drift.py", "--params", params, "--reference", str(champion / "reference.json"),
         "--current", batch, "--out", str(out), "--model-dir", str(champion))
    return out


def drift_heading(result: dict) -> str:
    """What drift.md is to the scheduled job: the issue body only when the dataset drifted."""
    if result["dataset_drift"]:
        return "== The drift issue the scheduled job would open"
    return "== The drift report (no dataset drift: the scheduled job would open no issue and retrain nothing)"


@click.command()
@one_line_errors
def main() -> None:
    started = time.perf_counter()
    shutil.rmtree(DEMO, ignore_errors=True)
    shutil.rmtree(REPORTS, ignore_errors=True)
    DEMO.mkdir(parents=True)
    base = read_params_yaml("params.yaml")[1]
    step("get_data.py")
    first = pr_round("round-1", write_params("round-1", base))
    change = round_two_change(base["model"])
    round_two = write_params("round-2", base, **change)
    second = pr_round("round-2", round_two, round_two_summary(base["model"], change))
    drift = drift_round(round_two, base)
    click.secho("\n== The round-2 PR comment", bold=True)
    click.echo((second / "pr_comment.md").read_text())
    click.secho(drift_heading(json.loads((drift / "drift.json").read_text())), bold=True)
    click.echo((drift / "drift.md").read_text())
    click.secho("== Reports", bold=True)
    for reports in (first, second):
        click.echo(f"  {reports / 'pr_comment.md'}  (PR comment), {reports / 'job_summary.md'}  (job summary)")
    click.echo(f"  {drift / 'drift.html'}  (drift report; open it in a browser), {drift / 'drift.json'}")
    click.echo(f"  {DEMO / 'registry'}  (the demo's model registry, with model cards)")
    click.echo(f"\nDone in {time.perf_counter() - started:.0f}s.")


if __name__ == "__main__":
    main()

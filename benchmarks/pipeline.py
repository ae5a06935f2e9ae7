"""Whole PR pipeline vs the estimator's own fit time, on a large sample: how much does the plumbing cost?

    .venv/bin/python benchmarks/pipeline.py                  # 200k rows
    .venv/bin/python benchmarks/pipeline.py --rows 50000 --json out.json

In a temporary workspace (params.yaml from the repository, data regenerated at --rows, its own registry):

1. setup, not timed: a champion is trained with a different learning rate and promoted;
2. the pipeline as the PR workflow runs it: validate_data.py, train.py, evaluate.py, compare.py (against that
   champion, 1,000 bootstrap resamples as in params.yaml), render_report.py, each a fresh process;
3. the same pipeline in one process (scripts/run_pipeline.py, which reads and scores the data once);
4. that same pipeline as a function call in this process (`ml.steps.run_pipeline`): imports paid, as the
   baseline's are, so the ratio compares work with work;
5. the baseline, in this process: build_pipeline(params).fit on the same training split;
6. the in-process pipeline and the baseline again with every thread pool (OpenMP, BLAS) held to one thread: the
   work itself, without parallel speed-up or OpenMP's spinning; over the machine's cores it bounds the ratio
   that any overlapping or parallelising of the same work could reach here;
7. (--detail) each piece of the work timed in this process, and each step's startup (`--help`): where time goes.

Each measurement is the best of --repeat interleaved runs. Prints the time of each step, the three totals and
their ratios to the bare fit (goal: <= 1.3), and the in-process overhead beyond the fit in seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import yaml
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
STEPS = [
    ("validate_data.py", []),
    ("train.py", []),
    ("evaluate.py", []),
    ("compare.py", []),
    ("render_report.py", []),
]
GOAL = 1.3


def run(workspace: Path, script: str, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], cwd=workspace,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise click.ClickException(f"{script} failed:\n{done.stderr}")
    return elapsed


def make_workspace(workspace: Path, rows: int) -> None:
    from ml.sample_data import write_churn_csv

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["data"] = {"path": "data/churn.csv"}
    raw["registry"] = {"backend": "local", "path": "registry"}
    (workspace / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    (workspace / "data").mkdir()
    write_churn_csv(workspace / "data" / "churn.csv", rows)
    champion = dict(raw, model={**raw["model"], "params": {**raw["model"]["params"], "learning_rate": 0.05}})
    (workspace / "champion.yaml").write_text(yaml.safe_dump(champion, sort_keys=False))


def promote_champion(workspace: Path) -> None:
    args = ["--params", "champion.yaml", "--model-dir", "artifacts/champion"]
    run(workspace, "train.py", *args)
    run(workspace, "compare.py", *args, "--out", "reports/champion.json")
    run(workspace, "promote.py", *args, "--comparison", "reports/champion.json")


def workspace_params(workspace: Path):
    from ml.params import parse_params

    return parse_params(yaml.safe_load((workspace / "params.yaml").read_text()), workspace)


def in_process(workspace: Path) -> float:
    """The whole pipeline as scripts/run_pipeline.py runs it, minus the interpreter start and imports."""
    from ml.steps import run_pipeline

    params = workspace_params(workspace)
    with contextlib.chdir(workspace):
        started = time.perf_counter()
        result = run_pipeline(params, workspace / "reports", workspace / "artifacts" / "model")
        elapsed = time.perf_counter() - started
    if result["champion"] is None:
        raise click.ClickException("the in-process pipeline found no champion: it skipped the comparison")
    return elapsed


def bare_fit(workspace: Path) -> tuple[float, int]:
    """The estimator's own fit on the training split the pipeline uses, data already in memory."""
    from ml.dataset import load_dataset
    from ml.model import build_pipeline

    params = workspace_params(workspace)
    dataset, model = load_dataset(params), build_pipeline(params)
    started = time.perf_counter()
    model.fit(dataset.X_train, dataset.y_train)
    return time.perf_counter() - started, len(dataset.y_train)


def startup(workspace: Path, script: str) -> float:
    """What a step pays before it starts: the interpreter and the imports at the top of its script (`--help` stops
    right there); what its step imports inside (scikit-learn for train/evaluate/compare) counts in its total."""
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--help"], cwd=workspace, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def breakdown(workspace: Path) -> dict[str, float]:
    """Where the time goes, piece by piece, in this process (imports already paid)."""
    from ml.bootstrap import paired_delta_samples
    from ml.bundle import load_bundle, save_bundle
    from ml.data import read_table
    from ml.dataset import dataset_from_frame
    from ml.drift.reference import build_reference
    from ml.drift.scoring import output_scores
    from ml.evaluate import evaluation, predict
    from ml.fileio import sha256_file
    from ml.model import build_pipeline
    from ml.validation import validate_frame

    params = workspace_params(workspace)
    pieces: dict[str, float] = {}

    def timed(label: str, work):
        started = time.perf_counter()
        result = work()
        pieces[label] = time.perf_counter() - started
        return result

    frame = timed("read CSV", lambda: read_table(params.data_path))
    timed("validate (pandera)", lambda: validate_frame(frame, params))
    sha = timed("sha256 of the data", lambda: sha256_file(params.data_path))
    dataset = timed("split + model frame", lambda: dataset_from_frame(frame, params, sha))
    model = build_pipeline(params)
    timed("fit", lambda: model.fit(dataset.X_train, dataset.y_train))
    challenger_out = timed("predict challenger (holdout)", lambda: predict(model, dataset.X_holdout, params))
    timed("drift reference (training features, holdout scores)",
          lambda: build_reference(dataset.X_train, output_scores(challenger_out, params.task), params))
    timed("save bundle", lambda: save_bundle(model, {}, workspace / "artifacts" / "breakdown"))
    champion, _ = timed("load + verify champion", lambda: load_bundle(workspace / "registry" / "v1"))
    champion_out = timed("predict champion (holdout)", lambda: predict(champion, dataset.X_holdout, params))
    report = timed("metrics + confusion matrix", lambda: evaluation(dataset.y_holdout, challenger_out, params))
    names = list(report["metrics"])
    timed(f"paired bootstrap ({params.gate.bootstrap_resamples} resamples)",
          lambda: paired_delta_samples(dataset.y_holdout, champion_out, challenger_out, params.task, names,
                                       params.gate.bootstrap_resamples, params.seed))
    return pieces


@click.command()
@click.option("--rows", default=200_000, show_default=True, help="Rows of the generated churn sample.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the numbers here.")
@click.option("--repeat", default=3, show_default=True, help="Runs of each measurement; the best counts.")
@click.option("--detail/--no-detail", default=True, show_default=True,
              help="Also time each piece (read, validate, fit, predict, bootstrap…) in this process.")
def main(rows: int, json_out: str | None, repeat: int, detail: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as scratch:
        workspace = Path(scratch)
        click.echo(f"setup: {rows} rows, champion trained and promoted (not timed) …")
        make_workspace(workspace, rows)
        promote_champion(workspace)

        # Each measurement is the best of --repeat runs, interleaved, so a busy moment does not skew one side.
        steps = {script: float("inf") for script, _ in STEPS}
        one_process = function_call = fit_seconds = train_fit = serial_call = serial_fit = float("inf")
        startups = dict(steps)
        for _ in range(repeat):
            for script, args in STEPS:
                steps[script] = min(steps[script], run(workspace, script, *args))
            metadata = json.loads((workspace / "artifacts" / "model" / "metadata.json").read_text())
            train_fit = min(train_fit, metadata["fit_seconds"])
            one_process = min(one_process, run(workspace, "run_pipeline.py"))
            function_call = min(function_call, in_process(workspace))
            fit, train_rows = bare_fit(workspace)
            fit_seconds = min(fit_seconds, fit)
            with threadpool_limits(limits=1):
                serial_call = min(serial_call, in_process(workspace))
                serial_fit = min(serial_fit, bare_fit(workspace)[0])
            for script, _ in STEPS:
                startups[script] = min(startups[script], startup(workspace, script))
        pipeline = sum(steps.values())
        decision = json.loads((workspace / "reports" / "comparison.json").read_text())["decision"]
        pieces = breakdown(workspace) if detail else {}

    cores = os.cpu_count()
    results = {
        "rows": rows, "train_rows": train_rows, "cores": cores, "repeat": repeat, "steps": steps,
        "pipeline_seconds": pipeline, "one_process_seconds": one_process, "in_process_seconds": function_call,
        "fit_seconds": fit_seconds,
        "fit_seconds_inside_train_py": train_fit, "startup_seconds": startups, "breakdown": pieces,
        "ratio": pipeline / fit_seconds, "one_process_ratio": one_process / fit_seconds,
        "in_process_ratio": function_call / fit_seconds, "decision": decision,
        # The same overhead in seconds, for a goal stated without the fit: in-process pipeline minus the fit.
        "overhead_seconds": function_call - fit_seconds,
        "overhead_seconds_per_100k_rows": (function_call - fit_seconds) * 100_000 / rows,
        # One thread: the work itself. No schedule on this machine's cores finishes it in less than work / cores.
        "one_thread_in_process_seconds": serial_call, "one_thread_fit_seconds": serial_fit,
        "fit_parallel_efficiency": serial_fit / (cores * fit_seconds),
        "ratio_floor_all_cores": serial_call / cores / fit_seconds,
    }
    click.echo(f"\nwhole pipeline on {rows} rows ({cores} cores, best of {repeat}), "
               f"compare decision: {decision}")
    click.echo(f"  {'step':<18} {'total':>7}   of which startup (--help)")
    for script, seconds in steps.items():
        click.echo(f"  {script:<18} {seconds:7.2f} s {startups[script]:7.2f} s")
    if pieces:
        click.echo("where the time goes (in-process, imports paid):")
        for label, seconds in pieces.items():
            click.echo(f"  {label:<52} {seconds:7.2f} s")
    click.echo(f"pipeline, one process per step   {pipeline:7.2f} s  "
               f"({pipeline - sum(startups.values()):.2f} s without the steps' startup)")
    click.echo(f"pipeline, one process            {one_process:7.2f} s  (scripts/run_pipeline.py)")
    click.echo(f"pipeline, in this process        {function_call:7.2f} s  (ml.steps.run_pipeline, imports paid)")
    click.echo(f"estimator fit alone              {fit_seconds:7.2f} s  ({train_rows} training rows; "
               f"train.py's own fit: {train_fit:.2f} s)")
    for label, ratio in (("per-step scripts", results["ratio"]), ("one process", results["one_process_ratio"]),
                         ("in this process", results["in_process_ratio"])):
        verdict = "meets" if ratio <= GOAL else "misses"
        click.echo(f"ratio pipeline / fit ({label}): {ratio:.2f} ({verdict} the goal of <= {GOAL})")
    click.echo(f"overhead beyond the fit (in this process): {results['overhead_seconds']:.2f} s, "
               f"{results['overhead_seconds_per_100k_rows']:.2f} s per 100k rows")
    click.echo(f"one thread: in-process pipeline {serial_call:.2f} s, fit {serial_fit:.2f} s (the fit's {cores} "
               f"threads use the cores at {results['fit_parallel_efficiency']:.0%}); that work spread over all "
               f"{cores} cores with none idle: {serial_call / cores:.2f} s, ratio >= "
               f"{results['ratio_floor_all_cores']:.2f} for any schedule of it")
    if json_out:
        Path(json_out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Drift detection against Evidently 0.7's DataDriftPreset, on the same generated CSV files.

    .venv/bin/python benchmarks/drift.py                 # 100k×100k and 1M×200k rows, 25 columns
    .venv/bin/python benchmarks/drift.py --sizes 100000x100000

Each tool runs in a fresh process (ours: scripts/detect_drift.py writing drift.json/md/html; Evidently: read the
CSVs with pandas, run the preset, dump the snapshot's JSON) under a fresh measuring process, so wall time and
peak RSS (ru_maxrss of its children) cover exactly one tool: imports, reading, tests and output. Evidently lives
in its own venv (benchmarks/.venv-evidently, pandas<3), created here when missing. The generated data plants
known drift in some columns; the agreement table shows which columns each tool flags against that plan.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import click
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import yaml

ROOT = Path(__file__).resolve().parent.parent
EVIDENTLY_VENV = ROOT / "benchmarks" / ".venv-evidently"
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.*", "pandas<3"]

# column -> (planted change, should a good detector flag it?)
PLAN = {
    "num_00": ("mean +0.5σ", True),
    "num_01": ("mean +0.2σ", True),
    "num_02": ("mean +0.03σ (negligible)", False),
    "num_03": ("σ × 1.5", True),
    "num_04": ("nulls 0% → 20%", True),
    "cat_00": ("new category in 2% of rows", True),
    "cat_01": ("shares reshuffled", True),
    "bool_00": ("true 30% → 45%", True),
}

MEASURE = r"""
import json, resource, subprocess, sys, time
started = time.perf_counter()
completed = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "peak_mb": peak_kb / 1024, "code": completed.returncode,
                  "stderr": completed.stderr[-2000:]}))
"""

EVIDENTLY_RUN = r"""
import json, os, sys, time
started = time.perf_counter()
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
imported = time.perf_counter()

reference_path, current_path, numeric, categorical, out = sys.argv[1:6]
numeric, categorical = numeric.split(","), categorical.split(",")
columns = numeric + categorical
reference = pd.read_csv(reference_path, usecols=columns)
current = pd.read_csv(current_path, usecols=columns)
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(current, data_definition=definition),
                                            Dataset.from_pandas(reference, data_definition=definition))
with open(out, "w") as handle:
    handle.write(snapshot.json())
with open(os.environ["BENCH_TIMING"], "w") as handle:
    json.dump({"import": imported - started, "total": time.perf_counter() - started}, handle)
"""

# Ours: exactly scripts/detect_drift.py, with a timestamp once its imports are done.
OURS_RUN = r"""
import json, os, runpy, sys, time
started = time.perf_counter()
import click, ml.cli, ml.drift, ml.drift.report, ml.fileio, ml.params
imported = time.perf_counter()
script, sys.argv = sys.argv[1], sys.argv[1:]
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as exit:
    if exit.code:
        raise
with open(os.environ["BENCH_TIMING"], "w") as handle:
    json.dump({"import": imported - started, "total": time.perf_counter() - started}, handle)
"""


def make_data(rows: int, rng: np.random.Generator, drifted: bool) -> pa.Table:
    """14 numeric, 8 categorical and 3 boolean columns; `drifted` applies PLAN."""
    shift = {"num_00": 0.5, "num_01": 0.2, "num_02": 0.03} if drifted else {}
    columns: dict[str, np.ndarray] = {}
    for index in range(14):
        name = f"num_{index:02d}"
        kind = index % 4
        if kind == 0:
            values = rng.normal(50, 10, rows) + shift.get(name, 0) * 10
        elif kind == 1:
            values = rng.lognormal(2, 0.6, rows)
            values += shift.get(name, 0) * values.std()
        elif kind == 2:
            values = rng.uniform(0, 100, rows) + shift.get(name, 0) * 28.87
        else:
            values = rng.poisson(4, rows).astype(np.float64)
        if name == "num_03" and drifted:
            values = values.mean() + (values - values.mean()) * 1.5
        columns[name] = np.round(values, 4)
    for index in range(8):
        name = f"cat_{index:02d}"
        levels = 3 + index
        shares = np.random.default_rng(index).dirichlet(np.full(levels, 2.0))
        if name == "cat_01" and drifted:
            shares = shares[::-1]
        labels = np.array([f"{name}_v{level}" for level in range(levels)], dtype=object)
        values = labels[rng.choice(levels, rows, p=shares)]
        if name == "cat_00" and drifted:
            values[rng.random(rows) < 0.02] = "brand-new"
        columns[name] = values
    for index in range(3):
        name = f"bool_{index:02d}"
        rate = 0.45 if (name == "bool_00" and drifted) else 0.3
        columns[name] = rng.random(rows) < rate
    arrays = {name: pa.array(values) for name, values in columns.items()}
    if drifted:
        nulls = rng.random(rows) < 0.2
        arrays["num_04"] = pa.array(columns["num_04"], mask=nulls)
    return pa.table(arrays)


def write_params(path: Path, table: pa.Table) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    features = {}
    for name in table.column_names:
        kind = "float" if name.startswith("num") else "bool" if name.startswith("bool") else "category"
        spec: dict = {"type": kind}
        if kind == "category":
            spec["values"] = sorted(set(table.column(name).to_pylist()) - {"brand-new"})
        features[name] = spec
    params["features"] = features
    params["drift"] = {**params.get("drift", {}), "critical_columns": []}
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def evidently_python() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        click.echo(f"creating {EVIDENTLY_VENV} ({' '.join(EVIDENTLY_REQUIREMENTS)}) …")
        venv.create(EVIDENTLY_VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *EVIDENTLY_REQUIREMENTS], check=True)
    return python


def measure(command: list[str], timing: Path) -> dict:
    """Run one tool in a fresh measuring process: wall time, peak RSS, and the tool's own import/total split."""
    env = {**os.environ, "BENCH_TIMING": str(timing), "DO_NOT_TRACK": "1"}  # DO_NOT_TRACK: Evidently's telemetry
    completed = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True,
                               check=True, env=env)
    result = json.loads(completed.stdout)
    if result["code"] != 0:
        raise click.ClickException(f"{command[1]} failed:\n{result['stderr']}")
    result.update(json.loads(timing.read_text()))
    return result


def ours_flags(report: Path) -> tuple[bool, set[str]]:
    result = json.loads(report.read_text())
    return result["dataset_drift"], {c["column"] for c in result["columns"] if c["drifted"]}


def evidently_flags(report: Path) -> tuple[bool, set[str]]:
    result = json.loads(report.read_text())
    flagged, dataset = set(), False
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            value, threshold = metric["value"], config["threshold"]
            p_value_test = "p_value" in config.get("method", "").lower()
            if (value < threshold) if p_value_test else (value >= threshold):
                flagged.add(config["column"])
        elif config["type"].endswith("DriftedColumnsCount"):
            dataset = metric["value"]["share"] >= config["drift_share"]
    return dataset, flagged


def run_size(reference_rows: int, current_rows: int, workdir: Path, evidently: Path) -> dict:
    rng = np.random.default_rng(reference_rows + current_rows)
    reference, current = make_data(reference_rows, rng, False), make_data(current_rows, rng, True)
    paths = {"reference": workdir / "reference.csv", "current": workdir / "current.csv"}
    pa_csv.write_csv(reference, paths["reference"])
    pa_csv.write_csv(current, paths["current"])
    params = workdir / "params.yaml"
    write_params(params, reference)
    del reference
    names = current.column_names
    numeric = [name for name in names if name.startswith("num")]
    categorical = [name for name in names if not name.startswith("num")]

    (workdir / "ours_run.py").write_text(OURS_RUN)
    (workdir / "evidently_run.py").write_text(EVIDENTLY_RUN)
    ours = measure([sys.executable, str(workdir / "ours_run.py"), str(ROOT / "scripts" / "detect_drift.py"),
                    "--params", str(params), "--reference", str(paths["reference"]),
                    "--current", str(paths["current"]), "--out", str(workdir / "ours")], workdir / "ours.timing")
    theirs = measure([str(evidently), str(workdir / "evidently_run.py"), str(paths["reference"]),
                      str(paths["current"]), ",".join(numeric), ",".join(categorical), str(workdir / "evidently.json")],
                     workdir / "evidently.timing")
    ours["dataset"], ours["flags"] = ours_flags(workdir / "ours" / "drift.json")
    theirs["dataset"], theirs["flags"] = evidently_flags(workdir / "evidently.json")
    return {"ours": ours, "evidently": theirs, "columns": names}


def print_result(label: str, result: dict) -> None:
    ours, theirs = result["ours"], result["evidently"]
    click.secho(f"\n== {label} rows, {len(result['columns'])} columns", bold=True)
    click.echo(f"{'tool':<12}{'wall s':>9}{'imports s':>11}{'work s':>9}{'peak MB':>10}   dataset drift")
    for name, run in (("ours", ours), ("evidently", theirs)):
        work = run["total"] - run["import"]
        click.echo(f"{name:<12}{run['wall']:>9.2f}{run['import']:>11.2f}{work:>9.2f}{run['peak_mb']:>10.0f}"
                   f"   {run['dataset']}")
    work_ratio = (theirs["total"] - theirs["import"]) / max(ours["total"] - ours["import"], 1e-9)
    click.echo(f"speed-up: {theirs['wall'] / ours['wall']:.1f}× faster end to end (goal ≥ 10×), "
               f"{work_ratio:.1f}× on the work after imports; "
               f"memory: {ours['peak_mb'] / theirs['peak_mb']:.2f}× Evidently's peak (goal ≤ 0.5×)")
    click.echo(f"\n{'column':<10}{'planted drift':<30}{'should flag':<13}{'ours':<7}{'evidently':<10}")
    correct = {"ours": 0, "evidently": 0}
    for column in result["columns"]:
        planted, expected = PLAN.get(column, ("none", False))
        marks = []
        for name, run in (("ours", ours), ("evidently", theirs)):
            flagged = column in run["flags"]
            correct[name] += flagged == expected
            marks.append("yes" if flagged else "no")
        if planted != "none" or marks != ["no", "no"]:
            click.echo(f"{column:<10}{planted:<30}{'yes' if expected else 'no':<13}{marks[0]:<7}{marks[1]:<10}")
    unchanged = [c for c in result["columns"] if c not in PLAN]
    click.echo(f"(the other {len(unchanged)} unchanged columns: flagged by neither)"
               if not any(c in run["flags"] for c in unchanged for run in (ours, theirs)) else "")
    total = len(result["columns"])
    click.echo(f"columns judged right: ours {correct['ours']}/{total}, evidently {correct['evidently']}/{total}")


@click.command()
@click.option("--sizes", default="100000x100000,1000000x200000", show_default=True,
              help="Comma-separated REFERENCExCURRENT row counts.")
@click.option("--keep", is_flag=True, help="Keep the generated files (their directory is printed).")
def main(sizes: str, keep: bool) -> None:
    evidently = evidently_python()
    click.echo(f"nproc = {os.cpu_count()}, python {sys.version.split()[0]}")
    for size in sizes.split(","):
        reference_rows, _, current_rows = size.partition("x")
        workdir = Path(tempfile.mkdtemp(prefix="drift-bench-"))
        try:
            result = run_size(int(reference_rows), int(current_rows), workdir, evidently)
            print_result(f"{int(reference_rows):,} × {int(current_rows):,}", result)
        finally:
            if keep:
                click.echo(f"files kept in {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

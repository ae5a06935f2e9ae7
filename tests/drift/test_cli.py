"""scripts/detect_drift.py and scripts/simulate_production.py, run as the workflows run them."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sklearn.datasets import load_breast_cancer, load_diabetes

from tests.conftest import REPO, ScriptRun, assert_ok, assert_one_line_error, run_script
from tests.drift.conftest import load_script, make_frame, write_params

COLUMN_KEYS = {"column", "type", "test", "statistic", "p_value", "p_adjusted", "effect_size", "drifted"}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_params(tmp_path)
    make_frame(np.random.default_rng(21), 6000).to_csv(tmp_path / "training.csv", index=False)
    return tmp_path


@pytest.fixture
def cli(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., ScriptRun]:
    """Run a script's click command in-process from workdir: the same code as the subprocess, seconds faster."""
    monkeypatch.chdir(workdir)
    commands = {name: load_script(name).main for name in ("detect_drift.py", "simulate_production.py")}

    def run(script: str, *args: str) -> ScriptRun:
        result = CliRunner().invoke(commands[script], list(args))
        return ScriptRun((script, *args), result.exit_code, result.stdout, result.stderr)

    return run


def outputs(directory: Path) -> list[Path]:
    return [directory / name for name in ("drift.json", "drift.md", "drift.html")]


def test_simulated_batches_with_and_without_drift(workdir: Path, cli: Callable[..., ScriptRun]) -> None:
    drifted = run_script("simulate_production.py", "--reference", "training.csv", "--out", "drifted/batch.jsonl",
                         "--rows", "3000", "--shift-mean", "monthly_charges=0.5", "--new-category", "contract=0.05",
                         "--null-spike", "region=0.2", cwd=workdir)
    assert_ok(drifted)
    assert "3000 rows (no drift)" in assert_ok(cli("simulate_production.py", "--reference", "training.csv",
                                                   "--out", "calm", "--rows", "3000", "--seed", "1")).stdout
    record = json.loads((workdir / "drifted" / "batch.jsonl").read_text().splitlines()[0])
    assert set(record) == {"ts", "model_version", "features", "prediction", "probability"}
    assert record["ts"].endswith("Z") and isinstance(record["features"]["senior_citizen"], bool)

    failing = run_script("detect_drift.py", "--reference", "training.csv", "--current", "drifted",
                         "--out", "failing", "--fail-on-drift", cwd=workdir)
    assert failing.returncode == 3 and "Traceback" not in failing.stderr
    assert "No data drift" in assert_ok(cli("detect_drift.py", "--reference", "training.csv", "--current", "calm",
                                            "--out", "quiet", "--fail-on-drift")).stdout
    assert_ok(cli("detect_drift.py", "--reference", "training.csv", "--current", "drifted", "--out", "loud"))

    calm_result = json.loads((workdir / "quiet" / "drift.json").read_text())
    assert calm_result["dataset_drift"] is False and not calm_result["verdict"]["drifted_columns"]
    result = json.loads((workdir / "loud" / "drift.json").read_text())
    assert result["dataset_drift"] is True
    assert all(set(column) >= COLUMN_KEYS for column in result["columns"])
    by_name = {column["column"]: column for column in result["columns"]}
    assert {name for name, column in by_name.items() if column["drifted"]} == {"monthly_charges", "contract",
                                                                               "region"}
    assert by_name["region"]["test"] == "null_rate" and by_name["contract"]["test"] == "unseen_values"
    assert "critical column drifted: contract" in result["verdict"]["reasons"]

    markdown = (workdir / "loud" / "drift.md").read_text()
    assert markdown.startswith("## 🔴 Data drift: monthly_charges, contract, region")
    for needle in ("| monthly_charges |", "| contract |", "| region |", "'new-value'", "What to do next",
                   "Null spike in region"):
        assert needle in markdown
    assert re.search(r"null rate [0-4]\.\d% → 2\d\.\d%", markdown)
    html = (workdir / "loud" / "drift.html").read_text()
    assert html.count("<svg") >= 4 and "<script" not in html


def test_a_null_spike_blanks_numeric_and_category_columns(workdir: Path, cli: Callable[..., ScriptRun]) -> None:
    assert_ok(cli("simulate_production.py", "--reference", "training.csv", "--out", "blank.csv", "--rows", "4000",
                  "--null-spike", "total_charges=0.2", "--null-spike", "region=0.2"))
    blank = pd.read_csv(workdir / "blank.csv").isna().mean()
    before = pd.read_csv(workdir / "training.csv").isna().mean()
    for name in ("total_charges", "region"):
        assert 0.15 < blank[name] - before[name] < 0.25, name


def adopted_dataset(name: str) -> tuple[pd.DataFrame, str]:
    """(data, target) of a dataset that is not the sample, as a user would put it in data/."""
    if name == "breast-cancer":  # 30 float features, no category, nothing nullable
        frame = load_breast_cancer(as_frame=True).frame
        frame.columns = [column.replace(" ", "_") for column in frame.columns]
        return frame, "target"
    if name == "flags":  # 0/1 and 0..2 ints and a category: a plain 1σ shift is rounded or clipped away
        rng, rows = np.random.default_rng(5), 3000
        shares = {"has_phone": 0.95, "is_member": 0.5, "paperless": 0.2, "autopay": 0.7}
        frame = pd.DataFrame({column: (rng.random(rows) < share).astype(int) for column, share in shares.items()})
        frame["children"] = rng.choice([0, 1, 2], rows, p=[0.1, 0.2, 0.7])
        frame["plan"] = rng.choice(["basic", "plus", "pro"], rows)
        frame["target"] = rng.integers(0, 2, rows)
        return frame, "target"
    frame = load_diabetes(as_frame=True, scaled=False).frame  # 10 features, one of them a category
    frame["sex"] = frame["sex"].map({1.0: "f", 2.0: "m"})
    return frame, "target"


@pytest.mark.parametrize("dataset", ["breast-cancer", "diabetes", "flags"])
def test_typical_drift_trips_the_dataset_rule_on_adopted_data(dataset: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """draft_params.py leaves drift.critical_columns empty: typical drift alone must move enough columns."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "params.yaml", "params.yaml")
    frame, target = adopted_dataset(dataset)
    Path("data").mkdir()
    frame.to_csv("data/adopted.csv", index=False)
    scripts = {name: load_script(name).main for name in ("draft_params.py", "simulate_production.py",
                                                         "detect_drift.py")}
    for script, args in (("draft_params.py", ["data/adopted.csv", "--target", target, "--write"]),
                         ("simulate_production.py", ["--reference", "data/adopted.csv", "--out", "batch.jsonl",
                                                     "--rows", "2000", "--typical-drift"]),
                         ("detect_drift.py", ["--reference", "data/adopted.csv", "--current", "batch.jsonl"])):
        run = CliRunner().invoke(scripts[script], args)
        assert run.exit_code == 0, run.output
    assert yaml.safe_load(Path("params.yaml").read_text())["drift"]["critical_columns"] == []

    result = json.loads(Path("reports/drift/drift.json").read_text())
    assert result["dataset_drift"] is True, result["verdict"]
    assert result["verdict"]["reasons"][0].endswith("rule: at least 30%)")
    assert "dispatches `retrain.yml`;" in Path("reports/drift/drift.md").read_text()


def test_model_outputs_and_prediction_drift(workdir: Path, model_bundle: Path,
                                           cli: Callable[..., ScriptRun]) -> None:
    assert_ok(cli("simulate_production.py", "--reference", "training.csv", "--out", "scored.parquet", "--rows",
                  "2000", "--model-dir", str(model_bundle), "--new-category", "contract=0.6"))
    assert_ok(cli("simulate_production.py", "--reference", "training.csv", "--out", "unscored.csv", "--rows",
                  "2000", "--seed", "4"))
    scored = pd.read_parquet(workdir / "scored.parquet")
    assert scored["model_version"].eq("v3").all() and scored["probability"].between(0, 1).all()
    assert set(scored["prediction"].unique()) <= {0, 1}

    assert_ok(cli("detect_drift.py", "--reference", "training.csv", "--current", "scored.parquet", "--out",
                  "logged", "--model-dir", str(model_bundle)))
    assert_ok(cli("detect_drift.py", "--reference", "training.csv", "--current", "unscored.csv", "--out",
                  "rescored", "--model-dir", str(model_bundle)))
    shifted = json.loads((workdir / "logged" / "drift.json").read_text())
    prediction = next(c for c in shifted["columns"] if c["column"] == "prediction")
    assert prediction["drifted"] and shifted["verdict"]["prediction_drifted"]
    calm = json.loads((workdir / "rescored" / "drift.json").read_text())
    assert next(c for c in calm["columns"] if c["column"] == "prediction")["drifted"] is False
    assert calm["dataset_drift"] is False


@pytest.mark.filterwarnings("error")  # numpy's overflow warnings too
@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_infinite_and_huge_numbers_on_both_sides_are_compared_not_a_crash(
        workdir: Path, model_bundle: Path, cli: Callable[..., ScriptRun], suffix: str) -> None:
    """Data the drift job reads is not validated: infinities count as missing (and are not scored), numbers up to
    ±1e308 are compared like any other, and every report is written."""
    sides = {}
    for side, seed in (("reference", 31), ("current", 32)):
        frame = make_frame(np.random.default_rng(seed), 3000)
        frame = frame.astype({"tenure_months": float, "support_tickets": float})
        frame.loc[:599, "total_charges"] = np.tile([np.inf, -np.inf, 1e308, -1e308, 1e200, 1e100], 100)
        frame.loc[:99, "tenure_months"] = np.inf  # a critical column, and a row the model cannot take
        frame.loc[:, "monthly_charges"] = 1e300  # constant: no spread to scale by
        if side == "current":
            frame.loc[:99, "support_tickets"] = 1e300  # a shift of some 1e298 σ
        unscorable = np.isinf(frame[["total_charges", "tenure_months"]]).any(axis=1).mean()
        path = workdir / f"{side}.{suffix}"
        frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
        sides[side] = path

    run = assert_ok(cli("detect_drift.py", "--reference", str(sides["reference"]), "--current",
                        str(sides["current"]), "--out", "extreme", "--model-dir", str(model_bundle)))

    result = json.loads((workdir / "extreme" / "drift.json").read_text())
    columns = {column["column"]: column for column in result["columns"]}
    assert columns["total_charges"]["reference"]["null_rate"] == pytest.approx(200 / 3000 + 0.01, abs=0.01)
    assert columns["total_charges"]["reference"]["max"] == 1e308
    assert columns["monthly_charges"]["drifted"] is False and columns["tenure_months"]["drifted"] is False
    assert columns["prediction"]["current"]["null_rate"] == pytest.approx(unscorable)
    assert all(column["effect_size"] is not None for column in result["columns"]), "a NaN effect size"
    assert re.search(r"\(\+\d\.\d+e\+29\d σ\)", columns["support_tickets"]["change"]), "σ written out in full"
    assert (workdir / "extreme" / "drift.md").is_file() and (workdir / "extreme" / "drift.html").is_file()
    assert "No data drift" in run.stdout, run.stdout


def test_bad_current_data_is_one_line_and_leaves_no_report(workdir: Path) -> None:
    """The CLI end to end once as a subprocess, then the whole bad-input matrix in-process (same command)."""
    frame = pd.read_csv(workdir / "training.csv")
    frame.drop(columns=["region", "contract"]).to_csv(workdir / "missing.csv", index=False)
    frame.iloc[:0].to_csv(workdir / "header_only.csv", index=False)
    (workdir / "zero_bytes.csv").write_text("")
    wrong = frame.astype({"tenure_months": str})
    wrong.loc[5, "tenure_months"] = "ten"
    wrong.to_csv(workdir / "wrong_type.csv", index=False)
    frame.astype({"monthly_charges": str}).assign(monthly_charges="cheap").to_parquet(workdir / "wrong.parquet")
    (workdir / "nothing").mkdir()
    cases = {"missing.csv": ("missing feature columns contract, region",),
             "header_only.csv": ("no rows",), "zero_bytes.csv": ("empty file",),
             "wrong_type.csv": ("tenure_months", "'ten'"), "wrong.parquet": ("monthly_charges", "'cheap'"),
             "nothing": ("no prediction logs",), "absent.parquet": ("not found",)}
    for name in cases:
        out = workdir / f"out-{name}"
        out.mkdir()
        for stale in outputs(out):
            stale.write_text("stale")

    assert_one_line_error(run_script("detect_drift.py", "--reference", "training.csv", "--current", "missing.csv",
                                     "--out", "out-missing.csv", cwd=workdir), *cases["missing.csv"])
    command = load_script("detect_drift.py").main
    for name, needles in cases.items():
        result = CliRunner().invoke(command, ["--params", str(workdir / "params.yaml"), "--reference",
                                              str(workdir / "training.csv"), "--current", str(workdir / name),
                                              "--out", str(workdir / f"out-{name}")])
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
        assert all(needle in lines[0] for needle in (name, *needles)), lines[0]
        assert not any(path.exists() for path in outputs(workdir / f"out-{name}")), name


def test_bad_params_and_options_are_one_line(workdir: Path) -> None:
    (workdir / "bad").mkdir()
    write_params(workdir / "bad", fdr=2)  # a separate params file with an out-of-range value
    detect, simulate = load_script("detect_drift.py").main, load_script("simulate_production.py").main
    common = ["--params", str(workdir / "params.yaml"), "--reference", str(workdir / "training.csv"),
              "--out", str(workdir / "sim")]
    runs = [
        CliRunner().invoke(detect, ["--params", str(workdir / "bad" / "params.yaml"), "--reference",
                                    str(workdir / "training.csv"), "--current", str(workdir / "training.csv")]),
        CliRunner().invoke(simulate, [*common, "--shift-mean", "contract=1"]),
        CliRunner().invoke(simulate, [*common, "--null-spike", "nope=0.1"]),
        CliRunner().invoke(simulate, [*common, "--null-spike", "region=1.5"]),
        CliRunner().invoke(simulate, [*common, "--new-category", "contract"]),
    ]
    expected = [(1, "drift.fdr"), (1, "--shift-mean", "contract"), (1, "--null-spike", "'nope' is not a feature"),
                (1, "region=1.5", "between 0 and 1"), (2, "COLUMN=NUMBER")]
    for run, (code, *needles) in zip(runs, expected, strict=True):
        lines = run.output.strip().splitlines()
        assert run.exit_code == code and "Traceback" not in run.output, run.output
        if code == 1:  # 2: click's own usage error for a malformed option, with its usage lines above
            assert len(lines) == 1, run.output
        assert lines[-1].startswith("Error: ") and all(needle in lines[-1] for needle in needles), run.output
    assert not (workdir / "sim").exists()


def test_simulating_from_a_reference_json(workdir: Path, cli: Callable[..., ScriptRun]) -> None:
    from ml.drift.reference import build_reference
    from tests.drift.conftest import make_params

    reference = build_reference(pd.read_csv(workdir / "training.csv"), None, make_params(workdir))
    (workdir / "reference.json").write_text(json.dumps(reference))
    assert_ok(cli("simulate_production.py", "--reference", "reference.json", "--out", "sim.jsonl", "--rows", "3000"))
    assert_ok(cli("detect_drift.py", "--reference", "reference.json", "--current", "sim.jsonl", "--out", "report"))
    result = json.loads((workdir / "report" / "drift.json").read_text())
    assert result["dataset_drift"] is False and not result["verdict"]["drifted_columns"]

"""scripts/draft_params.py: step 2 of "adapt it to your data" done from the data file, so a fork's params.yaml
describes new data in one command and the pipeline runs on it; everything the user did not ask to change stays."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_diabetes, load_iris

from ml.data import read_table
from ml.infer_features import draft_features, infer_task, nice_bounds, stored_types
from tests.conftest import REPO, assert_ok, assert_one_line_error, run_script


def test_drafts_the_sample_as_its_author_described_it(sample_csv):
    frame = read_table(sample_csv)
    draft = draft_features(frame, "churned")
    declared = yaml.safe_load((REPO / "params.yaml").read_text())["features"]
    assert draft.task == "classification" and list(draft.features) == list(declared)
    for name, spec in draft.features.items():
        want = declared[name]
        assert spec["type"] == want["type"], name
        assert spec.get("nullable", False) == want.get("nullable", False), name
        assert set(spec.get("values", ())) == set(want.get("values", ())), name
        if "min" in want:  # contains every observed value, and is no wider than what the author allowed
            assert want["min"] <= spec["min"] <= frame[name].min(), name
            assert frame[name].max() <= spec["max"] <= want["max"], name


@pytest.mark.parametrize("low, high, integer, bounds", [
    (19, 79, True, (19, 79)),
    (18.3, 118.7, False, (10, 120)),
    (3.2581, 6.107, False, (3.2, 6.2)),
    (-3.7, 12.2, False, (-4, 13)),
    (0.0, 7681.3, False, (0, 7700)),
    (0.0012, 0.0491, False, (0.001, 0.05)),
    (5, 5, True, (5, 5)),
])
def test_ranges_are_the_observed_ones_rounded_outward(low, high, integer, bounds):
    assert nice_bounds(low, high, integer) == pytest.approx(bounds)
    if integer:
        assert all(isinstance(bound, int) for bound in nice_bounds(low, high, integer))


@pytest.mark.parametrize("values, task", [
    ([0.5, 1.25, 3.0], "regression"),
    ([0, 1, 2, 1, 0], "classification"),
    (["cat", "dog", None], "classification"),
    ([True, False, True], "classification"),
    (list(range(100)), "regression"),  # integers, but too many distinct ones to be classes
])
def test_the_task_follows_the_target(values, task):
    assert infer_task(pd.Series(values)) == task


def test_types_nulls_and_what_a_human_should_look_at():
    rows = 40
    frame = pd.DataFrame({
        "flag": ["yes", "no", None, "No"] * 10,                    # text booleans, some missing
        "count": [1.0, np.nan, 3.0, 4.0] * 10,                      # whole numbers read as float for the NaN
        "amount": ["1.5", "2.5", "oops", "3.5"] + ["2.0"] * 36,     # numbers with one typo
        "constant": ["a"] * rows,
        "ident": range(rows),
        "label": [0, 1] * 20,
    })
    draft = draft_features(frame, "label")
    assert draft.features == {
        "flag": {"type": "bool", "nullable": True},
        "count": {"type": "int", "min": 1, "max": 4, "nullable": True},
        "amount": {"type": "float", "min": 1.5, "max": 3.5},
        "constant": {"type": "category", "values": ["a"]},
        "ident": {"type": "int", "min": 0, "max": 39},
    }
    notes = "\n".join(draft.notes)
    assert "amount: 1 values are not numbers (such as 'oops')" in notes
    assert "constant: the same value in every row" in notes
    assert "ident: a different whole number in every row; if it is an identifier, list it in data.exclude" in notes


def test_a_measurement_that_differs_in_every_row_is_not_taken_for_an_identifier():
    import numpy as np

    frame = pd.DataFrame({"spend": np.random.default_rng(0).normal(50, 10, 40), "label": [0, 1] * 20})
    assert not [note for note in draft_features(frame, "label").notes if note.startswith("spend:")]


def test_a_typed_file_says_which_whole_numbers_are_floats(tmp_path):
    """Parquet stores each column's type: a float column whose values happen to be whole stays float, gaps or not,
    and an int column stays int though pandas reads it as floats for its nulls. A CSV stores text, so there a whole
    float is drafted as an int, as before."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 40
    table = pa.table({
        "price": pa.array([float(i % 5 + 1) for i in range(rows)], pa.float64()),                # 1.0 .. 5.0
        "weight": pa.array([None if i % 4 == 0 else float(i) for i in range(rows)], pa.float32()),
        "visits": pa.array([None if i % 4 == 0 else i % 7 for i in range(rows)], pa.int64()),    # read as float64
        "rooms": pa.array([i % 6 for i in range(rows)], pa.int32()),
        "kind": pa.array(["a", "b"] * 20).dictionary_encode(),
        "label": pa.array([0, 1] * 20, pa.int64()),
    })
    pq.write_table(table, tmp_path / "d.parquet")
    frame = read_table(tmp_path / "d.parquet")
    assert frame["visits"].dtype == "float64"  # what makes the schema, not the frame, the one to ask

    assert stored_types(tmp_path / "d.parquet") == {"price": "float", "weight": "float", "visits": "int",
                                                    "rooms": "int", "label": "int"}
    features = draft_features(frame, "label", stored=stored_types(tmp_path / "d.parquet")).features
    assert features["price"] == {"type": "float", "min": 1.0, "max": 5.0}
    assert features["weight"] == {"type": "float", "min": 1.0, "max": 39.0, "nullable": True}
    assert features["visits"] == {"type": "int", "min": 0, "max": 6, "nullable": True}
    assert features["rooms"] == {"type": "int", "min": 0, "max": 5}
    assert features["kind"] == {"type": "category", "values": ["a", "b"]}
    declared = draft_features(frame, "label", declared={"price": "int"}, stored=stored_types(tmp_path / "d.parquet"))
    assert declared.features["price"] == {"type": "int", "min": 1, "max": 5}  # your type, which the data fits

    frame.to_csv(tmp_path / "d.csv", index=False)  # the same numbers as text: "1.0", "2.0", …
    assert stored_types(tmp_path / "d.csv") == {}
    features = draft_features(read_table(tmp_path / "d.csv"), "label", stored=stored_types(tmp_path / "d.csv")).features
    assert features["price"] == {"type": "int", "min": 1, "max": 5}
    assert features["visits"] == {"type": "int", "min": 0, "max": 6, "nullable": True}


@pytest.fixture
def fork(tmp_path):
    """A fork before step 2: the template's params.yaml, the user's data in data/."""
    root = tmp_path / "fork"
    (root / "data").mkdir(parents=True)
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    return root


def _blocks(text: str) -> dict[str, str]:
    """Top-level key → its lines, as written."""
    blocks, key = {}, None
    for line in text.splitlines():
        if line[:1].isalpha():
            key = line.split(":")[0]
        if key:
            blocks[key] = blocks.get(key, "") + line + "\n"
    return blocks


def test_a_classification_fork_runs_after_one_command(fork):
    iris = load_iris(as_frame=True).frame
    iris.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    iris["species"] = iris["species"].map(dict(enumerate(["setosa", "versicolor", "virginica"])))
    iris.loc[::10, "petal_width"] = np.nan
    iris.to_csv(fork / "data" / "iris.csv", index=False)
    before = (fork / "params.yaml").read_text()

    printed = assert_ok(run_script("draft_params.py", "data/iris.csv", "--target", "species", cwd=fork))
    assert (fork / "params.yaml").read_text() == before  # without --write nothing is written
    run = assert_ok(run_script("draft_params.py", "data/iris.csv", "--target", "species", "--write", cwd=fork))
    after = (fork / "params.yaml").read_text()
    assert after == printed.stdout
    assert "classification of 'species'" in run.stderr and "critical_columns" in run.stderr

    raw = yaml.safe_load(after)
    assert raw["data"] == {"path": "data/iris.csv", "exclude": []} and raw["target"] == "species"
    assert raw["features"]["petal_width"] == {"type": "float", "min": 0.1, "max": 2.5, "nullable": True}
    assert raw["model"] == yaml.safe_load(before)["model"]  # still a classifier: kept as it was
    assert after.count("\n\n") == before.count("\n\n")  # the blank lines between blocks, and
    assert "# Every feature column, its type" in after  # the comment above features:, stay
    old, new = _blocks(before), _blocks(after)
    for key in ("model", "split", "metrics", "gate", "registry", "serving"):
        assert new[key] == old[key], key  # comments and all
    sample_critical = "[contract, tenure_months]"
    assert new["drift"] == old["drift"].replace(sample_critical, "[]".ljust(len(sample_critical)))

    assert_ok(run_script("run_pipeline.py", cwd=fork))
    metrics = json.loads((fork / "reports" / "metrics.json").read_text())
    assert metrics["metrics"]["roc_auc"] > 0.9 and metrics["confusion_matrix"]["labels"] == ["setosa", "versicolor",
                                                                                  "virginica"]


def test_zero_padded_codes_stay_categories_with_their_zeros_from_draft_to_drift(fork):
    """ZIP and product codes: pandas reads "02134" as the number 2134. Drafted as a category with the codes as
    written, validated, trained and read back by the drift job under the same names."""
    from ml.drift.readers import iter_batches
    from ml.params import load_params

    rng = np.random.default_rng(4)
    codes = [f"{z:05d}" for z in rng.integers(500, 99_999, 12)]
    frame = pd.DataFrame({"zip": rng.choice(codes, 600), "plan": rng.choice(["1.0", "2.0"], 600),
                          "x": rng.normal(size=600), "bought": rng.choice(["no", "yes"], 600)})
    frame.to_csv(fork / "data" / "shop.csv", index=False)

    run = assert_ok(run_script("draft_params.py", "data/shop.csv", "--target", "bought", "--write", cwd=fork))
    assert "zip: codes written with leading zeros (such as '0" in run.stderr
    text = (fork / "params.yaml").read_text()
    zip_line = next(line for line in text.splitlines() if line.strip().startswith("zip:"))
    assert all(f"'{code}'" in zip_line for code in codes)  # quoted: a YAML 1.2 parser would read 05482 as a number
    raw = yaml.safe_load(text)
    assert raw["features"]["zip"] == {"type": "category", "values": sorted(set(frame["zip"]))}
    assert raw["features"]["plan"] == {"type": "int", "min": 1, "max": 2}  # "1.0" is a number: no zeros to keep

    assert_ok(run_script("validate_data.py", cwd=fork))
    assert_ok(run_script("train.py", cwd=fork))
    params = load_params(fork / "params.yaml")
    seen = {value for batch in iter_batches(fork / "data" / "shop.csv", params.features, params.task)
            for value in batch.columns["zip"].to_pylist()}
    assert seen == set(codes) & set(frame["zip"])


def test_a_regression_fork_gets_a_regressor_and_its_metrics(fork):
    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = frame["sex"].map({1.0: "f", 2.0: "m"})
    frame.to_csv(fork / "data" / "diabetes.csv", index=False)

    run = assert_ok(run_script("draft_params.py", "data/diabetes.csv", "--target", "target", "--write", cwd=fork))
    assert "task: classification → regression" in run.stderr
    raw = yaml.safe_load((fork / "params.yaml").read_text())
    assert raw["task"] == "regression" and raw["features"]["sex"] == {"type": "category", "values": ["f", "m"]}
    assert raw["model"]["class"] == "sklearn.ensemble.HistGradientBoostingRegressor"
    assert raw["model"]["params"] == {"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 31}  # its twin's
    assert raw["metrics"] == {"primary": {"name": "rmse", "direction": "minimize"}, "guardrails": {"r2": 0.01}}

    assert_ok(run_script("run_pipeline.py", cwd=fork))
    metrics = json.loads((fork / "reports" / "metrics.json").read_text())
    assert set(metrics["metrics"]) == {"rmse", "mae", "r2"} and metrics["metrics"]["r2"] > 0.2


def test_redrafting_keeps_what_you_declared_and_widens_it_to_the_data(fork, sample_csv):
    frame = read_table(sample_csv)
    frame.loc[:9, "tenure_months"] = 90                       # beyond the declared max of 72
    frame.loc[:4, "internet_service"] = "satellite"           # a category params.yaml does not list
    frame["promo"] = frame.index % 3 == 0                     # a new column
    frame.to_csv(fork / "data" / "churn.csv", index=False)
    declared = yaml.safe_load((fork / "params.yaml").read_text())["features"]

    run = assert_ok(run_script("draft_params.py", "data/churn.csv", "--target", "churned", "--write", cwd=fork))
    assert "11 kept as declared, widened to the data: tenure_months, internet_service" in run.stderr
    features = yaml.safe_load((fork / "params.yaml").read_text())["features"]
    assert features["tenure_months"] == {**declared["tenure_months"], "max": 90}
    assert features["internet_service"]["values"] == [*declared["internet_service"]["values"], "satellite"]
    assert features["promo"] == {"type": "bool"}
    for name in ("monthly_charges", "total_charges", "payment_method", "region"):  # your ranges, your order
        assert features[name] == declared[name], name


def test_redrafting_matches_declared_categories_as_training_does(fork, sample_csv):
    """Declared 1.0 is the category "1", as the data's "1" is: not a new value, which would make a duplicate."""
    frame = read_table(sample_csv)
    frame["tier"] = [["1", "2", "3", "gold"][i % 4] for i in range(len(frame))]
    frame.to_csv(fork / "data" / "churn.csv", index=False)
    text = (fork / "params.yaml").read_text()
    (fork / "params.yaml").write_text(text.replace("features:\n", "features:\n  tier: {type: category, values: "
                                                                   "[1.0, 2.0, gold]}\n", 1))

    run = assert_ok(run_script("draft_params.py", "data/churn.csv", "--target", "churned", "--write", cwd=fork))
    assert "widened to the data: tier" in run.stderr
    features = yaml.safe_load((fork / "params.yaml").read_text())["features"]
    assert features["tier"] == {"type": "category", "values": [1.0, 2.0, "gold", "3"]}


def test_redrafting_keeps_declared_types_the_data_alone_cannot_tell(fork, sample_csv):
    """Whole numbers may be category codes, 0/1 flags or floats that happen to be whole: each declared type stays,
    widened to new values as validation names them (a column of codes with gaps is read as floats, 4.0 is "4")."""
    frame = read_table(sample_csv)
    rows = np.arange(len(frame))
    frame["plan_code"] = np.where(rows % 7 == 0, np.nan, rows % 4 + 1)
    frame["zip"] = np.array([10115, 20095, 80331, 50667])[rows % 4]
    frame["promo"] = rows % 2
    frame["discount"] = rows % 12
    frame.to_csv(fork / "data" / "churn.csv", index=False)
    declared = ("  plan_code: {type: category, values: [1, 2, 3], nullable: true}\n"
                "  zip: {type: category, values: ['10115', '20095', '80331']}\n"
                "  promo: {type: bool}\n"
                "  discount: {type: float, min: 0, max: 10}\n")
    text = (fork / "params.yaml").read_text()
    (fork / "params.yaml").write_text(text.replace("features:\n", f"features:\n{declared}", 1))

    run = assert_ok(run_script("draft_params.py", "data/churn.csv", "--target", "churned", "--write", cwd=fork))
    assert "15 kept as declared, widened to the data: plan_code, zip, discount" in run.stderr
    assert "redrafted" not in run.stderr
    features = yaml.safe_load((fork / "params.yaml").read_text())["features"]
    assert features["plan_code"] == {"type": "category", "values": [1, 2, 3, "4"], "nullable": True}
    assert features["zip"] == {"type": "category", "values": ["10115", "20095", "80331", "50667"]}
    assert features["promo"] == {"type": "bool"}
    assert features["discount"] == {"type": "float", "min": 0, "max": 11}
    assert_ok(run_script("validate_data.py", cwd=fork))


def test_redrafting_keeps_the_comments_of_the_features_it_keeps(fork, sample_csv):
    frame = read_table(sample_csv)
    frame.loc[:9, "tenure_months"] = 90
    frame["region"] = frame["monthly_charges"]  # now measurements: redrafted, so its comment no longer applies
    frame.to_csv(fork / "data" / "churn.csv", index=False)
    text = (fork / "params.yaml").read_text()
    for name, comment in (("tenure_months", "# my domain range"), ("monthly_charges", "# in euros"),
                          ("region", "# where they live")):
        line = next(line for line in text.splitlines() if line.startswith(f"  {name}:"))
        text = text.replace(line, f"{line}  {comment}")
    (fork / "params.yaml").write_text(text)

    run = assert_ok(run_script("draft_params.py", "data/churn.csv", "--target", "churned", "--write", cwd=fork))
    assert "10 kept as declared, widened to the data: tenure_months" in run.stderr
    assert "1 redrafted, the data no longer fits their type: region (category → float)" in run.stderr
    lines = {line.split(":")[0].strip(): line for line in _blocks((fork / "params.yaml").read_text())["features"]
             .splitlines()}
    assert lines["tenure_months"] == "  tenure_months:      {type: int, min: 0, max: 90}  # my domain range"
    assert lines["monthly_charges"] == "  monthly_charges:    {type: float, min: 10, max: 150}  # in euros"
    assert "#" not in lines["region"]


def test_a_model_with_no_twin_is_replaced_by_the_tasks_default(fork):
    text = (fork / "params.yaml").read_text()
    text = text.replace("sklearn.ensemble.HistGradientBoostingClassifier", "sklearn.linear_model.LogisticRegression")
    text = text.replace("    max_iter: 200\n    learning_rate: 0.1\n    max_leaf_nodes: 31\n", "    C: 0.5\n")
    (fork / "params.yaml").write_text(text)
    pd.DataFrame({"x": np.linspace(0, 1, 50), "y": np.linspace(0, 5, 50) ** 2}).to_csv(fork / "data" / "t.csv",
                                                                                     index=False)
    run = assert_ok(run_script("draft_params.py", "data/t.csv", "--target", "y", "--write", cwd=fork))
    assert "params reset" in run.stderr
    assert yaml.safe_load((fork / "params.yaml").read_text())["model"] == {
        "class": "sklearn.ensemble.HistGradientBoostingRegressor", "params": {"max_iter": 200}}


@pytest.mark.parametrize("frame, args, needles", [
    (None, ["data/none.csv", "--target", "y"], ["data/none.csv", "not found"]),
    (pd.DataFrame({"a": [1, 2], "b": [3, 4]}), ["--target", "y"], ["target 'y'", "columns: a, b"]),
    (pd.DataFrame({"id": [f"u{i}" for i in range(50)], "y": [0, 1] * 25}), ["--target", "y"],
     ["column 'id'", "50 distinct text values"]),
    (pd.DataFrame({"gone": [None] * 4, "x": [1, 2, 3, 4], "y": [0, 1, 0, 1]}), ["--target", "y"],
     ["column 'gone'", "empty in every row"]),
    (pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]}), ["--target", "y", "--task", "regression"],
     ["target 'y'", "holds text"]),
    (pd.DataFrame({"x": [1, 2, 3], "y": [1, 1, 1]}), ["--target", "y"], ["target 'y'", "single class"]),
])
def test_bad_input_is_one_line_and_leaves_params_alone(fork, frame, args, needles):
    if frame is not None:
        frame.to_csv(fork / "data" / "d.csv", index=False)
        args = ["data/d.csv", *args]
    before = (fork / "params.yaml").read_text()
    assert_one_line_error(run_script("draft_params.py", *args, "--write", cwd=fork), *needles)
    assert (fork / "params.yaml").read_text() == before


def test_dates_are_refused_by_name(fork):
    frame = pd.DataFrame({"signup": pd.date_range("2026-01-01", periods=30), "x": range(30), "y": [0, 1] * 15})
    frame.to_parquet(fork / "data" / "d.parquet")
    run = run_script("draft_params.py", "data/d.parquet", "--target", "y", cwd=fork)
    assert_one_line_error(run, "column 'signup'", "dates or times")


def test_a_params_file_that_is_not_yaml_is_named(fork):
    pd.DataFrame({"x": [1, 2, 3, 4], "y": [0, 1, 0, 1]}).to_csv(fork / "data" / "d.csv", index=False)
    (fork / "params.yaml").write_text("data: [unclosed\n")
    run = run_script("draft_params.py", "data/d.csv", "--target", "y", "--write", cwd=fork)
    assert_one_line_error(run, "params.yaml", "not valid YAML")
    assert (fork / "params.yaml").read_text() == "data: [unclosed\n"


def test_dates_in_a_csv_are_refused_by_name_even_when_they_repeat(fork):
    """A CSV's dates are text to pandas, and 30 dates over 300 rows would pass for a category."""
    days = pd.date_range("2026-01-01", periods=30).strftime("%Y-%m-%d")
    frame = pd.DataFrame({"signup": list(days) * 10, "x": range(300), "y": [0, 1] * 150})
    frame.to_csv(fork / "data" / "d.csv", index=False)
    run = run_script("draft_params.py", "data/d.csv", "--target", "y", cwd=fork)
    assert_one_line_error(run, "column 'signup'", "dates or times", "data.exclude")


def test_redrafting_keeps_a_relative_guardrail_as_written(fork, sample_csv):
    """An unquoted `log_loss: 10%` is a valid guardrail: the draft, which checks the file it writes, keeps it."""
    from ml.params import Tolerance, load_params

    shutil.copy(sample_csv, fork / "data" / "churn.csv")
    params = fork / "params.yaml"
    params.write_text(params.read_text().replace("    log_loss: 0.02\n", "    log_loss: 10%\n"))

    assert_ok(run_script("draft_params.py", "data/churn.csv", "--target", "churned", "--write", cwd=fork))
    assert "    log_loss: 10%\n" in params.read_text()
    assert load_params(params).guardrails["log_loss"] == Tolerance(10.0, relative=True)

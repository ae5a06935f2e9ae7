"""`make demo` after the README's "adapt it to your data" steps, followed literally on a dataset that is not the
sample: scikit-learn's breast-cancer table (string labels, float features only) and a LogisticRegression; and
the two choices that make it work on any data (the hyperparameter round 2 tunes, the simulated drift)."""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from sklearn.datasets import load_breast_cancer

from ml.demo_plan import round_two_change, round_two_summary
from ml.drift.simulate import DriftSpec, typical_drift
from ml.params import parse_params
from tests.conftest import REPO, assert_ok, run_script, script_env
from tests.drift.conftest import load_script

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning:dvc")]  # DVC's own, not ours


@pytest.mark.parametrize("model, change", [
    ({"class": "sklearn.ensemble.HistGradientBoostingClassifier", "params": {"max_iter": 200}},
     {"learning_rate": 0.05, "max_iter": 400}),
    ({"class": "sklearn.ensemble.GradientBoostingRegressor"}, {"learning_rate": 0.05, "n_estimators": 200}),
    ({"class": "sklearn.linear_model.LogisticRegression"}, {"C": 0.1}),
    ({"class": "sklearn.linear_model.SGDClassifier"}, {"alpha": 1e-5}),  # its learning_rate is a schedule name
    ({"class": "sklearn.ensemble.RandomForestClassifier", "params": {"n_estimators": 50}}, {"n_estimators": 100}),
    ({"class": "sklearn.neighbors.KNeighborsRegressor"}, {"n_neighbors": 10}),
    ({"class": "sklearn.tree.DecisionTreeClassifier"}, {"min_samples_leaf": 5}),
    ({"class": "sklearn.tree.DecisionTreeRegressor", "params": {"min_samples_leaf": 0.02}}, {"min_samples_leaf": 0.01}),
    ({"class": "sklearn.naive_bayes.GaussianNB"}, {"var_smoothing": 1e-2}),  # its default 1e-9 changes nothing
    ({"class": "sklearn.naive_bayes.GaussianNB", "params": {"var_smoothing": 0.05}}, {"var_smoothing": 0.5}),
    ({"class": "sklearn.naive_bayes.BernoulliNB"}, {"alpha": 0.1}),
    ({"class": "sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis"}, {"reg_param": 0.1}),
    ({"class": "sklearn.discriminant_analysis.LinearDiscriminantAnalysis"}, {"solver": "lsqr", "shrinkage": "auto"}),
    ({"class": "sklearn.neighbors.RadiusNeighborsClassifier"}, {"radius": 2.0}),
    ({"class": "sklearn.svm.NuSVC", "params": {"probability": True}}, {"nu": 0.25}),
    ({"class": "sklearn.neural_network.MLPClassifier"}, {"alpha": 1e-5}),
    ({"class": "sklearn.linear_model.LinearRegression"}, {}),  # nothing to tune: round 2 retrains as is, and says so
    ({"class": "sklearn.dummy.DummyClassifier"}, {}),
])
def test_round_two_tunes_a_knob_the_estimator_has(model, change):
    assert round_two_change(model) == pytest.approx(change)


def test_round_two_changes_are_valid_hyperparameters_yaml_can_write():
    """Every estimator the template can build gets a change it accepts, in plain Python values (numpy scalars
    would not survive yaml.safe_dump), or none at all."""
    import warnings

    from sklearn.base import ClassifierMixin
    from sklearn.utils import all_estimators

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, cls in all_estimators(type_filter=["classifier", "regressor"]):
            try:
                defaults = cls().get_params()
            except TypeError:  # meta-estimators: params.yaml cannot build them
                continue
            model = {"class": f"{cls.__module__}.{name}", "params": {}}
            if issubclass(cls, ClassifierMixin) and "probability" in defaults:
                model["params"]["probability"] = True
            try:
                cls(**model["params"])._validate_params()
            except ValueError:  # needs an estimator object too (SelfTrainingClassifier): not buildable either
                continue
            change = round_two_change(model)
            assert yaml.safe_load(yaml.safe_dump(change)) == change, name
            cls(**{**model["params"], **change})._validate_params()


@pytest.mark.parametrize("model, says", [
    ({"class": "sklearn.ensemble.HistGradientBoostingClassifier", "params": {"max_iter": 200}},
     "round 2 changes HistGradientBoostingClassifier's model.params: learning_rate 0.1 → 0.05, max_iter 200 → 400"),
    ({"class": "sklearn.naive_bayes.GaussianNB"},
     "round 2 changes GaussianNB's model.params: var_smoothing 1e-09 → 0.01"),
    ({"class": "sklearn.discriminant_analysis.LinearDiscriminantAnalysis"},
     'model.params: solver "svd" → "lsqr", shrinkage null → "auto"'),
])
def test_the_demo_says_what_round_two_changes(model, says):
    assert says in round_two_summary(model, round_two_change(model))


def test_the_demo_says_when_round_two_changes_nothing():
    model = {"class": "sklearn.linear_model.LinearRegression"}
    said = round_two_summary(model, round_two_change(model))
    assert said.startswith("round 2 changes nothing: LinearRegression has no hyperparameter the demo knows")
    assert "retrains the same model" in said and "rejected, the champion stays" in said


def _orders(value):
    """Every mapping's key order, depth first: what a reader of the file (and the model's columns) sees."""
    if isinstance(value, dict):
        return [list(value), *(order for item in value.values() for order in _orders(item))]
    return []


def test_the_demo_params_keep_the_users_key_and_feature_order(tmp_path, monkeypatch):
    demo = load_script("demo.py")
    monkeypatch.setattr(demo, "DEMO", tmp_path)
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    base["features"] = {"zeta": {"type": "float", "max": 1, "min": 0}, "alpha": {"type": "int"},
                        **base["features"]}  # not alphabetical, and a mapping whose keys are not either
    untouched = copy.deepcopy(base)
    for name, change in (("round-1", {}), ("round-2", {"learning_rate": 0.05, "max_iter": 400, "l2": 1.0})):
        written = yaml.safe_load(Path(demo.write_params(name, base, **change)).read_text())
        assert list(written) == list(base)
        assert list(written["features"]) == list(base["features"])
        assert _orders(written["features"]) == _orders(base["features"])
        assert list(written["model"]["params"]) == [*base["model"]["params"], *[k for k in change if k not in
                                                                                base["model"]["params"]]]
        assert parse_params(written, tmp_path).feature_names == list(base["features"])
    assert base == untouched and _orders(base) == _orders(untouched)  # the user's own params are not changed


def test_the_demo_params_of_a_model_without_params(tmp_path, monkeypatch):
    demo = load_script("demo.py")
    monkeypatch.setattr(demo, "DEMO", tmp_path)
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    base["model"] = {"class": "sklearn.naive_bayes.GaussianNB", "params": None}
    assert yaml.safe_load(Path(demo.write_params("round-1", base)).read_text())["model"]["params"] is None
    written = yaml.safe_load(Path(demo.write_params("round-2", base, var_smoothing=0.01)).read_text())
    assert written["model"] == {"class": "sklearn.naive_bayes.GaussianNB", "params": {"var_smoothing": 0.01}}


def test_typical_drift_follows_the_features(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    spec = typical_drift(parse_params(raw, tmp_path))  # the sample: tenure_months is critical and numeric
    assert spec == DriftSpec({"tenure_months": 1.0}, {"contract": 0.05}, {"region": 0.2})
    raw["drift"]["critical_columns"] = ["monthly_charges"]
    raw["features"]["region"]["nullable"] = False  # no nullable category left: a nullable number is blanked
    assert typical_drift(parse_params(raw, tmp_path)) == DriftSpec({"monthly_charges": 1.0}, {"contract": 0.05},
                                                                   {"total_charges": 0.2})
    raw["features"] = {"a": {"type": "bool"}, "b": {"type": "float"}}
    raw["drift"]["critical_columns"] = []
    assert typical_drift(parse_params(raw, tmp_path)) == DriftSpec({"b": 1.0}, {}, {})


def test_typical_drift_moves_enough_features_to_trip_the_dataset_rule(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["drift"]["critical_columns"] = []  # what draft_params.py leaves: 3 of 11 is below the 30% rule
    assert typical_drift(parse_params(raw, tmp_path)) == DriftSpec(
        {"tenure_months": 1.0, "monthly_charges": 1.0}, {"contract": 0.05}, {"region": 0.2})
    raw["drift"]["dataset_share"] = 0.5  # 6 of 11
    spec = typical_drift(parse_params(raw, tmp_path))
    assert spec == DriftSpec({"tenure_months": 1.0, "monthly_charges": 1.0, "total_charges": 1.0},
                             {"contract": 0.05, "payment_method": 0.05}, {"region": 0.2})
    raw["features"] = {f"x{i}": {"type": "float"} for i in range(10)} | {"flag": {"type": "bool"}}
    assert len(typical_drift(parse_params(raw, tmp_path)).shift_mean) == 6
    raw["drift"]["critical_columns"] = ["flag"]  # a critical column that only a null spike can move
    assert typical_drift(parse_params(raw, tmp_path)) == DriftSpec({"x0": 1.0}, {}, {"flag": 0.2})


def test_the_demo_shows_an_issue_only_for_a_drifted_batch():
    heading = load_script("demo.py").drift_heading
    assert heading({"dataset_drift": True}) == "== The drift issue the scheduled job would open"
    assert "would open no issue" in heading({"dataset_drift": False})


@pytest.fixture
def adopted(tmp_path: Path) -> Path:
    """A fork after steps 1-3 of the README: its own data in data/ under `dvc add`, params.yaml describing it."""
    repo = tmp_path / "fork"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / ".dvc").mkdir()
    for name in ("config", ".gitignore"):
        shutil.copy(REPO / ".dvc" / name, repo / ".dvc" / name)
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [name.replace(" ", "_") for name in frame.columns]
    frame["diagnosis"] = frame.pop("target").map({0: "malignant", 1: "benign"})
    (repo / "data").mkdir()
    frame.to_csv(repo / "data" / "cancer.csv", index=False)

    shutil.copy(REPO / "params.yaml", repo / "params.yaml")
    assert_ok(run_script("draft_params.py", "data/cancer.csv", "--target", "diagnosis", "--write", cwd=repo))
    raw = yaml.safe_load((repo / "params.yaml").read_text())
    assert raw["features"]["mean_radius"]["type"] == "float" and len(raw["features"]) == 30
    raw["model"] = {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 5000}}
    raw["drift"]["critical_columns"] = ["mean_radius"]
    raw["gate"]["bootstrap_resamples"] = 200
    (repo / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))

    from dvc.repo import Repo

    with contextlib.chdir(repo), Repo(".") as dvc:
        dvc.add("data")
    return repo


def test_make_demo_runs_on_adopted_data_and_estimator(adopted: Path):
    # An exported MODEL_REGISTRY (docs/github.md) must not send the demo's models to the user's real registry.
    run = assert_ok(run_script("demo.py", cwd=adopted, env=script_env(MODEL_REGISTRY="github")))
    assert "data/cancer.csv: present, matches data.dvc" in run.stdout
    assert "(round 2 changes LogisticRegression's model.params: C 1.0 → 0.1)" in run.stdout

    registry = adopted / "artifacts" / "demo" / "registry"
    card = (registry / "v1" / "model_card.md").read_text()
    assert card.startswith("# Model card: fork v1\n") and "classification of `diagnosis`" in card  # the fork's name
    second = json.loads((adopted / "reports/demo/round-2/comparison.json").read_text())
    assert second["champion"]["version"] == 1
    assert second["params_diff"] == [{"key": "model.params.C", "challenger": 0.1}]  # absent in the champion
    assert set(second["metrics"]) >= {"roc_auc", "accuracy", "log_loss"}

    assert "The drift issue the scheduled job would open" in run.stdout
    drift = json.loads((adopted / "reports/demo/drift/drift.json").read_text())
    drifted = {column["column"] for column in drift["columns"] if column["drifted"]}
    assert drift["dataset_drift"] is True and "mean_radius" in drifted
    assert "mean_radius" in (adopted / "reports/demo/drift/drift.md").read_text()
    assert not list((adopted / "data").glob("churn*"))  # the sample was never regenerated into a fork's data

"""reference.json: fitted at training time, enough for every drift test, checked against params on load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from ml.bundle import load_bundle
from ml.data import model_frame, read_table
from ml.drift.job import detect_drift
from ml.drift.profile import profile_source
from ml.drift.reference import build_reference, load_reference
from ml.drift.scoring import model_scores
from ml.errors import DataError
from ml.params import Params
from tests.drift.conftest import bundle_metadata, make_frame, make_params


def drifted_frame(rows: int, seed: int):
    frame = make_frame(np.random.default_rng(seed), rows)
    frame["monthly_charges"] += 10  # 0.5 σ
    frame.loc[frame.index[: rows // 5], "region"] = None
    return frame


def test_a_stored_reference_reaches_the_same_verdicts_as_the_data(tmp_path: Path) -> None:
    params = make_params(tmp_path, reference_sample=2000)
    training = make_frame(np.random.default_rng(1), 8000)
    training.to_csv(tmp_path / "training.csv", index=False)
    reference = build_reference(training, None, params)
    (tmp_path / "reference.json").write_text(json.dumps(reference))  # plain JSON: no default= needed
    assert len(reference["columns"]["monthly_charges"]["sample"]) == 2000
    assert reference["columns"]["contract"]["counts"].keys() == {"month-to-month", "one-year", "two-year"}
    drifted_frame(5000, 2).to_csv(tmp_path / "current.csv", index=False)

    from_data = detect_drift(tmp_path / "training.csv", tmp_path / "current.csv", params)
    from_json = detect_drift(tmp_path / "reference.json", tmp_path / "current.csv", params)
    flags = [{c["column"]: c["drifted"] for c in result["columns"]} for result in (from_data, from_json)]
    assert flags[0] == flags[1]
    assert flags[0]["monthly_charges"] and flags[0]["region"] and sum(flags[0].values()) == 2
    assert from_json["reference"]["rows"] == 8000


def test_holdout_scores_give_prediction_drift_against_scored_data(tmp_path: Path, model_bundle: Path) -> None:
    params = make_params(tmp_path)
    model, _ = load_bundle(model_bundle)
    training, holdout = make_frame(np.random.default_rng(3), 4000), make_frame(np.random.default_rng(13), 1000)
    reference = build_reference(training, model_scores(model, holdout, params.task), params)
    assert reference["prediction"]["kind"] == "numeric" and reference["prediction_origin"] == "holdout"
    assert reference["rows"] == 4000 and reference["prediction"]["rows"] == 1000
    (tmp_path / "reference.json").write_text(json.dumps(reference))

    current = make_frame(np.random.default_rng(4), 3000)
    current["contract"] = "month-to-month"  # the strongest churn driver: the scores must move
    current.to_csv(tmp_path / "current.csv", index=False)
    result = detect_drift(tmp_path / "reference.json", tmp_path / "current.csv", params, model_dir=model_bundle)
    prediction = next(c for c in result["columns"] if c["role"] == "prediction")
    assert prediction["type"] == "score" and prediction["drifted"]
    assert result["verdict"]["prediction_drifted"] and result["dataset_drift"]


def test_an_overfitting_model_raises_no_false_alarm_on_unchanged_data(tmp_path: Path) -> None:
    """A random forest's scores on its own training rows sit near 0 and 1; on unseen rows they do not.

    Production rows are unseen rows, so the reference holds holdout scores: unchanged data is no drift. The same
    check against training-row scores (the trap this avoids) does flag it.
    """
    from ml.bundle import save_bundle
    from ml.model import build_pipeline

    params = make_params(tmp_path)
    model = build_pipeline(params)
    model.steps[-1] = ("model", RandomForestClassifier(n_estimators=30, random_state=0))
    training = make_frame(np.random.default_rng(21), 4000, with_target=True)
    holdout, current = make_frame(np.random.default_rng(22), 2000), make_frame(np.random.default_rng(23), 3000)
    model.fit(training[params.feature_names], training["churned"])
    save_bundle(model, bundle_metadata(params), tmp_path / "forest")
    current.to_csv(tmp_path / "current.csv", index=False)

    def prediction_drifted(scored: pd.DataFrame) -> bool:
        reference = build_reference(training, model_scores(model, scored, params.task), params)
        (tmp_path / "reference.json").write_text(json.dumps(reference))
        result = detect_drift(tmp_path / "reference.json", tmp_path / "current.csv", params,
                              model_dir=tmp_path / "forest")
        assert not result["verdict"]["drifted_columns"]  # the features did not move
        return result["verdict"]["prediction_drifted"]

    assert not prediction_drifted(holdout)
    assert prediction_drifted(training[params.feature_names])


def test_loading_checks_the_reference_against_params(tmp_path: Path, params: Params) -> None:
    reference = build_reference(make_frame(np.random.default_rng(5), 500), None, params)
    path = tmp_path / "reference.json"

    def load_with(change) -> str:
        raw = json.loads(json.dumps(reference))
        change(raw)
        path.write_text(json.dumps(raw))
        with pytest.raises(DataError) as error:
            load_reference(path, params.features)
        return str(error.value)

    assert "no statistics for feature 'region'" in load_with(lambda raw: raw["features"].pop("region"))
    assert "was category at training time" in load_with(lambda raw: raw["features"].update(tenure_months="category"))
    assert "not a drift reference" in load_with(lambda raw: raw.update(format="something-else"))
    assert "malformed" in load_with(lambda raw: raw["columns"]["tenure_months"].pop("sample"))
    path.write_text("{not json")
    with pytest.raises(DataError, match="not a readable reference.json"):
        load_reference(path, params.features)


def test_an_empty_holdout_is_refused(params: Params) -> None:
    with pytest.raises(DataError, match="holdout: no scores"):
        build_reference(make_frame(np.random.default_rng(6), 10), np.zeros(0), params)


def test_the_training_csv_shows_no_drift_against_its_own_reference(tmp_path: Path) -> None:
    """The reference comes from the frame training reads; the drift job reads the same file its own way.

    "NA" (North America) and the other spellings pandas and pyarrow take for missing are categories, only an
    empty field is missing; integer codes with gaps are written as 1.0, 2.0 and are the categories "1", "2".
    """
    regions = ["NA", "EU", "null", "None", "N/A", "nan"]
    params = make_params(tmp_path, {"region": {"type": "category", "values": regions, "nullable": True},
                                    "plan": {"type": "category", "values": [1, 2, 3], "nullable": True}})
    rng = np.random.default_rng(8)
    training = make_frame(rng, 4000)
    training["region"] = rng.choice([*regions, ""], len(training))
    training["plan"] = rng.choice([1.0, 2.0, 3.0, np.nan], len(training))
    training.to_csv(tmp_path / "training.csv", index=False)
    written = (tmp_path / "training.csv").read_text()
    assert ",NA," in written and ",2.0\n" in written and ",\n" in written  # as pandas writes them
    reference = build_reference(model_frame(read_table(tmp_path / "training.csv"), params), None, params)
    (tmp_path / "reference.json").write_text(json.dumps(reference))

    current = profile_source(tmp_path / "training.csv", params.features, params.task, 10_000)
    stored = load_reference(tmp_path / "reference.json", params.features)
    for name in ("region", "plan"):
        assert (current.columns[name].counts, current.columns[name].nulls) == (
            stored.columns[name].counts, stored.columns[name].nulls), name
    assert current.columns["plan"].counts.keys() == {"1", "2", "3"}
    result = detect_drift(tmp_path / "reference.json", tmp_path / "training.csv", params)
    assert not result["verdict"]["drifted_columns"] and not result["dataset_drift"]

"""The compiled fast path gives the pipeline's outputs (to 1e-9) or is not used."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder
from threadpoolctl import threadpool_limits

from ml.data import json_records, model_frame
from ml.errors import IntegrityError
from serving.compiled import SMALL_BATCH
from serving.predictor import Predictor, sample_records
from serving.schema import RequestSchema


@pytest.fixture(autouse=True)
def one_thread():
    """As on the server's model thread: OpenMP threads only slow small predictions down."""
    with threadpool_limits(1):
        yield


def pipeline_scores(trained, records):
    frame = model_frame(pd.DataFrame.from_records(records, columns=trained.params.feature_names), trained.params)
    if trained.params.task == "classification":
        return trained.pipeline.predict_proba(frame)
    return trained.pipeline.predict(frame)


def with_unseen(records):
    changed = [dict(r) for r in records]
    for i, record in enumerate(changed[::7]):
        record["contract" if i % 2 else "region"] = "never-seen"
    return changed


def test_the_encoder_reproduces_the_column_transformer_bit_for_bit(trained):
    predictor = Predictor(trained.pipeline, trained.params)
    assert predictor.path == "compiled"
    records = with_unseen(trained.holdout_records())
    frame = model_frame(pd.DataFrame.from_records(records), trained.params)
    expected = trained.pipeline[0].transform(frame)
    assert np.array_equal(predictor.encoder.encode(records), expected)  # the matrix path
    small = np.vstack([predictor.encoder.encode(records[i:i + SMALL_BATCH])
                       for i in range(0, 10 * SMALL_BATCH, SMALL_BATCH)])
    assert np.array_equal(small, expected[:10 * SMALL_BATCH])  # the per-row path


@pytest.mark.parametrize("size", [1, SMALL_BATCH, SMALL_BATCH + 1, 600])
def test_compiled_predictions_equal_the_pipeline_on_the_holdout(trained, size):
    predictor = Predictor(trained.pipeline, trained.params)
    records = with_unseen(trained.holdout_records(size))
    expected = pipeline_scores(trained, records)
    outputs = predictor.predict(records)
    np.testing.assert_allclose(outputs.probabilities, expected[:, -1], rtol=0, atol=1e-9)
    assert outputs.predictions == trained.pipeline.classes_[np.argmax(expected, axis=1)].tolist()


def test_golden_records_pass_and_a_wrong_one_is_an_integrity_error(trained):
    predictor = Predictor(trained.pipeline, trained.params)
    golden = trained.metadata["golden"]
    predictor.check_golden(golden)
    outputs = predictor.predict([g["features"] for g in golden])
    np.testing.assert_allclose(outputs.probabilities, [g["probability"] for g in golden], rtol=0, atol=1e-9)
    tampered = [dict(g) for g in golden]
    tampered[2]["probability"] = golden[2]["probability"] + 0.01
    with pytest.raises(IntegrityError, match="golden record 2"):
        predictor.check_golden(tampered)


def test_regression_predictions_equal_the_pipeline(trained_regression):
    predictor = Predictor(trained_regression.pipeline, trained_regression.params)
    assert predictor.path == "compiled"
    for size in (1, 300):
        records = with_unseen(trained_regression.holdout_records(size))
        outputs = predictor.predict(records)
        assert outputs.probabilities is None
        np.testing.assert_allclose(outputs.predictions, pipeline_scores(trained_regression, records),
                                   rtol=0, atol=1e-9)
    predictor.check_golden(trained_regression.metadata["golden"])


def test_an_unknown_pipeline_is_served_through_scikit_learn(trained):
    params = trained.params
    numeric = [f.name for f in params.features if f.type in ("int", "float") and not f.nullable]
    categorical = ["contract", "payment_method", "internet_service"]
    pipeline = Pipeline([
        ("preprocess", ColumnTransformer([("numeric", MinMaxScaler(), numeric),
                                          ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)])),
        ("model", LogisticRegression(max_iter=500)),
    ]).fit(trained.dataset.X_train, trained.dataset.y_train)
    predictor = Predictor(pipeline, params)
    assert predictor.path == "pipeline"
    records = trained.holdout_records(50)
    expected = pipeline.predict_proba(model_frame(pd.DataFrame.from_records(records), params))
    np.testing.assert_allclose(predictor.predict(records).probabilities, expected[:, -1], rtol=0, atol=1e-12)


def test_a_fast_path_that_disagrees_with_the_pipeline_is_dropped(trained):
    predictor = Predictor(trained.pipeline, trained.params)
    name, position, fill, mean, scale = predictor.encoder.numeric[0]  # misread the scaler:
    predictor.encoder.numeric = ((name, position, fill, mean, scale * 2), *predictor.encoder.numeric[1:])
    difference = predictor.check_fast_path(sample_records(trained.params.features, 200))
    assert difference > 1e-9
    assert predictor.path == "pipeline"
    records = trained.holdout_records(20)
    np.testing.assert_allclose(predictor.predict(records).probabilities, pipeline_scores(trained, records)[:, -1],
                               rtol=0, atol=1e-12)


def test_sample_records_are_valid_requests(trained):
    schema = RequestSchema(trained.params.features, 1000)
    records = sample_records(trained.params.features, 300)
    assert schema.batch(json.dumps({"instances": records})) == records
    assert any(schema.unseen(r) for r in records) and any(None in r.values() for r in records)


def test_multi_class_labels_and_the_predicted_class_probability(trained, sample_csv):
    from ml.model import build_pipeline
    from ml.params import parse_params

    raw = {**trained.params.raw, "target": "contract", "model": {
        "class": "sklearn.ensemble.HistGradientBoostingClassifier", "params": {"max_iter": 30}}}
    raw["features"] = {k: v for k, v in raw["features"].items() if k != "contract"}
    params = parse_params(raw, trained.root)
    frame = pd.read_csv(sample_csv)
    pipeline = build_pipeline(params).fit(model_frame(frame, params), frame["contract"].to_numpy())
    predictor = Predictor(pipeline, params)
    assert predictor.path == "compiled" and not predictor.binary
    records = json_records(model_frame(frame.head(200), params), params)
    expected = pipeline.predict_proba(model_frame(frame.head(200), params))
    outputs = predictor.predict(records)
    assert outputs.predictions == pipeline.predict(model_frame(frame.head(200), params)).tolist()
    assert set(outputs.predictions) <= {"month-to-month", "one-year", "two-year"}
    np.testing.assert_allclose(outputs.probabilities, expected.max(axis=1), rtol=0, atol=1e-9)

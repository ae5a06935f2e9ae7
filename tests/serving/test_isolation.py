"""One client's bad input stays that client's problem: refused at validation when the schema can tell, and
never failing the requests it was micro-batched with when only the model can."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ml.params import MAX_MAGNITUDE, MAX_SAFE_INT, Feature
from serving.predictor import NonFiniteOutput, Predictor
from serving.schema import RECORD, RequestSchema
from tests.serving.conftest import serving_params, train_workspace

# Within the schema's ±1e100 but past float32's range after scaling: a random forest's input check raises on it.
FOREST_BREAKER = 1e90


@pytest.fixture(scope="module")
def unbounded(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path):
    """A random forest trained with tenure_months and monthly_charges declared without min/max."""
    raw = serving_params()
    raw["features"]["tenure_months"] = {"type": "int"}
    raw["features"]["monthly_charges"] = {"type": "float"}
    raw["model"] = {"class": "sklearn.ensemble.RandomForestClassifier",
                    "params": {"n_estimators": 100, "random_state": 0}}
    trained = train_workspace(tmp_path_factory.mktemp("unbounded"), raw, sample_csv, version=1)
    running = trained.serve(PREDICTION_LOG_DIR="off").ready()
    yield trained, running
    running.stop()


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("tenure_months", 10**400, "less than or equal to 9007199254740991"),  # float() overflows on it
    ("tenure_months", -(10**400), "greater than or equal to -9007199254740991"),
    ("tenure_months", MAX_SAFE_INT + 1, "less than or equal to 9007199254740991"),  # float64 cannot tell it apart
    ("monthly_charges", 1e308, "less than or equal to 1e+100"),  # finite, but training refuses it: its square overflows
    ("monthly_charges", -1e101, "greater than or equal to -1e+100"),
], ids=["int-past-float", "negative-int-past-float", "int-past-exact", "float-past-limit", "negative-float-past-limit"])
def test_a_number_beyond_what_training_accepts_is_a_422_naming_the_field(unbounded, field, value, problem):
    """An int feature without a declared range stops at the integers float64 holds exactly, a float one at
    MAX_MAGNITUDE: the limits the data schema holds training data to."""
    trained, server = unbounded
    response = server.post("/predict", {**trained.metadata["golden"][0]["features"], field: value})
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert problem in response.json()["detail"][0]["msg"]


def test_the_largest_exact_ints_are_served(unbounded):
    trained, server = unbounded
    record = trained.metadata["golden"][0]["features"]
    for value in (MAX_SAFE_INT, -MAX_SAFE_INT):
        response = server.post("/predict", {**record, "tenure_months": value})
        assert response.status_code == 200, response.text


def test_the_openapi_schema_states_the_number_ranges(unbounded):
    _, server = unbounded
    properties = server.get("/openapi.json").json()["components"]["schemas"][RECORD]["properties"]
    assert (properties["tenure_months"]["minimum"], properties["tenure_months"]["maximum"]) == \
        (-MAX_SAFE_INT, MAX_SAFE_INT)
    assert (properties["support_tickets"]["minimum"], properties["support_tickets"]["maximum"]) == (0, 30)
    assert (properties["monthly_charges"]["minimum"], properties["monthly_charges"]["maximum"]) == \
        (-MAX_MAGNITUDE, MAX_MAGNITUDE)


def test_declared_int_bounds_wider_than_float64_exactness_are_narrowed():
    schema = RequestSchema((Feature("count", "int", -1e20, 1e20),), max_batch=10)
    count = schema.openapi_schemas()[RECORD]["properties"]["count"]
    assert (count["minimum"], count["maximum"]) == (-MAX_SAFE_INT, MAX_SAFE_INT)


def test_a_request_the_model_fails_on_fails_alone(unbounded):
    trained, server = unbounded
    golden = trained.metadata["golden"][0]
    breaker = {**golden["features"], "monthly_charges": FOREST_BREAKER}
    payloads = [breaker if i % 4 == 0 else golden["features"] for i in range(400)]  # 2 of every 8 in flight
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda payload: server.post("/predict", payload), payloads))
    for payload, response in zip(payloads, responses, strict=True):
        if payload is breaker:
            assert response.status_code == 500, response.text
            assert "the model failed" in response.json()["detail"]
        else:
            assert response.status_code == 200, response.text
            assert response.json()["prediction"] == golden["prediction"]
    assert "merged requests failed" in server.output(), "no request shared a failing call: the test proves nothing"


class _Overflowing:
    """Stands in for a regression whose arithmetic overflows to inf on extreme (but valid) inputs."""

    def predict(self, frame):
        return np.where(frame["tenure_months"] > 60, np.inf, 1.0)


def test_a_non_finite_prediction_is_an_error_not_a_null(trained_regression):
    predictor = Predictor(_Overflowing(), trained_regression.params)
    record = trained_regression.holdout_records(1)[0]
    assert predictor.predict([{**record, "tenure_months": 12}]).predictions == [1.0]
    with pytest.raises(NonFiniteOutput):
        predictor.predict([{**record, "tenure_months": 12}, {**record, "tenure_months": 70}])

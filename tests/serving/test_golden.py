"""Golden records: the outputs recorded at training time must come back at load, for every kind of model, or the
server refuses the model (an IntegrityError) instead of serving something other than what was tested."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from ml.bundle import read_metadata, write_metadata
from ml.errors import IntegrityError
from serving.loading import load_model
from serving.predictor import Predictor
from serving.settings import settings_from
from tests.serving.conftest import Trained, serving_params, train_workspace


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def trained_multi_class(tmp_path_factory: pytest.TempPathFactory, sample_csv) -> Trained:
    """A three-class model (contract from the other features), its golden records recorded by training."""
    data = tmp_path_factory.mktemp("multi-class-data") / "churn.csv"
    pd.read_csv(sample_csv).drop(columns=["churned"]).to_csv(data, index=False)
    raw = serving_params()
    raw["target"] = "contract"
    raw["features"] = {k: v for k, v in raw["features"].items() if k != "contract"}
    raw["model"]["params"] = {"max_iter": 30}
    raw["drift"]["critical_columns"] = ["tenure_months"]
    return train_workspace(tmp_path_factory.mktemp("serving-multi-class"), raw, data, version=None)


def tampered(golden: list[dict], index: int, **changes) -> list[dict]:
    copy = [dict(entry) for entry in golden]
    copy[index].update(changes)
    return copy


def test_a_regression_golden_prediction_that_differs_is_an_integrity_error(trained_regression: Trained) -> None:
    predictor = Predictor(trained_regression.pipeline, trained_regression.params)
    golden = trained_regression.metadata["golden"]
    predictor.check_golden(golden)
    recorded = golden[3]["prediction"]
    predictor.check_golden(tampered(golden, 3, prediction=recorded * (1 + 1e-9)))  # float noise is tolerated
    with pytest.raises(IntegrityError, match="golden record 3"):
        predictor.check_golden(tampered(golden, 3, prediction=recorded + 0.5))


def test_a_regression_model_whose_golden_record_differs_is_refused_at_load(trained_regression: Trained,
                                                                           tmp_path) -> None:
    model = shutil.copytree(trained_regression.model_dir, tmp_path / "model")
    metadata = read_metadata(model)
    metadata["golden"] = tampered(metadata["golden"], 0, prediction=metadata["golden"][0]["prediction"] + 0.5)
    write_metadata(model, metadata)  # the artifact, and so its sha256, is untouched
    settings = settings_from(trained_regression.params, {"MODEL_DIR": str(model), "PREDICTION_LOG_DIR": "off"})
    with pytest.raises(IntegrityError, match="golden record 0"):
        load_model(settings)


def test_a_multi_class_golden_label_that_differs_is_an_integrity_error(trained_multi_class: Trained) -> None:
    predictor = Predictor(trained_multi_class.pipeline, trained_multi_class.params)
    assert not predictor.binary
    golden = trained_multi_class.metadata["golden"]
    predictor.check_golden(golden)
    recorded = golden[1]["prediction"]
    other = next(label for label in ("month-to-month", "one-year", "two-year") if label != recorded)
    with pytest.raises(IntegrityError, match=f"golden record 1: the model answers '{recorded}'"):
        predictor.check_golden(tampered(golden, 1, prediction=other))


def test_a_binary_golden_label_that_differs_is_an_integrity_error_even_with_the_same_probability(
        trained: Trained) -> None:
    predictor = Predictor(trained.pipeline, trained.params)
    golden = trained.metadata["golden"]
    flipped = 1 - golden[4]["prediction"]  # classes 0 and 1; the recorded probability stays as it is
    with pytest.raises(IntegrityError, match="golden record 4"):
        predictor.check_golden(tampered(golden, 4, prediction=flipped))

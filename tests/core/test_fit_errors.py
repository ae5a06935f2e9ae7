"""A hyperparameter the data cannot take (more neighbours than training rows, a validation split larger than the
data) is one line from train.py naming the estimator and scikit-learn's reason, and no model bundle."""

from __future__ import annotations

import pytest
import yaml

from ml.dataset import load_dataset
from ml.errors import ParamsError
from ml.train import fit
from tests.conftest import Workspace, assert_one_line_error, run_scripts
from tests.core.conftest import params_of


def test_a_hyperparameter_the_data_cannot_take_is_one_line_from_train(workspace: Workspace) -> None:
    ws = workspace
    rows = len(load_dataset(params_of(ws)).y_train)  # about 2400 (80% of the sample)
    ws.edit_params(lambda raw: raw.update(model={"class": "sklearn.neighbors.KNeighborsClassifier",
                                                 "params": {"n_neighbors": 5000}}))
    other = ws.params | {"model": {"class": "sklearn.ensemble.HistGradientBoostingClassifier",
                                   "params": {"early_stopping": True, "validation_fraction": 5000}}}
    (ws.root / "other.yaml").write_text(yaml.safe_dump(other, sort_keys=False))
    for name in ("knn", "hgb"):
        (ws.root / name).mkdir()
        (ws.root / name / "model.joblib").write_bytes(b"an older model")
    knn, hgb = run_scripts([("train.py", ["--model-dir", "knn"], ws.root),
                            ("train.py", ["--params", "other.yaml", "--model-dir", "hgb"], ws.root)])
    line = assert_one_line_error(knn, "model KNeighborsClassifier could not be fitted: ",
                                 "Expected n_neighbors <= n_samples_fit, but n_neighbors = 5000, "
                                 f"n_samples_fit = {rows}",
                                 "— change model.params in params.yaml")
    assert "unexpected" not in line and "ValueError" not in line
    assert_one_line_error(hgb, "model HistGradientBoostingClassifier could not be fitted: ",
                          f"smaller than the number of samples {rows}", "change model.params")
    assert not (ws.root / "knn").exists() and not (ws.root / "hgb").exists()  # no bundle, not even the old one


def test_only_the_estimators_value_errors_become_params_errors(workspace: Workspace, monkeypatch) -> None:
    """A ValueError from the preprocessing (or any of our code) is not the hyperparameters' fault: it propagates
    as itself, for the CLI's 'unexpected' line and MLOPS_DEBUG's traceback."""
    from sklearn.compose import ColumnTransformer

    from ml.dataset import load_dataset

    params = params_of(workspace)
    dataset = load_dataset(params)

    def broken(self, X, y=None, **kwargs):
        raise ValueError("a bug in the preprocessing")

    monkeypatch.setattr(ColumnTransformer, "fit_transform", broken)
    with pytest.raises(ValueError, match="a bug in the preprocessing") as raised:
        fit(dataset, params)
    assert not isinstance(raised.value, ParamsError)

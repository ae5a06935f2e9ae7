"""Build the scikit-learn Pipeline from params.yaml: ColumnTransformer preprocessing + the configured estimator."""

from __future__ import annotations

import importlib
import inspect

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ml.errors import ParamsError
from ml.params import Params

MISSING = "__missing__"


def estimator_class(dotted: str) -> type:
    module_name, _, name = dotted.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        raise ParamsError(f"params.yaml: 'model.class' {dotted!r} cannot be imported") from None
    if not (inspect.isclass(cls) and issubclass(cls, BaseEstimator)):
        raise ParamsError(f"params.yaml: 'model.class' {dotted!r} is not a scikit-learn estimator")
    return cls


def _hyperparameters(cls: type) -> dict:
    """The defaults of cls's hyperparameters. Meta-estimators (VotingClassifier, StackingRegressor...) cannot be
    built without estimator objects as arguments, which params.yaml has no way to give."""
    try:
        return cls().get_params()
    except TypeError as exc:
        raise ParamsError(f"params.yaml: 'model.class' {cls.__name__} needs constructor arguments params.yaml cannot "
                          f"give ({exc}): pick an estimator that works with its defaults") from None


def build_estimator(params: Params) -> BaseEstimator:
    cls = estimator_class(params.model_class)
    wanted = ClassifierMixin if params.task == "classification" else RegressorMixin
    if not issubclass(cls, wanted):
        kind = "classifier" if params.task == "classification" else "regressor"
        raise ParamsError(f"params.yaml: 'model.class' {params.model_class} is not a {kind} "
                          f"(task is {params.task})")
    accepted = _hyperparameters(cls)
    unknown = sorted(set(params.model_params) - set(accepted))
    if unknown:
        raise ParamsError(f"params.yaml: 'model.params.{unknown[0]}' is not a parameter of {cls.__name__}")
    settings = dict(params.model_params)
    if "random_state" in accepted and "random_state" not in settings:
        settings["random_state"] = params.seed
    try:
        estimator = cls(**settings)
        # scikit-learn checks hyperparameter values only in fit(); check them now, before any data is read.
        validate = getattr(estimator, "_validate_params", None)
        if validate is not None:
            validate()
    except (TypeError, ValueError) as exc:
        raise ParamsError(f"params.yaml: 'model.params' rejected by {cls.__name__}: {exc}") from None
    if params.task == "classification" and not hasattr(estimator, "predict_proba"):
        raise ParamsError(f"params.yaml: 'model.class' {cls.__name__} has no predict_proba with these 'model.params' "
                          "(ROC AUC, log loss, Brier and the drift scores need probabilities); pick a probabilistic "
                          "classifier, or for SVC set probability: true")
    return estimator


def build_pipeline(params: Params) -> Pipeline:
    numeric = [f.name for f in params.features if f.type != "category"]
    categorical = [f for f in params.features if f.type == "category"]
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline([
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING)),
            # Known categories come from params.yaml; unseen ones (and missing) encode as all zeros.
            ("onehot", OneHotEncoder(categories=[list(f.values) for f in categorical], handle_unknown="ignore",
                                     sparse_output=False)),
        ]), [f.name for f in categorical]))
    return Pipeline([
        ("preprocess", ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)),
        ("model", build_estimator(params)),
    ])

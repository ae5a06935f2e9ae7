"""The hyperparameter `make demo`'s second pull request changes, chosen so the demo runs with any estimator."""

from __future__ import annotations

import json
from typing import Any

from ml.model import estimator_class

# The first of these numeric knobs the estimator has is tuned (new value from the current one); a boosting model
# also gets twice the rounds, so its smaller steps still reach as far. Together they cover the estimators of
# scikit-learn one is likely to configure: boosting, linear and kernel models (C, alpha), forests and bagging,
# neighbours, naive Bayes (var_smoothing: the default 1e-9 only guards against a zero variance, so it grows to at
# least 1e-2, which smooths visibly), QDA (reg_param), nu-SVMs, single trees (larger leaves).
TWEAKS = (("learning_rate", lambda v: v / 2), ("C", lambda v: v / 10), ("alpha", lambda v: v / 10),
          ("n_estimators", lambda v: v * 2), ("n_neighbors", lambda v: v * 2), ("radius", lambda v: v * 2),
          ("var_smoothing", lambda v: max(v * 10, 1e-2)), ("reg_param", lambda v: v / 10 if v >= 0.1 else 0.1),
          ("nu", lambda v: v / 2),
          ("min_samples_leaf", lambda v: v * 5 if isinstance(v, int) else v / 2))
ROUNDS = ("max_iter", "n_estimators")
# Estimators whose one meaningful knob is not a number: LinearDiscriminantAnalysis's shrinkage (None unless set,
# and only the lsqr and eigen solvers take it).
SWITCHES = ((("shrinkage", None), {"solver": "lsqr", "shrinkage": "auto"}),)


def _plain(value: Any) -> Any:
    """A numpy scalar (some estimators' defaults are) as the Python number yaml.safe_dump can write."""
    return value.item() if hasattr(value, "item") else value


def _current(model: dict[str, Any]) -> dict[str, Any]:
    return {**estimator_class(model["class"])().get_params(), **(model.get("params") or {})}


def round_two_change(model: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameter change round 2's pull request makes: one knob of the configured estimator. Empty when
    the estimator has none the demo knows (LinearRegression has no hyperparameter to speak of): round 2 then
    retrains the same model, and round_two_summary says so."""
    current = _current(model)
    numeric = {name: value for name, value in current.items()
               if isinstance(value, int | float) and not isinstance(value, bool)}
    for knob, tweak in TWEAKS:
        if knob in numeric:
            change = {knob: tweak(numeric[knob])}
            if knob == "learning_rate":
                change.update({rounds: numeric[rounds] * 2 for rounds in ROUNDS if rounds in numeric})
            return {name: _plain(value) for name, value in change.items()}
    for (knob, unset), change in SWITCHES:
        if knob in current and current[knob] is unset:
            return dict(change)
    return {}


def round_two_summary(model: dict[str, Any], change: dict[str, Any]) -> str:
    """What round 2's pull request does, in one line of the demo's output."""
    name = model["class"].rsplit(".", 1)[-1]
    if not change:
        return (f"round 2 changes nothing: {name} has no hyperparameter the demo knows how to tune, so it retrains "
                "the same model to show the gate's verdict on no change (no improvement: rejected, the champion "
                "stays)")
    current = _current(model)
    shown = ", ".join(f"{knob} {_shown(current.get(knob))} → {_shown(value)}" for knob, value in change.items())
    return f"round 2 changes {name}'s model.params: {shown}"


def _shown(value: Any) -> str:
    return json.dumps(_plain(value), default=str)

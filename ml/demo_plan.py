"""The hyperparameter `make demo`'s second pull request changes, chosen so the demo runs with any estimator."""

from __future__ import annotations

from typing import Any

from ml.model import estimator_class

# The first of these numeric knobs the estimator has is tuned (new value from the current one); a boosting model
# also gets twice the rounds, so its smaller steps still reach as far.
TWEAKS = (("learning_rate", lambda v: v / 2), ("C", lambda v: v / 10), ("alpha", lambda v: v / 10),
          ("n_estimators", lambda v: v * 2), ("n_neighbors", lambda v: v * 2))
ROUNDS = ("max_iter", "n_estimators")


def round_two_change(model: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameter change round 2's pull request makes: one knob of the configured estimator."""
    current = {**estimator_class(model["class"])().get_params(), **(model.get("params") or {})}
    numeric = {name: value for name, value in current.items()
               if isinstance(value, int | float) and not isinstance(value, bool)}
    for knob, tweak in TWEAKS:
        if knob in numeric:
            change = {knob: tweak(numeric[knob])}
            if knob == "learning_rate":
                change.update({rounds: numeric[rounds] * 2 for rounds in ROUNDS if rounds in numeric})
            return change
    return {}

"""What `make demo` changes, chosen from params.yaml so the demo runs on any adopted data and estimator.

Round 2's pull request tunes one hyperparameter the configured estimator has; the drift round's simulated
production batch drifts in the columns the features allow.
"""

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


def drift_options(raw: dict[str, Any]) -> list[str]:
    """simulate_production.py's drift for this data: a mean shift in a numeric feature (a critical one if any), new
    values in a category feature, a null spike in a nullable category feature; whichever the features allow."""
    features = raw["features"]
    critical = (raw.get("drift") or {}).get("critical_columns") or []
    numeric = [name for name, spec in features.items() if spec["type"] in ("int", "float")]
    categories = [name for name, spec in features.items() if spec["type"] == "category"]
    nullable = [name for name in categories if features[name].get("nullable")]
    options = []
    for option, columns, amount in (("--shift-mean", sorted(numeric, key=lambda n: n not in critical), 1.0),
                                    ("--new-category", categories, 0.05), ("--null-spike", nullable, 0.2)):
        if columns:
            options += [option, f"{columns[0]}={amount:g}"]
    return options

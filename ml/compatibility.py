"""Can a model bundle score today's data? Its metadata against params.yaml and the data's class labels.

Both models of a comparison are checked the same way: a champion that cannot is left to a human (ml.compare), a
challenger that cannot was trained before params.yaml or the data changed and is retrained (ml.evaluate).

The challenger is also held to what fitted it (stale_reasons): the data it was trained on and the settings that
shape the fit (the model section, the category values, the split). One that scores today's data but was fitted
on other data or with other settings is a report about another model, so it is retrained too. The champion is not:
it was trained on older data by design. Settings that only judge a model (metrics, gate, drift, serving,
registry) never make it stale.
"""

from __future__ import annotations

import json
from typing import Any

from ml.params import Params

_SHOWN_CHANGES = 3  # settings named in the one-line message; the rest are counted
_SHOWN_CHARS = 80  # a value longer than this (a long category list) is cut


def schema_mismatch(metadata: dict[str, Any], params: Params, labels: list | None,
                    role: str = "champion") -> str | None:
    """Why the bundle (the `role` model) cannot score today's data, or None when it can.

    labels: the class labels of today's data (None for regression). metadata is read_metadata()'s: its shape is
    checked there.
    """
    if metadata.get("task") != params.task:
        return f"the {role} is a {metadata.get('task')} model; params.yaml now says {params.task}"
    if metadata.get("target") not in (None, params.target):
        return f"the {role} predicts '{metadata.get('target')}'; the target is now '{params.target}'"
    old = {f["name"]: f["type"] for f in metadata["features"]}
    new = {f.name: f.type for f in params.features}
    if old != new:
        changes = sorted(set(old) ^ set(new)) or sorted(k for k in new if old.get(k) != new[k])
        return f"the feature set changed since the {role} was trained ({', '.join(changes)})"
    return _label_mismatch(metadata.get("classes"), labels, role)


def _label_mismatch(classes: list | None, labels: list | None, role: str) -> str | None:
    """A classifier's scores mean nothing for labels it never learned (accuracy 0, a bogus McNemar test)."""
    if classes is None or labels is None or set(classes) == set(labels):
        return None
    only_model, only_data = _listed(set(classes) - set(labels)), _listed(set(labels) - set(classes))
    return (f"the class labels changed since the {role} was trained (only the {role} has {only_model}; "
            f"only the data has {only_data})")


def _listed(labels: set) -> str:
    """Labels as written in Python, so the string '1' and the number 1 read differently."""
    return ", ".join(sorted(map(repr, labels))) or "none"


def stale_reasons(metadata: dict[str, Any], params: Params, data_sha256: str,
                  holdout_fingerprint: str | None = None) -> str | None:
    """Why the bundle is not the model today's data and params.yaml would fit, or None when it is.

    Only what the metadata records is compared (a bundle without a data hash is not called stale for it). Call it
    after schema_mismatch: task, target and the feature names and types are known to agree by then.
    """
    reasons = []
    trained_on = metadata.get("data_sha256")
    if trained_on is not None and trained_on != data_sha256:
        reasons.append(f"on other data (sha256 {_short(trained_on)} then, {_short(data_sha256)} now)")
    changes = _setting_changes(metadata, params)
    if changes:
        shown = ", ".join(changes[:_SHOWN_CHANGES])
        more = f" and {len(changes) - _SHOWN_CHANGES} more" if len(changes) > _SHOWN_CHANGES else ""
        reasons.append(f"with other settings ({shown}{more})")
    fingerprint = metadata.get("holdout_fingerprint")
    if not reasons and holdout_fingerprint and fingerprint and fingerprint != holdout_fingerprint:
        # Same data, same split settings, other rows held out: the split itself changed (a new version of it).
        reasons.append(f"on another train/holdout split (holdout fingerprint {fingerprint} then, "
                       f"{holdout_fingerprint} now)")
    return " and ".join(reasons) or None


def _setting_changes(metadata: dict[str, Any], params: Params) -> list[str]:
    """The settings that shape the fit, as 'key old → new', for those that changed since the bundle was trained."""
    recorded = metadata.get("params")
    recorded = recorded if isinstance(recorded, dict) else {}
    model = recorded.get("model") if isinstance(recorded.get("model"), dict) else {}
    split = recorded.get("split") if isinstance(recorded.get("split"), dict) else {}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    model_class = metadata.get("model_class", model.get("class"))
    if model_class is not None:
        before["model.class"], after["model.class"] = model_class, params.model_class
    if "model" in recorded:  # a side without a hyperparameter leaves it at the estimator's default
        hyperparameters = model.get("params")
        before.update(_flatten(hyperparameters if isinstance(hyperparameters, dict) else {}, "model.params."))
        after.update(_flatten(params.model_params, "model.params."))
    for key, now in (("test_size", params.test_size), ("seed", params.seed)):
        if key in split:
            before[f"split.{key}"], after[f"split.{key}"] = split[key], now
    changes = [f"{key} {_shown(before.get(key, _UNSET))} → {_shown(after.get(key, _UNSET))}"
               for key in sorted(set(before) | set(after)) if _differ(before.get(key, _UNSET), after.get(key, _UNSET))]
    return changes + _encoding_changes(metadata.get("features") or [], params)


def _encoding_changes(recorded: list[dict[str, Any]], params: Params) -> list[str]:
    """A category's values are its one-hot columns: which there are shapes the fit. Bounds and nullable only
    validate the data, which the data hash already pins; the order features or values are listed in is cosmetic."""
    changes = []
    values = {f["name"]: f.get("values") for f in recorded}
    for feature in params.features:
        if feature.type == "category" and feature.name in values:
            old = values[feature.name] if isinstance(values[feature.name], list) else []
            if set(map(str, old)) != set(feature.values or ()):
                changes.append(f"features.{feature.name}.values {_shown(old)} → {_shown(list(feature.values or ()))}")
    return changes


_UNSET = object()  # a side without the setting: only model.params keys may lack one (the estimator's default)


def _differ(old: Any, new: Any) -> bool:
    """True unless both sides hold the same value of the same kind (YAML's 1 and true are not the same setting)."""
    if old is _UNSET or new is _UNSET:
        return old is not new
    if isinstance(old, bool) != isinstance(new, bool):
        return True
    return bool(old != new)


def _flatten(mapping: dict[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _shown(value: Any) -> str:
    """A setting's value on the one-line message: JSON-like, never a line break, long values cut."""
    if value is _UNSET:
        return "(default)"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS - 1]}…"


def _short(sha256: Any) -> str:
    return f"{str(sha256)[:12]}…"

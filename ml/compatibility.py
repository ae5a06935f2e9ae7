"""Can a model bundle score today's data? Its metadata against params.yaml and the data's class labels.

Both models of a comparison are checked the same way: a champion that cannot is left to a human (ml.compare), a
challenger that cannot was trained before params.yaml or the data changed and is retrained (ml.evaluate).
"""

from __future__ import annotations

from typing import Any

from ml.params import Params


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

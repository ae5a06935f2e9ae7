"""Point params.yaml at a drafted dataset, keeping every other setting and the comments that document them.

The file is edited as text, one top-level block (a key and its indented lines) or one line at a time, so nothing
a user did not ask to change moves. What the new data makes wrong is fixed and reported: a model of the other
task, metrics of the other task, critical drift columns that no longer exist, the sample's `data.sample_rows`.
The result is checked like any params.yaml before anyone writes it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sklearn.base import ClassifierMixin, RegressorMixin

from ml.drift.config import drift_config
from ml.errors import ParamsError
from ml.infer_features import Draft
from ml.metrics import METRICS
from ml.model import build_estimator, estimator_class
from ml.params import category_text, parse_params, parse_yaml

KINDS = {"classification": ClassifierMixin, "regression": RegressorMixin}
DEFAULT_MODELS = {"classification": "sklearn.ensemble.HistGradientBoostingClassifier",
                  "regression": "sklearn.ensemble.HistGradientBoostingRegressor"}
DEFAULT_MODEL_PARAMS = {"max_iter": 200}
DEFAULT_METRICS = {
    "classification": ("roc_auc", "maximize", {"log_loss": 0.02, "recall": 0.03}),
    "regression": ("rmse", "minimize", {"r2": 0.01}),
}
FEATURES_NOTE = ("  # Drafted from {data} by scripts/draft_params.py. Ranges are the observed ones rounded outward:\n"
                 "  # widen them to what the domain allows (validation and the model server reject values outside).")
GUARDRAILS_NOTE = ("  # Metrics that may not get worse than the champion's by more than this: a number is absolute; a "
                   "percentage\n  # (e.g. 10%) is that share of the champion's value (none at 0), which means the "
                   "same on any data.")
KEY_LINE = re.compile(r"(?P<head>\s*[^:]+:\s*)(?P<value>.*?)(?:\s+(?P<comment>#.*))?$")  # `key: value  # comment`


@dataclass
class Rewrite:
    text: str
    changes: list[str] = field(default_factory=list)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that also quotes text any YAML parser could read as a number: PyYAML (YAML 1.1) reads 05482 as
    text, YAML 1.2 parsers (DVC's ruamel) as 5482, and a ZIP code must stay what it is."""


def _quoted_if_numeric(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    numeric = re.fullmatch(r"[-+]?(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?", text) and any(map(str.isdigit, text))
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="'" if numeric else None)


_Dumper.add_representer(str, _quoted_if_numeric)


def _flow(value: Any) -> str:
    """One YAML flow-style scalar or collection, quoted where YAML would misread it ('yes', '1', 'null', '05482')."""
    return yaml.dump([value], Dumper=_Dumper, default_flow_style=True, width=math.inf, sort_keys=False).strip()[1:-1]


class _Lines:
    """params.yaml as lines, addressed by top-level key and, inside its block, by second-level key."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def block(self, key: str) -> tuple[int, int] | None:
        """[start, end) of `key:` and its lines; blank and comment lines before the next key belong to that key."""
        pattern = re.compile(rf"{re.escape(key)}\s*:")
        start = next((i for i, line in enumerate(self.lines) if pattern.match(line)), None)
        if start is None:
            return None
        end = next((i for i in range(start + 1, len(self.lines)) if re.match(r"[^\s#]", self.lines[i])),
                   len(self.lines))
        while end - 1 > start and (not self.lines[end - 1].strip() or self.lines[end - 1].startswith("#")):
            end -= 1
        return start, end

    def replace_block(self, key: str, text: str) -> None:
        span = self.block(key)
        new = text.splitlines()
        if span is None:
            self.lines += ["", *new]
        else:
            self.lines[span[0]:span[1]] = new

    def _line(self, span: tuple[int, int], sub: str | None) -> int | None:
        """The line of `sub:` inside the block at span (the block's own line when sub is None)."""
        if sub is None:
            return span[0]
        pattern = re.compile(rf"\s+{re.escape(sub)}\s*:")
        return next((i for i in range(*span) if pattern.match(self.lines[i])), None)

    def set_value(self, key: str, sub: str | None, value: str) -> None:
        """Set `key: value` (or `key.sub`), keeping the line's indentation and trailing comment."""
        span = self.block(key)
        if span is None:
            self.lines += ["", f"{key}:", f"  {sub}: {value}"] if sub else ["", f"{key}: {value}"]
            return
        index = self._line(span, sub)
        if index is None:
            self.lines.insert(span[0] + 1, f"  {sub}: {value}")
            return
        match = KEY_LINE.match(self.lines[index])
        assert match is not None  # _line matched `name:` on this line
        line = match["head"] + value
        if match["comment"]:  # the comment stays in its column unless the value now reaches it
            line = f"{line:<{match.start('comment') - 1}} {match['comment']}"
        self.lines[index] = line

    def comment(self, key: str, sub: str) -> str | None:
        """The trailing `# comment` of the `key.sub` line, if it has one."""
        span = self.block(key)
        index = None if span is None else self._line(span, sub)
        match = None if index is None else KEY_LINE.match(self.lines[index])
        return match["comment"] if match else None

    def delete(self, key: str, sub: str) -> bool:
        span = self.block(key)
        index = None if span is None else self._line(span, sub)
        if index is not None:
            del self.lines[index]
        return index is not None

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def declared_types(raw: Any) -> dict[str, str]:
    """Feature → the type params.yaml declares for it, so re-drafting drafts each column as what you said it is."""
    declared = _mapping(raw, "features") if isinstance(raw, dict) else {}
    return {str(name): spec["type"] for name, spec in declared.items()
            if isinstance(spec, dict) and isinstance(spec.get("type"), str)}


def excluded_columns(raw: Any, frame: Any) -> list:
    """The data's columns params.yaml's data.exclude names: left out of the draft, as the pipeline leaves them out."""
    listed = _mapping(raw, "data").get("exclude") if isinstance(raw, dict) else None
    names = {str(name) for name in listed} if isinstance(listed, list) else set()
    return [column for column in frame.columns if str(column) in names]


def keep_declared(declared: Any, drafted: dict[str, dict]) -> tuple[dict[str, dict], list[str], list[str]]:
    """(features, kept, changes): the drafted features, except that a column already declared with the same type
    keeps its spec (widened ranges, category order, nullability), widened only as far as the data needs:
    re-drafting keeps your edits. `kept` names those columns; a declared type the data no longer fits is named."""
    declared = declared if isinstance(declared, dict) else {}
    features, widened, kept, retyped = {}, [], [], []
    for name, spec in drafted.items():
        before = declared.get(name)
        if not isinstance(before, dict) or before.get("type") != spec["type"]:
            features[name] = spec
            if isinstance(before, dict):
                retyped.append(f"{name} ({before.get('type')} → {spec['type']})")
            continue
        merged = dict(before)
        if "min" in before and spec["min"] < before["min"]:
            merged["min"] = spec["min"]
        if "max" in before and spec["max"] > before["max"]:
            merged["max"] = spec["max"]
        known = [category_text(value) for value in before.get("values") or []]  # 2.0 is the category "2"
        unseen = [value for value in spec.get("values", []) if value not in known]
        if unseen:
            merged["values"] = [*before["values"], *unseen]
        if spec.get("nullable") and not before.get("nullable"):
            merged["nullable"] = True
        features[name] = merged
        kept.append(name)
        if merged != before:
            widened.append(name)
    changes = [f"features: {len(kept)} kept as declared"
               + (f", widened to the data: {', '.join(widened)}" if widened else "")] if kept else []
    if retyped:
        changes.append(f"features: {len(retyped)} redrafted, the data no longer fits their type: {', '.join(retyped)}")
    dropped = [name for name in declared if name not in drafted]
    if dropped:
        changes.append(f"features: {len(dropped)} dropped, not columns of the data")
    return features, kept, changes


def features_block(features: dict[str, dict], data: str, comments: dict[str, str]) -> str:
    """One flow-style line per feature, names aligned; `comments` (name → `# …`) go at the end of their lines."""
    keys = {name: _flow(name) for name in features}
    width = max(len(key) for key in keys.values()) + 1
    lines = ["features:", FEATURES_NOTE.format(data=data)]
    for name, spec in features.items():
        line = f"  {keys[name] + ':':<{width}} {_flow(spec)}"
        lines.append(f"{line}  {comments[name]}" if name in comments else line)
    return "\n".join(lines)


def metrics_block(task: str) -> str:
    name, direction, guardrails = DEFAULT_METRICS[task]
    lines = ["metrics:", f"  primary: {{name: {name}, direction: {direction}}}",
             GUARDRAILS_NOTE, "  guardrails:"]
    return "\n".join(lines + [f"    {metric}: {tolerance}" for metric, tolerance in guardrails.items()])


def model_for_task(task: str, dotted: str, settings: dict) -> tuple[str, bool] | None:
    """None when `dotted` already fits the task; else its …Classifier/…Regressor twin when that takes the same
    params (True: keep them), else the default model of the task (False: its params are dropped)."""
    try:
        cls = estimator_class(dotted)
    except ParamsError:
        return None  # the final check names it
    if issubclass(cls, KINDS[task]):
        return None
    for old, new in (("Classifier", "Regressor"), ("Regressor", "Classifier")):
        if dotted.endswith(old):
            twin = dotted.removesuffix(old) + new
            try:
                other = estimator_class(twin)
            except ParamsError:
                break
            if issubclass(other, KINDS[task]) and set(settings) <= set(other().get_params()):
                return twin, True
    return DEFAULT_MODELS[task], False


def _mapping(raw: dict, key: str) -> dict:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def rewrite_params(text: str, raw: Any, draft: Draft, data: str, root: Path) -> Rewrite:
    """params.yaml text describing `data` as drafted; raises ParamsError when the result is not a valid file."""
    if not isinstance(raw, dict):
        raise ParamsError("params.yaml: the top level must be a mapping")
    lines, changes = _Lines(text), []
    lines.set_value("data", "path", _flow(data))
    if lines.delete("data", "sample_rows"):
        changes.append("data.sample_rows: removed (it marks the synthetic sample)")
    if raw.get("task") != draft.task:
        changes.append(f"task: {raw.get('task')} → {draft.task}")
    lines.set_value("task", None, draft.task)
    lines.set_value("target", None, _flow(draft.target))
    features, kept, notes = keep_declared(raw.get("features"), draft.features)
    comments = {name: comment for name in kept if (comment := lines.comment("features", name))}
    lines.replace_block("features", features_block(features, data, comments))
    changes += notes

    model = _mapping(raw, "model")
    settings = model.get("params") if isinstance(model.get("params"), dict) else {}
    replacement = model_for_task(draft.task, str(model.get("class", "")), settings)
    if replacement is not None:
        dotted, keeps_params = replacement
        if keeps_params:
            lines.set_value("model", "class", dotted)
        else:
            lines.replace_block("model", f"model:\n  class: {dotted}\n  params: {_flow(DEFAULT_MODEL_PARAMS)}")
        kept = "" if keeps_params else f"; params reset to {_flow(DEFAULT_MODEL_PARAMS)}"
        changes.append(f"model.class: {model.get('class')} → {dotted} (a {draft.task} model{kept})")

    metrics = _mapping(raw, "metrics")
    named = [_mapping(metrics, "primary").get("name"), *_mapping(metrics, "guardrails")]
    if not all(name in METRICS[draft.task] for name in named):
        lines.replace_block("metrics", metrics_block(draft.task))
        changes.append(f"metrics: {', '.join(map(str, named))} → the {draft.task} defaults "
                       f"({DEFAULT_METRICS[draft.task][0]}, guardrails {', '.join(DEFAULT_METRICS[draft.task][2])})")

    critical = _mapping(raw, "drift").get("critical_columns")
    if isinstance(critical, list):
        kept = [name for name in critical if name in draft.features]
        if kept != critical:
            lines.set_value("drift", "critical_columns", _flow(kept))
            changes.append(f"drift.critical_columns: {_flow(critical)} → {_flow(kept)} (only features of this data)")

    _check(lines.text, root)
    return Rewrite(lines.text, changes)


def _check(text: str, root: Path) -> None:
    """The rewritten file must load, name a usable model and have a valid drift: section."""
    try:
        raw = parse_yaml(text)
    except yaml.YAMLError:
        raise ParamsError("params.yaml: cannot be rewritten line by line (is a section in flow style, "
                          "`key: {...}`? write it in block style)") from None
    params = parse_params(raw, root)
    build_estimator(params)
    drift_config(params)

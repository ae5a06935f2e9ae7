"""Load and check params.yaml, the one file a user edits; every problem is reported as one line."""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ml.errors import ParamsError
from ml.metrics import METRICS

FEATURE_TYPES = ("int", "float", "bool", "category")
TASKS = tuple(METRICS)
# Top-level sections: parsed here, except drift (ml/drift/config.py) and serving (serving/settings.py).
SECTIONS = ("data", "task", "target", "features", "model", "split", "metrics", "gate", "registry", "drift", "serving")
FEATURE_KEYS = ("type", "min", "max", "values", "nullable")
# The model computes in float64, which holds integers exactly only up to 2**53 (2**53 - 1 is also the largest
# integer JSON parsers agree on), and whose squares (a scaler's variance, a squared error) overflow past ~1e154:
# the data schema and the request schema refuse numbers beyond these, whatever min/max say.
MAX_SAFE_INT = 2**53 - 1
MAX_MAGNITUDE = 1e100


@dataclass(frozen=True)
class Feature:
    name: str
    type: str
    min: float | None = None
    max: float | None = None
    values: tuple | None = None
    nullable: bool = False

    @property
    def is_numeric(self) -> bool:
        return self.type in ("int", "float")

    @property
    def magnitude_limit(self) -> float:
        """The largest |value| an int or float feature may hold (MAX_SAFE_INT or MAX_MAGNITUDE)."""
        return MAX_SAFE_INT if self.type == "int" else MAX_MAGNITUDE


@dataclass(frozen=True)
class Gate:
    min_improvement: float
    require_significance: bool
    confidence: float
    bootstrap_resamples: int


@dataclass(frozen=True)
class Tolerance:
    """How much worse than the champion's a guardrail metric may get: an amount in the metric's own units, or a
    percentage of the champion's value. Only the percentage means the same on any data: on a 1%-positive holdout
    log loss is ~0.05, and an absolute 0.02 lets it get 40% worse."""
    value: float  # the amount, or the percentage (10.0 for "10%")
    relative: bool = False

    def allowed(self, champion: float) -> float:
        """The largest regression allowed against this champion value. A percentage is of its magnitude (r2 can be
        negative), so of a champion at 0 it is 0: the challenger may not be worse at all."""
        return self.value / 100 * abs(champion) if self.relative else self.value

    def __str__(self) -> str:
        """As written in params.yaml (number formatting aside)."""
        return f"{self.value:g}%" if self.relative else f"{self.value:g}"


@dataclass(frozen=True)
class Params:
    root: Path
    data_path: Path
    sample_rows: int | None
    exclude: tuple[str, ...]  # columns of the data file the pipeline ignores (IDs, timestamps, free text)
    task: str
    target: str
    features: tuple[Feature, ...]
    model_class: str
    model_params: dict[str, Any]
    test_size: float
    seed: int
    primary_metric: str
    direction: str
    guardrails: dict[str, Tolerance]
    gate: Gate
    registry: dict[str, Any]
    drift: dict[str, Any] = field(default_factory=dict)
    serving: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> Feature:
        return next(f for f in self.features if f.name == name)

    @property
    def data_label(self) -> str:
        """The data path as a user wrote it: relative to the repository root when it is inside it."""
        try:
            return str(self.data_path.relative_to(self.root))
        except ValueError:
            return str(self.data_path)

    def path(self, relative: str | Path) -> Path:
        """Resolve a path from params.yaml; like DVC, relative paths are relative to the repository root."""
        return (self.root / relative).resolve()


def _get(mapping: dict, key: str, where: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    if key not in mapping or mapping[key] is None:
        if default is ...:
            raise ParamsError(f"params.yaml: missing '{where}{key}'")
        return default
    value = mapping[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and kind in (int, float):
        raise ParamsError(f"params.yaml: '{where}{key}' must be a number, got {value!r}")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ParamsError(f"params.yaml: '{where}{key}' must be {names}, got {value!r}")
    return value


def _excluded_columns(data: dict, target: str, features: tuple[Feature, ...]) -> tuple[str, ...]:
    listed = _get(data, "exclude", "data.", list, [])
    names = tuple(str(_literal(name, "'data.exclude'")) for name in listed)
    used = {target, *(f.name for f in features)}
    for name in names:
        if name in used:
            role = "the target" if name == target else "a feature"
            raise ParamsError(f"params.yaml: 'data.exclude' lists '{name}', which is {role}")
    return names


def reject_unknown(mapping: dict, where: str, known: tuple[str, ...], hint: str = "") -> None:
    """A misspelt key would otherwise be ignored, silently leaving its setting at the default."""
    unknown = sorted(str(key) for key in mapping if key not in known)
    if unknown:
        raise ParamsError(f"params.yaml: unknown key '{where}{unknown[0]}' (known: {', '.join(known)}){hint}")


def _section(mapping: dict, key: str, where: str, known: tuple[str, ...], default: Any = ...) -> dict:
    """A nested mapping of params.yaml, holding only the keys this section reads."""
    section = _get(mapping, key, where, dict, default)
    reject_unknown(section, f"{where}{key}.", known)
    return section


def _literal(value: Any, where: str) -> Any:
    """A name or category as written. YAML reads unquoted yes/no, on/off and true/false as booleans and null or ~
    as None, and which spelling it was cannot be recovered: ask for quotes rather than guess."""
    if value is None:
        raise ParamsError(f"params.yaml: {where} has null, which is what YAML makes of an unquoted null or ~: "
                          'quote it (e.g. "null")')
    if isinstance(value, bool):
        raise ParamsError(f"params.yaml: {where} has {str(value).lower()}, which is what YAML makes of an unquoted "
                          'yes/no, on/off or true/false: quote it (e.g. "yes")')
    if isinstance(value, (list, dict)):
        raise ParamsError(f"params.yaml: {where} has {value!r}, which is not a single name or value")
    return value


def category_text(value: Any) -> str:
    """A category's string form, the same for params.yaml and the data: pandas reads a column of integer codes
    with gaps as floats, and its 2.0 is the category "2"."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and float(value).is_integer():
        return str(int(value))
    return str(value)


NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"  # a field pandas reads as a number
ZERO_PADDED = r"[+-]?0\d"  # the start of a whole number written with leading zeros
_NUMBER, _ZERO_PADDED = re.compile(NUMBER), re.compile(ZERO_PADDED)


def text_category(text: str) -> str:
    """A category field of a text file (CSV), as training, validation and the drift job all name it: a number is
    named by category_text ("1.0", " 1" and "1e0" are the category "1", as a code exported from a float column
    should be), except a whole number written with leading zeros (a ZIP or product code such as "02134"), which
    keeps its spelling. One field at a time: a column's other values never change how one is read."""
    number = text.strip(" \t")
    if not _NUMBER.fullmatch(number) or _ZERO_PADDED.match(number):
        return text
    return category_text(int(number) if number.lstrip("+-").isdigit() else float(number))


def parse_feature(name: str, spec: Any) -> Feature:
    """One entry of the features block (also used to rebuild a model's features from its metadata)."""
    where = f"features.{name}."
    if not isinstance(spec, dict):
        raise ParamsError(f"params.yaml: 'features.{name}' must be a mapping with a 'type'")
    reject_unknown(spec, where, FEATURE_KEYS)
    ftype = _get(spec, "type", where, str)
    if ftype not in FEATURE_TYPES:
        raise ParamsError(f"params.yaml: '{where}type' must be one of {', '.join(FEATURE_TYPES)}, got {ftype!r}")
    low = _get(spec, "min", where, float, None)
    high = _get(spec, "max", where, float, None)
    for key, bound in (("min", low), ("max", high)):
        if bound is not None and math.isnan(bound):  # no value is above or below it
            raise ParamsError(f"params.yaml: '{where}{key}' must be a number, got .nan")
    if (low is not None or high is not None) and ftype not in ("int", "float"):
        raise ParamsError(f"params.yaml: '{where}min/max' only apply to int and float features")
    if low is not None and high is not None and low > high:
        raise ParamsError(f"params.yaml: '{where}min' ({low}) is greater than max ({high})")
    values = _get(spec, "values", where, list, None)
    if ftype == "category":
        if not values:
            raise ParamsError(f"params.yaml: '{where}values' must list the allowed categories")
        values = tuple(category_text(_literal(v, f"'{where}values'")) for v in values)
        if len(set(values)) != len(values):
            raise ParamsError(f"params.yaml: '{where}values' has duplicates")
    elif values is not None:
        raise ParamsError(f"params.yaml: '{where}values' only applies to category features")
    nullable = _get(spec, "nullable", where, bool, False)
    return Feature(name=str(name), type=ftype, min=low, max=high, values=values, nullable=nullable)


PERCENTAGE = re.compile(r"(\d+\.?\d*|\.\d+)%")


def _tolerance(name: str, value: Any) -> Tolerance:
    """A guardrail's tolerance: a number is absolute; a string such as "10%" (what YAML makes of unquoted 10%) is a
    percentage of the champion's value. Any share is allowed, even above 100%: it still bounds a loss."""
    if isinstance(value, str) and PERCENTAGE.fullmatch(value):
        return Tolerance(float(value[:-1]), relative=True)
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return Tolerance(float(value))
    raise ParamsError(f"params.yaml: 'metrics.guardrails.{name}' must be a number >= 0 (how much worse the metric "
                      f'may get) or a percentage such as "10%" (of the champion\'s value), got {value!r}')


def _registry(raw: dict) -> dict[str, str]:
    """The registry section with its defaults filled in, so every reader gets a checked backend and path."""
    registry = _section(raw, "registry", "", ("backend", "path"), {})
    backend = _get(registry, "backend", "registry.", str, "local")
    if backend not in ("local", "github"):
        raise ParamsError(f"params.yaml: 'registry.backend' must be local or github, got {backend!r}")
    return {"backend": backend, "path": _get(registry, "path", "registry.", str, "registry")}


def parse_params(raw: Any, root: Path) -> Params:
    if not isinstance(raw, dict):
        raise ParamsError("params.yaml: the top level must be a mapping")
    reject_unknown(raw, "", SECTIONS, "; other tools' settings (such as other DVC stages' params) belong in "
                                      "their own params file")
    data = _section(raw, "data", "", ("path", "sample_rows", "exclude"))
    sample_rows = _get(data, "sample_rows", "data.", int, None)
    if sample_rows is not None and sample_rows < 1:
        raise ParamsError(f"params.yaml: 'data.sample_rows' must be a positive number of rows, got {sample_rows}")
    task = _get(raw, "task", "", str)
    if task not in TASKS:
        raise ParamsError(f"params.yaml: 'task' must be one of {', '.join(TASKS)}, got {task!r}")
    target = str(_literal(_get(raw, "target", "", (str, int)), "'target'"))
    features_raw = _get(raw, "features", "", dict)
    if not features_raw:
        raise ParamsError("params.yaml: 'features' must list at least one feature")
    features = tuple(parse_feature(str(_literal(name, "'features'")), spec) for name, spec in features_raw.items())
    if target in features_raw:
        raise ParamsError(f"params.yaml: target '{target}' is also listed as a feature")
    exclude = _excluded_columns(data, target, features)

    model = _section(raw, "model", "", ("class", "params"))
    model_class = _get(model, "class", "model.", str)
    if "." not in model_class:
        raise ParamsError(f"params.yaml: 'model.class' must be a dotted path such as "
                          f"sklearn.linear_model.LogisticRegression, got {model_class!r}")
    model_params = _get(model, "params", "model.", dict, {})

    split = _section(raw, "split", "", ("test_size", "seed"))
    test_size = _get(split, "test_size", "split.", float)
    if not 0.05 <= test_size <= 0.5:
        raise ParamsError(f"params.yaml: 'split.test_size' must be between 0.05 and 0.5, got {test_size}")
    seed = _get(split, "seed", "split.", int)
    if not 0 <= seed < 2**32:
        raise ParamsError(f"params.yaml: 'split.seed' must be between 0 and 2**32 - 1, got {seed}")

    metrics = _section(raw, "metrics", "", ("primary", "guardrails"))
    known = METRICS[task]
    primary = _section(metrics, "primary", "metrics.", ("name", "direction"))
    primary_name = _get(primary, "name", "metrics.primary.", str)
    if primary_name not in known:
        raise ParamsError(f"params.yaml: 'metrics.primary.name' must be one of {', '.join(known)} "
                          f"for {task}, got {primary_name!r}")
    direction = _get(primary, "direction", "metrics.primary.", str, known[primary_name])
    if direction != known[primary_name]:
        raise ParamsError(f"params.yaml: {primary_name} is better when it goes "
                          f"{'up' if known[primary_name] == 'maximize' else 'down'}: "
                          f"'metrics.primary.direction' must be {known[primary_name]}")
    guardrails = {}
    for name, tolerance in (_get(metrics, "guardrails", "metrics.", dict, {}) or {}).items():
        if name not in known:
            raise ParamsError(f"params.yaml: 'metrics.guardrails.{name}' is not a metric; "
                              f"use one of {', '.join(known)}")
        guardrails[name] = _tolerance(name, tolerance)

    gate_raw = _section(raw, "gate", "", tuple(f.name for f in fields(Gate)))
    gate = Gate(
        min_improvement=_get(gate_raw, "min_improvement", "gate.", float, 0.0),
        require_significance=_get(gate_raw, "require_significance", "gate.", bool, False),
        confidence=_get(gate_raw, "confidence", "gate.", float, 0.95),
        bootstrap_resamples=_get(gate_raw, "bootstrap_resamples", "gate.", int, 1000),
    )
    if not 0.5 < gate.confidence < 1:
        raise ParamsError(f"params.yaml: 'gate.confidence' must be between 0.5 and 1, got {gate.confidence}")
    if gate.bootstrap_resamples < 100:
        raise ParamsError("params.yaml: 'gate.bootstrap_resamples' must be at least 100")

    return Params(
        root=root,
        data_path=root / _get(data, "path", "data.", str),
        sample_rows=sample_rows,
        exclude=exclude,
        task=task,
        target=target,
        features=features,
        model_class=model_class,
        model_params=model_params,
        test_size=test_size,
        seed=seed,
        primary_metric=primary_name,
        direction=direction,
        guardrails=guardrails,
        gate=gate,
        registry=_registry(raw),
        drift=_get(raw, "drift", "", dict, {}),
        serving=_get(raw, "serving", "", dict, {}),
        raw=raw,
    )


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads 1e-3 and 1e300 as numbers, as YAML 1.2 does (and DVC, whose `dvc params diff` reads this
    file with ruamel): PyYAML follows YAML 1.1, whose floats need a dot, and hands `min_improvement: 1e-3` over as the
    text '1e-3'."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(\d[\d_]*\.?\d*|\.\d+)[eE][-+]?\d+$"),
                              list("-+.0123456789"))


def parse_yaml(text: str) -> Any:
    """One YAML document, numbers read as YAML 1.2 reads them (see _Loader)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader: plain data only, never Python objects


def read_params_yaml(path: str | Path) -> tuple[str, Any]:
    """The text of a params file and its parsed YAML; unreadable or invalid files are one-line ParamsErrors."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the repository root or pass --params)") from None
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                          "save it as UTF-8") from None
    try:
        return text, parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ParamsError(f"{path}: not valid YAML{where}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    return parse_params(read_params_yaml(path)[1], Path.cwd())

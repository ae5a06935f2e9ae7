"""Compile a fitted ColumnTransformer into plain arithmetic on JSON records.

scikit-learn's ColumnTransformer needs a DataFrame and spends ~1 ms per call checking it; the arithmetic it
stands for (fill a missing value, subtract a mean, divide by a scale, set a one-hot bit) costs nanoseconds
per value. `compile_encoder` reads the fitted statistics of the transformer types this template builds
(SimpleImputer, StandardScaler, OneHotEncoder) and returns a `RecordEncoder` that produces the same float64
matrix; for anything else it returns None and the server uses the pipeline itself. The server also checks the
encoder against the pipeline on sample rows before using it (`serving.predictor`).

The operations are the ones scikit-learn performs, in the same order, on the same float64 values, so the
results are bit-identical, not merely close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

# Up to this many records, a Python loop beats numpy's per-call overhead.
SMALL_BATCH = 8


@dataclass(frozen=True)
class NumericColumn:
    name: str
    position: int
    fill: float  # value for a missing input (NaN when nothing imputes it)
    mean: float
    scale: float


@dataclass(frozen=True)
class OneHotColumn:
    name: str
    fill: Any  # value a missing input is imputed with before encoding (None: stays missing)
    positions: dict[str, int]  # category -> output column; unknown categories set no bit (handle_unknown=ignore)


class RecordEncoder:
    """Records (dicts of feature values, None for missing) -> the float64 matrix the estimator was fitted on."""

    def __init__(self, width: int, numeric: list[NumericColumn], onehot: list[OneHotColumn]):
        self.width = width
        self.numeric = tuple((c.name, c.position, c.fill, c.mean, c.scale) for c in numeric)
        self.onehot = tuple((c.name, c.fill, c.positions) for c in onehot)

    def encode(self, records: list[dict[str, Any]]) -> np.ndarray:
        if len(records) <= SMALL_BATCH:
            return np.array([self._row(record) for record in records], dtype=np.float64).reshape(-1, self.width)
        return self._matrix(records)

    def _row(self, record: dict[str, Any]) -> list[float]:
        row = [0.0] * self.width
        for name, position, fill, mean, scale in self.numeric:
            value = record[name]
            row[position] = ((fill if value is None else float(value)) - mean) / scale
        for name, fill, positions in self.onehot:
            value = record[name]
            position = positions.get(fill if value is None else value)
            if position is not None:
                row[position] = 1.0
        return row

    def _matrix(self, records: list[dict[str, Any]]) -> np.ndarray:
        count = len(records)
        matrix = np.zeros((count, self.width), dtype=np.float64)
        for name, position, fill, mean, scale in self.numeric:
            column = np.array([record[name] for record in records], dtype=np.float64)
            if not math.isnan(fill):
                column[np.isnan(column)] = fill
            matrix[:, position] = (column - mean) / scale
        rows = np.arange(count)
        for name, fill, positions in self.onehot:
            found = np.fromiter(
                (positions.get(fill if (value := record[name]) is None else value, -1) for record in records),
                dtype=np.intp, count=count)
            known = found >= 0
            matrix[rows[known], found[known]] = 1.0
        return matrix


class NotCompilable(Exception):
    """The pipeline uses something this compiler does not know; the server falls back to the pipeline."""


def _steps(transformer: Any) -> list[Any]:
    steps = transformer.steps if isinstance(transformer, Pipeline) else [("only", transformer)]
    return [step for _, step in steps if step not in (None, "passthrough")]


def _imputer_fill(step: SimpleImputer, index: int) -> Any:
    if step.add_indicator:
        raise NotCompilable("SimpleImputer(add_indicator=True)")
    missing = step.missing_values
    if not (missing is None or (isinstance(missing, float) and math.isnan(missing))):
        raise NotCompilable(f"SimpleImputer(missing_values={missing!r})")
    return step.statistics_[index]


def _numeric_columns(steps: list[Any], columns: list[str], start: int) -> list[NumericColumn]:
    fills = [math.nan] * len(columns)
    means, scales = [0.0] * len(columns), [1.0] * len(columns)
    kinds = [type(step) for step in steps]
    if kinds not in ([], [SimpleImputer], [StandardScaler], [SimpleImputer, StandardScaler]):
        raise NotCompilable(f"numeric steps {[k.__name__ for k in kinds]}")
    for step in steps:
        for i in range(len(columns)):
            if isinstance(step, SimpleImputer):
                fills[i] = float(_imputer_fill(step, i))
                if math.isnan(fills[i]):
                    raise NotCompilable(f"column {columns[i]} was all missing when fitted")
            else:
                if step.with_mean:
                    means[i] = float(step.mean_[i])
                if step.with_std:
                    scales[i] = float(step.scale_[i])
    return [NumericColumn(name, start + i, fills[i], means[i], scales[i]) for i, name in enumerate(columns)]


def _onehot_columns(steps: list[Any], columns: list[str], start: int) -> tuple[list[OneHotColumn], int]:
    *before, encoder = steps
    if not isinstance(encoder, OneHotEncoder) or any(not isinstance(s, SimpleImputer) for s in before) \
            or len(before) > 1:
        raise NotCompilable(f"categorical steps {[type(s).__name__ for s in steps]}")
    if encoder.drop_idx_ is not None or getattr(encoder, "_infrequent_enabled", False) \
            or encoder.handle_unknown not in ("ignore", "infrequent_if_exist") or encoder.sparse_output:
        raise NotCompilable("OneHotEncoder with drop, infrequent categories, sparse output or errors on unknowns")
    found, position = [], start
    for i, name in enumerate(columns):
        categories = list(encoder.categories_[i])
        if not all(isinstance(c, str) for c in categories):
            raise NotCompilable(f"non-string categories in {name}")
        fill = _imputer_fill(before[0], i) if before else None
        found.append(OneHotColumn(name, fill, {c: position + j for j, c in enumerate(categories)}))
        position += len(categories)
    return found, position


def compile_encoder(pipeline: Any, feature_types: dict[str, str]) -> RecordEncoder:
    """Raises NotCompilable unless the pipeline is exactly [ColumnTransformer of known steps, estimator]."""
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise NotCompilable("not a two-step Pipeline")
    transformer = pipeline.steps[0][1]
    if not isinstance(transformer, ColumnTransformer):
        raise NotCompilable("the first step is not a ColumnTransformer")
    if getattr(transformer, "_sklearn_output_config", {}).get("transform") not in (None, "default"):
        raise NotCompilable("ColumnTransformer set_output")
    if hasattr(pipeline.steps[1][1], "feature_names_in_"):
        raise NotCompilable("the estimator was fitted with feature names")
    numeric: list[NumericColumn] = []
    onehot: list[OneHotColumn] = []
    width = 0
    for _, step, columns in transformer.transformers_:
        columns = list(columns) if not isinstance(columns, str) else [columns]
        if step == "drop" or not columns:
            continue
        if step == "passthrough" or not all(isinstance(c, str) and c in feature_types for c in columns):
            raise NotCompilable("passthrough or positional columns")
        steps = _steps(step)
        categorical = [feature_types[c] == "category" for c in columns]
        if all(categorical) and steps and isinstance(steps[-1], OneHotEncoder):
            found, width = _onehot_columns(steps, columns, width)
            onehot.extend(found)
        elif not any(categorical):
            numeric.extend(_numeric_columns(steps, columns, width))
            width += len(columns)
        else:
            raise NotCompilable(f"transformer over {columns} mixes categorical and numeric features")
    return RecordEncoder(width, numeric, onehot)

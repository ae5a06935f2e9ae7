"""Per-column statistics gathered in one streaming pass, small enough to keep in memory or in a JSON file.

A numeric column keeps exact counts and moments plus a bounded uniform subsample of its values (for KS,
Wasserstein and PSI); a categorical column keeps exact category counts. Memory is bounded by the sample size,
not by the number of rows read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ml.errors import DataError


@dataclass
class NumericSummary:
    rows: int
    nulls: int
    mean: float
    std: float
    min: float
    max: float
    sample: np.ndarray  # sorted uniform subsample of the non-null values
    kind: str = field(default="numeric", init=False)

    @property
    def count(self) -> int:
        return self.rows - self.nulls

    def to_json(self, sample_size: int | None = None, rng: np.random.Generator | None = None) -> dict[str, Any]:
        sample = self.sample
        if sample_size is not None and sample.size > sample_size:
            rng = rng or np.random.default_rng(0)
            sample = np.sort(rng.choice(sample, size=sample_size, replace=False))
        moments = {name: _json_float(getattr(self, name)) for name in ("mean", "std", "min", "max")}
        return {"kind": "numeric", "rows": self.rows, "nulls": self.nulls, **moments,
                "sample": _significant(sample, 7).tolist()}


@dataclass
class CategorySummary:
    rows: int
    nulls: int
    counts: dict[str, int]
    kind: str = field(default="category", init=False)

    @property
    def count(self) -> int:
        return self.rows - self.nulls

    def to_json(self, sample_size: int | None = None, rng: np.random.Generator | None = None) -> dict[str, Any]:
        return {"kind": "category", "rows": self.rows, "nulls": self.nulls, "counts": dict(self.counts)}


ColumnSummary = NumericSummary | CategorySummary


def _significant(values: np.ndarray, digits: int) -> np.ndarray:
    """Values rounded to `digits` significant digits (what `f"{v:.7g}"` keeps, 15× faster): short JSON."""
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log10(np.abs(values)))
    scale = 10.0 ** (digits - 1 - np.where(np.isfinite(exponent), exponent, 0))
    return np.round(values * scale) / scale


def _json_float(value: float) -> float | None:
    """JSON has no NaN: a column with no values at all has no mean."""
    return None if np.isnan(value) else value


def summary_from_json(raw: Any, where: str) -> ColumnSummary:
    """Rebuild a summary stored by to_json; anything malformed is a DataError naming where it is."""
    try:
        if raw["kind"] == "numeric":
            sample = np.sort(np.asarray(raw["sample"], dtype=np.float64))
            moments = {name: float("nan") if raw[name] is None else float(raw[name])
                       for name in ("mean", "std", "min", "max")}
            return NumericSummary(rows=int(raw["rows"]), nulls=int(raw["nulls"]), sample=sample, **moments)
        if raw["kind"] == "category":
            counts = {str(key): int(value) for key, value in raw["counts"].items()}
            return CategorySummary(rows=int(raw["rows"]), nulls=int(raw["nulls"]), counts=counts)
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    raise DataError(f"{where}: malformed column statistics")


class NumericAccumulator:
    """Exact counts and moments, plus a uniform subsample: a row is kept while its random key is below a
    threshold that tightens whenever the sample outgrows twice its cap (bottom-k sampling, O(1) per row)."""

    def __init__(self, sample_size: int) -> None:
        self.sample_size = sample_size
        self.rows = self.nulls = 0
        self._shift: float | None = None
        self._exponent = 0  # sums are of (value - shift) / 2**exponent: see _scaled
        self._sum = self._sum_sq = 0.0
        self._min, self._max = np.inf, -np.inf
        self._values: list[np.ndarray] = []
        self._keys: list[np.ndarray] = []
        self._kept = 0
        self._threshold = 1.0

    def add(self, values: np.ndarray, keys: np.ndarray) -> None:
        """values: float64 with NaN for nulls (infinities count as nulls too); keys: uniform [0, 1) per row
        (float32 is plenty: they only decide which rows the sample keeps)."""
        self.rows += values.size
        valid = np.isfinite(values)
        complete = bool(valid.all())
        present = values if complete else values[valid]
        self.nulls += values.size - present.size
        if not present.size:
            return
        if self._shift is None:
            self._shift = float(present[0])
        centred = self._scaled(present)
        self._sum += float(centred.sum())
        self._sum_sq += float(np.square(centred).sum())
        self._min = min(self._min, float(present.min()))
        self._max = max(self._max, float(present.max()))
        if self._threshold < 1.0:  # the sample is full: keep only rows whose key beats the threshold
            present_keys = keys if complete else keys[valid]
            chosen = present_keys < self._threshold
            present, present_keys = present[chosen], present_keys[chosen]
        else:
            present_keys = keys if complete else keys[valid]
        self._values.append(present)
        self._keys.append(present_keys)
        self._kept += present.size
        if self._kept > 2 * self.sample_size:
            self._prune()

    def _scaled(self, values: np.ndarray) -> np.ndarray:
        """(values - shift) / 2**exponent, the exponent raised (and the sums so far rescaled) until every |value| is
        below 2**exponent: unscaled, the squares of values past ~1e154 (production data is not validated)
        overflow float64, and so does the difference of -1e308 and 1e308. Scaling by a power of two is exact."""
        _, exponent = np.frexp(max(float(np.abs(values).max()), abs(self._shift)))
        if exponent > self._exponent:
            self._sum = float(np.ldexp(self._sum, self._exponent - exponent))
            self._sum_sq = float(np.ldexp(self._sum_sq, 2 * (self._exponent - exponent)))
            self._exponent = int(exponent)
        return np.ldexp(values, -self._exponent) - np.ldexp(self._shift, -self._exponent)

    def _prune(self) -> None:
        values, keys = np.concatenate(self._values), np.concatenate(self._keys)
        if keys.size > self.sample_size:
            self._threshold = float(np.partition(keys, self.sample_size)[self.sample_size])
            chosen = keys < self._threshold
            values, keys = values[chosen], keys[chosen]
        self._values, self._keys, self._kept = [values], [keys], values.size

    def finish(self) -> NumericSummary:
        if self._values:
            self._prune()
        sample = self._values[0] if self._values else np.empty(0)
        self._values, self._keys = [], []
        sample.sort()
        count = self.rows - self.nulls
        if count:
            mean_centred = self._sum / count
            std = float(np.ldexp(np.sqrt(max(self._sum_sq / count - mean_centred**2, 0.0)), self._exponent))
            mean, low, high = self._shift + float(np.ldexp(mean_centred, self._exponent)), self._min, self._max
        else:
            mean = std = low = high = float("nan")
        return NumericSummary(rows=self.rows, nulls=self.nulls, mean=mean, std=std, min=low, max=high,
                              sample=sample)


class CategoryAccumulator:
    """Exact counts per category: their number is small, whatever the number of rows."""

    def __init__(self) -> None:
        self.rows = self.nulls = 0
        self.counts: Counter[str] = Counter()

    def add(self, counts: dict[str, int], nulls: int, rows: int) -> None:
        self.rows += rows
        self.nulls += nulls
        self.counts.update(counts)

    def finish(self) -> CategorySummary:
        return CategorySummary(rows=self.rows, nulls=self.nulls, counts=dict(self.counts.most_common()))

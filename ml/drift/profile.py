"""A data profile: every feature's summary (and the model output's) for one side of a drift comparison."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ml.drift.readers import Batch, bool_label, iter_batches
from ml.drift.summary import CategoryAccumulator, ColumnSummary, NumericAccumulator
from ml.errors import DataError
from ml.params import Feature

Scorer = Callable[[Batch], tuple[str, Any] | None]  # None: no row of the batch could be scored


@dataclass
class DataProfile:
    source: str
    rows: int
    columns: dict[str, ColumnSummary]
    prediction: ColumnSummary | None = None
    prediction_origin: str | None = None  # "logged", "scored" or "holdout"


class ProfileBuilder:
    """Feed batches in, get a DataProfile out; memory stays bounded by the per-column sample size."""

    def __init__(self, features: tuple[Feature, ...], sample_size: int, seed: int = 0,
                 scorer: Scorer | None = None) -> None:
        self.features = features
        self.sample_size = sample_size
        self.rng = np.random.default_rng(seed)
        self.scorer = scorer
        self.rows = 0
        self.accumulators = {f.name: NumericAccumulator(sample_size) if f.is_numeric else CategoryAccumulator()
                             for f in features}
        self.bool_columns = {f.name: f.type == "bool" for f in features}
        self.prediction: NumericAccumulator | CategoryAccumulator | None = None
        self.prediction_origin: str | None = None

    def add(self, batch: Batch) -> None:
        self.rows += batch.rows
        keys = self.rng.random(batch.rows, dtype=np.float32)
        for name, values in batch.columns.items():
            _feed(self.accumulators[name], values, keys, self.bool_columns.get(name, False))
        prediction, origin = batch.prediction, "logged"
        if prediction is None and self.scorer is not None:
            prediction, origin = self.scorer(batch), "scored"
        if prediction is not None:
            kind, values = prediction
            if self.prediction is None:
                self.prediction = NumericAccumulator(self.sample_size) if kind == "numeric" else CategoryAccumulator()
                self.prediction_origin = origin
            elif (kind == "numeric") != isinstance(self.prediction, NumericAccumulator):
                raise DataError("predictions switch between scores and labels part-way through the data")
            _feed(self.prediction, values, keys)

    def finish(self, source: str) -> DataProfile:
        if self.rows == 0:
            raise DataError(f"{source}: no rows")
        columns = {name: accumulator.finish() for name, accumulator in self.accumulators.items()}
        prediction = self.prediction.finish() if self.prediction is not None else None
        return DataProfile(source=source, rows=self.rows, columns=columns, prediction=prediction,
                           prediction_origin=self.prediction_origin)


def _feed(accumulator: NumericAccumulator | CategoryAccumulator, values: Any, keys: np.ndarray,
          is_bool: bool = False) -> None:
    if isinstance(accumulator, NumericAccumulator):
        accumulator.add(np.asarray(values, dtype=np.float64), keys)
        return
    values = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, type=pa.string())
    counted = pc.value_counts(values)
    labels = counted.field("values").to_pylist()
    counts = counted.field("counts").to_pylist()
    tally: dict[str, int] = {}
    for label, count in zip(labels, counts, strict=True):
        if label is not None:
            label = bool_label(label) if is_bool else label
            tally[label] = tally.get(label, 0) + count
    accumulator.add(tally, nulls=values.null_count, rows=len(values))


def profile_batches(batches: Iterable[Batch], source: str, features: tuple[Feature, ...], sample_size: int,
                    seed: int = 0, scorer: Scorer | None = None) -> DataProfile:
    builder = ProfileBuilder(features, sample_size, seed, scorer)
    for batch in batches:
        builder.add(batch)
    return builder.finish(source)


def profile_source(path: str | Path, features: tuple[Feature, ...], task: str, sample_size: int, seed: int = 0,
                   scorer: Scorer | None = None) -> DataProfile:
    """Profile a CSV/parquet file, a JSON-lines prediction log or a directory of them, in one pass."""
    return profile_batches(iter_batches(path, features, task), str(path), features, sample_size, seed, scorer)

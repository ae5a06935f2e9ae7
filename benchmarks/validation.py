"""Data validation of 1M rows: our pandera schema (built from params.yaml) against baselines in the same run.

    .venv/bin/python benchmarks/validation.py                 # 1,000,000 rows, best of 3
    .venv/bin/python benchmarks/validation.py --rows 200000 --repeat 5 --json out.json

The churn sample is generated at --rows, written to CSV and read back (so columns have the dtypes the pipeline
sees). Timed, each the best of --repeat runs:

- read: pandas.read_csv of the file, as ml.data.read_table does (the cost every step already pays);
- dtype-only: a pandera schema with just each column's dtype (pandera's own floor for this frame);
- ours, valid data: ml.validation.validate_frame, the full schema (types, ranges, categories, nulls), lazy;
- ours, dirty data: the same with 1% of rows broken in three columns (collecting and summarising failures).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml

from ml.data import read_table
from ml.params import parse_params
from ml.sample_data import write_churn_csv
from ml.validation import validate_frame

ROOT = Path(__file__).resolve().parent.parent


def best_of(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def dirty(frame: pd.DataFrame, share: float = 0.01) -> pd.DataFrame:
    """Break share of the rows: text in an int column, out-of-range floats, unknown categories."""
    rng = np.random.default_rng(0)
    broken = frame.copy()
    for column, value in (("tenure_months", "twelve"), ("monthly_charges", 999.0), ("contract", "weekly")):
        rows = rng.choice(len(frame), int(len(frame) * share), replace=False)
        broken[column] = broken[column].astype(object)
        broken.loc[rows, column] = value
    return broken


@click.command()
@click.option("--rows", default=1_000_000, show_default=True)
@click.option("--repeat", default=3, show_default=True, help="Runs of each measurement; the best counts.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the numbers here.")
def main(rows: int, repeat: int, json_out: str | None) -> None:
    params = parse_params(yaml.safe_load((ROOT / "params.yaml").read_text()), ROOT)
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as scratch:
        path = Path(scratch) / "churn.csv"
        write_churn_csv(path, rows)
        size_mb = path.stat().st_size / 1e6
        read_s, frame = best_of(repeat, lambda: read_table(path))
    dtype_only = pa.DataFrameSchema({name: pa.Column(dtype, nullable=True) for name, dtype in frame.dtypes.items()})
    broken = dirty(frame)

    dtype_s, _ = best_of(repeat, lambda: dtype_only.validate(frame, lazy=True))
    ours_s, result = best_of(repeat, lambda: validate_frame(frame, params))
    assert result.ok, result.one_line()
    dirty_s, dirty_result = best_of(repeat, lambda: validate_frame(broken, params))
    assert not dirty_result.ok and len(dirty_result.failures) == 3, dirty_result.one_line()

    results = {
        "rows": rows, "csv_mb": round(size_mb, 1), "cores": os.cpu_count(), "repeat": repeat,
        "seconds": {"read_csv": read_s, "pandera_dtype_only": dtype_s, "ours_valid": ours_s, "ours_dirty": dirty_s},
    }
    click.echo(f"validation of {rows:,} rows ({size_mb:.0f} MB CSV, {len(frame.columns)} columns, "
               f"{os.cpu_count()} cores), best of {repeat}:")
    for label, seconds in (("pandas read_csv (baseline)", read_s), ("pandera dtype-only schema", dtype_s),
                           ("ours, valid data", ours_s), ("ours, 1% dirty rows, 3 columns", dirty_s)):
        click.echo(f"  {label:<32} {seconds:7.3f} s  {rows / seconds:>12,.0f} rows/s")
    click.echo(f"ours / read_csv: {ours_s / read_s:.2f}   ours / dtype-only: {ours_s / dtype_s:.2f}   "
               f"dirty / valid: {dirty_s / ours_s:.2f}")
    if json_out:
        Path(json_out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

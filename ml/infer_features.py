"""Draft the features block of params.yaml from a data file: the first step of adopting a dataset, done for you.

Types, nullability and categories come straight from the data, except where params.yaml already declares a type
the data fits: whole numbers may be category codes (zip codes), 0/1 flags or floats that happen to be whole, which
the data alone cannot tell from ints. A typed file (parquet) says which numbers are floats: a column it stores as
float stays float when its values happen to be whole. A CSV stores text, and pandas reads an int column with a gap
as floats, so there whole numbers are drafted as ints. Numeric ranges are the observed ones rounded outward at a
tenth of their span's magnitude (age 19..79 → 19..79, charges 18.3..118.7 → 10..120): a draft for a human to widen
to what the domain allows, since validation and the model server reject values outside them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ml.data import FALSE_WORDS, TRUE_WORDS, category_strings
from ml.errors import DataError
from ml.fileio import is_parquet
from ml.params import ZERO_PADDED

MAX_CLASSES = 20  # an integer target with at most this many distinct values is taken as class labels
IDENTIFIER_SHARE = 0.5  # text columns with more distinct values than this share of rows are not categories
NUMBER_TYPOS = 0.05  # a text column is numbers with typos when at most this share of its values is not a number


@dataclass
class Draft:
    """What the data says: the task, one params.yaml spec per feature, and what a human should look at."""

    task: str
    target: str
    features: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def nice_bounds(low: float, high: float, integer: bool) -> tuple[float, float]:
    """[low, high] rounded outward to a multiple of a tenth of the span's power of ten (1 at least for ints)."""
    span = high - low or abs(low) or 1.0
    step = 10.0 ** (math.floor(math.log10(span)) - 1)
    if integer:
        step = max(step, 1.0)
    digits = max(0, -math.floor(math.log10(step)))
    lo, hi = round(math.floor(low / step) * step, digits), round(math.ceil(high / step) * step, digits)
    return (int(lo), int(hi)) if step >= 1 else (lo, hi)


def stored_types(path: str | Path) -> dict[str, str]:
    """Column → "int" or "float", the number type a typed file stores it as; {} for a CSV, which stores text.
    Read from the parquet schema, not the frame: pandas reads an int column with nulls as float64."""
    if not is_parquet(path):
        return {}
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):  # reading the data reports an unreadable file
        return {}
    types = {}
    for column in schema:
        kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        if pa.types.is_integer(kind):
            types[column.name] = "int"
        elif pa.types.is_floating(kind):
            types[column.name] = "float"
    return types


def _numeric_spec(name: str, numbers: pd.Series, rows: int, notes: list[str], declared: str | None,
                  stored: str | None = None) -> dict:
    """numbers: the column's non-missing numbers (or just the distinct ones); rows: the column's length; stored:
    the number type the file stores (None for text). A column declared bool stays bool while it holds 0/1 only, one
    declared float, or stored as float and not declared int, stays float over whole numbers."""
    if declared == "bool" and numbers.isin((0, 1)).all():
        return {"type": "bool"}
    floats = declared == "float" or (stored == "float" and declared != "int")
    integer = not floats and bool((numbers % 1 == 0).all())
    low, high = nice_bounds(float(numbers.min()), float(numbers.max()), integer)
    if integer and numbers.nunique() == rows > MAX_CLASSES:  # measurements differ row to row; ids are whole
        notes.append(f"{name}: a different whole number in every row; if it is an identifier, list it in "
                     "data.exclude")
    return {"type": "int" if integer else "float", "min": low, "max": high}


def _category_spec(values: pd.Series) -> dict:
    """The distinct values as validation names them (a code read as 2.0 is "2"), codes in numeric order."""
    distinct = pd.Series(values.unique())
    if not pd.api.types.is_numeric_dtype(distinct):
        distinct = distinct.astype("string")
    return {"type": "category", "values": category_strings(distinct.sort_values()).tolist()}


def _text_spec(name: str, values: pd.Series, rows: int, notes: list[str], declared: str | None) -> dict:
    """A text column is booleans, numbers with a few typos, or categories; each distinct text is parsed once."""
    counts = values.astype("string").value_counts(sort=False)
    distinct = counts.index.to_series(index=range(len(counts)))
    if distinct.str.strip().str.lower().isin(TRUE_WORDS | FALSE_WORDS).all():
        return {"type": "bool"}
    numbers = pd.to_numeric(distinct, errors="coerce")
    text = numbers.isna().to_numpy()
    text_rows = int(counts.to_numpy()[text].sum())
    if text_rows <= NUMBER_TYPOS * len(values):
        if text_rows:
            notes.append(f"{name}: {text_rows} values are not numbers (such as {distinct[text].iloc[0]!r}); "
                         "validation will list them")
        return _numeric_spec(name, numbers.dropna(), rows, notes, declared)
    if distinct.str.match(r"\s*\d{4}-\d{2}-\d{2}").all() and pd.to_datetime(
            distinct, errors="coerce", format="ISO8601").notna().all():  # a CSV's dates are text to pandas
        raise _dates(name)
    if len(counts) > MAX_CLASSES and len(counts) > IDENTIFIER_SHARE * len(values):
        raise DataError(f"column '{name}' has {len(counts)} distinct text values in {len(values)} rows: "
                        "an identifier or free text is not a feature; list it in data.exclude, or "
                        "derive features from it")
    return _category_spec(distinct)


def _dates(name: str) -> DataError:
    return DataError(f"column '{name}' holds dates or times, which are not a feature type: derive features from it "
                     "(day of week, age in days) or list it in data.exclude")


def infer_feature(name: str, series: pd.Series, notes: list[str], declared: str | None = None,
                  stored: str | None = None, text: pd.Series | None = None) -> dict:
    """The params.yaml spec of one column, of the `declared` type where the data fits it; `stored` is the number
    type a typed file stores the column as (see stored_types); `text` is a CSV column's fields as training names
    categories (read_table's `categories`): a category's values come from it, and codes written with leading zeros
    make it one. DataError for columns that cannot be features (empty, identifiers)."""
    values = series.dropna()
    if values.empty:
        raise DataError(f"column '{name}' is empty in every row: remove it from the data")
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
        raise _dates(name)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    padded = _zero_padded(text) if numeric and declared in (None, "category") else None
    if padded is not None:
        notes.append(f"{name}: codes written with leading zeros (such as {padded!r}): a category, not a number")
    if padded is not None or (declared == "category" and not (numeric and (values % 1 != 0).any())):
        spec = _category_spec(values)  # codes are whole numbers
    elif pd.api.types.is_bool_dtype(values):
        spec = {"type": "bool"}
    elif numeric:
        spec = _numeric_spec(name, values.astype(float), len(series), notes, declared, stored)
    else:
        spec = _text_spec(name, values, len(series), notes, declared)
    if spec["type"] == "category" and text is not None:
        spec["values"] = _category_spec(text.dropna())["values"]  # as validation will read the file
    if len(values) < len(series):
        spec["nullable"] = True
    if values.nunique() == 1:
        notes.append(f"{name}: the same value in every row; it tells the model nothing")
    return spec


def _zero_padded(text: pd.Series | None) -> str | None:
    """A field of the column written as a whole number with leading zeros ("02134"), or None."""
    if text is None:
        return None
    present = text.dropna()
    found = present[present.str.match(rf"[ \t]*{ZERO_PADDED}\d*[ \t]*$")]
    return None if found.empty else str(found.iloc[0])


def infer_task(target: pd.Series) -> str:
    """Class labels (text, booleans, or at most MAX_CLASSES distinct integers) or a number to predict."""
    values = target.dropna()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "classification"
    if (values % 1 != 0).any():
        return "regression"
    return "classification" if values.nunique() <= MAX_CLASSES else "regression"


def draft_features(frame: pd.DataFrame, target: str, task: str | None = None,
                   declared: Mapping[str, str] | None = None, stored: Mapping[str, str] | None = None,
                   texts: pd.DataFrame | None = None) -> Draft:
    """Every column but the target becomes a feature: the schema is strict, so every column must be declared.
    `declared` (column → type) is what params.yaml says already: re-drafting keeps it where the data fits.
    `stored` (column → "int"/"float", from stored_types) is what a typed file says: a stored float stays float.
    `texts`: a CSV's columns read as text (read_table's `categories`, every column), for infer_feature."""
    if target not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:8])) + (", …" if len(frame.columns) > 8 else "")
        raise DataError(f"target '{target}' is not a column of the data (columns: {shown})")
    labels = frame[target]
    draft = Draft(task=task or infer_task(labels), target=target)
    if draft.task == "regression" and not pd.api.types.is_numeric_dtype(labels) and (
            pd.to_numeric(pd.Series(labels.dropna().unique()), errors="coerce").isna().mean() > NUMBER_TYPOS):
        raise DataError(f"target '{target}' holds text, which a regression cannot predict; use --task "
                        "classification")
    missing = int(labels.isna().sum())
    if missing:
        draft.notes.append(f"{target}: the target is missing in {missing} rows; validation rejects them, so drop "
                           "those rows from the data")
    if draft.task == "classification" and labels.nunique() < 2:
        raise DataError(f"target '{target}' has a single class; a classifier needs at least two")
    declared, stored = declared or {}, stored or {}
    for name in frame.columns.drop(target):
        draft.features[str(name)] = infer_feature(str(name), frame[name], draft.notes, declared.get(str(name)),
                                                  stored.get(str(name)),
                                                  None if texts is None else texts[name])
    if not draft.features:
        raise DataError(f"the data has no column besides the target '{target}'")
    return draft

"""Read the dataset and turn validated rows into the frame the model sees."""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from ml.errors import DataError
from ml.fileio import is_parquet
from ml.params import Feature, Params, category_text, text_category

# How booleans are spelled in text columns (compared lower-cased).
TRUE_WORDS = {"true", "1", "yes", "t", "y"}
FALSE_WORDS = {"false", "0", "no", "f", "n"}
# Only an empty field is missing: pandas' default NA spellings ("NA", "None", "null", "n/a", "nan"...) can be real
# categories (NA is North America), which the model server accepts as such.
MISSING_CSV = {"keep_default_na": False, "na_values": [""]}


def read_table(path: str | Path, categories: Collection[str] = ()) -> pd.DataFrame:
    """Read a CSV or parquet file; missing, empty and garbled files are one-line DataErrors. In a CSV the
    `categories` columns are read as text, each field named by text_category (so "02134" keeps its zero)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: data file is empty")
    try:
        if is_parquet(path):
            frame = pd.read_parquet(path)
        else:
            # A first row with more fields than the header would silently become the index (index_col=None) or
            # be truncated (index_col=False, with a ParserWarning): make it a parse error instead.
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(path, low_memory=False, index_col=False, dtype=dict.fromkeys(categories, str),
                                    **MISSING_CSV)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: data file has no columns") from None
    except pd.errors.ParserWarning:
        raise DataError(f"{path}: cannot be parsed as csv (the first row has more fields than the header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise DataError(f"{path}: cannot be parsed as {path.suffix.lstrip('.') or 'csv'} ({first})") from None
    if frame.empty:
        raise DataError(f"{path}: data file has a header but no rows")
    if not is_parquet(path):
        _refuse_duplicate_names(path, frame)
        for name in set(categories) & set(frame.columns):
            frame[name] = _named_texts(frame[name])
    return frame


def _named_texts(texts: pd.Series) -> pd.Series:
    """Text fields as categories (text_category), each distinct text named once; missing stays NaN."""
    codes, distinct = pd.factorize(texts)
    names = [text_category(text) for text in distinct]
    if names == list(distinct):
        return texts  # nothing to rename: the usual case, and free
    return pd.Series(np.array([*names, np.nan], dtype=object)[codes], index=texts.index, name=texts.name,
                     dtype=texts.dtype)  # pandas' own text dtype, as it reads text columns: fast to validate


def _refuse_duplicate_names(path: Path, frame: pd.DataFrame) -> None:
    """pandas renames a repeated CSV header to 'region.1', a column the file does not have: name the real one."""
    if not any(re.fullmatch(r".+\.\d+", str(name)) for name in frame.columns):
        return  # no renamed column: nothing repeated (the header is read again only when one may be)
    header = pd.read_csv(path, nrows=1, header=None, dtype=str, keep_default_na=False).iloc[0].tolist()
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"{path}: column '{repeated[0]}' appears {header.count(repeated[0])} times in the header")


def read_data(params: Params, path: str | Path | None = None) -> pd.DataFrame:
    """The data file (params.yaml's, or a new one that is to replace it) without the columns `data.exclude` names:
    identifiers and timestamps may stay in the file without being validated or learned from."""
    frame = read_table(path or params.data_path, [f.name for f in params.features if f.type == "category"])
    return frame.drop(columns=[name for name in params.exclude if name in frame.columns])


def to_bool(series: pd.Series) -> pd.Series:
    """Booleans arrive as True/False, 1/0 or 'yes'/'no' strings; return 1.0/0.0 with NaN for missing (and for
    anything else, such as 7 or 0.5, which validation then rejects)."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float).where(series.isin([0, 1]))
    lowered = series.astype("string").str.strip().str.lower()
    out = pd.Series(np.nan, index=series.index, dtype=float)
    out[lowered.isin(TRUE_WORDS)] = 1.0
    out[lowered.isin(FALSE_WORDS)] = 0.0
    return out


def category_strings(series: pd.Series) -> pd.Series:
    """A category column as the strings params.yaml lists (<NA> for missing), whatever dtype it was read as."""
    if pd.api.types.is_float_dtype(series):
        series = series.map(category_text, na_action="ignore")
    return series.astype("string")


def model_column(series: pd.Series, feature: Feature) -> pd.Series:
    if feature.type == "category":
        return category_strings(series).astype(object).where(series.notna(), np.nan)
    if feature.type == "bool":
        return to_bool(series)
    return pd.to_numeric(series, errors="coerce").astype(float)


def model_frame(frame: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Feature columns in params order with the dtypes the pipeline is fitted on (float or object)."""
    return pd.DataFrame({f.name: model_column(frame[f.name], f) for f in params.features}, index=frame.index)


def target_values(frame: pd.DataFrame, params: Params) -> np.ndarray:
    target = frame[params.target]
    if params.task == "regression":
        return pd.to_numeric(target, errors="coerce").to_numpy(dtype=float)
    if pd.api.types.is_bool_dtype(target):
        # The user's own labels, True/False, end to end: reports, the confusion matrix and the served model's
        # predictions show them, and the model's classes_ are [False, True] (the positive class True, as 1 was).
        # A plain bool array also when pandas read the column as its nullable "boolean" dtype (an object array).
        return target.to_numpy(dtype=bool)
    return target.to_numpy()


def json_records(frame: pd.DataFrame, params: Params) -> list[dict]:
    """Model-frame rows back as JSON-ready records with each feature in its declared type (None for missing)."""
    records = []
    for row in frame[params.feature_names].itertuples(index=False):
        record = {}
        for feature, value in zip(params.features, row, strict=True):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                record[feature.name] = None
            elif feature.type == "int":
                record[feature.name] = int(value)
            elif feature.type == "bool":
                record[feature.name] = bool(value)
            elif feature.type == "float":
                record[feature.name] = float(value)
            else:
                record[feature.name] = str(value)
        records.append(record)
    return records

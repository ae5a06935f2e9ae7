"""Stream the feature columns (and logged predictions) out of CSV, parquet or JSON-lines prediction logs.

Everything is read columnar with pyarrow in batches of bounded size, so a file of any length is summarised in
bounded memory. Each batch comes out normalised: numeric features as float64 arrays (NaN = null), categories
and booleans as arrow string arrays, whatever the file's own types were (booleans are spelled "true"/"false"
when counted: see bool_label). Category and missing values are read as training reads them (ml.data): only an
empty CSV field is missing ("NA" is a category), an integer code read as 2.0 is the category "2" and a
zero-padded code ("02134") keeps its zeros.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from ml.errors import DataError
from ml.fileio import PARQUET_SUFFIXES
from ml.params import NUMBER, ZERO_PADDED, Feature, category_text, text_category

if TYPE_CHECKING:
    import pandas as pd

BLOCK_BYTES = 1 << 20  # per parsed block: bigger blocks cost memory (~100 MB more at 4 MB), smaller ones time
PARQUET_BATCH_ROWS = 131_072
LOG_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst")
TRUE_WORDS = {"true", "1", "1.0", "yes", "t", "y"}
FALSE_WORDS = {"false", "0", "0.0", "no", "f", "n"}
OUTPUTS = ("probability", "prediction")  # the model output columns of a prediction log (or exported table)
# Category fields of a CSV are named by ml.params.text_category, as training names them: "1.0" and " 1" are the
# category "1", "02134" stays "02134". Fields that need no renaming are skipped in arrow first, so integer ids and
# plain text cost nothing.
CSV_NUMBER = rf"^[ \t]*{NUMBER}[ \t]*$"
KEPT_AS_WRITTEN = rf"^(0|-?[1-9]\d*|[ \t]*{ZERO_PADDED}.*)$"  # named as they are, or zero-padded codes


def data_suffix(name: str) -> str | None:
    """The file ending iter_batches reads a file by (.csv.gz, .parquet, .jsonl…), lower-cased, or None."""
    lowered = name.lower()
    return next((suffix for suffix in (*CSV_SUFFIXES, *PARQUET_SUFFIXES, *LOG_SUFFIXES) if lowered.endswith(suffix)),
                None)


@dataclass
class Batch:
    """One block of rows: normalised feature columns, and the logged predictions if the source has them."""

    rows: int
    columns: dict[str, Any]  # name -> float64 ndarray (numeric) or pyarrow string array (category, bool)
    prediction: tuple[str, Any] | None = None  # ("numeric", float64 ndarray) or ("category", string array)


def iter_batches(path: str | Path, features: tuple[Feature, ...], task: str) -> Iterator[Batch]:
    """Yield normalised batches from a data file, a prediction-log file or a directory of *.jsonl logs."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(LOG_SUFFIXES))
        if not files:
            raise DataError(f"{path}: no prediction logs (*.jsonl) in this directory")
        for file in files:
            yield from _log_batches(file, features, task)
        return
    if not path.is_file():
        raise DataError(f"{path}: not found")
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        tables = _csv_tables(path, features, task)
    elif name.endswith(PARQUET_SUFFIXES):
        tables = _parquet_tables(path, features)
    elif name.endswith(LOG_SUFFIXES):
        yield from _log_batches(path, features, task)
        return
    else:
        raise DataError(f"{path}: unsupported file type (expected .csv, .parquet, .jsonl prediction logs "
                        f"or a directory of them)")
    for table in tables:
        batch = normalise(table, features, path)
        batch.prediction = _logged_prediction(table, task, path)
        yield batch


def frame_batch(frame: pd.DataFrame, features: tuple[Feature, ...], where: str = "data") -> Batch:
    """Normalise an in-memory DataFrame exactly as file batches are (used at training time)."""
    _require_columns([str(c) for c in frame.columns], features, where)
    names = [f.name for f in features]
    try:
        table = pa.Table.from_pandas(frame[names], preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise DataError(f"{where}: columns of mixed types cannot be read ({_first_line(exc)})") from None
    return normalise(table, features, where)


def normalise(table: pa.Table | pa.RecordBatch, features: tuple[Feature, ...], where: Any) -> Batch:
    columns = {f.name: _normalise_column(table.column(f.name), f, where) for f in features}
    return Batch(rows=table.num_rows, columns=columns)


def _normalise_column(values: Any, feature: Feature, where: Any) -> Any:
    if feature.is_numeric:
        try:
            return float_values(values)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            found = _quoted(str(exc)) or str(values.type)
            raise DataError(f"{where}: column '{feature.name}' should hold numbers ({feature.type}) "
                            f"but holds {found}") from None
    try:
        if feature.type == "category" and pa.types.is_floating(values.type):
            return _named(values, pc.drop_null(pc.unique(values)), category_text)
        return pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise DataError(f"{where}: column '{feature.name}' should hold {feature.type} values "
                        f"but holds {values.type}") from None


def _named(values: Any, distinct: Any, name: Callable[[Any], str]) -> Any:
    """values as strings, those in distinct named by name(): called once per distinct value, not once per row."""
    names = _string_array([name(value) for value in distinct.to_pylist()])
    found = pc.index_in(values, value_set=distinct)
    return pc.if_else(pc.is_null(found), pc.cast(values, pa.string()), pc.take(names, found))


def _string_array(texts: list[str]) -> pa.Array:
    """An arrow string array built from its buffers: pa.array(list) imports pandas (see float_values)."""
    encoded = [text.encode() for text in texts]
    offsets = np.cumsum([0, *map(len, encoded)], dtype=np.int32)
    return pa.StringArray.from_buffers(len(texts), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


def _csv_categories(batch: pa.RecordBatch, features: tuple[Feature, ...]) -> pa.RecordBatch:
    """CSV text has no types, but training reads a column of numbers as numbers: name them as it does."""
    for feature in features:
        if feature.type == "category":
            index = batch.schema.get_field_index(feature.name)
            distinct = pc.unique(batch.column(index))
            renamed = pc.and_(pc.match_substring_regex(distinct, CSV_NUMBER),
                              pc.invert(pc.match_substring_regex(distinct, KEPT_AS_WRITTEN)))
            numbers = pc.filter(distinct, renamed)
            if len(numbers):
                named = _named(batch.column(index), numbers, text_category)
                batch = batch.set_column(index, feature.name, named)
    return batch


def float_values(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """float64 numpy values, NaN for nulls, read straight from the arrow buffers.

    (pyarrow's own to_numpy imports pandas, which costs ~50 MB and a second per run.)
    """
    if pa.types.is_null(values.type):
        return np.full(len(values), np.nan)
    values = pc.cast(values, pa.float64())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    validity, data = values.buffers()
    start, count = values.offset, len(values)
    array = np.frombuffer(data, dtype=np.float64, count=start + count)[start:] if count else np.empty(0)
    if values.null_count:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[start:start + count]
        array = np.where(bits.astype(bool), array, np.nan)
    return array


def bool_label(label: str) -> str:
    """Spellings of true and false (True, 1, yes…, blanks around them allowed, as training reads them) become
    "true"/"false"; anything else stays as it is."""
    lower = label.strip().lower()
    return "true" if lower in TRUE_WORDS else "false" if lower in FALSE_WORDS else label


def _require_columns(names: list[str], features: tuple[Feature, ...], where: Any) -> None:
    missing = [f.name for f in features if f.name not in names]
    if missing:
        raise DataError(f"{where}: missing feature column{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(missing)} (listed under features in params.yaml)")


def _csv_tables(path: Path, features: tuple[Feature, ...], task: str) -> Iterator[pa.RecordBatch]:
    header = _csv_header(path)
    _require_columns(header, features, path)
    types = {f.name: pa.float64() if f.is_numeric else pa.string() for f in features}
    outputs = {"probability": pa.float64(), "prediction": pa.float64() if task == "regression" else pa.string()}
    types.update({name: kind for name, kind in outputs.items() if name in header and name not in types})
    # Only an empty field is missing, as in training: pyarrow's default null spellings include "NA" and "null".
    convert = pa_csv.ConvertOptions(column_types=types, include_columns=list(types), null_values=[""],
                                    strings_can_be_null=True)
    try:
        with _csv_source(path) as source:
            reader = pa_csv.open_csv(source, read_options=pa_csv.ReadOptions(block_size=BLOCK_BYTES),
                                     convert_options=convert)
            yield from (_csv_categories(batch, features) for batch in reader)
    except pa.ArrowInvalid as exc:
        raise DataError(f"{path}: {_csv_problem(str(exc), header, features)}") from None


def _csv_source(path: Path) -> Any:
    """A Python file object, not the path: given a path, pyarrow reads the whole file ahead into memory."""
    if path.suffix.lower() == ".csv":
        return open(path, "rb")  # noqa: SIM115 - the caller's with-block closes it
    return pa.input_stream(str(path), compression="detect")


def _csv_header(path: Path) -> list[str]:
    try:
        with pa.input_stream(str(path), compression="detect") as raw:
            # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name; pandas
            # and pyarrow's own reader skip it too.
            first = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="").readline()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot read ({_first_line(exc)})") from None
    if not first.strip():
        raise DataError(f"{path}: empty file (no header row)")
    return next(csv.reader([first]))


def _csv_problem(message: str, header: list[str], features: tuple[Feature, ...]) -> str:
    """Turn pyarrow's 'In CSV column #3: CSV conversion error to double: invalid value 'x'' into words."""
    column = re.search(r"column #(\d+)", message)
    if column and "conversion error" in message and int(column.group(1)) < len(header):
        name = header[int(column.group(1))]
        kind = next((f.type for f in features if f.name == name), "number")
        return f"column '{name}' should hold numbers ({kind}) but holds {_quoted(message) or 'text'}"
    return _first_line(message)


def _parquet_tables(path: Path, features: tuple[Feature, ...]) -> Iterator[pa.RecordBatch]:
    try:
        parquet = pq.ParquetFile(path)
        _require_columns(parquet.schema_arrow.names, features, path)
        names = [f.name for f in features]
        names += [name for name in OUTPUTS if name in parquet.schema_arrow.names and name not in names]
        yield from parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=names)
    except pa.ArrowException as exc:
        raise DataError(f"{path}: not a readable parquet file ({_first_line(exc)})") from None


def _log_batches(path: Path, features: tuple[Feature, ...], task: str) -> Iterator[Batch]:
    """The server's prediction log: one JSON object per line, features nested under "features"."""
    for first_line, chunk in _line_chunks(path):
        try:
            table = pa_json.read_json(io.BytesIO(chunk))
        except pa.ArrowInvalid as exc:
            raise DataError(f"{path}: not valid JSON lines ({_json_problem(exc, chunk, first_line)})") from None
        flat = _flatten_log(table, features, path)
        batch = normalise(flat, features, path)
        batch.prediction = _logged_prediction(table, task, path)
        yield batch


def _line_chunks(path: Path) -> Iterator[tuple[int, bytes]]:
    """(the file's line number of its first line, a block of whole lines about BLOCK_BYTES long), so a huge log
    never sits in memory at once."""
    carry, line = b"", 1
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            block = carry + block
            cut = block.rfind(b"\n") + 1
            carry = block[cut:]
            if block[:cut].strip():
                yield line, block[:cut]
            line += block.count(b"\n", 0, cut)
    if carry.strip():
        yield line, carry + b"\n"


def _json_problem(exc: Exception, chunk: bytes, first_line: int) -> str:
    """pyarrow counts records from 0 within the chunk it parsed, skipping blank lines ('Invalid value. in row 0');
    a person needs the line of the file."""
    message = _first_line(exc)
    found = re.search(r"\s+in row (\d+)$", message)
    records = [number for number, line in enumerate(chunk.split(b"\n"), first_line) if line.strip()]
    if not found or int(found.group(1)) >= len(records):
        return message
    return f"line {records[int(found.group(1))]}: {message[:found.start()]}"


def _flatten_log(table: pa.Table, features: tuple[Feature, ...], where: Path) -> pa.Table:
    if "features" in table.column_names and pa.types.is_struct(table.schema.field("features").type):
        nested = table.column("features")
        present = [nested.type.field(i).name for i in range(nested.type.num_fields)]
        _require_columns(present, features, where)
        return pa.table({f.name: pc.struct_field(nested, f.name) for f in features})
    _require_columns(table.column_names, features, where)
    return table


def _logged_prediction(table: pa.Table | pa.RecordBatch, task: str, where: Path) -> tuple[str, Any] | None:
    """The positive-class probability when logged, else the prediction itself (a number or a label)."""
    for name in OUTPUTS:
        if name in table.column_names and table.column(name).null_count < table.num_rows:
            values = table.column(name)
            if name == "probability" or task == "regression":
                try:
                    return "numeric", float_values(values)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise DataError(f"{where}: '{name}' should hold numbers but holds {values.type}") from None
            return "category", pc.cast(values, pa.string())
    return None


def _quoted(message: str) -> str | None:
    found = re.search(r"'([^']*)'", message)
    return f"'{found.group(1)}'" if found else None


def _first_line(exc: Exception | str) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__

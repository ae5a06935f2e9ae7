"""Every input format gives the same profile; reading is streamed; bad input is one DataError line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from ml.data import model_frame, read_data, read_table
from ml.drift import readers
from ml.drift.profile import profile_batches, profile_source
from ml.drift.readers import frame_batch
from ml.drift.summary import NumericAccumulator
from ml.errors import DataError
from ml.params import Params
from tests.drift.conftest import RAW_PARAMS, make_frame, make_params

ROWS = 3000


def write_log(path: Path, frame: pd.DataFrame, probability: np.ndarray | None = None,
              labels: np.ndarray | None = None) -> None:
    lines = []
    for index, record in enumerate(frame.to_dict("records")):
        features = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()}
        features = {k: (v.item() if hasattr(v, "item") else v) for k, v in features.items()}
        lines.append(json.dumps({
            "ts": "2025-01-01T00:00:00Z", "model_version": "v3", "features": features,
            "prediction": None if labels is None else labels[index].item(),
            "probability": None if probability is None else float(probability[index]),
        }))
    path.write_text("\n".join(lines) + "\n")


def assert_same_profile(first, second) -> None:
    assert first.rows == second.rows
    for name, summary in first.columns.items():
        other = second.columns[name]
        assert (summary.rows, summary.nulls, summary.kind) == (other.rows, other.nulls, other.kind), name
        if summary.kind == "numeric":
            assert summary.mean == pytest.approx(other.mean) and summary.std == pytest.approx(other.std), name
            np.testing.assert_allclose(summary.sample, other.sample, err_msg=name)
        else:
            assert summary.counts == other.counts, name


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame(np.random.default_rng(5), ROWS)


def test_csv_parquet_logs_and_frames_give_the_same_profile(frame: pd.DataFrame, params: Params,
                                                          tmp_path: Path) -> None:
    frame.to_csv(tmp_path / "data.csv", index=False)
    frame.to_parquet(tmp_path / "data.parquet")
    (tmp_path / "logs").mkdir()
    write_log(tmp_path / "logs" / "a.jsonl", frame.iloc[:1000])
    write_log(tmp_path / "logs" / "b.jsonl", frame.iloc[1000:])
    write_log(tmp_path / "one.jsonl", frame)
    expected = profile_batches([frame_batch(frame, params.features)], "frame", params.features, 10_000)
    assert expected.columns["senior_citizen"].counts.keys() == {"true", "false"}
    for source in ("data.csv", "data.parquet", "logs", "one.jsonl"):
        profile = profile_source(tmp_path / source, params.features, params.task, 10_000)
        assert_same_profile(expected, profile)


def test_a_byte_order_mark_and_padded_booleans_read_as_training_reads_them(frame: pd.DataFrame, params: Params,
                                                                          tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts with a byte-order mark; training (pandas) skips it and strips blanks around a
    boolean, so a champion's own training file must not look drifted (or miss its first column) here."""
    spelled = frame.assign(senior_citizen=frame["senior_citizen"].map({True: "TRUE ", False: "  f"}))
    spelled.to_csv(tmp_path / "excel.csv", index=False, encoding="utf-8-sig")
    assert (tmp_path / "excel.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    expected = profile_batches([frame_batch(frame, params.features)], "frame", params.features, 10_000)
    assert_same_profile(expected, profile_source(tmp_path / "excel.csv", params.features, params.task, 10_000))


def test_small_blocks_stream_the_file_with_the_same_result(frame: pd.DataFrame, params: Params, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    frame.to_csv(tmp_path / "data.csv", index=False)
    write_log(tmp_path / "data.jsonl", frame)
    whole = {name: profile_source(tmp_path / name, params.features, params.task, 10_000)
             for name in ("data.csv", "data.jsonl")}
    monkeypatch.setattr(readers, "BLOCK_BYTES", 8192)
    assert len(list(readers.iter_batches(tmp_path / "data.csv", params.features, params.task))) > 10
    assert len(list(readers.iter_batches(tmp_path / "data.jsonl", params.features, params.task))) > 10
    for name, profile in whole.items():
        assert_same_profile(profile, profile_source(tmp_path / name, params.features, params.task, 10_000))


def test_the_numeric_sample_is_bounded_uniform_and_the_moments_exact() -> None:
    accumulator = NumericAccumulator(sample_size=5000)
    rng = np.random.default_rng(0)
    values = np.arange(100_000, dtype=np.float64)
    for start in range(0, values.size, 2500):
        accumulator.add(values[start:start + 2500], rng.random(2500, dtype=np.float32))
    summary = accumulator.finish()
    assert summary.sample.size == 5000 and np.unique(summary.sample).size == 5000
    assert np.all(np.diff(summary.sample) > 0)
    assert scipy_stats.kstest(summary.sample / values.size, "uniform").pvalue > 1e-3
    assert summary.mean == pytest.approx(values.mean()) and summary.std == pytest.approx(values.std())
    assert (summary.min, summary.max, summary.rows, summary.nulls) == (0, 99_999, 100_000, 0)


@pytest.mark.filterwarnings("error")  # numpy's overflow warnings too
def test_moments_of_numbers_near_the_float64_limit_neither_overflow_nor_warn() -> None:
    """Production data is not validated: ±1e308 must give the moments, not inf, NaN or an OverflowError."""
    accumulator = NumericAccumulator(sample_size=100)
    rng = np.random.default_rng(0)
    batches = [np.array([1e200, 3e200, np.inf]), np.array([5e307, -1e308]), np.array([1e308, 1e308, -np.inf])]
    for values in batches:  # the first batch's numbers are squared before the later ones raise the scale
        accumulator.add(values, rng.random(values.size, dtype=np.float32))
    summary = accumulator.finish()
    finite = np.array([1e200, 3e200, 5e307, -1e308, 1e308, 1e308])
    assert (summary.rows, summary.nulls, summary.min, summary.max) == (8, 2, -1e308, 1e308)
    assert summary.mean == pytest.approx((finite / 1e300).mean() * 1e300)
    assert summary.std == pytest.approx((finite / 1e300).std() * 1e300)


def test_boolean_spellings_are_one_category(params: Params, tmp_path: Path, frame: pd.DataFrame) -> None:
    frame = frame.iloc[:6].copy()
    frame["senior_citizen"] = ["True", "FALSE", "1", "no", "yes", "maybe"]
    frame.to_csv(tmp_path / "data.csv", index=False)
    counts = profile_source(tmp_path / "data.csv", params.features, params.task, 1000).columns["senior_citizen"]
    assert counts.counts == {"true": 3, "false": 2, "maybe": 1}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_numbers_in_a_category_column_are_the_categories_training_sees(frame: pd.DataFrame, tmp_path: Path,
                                                                       suffix: str) -> None:
    """Training reads a CSV's category fields as text, a number named by category_text ("1.0" is "1") unless it is
    written with leading zeros ("01" stays "01", as a ZIP code must); a parquet file holds the names themselves.
    Either way the drift job must count the categories the model saw."""
    params = make_params(tmp_path, {"plan": {"type": "category", "values": [1, 2, 3], "nullable": True}})
    frame = frame.iloc[:10].copy()
    frame["plan"] = ["1.0", "2", "", "01", " 3", "1e1", "2.50", "+4", "-0", "1e16"]
    frame.to_csv(tmp_path / "data.csv", index=False)
    if suffix == ".parquet":
        read_table(tmp_path / "data.csv", ["plan"]).to_parquet(tmp_path / "data.parquet")
    training = model_frame(read_data(params, tmp_path / f"data{suffix}"), params)["plan"]

    plan = profile_source(tmp_path / f"data{suffix}", params.features, params.task, 1000).columns["plan"]
    assert plan.counts == training.value_counts().to_dict()
    assert plan.counts == {"1": 1, "01": 1, "2": 1, "3": 1, "10": 1, "2.5": 1, "4": 1, "0": 1,
                           "10000000000000000": 1}
    assert plan.nulls == 1


def test_logged_probabilities_and_labels_become_the_prediction(frame: pd.DataFrame, params: Params,
                                                               tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    write_log(tmp_path / "scores.jsonl", frame, probability=rng.random(ROWS), labels=rng.integers(0, 2, ROWS))
    write_log(tmp_path / "labels.jsonl", frame, labels=rng.integers(0, 2, ROWS))
    write_log(tmp_path / "none.jsonl", frame)
    scores = profile_source(tmp_path / "scores.jsonl", params.features, params.task, 10_000)
    labels = profile_source(tmp_path / "labels.jsonl", params.features, params.task, 10_000)
    assert scores.prediction.kind == "numeric" and scores.prediction.count == ROWS
    assert labels.prediction.kind == "category" and set(labels.prediction.counts) == {"0", "1"}
    assert profile_source(tmp_path / "none.jsonl", params.features, params.task, 10_000).prediction is None


def test_the_job_path_never_imports_pandas(frame: pd.DataFrame, params: Params, tmp_path: Path) -> None:
    """pyarrow's to_numpy and pa.array(list) import pandas (~50 MB, ~1 s); the reader must avoid them."""
    import subprocess
    import sys

    frame.loc[::7, "region"] = "1.0"  # a number in a category column is renamed "1", as training names it
    frame.to_csv(tmp_path / "data.csv", index=False)
    write_log(tmp_path / "data.jsonl", frame, probability=np.random.default_rng(2).random(ROWS))
    code = (
        "import builtins, json, sys\n"
        "from pathlib import Path\n"
        "from ml.params import parse_params\n"  # may pull pandas in through sklearn: not the drift job's doing
        f"params = parse_params(json.loads({json.dumps(RAW_PARAMS)!r}), Path('.'))\n"
        "attempts, real = [], builtins.__import__\n"
        "def spy(name, *args, **kwargs):\n"
        "    if name == 'pandas' or name.startswith('pandas.'):\n"
        "        attempts.append(name)\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = spy\n"
        "from ml.drift.profile import profile_source\n"
        "from ml.drift.detect import compare\n"
        "from ml.drift.config import DriftConfig\n"
        f"a = profile_source({str(tmp_path / 'data.csv')!r}, params.features, params.task, 1000)\n"
        f"b = profile_source({str(tmp_path / 'data.jsonl')!r}, params.features, params.task, 1000)\n"
        "compare(a, b, params.features, DriftConfig())\n"
        "assert not attempts, attempts\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("content", "needles"), [
    ("", ["empty file"]),
    ("tenure_months,monthly_charges\n", ["missing feature columns", "total_charges", "senior_citizen"]),
])
def test_unreadable_csv_is_a_data_error(content: str, needles: list[str], params: Params, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(DataError) as error:
        profile_source(tmp_path / "bad.csv", params.features, params.task, 1000)
    for needle in needles:
        assert needle in str(error.value)


def test_header_only_is_no_rows(frame: pd.DataFrame, params: Params, tmp_path: Path) -> None:
    frame.iloc[:0].to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(DataError, match="no rows"):
        profile_source(tmp_path / "empty.csv", params.features, params.task, 1000)


def test_wrong_types_name_the_column_and_value(frame: pd.DataFrame, params: Params, tmp_path: Path) -> None:
    bad = frame.astype({"monthly_charges": str})
    bad.loc[7, "monthly_charges"] = "lots"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    bad.to_parquet(tmp_path / "bad.parquet")
    write_log(tmp_path / "bad.jsonl", bad.iloc[:20].drop(index=[0, 1, 2, 3, 4, 5, 6]))
    for name in ("bad.csv", "bad.parquet", "bad.jsonl"):
        with pytest.raises(DataError) as error:
            profile_source(tmp_path / name, params.features, params.task, 1000)
        message = str(error.value)
        assert "monthly_charges" in message and "lots" in message and "\n" not in message, message


@pytest.mark.parametrize(("name", "needle"), [("data.txt", "unsupported file type"), ("missing.csv", "not found"),
                                              ("logs", "no prediction logs")])
def test_wrong_paths_are_data_errors(name: str, needle: str, params: Params, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("x")
    (tmp_path / "logs").mkdir()
    with pytest.raises(DataError, match=needle):
        profile_source(tmp_path / name, params.features, params.task, 1000)


def test_garbled_json_lines_are_a_data_error(params: Params, tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"features": {"tenure_months": 1}\nnot json\n')
    with pytest.raises(DataError, match="bad.jsonl"):
        profile_source(tmp_path / "bad.jsonl", params.features, params.task, 1000)


def test_a_garbled_line_is_named_by_its_line_number_in_the_file(frame: pd.DataFrame, params: Params,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "first.jsonl").write_text('not json\n{"features": {}}\n')
    with pytest.raises(DataError, match=r"first\.jsonl: not valid JSON lines \(line 1: JSON parse error: Invalid"):
        profile_source(tmp_path / "first.jsonl", params.features, params.task, 1000)

    write_log(tmp_path / "late.jsonl", frame.iloc[:300])
    lines = (tmp_path / "late.jsonl").read_text().splitlines()
    lines[100:100] = ["", "   "]  # blank lines count as lines of the file, not as records
    lines[250] = "{oops"
    (tmp_path / "late.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(readers, "BLOCK_BYTES", 8192)  # the bad line is in a later chunk
    with pytest.raises(DataError, match=r"late\.jsonl: not valid JSON lines \(line 251: ") as error:
        profile_source(tmp_path / "late.jsonl", params.features, params.task, 1000)
    assert "row" not in str(error.value)

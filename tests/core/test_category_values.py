"""Category values reach the model as the strings params.yaml lists, whatever pandas makes of the column.

"NA" (North America) is a region, not a missing value: only an empty field is missing, as in a request to the
model server, where "NA" is a category and null is missing. A column of integer codes with gaps is read as floats;
its 2.0 must still be the category "2".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.data import model_frame, read_table
from ml.model import build_pipeline
from ml.params import Params, parse_params
from ml.validation import validate_frame
from tests.conftest import base_params

NA_SPELLINGS = ["NA", "None", "null", "N/A", "nan"]  # pandas' default missing values, among others


def _params(tmp_path: Path, **features: dict) -> Params:
    raw = base_params()
    raw["features"].update(features)
    return parse_params(raw, tmp_path)


def _with_column(sample_csv: Path, tmp_path: Path, name: str, texts: list[str]) -> tuple[Path, list[str]]:
    """The sample with column name holding texts, cycled ("" is an empty field); returns the file and the column."""
    frame = pd.read_csv(sample_csv)
    frame[name] = [texts[i % len(texts)] for i in range(len(frame))]
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path, frame[name].tolist()


def _as_written(column: pd.Series) -> list[str]:
    return column.fillna("").tolist()


def test_na_spellings_are_categories_and_only_empty_fields_are_missing(sample_csv: Path, tmp_path: Path) -> None:
    params = _params(tmp_path, region={"type": "category", "values": [*NA_SPELLINGS, "EU"], "nullable": True})
    path, written = _with_column(sample_csv, tmp_path, "region", [*NA_SPELLINGS, "EU", ""])
    frame = read_table(path)

    assert validate_frame(frame, params).ok
    region = model_frame(frame, params)["region"]
    assert _as_written(region) == written
    assert region.isna().sum() == written.count("")


def test_an_empty_numeric_field_is_still_missing(sample_csv: Path, tmp_path: Path) -> None:
    empty = pd.read_csv(sample_csv, keep_default_na=False, dtype=str)["total_charges"].eq("").sum()
    frame = read_table(sample_csv)
    assert empty > 0 and frame["total_charges"].dtype == float
    assert frame["total_charges"].isna().sum() == empty


def test_na_in_a_numeric_column_is_not_a_number(sample_csv: Path, tmp_path: Path) -> None:
    """The server takes null, not "NA", for a missing number: the data must say it the same way (an empty field)."""
    frame = read_table(_with_column(sample_csv, tmp_path, "total_charges", ["100.5", "NA"])[0])
    result = validate_frame(frame, _params(tmp_path))
    assert [(f["column"], f["check"], f["examples"]) for f in result.failures] == [
        ("total_charges", "must be a number", ["'NA'"])]


@pytest.mark.parametrize("values", [[1, 2, 3], [1.0, 2.0, 3.0], ["1", "2", "3"]])
def test_integer_codes_with_gaps_are_the_categories_params_lists(sample_csv: Path, tmp_path: Path,
                                                                 values: list) -> None:
    params = _params(tmp_path, plan={"type": "category", "values": values, "nullable": True})
    path, written = _with_column(sample_csv, tmp_path, "plan", ["2", "1", "", "3"])
    frame = read_table(path)
    assert frame["plan"].dtype == float  # what pandas makes of integers with gaps

    assert params.feature("plan").values == ("1", "2", "3")
    assert validate_frame(frame, params).ok
    X = model_frame(frame, params)
    assert _as_written(X["plan"]) == written

    preprocess = build_pipeline(params).named_steps["preprocess"]
    encoded = pd.DataFrame(preprocess.fit_transform(X), columns=preprocess.get_feature_names_out())
    one_hot = encoded[["plan_1", "plan_2", "plan_3"]].sum(axis=1)
    assert (one_hot == X["plan"].notna().astype(float)).all()  # every code is a known category, missing is none
    assert np.array_equal(encoded["plan_2"].head(4), [1.0, 0.0, 0.0, 0.0])

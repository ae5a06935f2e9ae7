"""The pandera schema, built from the features block of params.yaml (the single place a dataset is described).

Type checks are written as element-wise checks rather than dtype assertions so that a report can name the
offending values ("'abc' in tenure_months is not an integer") instead of just the column's dtype.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ml.data import category_strings, to_bool
from ml.params import MAX_MAGNITUDE, Feature, Params


def _numeric(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return pd.Series(np.nan, index=series.index)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    return pd.to_numeric(series, errors="coerce")


_LIMIT_REASON = {"int": "float64 cannot hold larger integers exactly",
                 "float": "larger numbers overflow float64 when squared"}


def _bound(limit: float) -> str:
    return f"{limit:g}" if isinstance(limit, float) else str(limit)


def _checks(feature: Feature) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if feature.is_numeric:
        checks.append(pa.Check(lambda s: _numeric(s).notna() | s.isna(), name="is_number",
                               error="must be a number"))
        limit = feature.magnitude_limit
        checks.append(pa.Check(lambda s: ~(_numeric(s).abs() > limit), name=f"finite_within({limit:g})",
                               error=f"must be finite and within ±{_bound(limit)} ({_LIMIT_REASON[feature.type]})"))
    if feature.type == "int":
        checks.append(pa.Check(lambda s: (_numeric(s) % 1).fillna(0.0) == 0, name="is_integer",
                               error="must be a whole number"))
    if feature.min is not None:
        low = feature.min
        checks.append(pa.Check(lambda s: ~(_numeric(s) < low), name=f"greater_than_or_equal_to({low:g})",
                               error=f"must be >= {low:g}"))
    if feature.max is not None:
        high = feature.max
        checks.append(pa.Check(lambda s: ~(_numeric(s) > high), name=f"less_than_or_equal_to({high:g})",
                               error=f"must be <= {high:g}"))
    if feature.type == "bool":
        checks.append(pa.Check(lambda s: to_bool(s).notna() | s.isna(), name="is_boolean",
                               error="must be true/false"))
    if feature.nullable:
        # Missing in some rows is fine, in all of them is not: the model cannot learn from a column without values.
        checks.append(pa.Check(lambda s: bool(s.notna().any()), name="has_values", error="has no values at all"))
    if feature.type == "category":
        allowed = set(feature.values)
        checks.append(pa.Check(lambda s: category_strings(s).isin(allowed) | s.isna(),
                               name=f"isin({sorted(allowed)})", error="must be one of the allowed values"))
    return checks


def build_schema(params: Params) -> pa.DataFrameSchema:
    columns = {
        f.name: pa.Column(checks=_checks(f), nullable=f.nullable, required=True, coerce=False)
        for f in params.features
    }
    target_checks = []
    if params.task == "regression":
        target_checks.append(pa.Check(lambda s: _numeric(s).abs() <= MAX_MAGNITUDE, name="is_finite_number",
                                      error=f"must be a finite number within ±{_bound(MAX_MAGNITUDE)} "
                                            f"({_LIMIT_REASON['float']})"))
    else:  # scikit-learn refuses fractional labels ("continuous") only once it fits: say so here, and why
        target_checks.append(pa.Check(
            lambda s: (s % 1 == 0) | s.isna() if pd.api.types.is_float_dtype(s) else True, name="is_class_label",
            error="must be class labels (text or whole numbers), not fractions: for a numeric target set "
                  "task: regression"))
    columns[params.target] = pa.Column(checks=target_checks, nullable=False, required=True, coerce=False)
    return pa.DataFrameSchema(columns, strict=True, name="dataset")

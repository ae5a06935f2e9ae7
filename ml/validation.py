"""Validate a table against the schema and summarise every failure by column and check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.errors as pa_errors

from ml.params import Params
from ml.schema import build_schema

EXAMPLES = 5
MAX_IN_LINE = 10  # failures named in the one-line error; the reports list them all


@dataclass
class ValidationResult:
    rows: int
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def one_line(self) -> str:
        parts = [f"column '{f['column']}' {f['check']} ({f['count']} rows, e.g. {', '.join(map(str, f['examples']))})"
                 if f["count"] else f"column '{f['column']}': {f['check']}" for f in self.failures]
        more = f"; … {len(parts) - MAX_IN_LINE} more in the report" if len(parts) > MAX_IN_LINE else ""
        return f"{len(self.failures)} check(s) failed: " + "; ".join(parts[:MAX_IN_LINE]) + more


_STRUCTURAL = {
    "column_in_dataframe": "is missing from the data",
    "column_in_schema": "is not in params.yaml features (unknown column)",
}
_BUILTIN = {"not_nullable": "has missing values but is not nullable"}


def _describe(check: str, column: str, schema_checks: dict[tuple[str, str], str]) -> str:
    return schema_checks.get((column, check)) or _STRUCTURAL.get(check) or _BUILTIN.get(check, check)


def validate_frame(frame: pd.DataFrame, params: Params) -> ValidationResult:
    schema = build_schema(params)
    errors = {(name, c.name): c.error or c.name for name, col in schema.columns.items() for c in col.checks}
    try:
        schema.validate(frame, lazy=True)
    except pa_errors.SchemaErrors as exc:
        return ValidationResult(rows=len(frame), failures=_summarise(exc.failure_cases, errors))
    return ValidationResult(rows=len(frame))


def _summarise(cases: pd.DataFrame, errors: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    failures = []
    cases = cases.copy()
    # Missing and unknown columns are reported against the schema, with the column name as the failure case.
    structural = cases["check"].isin(list(_STRUCTURAL))
    cases.loc[structural, "column"] = cases.loc[structural, "failure_case"]
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        row_level = bool(group["index"].notna().any())  # not a column-level failure (missing, unknown, empty)
        examples = list(dict.fromkeys(map(repr, group["failure_case"].tolist())))[:EXAMPLES] if row_level else []
        failures.append({"column": str(column), "check": _describe(str(check), str(column), errors),
                         "count": int(len(group)) if row_level else 0, "examples": examples})
    return failures

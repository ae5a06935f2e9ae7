"""Validate the dataset against the schema built from params.yaml; write reports/validation.{json,md}."""

from pathlib import Path

import click

from ml.cli import one_line_errors, params_option
from ml.data import read_table
from ml.errors import DataError
from ml.fileio import remove_outputs, sha256_file, write_json_atomic, write_text_atomic
from ml.params import load_params
from ml.report import render_validation
from ml.validation import validate_frame


@click.command()
@params_option
@click.option("--reports", "reports_dir", default="reports", show_default=True, type=click.Path(file_okay=False))
@one_line_errors
def main(params_path: str, reports_dir: str) -> None:
    out_json, out_md = Path(reports_dir) / "validation.json", Path(reports_dir) / "validation.md"
    remove_outputs(out_json, out_md)
    params = load_params(params_path)
    report = {"data": str(params.data_path.relative_to(params.root)), "ok": False, "rows": 0, "failures": []}
    try:
        frame = read_table(params.data_path)
    except DataError as exc:
        report["error"] = str(exc)
    else:
        result = validate_frame(frame, params)
        report.update(ok=result.ok, rows=result.rows, failures=result.failures)
        if result.ok:
            report["data_sha256"] = sha256_file(params.data_path)
        else:
            report["error"] = f"{params.data_path}: {result.one_line()}"
    write_json_atomic(out_json, report)
    write_text_atomic(out_md, render_validation(report))
    if not report["ok"]:
        raise DataError(report["error"])
    click.echo(f"{report['data']}: {report['rows']} rows valid (sha256 {report['data_sha256'][:12]}…)")


if __name__ == "__main__":
    main()

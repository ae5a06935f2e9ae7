"""Validate the dataset against the schema built from params.yaml; write reports/validation.{json,md}."""

from pathlib import Path

import click

from ml.cli import one_line_errors, params_option
from ml.fileio import remove_outputs
from ml.params import load_params
from ml.steps import validate_step


@click.command()
@params_option
@click.option("--reports", "reports_dir", default="reports", show_default=True, type=click.Path(file_okay=False))
@one_line_errors
def main(params_path: str, reports_dir: str) -> None:
    reports = Path(reports_dir)
    remove_outputs(reports / "validation.json", reports / "validation.md")  # before params.yaml: it may be wrong
    params = load_params(params_path)
    dataset = validate_step(params, reports)
    rows = len(dataset.y_train) + len(dataset.y_holdout)
    click.echo(f"{params.data_label}: {rows} rows valid (sha256 {dataset.data_sha256[:12]}…)")


if __name__ == "__main__":
    main()

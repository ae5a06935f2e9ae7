"""Write retrain.json, the record a retraining PR carries (why, on which data, what the gate said)."""

import os

import click

from ml.cli import one_line_errors
from ml.fileio import write_json_atomic
from ml.json_report import load_json_report
from ml.retrain_record import build_record


@click.command()
@click.option("--comparison", default="reports/comparison.json", show_default=True, type=click.Path(dir_okay=False))
@click.option("--reason", required=True)
@click.option("--out", default="retrain.json", show_default=True, type=click.Path(dir_okay=False))
@one_line_errors
def main(comparison: str, reason: str, out: str) -> None:
    result = load_json_report(comparison, "compare.py")
    record = build_record(result, reason, os.environ.get("GITHUB_RUN_ID"), os.environ.get("GITHUB_SHA"))
    write_json_atomic(out, record)
    click.echo(f"wrote {out} (gate: {record['decision']})")


if __name__ == "__main__":
    main()

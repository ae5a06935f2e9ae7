"""Render the PR comment (with its sticky marker) and the Actions job summary from the step reports."""

from pathlib import Path

import click

from ml.cli import one_line_errors
from ml.report import write_pr_reports


@click.command()
@click.option("--reports", "reports_dir", default="reports", show_default=True, type=click.Path(file_okay=False))
@one_line_errors
def main(reports_dir: str) -> None:
    comment, summary = write_pr_reports(Path(reports_dir))
    click.echo(f"wrote {comment} and {summary}")


if __name__ == "__main__":
    main()

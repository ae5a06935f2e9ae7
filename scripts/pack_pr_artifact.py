"""Pack the PR report for pr-comment.yml: reports, model bundle, and pr.json (PR number, head SHA) from the event."""

from pathlib import Path

import click

from ml.actions import read_event
from ml.cli import one_line_errors
from ml.pr_artifact import pack


@click.command()
@click.option("--reports", "reports_dir", default="reports", show_default=True, type=click.Path(file_okay=False))
@click.option("--model-dir", default="artifacts/model", show_default=True, type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The directory to upload (replaced).")
@one_line_errors
def main(reports_dir: str, model_dir: str, out: str) -> None:
    meta = pack(Path(reports_dir), Path(model_dir), Path(out), read_event())
    click.echo(f"packed the report of PR #{meta['pr']} at {meta['head_sha'][:12]} into {out}")


if __name__ == "__main__":
    main()

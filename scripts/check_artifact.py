"""Check the untrusted PR artifact before anything uses it: expected files only, sizes, UTF-8/JSON, head SHA."""

from pathlib import Path

import click

from ml.actions import write_outputs
from ml.cli import one_line_errors
from ml.pr_artifact import check


@click.command()
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False), help="The downloaded artifact.")
@click.option("--head-sha", required=True, help="The head SHA of the pr.yml run (from the workflow_run event).")
@one_line_errors
def main(directory: str, head_sha: str) -> None:
    meta = check(Path(directory), head_sha)
    click.echo(f"{directory}: the artifact checks out (PR #{meta['pr']} claims head {meta['head_sha'][:12]})")
    write_outputs({"claimed-pr": meta["pr"]})


if __name__ == "__main__":
    main()

"""Download recent production data (drift.yml's PRODUCTION_DATA_URL); PRODUCTION_DATA_TOKEN is sent if set."""

import os
from pathlib import Path

import click

from ml.cli import one_line_errors
from ml.remote_data import download


@click.command()
@click.option("--url", required=True, help="http(s) URL of a CSV, parquet or JSON-lines prediction log.")
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@one_line_errors
def main(url: str, out: str) -> None:
    size = download(url, Path(out), os.environ.get("PRODUCTION_DATA_TOKEN") or None)
    click.echo(f"downloaded {size} bytes of production data to {out}")


if __name__ == "__main__":
    main()

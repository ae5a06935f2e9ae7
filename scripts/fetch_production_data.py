"""Download recent production data (drift.yml's PRODUCTION_DATA_URL); PRODUCTION_DATA_TOKEN is sent if set.

The drift reader reads a file by its ending, so the download keeps the URL's (a CSV export stays .csv); the path
written is printed and set as the step's `path` output.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import click

from ml.actions import write_outputs
from ml.cli import one_line_errors
from ml.drift.readers import data_suffix
from ml.remote_data import download


def destination(url: str, out: Path) -> Path:
    """out, with the URL path's data ending instead of its own when the URL has one."""
    suffix = data_suffix(unquote(urlsplit(url).path))
    if suffix is None or out.name.lower().endswith(suffix):
        return out
    own = data_suffix(out.name) or out.suffix  # .csv.gz is one ending, not .gz
    stem = out.name[:len(out.name) - len(own)]
    return out.with_name(stem + suffix)


@click.command()
@click.option("--url", required=True, help="http(s) URL of a CSV (.csv, .csv.gz…), parquet or JSON-lines prediction "
              "log (.jsonl): its path's ending says which; anything else is read as JSON lines.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Where to save it; its ending is replaced by the URL's when that names another format.")
@one_line_errors
def main(url: str, out: str) -> None:
    dest = destination(url, Path(out))
    size = download(url, dest, os.environ.get("PRODUCTION_DATA_TOKEN") or None)
    click.echo(f"downloaded {size} bytes of production data to {dest}")
    write_outputs({"path": str(dest)})


if __name__ == "__main__":
    main()

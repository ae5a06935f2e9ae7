"""Replace the tracked data with the latest training data from a URL, validated, and update data.dvc (retrain.yml)."""

import os
import tempfile
from pathlib import Path

import click

from ml.cli import one_line_errors, params_option
from ml.data_refresh import replace_data
from ml.params import load_params
from ml.remote_data import download, shown_url


@click.command()
@params_option
@click.option("--url", required=True, help="http(s) URL of the new training table; TRAINING_DATA_TOKEN is sent if set.")
@one_line_errors
def main(params_path: str, url: str) -> None:
    params = load_params(params_path)
    with tempfile.TemporaryDirectory(prefix="refresh-") as scratch:
        new_file = Path(scratch) / params.data_path.name
        download(url, new_file, os.environ.get("TRAINING_DATA_TOKEN") or None)
        changed = replace_data(params, new_file, shown_url(url))
    click.echo("data.dvc updated with the new data" if changed else "the new data is identical; data.dvc unchanged")


if __name__ == "__main__":
    main()

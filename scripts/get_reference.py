"""Put the drift reference for a model bundle in a directory: its reference.json, else the training data."""

from pathlib import Path

import click

from ml.actions import write_outputs
from ml.cli import one_line_errors, params_option
from ml.params import load_params
from ml.reference_source import materialize_reference


@click.command()
@params_option
@click.option("--model-dir", required=True, type=click.Path(file_okay=False, exists=True), help="The champion bundle.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@one_line_errors
def main(params_path: str, model_dir: str, out_dir: str) -> None:
    path = materialize_reference(Path(model_dir), load_params(params_path), Path(out_dir))
    click.echo(f"reference: {path}")
    write_outputs({"path": str(path)})


if __name__ == "__main__":
    main()

"""Train the configured pipeline on the training split; write the model bundle (artifact + metadata)."""

from pathlib import Path

import click

from ml.bundle import remove_bundle_dir
from ml.cli import one_line_errors, params_option
from ml.params import load_params
from ml.steps import train_step


@click.command()
@params_option
@click.option("--model-dir", default="artifacts/model", show_default=True, type=click.Path(file_okay=False),
              help="Where to write the bundle (replaced whole).")
@one_line_errors
def main(params_path: str, model_dir: str) -> None:
    remove_bundle_dir(Path(model_dir))  # before params.yaml is read: it may be the problem
    params = load_params(params_path)
    metadata, _ = train_step(params, Path(model_dir))
    click.echo(f"trained {params.model_class.rsplit('.', 1)[-1]} on {metadata['training_rows']} rows in "
               f"{metadata['fit_seconds']:.2f}s → {model_dir} (sha256 {metadata['artifact_sha256'][:12]}…)")


if __name__ == "__main__":
    main()

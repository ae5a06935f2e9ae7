"""Fetch the champion, re-score it on the same holdout as the challenger and decide; write comparison.json."""

from pathlib import Path

import click

from ml.cli import one_line_errors, params_option
from ml.fileio import remove_outputs
from ml.params import load_params
from ml.steps import compare_step


@click.command()
@params_option
@click.option("--model-dir", default="artifacts/model", show_default=True, type=click.Path(file_okay=False),
              help="The challenger bundle.")
@click.option("--champion-dir", type=click.Path(),  # checked by the step, once its old outputs are gone
              help="Use this champion bundle instead of fetching the registry's champion.")
@click.option("--out", default="reports/comparison.json", show_default=True, type=click.Path(dir_okay=False))
@one_line_errors
def main(params_path: str, model_dir: str, champion_dir: str | None, out: str) -> None:
    remove_outputs(out)  # before params.yaml is read: it may be the problem
    params = load_params(params_path)
    result = compare_step(params, Path(model_dir), Path(out), Path(champion_dir) if champion_dir else None)
    click.echo(f"decision: {result['decision']}: {'; '.join(result['reasons'])}")


if __name__ == "__main__":
    main()

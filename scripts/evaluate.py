"""Score the trained model on the deterministic holdout; write reports/metrics.json."""

from pathlib import Path

import click

from ml.cli import one_line_errors, params_option
from ml.fileio import remove_outputs
from ml.params import load_params
from ml.steps import evaluate_step


@click.command()
@params_option
@click.option("--model-dir", default="artifacts/model", show_default=True, type=click.Path(file_okay=False))
@click.option("--out", default="reports/metrics.json", show_default=True, type=click.Path(dir_okay=False))
@one_line_errors
def main(params_path: str, model_dir: str, out: str) -> None:
    remove_outputs(out)  # before params.yaml is read: it may be the problem
    params = load_params(params_path)
    report = evaluate_step(params, Path(model_dir), Path(out))
    primary = params.primary_metric
    click.echo(f"{primary} = {report['metrics'][primary]:.4f} on {report['rows']} holdout rows → {out}")


if __name__ == "__main__":
    main()

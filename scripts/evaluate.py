"""Score the trained model on the deterministic holdout; write reports/metrics.json."""

from pathlib import Path

import click

from ml.bundle import load_bundle
from ml.cli import one_line_errors, params_option
from ml.dataset import load_dataset
from ml.evaluate import evaluate
from ml.fileio import remove_outputs, write_json_atomic
from ml.params import load_params


@click.command()
@params_option
@click.option("--model-dir", default="artifacts/model", show_default=True, type=click.Path(file_okay=False))
@click.option("--out", default="reports/metrics.json", show_default=True, type=click.Path(dir_okay=False))
@one_line_errors
def main(params_path: str, model_dir: str, out: str) -> None:
    remove_outputs(out)
    params = load_params(params_path)
    model, metadata = load_bundle(Path(model_dir))
    dataset = load_dataset(params)
    report = evaluate(model, dataset.X_holdout, dataset.y_holdout, params)
    report.update(artifact_sha256=metadata["artifact_sha256"], data_sha256=dataset.data_sha256,
                  holdout_fingerprint=dataset.holdout_fingerprint)
    write_json_atomic(out, report)
    primary = params.primary_metric
    click.echo(f"{primary} = {report['metrics'][primary]:.4f} on {report['rows']} holdout rows → {out}")


if __name__ == "__main__":
    main()

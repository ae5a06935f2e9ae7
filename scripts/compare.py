"""Fetch the champion, re-score it on the same holdout as the challenger and decide; write comparison.json."""

import tempfile
from pathlib import Path

import click

from ml.cli import one_line_errors, params_option
from ml.compare import compare
from ml.dataset import load_dataset
from ml.fileio import remove_outputs, write_json_atomic
from ml.params import load_params
from ml.registry import open_registry


@click.command()
@params_option
@click.option("--model-dir", default="artifacts/model", show_default=True, type=click.Path(file_okay=False),
              help="The challenger bundle.")
@click.option("--champion-dir", type=click.Path(file_okay=False, exists=True),
              help="Use this champion bundle instead of fetching the registry's champion.")
@click.option("--out", default="reports/comparison.json", show_default=True, type=click.Path(dir_okay=False))
@one_line_errors
def main(params_path: str, model_dir: str, champion_dir: str | None, out: str) -> None:
    remove_outputs(out)
    params = load_params(params_path)
    dataset = load_dataset(params)
    with tempfile.TemporaryDirectory(prefix="champion-") as scratch:
        if champion_dir is None:
            registry = open_registry(params)
            champion = registry.champion()
            if champion is not None:
                champion_dir = str(registry.fetch(champion.version, Path(scratch) / champion.name))
        result = compare(Path(model_dir), Path(champion_dir) if champion_dir else None, dataset, params)
    write_json_atomic(out, result)
    click.echo(f"decision: {result['decision']}: {'; '.join(result['reasons'])}")


if __name__ == "__main__":
    main()

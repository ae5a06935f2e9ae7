"""The whole PR pipeline in one process (validate → train → evaluate → compare → render), reading the data once.

The workflows run the steps one by one for a readable log; this is the same code, faster, for a laptop.
"""

from pathlib import Path

import click

from ml.cli import one_line, one_line_errors, params_option
from ml.params import load_params
from ml.steps import remove_pipeline_outputs, run_pipeline


@click.command()
@params_option
@click.option("--reports", "reports_dir", default="reports", show_default=True, type=click.Path(file_okay=False))
@click.option("--model-dir", default="artifacts/model", show_default=True, type=click.Path(file_okay=False))
@click.option("--champion-dir", type=click.Path(),  # checked by the step, once its old outputs are gone
              help="Use this champion bundle instead of fetching the registry's champion.")
@one_line_errors
def main(params_path: str, reports_dir: str, model_dir: str, champion_dir: str | None) -> None:
    remove_pipeline_outputs(Path(reports_dir), Path(model_dir))  # first: a bad params.yaml must not leave them
    params = load_params(params_path)
    result = run_pipeline(params, Path(reports_dir), Path(model_dir), Path(champion_dir) if champion_dir else None)
    click.echo(one_line(f"decision: {result['decision']}: {'; '.join(result['reasons'])}"))
    click.echo(f"report: {Path(reports_dir) / 'pr_comment.md'}")


if __name__ == "__main__":
    main()

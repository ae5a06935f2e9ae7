"""Register the gated challenger as the next champion version (atomic; refuses a rejected model unless forced).

A re-run on the commit the champion was built from publishes nothing: that champion is the release.
"""

from pathlib import Path

import click

from ml.cli import one_line_errors, params_option
from ml.json_report import load_json_report
from ml.params import load_params
from ml.promote import model_name, promote, publishes_nothing
from ml.registry import open_registry


@click.command()
@params_option
@click.option("--model-dir", default="artifacts/model", show_default=True, type=click.Path(file_okay=False))
@click.option("--comparison", default="reports/comparison.json", show_default=True, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Promote even though the gate rejected the model.")
@click.option("--pr", "pull_request", type=int, help="Pull request the model came from (recorded in metadata).")
@one_line_errors
def main(params_path: str, model_dir: str, comparison: str, force: bool, pull_request: int | None) -> None:
    params = load_params(params_path)
    decision = load_json_report(comparison, "compare.py")
    version = promote(Path(model_dir), decision, open_registry(params), force=force, pull_request=pull_request,
                      name=model_name(params.root))
    if publishes_nothing(decision, force):
        click.echo(f"{version.name} was already promoted from this commit: it stays the champion, nothing published")
    else:
        click.echo(f"promoted {version.name}: it is now the champion")


if __name__ == "__main__":
    main()

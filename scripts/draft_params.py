"""Draft params.yaml for your own data: features, task and target from the file, everything else kept."""

import os
from pathlib import Path

import click

from ml.cli import one_line_errors, params_option
from ml.data import read_table
from ml.fileio import is_parquet, write_text_atomic
from ml.infer_features import draft_features, stored_types
from ml.params import TASKS, read_params_yaml
from ml.params_rewrite import declared_types, excluded_columns, rewrite_params


@click.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--target", required=True, help="The column to predict.")
@click.option("--task", type=click.Choice(TASKS), help="Default: from the target (text, booleans or at most 20 "
              "distinct integers are classes; other numbers are a regression).")
@params_option
@click.option("--write", is_flag=True, help="Rewrite the params file in place; without it the new file is printed.")
@one_line_errors
def main(data: str, target: str, task: str | None, params_path: str, write: bool) -> None:
    """Describe DATA (CSV or parquet) in params.yaml: every column but --target and those listed in data.exclude
    becomes a feature with its type, range or categories and nullability. The model, metrics and drift settings
    are kept unless they no longer fit (a regressor for class labels, a metric of the other task, a critical column
    that is gone)."""
    root = Path.cwd()
    location = Path(os.path.abspath(data))
    label = location.relative_to(root).as_posix() if location.is_relative_to(root) else str(location)
    text, raw = read_params_yaml(params_path)
    frame = read_table(data)
    texts = None if is_parquet(data) else read_table(data, list(frame.columns))  # a CSV's spellings, for categories
    draft = draft_features(frame.drop(columns=excluded_columns(raw, frame)), target, task, declared_types(raw),
                           stored_types(data), texts)
    result = rewrite_params(text, raw, draft, label, root)
    kinds = sorted({spec["type"] for spec in draft.features.values()})
    click.echo(f"{label}: {len(draft.features)} features ({', '.join(kinds)}), {draft.task} of '{target}'", err=True)
    for line in result.changes + [f"look at {note}" for note in draft.notes]:
        click.echo(f"  {line}", err=True)
    if not label.startswith("data/"):
        click.echo("  data.dvc tracks data/: move the file there so DVC versions it", err=True)
    if not write:
        click.echo(result.text, nl=False)
        return
    write_text_atomic(params_path, result.text)
    click.echo(f"wrote {params_path}; check the ranges, then `dvc add data` and `make demo`", err=True)


if __name__ == "__main__":
    main()

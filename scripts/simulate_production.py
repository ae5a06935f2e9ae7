"""Write a simulated production batch in the prediction-log format, optionally drifted.

Rows are resampled from --reference (a CSV or parquet data file; with a reference.json, columns are drawn
independently from its statistics), so with no drift options the batch looks like the training data.
--out: a .jsonl file (the server's log format), a .csv or .parquet file (the same records as a flat table),
or a directory (DIR/simulated.jsonl).
"""

from pathlib import Path

import click
import numpy as np

from ml.cli import one_line_errors, params_option
from ml.drift import simulate
from ml.fileio import remove_outputs, write_bytes_atomic, write_text_atomic
from ml.params import load_params


def _pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    parsed = {}
    for value in values:
        name, sep, number = value.partition("=")
        try:
            parsed[name.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise click.BadParameter(f"expected COLUMN=NUMBER, got {value!r}")
    return parsed


def _out_path(out: str) -> Path:
    path = Path(out)
    return path if path.suffix.lower() in (".jsonl", ".csv", ".parquet") else path / "simulated.jsonl"


@click.command()
@params_option
@click.option("--reference", required=True, type=click.Path(dir_okay=False),
              help="Data to resample (CSV or parquet, e.g. the training data) or a model's reference.json.")
@click.option("--out", default="logs/simulated", show_default=True, type=click.Path(),
              help="A .jsonl, .csv or .parquet file, or a directory (gets simulated.jsonl).")
@click.option("--rows", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--shift-mean", multiple=True, callback=_pairs, metavar="COL=SIGMAS",
              help="Shift a numeric column's mean by this many reference standard deviations (repeatable).")
@click.option("--new-category", multiple=True, callback=_pairs, metavar="COL=SHARE",
              help=f"Replace this share of a category column's values with '{simulate.NEW_CATEGORY}' (repeatable).")
@click.option("--null-spike", multiple=True, callback=_pairs, metavar="COL=RATE",
              help="Blank this share of a column's values (repeatable).")
@click.option("--typical-drift", is_flag=True,
              help="Instead of the three options above: a 1σ shift in a numeric feature, 5% new values in a "
                   "category feature (critical ones first), a 20% null spike in a nullable feature, and more "
                   "features moved until the batch trips the dataset rule (drift.dataset_share).")
@click.option("--model-dir", type=click.Path(file_okay=False),
              help="Model bundle that fills prediction and probability (left null without it).")
@one_line_errors
def main(params_path: str, reference: str, out: str, rows: int, seed: int, shift_mean: dict[str, float],
         new_category: dict[str, float], null_spike: dict[str, float], typical_drift: bool,
         model_dir: str | None) -> None:
    target = _out_path(out)
    remove_outputs(target)
    if typical_drift and (shift_mean or new_category or null_spike):
        raise click.UsageError("--typical-drift replaces --shift-mean, --new-category and --null-spike")
    params = load_params(params_path)
    if typical_drift:
        spec = simulate.typical_drift(params)
    else:
        spec = simulate.DriftSpec(shift_mean=shift_mean, new_category=new_category, null_spike=null_spike)
    spec.check(params.features)
    rng = np.random.default_rng(seed)
    frame = simulate.apply_drift(simulate.reference_rows(reference, params, rows, rng), params.features, spec, rng)
    predictions = probabilities = version = None
    if model_dir:
        from ml.bundle import load_bundle

        model, metadata = load_bundle(model_dir)
        predictions, probabilities = simulate.model_outputs(model, frame, params.features, params.task)
        version = f"v{metadata['version']}" if metadata.get("version") else None
    records = simulate.log_records(frame, params.features, predictions, probabilities, version)
    if target.suffix.lower() == ".jsonl":
        write_text_atomic(target, simulate.records_text(records))
    elif target.suffix.lower() == ".csv":
        write_text_atomic(target, simulate.records_table(records).to_csv(index=False, lineterminator="\n"))
    else:
        write_bytes_atomic(target, simulate.records_table(records).to_parquet(index=False))
    drift = ", ".join(f"{option} {name}={value:g}" for option, pairs in
                      (("shift-mean", spec.shift_mean), ("new-category", spec.new_category),
                       ("null-spike", spec.null_spike))
                      for name, value in pairs.items()) or "no drift"
    click.echo(f"{rows} rows ({drift}) → {target}")


if __name__ == "__main__":
    main()

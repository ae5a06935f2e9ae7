"""Compare current data with the reference: write drift.json, drift.md (the issue body) and drift.html.

--reference and --current each take a CSV or parquet file, a JSON-lines prediction log or a directory of them;
--reference also takes the reference.json stored in a model bundle. Exits 0 whatever the verdict, unless
--fail-on-drift is given: then exit 3 when the dataset drifted.
"""

from pathlib import Path

import click

from ml.cli import one_line_errors, params_option
from ml.drift.job import detect_drift
from ml.drift.report import render_html, render_markdown, title
from ml.fileio import remove_outputs, write_json_atomic, write_text_atomic
from ml.params import load_params

DRIFT_EXIT_CODE = 3


@click.command()
@params_option
@click.option("--reference", required=True, type=click.Path(),
              help="Reference data: CSV, parquet, prediction logs (.jsonl or a directory) or a reference.json.")
@click.option("--current", required=True, type=click.Path(),
              help="Current data: CSV, parquet or prediction logs (.jsonl or a directory of them).")
@click.option("--out", default="reports/drift", show_default=True, type=click.Path(file_okay=False),
              help="Directory for drift.json, drift.md and drift.html.")
@click.option("--model-dir", type=click.Path(file_okay=False),
              help="Model bundle that scores data without logged predictions, for prediction drift.")
@click.option("--fail-on-drift", is_flag=True, help=f"Exit {DRIFT_EXIT_CODE} when the dataset drifted.")
@one_line_errors
def main(params_path: str, reference: str, current: str, out: str, model_dir: str | None,
         fail_on_drift: bool) -> None:
    out_dir = Path(out)
    outputs = [out_dir / name for name in ("drift.json", "drift.md", "drift.html")]
    remove_outputs(*outputs)
    result = detect_drift(reference, current, load_params(params_path), model_dir=model_dir)
    write_text_atomic(outputs[2], render_html(result))
    write_text_atomic(outputs[1], render_markdown(result))
    write_json_atomic(outputs[0], result)
    click.echo(f"{title(result)} → {outputs[1]}")
    if fail_on_drift and result["dataset_drift"]:
        raise SystemExit(DRIFT_EXIT_CODE)


if __name__ == "__main__":
    main()

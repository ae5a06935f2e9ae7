"""Render the PR comment (with its sticky marker) and the Actions job summary from the step reports."""

import json
from pathlib import Path

import click

from ml.cli import one_line_errors
from ml.errors import MLOpsError
from ml.fileio import remove_outputs, write_text_atomic
from ml.report import render_pr_report
from ml.train import git_commit


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MLOpsError(f"{path}: not found; run the steps before render_report.py") from None
    except ValueError:
        raise MLOpsError(f"{path}: not valid JSON") from None


@click.command()
@click.option("--reports", "reports_dir", default="reports", show_default=True, type=click.Path(file_okay=False))
@one_line_errors
def main(reports_dir: str) -> None:
    reports = Path(reports_dir)
    comment, summary = reports / "pr_comment.md", reports / "job_summary.md"
    remove_outputs(comment, summary)
    validation = _load(reports / "validation.json")
    metrics = _load(reports / "metrics.json")
    comparison = _load(reports / "comparison.json")
    if metrics.get("artifact_sha256") != comparison.get("challenger", {}).get("artifact_sha256"):
        raise MLOpsError(f"{reports}: metrics.json and comparison.json describe different models; rerun the steps")
    commit = git_commit()
    write_text_atomic(comment, render_pr_report(comparison, validation, metrics, commit, sticky=True))
    write_text_atomic(summary, render_pr_report(comparison, validation, metrics, commit, sticky=False))
    click.echo(f"wrote {comment} and {summary}")


if __name__ == "__main__":
    main()

"""Exit non-zero when the gate rejected the challenger, so the PR check (and branch protection) follows it."""

import json
from pathlib import Path

import click

from ml.cli import one_line_errors
from ml.errors import MLOpsError


@click.command()
@click.option("--comparison", default="reports/comparison.json", show_default=True, type=click.Path(dir_okay=False))
@one_line_errors
def main(comparison: str) -> None:
    try:
        result = json.loads(Path(comparison).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        raise MLOpsError(f"{comparison}: missing or not JSON; the comparison step did not finish") from None
    reasons = "; ".join(result.get("reasons", []))
    if result.get("decision") != "promote":
        raise MLOpsError(f"gate: {result.get('decision')}: {reasons}")
    click.echo(f"gate: promote: {reasons}")


if __name__ == "__main__":
    main()

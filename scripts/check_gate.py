"""Exit non-zero when the gate rejected the challenger, so the PR check (and branch protection) follows it."""


import click

from ml.cli import one_line, one_line_errors
from ml.errors import MLOpsError
from ml.json_report import load_json_report


@click.command()
@click.option("--comparison", default="reports/comparison.json", show_default=True, type=click.Path(dir_okay=False))
@one_line_errors
def main(comparison: str) -> None:
    result = load_json_report(comparison, "compare.py")
    reasons = "; ".join(result.get("reasons", []))
    if result.get("decision") != "promote":
        raise MLOpsError(f"gate: {result.get('decision')}: {reasons}")
    click.echo(one_line(f"gate: promote: {reasons}"))


if __name__ == "__main__":
    main()

"""Smoke test a running model server against the golden records stored in the model's metadata.

  python scripts/smoke_test.py http://127.0.0.1:8081 --model-dir artifacts/model --latency-budget-ms 100

Checks /health/ready, every golden answer (probability to 1e-6), the X-Model-Version header and the p95 latency.
Exit code 0 when all pass, 1 with one line naming the first problem otherwise.
"""

import click

from ml.cli import one_line_errors
from ml.deploy.errors import DeployError
from ml.deploy.smoke import smoke_test


@click.command()
@click.argument("url")
@click.option("--model-dir", required=True, type=click.Path(file_okay=False, exists=True),
              help="The bundle the server should be running (its metadata holds the golden records).")
@click.option("--latency-budget-ms", type=float, help="Fail when the p95 latency of the golden requests exceeds it.")
@click.option("--rounds", default=3, show_default=True, help="How many times to send each golden record.")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds per request.")
@one_line_errors
def main(url: str, model_dir: str, latency_budget_ms: float | None, rounds: int, timeout: float) -> None:
    result = smoke_test(url, model_dir, latency_budget_ms, rounds=rounds, timeout=timeout)
    if not result.ok:
        raise DeployError(result.one_line())
    click.echo(result.one_line())


if __name__ == "__main__":
    main()

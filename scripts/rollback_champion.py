"""Make the version before the champion the champion again, in the registry (local, or GitHub Releases).

`deploy.py rollback` switches what production serves; this says so to everything that asks the registry which
model is in production: drift.yml compares production data with the champion's reference, and the next PR's gate
compares with the champion. Run both to go back a version. The version rolled back from is never champion again.
"""

import click

from ml.cli import one_line_errors, params_option
from ml.params import load_params
from ml.registry import open_registry


@click.command()
@params_option
@one_line_errors
def main(params_path: str) -> None:
    """Needs, for the GitHub backend, GITHUB_REPOSITORY and GITHUB_TOKEN (contents: write)."""
    registry = open_registry(load_params(params_path))
    before = registry.champion()
    champion = registry.rollback()
    click.echo(f"champion: {champion.name} (was {before.name if before else 'none'})")


if __name__ == "__main__":
    main()

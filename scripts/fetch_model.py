"""Fetch a registry version's bundle (the champion by default), verified, e.g. into the Docker build context.

With --no-champion-ok, an empty registry is not a failure: drift.yml on a fresh fork (forks do not copy releases)
has nothing to compare production against yet, and ends with a notice instead of a red run every day.
"""

from pathlib import Path

import click

from ml.actions import notice, write_outputs
from ml.cli import one_line_errors, params_option
from ml.errors import RegistryError
from ml.params import load_params
from ml.registry import open_registry

NO_CHAMPION = ("nothing to compare production against: no model has been promoted (a fork starts without the "
               "releases). Merge a pull request, release.yml promotes its model, then run this again.")


@click.command()
@params_option
@click.option("--dest", required=True, type=click.Path(file_okay=False),
              help="Where to put the bundle (replaced once the fetch succeeds).")
@click.option("--version", "version", type=int, help="A version number instead of the champion.")
@click.option("--no-champion-ok", is_flag=True,
              help="With no champion yet, print a notice and set the output found=false instead of failing.")
@one_line_errors
def main(params_path: str, dest: str, version: int | None, no_champion_ok: bool) -> None:
    registry = open_registry(load_params(params_path))
    if version is None:
        champion = registry.champion()
        if champion is None and no_champion_ok:
            notice("No champion yet", NO_CHAMPION)
            write_outputs({"found": False})
            return
        if champion is None:
            raise RegistryError("the registry has no champion yet: promote a model first")
        version = champion.version
    registry.fetch(version, Path(dest))
    click.echo(f"fetched v{version} into {dest}")
    write_outputs({"found": True, "version": f"v{version}", "number": version, "dir": dest})


if __name__ == "__main__":
    main()

"""Fetch a registry version's bundle (the champion by default), verified, e.g. into the Docker build context."""

from pathlib import Path

import click

from ml.actions import write_outputs
from ml.cli import one_line_errors, params_option
from ml.errors import RegistryError
from ml.params import load_params
from ml.registry import open_registry


@click.command()
@params_option
@click.option("--dest", required=True, type=click.Path(file_okay=False),
              help="Where to put the bundle (replaced once the fetch succeeds).")
@click.option("--version", "version", type=int, help="A version number instead of the champion.")
@one_line_errors
def main(params_path: str, dest: str, version: int | None) -> None:
    registry = open_registry(load_params(params_path))
    if version is None:
        champion = registry.champion()
        if champion is None:
            raise RegistryError("the registry has no champion yet: promote a model first")
        version = champion.version
    registry.fetch(version, Path(dest))
    click.echo(f"fetched v{version} into {dest}")
    write_outputs({"version": f"v{version}", "number": version, "dir": dest})


if __name__ == "__main__":
    main()

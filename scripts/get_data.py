"""Get the data named by data.dvc: `dvc pull` with a remote, else regenerate the sample; verify the hash."""

import click

from ml.cli import one_line_errors, params_option
from ml.dvc_data import ensure_data
from ml.params import load_params


@click.command()
@params_option
@one_line_errors
def main(params_path: str) -> None:
    params = load_params(params_path)
    how = ensure_data(params)
    click.echo(f"{params.data_label}: {how}, matches data.dvc")


if __name__ == "__main__":
    main()

"""Propose workspace files as a PR: one commit on a new branch from GITHUB_SHA, through the API (retrain.yml)."""

import os
from pathlib import Path

import click

from ml.actions import write_outputs
from ml.cli import one_line_errors
from ml.errors import MLOpsError
from ml.github.client import GitHubClient
from ml.propose_pr import propose_pull_request


def checkout_path(file: str) -> str:
    """The path a --file is committed at: it must name a file inside the checkout, relative to its root, or the
    commit would carry it at a path that means nothing in the repository."""
    path = Path(os.path.normpath(file))
    if path.is_absolute() or path.parts[0] == "..":
        raise MLOpsError(f"--file {file}: not a path inside the checkout; give it relative to the repository root")
    return path.as_posix()


@click.command()
@click.option("--branch", required=True, help="The new branch.")
@click.option("--base", default="main", show_default=True, help="The branch to merge into.")
@click.option("--title", required=True)
@click.option("--body-file", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--file", "files", multiple=True, required=True, type=click.Path(dir_okay=False, exists=True),
              help="A file in the checkout, relative to its root, to commit at that path (repeat).")
@one_line_errors
def main(branch: str, base: str, title: str, body_file: str, files: tuple[str, ...]) -> None:
    base_sha = os.environ.get("GITHUB_SHA")
    if not base_sha:
        raise MLOpsError("GITHUB_SHA is not set: this step runs inside GitHub Actions")
    contents = {checkout_path(f): Path(f).read_bytes() for f in files}
    with GitHubClient.from_env() as client:
        pull = propose_pull_request(client, base, base_sha, branch, title, Path(body_file).read_text("utf-8"),
                                    contents, message=title)
    click.echo(f"opened PR #{pull.number} from {branch} ({pull.url or 'no url'})")
    write_outputs({"number": pull.number, "url": pull.url or "", "branch": branch})


if __name__ == "__main__":
    main()

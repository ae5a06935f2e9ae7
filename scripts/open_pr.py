"""Propose workspace files as a PR: one commit on a new branch from GITHUB_SHA, through the API (retrain.yml).

--dry-run reads the base commit and the branch from GitHub and prints what would be created, writing nothing.
"""

import os
from pathlib import Path

import click

from ml.actions import write_outputs
from ml.cli import one_line_errors
from ml.errors import MLOpsError
from ml.github.cli import echo_plan, settings_for
from ml.github.client import GitHubClient
from ml.propose_pr import READ_PERMISSION, branch_head, branch_taken, changed_files, propose_pull_request


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
@click.option("--dry-run", is_flag=True, help="Print the branch, base, commit, files changed (against GITHUB_SHA) and "
              "PR title and body that would be created; only reads from GitHub, writes nothing. Fails where the "
              "real run would, e.g. on a branch that already exists.")
@one_line_errors
def main(branch: str, base: str, title: str, body_file: str, files: tuple[str, ...], dry_run: bool) -> None:
    """Needs GITHUB_SHA (the base commit), GITHUB_REPOSITORY, GITHUB_TOKEN (permissions: contents: write and
    pull-requests: write; contents: read for --dry-run) and optionally GITHUB_API_URL.

    A branch or PR that an attempt whose answer was lost already made is picked up, not made twice; a branch that
    exists at another commit is refused, never overwritten.
    """
    base_sha = os.environ.get("GITHUB_SHA")
    if not base_sha:
        raise MLOpsError("GITHUB_SHA is not set: this step runs inside GitHub Actions")
    contents = {checkout_path(f): Path(f).read_bytes() for f in files}
    body = Path(body_file).read_text("utf-8")
    settings = settings_for(dry_run)
    if dry_run:
        with GitHubClient(settings) as client:
            head = branch_head(client, branch, READ_PERMISSION)
            if head is not None:
                raise branch_taken(branch, head)
            changes = changed_files(client, base_sha, contents)
        repo = f"/repos/{settings.repository}"
        echo_plan(settings, [
            f"POST {repo}/git/blobs, one per file: " + ", ".join(f"{c.path} ({c.status})" for c in changes),
            f"POST {repo}/git/trees: the tree of {base_sha} with those files",
            f"POST {repo}/git/commits: parent {base_sha}, message {title!r}",
            f"POST {repo}/git/refs: the new branch {branch} at that commit",
            f"POST {repo}/pulls: {title!r} from {branch} into {base}, with the body below",
        ], body, read=True)
        return
    with GitHubClient(settings) as client:
        pull = propose_pull_request(client, base, base_sha, branch, title, body, contents, message=title)
    click.echo(f"opened PR #{pull.number} from {branch} ({pull.url or 'no url'})")
    write_outputs({"number": pull.number, "url": pull.url or "", "branch": branch})


if __name__ == "__main__":
    main()

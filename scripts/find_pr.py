"""Find the merged pull request a commit on main came from (release.yml records it in the model release)."""

import click

from ml.actions import write_outputs
from ml.cli import one_line_errors
from ml.github.client import GitHubClient
from ml.merged_pr import merged_pull_for_commit


@click.command()
@click.option("--sha", required=True, help="The commit (GITHUB_SHA).")
@one_line_errors
def main(sha: str) -> None:
    with GitHubClient.from_env() as client:
        number = merged_pull_for_commit(client, sha)
    click.echo(f"{sha[:12]} came from PR #{number}" if number else f"{sha[:12]} was pushed directly, not merged")
    write_outputs({"number": number or ""})


if __name__ == "__main__":
    main()

"""Post the PR report as one sticky comment: update ours (found by its hidden marker) or create it."""

import click

from ml.cli import one_line_errors
from ml.github.cli import dry_run_option, echo_plan, read_text, settings_for, valid_marker
from ml.github.client import GitHubClient
from ml.github.comments import upsert_sticky_comment
from ml.github.markers import PR_REPORT_MARKER, with_marker
from ml.github.pulls import resolve_pull


@click.command()
@click.option("--pr", "pr_number", type=click.IntRange(min=1), help="The pull request number.")
@click.option("--head-sha", help="Find the PR whose head is this commit (workflow_run jobs); with --pr, the "
                                 "number must be one of that commit's PRs.")
@click.option("--head-label", metavar="OWNER:BRANCH", help="With --head-sha: narrow the open-PR search to this "
                                                           "head (fork PRs).")
@click.option("--body-file", default="reports/pr_comment.md", show_default=True, type=click.Path(dir_okay=False))
@click.option("--marker", default=PR_REPORT_MARKER, show_default=True, callback=lambda c, p, v: valid_marker(v),
              help="Hidden HTML comment that identifies our comment; the body is made to start with it.")
@dry_run_option
@one_line_errors
def main(pr_number: int | None, head_sha: str | None, head_label: str | None, body_file: str, marker: str,
         dry_run: bool) -> None:
    """Needs GITHUB_REPOSITORY, GITHUB_TOKEN (permissions: pull-requests: write) and optionally GITHUB_API_URL."""
    if pr_number is None and not head_sha:
        raise click.UsageError("give --pr N or --head-sha SHA (or both)")
    body = with_marker(read_text(body_file, "comment body"), marker)
    settings = settings_for(dry_run)
    if dry_run:
        steps = []
        if head_sha:
            steps.append(f"GET /repos/{settings.repository}/commits/{head_sha}/pulls (then GET /pulls?state=open) "
                         f"to find the open PR headed by {head_sha}" + (f"; it must be #{pr_number}" if pr_number
                                                                          else ""))
        target = f"#{pr_number}" if pr_number else "that PR"
        steps += [f"GET /repos/{settings.repository}/issues/{pr_number or '{pr}'}/comments?per_page=100, every "
                  f"page, for comments by a bot that start with {marker}",
                  f"PATCH the oldest one with the body (DELETE any others), or POST a new comment on {target}"]
        echo_plan(settings, steps, body)
        return
    with GitHubClient(settings) as client:
        number = resolve_pull(client, head_sha, pr_number, head_label) if head_sha else pr_number
        result = upsert_sticky_comment(client, number, body, marker)
    extra = f" (removed {result.removed_duplicates} duplicate)" if result.removed_duplicates else ""
    click.echo(f"{result.action} the report comment on PR #{number}: {result.url}{extra}")


if __name__ == "__main__":
    main()

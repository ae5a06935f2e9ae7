"""Report drift on GitHub: comment on the open drift issue (label + hidden marker), or open it."""

import click

from ml.actions import notice
from ml.cli import one_line_errors
from ml.github.cli import dry_run_option, echo_plan, read_text, settings_for, valid_marker
from ml.github.client import GitHubClient
from ml.github.issues import IssuesDisabledError, report_to_issue
from ml.github.markers import DRIFT_MARKER, with_marker


@click.command()
@click.option("--report-file", required=True, type=click.Path(dir_okay=False), help="The drift report (Markdown).")
@click.option("--title", default="Data drift detected", show_default=True, help="Title of a new issue.")
@click.option("--label", default="drift", show_default=True)
@click.option("--marker", default=DRIFT_MARKER, show_default=True, callback=lambda c, p, v: valid_marker(v),
              help="Hidden HTML comment that identifies the drift issue.")
@dry_run_option
@one_line_errors
def main(report_file: str, title: str, label: str, marker: str, dry_run: bool) -> None:
    """Needs GITHUB_REPOSITORY, GITHUB_TOKEN (permissions: issues: write) and optionally GITHUB_API_URL."""
    report = read_text(report_file, "drift report")
    settings = settings_for(dry_run)
    if dry_run:
        echo_plan(settings, [
            f"GET /repos/{settings.repository}/issues?state=open&labels={label}&per_page=100, every page, for an "
            f"issue (not a pull request) by a bot that starts with {marker}",
            f"POST /repos/{settings.repository}/issues/{{number}}/comments with the report if found",
            f"else GET /repos/{settings.repository}/labels/{label} (POST /repos/{settings.repository}/labels if it "
            f"is missing), then POST /repos/{settings.repository}/issues with title {title!r}, label {label!r} and "
            "the report",
        ], with_marker(report, marker))
        return
    with GitHubClient(settings) as client:
        try:
            result = report_to_issue(client, report, title=title, label=label, marker=marker)
        except IssuesDisabledError as exc:
            # Not a failure of the drift check: its report is in the job summary and the artifact, and retraining
            # is still dispatched.
            notice("No drift issue", str(exc))
            return
    if result.action == "created":
        click.echo(f"opened drift issue #{result.number}: {result.url}")
    else:
        click.echo(f"added the report to drift issue #{result.number}: {result.comment_url or result.url}")
    if result.closed_duplicates:
        click.echo(f"closed {result.closed_duplicates} duplicate drift issue(s) opened by a concurrent run")


if __name__ == "__main__":
    main()

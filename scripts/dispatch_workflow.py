"""Start a workflow_dispatch run (e.g. retrain.yml) once; print the run URL when GitHub returns it.

With --skip-if-open-pr retrain/, nothing is dispatched while a PR from a retrain/… branch of this repository is
open: drift.yml runs daily, and persistent drift would otherwise propose one more retraining PR every day. With
--skip-if-running, nothing is dispatched while an earlier dispatched run of the workflow is still queued or running
(its PR does not exist yet).
"""

import os

import click

from ml.actions import notice
from ml.cli import one_line_errors
from ml.github.cli import dry_run_option, echo_plan, settings_for
from ml.github.client import GitHubClient
from ml.github.dispatch import dispatch_body, dispatch_workflow, parse_inputs, unfinished_dispatch_run
from ml.github.errors import GitHubError
from ml.github.pulls import open_pull_from_branches


@click.command()
@click.option("--workflow", required=True, help="Workflow file name (retrain.yml) or numeric id.")
@click.option("--ref", required=True, help="Branch or tag to run it on.")
@click.option("--input", "inputs", multiple=True, metavar="KEY=VALUE", help="A workflow input (repeatable).")
@click.option("--skip-if-open-pr", "prefix", metavar="BRANCH_PREFIX",
              help="Dispatch nothing while an open PR's head branch in this repository starts with this (retrain/).")
@click.option("--skip-if-running", "skip_if_running", is_flag=True,
              help="Dispatch nothing while an earlier workflow_dispatch run of the workflow has not completed.")
@dry_run_option
@one_line_errors
def main(workflow: str, ref: str, inputs: tuple[str, ...], prefix: str | None, skip_if_running: bool,
         dry_run: bool) -> None:
    """Needs GITHUB_REPOSITORY, GITHUB_TOKEN (permissions: actions: write, and pull-requests: read with
    --skip-if-open-pr) and optionally GITHUB_API_URL."""
    values = parse_inputs(inputs)
    if prefix is not None and not prefix.strip():
        raise GitHubError("--skip-if-open-pr needs a branch prefix, such as retrain/")
    settings = settings_for(dry_run)
    if dry_run:
        base = f"/repos/{settings.repository}/actions/workflows/{workflow}"
        check = [f"GET /repos/{settings.repository}/pulls?state=open&per_page=100, every page: stop here if a PR "
                 f"from a {prefix}… branch of this repository is open"] if prefix else []
        if skip_if_running:
            check.append(f"GET {base}/runs?event=workflow_dispatch: stop here if one of them has not completed")
        echo_plan(settings, [*check,
                             f"GET {base}/runs?event=workflow_dispatch (to recognise our run if an answer is lost)",
                             f"POST {base}/dispatches"], dispatch_body(ref, values))
        return
    with GitHubClient(settings) as client:
        pull = open_pull_from_branches(client, prefix) if prefix else None
        if pull is not None:
            notice(f"{workflow} not dispatched", f"PR #{pull['number']} from {pull['head']['ref']} is still open "
                   f"({pull['html_url']}): review it, then merge or close it; the next run dispatches again if it "
                   "is still needed.")
            return
        running = unfinished_dispatch_run(client, workflow) if skip_if_running else None
        if running is not None:
            notice(f"{workflow} not dispatched", f"run {running['id']} of it is still {running['status']} "
                   f"({running.get('html_url') or 'no url'}); the next run dispatches again if it is still needed.")
            return
        result = dispatch_workflow(client, workflow, ref, values)
    if result.html_url:
        click.echo(f"dispatched {workflow} on {ref}: {result.html_url}")
    else:
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        click.echo(f"dispatched {workflow} on {ref} (GitHub did not say which run; see "
                   f"{server}/{settings.repository}/actions/workflows/{workflow})")


if __name__ == "__main__":
    main()

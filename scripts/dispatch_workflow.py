"""Start a workflow_dispatch run (e.g. retrain.yml) once; print the run URL when GitHub returns it."""

import os

import click

from ml.cli import one_line_errors
from ml.github.cli import dry_run_option, echo_plan, settings_for
from ml.github.client import GitHubClient
from ml.github.dispatch import dispatch_body, dispatch_workflow, parse_inputs


@click.command()
@click.option("--workflow", required=True, help="Workflow file name (retrain.yml) or numeric id.")
@click.option("--ref", required=True, help="Branch or tag to run it on.")
@click.option("--input", "inputs", multiple=True, metavar="KEY=VALUE", help="A workflow input (repeatable).")
@dry_run_option
@one_line_errors
def main(workflow: str, ref: str, inputs: tuple[str, ...], dry_run: bool) -> None:
    """Needs GITHUB_REPOSITORY, GITHUB_TOKEN (permissions: actions: write) and optionally GITHUB_API_URL."""
    values = parse_inputs(inputs)
    settings = settings_for(dry_run)
    if dry_run:
        base = f"/repos/{settings.repository}/actions/workflows/{workflow}"
        echo_plan(settings, [f"GET {base}/runs?event=workflow_dispatch (to recognise our run if an answer is lost)",
                             f"POST {base}/dispatches"], dispatch_body(ref, values))
        return
    with GitHubClient(settings) as client:
        result = dispatch_workflow(client, workflow, ref, values)
    if result.html_url:
        click.echo(f"dispatched {workflow} on {ref}: {result.html_url}")
    else:
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        click.echo(f"dispatched {workflow} on {ref} (GitHub did not say which run; see "
                   f"{server}/{settings.repository}/actions/workflows/{workflow})")


if __name__ == "__main__":
    main()

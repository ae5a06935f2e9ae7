"""Static checks of .github/: the linters the issue names, plus the hardening rules as assertions."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import click
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?P<rest>.*)$")


def _tool(name: str) -> str:
    path = shutil.which(name, path=ENV["PATH"])
    if path is None:
        pytest.skip(f"{name} is not installed in the venv")
    return path


def _load(path: Path) -> dict:
    spec = yaml.safe_load(path.read_text())
    spec["on"] = spec.pop(True, spec.get("on"))  # YAML 1.1 reads the key `on` as True
    return spec


def test_the_lifecycle_workflows_exist():
    names = {p.name for p in WORKFLOWS}
    assert {"pr.yml", "pr-comment.yml", "release.yml", "drift.yml", "retrain.yml", "ci.yml"} <= names


def test_actionlint_with_shellcheck_is_silent():
    _tool("shellcheck")
    proc = subprocess.run([_tool("actionlint"), "-shellcheck", _tool("shellcheck"), *map(str, WORKFLOWS)],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_reports_nothing_of_medium_severity_or_above():
    proc = subprocess.run([_tool("zizmor"), "--offline", "--min-severity", "medium", "--format", "json",
                           str(REPO / ".github" / "workflows")], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=120)
    findings = json.loads(proc.stdout or "[]")
    assert findings == [], json.dumps([(f["ident"], f["desc"]) for f in findings], indent=1)
    assert proc.returncode == 0, proc.stderr


def test_the_one_zizmor_ignore_is_the_justified_workflow_run_trigger():
    ignores = [(p.name, line) for p in WORKFLOWS for line in p.read_text().splitlines() if "zizmor: ignore" in line]
    assert len(ignores) == 1, ignores
    name, line = ignores[0]
    assert name == "pr-comment.yml" and "workflow_run" in line and "ignore[dangerous-triggers]" in line
    assert len(line.split("--", 1)[-1].strip()) > 40, "the ignore must say why"


@pytest.mark.parametrize("schema, files", [
    ("vendor.github-workflows", WORKFLOWS),
    ("vendor.dependabot", [REPO / ".github" / "dependabot.yml"]),
])
def test_schema(schema, files):
    proc = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_full_sha_with_a_version_comment(path):
    uses = [PINNED.match(line) for line in path.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert uses, f"{path.name} uses no actions?"
    for match in uses:
        assert match, f"{path.name}: unparseable uses: line"
        if match["action"].startswith("./"):
            continue
        assert re.fullmatch(r"[0-9a-f]{40}", match["ref"]), \
            f"{path.name}: {match['action']}@{match['ref']} is not a SHA"
        assert re.fullmatch(r"\s+#\s*v\d+(\.\d+)*\s*", match["rest"]), \
            f"{path.name}: {match['action']} needs a `# vX.Y.Z` comment"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_empty_at_the_top_and_set_on_every_job(path):
    spec = _load(path)
    assert spec.get("permissions") == {}, f"{path.name}: the top level must say `permissions: {{}}`"
    for name, job in spec["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} sets no permissions"
        assert "write-all" not in str(job["permissions"]), f"{path.name}: job {name}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkout_never_persists_credentials(path):
    for job in _load(path)["jobs"].values():
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert (step.get("with") or {}).get("persist-credentials") is False, path.name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_that_checks_out_can_read_contents(path):
    """On a private repository actions/checkout fails without it."""
    for name, job in _load(path)["jobs"].items():
        if any(str(step.get("uses", "")).startswith("actions/checkout@") for step in job.get("steps", [])):
            assert job["permissions"].get("contents") in ("read", "write"), f"{path.name}: job {name}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_is_expanded_inside_a_run_script(path):
    """Untrusted context reaches scripts through env: only (no template injection)."""
    for name, job in _load(path)["jobs"].items():
        for step in job.get("steps", []):
            assert "${{" not in step.get("run", ""), f"{path.name}: job {name}, step {step.get('name')}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_has_a_concurrency_group(path):
    spec = _load(path)
    assert "concurrency" in spec or all("concurrency" in j for j in spec["jobs"].values()), path.name


def test_deploys_are_never_cancelled_midway():
    deploy = _load(REPO / ".github" / "workflows" / "release.yml")["jobs"]["deploy"]
    assert deploy["environment"] == "production"
    assert deploy["concurrency"]["cancel-in-progress"] is False


def test_dependabot_watches_actions_and_pip():
    config = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in config["updates"]} >= {"github-actions", "pip"}
    # Dependabot's pip updater reads only requirements files named *.txt or *.in: the lock must be one of them.
    assert "autogenerated by pip-compile" in (REPO / "requirements.txt").read_text()
    assert not list(REPO.glob("requirements*.lock"))


# -- every script call names a script that exists and flags it accepts (also for steps the harness skips) --------


@cache
def _help(script: str, command: str | None) -> str:
    """The command's --help text, from the click command imported in-process (one interpreter start for all)."""
    spec = importlib.util.spec_from_file_location(f"_workflow_script_{script[:-3]}", REPO / "scripts" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    commands = [v for v in vars(module).values() if isinstance(v, click.Command)]
    groups = [c for c in commands if isinstance(c, click.Group)]
    cli = getattr(module, "main", None) or (groups or commands)[0]
    if command:
        cli = cli.commands[command]
    return cli.get_help(click.Context(cli, info_name=script))


def _script_calls():
    for path in WORKFLOWS:
        for job in _load(path)["jobs"].values():
            for step in job.get("steps", []):
                for line in step.get("run", "").replace("\\\n", " ").splitlines():
                    words = shlex.split(line, comments=True) if "python scripts/" in line else []
                    for i, word in enumerate(words[:-1]):
                        if word == "python" and words[i + 1].startswith("scripts/"):
                            yield pytest.param(path.name, words[i + 1:], id=f"{path.name}:{words[i + 1]}")


@pytest.mark.parametrize("workflow, words", list(_script_calls()))
def test_script_calls_use_existing_scripts_and_flags(workflow, words):
    script = words[0].removeprefix("scripts/")
    if not (REPO / "scripts" / script).is_file():
        pytest.fail(f"{workflow}: scripts/{script} does not exist")
    top = _help(script, None)
    command = words[1] if "Commands:" in top and len(words) > 1 else None
    text = _help(script, command) if command else top
    for word in words[1:]:
        if word.startswith("--"):
            flag = word.split("=", 1)[0]
            assert re.search(rf"(^|[\s,]){re.escape(flag)}\b", text, re.M), \
                f"{workflow}: scripts/{script} {command or ''} has no option {flag}"

"""A local GitHub Actions runner for the workflows in .github/workflows: it runs them, it does not just parse them.

Each job gets a fresh workspace and RUNNER_TEMP; `run:` steps execute in order with bash and the environment Actions
sets (GITHUB_* variables, an event payload file, GITHUB_OUTPUT/ENV/PATH/STEP_SUMMARY files). `${{ }}` expressions and
`if:` conditions are evaluated over the github, env, inputs, vars, secrets, steps, needs and runner contexts. The
`uses:` steps the workflows use are mapped to local equivalents:

- actions/checkout: a copy of the repository's files (tracked and untracked-not-ignored) committed into a fresh git
  repository, so a script that reads a file the commit lacks fails here too; when the runner enforces permissions
  (`grant`), the job needs `contents: read`, as on a private repository;
- actions/setup-python: puts the project's already-installed venv first on PATH, plus a `pip` stand-in that checks the
  files and flags of `pip install` and installs nothing (the venv is shared with the test run and must not change);
- actions/upload-artifact / download-artifact: a local directory keyed by run id and artifact name;
- docker/*, actions/attest-build-provenance, actions/create-github-app-token, actions/cache: recorded, skipped.

Any other `uses:` fails the run: the harness never silently ignores a step it cannot reproduce.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support import script_process

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
STEP_TIMEOUT_SECONDS = 300
_run_ids = itertools.count(1000)
_SNAPSHOTS: dict[Path, Path] = {}
_step_files = itertools.count(1)


class WorkflowError(Exception):
    """The workflow file uses something the harness cannot run (a bad expression, an unknown action...)."""


# ---------------------------------------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op>==|!=|<=|>=|&&|\|\||[()\[\],.!<>*])
  | (?P<id>[A-Za-z_][A-Za-z0-9_-]*)
)""", re.VERBOSE)


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise WorkflowError(f"cannot parse expression {text!r} at {text[pos:]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "str":
            tokens.append(("lit", value[1:-1].replace("''", "'")))
        elif kind == "num":
            tokens.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "id" and value in ("true", "false", "null"):
            tokens.append(("lit", {"true": True, "false": False, "null": None}[value]))
        else:
            tokens.append((kind, value))
    return tokens


def _to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return math.nan
    return math.nan


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right):
        return left == right
    return _to_number(left) == _to_number(right)


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, dict | list):
        return True
    return value not in (None, False, 0, "")


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return str(value)


class _Parser:
    """Recursive descent over the Actions expression grammar: the operators, contexts and usual functions."""

    def __init__(self, text: str, contexts: dict[str, Any], status: dict[str, bool]):
        self.text, self.tokens, self.pos = text, _tokenize(text), 0
        self.contexts, self.status = contexts, status

    def parse(self) -> Any:
        value = self._or()
        if self.pos != len(self.tokens):
            raise WorkflowError(f"unexpected {self.tokens[self.pos][1]!r} in expression {self.text!r}")
        return value

    def _peek(self, *values: str) -> bool:
        return self.pos < len(self.tokens) and self.tokens[self.pos][0] == "op" and self.tokens[self.pos][1] in values

    def _take(self, value: str) -> None:
        if not self._peek(value):
            raise WorkflowError(f"expected {value!r} in expression {self.text!r}")
        self.pos += 1

    def _or(self) -> Any:
        left = self._and()
        while self._peek("||"):
            self.pos += 1
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._eq()
        while self._peek("&&"):
            self.pos += 1
            right = self._eq()
            left = right if truthy(left) else left
        return left

    def _eq(self) -> Any:
        left = self._cmp()
        while self._peek("==", "!="):
            op = self.tokens[self.pos][1]
            self.pos += 1
            right = self._cmp()
            left = _equal(left, right) if op == "==" else not _equal(left, right)
        return left

    def _cmp(self) -> Any:
        left = self._unary()
        while self._peek("<", ">", "<=", ">="):
            op = self.tokens[self.pos][1]
            self.pos += 1
            a, b = _to_number(left), _to_number(self._unary())
            left = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return left

    def _unary(self) -> Any:
        if self._peek("!"):
            self.pos += 1
            return not truthy(self._unary())
        return self._postfix()

    def _postfix(self) -> Any:
        value = self._primary()
        while self._peek(".", "["):
            if self._peek("."):
                self.pos += 1
                kind, name = self.tokens[self.pos]
                if kind != "id":
                    raise WorkflowError(f"expected a property name in {self.text!r}")
                self.pos += 1
                value = value.get(name) if isinstance(value, dict) else None
            else:
                self.pos += 1
                key = self._or()
                self._take("]")
                if isinstance(value, dict):
                    value = value.get(to_string(key))
                elif isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
                    value = value[key]
                else:
                    value = None
        return value

    def _primary(self) -> Any:
        if self.pos >= len(self.tokens):
            raise WorkflowError(f"expression {self.text!r} ends early")
        kind, value = self.tokens[self.pos]
        self.pos += 1
        if kind == "lit":
            return value
        if kind == "op" and value == "(":
            inner = self._or()
            self._take(")")
            return inner
        if kind == "id":
            if self._peek("("):
                self.pos += 1
                args = []
                while not self._peek(")"):
                    args.append(self._or())
                    if self._peek(","):
                        self.pos += 1
                self._take(")")
                return self._call(value, args)
            if value not in self.contexts:
                raise WorkflowError(f"unknown context {value!r} in expression {self.text!r}")
            return self.contexts[value]
        raise WorkflowError(f"unexpected {value!r} in expression {self.text!r}")

    def _call(self, name: str, args: list[Any]) -> Any:
        name = name.lower()
        if name in self.status:
            return self.status[name]
        if name == "contains":
            haystack, needle = args
            if isinstance(haystack, list):
                return any(_equal(item, needle) for item in haystack)
            return to_string(needle).casefold() in to_string(haystack).casefold()
        if name == "startswith":
            return to_string(args[0]).casefold().startswith(to_string(args[1]).casefold())
        if name == "endswith":
            return to_string(args[0]).casefold().endswith(to_string(args[1]).casefold())
        if name == "format":
            text = to_string(args[0])
            for index, arg in enumerate(args[1:]):
                text = text.replace("{" + str(index) + "}", to_string(arg))
            return text
        if name == "join":
            return to_string(args[1] if len(args) > 1 else ",").join(to_string(a) for a in (args[0] or []))
        if name == "tojson":
            return json.dumps(args[0], indent=2)
        if name == "fromjson":
            return json.loads(to_string(args[0]))
        if name == "hashfiles":
            return hashlib.sha256("\n".join(to_string(a) for a in args).encode()).hexdigest()
        raise WorkflowError(f"unknown function {name}() in expression {self.text!r}")


def evaluate(expression: str, contexts: dict[str, Any], status: dict[str, bool] | None = None) -> Any:
    """Evaluate one expression (without the ${{ }} wrapper)."""
    return _Parser(expression, contexts, status or {}).parse()


_INTERPOLATION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def interpolate(value: Any, contexts: dict[str, Any], status: dict[str, bool] | None = None) -> Any:
    """Replace every ${{ }} in a string (recursively in dicts and lists); a lone expression keeps its type."""
    if isinstance(value, dict):
        return {k: interpolate(v, contexts, status) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, contexts, status) for v in value]
    if not isinstance(value, str):
        return value
    return _INTERPOLATION.sub(lambda m: to_string(evaluate(m.group(1), contexts, status)), value)


def condition(text: Any, contexts: dict[str, Any], status: dict[str, bool]) -> bool:
    """An `if:`: implicitly success() && (...) unless it calls a status function itself."""
    if text is None:
        return status["success"]
    if isinstance(text, bool):
        return text and status["success"]
    text = str(text).strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.DOTALL)
    if match:
        text = match.group(1)
    if not re.search(r"\b(success|always|failure|cancelled)\s*\(", text):
        text = f"success() && ({text})"
    return truthy(evaluate(text, contexts, status))


# ---------------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------------

@dataclass
class StepResult:
    name: str
    id: str | None
    outcome: str            # success | failure | skipped
    conclusion: str
    outputs: dict[str, str] = field(default_factory=dict)
    log: str = ""
    uses: str | None = None
    seconds: float = 0.0


@dataclass
class JobResult:
    name: str
    conclusion: str         # success | failure | skipped
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    workspace: Path | None = None

    def step(self, name_or_id: str) -> StepResult:
        for step in self.steps:
            if name_or_id in (step.id, step.name):
                return step
        raise KeyError(name_or_id)

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} [{s.outcome}, {s.seconds:.1f}s]\n{s.log}" for s in self.steps)


@dataclass
class RunResult:
    workflow: str
    run_id: int
    event_name: str
    jobs: dict[str, JobResult] = field(default_factory=dict)
    annotations: list[tuple[str, str]] = field(default_factory=list)   # (level, "title: message")
    recorded: list[dict[str, Any]] = field(default_factory=list)       # uses: steps the harness skipped on purpose

    @property
    def conclusion(self) -> str:
        if any(job.conclusion == "failure" for job in self.jobs.values()):
            return "failure"
        return "success"

    @property
    def log(self) -> str:
        return "\n".join(f"=== job {name}: {job.conclusion}\n{job.log}" for name, job in self.jobs.items())


# ---------------------------------------------------------------------------------------------------------------------
# Event payloads (the fields the workflows and our scripts read, shaped like GitHub's)
# ---------------------------------------------------------------------------------------------------------------------

def repository_payload(repository: str, default_branch: str = "main") -> dict[str, Any]:
    owner, name = repository.split("/")
    return {"full_name": repository, "name": name, "owner": {"login": owner, "type": "User"},
            "default_branch": default_branch, "private": False, "visibility": "public", "fork": False,
            "html_url": f"https://github.com/{repository}"}


def pull_request_event(repository: str, number: int, head_sha: str, base_sha: str, head_ref: str = "feature",
                       base_ref: str = "main", head_repository: str | None = None) -> dict[str, Any]:
    head_repo = repository_payload(head_repository or repository)
    head_repo["fork"] = head_repository not in (None, repository)
    return {"action": "opened", "number": number, "repository": repository_payload(repository),
            "sender": {"login": "contributor"},
            "pull_request": {"number": number, "state": "open", "title": "Change the model",
                             "head": {"sha": head_sha, "ref": head_ref, "repo": head_repo},
                             "base": {"sha": base_sha, "ref": base_ref, "repo": repository_payload(repository)}}}


def push_event(repository: str, sha: str, before: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    return {"ref": ref, "before": before, "after": sha, "repository": repository_payload(repository),
            "head_commit": {"id": sha, "message": "Merge pull request"}, "pusher": {"name": "maintainer"},
            "sender": {"login": "maintainer"}}


def workflow_run_event(repository: str, run: RunResult, head_sha: str, head_branch: str = "feature",
                       pull_requests: list[dict[str, Any]] | None = None, workflow_path: str = "") -> dict[str, Any]:
    return {"action": "completed", "repository": repository_payload(repository), "sender": {"login": "contributor"},
            "workflow_run": {"id": run.run_id, "name": run.workflow, "event": run.event_name,
                             "status": "completed", "conclusion": run.conclusion, "head_sha": head_sha,
                             "head_branch": head_branch, "path": workflow_path,
                             "pull_requests": pull_requests or [],
                             "head_repository": repository_payload(repository)}}


def schedule_event(repository: str, cron: str) -> dict[str, Any]:
    return {"schedule": cron, "repository": repository_payload(repository)}


def workflow_dispatch_event(repository: str, inputs: dict[str, Any], ref: str = "refs/heads/main") -> dict[str, Any]:
    return {"inputs": {k: to_string(v) for k, v in inputs.items()}, "ref": ref,
            "repository": repository_payload(repository), "sender": {"login": "maintainer"}}


# ---------------------------------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------------------------------

_PIP_STANDIN = r'''#!{python}
"""Harness stand-in for pip: checks `pip install` arguments and files, installs nothing (the venv is prepared)."""
import os, sys
args = sys.argv[1:]
if not args or args[0] != "install":
    sys.exit(f"harness pip: only `pip install` is supported, got {{args!r}}")
flags = {{"--require-hashes", "--no-deps", "--no-build-isolation", "--quiet", "-q", "--upgrade", "-U"}}
i = 1
while i < len(args):
    arg = args[i]
    if arg in ("-r", "--requirement", "-e", "--editable"):
        if i + 1 >= len(args) or not os.path.exists(args[i + 1]):
            sys.exit(f"harness pip: {{arg}} {{args[i + 1] if i + 1 < len(args) else ''}}: no such file or directory")
        i += 2
        continue
    if arg.startswith("-") and arg not in flags:
        sys.exit(f"harness pip: no such option: {{arg}}")
    i += 1
print("harness pip: dependencies are pre-installed in {venv}")
'''


class ActionsRunner:
    """Runs workflow files against a GitHub REST stand-in, sharing one artifact store across runs."""

    def __init__(self, work_dir: Path, api_url: str, repository: str = "octo-org/churn-model",
                 token: str = "ghs_harness_token", variables: dict[str, str] | None = None,
                 secrets: dict[str, str] | None = None, repo_root: Path = REPO_ROOT,
                 extra_env: dict[str, str] | None = None,
                 grant: Callable[[dict[str, str]], None] | None = None):
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.api_url, self.repository, self.token = api_url.rstrip("/"), repository, token
        self.variables, self.secrets = dict(variables or {}), dict(secrets or {})
        self.repo_root = Path(repo_root)
        self.extra_env = dict(extra_env or {})
        self.grant = grant  # told each job's `permissions:` before it runs, so the API can enforce them
        self.artifacts = self.work_dir / "artifacts"
        self.tools = self._make_tools()
        self._snapshot: Path | None = None
        self.runs: list[RunResult] = []

    # -- the checkout ----------------------------------------------------------------------------------------------

    def snapshot(self) -> Path:
        """The repository's current files as one git commit (built once per process; every checkout copies it)."""
        cached = _SNAPSHOTS.get(self.repo_root)
        if self._snapshot is None and cached is not None and cached.is_dir():
            self._snapshot = cached
        if self._snapshot is None:
            snap = self.work_dir / "snapshot"
            listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                    cwd=self.repo_root, capture_output=True, check=True).stdout.decode()
            for rel in filter(None, listed.split("\0")):
                source = self.repo_root / rel
                if source.is_file():
                    (snap / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, snap / rel)
            git = ["git", "-c", "user.name=harness", "-c", "user.email=harness@example.invalid"]
            subprocess.run(git + ["init", "-q", "-b", "main"], cwd=snap, check=True)
            subprocess.run(git + ["add", "-A"], cwd=snap, check=True)
            subprocess.run(git + ["commit", "-q", "-m", "checkout"], cwd=snap, check=True)
            self._snapshot = _SNAPSHOTS[self.repo_root] = snap
        return self._snapshot

    def _make_tools(self) -> Path:
        tools = self.work_dir / "tools"
        tools.mkdir(exist_ok=True)
        # `pip install -e .` of the checkout, emulated: the venv's python with the workspace first on sys.path; a
        # script it runs is forked from the tests' fork server (tests/support/script_process.py).
        python = [sys.executable] if script_process.fresh_interpreter() else script_process.shim_command()
        for name in ("python", "python3"):
            wrapper = tools / name
            wrapper.write_text(f'#!/bin/sh\nexport PYTHONPATH="$GITHUB_WORKSPACE${{PYTHONPATH:+:$PYTHONPATH}}"\n'
                               f'exec {shlex.join(python)} "$@"\n')
            wrapper.chmod(0o755)
        pip = tools / "pip"
        pip.write_text(_PIP_STANDIN.format(python=sys.executable, venv=VENV_BIN.parent))
        pip.chmod(0o755)
        return tools

    # -- running -----------------------------------------------------------------------------------------------------

    def run(self, workflow: str | Path, event_name: str, event: dict[str, Any], sha: str, ref: str = "refs/heads/main",
            run_id: int | None = None) -> RunResult:
        path = Path(workflow)
        if not path.is_absolute():
            path = self.repo_root / ".github" / "workflows" / path
        spec = yaml.safe_load(path.read_text())
        triggers = spec.get("on", spec.get(True)) or {}
        if isinstance(triggers, str):
            triggers = {triggers: None}
        if isinstance(triggers, list):
            triggers = dict.fromkeys(triggers)
        if event_name not in triggers:
            raise WorkflowError(f"{path.name} is not triggered by {event_name}")
        _check_filters(path.name, triggers[event_name] or {}, event_name, event, ref)
        run = RunResult(workflow=spec.get("name", path.stem), run_id=run_id or next(_run_ids), event_name=event_name)
        run_dir = self.work_dir / "runs" / str(run.run_id)
        run_dir.mkdir(parents=True)
        event_path = run_dir / "event.json"
        event_path.write_text(json.dumps(event, indent=2))
        inputs = self._inputs(triggers, event_name, event)
        github = {
            "event": event, "event_name": event_name, "event_path": str(event_path), "sha": sha, "ref": ref,
            "ref_name": ref.rsplit("/", 1)[-1] if ref.startswith(("refs/heads/", "refs/tags/")) else ref,
            "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
            "head_ref": event.get("pull_request", {}).get("head", {}).get("ref", ""),
            "base_ref": event.get("pull_request", {}).get("base", {}).get("ref", ""),
            "repository": self.repository, "repository_owner": self.repository.split("/")[0],
            "run_id": str(run.run_id), "run_number": "1", "run_attempt": "1", "actor": "maintainer",
            "triggering_actor": "maintainer", "workflow": run.workflow,
            "workflow_ref": f"{self.repository}/.github/workflows/{path.name}@{ref}",
            "token": self.token, "api_url": self.api_url, "server_url": "https://github.com",
            "graphql_url": f"{self.api_url}/graphql", "retention_days": "90", "action": "", "job": "",
        }
        if event_name == "pull_request":
            github["ref"] = f"refs/pull/{event['number']}/merge"
            github["ref_name"] = f"{event['number']}/merge"
        workflow_env = spec.get("env") or {}
        for name in self._job_order(spec.get("jobs") or {}):
            job_spec = spec["jobs"][name]
            run.jobs[name] = self._run_job(run, run_dir, name, job_spec, github, inputs, workflow_env)
        self.runs.append(run)
        return run

    @staticmethod
    def _inputs(triggers: dict[str, Any], event_name: str, event: dict[str, Any]) -> dict[str, Any]:
        declared = ((triggers.get(event_name) or {}).get("inputs") or {}) if event_name == "workflow_dispatch" else {}
        given = event.get("inputs") or {}
        inputs = {}
        for key, spec in declared.items():
            spec = spec or {}
            value = given.get(key, spec.get("default"))
            if spec.get("required") and value in (None, ""):
                raise WorkflowError(f"input {key!r} is required")
            if spec.get("type") == "boolean":
                value = value if isinstance(value, bool) else str(value).lower() == "true"
            inputs[key] = value
        unknown = set(given) - set(declared)
        if unknown:
            raise WorkflowError(f"the workflow declares no input named {sorted(unknown)}")
        return inputs

    @staticmethod
    def _job_order(jobs: dict[str, Any]) -> list[str]:
        order: list[str] = []
        pending = dict(jobs)
        while pending:
            ready = [n for n, j in pending.items() if all(d in order for d in _as_list(j.get("needs")))]
            if not ready:
                raise WorkflowError(f"job needs form a cycle or name a missing job: {sorted(pending)}")
            for name in ready:
                order.append(name)
                del pending[name]
        return order

    def _base_env(self) -> dict[str, str]:
        keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env["PATH"] = os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin"])
        env.update(self.extra_env)
        return env

    def _run_job(self, run: RunResult, run_dir: Path, name: str, job: dict[str, Any], github: dict[str, Any],
                 inputs: dict[str, Any], workflow_env: dict[str, Any]) -> JobResult:
        result = JobResult(name=name, conclusion="skipped")
        needs_ctx = {d: {"result": run.jobs[d].conclusion, "outputs": run.jobs[d].outputs}
                     for d in _as_list(job.get("needs"))}
        needs_ok = all(n["result"] == "success" for n in needs_ctx.values())
        base = {"github": github, "inputs": inputs, "vars": self.variables, "needs": needs_ctx}
        job_status = {"success": needs_ok, "failure": not needs_ok, "always": True, "cancelled": False}
        if not condition(job.get("if"), base, job_status):
            return result
        if "runs-on" not in job:
            raise WorkflowError(f"job {name} has no runs-on")
        if self.grant is not None:
            permissions = job.get("permissions", {})
            if not isinstance(permissions, dict):
                raise WorkflowError(f"job {name}: the harness grants only explicit `permissions:` maps")
            self.grant({str(k): str(v) for k, v in permissions.items()})
        workspace = run_dir / name / "workspace"
        temp = run_dir / name / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        files = {k: run_dir / name / f"{k}.txt" for k in ("env", "path", "summary")}
        for f in files.values():
            f.touch()
        github = {**github, "job": name, "workspace": str(workspace)}
        runner_ctx = {"temp": str(temp), "os": "Linux", "arch": "X64", "name": "harness", "tool_cache": str(temp)}
        secrets = {"GITHUB_TOKEN": self.token, **self.secrets}
        ctx: dict[str, Any] = {**base, "github": github, "runner": runner_ctx, "secrets": secrets, "steps": {},
                               "job": {"status": "success"}, "matrix": {}, "strategy": {}, "env": {}}
        env_ctx = {k: to_string(interpolate(v, ctx)) for k, v in workflow_env.items()}
        ctx["env"] = env_ctx
        env_ctx.update({k: to_string(interpolate(v, ctx)) for k, v in (job.get("env") or {}).items()})
        added_env: dict[str, str] = {}
        added_path: list[str] = []
        failed = False
        for index, step in enumerate(job.get("steps") or []):
            step_id = step.get("id")
            label = step.get("name") or step.get("uses") or (step.get("run") or "").splitlines()[0]
            status = {"success": not failed, "failure": failed, "always": True, "cancelled": False}
            ctx["env"] = {**env_ctx, **added_env}
            if not condition(step.get("if"), ctx, status):
                record = StepResult(label, step_id, "skipped", "skipped", uses=step.get("uses"))
            else:
                step_env = {k: to_string(interpolate(v, ctx)) for k, v in (step.get("env") or {}).items()}
                env = self._base_env()
                env.update({
                    "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_API_URL": self.api_url,
                    "GITHUB_SERVER_URL": "https://github.com", "GITHUB_GRAPHQL_URL": f"{self.api_url}/graphql",
                    "GITHUB_REPOSITORY": self.repository, "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
                    "GITHUB_SHA": github["sha"], "GITHUB_REF": github["ref"], "GITHUB_REF_NAME": github["ref_name"],
                    "GITHUB_REF_TYPE": github["ref_type"], "GITHUB_HEAD_REF": github["head_ref"],
                    "GITHUB_BASE_REF": github["base_ref"], "GITHUB_EVENT_NAME": github["event_name"],
                    "GITHUB_EVENT_PATH": github["event_path"], "GITHUB_WORKSPACE": str(workspace),
                    "GITHUB_RUN_ID": github["run_id"], "GITHUB_RUN_NUMBER": "1", "GITHUB_RUN_ATTEMPT": "1",
                    "GITHUB_JOB": name, "GITHUB_ACTION": step_id or f"__run_{index}", "GITHUB_ACTOR": "maintainer",
                    "GITHUB_WORKFLOW": run.workflow, "GITHUB_WORKFLOW_REF": github["workflow_ref"],
                    "GITHUB_ENV": str(files["env"]), "GITHUB_PATH": str(files["path"]),
                    "GITHUB_STEP_SUMMARY": str(files["summary"]), "RUNNER_TEMP": str(temp), "RUNNER_OS": "Linux",
                    "RUNNER_ARCH": "X64",
                })
                env.update(env_ctx)
                env.update(added_env)
                env.update(step_env)
                env["PATH"] = os.pathsep.join([*reversed(added_path), env["PATH"]])
                started = time.monotonic()
                record = self._run_step(run, step, step_id, label, env, {**ctx, "env": {**ctx["env"], **step_env}},
                                        workspace, job, temp)
                record.seconds = time.monotonic() - started
                if record.outcome == "failure" and not step.get("continue-on-error"):
                    failed = True
                    record.conclusion = "failure"
                added_env.update(_parse_env_file(files["env"]))
                added_path = [p for p in files["path"].read_text().splitlines() if p.strip()]
                if step.get("uses", "").startswith("actions/setup-python@") and record.outcome == "success":
                    added_path = [*added_path, str(VENV_BIN), str(self.tools)]
                    files["path"].write_text("\n".join(added_path) + "\n")
            ctx["steps"] = {**ctx["steps"], **({step_id: {"outcome": record.outcome, "conclusion": record.conclusion,
                                                         "outputs": record.outputs}} if step_id else {})}
            result.steps.append(record)
        result.conclusion = "failure" if failed else "success"
        result.summary = files["summary"].read_text()
        result.workspace = workspace
        result.outputs = {k: to_string(interpolate(v, ctx)) for k, v in (job.get("outputs") or {}).items()}
        for line in "\n".join(s.log for s in result.steps).splitlines():
            match = re.match(r"::(notice|warning|error)(?: ([^:]*))?::(.*)", line)
            if match:
                title = re.search(r"title=([^,]*)", match.group(2) or "")
                text = f"{title.group(1)}: {match.group(3)}" if title else match.group(3)
                run.annotations.append((match.group(1), text))
        return result

    def _run_step(self, run: RunResult, step: dict[str, Any], step_id: str | None, label: str, env: dict[str, str],
                  ctx: dict[str, Any], workspace: Path, job: dict[str, Any], temp: Path) -> StepResult:
        if "run" in step:
            script = interpolate(step["run"], ctx)
            shell = step.get("shell") or (job.get("defaults") or {}).get("run", {}).get("shell")
            # Like the runner's _runner_file_commands: outside RUNNER_TEMP, a fresh pair per step.
            commands = temp.parent / "commands"
            commands.mkdir(exist_ok=True)
            index = next(_step_files)
            output_file = commands / f"output-{index}.txt"
            output_file.touch()
            env["GITHUB_OUTPUT"] = str(output_file)
            script_file = commands / f"step-{index}.sh"
            script_file.write_text(script)
            command = (["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)] if shell == "bash"
                       else ["bash", "-e", str(script_file)])
            cwd = workspace / step.get("working-directory", "")
            timeout = min(STEP_TIMEOUT_SECONDS, 60 * float(step.get("timeout-minutes") or 1e9))
            try:
                proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
                log, ok = proc.stdout + proc.stderr, proc.returncode == 0
                if not ok:
                    log += f"\n(exit {proc.returncode})"
            except subprocess.TimeoutExpired as exc:
                log, ok = f"{exc.stdout or ''}{exc.stderr or ''}\n(timed out after {timeout:.0f}s)", False
            outcome = "success" if ok else "failure"
            return StepResult(label, step_id, outcome, outcome, _parse_env_file(output_file), log)
        if "uses" in step:
            with_ = {k: to_string(v) for k, v in interpolate(step.get("with") or {}, ctx).items()}
            try:
                outputs, log = self._use(run, step["uses"], with_, workspace, env, job.get("permissions") or {})
                outcome = "success"
            except (OSError, WorkflowError) as exc:
                outputs, log, outcome = {}, f"{step['uses']}: {exc}", "failure"
            return StepResult(label, step_id, outcome, outcome, outputs, log, uses=step["uses"])
        raise WorkflowError(f"step {label!r} has neither run nor uses")

    # -- uses: stand-ins --------------------------------------------------------------------------------------------

    def _use(self, run: RunResult, uses: str, with_: dict[str, str], workspace: Path, env: dict[str, str],
             permissions: dict[str, str]) -> tuple[dict[str, str], str]:
        action, _, ref = uses.partition("@")
        if action.startswith("./"):
            raise WorkflowError(f"local actions are not supported by the harness: {uses}")
        if action == "actions/checkout":
            if with_.get("persist-credentials", "true") != "false":
                raise WorkflowError("checkout without persist-credentials: false")
            if self.grant is not None and permissions.get("contents") not in ("read", "write"):
                raise WorkflowError("checkout needs `contents: read` in the job's permissions (private repositories)")
            target = workspace / with_.get("path", "")
            shutil.copytree(self.snapshot(), target, dirs_exist_ok=True, symlinks=True)
            return {"commit": env["GITHUB_SHA"]}, f"checked out {self.snapshot()} into {target}"
        if action == "actions/setup-python":
            return {"python-version": sys.version.split()[0], "python-path": sys.executable}, "using the test venv"
        if action == "actions/upload-artifact":
            return self._upload(run, with_, workspace)
        if action == "actions/download-artifact":
            return self._download(run, with_, workspace)
        if action in ("actions/cache", "docker/setup-buildx-action", "docker/login-action",
                      "docker/build-push-action", "actions/attest-build-provenance",
                      "actions/create-github-app-token"):
            run.recorded.append({"uses": action, "ref": ref, "with": with_})
            outputs: dict[str, str] = {}
            if action == "docker/build-push-action":
                context = workspace / with_.get("context", ".")
                if not (context / with_.get("file", "Dockerfile")).is_file():
                    raise WorkflowError(f"no Dockerfile in the build context {context}")
                digest = hashlib.sha256(with_.get("tags", "").encode()).hexdigest()
                outputs = {"digest": f"sha256:{digest}", "imageid": f"sha256:{digest}"}
            if action == "actions/create-github-app-token":
                outputs = {"token": "ghs_harness_app_token"}
            if action == "actions/cache":
                outputs = {"cache-hit": "false"}
            return outputs, f"recorded and skipped: {action}"
        raise WorkflowError(f"the harness has no stand-in for {uses}")

    def _upload(self, run: RunResult, with_: dict[str, str], workspace: Path) -> tuple[dict[str, str], str]:
        name = with_.get("name") or "artifact"
        dest = self.artifacts / str(run.run_id) / name
        if dest.exists():
            if with_.get("overwrite", "false") != "true":
                raise WorkflowError(f"an artifact named {name!r} was already uploaded in this run")
            shutil.rmtree(dest)
        found = []
        for pattern in filter(None, (line.strip() for line in with_.get("path", "").splitlines())):
            found.extend(sorted(workspace.glob(pattern)) if any(c in pattern for c in "*?[")
                         else [workspace / pattern] if (workspace / pattern).exists() else [])
        if not found:
            if with_.get("if-no-files-found", "warn") == "error":
                raise WorkflowError(f"no files found at path {with_.get('path')!r}")
            return {}, f"no files found at {with_.get('path')!r}: nothing uploaded"
        dest.mkdir(parents=True)
        single_dir = len(found) == 1 and found[0].is_dir()
        for source in found:
            if single_dir:
                shutil.copytree(source, dest, dirs_exist_ok=True)
            elif source.is_dir():
                shutil.copytree(source, dest / source.name, dirs_exist_ok=True)
            else:
                shutil.copy2(source, dest / source.name)
        return {"artifact-id": str(abs(hash((run.run_id, name))) % 10**9)}, f"uploaded {name} to {dest}"

    def _download(self, run: RunResult, with_: dict[str, str], workspace: Path) -> tuple[dict[str, str], str]:
        run_id = with_.get("run-id") or str(run.run_id)
        if with_.get("run-id") and not with_.get("github-token"):
            raise WorkflowError("download-artifact from another run needs github-token")
        name = with_.get("name")
        if not name:
            raise WorkflowError("the harness supports downloading one named artifact")
        source = self.artifacts / run_id / name
        if not source.is_dir():
            raise WorkflowError(f"no artifact named {name!r} in run {run_id}")
        target = Path(with_.get("path") or ".")
        target = target if target.is_absolute() else workspace / target
        shutil.copytree(source, target, dirs_exist_ok=True)
        return {"download-path": str(target)}, f"downloaded {name} from run {run_id} to {target}"


def _check_filters(name: str, trigger: dict[str, Any], event_name: str, event: dict[str, Any], ref: str) -> None:
    """Refuse an event GitHub would not start this workflow for (branch, workflow-name and type filters)."""
    if not isinstance(trigger, dict):  # e.g. schedule: a list of crons
        trigger = {}
    branch = None
    if event_name == "pull_request":
        branch = event["pull_request"]["base"]["ref"]
    elif event_name == "push":
        branch = ref.removeprefix("refs/heads/")
    elif event_name == "workflow_run":
        run = event["workflow_run"]
        if run["name"] not in _as_list(trigger.get("workflows")):
            raise WorkflowError(f"{name} does not listen to runs of workflow {run['name']!r}")
        branch = run.get("head_branch")
    wanted = _as_list(trigger.get("branches"))
    if wanted and branch is not None and not any(fnmatch.fnmatchcase(branch, pattern) for pattern in wanted):
        raise WorkflowError(f"{name}: {event_name} on branch {branch!r} does not match branches {wanted}")
    types = _as_list(trigger.get("types"))
    if types and event.get("action") not in types:
        raise WorkflowError(f"{name}: {event_name} of type {event.get('action')!r} is not one of {types}")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _parse_env_file(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV syntax: `key=value` lines and `key<<DELIM` … `DELIM` blocks."""
    values: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            block = []
            i += 1
            while i < len(lines) and lines[i] != delim:
                block.append(lines[i])
                i += 1
            if i >= len(lines):
                raise WorkflowError(f"{path.name}: unterminated {key}<<{delim} block")
            values[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
        elif line.strip():
            raise WorkflowError(f"{path.name}: malformed line {line!r}")
        i += 1
    return values


def temp_runner(api_url: str, **kwargs: Any) -> ActionsRunner:
    """A runner in a fresh temporary directory (the caller removes it)."""
    return ActionsRunner(Path(tempfile.mkdtemp(prefix="actions-")), api_url, **kwargs)

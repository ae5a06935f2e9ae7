"""Shared fixtures: a small self-contained workspace (params.yaml + data) and a runner for the real scripts.

The scripts resolve params.yaml paths against the working directory (like DVC), so each test gets its own
directory with its own params.yaml, data and registry, and runs the scripts there, each in a process of its own
as a user and the workflows run them (forked from a server that has the heavy libraries imported:
tests/support/script_process.py).
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import script_process

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
PYTHON = sys.executable
SMALL_ROWS = 3000  # enough for a model that learns the sample's signal, small enough for subsecond fits
SCRIPT_TIMEOUT = 180
# Variables that would point a script at something other than the test's own workspace.
_LEAKY_ENV = ("MODEL_REGISTRY", "MLOPS_DEBUG", "GITHUB_SHA", "GITHUB_TOKEN", "GITHUB_REPOSITORY")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first: the workers take whole files in this order, so the long ones do not finish last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@dataclass(frozen=True)
class ScriptRun:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"{' '.join(self.args)} → exit {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def script_env(**extra: str) -> dict[str, str]:
    """The caller's environment minus what would leak outside the workspace; scripts get one OpenMP thread.

    Tests run two scripts at a time on two cores; OpenMP spin-waiting in several threads per script then costs
    several times the CPU for the same (identical) model.
    """
    env = {key: value for key, value in os.environ.items() if key not in _LEAKY_ENV}
    env.update({"OMP_NUM_THREADS": "1", **extra})
    return env


def run_script(script: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> ScriptRun:
    """Run scripts/<script> with the venv's python in cwd; capture everything, never raise on failure."""
    returncode, stdout, stderr = script_process.run((PYTHON, str(SCRIPTS / script), *args), cwd, env or script_env(),
                                                   SCRIPT_TIMEOUT)
    return ScriptRun((script, *args), returncode, stdout, stderr)


def run_scripts(calls: Sequence[tuple[str, Sequence[str], Path]]) -> list[ScriptRun]:
    """Run independent (script, args, cwd) calls two at a time (the machine has two cores); results in order."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda call: run_script(call[0], *call[1], cwd=call[2]), calls))


def assert_ok(run: ScriptRun) -> ScriptRun:
    assert run.returncode == 0, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    return run


def assert_one_line_error(run: ScriptRun, *needles: str) -> str:
    """A user error: non-zero exit, exactly one 'Error: …' line on stderr naming every needle, no traceback."""
    assert run.returncode != 0, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.describe()
    assert lines[0].startswith("Error: "), run.describe()
    assert "unexpected" not in lines[0], f"an unanticipated error reached the user:\n{run.describe()}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not named in:\n{run.describe()}"
    return lines[0]


def base_params() -> dict[str, Any]:
    """The repository's params.yaml, made light for tests: few bootstrap resamples, a workspace registry."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["data"].pop("sample_rows", None)
    raw["gate"]["bootstrap_resamples"] = 200
    raw["registry"] = {"backend": "local", "path": "registry"}
    return raw


class Workspace:
    """A directory the scripts run in: params.yaml and data/; then artifacts/, reports/ and registry/."""

    def __init__(self, root: Path, params: dict[str, Any]):
        self.root = root
        self.write_params(params)

    @property
    def params_file(self) -> Path:
        return self.root / "params.yaml"

    @property
    def params(self) -> dict[str, Any]:
        return yaml.safe_load(self.params_file.read_text(encoding="utf-8"))

    @property
    def data(self) -> Path:
        return self.root / self.params["data"]["path"]

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def model(self) -> Path:
        return self.root / "artifacts" / "model"

    @property
    def registry(self) -> Path:
        return self.root / "registry"

    def write_params(self, raw: dict[str, Any]) -> None:
        self.params_file.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")

    def edit_params(self, change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        """Apply change(raw) to a copy of params.yaml and write it back; returns the new raw params."""
        raw = copy.deepcopy(self.params)
        change(raw)
        self.write_params(raw)
        return raw

    def run(self, script: str, *args: str) -> ScriptRun:
        return run_script(script, *args, cwd=self.root)


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded churn sample at SMALL_ROWS rows, generated once per session."""
    from ml.sample_data import write_churn_csv

    path = tmp_path_factory.mktemp("sample") / "churn.csv"
    write_churn_csv(path, SMALL_ROWS)
    return path


def make_workspace(root: Path, data_csv: Path, params: dict[str, Any] | None = None) -> Workspace:
    """A workspace at root with a copy of data_csv as data/churn.csv and params (default: base_params())."""
    (root / "data").mkdir(parents=True)
    shutil.copy(data_csv, root / "data" / "churn.csv")
    return Workspace(root, params or base_params())


@pytest.fixture
def workspace(tmp_path: Path, sample_csv: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", sample_csv)

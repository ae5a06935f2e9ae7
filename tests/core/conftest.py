"""Fixtures for the core pipeline tests: in-process params, and workspaces that already hold a model or a champion."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from ml.params import Params, parse_params
from tests.conftest import Workspace, make_workspace


def params_of(ws: Workspace) -> Params:
    """The workspace's params.yaml as the scripts see it (paths resolve against the workspace)."""
    return parse_params(ws.params, ws.root)


def drop_feature(ws: Workspace, name: str) -> None:
    """Remove a feature from params.yaml and its column from the data, as adopting a smaller schema does."""
    ws.edit_params(lambda raw: raw["features"].pop(name))
    pd.read_csv(ws.data).drop(columns=name).to_csv(ws.data, index=False)


def relabel_target(ws: Workspace) -> None:
    """Spell the sample's 0/1 target as no/yes in the data: the same classes under other labels."""
    frame = pd.read_csv(ws.data)
    frame.assign(churned=frame.churned.map({0: "no", 1: "yes"})).to_csv(ws.data, index=False)


def train_in_process(ws: Workspace, model_dir: Path | None = None) -> Path:
    """Train with the same step function train.py calls, without paying a subprocess start."""
    from threadpoolctl import threadpool_limits

    from ml.steps import train_step

    model_dir = model_dir or ws.model
    with threadpool_limits(limits=1):  # as the scripts run under test (see tests/conftest.py script_env)
        train_step(params_of(ws), model_dir)
    return model_dir


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> Path:
    """One bundle trained on the small sample with the test params, shared read-only by tests that copy it."""
    return train_in_process(make_workspace(tmp_path_factory.mktemp("trained") / "ws", sample_csv))


@pytest.fixture
def with_model(workspace: Workspace, trained_model: Path) -> Workspace:
    """A workspace whose artifacts/model is a trained (unpromoted) challenger."""
    shutil.copytree(trained_model, workspace.model)
    return workspace


def promote_in_process(ws: Workspace, model_dir: Path | None = None, force: bool = False) -> dict:
    """Compare model_dir with the workspace registry's champion and promote it, as compare.py + promote.py do."""
    from ml.promote import promote
    from ml.registry.local import LocalRegistry
    from ml.steps import compare_step

    model_dir = model_dir or ws.model
    result = compare_step(params_of(ws), model_dir, ws.reports / "comparison.json")
    promote(model_dir, result, LocalRegistry(ws.registry), force=force, name="test-model")
    return result


@pytest.fixture
def with_champion(with_model: Workspace) -> Workspace:
    """A workspace whose registry holds v1 (the trained model) and whose artifacts/model is the same model."""
    promote_in_process(with_model)
    return with_model

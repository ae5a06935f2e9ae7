"""Fixtures for the deploy tests: one trained bundle per session, copied into versions and defective variants."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.bundles import train_bundle, write_deploy_params
from tests.deploy.hostenv import HostDeployEnv


@pytest.fixture(scope="session")
def deploy_workspace(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> tuple[Path, Path]:
    """(params.yaml, trained bundle) shared by every deploy test."""
    root = tmp_path_factory.mktemp("deploy-ws")
    params = write_deploy_params(root, sample_csv)
    return params, train_bundle(params, root / "base-model")


@pytest.fixture(scope="module")
def host_env(tmp_path_factory: pytest.TempPathFactory, deploy_workspace: tuple[Path, Path]):
    params, bundle = deploy_workspace
    env = HostDeployEnv(tmp_path_factory.mktemp("host"), params, bundle)
    yield env
    env.down()

"""Model registry: where champions live. `open_registry(params)` picks the backend.

params.yaml's `registry.backend` is the default; the MODEL_REGISTRY environment variable overrides it, so the
same params.yaml uses the local registry on a laptop and GitHub Releases inside the workflows.
"""

from __future__ import annotations

import os

from ml.errors import ParamsError
from ml.params import Params
from ml.registry.base import ModelVersion, Registry

__all__ = ["ModelVersion", "Registry", "open_registry"]


def open_registry(params: Params) -> Registry:
    backend = os.environ.get("MODEL_REGISTRY") or params.registry.get("backend", "local")
    if backend not in ("local", "github"):
        raise ParamsError(f"MODEL_REGISTRY must be local or github, got {backend!r}")
    if backend == "github":
        from ml.registry.github import GitHubReleasesRegistry

        return GitHubReleasesRegistry.from_env()
    from ml.registry.local import LocalRegistry

    return LocalRegistry(params.path(params.registry.get("path", "registry")))

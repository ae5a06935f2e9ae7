"""Model registry: where champions live. `open_registry(params)` picks the backend from params.yaml."""

from __future__ import annotations

from ml.params import Params
from ml.registry.base import ModelVersion, Registry

__all__ = ["ModelVersion", "Registry", "open_registry"]


def open_registry(params: Params) -> Registry:
    backend = params.registry.get("backend", "local")
    if backend == "github":
        from ml.registry.github import GitHubReleasesRegistry

        return GitHubReleasesRegistry.from_env()
    from ml.registry.local import LocalRegistry

    return LocalRegistry(params.path(params.registry.get("path", "registry")))

"""The registry interface every backend implements (local directory, GitHub Releases)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml.bundle import verify_artifact
from ml.errors import IntegrityError, RegistryError


@dataclass(frozen=True)
class ModelVersion:
    version: int
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        return f"v{self.version}"


def require_version(metadata: dict[str, Any], version: int, where: str) -> None:
    """A version's metadata must carry its own number: an edited one would be served, carded and compared as
    another version."""
    if metadata.get("version") != version:
        raise IntegrityError(f"{where}: metadata.json says version {metadata.get('version')}, not {version}")


class Registry(ABC):
    """Versions are 1, 2, 3…; the champion is one of them (normally the newest, older after a rollback)."""

    @abstractmethod
    def versions(self) -> list[ModelVersion]:
        """Every published version, oldest first."""

    @abstractmethod
    def champion(self) -> ModelVersion | None:
        """The version serving as champion, or None when nothing was ever promoted."""

    @abstractmethod
    def fetch(self, version: int, dest: Path) -> Path:
        """Copy a version's bundle into dest, verifying the artifact's sha256; returns dest."""

    @abstractmethod
    def publish(self, bundle_dir: Path) -> ModelVersion:
        """Register a bundle (artifact, metadata.json, model_card.md) as version metadata["version"].

        That number must be next_version() (the caller writes it into the metadata and the card first).
        The new version becomes champion. All or nothing: a failure leaves no version behind that could
        become champion.
        """

    @abstractmethod
    def rollback(self) -> ModelVersion:
        """Make the version before the current champion the champion again; returns it."""

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the registry for a promotion: reading the champion a comparison was judged against, numbering the
        new version and publishing it must not interleave with another promotion's. A backend without a lock of
        its own relies on its caller (release.yml's concurrency group serialises the GitHub backend's in CI; of two
        manual promotions publishing the same version, its publish lets one win)."""
        yield

    def next_version(self) -> int:
        versions = self.versions()
        return versions[-1].version + 1 if versions else 1

    def checked_for_publish(self, bundle_dir: Path) -> tuple[Path, dict[str, Any], int]:
        """Verify a bundle about to be published; returns (dir, metadata, version) once it is the next version."""
        bundle_dir = Path(bundle_dir)
        metadata = verify_artifact(bundle_dir)
        version = metadata.get("version")
        expected = self.next_version()
        if version != expected:
            raise RegistryError(f"cannot publish as v{version}: the next version in {self} is v{expected}")
        return bundle_dir, metadata, version

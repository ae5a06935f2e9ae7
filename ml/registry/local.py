"""Local-directory registry: registry/vN/ holds each bundle, registry/champion.json names the champion (and the
versions never to be champion again: rolled back from, or left by a publish killed before it named them),
registry/.lock serialises promotions. A publish copies into registry/.publish-* first, which no reader takes for a
version; one left by a killed publish goes at the next."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ml.bundle import FILES, METADATA, read_metadata, replace_dir, verify_artifact
from ml.errors import RegistryError
from ml.fileio import staging_dir, write_json_atomic
from ml.registry.base import ModelVersion, Registry, require_version

_VERSION_DIR = re.compile(r"^v(\d+)$")
_STAGING = ".publish-"


class LocalRegistry(Registry):
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._holding = False

    def __str__(self) -> str:
        return str(self.root)

    @property
    def _pointer(self) -> Path:
        return self.root / "champion.json"

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """An fcntl lock on registry/.lock: the kernel drops it if the holder dies, kill -9 included. Held already
        (publish inside promote's hold), it is not taken again: flock would wait for itself."""
        if self._holding:
            yield
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._holding = True
            try:
                yield
            finally:
                self._holding = False

    def _dir(self, version: int) -> Path:
        return self.root / f"v{version}"

    def _version_dirs(self) -> list[tuple[int, Path]]:
        """(number, directory) of every published version, oldest first."""
        if not self.root.is_dir():
            return []
        found = [(int(m.group(1)), child) for child in self.root.iterdir()
                 if (m := _VERSION_DIR.match(child.name)) and (child / METADATA).is_file()]
        return sorted(found)

    def versions(self) -> list[ModelVersion]:
        return [ModelVersion(number, read_metadata(where)) for number, where in self._version_dirs()]

    def _pointed(self) -> int | None:
        return self._read_pointer()[0]

    def _read_pointer(self) -> tuple[int | None, list[int]]:
        """(the champion's version, the versions rolled back from: never champion again, as GitHub's prereleases)."""
        try:
            raw = json.loads(self._pointer.read_text())
            return int(raw["version"]), [int(v) for v in raw.get("rolled_back", [])]
        except FileNotFoundError:
            return None, []
        except (ValueError, KeyError, TypeError):
            raise RegistryError(f"{self._pointer}: unreadable champion pointer") from None

    def champion(self) -> ModelVersion | None:
        """Reads the champion's metadata only: a damaged older version must not stop every step that asks."""
        pointed = self._pointed()
        if pointed is None:
            return None
        if not (self._dir(pointed) / METADATA).is_file():
            raise RegistryError(f"{self._pointer}: names v{pointed}, which is not in {self.root}")
        return ModelVersion(pointed, read_metadata(self._dir(pointed)))

    def next_version(self) -> int:
        """From the version directories' names, not their metadata (see champion)."""
        dirs = self._version_dirs()
        return dirs[-1][0] + 1 if dirs else 1

    def fetch(self, version: int, dest: Path) -> Path:
        source = self._dir(version)
        if not (source / METADATA).is_file():
            raise RegistryError(f"model v{version} is not in {self.root}")
        require_version(verify_artifact(source), version, str(source))
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_dir(dest.parent, f".{dest.name}.fetch-")  # dest stays as it was until the copy verifies
        try:
            shutil.copytree(source, staging, dirs_exist_ok=True)
            verify_artifact(staging)
            replace_dir(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return dest

    def publish(self, bundle_dir: Path) -> ModelVersion:
        with self.exclusive():
            bundle_dir, metadata, version = self.checked_for_publish(bundle_dir)
            self._remove_abandoned_staging()
            staging = staging_dir(self.root, _STAGING)
            try:
                for name in FILES:
                    if (bundle_dir / name).is_file():
                        shutil.copy2(bundle_dir / name, staging / name)
                verify_artifact(staging)
                staging.rename(self._dir(version))
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            self._point(version, self._read_pointer()[1] + self._never_pointed_at(version))
        return ModelVersion(version, metadata)

    def _never_pointed_at(self, version: int) -> list[int]:
        """Versions between the champion and this new one: each is a publish killed after its directory was in place
        and before champion.json named it (a rollback only ever points lower). Never champion, so never a rollback's
        target either."""
        pointed = self._pointed() or 0
        return [number for number, _ in self._version_dirs() if pointed < number < version]

    def _remove_abandoned_staging(self) -> None:
        """Every publish stages under the lock, so while we hold it any staging directory is a dead publish's."""
        for leftover in self.root.glob(f"{_STAGING}*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def _point(self, version: int, rolled_back: list[int] | None = None) -> None:
        if rolled_back is None:
            rolled_back = self._read_pointer()[1]
        write_json_atomic(self._pointer, {"version": version, "rolled_back": sorted(set(rolled_back))})

    def rollback(self) -> ModelVersion:
        with self.exclusive():
            return self._rollback()

    def _rollback(self) -> ModelVersion:
        current = self.champion()
        if current is None:
            raise RegistryError("nothing to roll back: there is no champion yet")
        rolled_back = self._read_pointer()[1]
        older = [v for v in self.versions() if v.version < current.version and v.version not in rolled_back]
        if not older:
            raise RegistryError(f"nothing to roll back to: {current.name} is the oldest version")
        previous = older[-1]
        where = self._dir(previous.version)
        require_version(verify_artifact(where), previous.version, str(where))
        self._point(previous.version, [*rolled_back, current.version])
        return previous

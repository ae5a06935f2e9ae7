"""A model bundle is a directory: the joblib artifact, its metadata (with the artifact's sha256) and a card.

Bundles are what the trainer writes, the registry stores and the server loads. Loading always checks the
sha256 first, because joblib.load runs code from the file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, BinaryIO

from ml.errors import IntegrityError, MLOpsError
from ml.fileio import sha256_file, sha256_stream, staging_dir, write_json_atomic

ARTIFACT = "model.joblib"
METADATA = "metadata.json"
CARD = "model_card.md"
REFERENCE = "reference.json"  # drift reference statistics of the training data (ml.drift.reference)
FILES = (ARTIFACT, METADATA, CARD, REFERENCE)


def read_metadata(bundle_dir: str | Path) -> dict[str, Any]:
    """The bundle's metadata, once its shape is what the pipeline relies on (IntegrityError naming the file)."""
    path = Path(bundle_dir) / METADATA
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MLOpsError(f"{path}: not found (is {bundle_dir} a model directory?)") from None
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{path}: unreadable metadata ({exc.__class__.__name__})") from None
    return parse_metadata(text, str(path))


def parse_metadata(text: str, where: str) -> dict[str, Any]:
    """Metadata from its JSON text (a bundle's file, a release asset), shape checked; errors start with `where`."""
    try:
        metadata = json.loads(text)
    except ValueError as exc:
        raise IntegrityError(f"{where}: unreadable metadata ({exc.__class__.__name__})") from None
    problem = _shape_problem(metadata)
    if problem:
        raise IntegrityError(f"{where}: {problem}; refusing to use it")
    return metadata


# Fields later code reads without checking: (types, required). Valid JSON of another shape would crash it there.
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "task": ((str,), True),
    "features": ((list,), True),
    "target": ((str,), False),
    "classes": ((list, type(None)), False),
    "artifact_sha256": ((str,), False),  # verify_artifact says when it is missing
    "params": ((dict,), False),
}
_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
               bool: "a boolean", type(None): "null"}


def _shape_problem(metadata: Any) -> str | None:
    """What makes the metadata unusable, or None."""
    if not isinstance(metadata, dict):
        return f"expected a JSON object, got {_JSON_NAMES[type(metadata)]}"
    for key, (types, required) in _FIELDS.items():
        if key not in metadata:
            if required:
                return f"'{key}' is missing"
        elif not isinstance(metadata[key], types):
            return f"'{key}' must be {' or '.join(_JSON_NAMES[t] for t in types)}"
    if not all(isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("type"), str)
               for f in metadata["features"]):
        return "every entry of 'features' needs a string 'name' and 'type'"
    classes = metadata.get("classes")
    if metadata["task"] == "classification" and not (
            isinstance(classes, list) and all(isinstance(c, str | int | float) for c in classes)):
        return "a classifier's 'classes' must be a list of labels"
    return None


def write_metadata(bundle_dir: str | Path, metadata: dict[str, Any]) -> None:
    write_json_atomic(Path(bundle_dir) / METADATA, metadata)


def verify_artifact(bundle_dir: str | Path, metadata: dict[str, Any] | None = None,
                    opened: BinaryIO | None = None) -> dict[str, Any]:
    """Return the metadata once the artifact's sha256 matches it; raise IntegrityError otherwise.

    opened: the artifact, open, to hash exactly the bytes that will be loaded from it (load_bundle)."""
    bundle_dir = Path(bundle_dir)
    metadata = metadata if metadata is not None else read_metadata(bundle_dir)
    expected = metadata.get("artifact_sha256")
    artifact = bundle_dir / ARTIFACT
    if not expected:
        raise IntegrityError(f"{bundle_dir / METADATA}: no artifact_sha256 recorded; refusing to load")
    if opened is None and not artifact.is_file():
        raise IntegrityError(f"{artifact}: missing")
    actual = sha256_stream(opened) if opened is not None else sha256_file(artifact)
    if actual != expected:
        raise IntegrityError(
            f"{artifact}: sha256 {actual[:12]}… does not match metadata {expected[:12]}…; refusing to load"
        )
    return metadata


def load_bundle(bundle_dir: str | Path) -> tuple[Any, dict[str, Any]]:
    """Verify, then load: returns (fitted estimator, metadata)."""
    import joblib  # here, not at the top: validation and reports use this module's names, never joblib

    artifact = Path(bundle_dir) / ARTIFACT
    metadata = read_metadata(bundle_dir)
    if not artifact.is_file():
        verify_artifact(bundle_dir, metadata)  # the error that says what is missing
    # One open file for the hash and the load: the bytes loaded are the bytes verified, even if the file is
    # replaced in between.
    with open(artifact, "rb") as handle:
        verify_artifact(bundle_dir, metadata, opened=handle)
        handle.seek(0)
        try:
            model = joblib.load(handle)
        except Exception as exc:  # a verified file that still fails to load: incompatible library versions
            raise IntegrityError(f"{artifact}: cannot be loaded ({exc.__class__.__name__}: {exc}); was it saved "
                                 "with other library versions?") from None
    return model, metadata


def save_bundle(model: Any, metadata: dict[str, Any], out_dir: str | Path,
                json_files: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write artifact + metadata (+ extra JSON files) into out_dir, replacing it whole so readers never see a mix."""
    import joblib

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(out_dir.parent, f".{out_dir.name}.")
    try:
        for name, payload in (json_files or {}).items():
            write_json_atomic(staging / name, payload, indent=None)
        joblib.dump(model, staging / ARTIFACT)
        metadata = {**metadata, "artifact": ARTIFACT, "artifact_sha256": sha256_file(staging / ARTIFACT)}
        write_metadata(staging, metadata)
        replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return metadata


def require_bundle_or_absent(path: Path) -> None:
    """Refuse to delete or replace a directory that is not a model bundle (or empty): --model-dir . or --dest ~
    would otherwise take the project, or a home directory, with it."""
    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise MLOpsError(f"{path}: not a directory; refusing to replace it with a model bundle")
    strays = sorted(child.name for child in path.iterdir() if child.name not in FILES or not child.is_file())
    if strays:
        raise MLOpsError(f"{path}: holds {strays[0]!r}{f' and {len(strays) - 1} more' if len(strays) > 1 else ''}, "
                         "which no model bundle does: refusing to replace it; give a new or empty directory")


def remove_bundle_dir(path: Path) -> None:
    """Delete a model directory an earlier run left (its files only: see require_bundle_or_absent)."""
    require_bundle_or_absent(path)
    shutil.rmtree(path, ignore_errors=True)


def replace_dir(staging: Path, target: Path) -> None:
    """Swap a fully written staging directory into place; the old one (a bundle, never anything else) is removed
    afterwards."""
    require_bundle_or_absent(target)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{staging.name[-8:]}")
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

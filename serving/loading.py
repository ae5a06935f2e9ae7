"""Find the model to serve, verify it, load it and prove it answers as it did at training time.

MODEL_DIR names a bundle directory (when MODEL_VERSION is set too, as in the Docker image, the bundle must be
that version); without it the registry's champion (or MODEL_VERSION) is fetched into a private cache
directory. Nothing is served unless the sha256 matches, the golden records come back with the recorded outputs
and the warm-up calls succeeded.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ml.bundle import METADATA, load_bundle
from ml.errors import IntegrityError, MLOpsError, ParamsError, RegistryError
from ml.params import Params, parse_feature
from ml.registry import open_registry
from serving.predictor import Predictor, sample_records
from serving.settings import Settings

log = logging.getLogger("serving")

SELF_CHECK_ROWS = 256
WARM_UP_SIZES = (1, 2, 16, 64)


@dataclass(frozen=True)
class LoadedModel:
    predictor: Predictor
    metadata: dict[str, Any]
    version: str
    model_dir: Path
    fetched: bool  # model_dir is a private copy fetched from the registry (removed at shutdown)


def version_label(metadata: dict[str, Any]) -> str:
    """'v3' for a registry version; 'dev-<sha256 prefix>' for a bundle that was never promoted."""
    version = metadata.get("version")
    if isinstance(version, int) and not isinstance(version, bool):
        return f"v{version}"
    return f"dev-{str(metadata.get('artifact_sha256') or 'unknown')[:8]}"


def model_params(metadata: dict[str, Any], deploy: Params) -> Params:
    """The deploy's params with the features and task the model was trained with (recorded in its metadata):
    an older champion keeps its own request schema when params.yaml has moved on."""
    recorded = metadata.get("features")
    task = metadata.get("task") or deploy.task
    if task not in ("classification", "regression"):
        raise IntegrityError(f"metadata.json: unknown task {task!r}")
    if not isinstance(recorded, list) or not recorded:
        return replace(deploy, task=task)
    try:
        features = tuple(parse_feature(str(entry["name"]), {k: v for k, v in entry.items() if k != "name"})
                         for entry in recorded)
    except (ParamsError, KeyError, TypeError) as exc:
        raise IntegrityError(f"metadata.json: unusable feature list ({exc})") from None
    return replace(deploy, task=task, features=features)


def private_cache_dir(path: Path) -> Path:
    """The cache directory, made if need be, refused when another user could write to it: whoever can rename its
    entries can swap a fetched bundle (artifact and metadata alike, so the sha256 still matches) before it loads,
    and a bundle is a pickle. The default lives in the shared temp directory, where anyone may create it first."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()  # of where a link leads: settings resolve the path, so its owner is the one that counts
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        why = f"owned by uid {info.st_uid}" if info.st_uid != os.geteuid() else f"mode {stat.S_IMODE(info.st_mode):o}"
        raise MLOpsError(f"model cache {path}: {why}, so another user could swap the model before it loads; "
                         "set MODEL_CACHE_DIR to a directory only this user can write")
    return path


def fetch_from_registry(settings: Settings) -> Path:
    registry = open_registry(settings.params)
    version = settings.model_version
    if version is None:
        champion = registry.champion()
        if champion is None:
            raise RegistryError("the registry has no champion yet: promote a model or set MODEL_DIR")
        version = champion.version
    # A private directory per server: several servers may share the cache directory.
    dest = Path(tempfile.mkdtemp(dir=private_cache_dir(settings.model_cache_dir), prefix=f"v{version}-"))
    try:
        return registry.fetch(version, dest)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def load_model(settings: Settings) -> LoadedModel:
    started = time.perf_counter()
    fetched = settings.model_dir is None
    if fetched:
        model_dir = fetch_from_registry(settings)
    else:
        model_dir = settings.model_dir
        if not (model_dir / METADATA).is_file():
            raise MLOpsError(f"MODEL_DIR {model_dir}: not a model directory (no {METADATA})")
    try:
        pipeline, metadata = load_bundle(model_dir)
        if not fetched and settings.model_version is not None and metadata.get("version") != settings.model_version:
            raise IntegrityError(f"MODEL_VERSION is v{settings.model_version} but {model_dir} holds "
                                 f"{version_label(metadata)}")
        params = model_params(metadata, settings.params)
        predictor = Predictor(pipeline, params)
        samples = sample_records(params.features, SELF_CHECK_ROWS)
        difference = predictor.check_fast_path(samples)
        predictor.check_golden(metadata.get("golden") or [])
        for size in WARM_UP_SIZES:
            predictor.predict(samples[:size])
    except BaseException:
        if fetched:
            shutil.rmtree(model_dir, ignore_errors=True)
        raise
    loaded = LoadedModel(predictor, metadata, version_label(metadata), model_dir, fetched)
    log.info("model %s loaded from %s in %.2f s (sha256 %s…, %s path, max |fast - pipeline| = %.1g)",
             loaded.version, model_dir, time.perf_counter() - started,
             str(metadata.get("artifact_sha256"))[:12], predictor.path, difference)
    return loaded

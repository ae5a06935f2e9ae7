"""Server settings: the `serving:` section of params.yaml, overridden by the environment a deploy sets.

Read once at start-up; every invalid value is one ParamsError line naming the key (or the variable).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.errors import ParamsError
from ml.params import Params, load_params, reject_unknown

UNSEEN_POLICIES = ("accept", "reject")
DISABLED = ("", "off", "none", "false")
# The host deploy's nginx pair lets bodies up to this through (client_max_body_size 8m in deploy/nginx): a larger
# max_body_bytes could never be used there.
MAX_BODY_CEILING = 8 * 1024 * 1024
PREDICTION_LOG_DIR = "logs/predictions"  # the default; relative paths are relative to the repository root

# Environment variable -> (serving key it overrides, or None for variables without a params.yaml key).
ENVIRONMENT = {
    "PARAMS": None,                    # path to params.yaml (default ./params.yaml)
    "MODEL_DIR": "model_dir",          # a model bundle directory (artifact + metadata.json) to serve
    "MODEL_VERSION": "model_version",  # without MODEL_DIR: fetch this registry version instead of the champion
    "MODEL_CACHE_DIR": "model_cache_dir",
    "PREDICTION_LOG_DIR": "prediction_log_dir",
    "MAX_BATCH": "max_batch",
    "UNSEEN_CATEGORIES": "unseen_categories",
    "MODEL_THREADS": "model_threads",
}
KEYS = (*(key for key in ENVIRONMENT.values() if key is not None),
        "prediction_log_max_bytes", "prediction_log_flush_seconds", "max_body_bytes")


@dataclass(frozen=True)
class Settings:
    params: Params
    model_dir: Path | None
    model_version: int | None
    model_cache_dir: Path
    max_batch: int
    unseen_categories: str
    prediction_log_dir: Path | None
    prediction_log_max_bytes: int
    prediction_log_flush_seconds: float
    max_body_bytes: int
    model_threads: int


def _int(raw: dict[str, Any], key: str, default: int, low: int, source: Callable[[str], str],
         high: int | None = None) -> int:
    value = raw.get(key, default)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        within = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ParamsError(f"{source(key)} must be an integer {within}, got {value!r}")
    return value


def _float(raw: dict[str, Any], key: str, default: float, low: float, source: Callable[[str], str]) -> float:
    value = raw.get(key, default)
    try:
        value = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        value = None
    if value is None or not value > low:
        raise ParamsError(f"{source(key)} must be a number > {low:g}, got {raw.get(key)!r}")
    return value


def _optional_path(value: Any, params: Params) -> Path | None:
    if value is None or str(value).strip().lower() in DISABLED:
        return None
    return params.path(str(value))


def prediction_log_dir_under(params: Params, base: Path) -> Path | None:
    """The prediction log directory of a server that outlives the checkout it was started from (a host deploy's
    slots): a relative setting resolved under base, not under the repository root, whose files the next job's
    checkout (`git clean -ffdx`) deletes while the server still writes to them. None: logging is off."""
    value = params.serving.get("prediction_log_dir", PREDICTION_LOG_DIR)
    if value is None or str(value).strip().lower() in DISABLED:
        return None
    return (Path(base) / str(value)).resolve()


def settings_from(params: Params, environ: Mapping[str, str]) -> Settings:
    reject_unknown(params.serving, "serving.", KEYS)
    raw = dict(params.serving)
    overridden = set()
    for variable, key in ENVIRONMENT.items():
        if key is not None and variable in environ:
            raw[key] = environ[variable]
            overridden.add(key)

    def source(key: str) -> str:
        if key in overridden:
            return next(variable for variable, k in ENVIRONMENT.items() if k == key)
        return f"params.yaml: 'serving.{key}'"

    unseen = str(raw.get("unseen_categories", "accept")).strip().lower()
    if unseen not in UNSEEN_POLICIES:
        raise ParamsError(f"{source('unseen_categories')} must be accept or reject, "
                          f"got {raw.get('unseen_categories')!r}")
    model_version = raw.get("model_version")
    if model_version is not None and str(model_version).strip() != "":
        text = str(model_version).strip().lower().removeprefix("v")
        if not text.isdigit() or int(text) < 1:
            raise ParamsError(f"{source('model_version')} must be a registry version such as 3 or v3, "
                              f"got {model_version!r}")
        model_version = int(text)
    else:
        model_version = None
    cache = raw.get("model_cache_dir") or Path(tempfile.gettempdir()) / "mlops-serving-models"
    return Settings(
        params=params,
        model_dir=_optional_path(raw.get("model_dir"), params),
        model_version=model_version,
        model_cache_dir=params.path(str(cache)),
        max_batch=_int(raw, "max_batch", 1000, 1, source),
        unseen_categories=unseen,
        prediction_log_dir=_optional_path(raw.get("prediction_log_dir", PREDICTION_LOG_DIR), params),
        prediction_log_max_bytes=_int(raw, "prediction_log_max_bytes", 10_000_000, 1024, source),
        prediction_log_flush_seconds=_float(raw, "prediction_log_flush_seconds", 0.5, 0.0, source),
        max_body_bytes=_int(raw, "max_body_bytes", 8_000_000, 1024, source, MAX_BODY_CEILING),
        model_threads=_int(raw, "model_threads", 1, 1, source),
    )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """params.yaml (or $PARAMS) plus environment overrides."""
    environ = os.environ if environ is None else environ
    return settings_from(load_params(environ.get("PARAMS") or "params.yaml"), environ)

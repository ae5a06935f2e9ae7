"""Where a model came from: the commit and the library versions, recorded in its metadata and reports."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata as importlib_metadata

LIBRARIES = ("scikit-learn", "pandas", "numpy", "scipy", "joblib", "pandera")


def git_commit() -> str | None:
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return None
    # In a repository without commits yet `git rev-parse HEAD` prints "HEAD" and fails: no commit, not one called HEAD.
    return out.stdout.strip() or None if out.returncode == 0 else None


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions

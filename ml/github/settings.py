"""Where the GitHub layer gets its configuration: the GITHUB_* variables Actions sets, plus retry knobs.

GITHUB_API_URL is honoured so GitHub Enterprise Server and the loopback stand-in in the tests work unchanged.
The MLOPS_GITHUB_* knobs exist so tests can make backoff fast; workflows leave them unset.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ml.github.errors import GitHubError

DEFAULT_API_URL = "https://api.github.com"
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to insist: tries per call, exponential backoff base, longest single wait, total time per call."""

    max_tries: int = 6
    backoff_factor: float = 1.0
    max_wait: float = 60.0
    time_budget: float = 300.0
    settle_seconds: float = 10.0  # how long a write that failed ambiguously may take to become visible
    rate_limit_wait: float = 60.0  # first wait for a rate limit that names none (GitHub: at least a minute), doubled


@dataclass(frozen=True)
class GitHubSettings:
    api_url: str
    repository: str
    token: str | None = field(default=None, repr=False)
    retry: RetryPolicy = RetryPolicy()

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def repo(self) -> str:
        return self.repository.split("/", 1)[1]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, require_token: bool = True) -> GitHubSettings:
        """Read GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN; a missing one is a one-line GitHubError."""
        env = os.environ if env is None else env
        api_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).strip().rstrip("/")
        if not api_url.startswith(("http://", "https://")):
            raise GitHubError(f"GITHUB_API_URL must be an http(s) URL, got {api_url!r}")
        repository = (env.get("GITHUB_REPOSITORY") or "").strip()
        if not repository:
            raise GitHubError("GITHUB_REPOSITORY is not set (expected owner/name, e.g. octo-org/churn-model)")
        if not _REPOSITORY.match(repository):
            raise GitHubError(f"GITHUB_REPOSITORY must look like owner/name, got {repository!r}")
        token = (env.get("GITHUB_TOKEN") or "").strip() or None
        if require_token and token is None:
            raise GitHubError("GITHUB_TOKEN is not set; in a workflow step add "
                              "`env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`")
        return cls(api_url, repository, token, _retry_from_env(env))


def _retry_from_env(env: Mapping[str, str]) -> RetryPolicy:
    defaults = RetryPolicy()
    knobs = {
        "max_tries": ("MLOPS_GITHUB_MAX_TRIES", int),
        "backoff_factor": ("MLOPS_GITHUB_BACKOFF_FACTOR", float),
        "max_wait": ("MLOPS_GITHUB_MAX_WAIT", float),
        "time_budget": ("MLOPS_GITHUB_TIME_BUDGET", float),
        "settle_seconds": ("MLOPS_GITHUB_SETTLE_SECONDS", float),
        "rate_limit_wait": ("MLOPS_GITHUB_RATE_LIMIT_WAIT", float),
    }
    values = {}
    for name, (var, kind) in knobs.items():
        raw = env.get(var)
        if raw is None or raw == "":
            values[name] = getattr(defaults, name)
            continue
        try:
            values[name] = kind(raw)
        except ValueError:
            raise GitHubError(f"{var} must be a number, got {raw!r}") from None
        if values[name] < 0 or (name == "max_tries" and values[name] < 1):
            raise GitHubError(f"{var} is out of range: {raw!r}")
    return RetryPolicy(**values)

"""urllib3 Retry tuned for GitHub: safe calls retry 5xx, every call retries rate limits, all within a time budget.

GitHub answers a rate limit with 429, or with 403 plus rate-limit headers or a message saying a (secondary) rate
limit was exceeded. Its rule for the wait: `retry-after` seconds if given, else until `x-ratelimit-reset` when
`x-ratelimit-remaining` is 0, else at least a minute, longer after each further failure. The first two are retried
here. The third needs the 403's message, which urllib3 sees before requests reads the body, so any 403 or 429
without those headers is returned untouched and GitHubClient.send waits it out (or returns a permission 403 at
once). A rate-limited request was never applied, so even a POST may be sent again. POSTs that got a 5xx or lost
their answer are not retried here: the operations look again first (see GitHubClient.write_once).
"""

from __future__ import annotations

import re
import time
from typing import Any

from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from ml.github.settings import RetryPolicy

RATE_LIMIT_STATUSES = frozenset({403, 429})
_RATE_LIMIT_MESSAGE = re.compile(r"rate limit|abuse", re.IGNORECASE)  # "secondary rate limit", older "abuse detection"
SERVER_ERRORS = frozenset({500, 502, 503, 504})
# Every PATCH this package sends sets absolute values (a body, a state, a flag), so repeating one is harmless.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})


def names_its_wait(headers: Any) -> bool:
    """Whether the headers say how long to wait: `retry-after`, or the primary limit exhausted until its reset."""
    return headers.get("retry-after") is not None or headers.get("x-ratelimit-remaining") == "0"


def is_rate_limited(status: int, headers: Any, message: str) -> bool:
    """A 429, or a 403 with a wait in its headers or a message about a rate limit (else: a permission problem)."""
    if status == 429:
        return True
    return status == 403 and (names_its_wait(headers) or _RATE_LIMIT_MESSAGE.search(message) is not None)


def ratelimit_reset_wait(headers: Any) -> float | None:
    """Seconds until x-ratelimit-reset when the primary limit is exhausted, else None."""
    if headers.get("x-ratelimit-remaining") != "0":
        return None
    try:
        return max(0.0, float(headers.get("x-ratelimit-reset", "")) - time.time())
    except ValueError:
        return None


class GitHubRetry(Retry):
    """Retry with GitHub's rate-limit rules and a total time budget per call (counted from its first failure)."""

    def __init__(self, *args: Any, time_budget: float = 300.0, started: float | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.time_budget = time_budget
        self.started = started

    @classmethod
    def from_policy(cls, policy: RetryPolicy) -> GitHubRetry:
        retries = max(policy.max_tries - 1, 0)
        return cls(
            total=retries, connect=retries, read=retries, status=retries, redirect=0, raise_on_redirect=False,
            allowed_methods=SAFE_METHODS, status_forcelist=SERVER_ERRORS, backoff_factor=policy.backoff_factor,
            backoff_max=policy.max_wait, raise_on_status=False, respect_retry_after_header=True,
            time_budget=policy.time_budget,
        )

    def new(self, **kwargs: Any) -> GitHubRetry:
        kwargs.setdefault("time_budget", self.time_budget)
        kwargs.setdefault("started", self.started)
        return super().new(**kwargs)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code in RATE_LIMIT_STATUSES:
            return bool(self.total)  # decided with the headers in increment()
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: Any) -> float | None:
        waited = super().get_retry_after(response)
        if waited is None and response.status in RATE_LIMIT_STATUSES:
            waited = ratelimit_reset_wait(response.headers)
        return waited

    def planned_wait(self, response: Any | None) -> float:
        if response is not None:
            waited = self.get_retry_after(response)
            if waited:
                return waited
        return self.get_backoff_time()

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> GitHubRetry:
        if response is not None and response.status in RATE_LIMIT_STATUSES and not names_its_wait(response.headers):
            raise MaxRetryError(_pool, url, ResponseError(f"{response.status} naming no wait: left to the client"))
        started = self.started if self.started is not None else time.monotonic()
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        retry.started = started
        wait = retry.planned_wait(response)
        if time.monotonic() - started + wait > self.time_budget:
            reason = error or ResponseError(f"next wait {wait:.0f} s exceeds the {self.time_budget:.0f} s budget")
            raise MaxRetryError(_pool, url, reason)  # type: ignore[arg-type]
        return retry

"""A small GitHub REST client on requests: auth, pinned API version, retries, pagination, one-line errors.

Retries of safe calls and of rate limits whose wait GitHub names live in urllib3 (GitHubRetry on the
HTTPAdapter); a rate limit that names no wait is waited out in `send`, which can read its message. Non-idempotent
writes go through `write_once`, which looks for the effect of a failed attempt before sending it again,
because GitHub sometimes answers 502 after it applied the write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from ml.github.errors import GitHubError, redact
from ml.github.retry import RATE_LIMIT_STATUSES, GitHubRetry, is_rate_limited, names_its_wait
from ml.github.settings import GitHubSettings

API_VERSION = "2022-11-28"
USER_AGENT = "mlops-template (+https://github.com; python-requests)"
PER_PAGE = 100
MAX_PAGES = 1000
TIMEOUT = (10.0, 60.0)  # connect, read
T = TypeVar("T")


def make_session(settings: GitHubSettings, token: str | None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no ~/.netrc credentials or proxies sneaking in; GITHUB_API_URL says where to go
    adapter = HTTPAdapter(max_retries=GitHubRetry.from_policy(settings.retry))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "X-GitHub-Api-Version": API_VERSION,
                            "Accept": "application/vnd.github+json"})
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


class GitHubClient:
    """One repository on one GitHub (github.com or Enterprise); every call is relative to settings.api_url."""

    def __init__(self, settings: GitHubSettings, timeout: tuple[float, float] = TIMEOUT):
        self.settings = settings
        self.timeout = timeout
        self._session = make_session(settings, settings.token)
        self._anonymous = make_session(settings, None)  # for redirects off GitHub: never carries the token

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitHubClient:
        return cls(GitHubSettings.from_env(env))

    def __repr__(self) -> str:
        return f"GitHubClient({self.settings.api_url!r}, {self.settings.repository!r})"

    def close(self) -> None:
        self._session.close()
        self._anonymous.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- URLs -------------------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """An absolute URL: API paths are joined to GITHUB_API_URL, absolute URLs (from GitHub) pass through."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.settings.api_url}/{path.lstrip('/')}"

    def repo_url(self, suffix: str = "") -> str:
        return self.url(f"/repos/{self.settings.repository}{suffix}")

    def display(self, url: str) -> str:
        """A URL fit for messages: the path only (signed download URLs carry secrets in their query)."""
        parts = urlsplit(self.url(url))
        api = urlsplit(self.settings.api_url)
        path = parts.path
        if parts.netloc == api.netloc and path.startswith(api.path):
            path = path[len(api.path):] or "/"
            return path
        return f"{parts.netloc}{path}"

    # -- requests ---------------------------------------------------------------------------------------

    def send(self, method: str, url: str, *, anonymous: bool = False, **kwargs: Any) -> requests.Response:
        """One call with urllib3's retries; connection failures become GitHubError, HTTP errors are returned.

        A rate limit that names no wait (a secondary limit, usually) is sent again, whatever the method (GitHub
        did not apply it), after rate_limit_wait, doubled on each further failure, within the time budget.
        """
        policy = self.settings.retry
        deadline = time.monotonic() + policy.time_budget
        response = self._send_once(method, url, anonymous, kwargs)
        earlier = 0
        for attempt in range(policy.max_tries - 1):
            wait = policy.rate_limit_wait * 2 ** attempt
            if not _rate_limited_naming_no_wait(response) or time.monotonic() + wait > deadline:
                break
            earlier += _tries(response)
            response.close()
            time.sleep(wait)
            response = self._send_once(method, url, anonymous, kwargs)
        response.earlier_tries = earlier  # type: ignore[attr-defined]  # counted in failure()'s "after N tries"
        return response

    def _send_once(self, method: str, url: str, anonymous: bool, kwargs: dict[str, Any]) -> requests.Response:
        """A file body (an upload) is sent whole on every attempt: the one before left it where it stopped, and
        requests would send just the rest. (urllib3 rewinds it itself between its own retries.)"""
        session = self._anonymous if anonymous else self._session
        kwargs.setdefault("timeout", self.timeout)
        body = kwargs.get("data")
        if hasattr(body, "seek"):
            body.seek(0)
        try:
            return session.request(method, self.url(url), **kwargs)
        except requests.RequestException as exc:
            raise GitHubError(self._redact(
                f"{method} {self.display(url)}: no answer from {urlsplit(self.url(url)).netloc} "
                f"({_reason(exc)})")) from None

    def request(self, method: str, url: str, *, permission: str | None = None, ok: tuple[int, ...] = (),
                **kwargs: Any) -> requests.Response:
        """Like send, but any status >= 400 not listed in `ok` becomes a one-line GitHubError."""
        response = self.send(method, url, **kwargs)
        if response.status_code >= 400 and response.status_code not in ok:
            raise self.failure(response, method, url, permission)
        return response

    def get_json(self, url: str, params: Mapping[str, Any] | None = None, permission: str | None = None) -> Any:
        return self.request("GET", url, params=params, permission=permission).json()

    def paginate(self, url: str, params: Mapping[str, Any] | None = None,
                 permission: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following Link rel="next" with per_page=100."""
        query: dict[str, Any] | None = {**(params or {}), "per_page": PER_PAGE}
        next_url: str | None = self.url(url)
        origin = urlsplit(self.settings.api_url).netloc
        for _ in range(MAX_PAGES):
            if next_url is None:
                return
            response = self.request("GET", next_url, params=query, permission=permission)
            items = response.json()
            if not isinstance(items, list):
                raise GitHubError(f"GET {self.display(url)}: expected a list from GitHub, got {type(items).__name__}")
            yield from items
            next_url, query = response.links.get("next", {}).get("url"), None  # the next link keeps the query
            if next_url is not None and urlsplit(next_url).netloc != origin:
                raise GitHubError(f"GET {self.display(url)}: pagination points off {origin}; refusing to follow")
        raise GitHubError(f"GET {self.display(url)}: more than {MAX_PAGES} pages")

    def write_once(self, method: str, url: str, *, find: Callable[[], T | None], what: str,
                   permission: str | None = None, exists_status: int | None = None,
                   **kwargs: Any) -> dict[str, Any] | T:
        """Send a non-idempotent write; after an ambiguous failure (5xx, lost answer) look for its effect first.

        `find` returns the object the write would have made, or None. The write is sent again only when
        `find` (polled for settle_seconds) does not see it, so a 502-after-apply never makes a duplicate.
        `exists_status` is how GitHub refuses to make the object twice (422 for a ref or a PR): that answer means
        an earlier attempt whose effect `find` did not see yet landed, or someone else's object is there, so
        `find` decides (returns it, or raises naming the conflict) instead of failing with GitHub's message.
        """
        policy = self.settings.retry
        last = "no attempt"
        for attempt in range(policy.max_tries):
            try:
                response = self.send(method, url, **kwargs)
            except GitHubError as exc:
                last = str(exc)
            else:
                if response.status_code < 400:
                    return response.json() if response.content else {}
                if response.status_code < 500:
                    found = self._look_again(find) if response.status_code == exists_status else None
                    if found is not None:
                        return found
                    raise self.failure(response, method, url, permission)
                last = f"{response.status_code} {_message(response)}"
            found = self._look_again(find)
            if found is not None:
                return found
            if attempt + 1 < policy.max_tries:
                time.sleep(min(policy.max_wait, policy.backoff_factor * 2 ** attempt))
        raise GitHubError(self._redact(f"{what}: GitHub kept failing ({last}) after {policy.max_tries} tries; "
                                       "nothing was written twice, run the step again later"))

    def _look_again(self, find: Callable[[], T | None]) -> T | None:
        deadline = time.monotonic() + self.settings.retry.settle_seconds
        pause = 0.5
        while True:
            found = find()
            if found is not None or time.monotonic() + pause > deadline:
                return found
            time.sleep(pause)
            pause = min(pause * 2, 4.0)

    def download(self, url: str, dest: Path, permission: str | None = None) -> int:
        """Stream a release asset to dest; the redirect to storage is followed without the token."""
        response = self.request("GET", url, headers={"Accept": "application/octet-stream"}, allow_redirects=False,
                                stream=True, permission=permission)
        if response.is_redirect:
            location = response.headers["Location"]
            response.close()
            response = self.send("GET", location, anonymous=True, stream=True,
                                 headers={"Accept": "application/octet-stream"})
            if response.status_code >= 400:
                raise self.failure(response, "GET", location, permission)
        size = 0
        with response, open(dest, "wb") as handle:
            for chunk in response.iter_content(chunk_size=1 << 20):
                handle.write(chunk)
                size += len(chunk)
        return size

    # -- errors -----------------------------------------------------------------------------------------

    def failure(self, response: requests.Response, method: str, url: str,
                permission: str | None = None) -> GitHubError:
        """Turn an error answer into one line that says what to fix."""
        status = response.status_code
        where = f"{method} {self.display(url)}"
        message = _message(response)
        tries = _tries(response)
        after = f" after {tries} tries" if tries > 1 else ""
        if status == 401:
            text = f"{where}: GitHub refused GITHUB_TOKEN (401 {message}); it is missing, invalid or expired"
        elif is_rate_limited(status, response.headers, message):
            wait = response.headers.get("retry-after") or _reset_in(response.headers)
            text = (f"{where}: GitHub rate limit ({status} {message}){after}"
                    f"{f'; it asks to wait {wait} s' if wait else ''}; run the step again later")
        elif status == 403:
            accepted = accepted_permissions(response.headers)
            needed = accepted or permission
            hint = f"; the workflow job needs `permissions:` {needed}" if needed else ""
            if accepted and permission and permission not in accepted:
                hint += f" (this step as a whole needs {permission})"
            text = f"{where}: GitHub refused the token (403 {message}){hint}"
        elif status == 404:
            text = (f"{where}: not found (404) on {self.settings.repository}: wrong GITHUB_REPOSITORY or "
                    f"GITHUB_API_URL, or the token cannot see it")
        elif status >= 500:
            text = f"{where}: GitHub failed ({status} {message}){after}; run the step again later"
        else:
            text = f"{where}: GitHub refused the request ({status} {message})"
        return GitHubError(self._redact(text), status)

    def _redact(self, text: str) -> str:
        return redact(text, self.settings.token)


def accepted_permissions(headers: Mapping[str, str]) -> str | None:
    """GitHub's x-accepted-github-permissions ("issues=write; pull_requests=write") as workflow YAML keys."""
    raw = headers.get("x-accepted-github-permissions")
    if not raw:
        return None
    choices = []
    for choice in raw.split(";"):
        pairs = [p.strip().split("=", 1) for p in choice.split(",") if "=" in p]
        if pairs:
            choices.append(", ".join(f"{k.replace('_', '-')}: {v}" for k, v in pairs))
    return " or ".join(f"`{c}`" for c in choices) or None


def _message(response: requests.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return (response.reason or "").strip()[:200]
    if not isinstance(payload, dict):
        return (response.reason or "").strip()
    message = str(payload.get("message") or response.reason or "")
    details = []
    for error in payload.get("errors") or []:
        if isinstance(error, dict):
            details.append(str(error.get("message") or error.get("code") or ""))
        else:
            details.append(str(error))
    details = [d for d in details if d]
    if details:
        message = f"{message}: {'; '.join(details)}"
    return message[:300]


def _rate_limited_naming_no_wait(response: requests.Response) -> bool:
    """The rate limits urllib3 leaves to send (the status is checked first: a 200 may be a stream not to read)."""
    if response.status_code not in RATE_LIMIT_STATUSES or names_its_wait(response.headers):
        return False
    return is_rate_limited(response.status_code, response.headers, _message(response))


def _tries(response: requests.Response) -> int:
    """Every attempt behind this answer: send's earlier ones plus urllib3's retries of this one."""
    retries = getattr(response.raw, "retries", None)
    return getattr(response, "earlier_tries", 0) + len(getattr(retries, "history", ())) + 1


def _reset_in(headers: Mapping[str, str]) -> int | None:
    if headers.get("x-ratelimit-remaining") != "0":
        return None
    try:
        return max(0, int(float(headers.get("x-ratelimit-reset", "")) - time.time()))
    except ValueError:
        return None


def _reason(exc: requests.RequestException) -> str:
    """The root cause's class, not its text: urllib3 messages quote URLs with signed query strings."""
    cause: BaseException = exc
    seen = 0
    while seen < 5:
        inner = getattr(cause, "reason", None) or cause.__cause__ or cause.__context__
        if inner is None or not isinstance(inner, BaseException):
            break
        cause, seen = inner, seen + 1
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return cause.__class__.__name__ if cause is not exc else exc.__class__.__name__

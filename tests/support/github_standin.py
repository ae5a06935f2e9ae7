"""A loopback stand-in for the part of GitHub's REST API the template uses, with GitHub's awkward habits.

    with GitHubStandIn() as gh:                  # 127.0.0.1, free port, background thread
        env = gh.env()                           # GITHUB_API_URL / GITHUB_REPOSITORY / GITHUB_TOKEN
        pr = gh.add_pull(comments=250)           # seeding helpers
        gh.random_faults(rate=0.3, seed=1)       # or gh.fail("502-after", op="issues/create_comment")
        ...
        assert gh.violations == []               # every request was checked against ghapi.gh_spec

State is in memory and inspectable (comments, issues, labels, pulls, releases + asset bytes, dispatches, runs).
Behaviour copied from GitHub: Link pagination honouring per_page/page, pull requests listed among issues,
`GET /user` forbidden for the bot token, 403 "Resource not accessible by integration" with
x-accepted-github-permissions when a permission is missing, drafts invisible to releases/tags/{tag} and free to
share a tag (GitHub refuses only creating a second published release for one), uploads under /uploads/... via the
release's upload_url template (refused from 2 GiB on), and asset downloads (Accept: application/octet-stream)
answered with a 302 to a separate "storage" server on another port that records the headers it received.

Labels are a table of their own: a new issue keeps only the labels the repository has (GitHub may drop unknown ones
instead of creating them), and seeding an issue with labels creates them.

Fault kinds: 502-before (nothing applied), 502-after (applied, then 502), disconnect-after (applied, then the
connection is dropped without an answer), stale-read (a GET answered as by a replica that has not seen the latest
writes yet: 404 for one object, an empty page for a list), 429 and 403-secondary (with retry-after), 403-reset
(primary limit: x-ratelimit-remaining 0 and x-ratelimit-reset), 429-headerless and 403-secondary-headerless (a
secondary limit that says neither how long to wait nor that the limit is exhausted). Faults never hit a request that
fails validation.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from tests.support import github_spec

BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
HUMAN = {"login": "octocat", "id": 583231, "type": "User"}
RATE_LIMIT_KINDS = ("429", "403-secondary", "403-reset", "429-headerless", "403-secondary-headerless")
FAULT_KINDS = ("502-before", "502-after", "disconnect-after", "stale-read", *RATE_LIMIT_KINDS)
DEFAULT_RANDOM_KINDS = ("502-before", "502-after", "disconnect-after", "429", "403-secondary")
ALL_WRITE = {"issues": "write", "pull_requests": "write", "contents": "write", "actions": "write"}
MAX_ASSET = 2 * 1024 ** 3  # GitHub: each file included in a release must be under 2 GiB

# Which GITHUB_TOKEN permission each endpoint needs: alternatives, any one suffices (write implies read).
_READ_ISSUES = (("issues", "read"), ("pull_requests", "read"))
_WRITE_ISSUES = (("issues", "write"), ("pull_requests", "write"))
PERMISSIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "issues/list_comments": _READ_ISSUES, "issues/get_comment": _READ_ISSUES,
    "issues/create_comment": _WRITE_ISSUES, "issues/update_comment": _WRITE_ISSUES,
    "issues/delete_comment": _WRITE_ISSUES,
    "issues/list_for_repo": (("issues", "read"),), "issues/get": (("issues", "read"),),
    "issues/create": (("issues", "write"),), "issues/update": (("issues", "write"),),
    "issues/get_label": _READ_ISSUES, "issues/create_label": _WRITE_ISSUES,
    "pulls/list": (("pull_requests", "read"), ("contents", "read")),
    "pulls/get": (("pull_requests", "read"), ("contents", "read")),
    "repos/list_pull_requests_associated_with_commit": (("pull_requests", "read"), ("contents", "read")),
    "repos/list_releases": (("contents", "read"),), "repos/list_tags": (("contents", "read"),),
    "repos/get_release": (("contents", "read"),),
    "repos/get_release_by_tag": (("contents", "read"),), "repos/list_release_assets": (("contents", "read"),),
    "repos/get_release_asset": (("contents", "read"),),
    "repos/create_release": (("contents", "write"),), "repos/update_release": (("contents", "write"),),
    "repos/delete_release": (("contents", "write"),), "repos/upload_release_asset": (("contents", "write"),),
    "repos/delete_release_asset": (("contents", "write"),),
    "actions/create_workflow_dispatch": (("actions", "write"),),
    "git/create_blob": (("contents", "write"),), "git/create_tree": (("contents", "write"),),
    "git/create_commit": (("contents", "write"),), "git/create_ref": (("contents", "write"),),
    "git/get_commit": (("contents", "read"),), "git/get_tree": (("contents", "read"),),
    "git/get_ref": (("contents", "read"),), "git/delete_ref": (("contents", "write"),),
    "pulls/create": (("pull_requests", "write"),),
    "actions/list_workflow_runs": (("actions", "read"),), "actions/get_workflow_run": (("actions", "read"),),
}


@dataclass
class Fault:
    kind: str
    method: str | None = None
    op: str | None = None
    times: int | None = 1
    skip: int = 0

    def take(self, method: str, op: str) -> bool:
        """Whether this call gets the fault; counts down `skip` first, then `times`."""
        if self.method not in (None, method) or self.op not in (None, op) or self.times == 0:
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass
class RequestRecord:
    method: str
    path: str
    op: str | None
    status: int
    fault: str | None = None


class Reply(Exception):
    """Raised by handlers to answer with an error status (GitHub-style JSON message)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


class GitHubStandIn:
    def __init__(self, owner: str = "octo-org", repo: str = "churn-model", token: str | None = None,
                 retry_after: int = 0, reset_in: int = 0):
        self.owner, self.repo = owner, repo
        self.token = token or f"ghs_{secrets.token_hex(18)}"
        self.retry_after, self.reset_in = retry_after, reset_in
        self.permissions: dict[str, str] = dict(ALL_WRITE)
        self.dispatch_details = True  # answer 200 with the run when asked (newer GitHub), else always 204
        self.has_issues = True  # False: Issues turned off (a fork's default), so creating one is 410 Gone
        self.lock = threading.RLock()
        self._ids = itertools.count(1000)
        self._numbers = itertools.count(1)
        self._clock = datetime(2025, 1, 1, tzinfo=UTC)
        self._secret = secrets.token_bytes(16)
        self.issues: dict[int, dict[str, Any]] = {}  # pull requests too, as GitHub does
        self.pulls: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.labels: dict[str, dict[str, Any]] = {}  # by lower-cased name: GitHub's label names ignore case
        self.releases: dict[int, dict[str, Any]] = {}
        self.asset_data: dict[int, bytes] = {}
        self.workflows: dict[str, dict[str, Any]] = {}
        self.runs: list[dict[str, Any]] = []
        self.dispatches: list[dict[str, Any]] = []
        self.git_objects: dict[str, dict[str, Any]] = {}  # sha -> {"type": blob|tree|commit, ...}
        self.refs: dict[str, str] = {}  # "refs/heads/main" -> commit sha
        # The repository setting "Allow GitHub Actions to create and approve pull requests" (off for new repositories
        # of many organisations): off, the Actions bot's POST /pulls gets GitHub's 403.
        self.actions_may_open_pulls = True
        self.violations: list[str] = []
        self.requests: list[RequestRecord] = []
        self.storage_requests: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._random: tuple[float, random.Random, tuple[str, ...]] | None = None
        self._api = self._storage = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> GitHubStandIn:
        self._api = _server(self, api=True)
        self._storage = _server(self, api=False)
        for server in (self._api, self._storage):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self._api, self._storage):
            if server is not None:
                server.shutdown()
                server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._api.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def storage_url(self) -> str:
        host, port = self._storage.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.repo}"

    def env(self, **extra: str) -> dict[str, str]:
        """The variables a script needs to talk to this stand-in (plus fast retry knobs for tests)."""
        return {"GITHUB_API_URL": self.url, "GITHUB_REPOSITORY": self.repository, "GITHUB_TOKEN": self.token,
                "MLOPS_GITHUB_BACKOFF_FACTOR": "0.01", "MLOPS_GITHUB_SETTLE_SECONDS": "0",
                "MLOPS_GITHUB_RATE_LIMIT_WAIT": "0.01", **extra}

    # -- faults -------------------------------------------------------------------------------------------

    def fail(self, kind: str, method: str | None = None, op: str | None = None, times: int | None = 1,
             skip: int = 0) -> None:
        """Inject `kind` into `times` matching calls (None: every one) after letting `skip` of them through.

        `op` is the gh_spec operation, "group/name" (e.g. "issues/create_comment"); records in `requests` carry it.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        with self.lock:
            self._faults.append(Fault(kind, method, op, times, skip))

    def random_faults(self, rate: float, seed: int = 0, kinds: tuple[str, ...] = DEFAULT_RANDOM_KINDS) -> None:
        with self.lock:
            self._random = (rate, random.Random(seed), kinds) if rate > 0 else None

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
            self._random = None

    def _pick_fault(self, method: str, op: str) -> str | None:
        for fault in self._faults:
            if fault.take(method, op):
                return fault.kind
        if self._random is not None:
            rate, rng, kinds = self._random
            if rng.random() < rate:
                return rng.choice(kinds)
        return None

    # -- seeding ------------------------------------------------------------------------------------------

    def _now(self) -> str:
        self._clock += timedelta(seconds=1)
        return self._clock.isoformat().replace("+00:00", "Z")

    def _html(self, suffix: str) -> str:
        return f"https://github.com/{self.repository}{suffix}"

    def _api_url(self, suffix: str) -> str:
        return f"{self.url}/repos/{self.repository}{suffix}"

    def add_label(self, name: str, color: str = "ededed", description: str | None = None) -> dict[str, Any]:
        with self.lock:
            label = {"id": next(self._ids), "name": name, "color": color, "description": description,
                     "default": False, "url": self._api_url(f"/labels/{quote(name, safe='')}")}
            self.labels[name.lower()] = label
            return copy.deepcopy(label)

    def add_issue(self, title: str = "An issue", body: str = "", labels: tuple[str, ...] = (), state: str = "open",
                  user: dict[str, Any] | None = None, pull: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.lock:
            for name in labels:
                if name.lower() not in self.labels:
                    self.add_label(name)
            number = next(self._numbers)
            kind = "pull" if pull else "issues"
            issue = {"id": next(self._ids), "number": number, "title": title, "body": body, "state": state,
                     "state_reason": None, "labels": [{"name": self.labels[name.lower()]["name"]} for name in labels],
                     "user": dict(user or HUMAN), "comments": 0, "created_at": self._now(),
                     "html_url": self._html(f"/{kind}/{number}"), "url": self._api_url(f"/issues/{number}")}
            if pull:
                issue["pull_request"] = {"url": self._api_url(f"/pulls/{number}"),
                                         "html_url": self._html(f"/pull/{number}")}
            self.issues[number] = issue
            self.comments[number] = []
            return copy.deepcopy(issue)

    def add_pull(self, head_sha: str | None = None, head_ref: str = "feature", comments: int = 0,
                 state: str = "open", head_owner: str | None = None, title: str = "A change") -> dict[str, Any]:
        """A pull request (also listed among issues) with `comments` comments by other people."""
        with self.lock:
            issue = self.add_issue(title, "", state=state, pull={"head": head_ref})
            number = issue["number"]
            sha = head_sha or hashlib.sha1(f"{number}-{head_ref}".encode()).hexdigest()
            owner = head_owner or self.owner
            self.pulls[number] = {
                "id": issue["id"], "number": number, "state": state, "title": title, "html_url": issue["html_url"],
                "url": self._api_url(f"/pulls/{number}"), "user": dict(HUMAN),
                "head": {"sha": sha, "ref": head_ref, "label": f"{owner}:{head_ref}",
                         "repo": {"full_name": f"{owner}/{self.repo}"}},
                "base": {"sha": "0" * 40, "ref": "main", "label": f"{self.owner}:main",
                         "repo": {"full_name": self.repository}},
            }
            for i in range(comments):
                self.add_comment(number, f"comment {i + 1} from a reviewer")
            return copy.deepcopy(self.pulls[number])

    def add_comment(self, number: int, body: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.lock:
            comment_id = next(self._ids)
            kind = "pull" if number in self.pulls else "issues"
            comment = {"id": comment_id, "body": body, "user": dict(user or HUMAN), "created_at": self._now(),
                       "html_url": self._html(f"/{kind}/{number}#issuecomment-{comment_id}"),
                       "url": self._api_url(f"/issues/comments/{comment_id}"),
                       "issue_url": self._api_url(f"/issues/{number}")}
            comment["updated_at"] = comment["created_at"]
            self.comments[number].append(comment)
            self.issues[number]["comments"] += 1
            return copy.deepcopy(comment)

    def add_workflow(self, path: str, inputs: tuple[str, ...] | None = None) -> dict[str, Any]:
        """A workflow with a workflow_dispatch trigger; `inputs` None accepts any inputs."""
        with self.lock:
            workflow = {"id": next(self._ids), "path": f".github/workflows/{path}", "name": path,
                        "inputs": None if inputs is None else set(inputs)}
            self.workflows[path] = workflow
            return workflow

    def tamper_asset(self, tag: str, name: str, data: bytes) -> None:
        """Replace an asset's bytes (as a re-upload by someone else would: size and digest follow the bytes)."""
        with self.lock:
            release = next(r for r in self.releases.values() if r["tag_name"] == tag)
            asset = next(a for a in release["assets"] if a["name"] == name)
            self.asset_data[asset["id"]] = data
            asset["size"] = len(data)
            asset["digest"] = f"sha256:{hashlib.sha256(data).hexdigest()}"

    # -- inspection (copies, safe to keep) ----------------------------------------------------------------

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.comments.get(number, []))

    def issue_list(self, state: str | None = None, label: str | None = None) -> list[dict[str, Any]]:
        """Real issues only (not pull requests)."""
        with self.lock:
            return [copy.deepcopy(i) for i in self.issues.values() if "pull_request" not in i
                    and state in (None, i["state"]) and (label is None or label in _labels(i))]

    def release_list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(r) for r in self.releases.values()]

    def asset_bytes(self, tag: str, name: str) -> bytes:
        with self.lock:
            release = next(r for r in self.releases.values() if r["tag_name"] == tag)
            return self.asset_data[next(a["id"] for a in release["assets"] if a["name"] == name)]

    # -- request handling ---------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[Response, str | None]:
        """Validate, maybe inject a fault, apply; returns the response and the fault injected (if any)."""
        response, fault, op_name = self._handle(method, target, headers, raw)
        with self.lock:
            self.requests.append(RequestRecord(method, urlsplit(target).path, op_name, response.status, fault))
        return response, fault

    def _handle(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[Response, str | None, str | None]:
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        upload = path.startswith("/uploads/")
        if upload:
            path = path[len("/uploads"):]
        op_name = None
        try:
            self._check_auth(headers)
            found = self._validate(method, path, query, headers, raw, upload)
            op_name = found.endpoint.op_name
            if op_name == "users/get_authenticated":
                raise Reply(403, "Resource not accessible by integration")
            self._check_permission(op_name)
            with self.lock:
                fault = self._pick_fault(method, op_name)
            if fault in RATE_LIMIT_KINDS:
                return self._rate_limited(fault), fault, op_name
            if fault == "502-before" or (fault == "502-after" and method == "GET"):
                return _bad_gateway(), fault, op_name
            handler = getattr(self, "_op_" + op_name.replace("/", "__"), None)
            if handler is None:
                self.violations.append(f"{method} {path}: {op_name} is valid GitHub API but the stand-in lacks it")
                raise Reply(501, f"stand-in does not implement {op_name}")
            body = json.loads(raw) if raw and not upload else None
            with self.lock:
                response = handler(found.route, {k: v[-1] for k, v in query.items()}, body, raw, headers)
            if fault == "502-after":
                return _bad_gateway(), fault, op_name
            if fault == "stale-read" and method == "GET":
                return _not_seen_yet(response), fault, op_name
            return response, fault, op_name
        except Reply as reply:
            return Response(reply.status, {"message": reply.message,
                                           "documentation_url": "https://docs.github.com/rest"},
                            reply.headers), None, op_name

    def _check_auth(self, headers: Any) -> None:
        auth = headers.get("Authorization", "")
        if auth not in (f"Bearer {self.token}", f"token {self.token}"):
            raise Reply(401, "Bad credentials")

    def _validate(self, method: str, path: str, query: dict[str, list[str]], headers: Any, raw: bytes,
                  upload: bool) -> github_spec.Match:
        try:
            found = github_spec.match(method, path)
            body = None
            if raw and not upload:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise github_spec.SpecError(f"{method} {path}: the body is not JSON", 400) from None
            github_spec.validate(found, query, body, raw)
            is_upload_op = found.endpoint.op_name == "repos/upload_release_asset"
            if is_upload_op != upload:
                raise github_spec.SpecError(f"{method} {path}: uploads go to the release's upload_url only, "
                                            "and only uploads go there", 404)
            accept = headers.get("Accept", "")
            if "application/vnd.github+json" not in accept and "application/octet-stream" not in accept:
                raise github_spec.SpecError(f"{method} {path}: Accept {accept!r} is not GitHub's media type", 415)
            if headers.get("X-GitHub-Api-Version") is None or not headers.get("User-Agent"):
                raise github_spec.SpecError(f"{method} {path}: missing X-GitHub-Api-Version or User-Agent", 400)
            if upload and not headers.get("Content-Type"):
                raise github_spec.SpecError(f"{method} {path}: an upload needs a Content-Type", 422)
            return found
        except github_spec.SpecError as exc:
            self.violations.append(str(exc))
            raise Reply(exc.status, str(exc)) from None

    def _check_permission(self, op_name: str) -> None:
        needed = PERMISSIONS.get(op_name)
        if needed is None:
            return
        levels = {"read": 1, "write": 2}
        if any(levels.get(self.permissions.get(key, "none"), 0) >= levels[level] for key, level in needed):
            return
        accepted = "; ".join(f"{key}={level}" for key, level in needed)
        raise Reply(403, "Resource not accessible by integration", {"x-accepted-github-permissions": accepted})

    def _rate_limited(self, kind: str) -> Response:
        reset = int(time.time()) + self.reset_in
        headers = {"x-ratelimit-limit": "1000", "x-ratelimit-reset": str(reset)}
        if kind == "403-reset":
            headers["x-ratelimit-remaining"] = "0"
            return Response(403, {"message": "API rate limit exceeded for installation."}, headers)
        headers["x-ratelimit-remaining"] = "500"
        if not kind.endswith("-headerless"):
            headers["retry-after"] = str(self.retry_after)
        if kind.startswith("429"):
            return Response(429, {"message": "Too many requests"}, headers)
        return Response(403, {"message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                                         "before you try again."}, headers)

    # -- pagination ---------------------------------------------------------------------------------------

    def _page(self, items: list[Any], query: dict[str, str], path: str) -> Response:
        per_page = max(1, min(100, int(query.get("per_page", 30))))
        page = max(1, int(query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        links = []

        def link(n: int, rel: str) -> str:
            return f'<{self.url}{path}?{urlencode({**query, "per_page": per_page, "page": n})}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"Link": ", ".join(links)} if links else {}
        return Response(200, copy.deepcopy(chunk), headers)

    def _repo_path(self, suffix: str) -> str:
        return f"/repos/{self.owner}/{self.repo}{suffix}"

    def _check_repo(self, route: dict[str, str]) -> None:
        if (route.get("owner"), route.get("repo")) != (self.owner, self.repo):
            raise Reply(404, "Not Found")

    # -- issues and comments ------------------------------------------------------------------------------

    def _lookup(self, route: dict[str, str], table: dict[int, dict[str, Any]], key: str) -> dict[str, Any]:
        self._check_repo(route)
        found = table.get(int(route[key]))
        if found is None:
            raise Reply(404, "Not Found")
        return found

    def _issue(self, route: dict[str, str]) -> dict[str, Any]:
        return self._lookup(route, self.issues, "issue_number")

    def _op_issues__list_comments(self, route, query, body, raw, headers) -> Response:
        issue = self._issue(route)
        return self._page(self.comments[issue["number"]], query, self._repo_path(f"/issues/{issue['number']}"
                                                                                 "/comments"))

    def _op_issues__create_comment(self, route, query, body, raw, headers) -> Response:
        issue = self._issue(route)
        _check_length(body.get("body"))
        if issue["state"] == "closed" and issue.get("locked"):
            raise Reply(403, "Issue is locked")
        return Response(201, self.add_comment(issue["number"], body["body"], BOT))

    def _find_comment(self, route: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self._check_repo(route)
        wanted = int(route["comment_id"])
        for number, comments in self.comments.items():
            for comment in comments:
                if comment["id"] == wanted:
                    return number, comment
        raise Reply(404, "Not Found")

    def _op_issues__get_comment(self, route, query, body, raw, headers) -> Response:
        return Response(200, copy.deepcopy(self._find_comment(route)[1]))

    def _op_issues__update_comment(self, route, query, body, raw, headers) -> Response:
        _, comment = self._find_comment(route)
        _check_length(body["body"])
        comment["body"] = body["body"]
        comment["updated_at"] = self._now()
        return Response(200, copy.deepcopy(comment))

    def _op_issues__delete_comment(self, route, query, body, raw, headers) -> Response:
        number, comment = self._find_comment(route)
        self.comments[number].remove(comment)
        self.issues[number]["comments"] -= 1
        return Response(204)

    def _op_issues__list_for_repo(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        state = query.get("state", "open")
        wanted = {label for label in query.get("labels", "").split(",") if label}
        items = [i for i in sorted(self.issues.values(), key=lambda i: -i["number"])
                 if state in ("all", i["state"]) and wanted <= _labels(i)]
        return self._page(items, query, self._repo_path("/issues"))

    def _op_issues__get(self, route, query, body, raw, headers) -> Response:
        return Response(200, copy.deepcopy(self._issue(route)))

    def _op_issues__create(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        if not self.has_issues:
            raise Reply(410, "Issues are disabled for this repo")
        _check_length(body.get("body"))
        labels = tuple(name for name in body.get("labels") or () if name.lower() in self.labels)  # others dropped
        issue = self.add_issue(body["title"], body.get("body") or "", labels, user=BOT)
        return Response(201, issue)

    def _op_issues__update(self, route, query, body, raw, headers) -> Response:
        issue = self._issue(route)
        if "state" in body and body["state"] not in ("open", "closed"):
            raise Reply(422, "Validation Failed: state")
        for key in ("title", "body", "state", "state_reason"):
            if key in body:
                issue[key] = body[key]
        if "labels" in body:
            issue["labels"] = [{"name": name} for name in body["labels"]]
        return Response(200, copy.deepcopy(issue))

    def _op_issues__get_label(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        label = self.labels.get(unquote(route["name"]).lower())
        if label is None:
            raise Reply(404, "Not Found")
        return Response(200, copy.deepcopy(label))

    def _op_issues__create_label(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        color = body.get("color", "ededed")
        if not (len(color) == 6 and all(c in "0123456789abcdefABCDEF" for c in color)):
            raise Reply(422, "Validation Failed: color invalid")
        if body["name"].lower() in self.labels:
            raise Reply(422, "Validation Failed: already_exists")
        return Response(201, self.add_label(body["name"], color, body.get("description")))

    # -- pull requests ------------------------------------------------------------------------------------

    def _op_pulls__list(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        state = query.get("state", "open")
        head = query.get("head")
        items = [p for p in sorted(self.pulls.values(), key=lambda p: -p["number"])
                 if state in ("all", p["state"]) and (head is None or p["head"]["label"] == head)]
        return self._page(items, query, self._repo_path("/pulls"))

    def _op_pulls__get(self, route, query, body, raw, headers) -> Response:
        return Response(200, copy.deepcopy(self._lookup(route, self.pulls, "pull_number")))

    def _op_repos__list_pull_requests_associated_with_commit(self, route, query, body, raw, headers) -> Response:
        """Same-repository PRs whose head is the commit or that contained it (fork PRs are left out, as on GitHub)."""
        self._check_repo(route)
        sha = route["commit_sha"].lower()
        items = [p for p in self.pulls.values() if p["head"]["repo"]["full_name"] == self.repository
                 and (p["head"]["sha"] == sha or sha in p.get("history", ()))]
        return self._page(items, query, self._repo_path(f"/commits/{sha}/pulls"))

    def push_to_pull(self, number: int, new_sha: str) -> None:
        """Move a PR's head to a new commit, remembering the old one as part of its history."""
        with self.lock:
            pull = self.pulls[number]
            pull.setdefault("history", []).append(pull["head"]["sha"])
            pull["head"]["sha"] = new_sha

    # -- releases -----------------------------------------------------------------------------------------

    def _release(self, route: dict[str, str]) -> dict[str, Any]:
        return self._lookup(route, self.releases, "release_id")

    def _op_repos__list_releases(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        items = sorted(self.releases.values(), key=lambda r: -r["id"])
        return self._page(items, query, self._repo_path("/releases"))

    def _op_repos__get_release(self, route, query, body, raw, headers) -> Response:
        return Response(200, copy.deepcopy(self._release(route)))

    def _op_repos__get_release_by_tag(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        for release in self.releases.values():
            if release["tag_name"] == route["tag"] and not release["draft"]:
                return Response(200, copy.deepcopy(release))
        raise Reply(404, "Not Found")

    def _op_repos__create_release(self, route, query, body, raw, headers) -> Response:
        """A published release per tag; drafts may share one with each other and with it, as on GitHub."""
        self._check_repo(route)
        draft = bool(body.get("draft", False))
        if not draft and any(r["tag_name"] == body["tag_name"] and not r["draft"] for r in self.releases.values()):
            raise Reply(422, "Validation Failed: tag_name already_exists")
        release_id = next(self._ids)
        release = {
            "id": release_id, "tag_name": body["tag_name"], "name": body.get("name") or body["tag_name"],
            "body": body.get("body") or "", "draft": draft, "prerelease": bool(body.get("prerelease", False)),
            "target_commitish": body.get("target_commitish") or "main", "created_at": self._now(),
            "published_at": None if draft else self._now(), "author": dict(BOT), "assets": [],
            "url": self._api_url(f"/releases/{release_id}"),
            "html_url": self._html(f"/releases/tag/{quote(body['tag_name'])}"),
            "upload_url": f"{self.url}/uploads{self._repo_path(f'/releases/{release_id}/assets')}{{?name,label}}",
        }
        self.releases[release_id] = release
        if not draft:
            self._tag_release(release)
        return Response(201, copy.deepcopy(release))

    def _op_repos__update_release(self, route, query, body, raw, headers) -> Response:
        """Publishing a draft whose tag another release already has is not refused: GitHub documents no refusal,
        so nothing here may rely on one."""
        release = self._release(route)
        for key in ("tag_name", "name", "body", "prerelease", "target_commitish"):
            if key in body:
                release[key] = body[key]
        if "draft" in body:
            if release["draft"] and not body["draft"]:
                release["published_at"] = self._now()
                self._tag_release(release)
            release["draft"] = body["draft"]
        return Response(200, copy.deepcopy(release))

    def _tag_release(self, release: dict[str, Any]) -> None:
        """Publishing creates the tag at target_commitish, or keeps an existing tag where it points (as GitHub
        does); deleting the release later leaves the tag."""
        target = release["target_commitish"]
        self.refs.setdefault(f"refs/tags/{release['tag_name']}", self.refs.get(f"refs/heads/{target}", target))

    def _op_repos__list_tags(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        tags = [{"name": ref[len("refs/tags/"):], "commit": {"sha": sha, "url": self._api_url(f"/commits/{sha}")}}
                for ref, sha in sorted(self.refs.items()) if ref.startswith("refs/tags/")]
        return self._page(tags, query, self._repo_path("/tags"))

    def _op_repos__delete_release(self, route, query, body, raw, headers) -> Response:
        release = self._release(route)
        for asset in release["assets"]:
            self.asset_data.pop(asset["id"], None)
        del self.releases[release["id"]]
        return Response(204)

    def _op_repos__list_release_assets(self, route, query, body, raw, headers) -> Response:
        release = self._release(route)
        return self._page(release["assets"], query, self._repo_path(f"/releases/{release['id']}/assets"))

    def _op_repos__upload_release_asset(self, route, query, body, raw, headers) -> Response:
        release = self._release(route)
        name = query["name"]
        if any(a["name"] == name for a in release["assets"]):
            raise Reply(422, "Validation Failed: name already_exists")
        asset_id = next(self._ids)
        asset = {"id": asset_id, "name": name, "label": query.get("label") or "", "state": "uploaded",
                 "content_type": headers.get("Content-Type"), "size": len(raw), "created_at": self._now(),
                 "digest": f"sha256:{hashlib.sha256(raw).hexdigest()}", "uploader": dict(BOT),
                 "url": self._api_url(f"/releases/assets/{asset_id}"),
                 "browser_download_url": self._html(f"/releases/download/{release['tag_name']}/{name}")}
        release["assets"].append(asset)
        self.asset_data[asset_id] = raw
        return Response(201, copy.deepcopy(asset))

    def _asset(self, route: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
        self._check_repo(route)
        wanted = int(route["asset_id"])
        for release in self.releases.values():
            for asset in release["assets"]:
                if asset["id"] == wanted:
                    return release, asset
        raise Reply(404, "Not Found")

    def _op_repos__get_release_asset(self, route, query, body, raw, headers) -> Response:
        _, asset = self._asset(route)
        if "application/octet-stream" in headers.get("Accept", ""):
            signature = hmac.new(self._secret, str(asset["id"]).encode(), "sha256").hexdigest()
            location = f"{self.storage_url}/download/{asset['id']}?sig={signature}"
            return Response(302, None, {"Location": location})
        return Response(200, copy.deepcopy(asset))

    def _op_repos__delete_release_asset(self, route, query, body, raw, headers) -> Response:
        release, asset = self._asset(route)
        release["assets"].remove(asset)
        self.asset_data.pop(asset["id"], None)
        return Response(204)

    def storage_get(self, target: str, headers: Any) -> Response:
        """The storage host a download redirects to: checks the signature, records what it was sent."""
        parts = urlsplit(target)
        with self.lock:
            self.storage_requests.append({"path": parts.path, "headers": dict(headers.items())})
            try:
                asset_id = int(parts.path.rsplit("/", 1)[-1])
            except ValueError:
                return Response(404, {"message": "Not Found"})
            signature = hmac.new(self._secret, str(asset_id).encode(), "sha256").hexdigest()
            if parse_qs(parts.query).get("sig") != [signature] or asset_id not in self.asset_data:
                return Response(403, {"message": "Request has expired or the signature does not match"})
            return Response(200, headers={"Content-Type": "application/octet-stream"}, raw=self.asset_data[asset_id])

    # -- actions ------------------------------------------------------------------------------------------

    def _workflow(self, route: dict[str, str]) -> dict[str, Any]:
        self._check_repo(route)
        wanted = route["workflow_id"]
        for workflow in self.workflows.values():
            if wanted in (workflow["name"], str(workflow["id"])):
                return workflow
        raise Reply(404, "Not Found")

    def _op_actions__create_workflow_dispatch(self, route, query, body, raw, headers) -> Response:
        workflow = self._workflow(route)
        inputs = body.get("inputs") or {}
        if workflow["inputs"] is not None:
            unexpected = sorted(set(inputs) - workflow["inputs"])
            if unexpected:
                raise Reply(422, f"Unexpected inputs provided: {unexpected}")
        run_id = next(self._ids)
        run = {"id": run_id, "name": workflow["name"], "path": workflow["path"], "workflow_id": workflow["id"],
               "event": "workflow_dispatch", "head_branch": body["ref"], "head_sha": "f" * 40, "status": "queued",
               "conclusion": None, "created_at": self._now(), "pull_requests": [],
               "url": self._api_url(f"/actions/runs/{run_id}"), "html_url": self._html(f"/actions/runs/{run_id}")}
        self.runs.append(run)
        self.dispatches.append({"workflow": workflow["name"], "ref": body["ref"], "inputs": dict(inputs),
                                "run_id": run_id})
        if self.dispatch_details and body.get("return_run_details"):
            return Response(200, {"workflow_run_id": run_id, "run_url": run["url"], "html_url": run["html_url"]})
        return Response(204)

    def _op_actions__list_workflow_runs(self, route, query, body, raw, headers) -> Response:
        workflow = self._workflow(route)
        runs = [r for r in sorted(self.runs, key=lambda r: -r["id"]) if r["workflow_id"] == workflow["id"]
                and query.get("event") in (None, r["event"]) and query.get("branch") in (None, r["head_branch"])
                and query.get("head_sha") in (None, r["head_sha"])]
        page = self._page(runs, query, self._repo_path(f"/actions/workflows/{route['workflow_id']}/runs"))
        page.body = {"total_count": len(runs), "workflow_runs": page.body}
        return page

    def _op_actions__get_workflow_run(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        for run in self.runs:
            if run["id"] == int(route["run_id"]):
                return Response(200, copy.deepcopy(run))
        raise Reply(404, "Not Found")

    # -- git data (what a workflow needs to propose a PR without pushing) ---------------------------------

    def add_commit(self, sha: str, branch: str | None = "main", files: dict[str, bytes] | None = None) -> None:
        """Seed a commit (e.g. the GITHUB_SHA a workflow runs on) whose tree holds `files`."""
        with self.lock:
            tree = {path: self._put("blob", {"content": data}) for path, data in (files or {}).items()}
            self.git_objects[sha] = {"type": "commit", "tree": self._put("tree", {"entries": tree}),
                                     "parents": [], "message": "seeded"}
            if branch:
                self.refs[f"refs/heads/{branch}"] = sha

    def merge_pull(self, number: int, merge_sha: str) -> None:
        """Close a PR as merged by commit `merge_sha` (which then lists it among its associated PRs)."""
        with self.lock:
            pull, issue = self.pulls[number], self.issues[number]
            pull.update(state="closed", merged_at=self._now(), merge_commit_sha=merge_sha)
            pull.setdefault("history", []).append(merge_sha)
            issue["state"] = "closed"

    def files_at(self, ref: str) -> dict[str, bytes]:
        """The files of the commit a branch (or SHA) points to."""
        with self.lock:
            sha = self.refs.get(f"refs/heads/{ref}", ref)
            tree = self.git_objects[self.git_objects[sha]["tree"]]["entries"]
            return {path: self.git_objects[blob]["content"] for path, blob in tree.items()}

    def _put(self, kind: str, obj: dict[str, Any]) -> str:
        """Store a git object; a blob is named by its content as Git names it, other objects by a fresh SHA."""
        if kind == "blob":
            data = obj["content"]
            sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        else:
            sha = hashlib.sha1(f"{kind}:{next(self._ids)}:{self._secret.hex()}".encode()).hexdigest()
        self.git_objects[sha] = {"type": kind, **obj}
        return sha

    def _git_object(self, sha: str, kind: str) -> dict[str, Any]:
        obj = self.git_objects.get(str(sha))
        if obj is None or obj["type"] != kind:
            raise Reply(422 if kind != "commit" else 404, f"{kind} {sha} not found")
        return obj

    def _op_git__create_blob(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        encoding = body.get("encoding", "utf-8")
        if encoding not in ("utf-8", "base64"):
            raise Reply(422, f"encoding {encoding!r} is not supported")
        data = base64.b64decode(body["content"]) if encoding == "base64" else body["content"].encode()
        sha = self._put("blob", {"content": data})
        return Response(201, {"sha": sha, "url": self._api_url(f"/git/blobs/{sha}")})

    def _op_git__get_commit(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        sha = route["commit_sha"]
        commit = self._git_object(sha, "commit")
        return Response(200, {"sha": sha, "tree": {"sha": commit["tree"]}, "message": commit["message"],
                              "parents": [{"sha": p} for p in commit["parents"]],
                              "url": self._api_url(f"/git/commits/{sha}")})

    def _op_git__get_tree(self, route, query, body, raw, headers) -> Response:
        """A tree's blobs and the directories above them; without `recursive`, only its top level."""
        self._check_repo(route)
        entries = self._git_object(route["tree_sha"], "tree")["entries"]
        listed = {path: {"path": path, "mode": "100644", "type": "blob", "sha": sha,
                         "size": len(self.git_objects[sha]["content"])} for path, sha in entries.items()}
        for path in entries:
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                listed[folder] = {"path": folder, "mode": "040000", "type": "tree",
                                  "sha": hashlib.sha1(f"tree:{folder}".encode()).hexdigest()}
        items = [item for path, item in sorted(listed.items()) if "recursive" in query or "/" not in path]
        sha = route["tree_sha"]
        return Response(200, {"sha": sha, "url": self._api_url(f"/git/trees/{sha}"), "tree": items,
                              "truncated": False})

    def _op_git__create_tree(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        entries = dict(self._git_object(body["base_tree"], "tree")["entries"]) if body.get("base_tree") else {}
        for item in body["tree"]:
            if item.get("type") != "blob" or item.get("mode") != "100644" or "sha" not in item:
                raise Reply(422, f"tree entry {item.get('path')!r}: only regular-file blobs by sha are supported")
            self._git_object(item["sha"], "blob")
            entries[item["path"]] = item["sha"]
        sha = self._put("tree", {"entries": entries})
        return Response(201, {"sha": sha, "url": self._api_url(f"/git/trees/{sha}"), "truncated": False})

    def _op_git__create_commit(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        self._git_object(body["tree"], "tree")
        for parent in body.get("parents") or []:
            self._git_object(parent, "commit")
        sha = self._put("commit", {"tree": body["tree"], "parents": list(body.get("parents") or []),
                                   "message": body["message"]})
        return Response(201, {"sha": sha, "tree": {"sha": body["tree"]}, "message": body["message"],
                              "url": self._api_url(f"/git/commits/{sha}")})

    def _op_git__create_ref(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        ref = body["ref"]
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise Reply(422, f"{ref} is not a valid ref name.")
        if ref in self.refs:
            raise Reply(422, "Reference already exists")
        self._git_object(body["sha"], "commit")
        self.refs[ref] = body["sha"]
        return Response(201, {"ref": ref, "object": {"sha": body["sha"], "type": "commit"},
                              "url": self._api_url(f"/git/{ref}")})

    def _op_git__get_ref(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        ref = f"refs/{unquote(route['ref'])}"
        if ref not in self.refs:
            raise Reply(404, "Not Found")
        sha = self.refs[ref]
        return Response(200, {"ref": ref, "url": self._api_url(f"/git/{ref}"),
                              "object": {"sha": sha, "type": "commit", "url": self._api_url(f"/git/commits/{sha}")}})

    def _op_git__delete_ref(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        ref = f"refs/{unquote(route['ref'])}"
        if self.refs.pop(ref, None) is None:
            raise Reply(422, "Reference does not exist")
        return Response(204)

    def _op_pulls__create(self, route, query, body, raw, headers) -> Response:
        self._check_repo(route)
        if not self.actions_may_open_pulls:
            raise Reply(403, "GitHub Actions is not permitted to create or approve pull requests.")
        head = body["head"].split(":", 1)[-1]
        if f"refs/heads/{head}" not in self.refs:
            raise Reply(422, f"Validation Failed: head {head} does not exist")
        if f"refs/heads/{body['base']}" not in self.refs:
            raise Reply(422, f"Validation Failed: base {body['base']} does not exist")
        if any(p["state"] == "open" and p["head"]["ref"] == head for p in self.pulls.values()):
            raise Reply(422, f"Validation Failed: A pull request already exists for {self.owner}:{head}.")
        pull = self.add_pull(head_sha=self.refs[f"refs/heads/{head}"], head_ref=head, title=body.get("title", ""))
        number = pull["number"]
        self.pulls[number].update(body=body.get("body"), user=dict(BOT))
        self.issues[number].update(body=body.get("body"), user=dict(BOT))
        return Response(201, copy.deepcopy(self.pulls[number]))

    def add_run(self, head_sha: str, head_branch: str = "feature", event: str = "pull_request",
                workflow: str = "pr.yml") -> dict[str, Any]:
        """A finished run (e.g. the PR pipeline a workflow_run job reacts to), listing the PRs of its head SHA."""
        with self.lock:
            wf = self.workflows.get(workflow) or self.add_workflow(workflow)
            run_id = next(self._ids)
            pulls = [{"number": p["number"], "head": {"sha": p["head"]["sha"], "ref": p["head"]["ref"]}}
                     for p in self.pulls.values() if p["head"]["sha"] == head_sha and p["state"] == "open"
                     and p["head"]["repo"]["full_name"] == self.repository]  # GitHub leaves fork PRs out
            run = {"id": run_id, "name": wf["name"], "path": wf["path"], "workflow_id": wf["id"], "event": event,
                   "head_branch": head_branch, "head_sha": head_sha, "status": "completed",
                   "conclusion": "success", "created_at": self._now(), "pull_requests": pulls,
                   "url": self._api_url(f"/actions/runs/{run_id}"), "html_url": self._html(f"/actions/runs/{run_id}")}
            self.runs.append(run)
            return copy.deepcopy(run)


def _check_length(body: str | None, limit: int = 65536) -> None:
    if body is not None and len(body) > limit:
        raise Reply(422, f"Validation Failed: body is too long (maximum is {limit} characters)")


def _not_seen_yet(response: Response) -> Response:
    if isinstance(response.body, list):
        return Response(200, [])
    return Response(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})


def _bad_gateway() -> Response:
    return Response(502, raw=b"<h1>502 Bad Gateway</h1>", headers={"Content-Type": "text/html"})


def _labels(issue: dict[str, Any]) -> set[str]:
    return {label["name"] for label in issue["labels"]}


def _server(standin: GitHubStandIn, api: bool) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if api and self.path.startswith("/uploads/") and length >= MAX_ASSET:
                # GitHub refuses it (only after the upload); answered unread, so a test never holds 2 GiB
                self.close_connection = True
                with standin.lock:
                    standin.requests.append(RequestRecord(self.command, urlsplit(self.path).path,
                                                          "repos/upload_release_asset", 422))
                self._answer(Response(422, {"message": "Validation Failed: size must be under 2 GiB"}))
                return
            raw = self.rfile.read(length) if length else b""
            if not api:
                response, fault = standin.storage_get(self.path, self.headers), None
            else:
                try:
                    response, fault = standin.handle(self.command, self.path, self.headers, raw)
                except Exception as exc:  # a stand-in bug: make it loud in the test, not a hung client
                    standin.violations.append(f"stand-in crashed on {self.command} {self.path}: {exc!r}")
                    response, fault = Response(500, {"message": "stand-in crashed"}), None
            if fault == "disconnect-after":
                self.close_connection = True
                return
            self._answer(response)

        def _answer(self, response: Response) -> None:
            payload = response.raw if response.raw is not None else (
                b"" if response.body is None else json.dumps(response.body).encode())
            self.send_response(response.status)
            if response.raw is None and response.body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server

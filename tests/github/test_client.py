"""The REST client: headers, retries that respect GitHub's rules, pagination, one-line errors, no token leaks."""

from __future__ import annotations

import socket
import time

import pytest

from ml.github.client import API_VERSION, GitHubClient
from ml.github.errors import GitHubError
from ml.github.settings import GitHubSettings, RetryPolicy
from tests.github.conftest import FAST, client_for
from tests.support.github_standin import GitHubStandIn


def _ops(gh: GitHubStandIn) -> list[tuple[str, str | None, int, str | None]]:
    return [(r.method, r.op, r.status, r.fault) for r in gh.requests]


def test_sends_githubs_headers_and_follows_every_page(gh: GitHubStandIn, client: GitHubClient) -> None:
    pr = gh.add_pull(comments=230)
    comments = list(client.paginate(client.repo_url(f"/issues/{pr['number']}/comments")))
    assert [c["id"] for c in comments] == [c["id"] for c in gh.comments_on(pr["number"])]
    assert len(gh.requests) == 3  # per_page=100
    assert API_VERSION == "2022-11-28"


def test_safe_calls_are_retried_through_5xx_and_rate_limits(gh: GitHubStandIn, client: GitHubClient) -> None:
    for kind in ("502-before", "429", "403-secondary", "403-reset", "disconnect-after"):
        gh.fail(kind, op="issues/list_for_repo")
    assert client.get_json(client.repo_url("/issues")) == []
    faults = [r.fault for r in gh.requests]
    assert faults == ["502-before", "429", "403-secondary", "403-reset", "disconnect-after", None]


def test_retry_after_is_honoured(gh: GitHubStandIn, client: GitHubClient) -> None:
    gh.retry_after = 1
    gh.fail("429")
    started = time.monotonic()
    client.get_json(client.repo_url("/pulls"))
    assert time.monotonic() - started >= 0.95
    assert [r.status for r in gh.requests] == [429, 200]


def test_x_ratelimit_reset_is_honoured_without_retry_after(gh: GitHubStandIn, client: GitHubClient) -> None:
    gh.reset_in = 2  # x-ratelimit-reset is whole epoch seconds: waits between 1 and 2 s
    gh.fail("403-reset")
    started = time.monotonic()
    client.get_json(client.repo_url("/pulls"))
    assert time.monotonic() - started >= 0.9
    assert [r.status for r in gh.requests] == [403, 200]


def test_tries_are_capped(gh: GitHubStandIn) -> None:
    gh.fail("502-before", times=None)
    with client_for(gh, RetryPolicy(max_tries=3, backoff_factor=0.01, settle_seconds=0)) as client, \
            pytest.raises(GitHubError, match=r"502.*after 3 tries"):
        client.get_json(client.repo_url("/pulls"))
    assert len(gh.requests) == 3


def test_a_wait_beyond_the_time_budget_gives_up_at_once(gh: GitHubStandIn) -> None:
    gh.retry_after = 3600
    gh.fail("429", times=None)
    started = time.monotonic()
    with client_for(gh, RetryPolicy(max_tries=5, time_budget=10)) as client, \
            pytest.raises(GitHubError, match="rate limit.*3600 s"):
        client.get_json(client.repo_url("/pulls"))
    assert time.monotonic() - started < 5
    assert len(gh.requests) == 1


def test_a_post_is_never_blindly_resent(gh: GitHubStandIn, client: GitHubClient) -> None:
    """502 after the write was applied, or the answer lost: look again, find it, send nothing twice."""
    pr = gh.add_pull()
    url = client.repo_url(f"/issues/{pr['number']}/comments")

    def find() -> dict | None:
        return next((c for c in client.paginate(url) if c["body"] == "once"), None)

    for kind in ("502-after", "disconnect-after"):
        gh.fail(kind, op="issues/create_comment")
        client.write_once("POST", url, json={"body": "once"}, find=find, what="test")
        assert [c["body"] for c in gh.comments_on(pr["number"])] == ["once"]
        gh.comments[pr["number"]].clear()
    # A 502 before applying: looked again, not found, sent again.
    gh.fail("502-before", op="issues/create_comment")
    client.write_once("POST", url, json={"body": "once"}, find=find, what="test")
    assert [c["body"] for c in gh.comments_on(pr["number"])] == ["once"]
    assert [r.op for r in gh.requests if r.method == "POST"] == ["issues/create_comment"] * 4


def test_rate_limited_posts_are_retried_because_github_did_not_apply_them(gh: GitHubStandIn,
                                                                          client: GitHubClient) -> None:
    gh.fail("403-secondary", op="issues/create")
    gh.fail("429", op="issues/create")
    issue = client.write_once("POST", client.repo_url("/issues"), json={"title": "t"}, find=lambda: None,
                              what="test")
    assert issue["number"] and len(gh.issue_list()) == 1


@pytest.mark.parametrize("kind, status", [("403-secondary-headerless", 403), ("429-headerless", 429)])
def test_a_rate_limit_naming_no_wait_is_retried_after_the_configured_wait_doubled(gh: GitHubStandIn, kind: str,
                                                                                status: int) -> None:
    gh.fail(kind, times=2)
    policy = RetryPolicy(backoff_factor=0.01, settle_seconds=0, rate_limit_wait=0.3)
    started = time.monotonic()
    with client_for(gh, policy) as client:
        assert client.get_json(client.repo_url("/issues")) == []
    assert time.monotonic() - started >= 0.3 + 0.6 - 0.05
    assert [r.status for r in gh.requests] == [status, status, 200]


@pytest.mark.parametrize("kind, answer", [
    ("403-secondary-headerless", "403 You have exceeded a secondary rate limit"),
    ("429-headerless", "429 Too many requests"),
])
def test_a_rate_limit_outlasting_the_budget_is_one_line_saying_so(gh: GitHubStandIn, kind: str, answer: str) -> None:
    gh.fail(kind, times=None)
    policy = RetryPolicy(backoff_factor=0.01, settle_seconds=0, rate_limit_wait=0.2, time_budget=1.0)
    started = time.monotonic()
    with client_for(gh, policy) as client, pytest.raises(GitHubError) as caught:
        client.get_json(client.repo_url("/issues"))
    assert time.monotonic() - started < 1.0  # waited 0.2 + 0.4; the next 0.8 would overrun the budget
    message = str(caught.value)
    assert message.startswith(f"GET /repos/{gh.repository}/issues: GitHub rate limit ({answer}")
    assert message.endswith(") after 3 tries; run the step again later") and "permissions" not in message
    assert caught.value.status == int(answer[:3]) and len(gh.requests) == 3


def test_a_post_hitting_a_rate_limit_naming_no_wait_is_sent_again(gh: GitHubStandIn, client: GitHubClient) -> None:
    gh.fail("403-secondary-headerless", op="issues/create")
    gh.fail("429-headerless", op="issues/create")
    client.request("POST", client.repo_url("/issues"), json={"title": "t"})
    assert [r.status for r in gh.requests] == [403, 429, 201] and len(gh.issue_list()) == 1


def test_missing_permission_names_the_permissions_key(gh: GitHubStandIn, client: GitHubClient) -> None:
    gh.permissions = {"contents": "write"}
    with pytest.raises(GitHubError) as caught:
        client.request("POST", client.repo_url("/issues"), json={"title": "t"})
    message = str(caught.value)
    assert "Resource not accessible by integration" in message and "`issues: write`" in message
    assert "rate limit" not in message
    assert caught.value.status == 403
    assert len(gh.requests) == 1  # a permission 403 is not retried


def test_user_endpoint_is_forbidden_for_the_bot_token(gh: GitHubStandIn, client: GitHubClient) -> None:
    with pytest.raises(GitHubError, match="403"):
        client.get_json("/user")


def test_errors_are_one_line_and_never_contain_the_token(gh: GitHubStandIn) -> None:
    with client_for(gh, token="ghs_wrongwrongwrong") as bad, pytest.raises(GitHubError) as caught:
        bad.get_json(bad.repo_url("/pulls"))
    assert "401" in str(caught.value) and "GITHUB_TOKEN" in str(caught.value)
    assert "ghs_wrong" not in str(caught.value) and "\n" not in str(caught.value)
    with client_for(gh) as client, pytest.raises(GitHubError, match="404.*GITHUB_REPOSITORY") as caught:
        client.get_json(client.repo_url("/issues/999"))
    assert gh.token not in str(caught.value) and gh.token not in repr(client)


def test_unreachable_api_is_one_line(gh: GitHubStandIn) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = GitHubSettings(f"http://127.0.0.1:{port}", "o/r", "ghs_secret_token", FAST)
    with GitHubClient(settings) as client, pytest.raises(GitHubError, match="no answer from 127.0.0.1") as caught:
        client.get_json(client.repo_url("/pulls"))
    assert "ghs_secret_token" not in str(caught.value)


@pytest.mark.parametrize("env, needle", [
    ({"GITHUB_REPOSITORY": "o/r"}, "GITHUB_TOKEN is not set"),
    ({"GITHUB_TOKEN": "t"}, "GITHUB_REPOSITORY is not set"),
    ({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "not-a-repo"}, "owner/name"),
    ({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r", "GITHUB_API_URL": "ftp://x"}, "http(s) URL"),
    ({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r", "MLOPS_GITHUB_MAX_TRIES": "zero"}, "must be a number"),
])
def test_settings_from_env_name_the_problem(env: dict[str, str], needle: str) -> None:
    with pytest.raises(GitHubError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        GitHubSettings.from_env(env)


def test_settings_default_to_github_com() -> None:
    settings = GitHubSettings.from_env({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "octo/repo"})
    assert settings.api_url == "https://api.github.com" and (settings.owner, settings.repo) == ("octo", "repo")
    assert settings.retry.rate_limit_wait == 60  # GitHub: wait at least a minute when it names no wait
    tuned = GitHubSettings.from_env({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r",
                                     "MLOPS_GITHUB_RATE_LIMIT_WAIT": "0.5"})
    assert tuned.retry.rate_limit_wait == 0.5
    secret = GitHubSettings.from_env({"GITHUB_TOKEN": "ghs_abcdef", "GITHUB_REPOSITORY": "octo/repo"})
    assert "ghs_abcdef" not in repr(secret)

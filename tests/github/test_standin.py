"""The stand-in itself behaves like GitHub where the template depends on it, and polices requests by gh_spec."""

from __future__ import annotations

import requests

from ml.github.client import API_VERSION
from tests.support.github_standin import GitHubStandIn


def _headers(gh: GitHubStandIn, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {gh.token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION, "User-Agent": "test", **extra}


def _api(gh: GitHubStandIn, suffix: str) -> str:
    return f"{gh.url}/repos/{gh.repository}{suffix}"


def test_requests_outside_the_published_api_are_refused_and_recorded(gh: GitHubStandIn) -> None:
    pr = gh.add_pull()
    cases = [
        ("POST", _api(gh, f"/issues/{pr['number']}/comments"), {"text": "wrong field"}, 422),  # required body
        ("GET", _api(gh, f"/issues/{pr['number']}/comments"), None, 422),  # unknown query param (below)
        ("GET", _api(gh, "/no-such-endpoint/5"), None, 404),
        ("PUT", _api(gh, f"/issues/{pr['number']}/comments"), {"body": "x"}, 405),
        ("POST", _api(gh, "/issues"), {"title": "t", "labels": "drift"}, 422),  # labels must be a list
    ]
    for method, url, body, status in cases:
        params = {"colour": "red"} if method == "GET" and status == 422 else None
        answer = requests.request(method, url, json=body, params=params, headers=_headers(gh), timeout=5)
        assert answer.status_code == status, (method, url, answer.text)
    assert len(gh.violations) == len(cases)
    assert gh.comments_on(pr["number"]) == [] and gh.issue_list() == []
    gh.violations.clear()


def test_pagination_honours_per_page_and_page_with_link_headers(gh: GitHubStandIn) -> None:
    pr = gh.add_pull(comments=7)
    url = _api(gh, f"/issues/{pr['number']}/comments")
    seen, pages = [], 0
    next_url, params = url, {"per_page": 3}
    while next_url:
        answer = requests.get(next_url, params=params, headers=_headers(gh), timeout=5)
        assert answer.status_code == 200
        seen += [c["id"] for c in answer.json()]
        pages += 1
        assert len(answer.json()) <= 3
        next_url, params = answer.links.get("next", {}).get("url"), None
    assert pages == 3
    assert seen == [c["id"] for c in gh.comments_on(pr["number"])]
    page2 = requests.get(url, params={"per_page": 3, "page": 2}, headers=_headers(gh), timeout=5)
    assert {"next", "prev", "first", "last"} <= set(page2.links)


def test_pull_requests_are_listed_among_issues(gh: GitHubStandIn) -> None:
    gh.add_issue("real issue", labels=("drift",))
    gh.add_pull()
    listed = requests.get(_api(gh, "/issues"), headers=_headers(gh), timeout=5).json()
    assert len(listed) == 2
    assert sum("pull_request" in i for i in listed) == 1


def test_bot_token_cannot_read_user_and_wrong_token_is_401(gh: GitHubStandIn) -> None:
    assert requests.get(f"{gh.url}/user", headers=_headers(gh), timeout=5).status_code == 403
    wrong = _headers(gh, Authorization="Bearer nope")
    assert requests.get(_api(gh, "/issues"), headers=wrong, timeout=5).status_code == 401


def test_missing_permission_answers_like_github(gh: GitHubStandIn) -> None:
    gh.permissions = {"contents": "read"}
    answer = requests.post(_api(gh, "/issues"), json={"title": "t"}, headers=_headers(gh), timeout=5)
    assert answer.status_code == 403
    assert answer.json()["message"] == "Resource not accessible by integration"
    assert answer.headers["x-accepted-github-permissions"] == "issues=write"


def test_502_after_applies_the_write_and_502_before_does_not(gh: GitHubStandIn) -> None:
    pr = gh.add_pull()
    url = _api(gh, f"/issues/{pr['number']}/comments")
    gh.fail("502-before", op="issues/create_comment")
    assert requests.post(url, json={"body": "a"}, headers=_headers(gh), timeout=5).status_code == 502
    assert gh.comments_on(pr["number"]) == []
    gh.fail("502-after", method="POST")
    assert requests.post(url, json={"body": "b"}, headers=_headers(gh), timeout=5).status_code == 502
    assert [c["body"] for c in gh.comments_on(pr["number"])] == ["b"]


def test_rate_limit_faults_carry_githubs_headers(gh: GitHubStandIn) -> None:
    gh.retry_after = 7
    for kind, status in (("429", 429), ("403-secondary", 403), ("403-reset", 403), ("429-headerless", 429),
                         ("403-secondary-headerless", 403)):
        gh.fail(kind)
        answer = requests.get(_api(gh, "/issues"), headers=_headers(gh), timeout=5)
        assert answer.status_code == status
        if kind == "403-reset":
            assert answer.headers["x-ratelimit-remaining"] == "0" and "retry-after" not in answer.headers
        elif kind.endswith("-headerless"):
            assert answer.headers["x-ratelimit-remaining"] != "0" and "retry-after" not in answer.headers
        else:
            assert answer.headers["retry-after"] == "7"
        if kind.startswith("403-secondary"):
            assert "secondary rate limit" in answer.json()["message"]


def test_a_new_issue_keeps_only_labels_the_repository_has(gh: GitHubStandIn) -> None:
    gh.add_label("bug")
    issue = requests.post(_api(gh, "/issues"), json={"title": "t", "labels": ["Bug", "drift"]}, headers=_headers(gh),
                          timeout=5).json()
    assert [label["name"] for label in issue["labels"]] == ["bug"]
    assert requests.get(_api(gh, "/labels/drift"), headers=_headers(gh), timeout=5).status_code == 404
    made = requests.post(_api(gh, "/labels"), json={"name": "data drift", "color": "d93f0b"}, headers=_headers(gh),
                         timeout=5)
    assert made.status_code == 201
    again = requests.post(_api(gh, "/labels"), json={"name": "Data Drift"}, headers=_headers(gh), timeout=5)
    assert again.status_code == 422 and "already_exists" in again.json()["message"]
    found = requests.get(_api(gh, "/labels/data%20drift"), headers=_headers(gh), timeout=5)
    assert found.status_code == 200 and found.json()["color"] == "d93f0b"


def test_random_faults_are_reproducible_from_the_seed(gh: GitHubStandIn) -> None:
    def statuses() -> list[int]:
        gh.random_faults(0.5, seed=3)
        return [requests.get(_api(gh, "/pulls"), headers=_headers(gh), timeout=5).status_code for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert {200} < set(first)


def test_release_upload_url_and_download_redirect_to_another_port(gh: GitHubStandIn) -> None:
    release = requests.post(_api(gh, "/releases"), json={"tag_name": "model-v1", "draft": True},
                            headers=_headers(gh), timeout=5).json()
    assert release["upload_url"].endswith("{?name,label}") and "/uploads/" in release["upload_url"]
    upload = release["upload_url"].split("{")[0]
    asset = requests.post(upload, params={"name": "model.joblib"}, data=b"bytes!",
                          headers=_headers(gh, **{"Content-Type": "application/octet-stream"}), timeout=5).json()
    assert asset["size"] == 6 and asset["state"] == "uploaded"
    # A draft is invisible by tag, visible in the list.
    assert requests.get(_api(gh, "/releases/tags/model-v1"), headers=_headers(gh), timeout=5).status_code == 404
    answer = requests.get(asset["url"], headers=_headers(gh, Accept="application/octet-stream"),
                          allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(gh.storage_url) and gh.storage_url != gh.url
    assert requests.get(location, timeout=5).content == b"bytes!"
    assert requests.get(location.split("?")[0] + "?sig=forged", timeout=5).status_code == 403


def test_workflow_runs_list_the_same_repository_prs_of_their_head_sha(gh: GitHubStandIn) -> None:
    own = gh.add_pull(head_ref="topic")
    fork = gh.add_pull(head_sha=own["head"]["sha"], head_ref="topic", head_owner="someone")
    run = gh.add_run(own["head"]["sha"], "topic")
    fetched = requests.get(_api(gh, f"/actions/runs/{run['id']}"), headers=_headers(gh), timeout=5).json()
    assert [p["number"] for p in fetched["pull_requests"]] == [own["number"]]  # fork PRs are left out
    by_commit = requests.get(_api(gh, f"/commits/{own['head']['sha']}/pulls"), headers=_headers(gh), timeout=5)
    assert [p["number"] for p in by_commit.json()] == [own["number"]]
    by_head = requests.get(_api(gh, "/pulls"), params={"state": "open", "head": "someone:topic"},
                           headers=_headers(gh), timeout=5)
    assert [p["number"] for p in by_head.json()] == [fork["number"]]

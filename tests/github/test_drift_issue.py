"""The drift issue: never two open, every report recorded once, pull requests never mistaken for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.github.client import GitHubClient
from ml.github.issues import IssuesDisabledError, report_to_issue
from ml.github.markers import DRIFT_MARKER
from tests.conftest import assert_ok
from tests.github.conftest import run_gh
from tests.support.github_standin import BOT, GitHubStandIn


def _report(gh: GitHubStandIn, client: GitHubClient, text: str) -> object:
    return report_to_issue(client, text, title="Data drift detected", label="drift", marker=DRIFT_MARKER)


def test_three_runs_under_30_percent_faults_leave_one_issue_with_two_follow_ups(
        gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.add_issue("unrelated bug", labels=("bug",))
    pr = gh.add_pull()  # a PR with the label and marker in its body is listed among issues: must be skipped
    gh.issues[pr["number"]].update(body=DRIFT_MARKER, labels=[{"name": "drift"}])
    gh.random_faults(0.3, seed=5)
    for run in range(1, 4):
        report = tmp_path / "drift.md"
        report.write_text(f"# Drift report {run}\n", encoding="utf-8")
        assert_ok(run_gh(gh, "open_drift_issue.py", "--report-file", str(report), cwd=tmp_path))
    drift = gh.issue_list(state="open", label="drift")
    assert len(drift) == 1
    issue = drift[0]
    assert DRIFT_MARKER in issue["body"] and "Drift report 1" in issue["body"]
    follow_ups = gh.comments_on(issue["number"])
    assert ["Drift report 2" in follow_ups[0]["body"], "Drift report 3" in follow_ups[1]["body"]] == [True, True]
    assert len(follow_ups) == 2
    assert gh.comments_on(pr["number"]) == []
    assert any(r.fault for r in gh.requests)


def test_a_lost_answer_on_the_follow_up_is_not_posted_twice(gh: GitHubStandIn, client: GitHubClient) -> None:
    _report(gh, client, "first")
    for kind in ("disconnect-after", "502-after"):
        gh.fail(kind, op="issues/create_comment")
        _report(gh, client, f"report after {kind}")
    issue = gh.issue_list(state="open")[0]
    bodies = [c["body"] for c in gh.comments_on(issue["number"])]
    assert len(bodies) == 2
    assert "report after disconnect-after" in bodies[0] and "report after 502-after" in bodies[1]
    assert [r.fault for r in gh.requests if r.op == "issues/create_comment"] == ["disconnect-after", "502-after"]


def test_a_create_that_502s_after_applying_opens_one_issue(gh: GitHubStandIn, client: GitHubClient) -> None:
    gh.fail("502-after", op="issues/create")
    result = _report(gh, client, "first")
    assert result.action == "created"
    assert len(gh.issue_list(state="open", label="drift")) == 1
    assert gh.comments_on(result.number) == []


def test_concurrent_duplicates_are_closed_in_favour_of_the_oldest(gh: GitHubStandIn, client: GitHubClient) -> None:
    first = gh.add_issue("Data drift detected", f"{DRIFT_MARKER}\nA", ("drift",), user=BOT)
    second = gh.add_issue("Data drift detected", f"{DRIFT_MARKER}\nB", ("drift",), user=BOT)
    result = _report(gh, client, "C")
    assert result.number == first["number"] and result.closed_duplicates == 1
    assert [i["number"] for i in gh.issue_list(state="open")] == [first["number"]]
    closed = gh.issues[second["number"]]
    assert closed["state"] == "closed" and f"#{first['number']}" in gh.comments_on(second["number"])[0]["body"]


def test_a_closed_drift_issue_is_not_reused(gh: GitHubStandIn, client: GitHubClient) -> None:
    gh.add_issue("Data drift detected", DRIFT_MARKER, ("drift",), state="closed", user=BOT)
    result = _report(gh, client, "again")
    assert result.action == "created" and len(gh.issue_list(state="open", label="drift")) == 1


def test_an_issue_someone_else_opened_with_the_label_and_marker_is_not_ours(gh: GitHubStandIn,
                                                                            client: GitHubClient) -> None:
    fake = gh.add_issue("Data drift detected", f"{DRIFT_MARKER}\nnot a report", ("drift",))
    result = _report(gh, client, "real")
    assert result.action == "created" and result.number != fake["number"]
    assert gh.issues[fake["number"]] == fake and gh.comments_on(fake["number"]) == []
    assert gh.issues[result.number]["user"] == BOT


def test_a_fresh_repository_gets_the_label_once_and_the_issue_is_found_again(gh: GitHubStandIn,
                                                                            client: GitHubClient) -> None:
    first = _report(gh, client, "first")
    second = _report(gh, client, "second")
    assert (first.action, second.action, second.number) == ("created", "commented", first.number)
    assert len(gh.issue_list()) == 1 and gh.issue_list(label="drift")[0]["number"] == first.number
    assert [r.op for r in gh.requests].count("issues/create_label") == 1
    assert gh.labels["drift"]["description"]


def test_an_existing_label_is_not_created_again(gh: GitHubStandIn, client: GitHubClient) -> None:
    gh.add_label("drift")
    _report(gh, client, "first")
    assert [r.op for r in gh.requests if "label" in (r.op or "")] == ["issues/get_label"]
    assert len(gh.issue_list(label="drift")) == 1


def test_a_label_a_concurrent_run_creates_meanwhile_is_fine(gh: GitHubStandIn, client: GitHubClient,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    look = gh._op_issues__get_label

    def look_then_lose_the_race(*args: object) -> object:
        try:
            return look(*args)
        finally:
            if "drift" not in gh.labels:
                gh.add_label("drift")  # the other run creates it right after our look

    monkeypatch.setattr(gh, "_op_issues__get_label", look_then_lose_the_race)
    assert _report(gh, client, "first").action == "created"
    assert [(r.op, r.status) for r in gh.requests if r.op == "issues/create_label"] == [("issues/create_label", 422)]
    assert len(gh.issue_list(label="drift")) == 1


def test_missing_issues_permission_is_one_line_naming_the_key(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.permissions = {"contents": "read"}
    report = tmp_path / "drift.md"
    report.write_text("drift", encoding="utf-8")
    run = run_gh(gh, "open_drift_issue.py", "--report-file", str(report), cwd=tmp_path)
    assert run.returncode == 1 and run.stderr.count("\n") == 1
    assert "Resource not accessible by integration" in run.stderr and "issues: " in run.stderr


def test_issues_turned_off_is_a_notice_and_opens_nothing(gh: GitHubStandIn, client: GitHubClient,
                                                          tmp_path: Path) -> None:
    gh.has_issues = False  # a fork's default: creating an issue answers 410 Gone
    with pytest.raises(IssuesDisabledError, match="Settings → General → Features → Issues"):
        _report(gh, client, "first")
    report = tmp_path / "drift.md"
    report.write_text("# Drift report\n", encoding="utf-8")
    run = assert_ok(run_gh(gh, "open_drift_issue.py", "--report-file", str(report), cwd=tmp_path))
    assert run.stdout.startswith("::notice title=No drift issue::") and gh.repository in run.stdout
    assert gh.issue_list() == []
    assert [r.status for r in gh.requests if r.op == "issues/create"] == [410, 410]  # tried once per run, no retry

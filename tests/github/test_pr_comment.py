"""The sticky PR comment: one comment per PR and marker, whatever GitHub does, found on any page."""

from __future__ import annotations

from pathlib import Path

from ml.github.client import GitHubClient
from ml.github.comments import upsert_sticky_comment
from ml.github.markers import PR_REPORT_MARKER
from tests.conftest import assert_ok, assert_one_line_error
from tests.github.conftest import run_gh
from tests.support.github_standin import BOT, GitHubStandIn


def _ours(gh: GitHubStandIn, number: int) -> list[dict]:
    return [c for c in gh.comments_on(number) if PR_REPORT_MARKER in c["body"]]


def test_three_reruns_under_30_percent_faults_leave_one_comment_with_the_latest_body(
        gh: GitHubStandIn, tmp_path: Path) -> None:
    pr = gh.add_pull(comments=250)
    gh.random_faults(0.3, seed=11)
    for run in range(1, 4):
        body = tmp_path / "pr_comment.md"
        body.write_text(f"## Model report, run {run}\n", encoding="utf-8")  # the marker is added by the script
        assert_ok(run_gh(gh, "post_pr_comment.py", "--pr", str(pr["number"]), "--body-file", str(body),
                         cwd=tmp_path))
    comments = gh.comments_on(pr["number"])
    ours = _ours(gh, pr["number"])
    assert len(comments) == 251 and len(ours) == 1
    assert ours[0]["body"].startswith(PR_REPORT_MARKER) and "run 3" in ours[0]["body"]
    assert comments.index(ours[0]) // 100 + 1 == 3  # it lives on page 3 of per_page=100
    assert any(r.fault for r in gh.requests), "the faults were meant to hit some calls"


def test_a_create_that_502s_after_applying_is_not_repeated(gh: GitHubStandIn, client: GitHubClient) -> None:
    pr = gh.add_pull(comments=3)
    gh.fail("502-after", op="issues/create_comment")
    result = upsert_sticky_comment(client, pr["number"], "report", PR_REPORT_MARKER)
    assert result.action == "created" and len(_ours(gh, pr["number"])) == 1


def test_a_race_that_left_two_comments_keeps_the_oldest(gh: GitHubStandIn, client: GitHubClient) -> None:
    pr = gh.add_pull(comments=2)
    first = gh.add_comment(pr["number"], f"{PR_REPORT_MARKER}\nold", BOT)
    gh.add_comment(pr["number"], "a reviewer's note")
    gh.add_comment(pr["number"], f"{PR_REPORT_MARKER}\nother run", BOT)
    result = upsert_sticky_comment(client, pr["number"], "new", PR_REPORT_MARKER)
    ours = _ours(gh, pr["number"])
    assert result.removed_duplicates == 1 and [c["id"] for c in ours] == [first["id"]]
    assert ours[0]["body"] == f"{PR_REPORT_MARKER}\nnew"
    assert len(gh.comments_on(pr["number"])) == 4  # nobody else's comment was touched


def test_someone_elses_comment_carrying_the_marker_is_never_taken_for_ours(gh: GitHubStandIn,
                                                                          client: GitHubClient) -> None:
    """A fork author pasting the marker must not get the report into an editable comment, nor ours deleted."""
    pr = gh.add_pull()
    pasted = gh.add_comment(pr["number"], f"{PR_REPORT_MARKER}\nlooks like a report")
    quoted = gh.add_comment(pr["number"], f"the bot hides {PR_REPORT_MARKER} in its comment")
    ours = gh.add_comment(pr["number"], f"{PR_REPORT_MARKER}\nold", BOT)
    result = upsert_sticky_comment(client, pr["number"], "new", PR_REPORT_MARKER)
    assert (result.action, result.comment_id, result.removed_duplicates) == ("updated", ours["id"], 0)
    pasted_now, quoted_now, ours_now = gh.comments_on(pr["number"])
    assert (pasted_now, quoted_now) == (pasted, quoted)
    assert ours_now["id"] == ours["id"] and ours_now["body"] == f"{PR_REPORT_MARKER}\nnew"


def test_with_only_someone_elses_marked_comment_ours_is_created(gh: GitHubStandIn, client: GitHubClient) -> None:
    pr = gh.add_pull()
    pasted = gh.add_comment(pr["number"], f"{PR_REPORT_MARKER}\nlooks like a report")
    result = upsert_sticky_comment(client, pr["number"], "report", PR_REPORT_MARKER)
    assert result.action == "created" and result.comment_id != pasted["id"]
    first, created = gh.comments_on(pr["number"])
    assert first == pasted and created["user"] == BOT and created["body"] == f"{PR_REPORT_MARKER}\nreport"


def test_a_body_quoting_the_marker_mid_text_still_starts_with_it(gh: GitHubStandIn, client: GitHubClient) -> None:
    pr = gh.add_pull()
    for _ in range(2):
        upsert_sticky_comment(client, pr["number"], f"we hide {PR_REPORT_MARKER} in the comment", PR_REPORT_MARKER)
    (comment,) = gh.comments_on(pr["number"])
    assert comment["body"].startswith(f"{PR_REPORT_MARKER}\nwe hide")


def test_a_rerun_with_the_same_body_changes_nothing(gh: GitHubStandIn, client: GitHubClient) -> None:
    pr = gh.add_pull()
    upsert_sticky_comment(client, pr["number"], "same", PR_REPORT_MARKER)
    writes = sum(r.method != "GET" for r in gh.requests)
    assert upsert_sticky_comment(client, pr["number"], "same", PR_REPORT_MARKER).action == "unchanged"
    assert sum(r.method != "GET" for r in gh.requests) == writes


def test_a_custom_marker_keeps_separate_sticky_comments(gh: GitHubStandIn, client: GitHubClient) -> None:
    pr = gh.add_pull()
    upsert_sticky_comment(client, pr["number"], "a", PR_REPORT_MARKER)
    upsert_sticky_comment(client, pr["number"], "b", "<!-- other-report -->")
    upsert_sticky_comment(client, pr["number"], "c", "<!-- other-report -->")
    assert sorted(c["body"].splitlines()[1] for c in gh.comments_on(pr["number"])) == ["a", "c"]


def test_head_sha_finds_the_pr_and_checks_a_claimed_number(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.add_pull(comments=1)
    pr = gh.add_pull(head_ref="topic")
    body = tmp_path / "body.md"
    body.write_text("report", encoding="utf-8")
    sha = pr["head"]["sha"]
    assert_ok(run_gh(gh, "post_pr_comment.py", "--head-sha", sha, "--body-file", str(body), cwd=tmp_path))
    assert len(_ours(gh, pr["number"])) == 1
    forged = run_gh(gh, "post_pr_comment.py", "--head-sha", sha, "--pr", "1", "--body-file", str(body),
                    cwd=tmp_path)
    assert_one_line_error(forged, "PR #1", sha[:12], f"#{pr['number']}")
    assert _ours(gh, 1) == []
    assert_ok(run_gh(gh, "post_pr_comment.py", "--head-sha", sha, "--pr", str(pr["number"]), "--body-file",
                     str(body), cwd=tmp_path))
    assert len(_ours(gh, pr["number"])) == 1
    ops = {r.op for r in gh.requests}
    assert "repos/list_pull_requests_associated_with_commit" in ops


def test_fork_pr_is_found_through_the_open_pull_list(gh: GitHubStandIn, tmp_path: Path) -> None:
    pr = gh.add_pull(head_ref="patch-1", head_owner="a-contributor")
    body = tmp_path / "body.md"
    body.write_text("report", encoding="utf-8")
    assert_ok(run_gh(gh, "post_pr_comment.py", "--head-sha", pr["head"]["sha"], "--head-label",
                     "a-contributor:patch-1", "--body-file", str(body), cwd=tmp_path))
    assert len(_ours(gh, pr["number"])) == 1
    assert "pulls/list" in {r.op for r in gh.requests}


def test_an_outdated_sha_is_not_posted(gh: GitHubStandIn, tmp_path: Path) -> None:
    pr = gh.add_pull()
    old = pr["head"]["sha"]
    gh.push_to_pull(pr["number"], "b" * 40)
    body = tmp_path / "body.md"
    body.write_text("report", encoding="utf-8")
    run = run_gh(gh, "post_pr_comment.py", "--head-sha", old, "--body-file", str(body), cwd=tmp_path)
    assert_one_line_error(run, "outdated", f"#{pr['number']}")
    assert gh.comments_on(pr["number"]) == []
    unknown = run_gh(gh, "post_pr_comment.py", "--head-sha", "c" * 40, "--body-file", str(body), cwd=tmp_path)
    assert_one_line_error(unknown, "no open pull request", "c" * 12)

"""Promotion: the first model, a champion that cannot be compared, --force, atomic publishing, rollback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ml.bundle import ARTIFACT, read_metadata, verify_artifact, write_metadata
from ml.errors import IntegrityError, RegistryError
from ml.promote import promote
from ml.registry.local import LocalRegistry
from ml.report import write_pr_reports
from ml.steps import evaluate_step, validate_step
from tests.conftest import Workspace, assert_ok, assert_one_line_error, run_scripts
from tests.core.conftest import drop_feature, params_of, promote_in_process, relabel_target, train_in_process


def registry_state(ws: Workspace) -> tuple[list[int], int | None, list[str]]:
    """(versions, champion version, stray entries such as staging directories) of the workspace registry."""
    registry = LocalRegistry(ws.registry)
    champion = registry.champion()
    stray = [p.name for p in ws.registry.iterdir()
             if p.name not in ("champion.json", ".lock") and not p.name[1:].isdigit()] \
        if ws.registry.exists() else []
    return [v.version for v in registry.versions()], champion.version if champion else None, stray


def test_first_model_is_promoted_and_the_report_says_there_was_no_champion(with_model: Workspace) -> None:
    ws = with_model
    compare = assert_ok(ws.run("compare.py"))
    assert "no champion yet" in compare.stdout
    comparison = json.loads((ws.reports / "comparison.json").read_text())
    assert comparison["decision"] == "promote" and comparison["champion"] is None
    assert all(m["champion"] is None and m["delta"] is None for m in comparison["metrics"].values())

    promote_run = assert_ok(ws.run("promote.py", "--pr", "17"))

    assert "v1" in promote_run.stdout
    assert registry_state(ws) == ([1], 1, [])
    metadata = verify_artifact(ws.registry / "v1")
    challenger = read_metadata(ws.model)
    assert metadata["artifact_sha256"] == challenger["artifact_sha256"]
    assert metadata["version"] == 1 and metadata["gate_decision"] == "promote" and metadata["forced"] is False
    assert metadata["pull_request"] == 17
    assert metadata["metrics"] == {name: m["challenger"] for name, m in comparison["metrics"].items()}
    assert challenger.get("version") is None, "promotion must not rewrite the challenger's own metadata"
    card = (ws.registry / "v1" / "model_card.md").read_text()
    assert "v1" in card and "from PR #17" in card and "forced" not in card
    assert f"{metadata['metrics']['roc_auc']:.4f}" in card


def test_an_undefined_metric_is_promoted_as_null_and_carded_as_a_dash(with_model: Workspace) -> None:
    """NaN metrics reach comparison.json as null (strict JSON); promotion and the model card take them as they are."""
    ws = with_model
    assert_ok(ws.run("compare.py"))
    path = ws.reports / "comparison.json"
    comparison = json.loads(path.read_text())
    comparison["metrics"]["roc_auc"]["challenger"] = None  # e.g. one-vs-rest AUC with a class absent
    path.write_text(json.dumps(comparison))
    assert_ok(ws.run("promote.py"))
    assert read_metadata(ws.registry / "v1")["metrics"]["roc_auc"] is None
    assert "| roc_auc | – |" in (ws.registry / "v1" / "model_card.md").read_text()


def test_champion_that_cannot_score_the_new_schema_is_left_to_a_human(with_champion: Workspace) -> None:
    ws = with_champion
    drop_feature(ws, "avg_daily_usage_gb")
    train_in_process(ws)
    params = params_of(ws)
    validate_step(params, ws.reports)
    evaluate_step(params, ws.model, ws.reports / "metrics.json")

    compare = assert_ok(ws.run("compare.py"))

    comparison = json.loads((ws.reports / "comparison.json").read_text())
    assert comparison["decision"] == "reject" and comparison["needs_human_review"] is True
    assert "avg_daily_usage_gb" in comparison["reasons"][0] and "--force" in comparison["reasons"][0]
    assert "cannot compare" in compare.stdout
    comment, _ = write_pr_reports(ws.reports)
    assert "Needs a human" in comment.read_text()
    assert "feature set changed" in comment.read_text()

    gate, refused = run_scripts([("check_gate.py", [], ws.root), ("promote.py", [], ws.root)])
    assert_one_line_error(gate, "reject")
    assert_one_line_error(refused, "refusing to promote", "--force")
    assert registry_state(ws) == ([1], 1, [])

    forced = assert_ok(ws.run("promote.py", "--force"))
    assert "v2" in forced.stdout
    assert registry_state(ws) == ([1, 2], 2, [])
    metadata = read_metadata(ws.registry / "v2")
    assert metadata["forced"] is True and metadata["gate_decision"] == "reject"
    assert "forced past the gate" in (ws.registry / "v2" / "model_card.md").read_text()


def test_champion_trained_on_other_class_labels_is_left_to_a_human(with_champion: Workspace) -> None:
    """v1 learned 0/1; the data now says no/yes. Scored anyway, v1 has accuracy 0 and loses to anything."""
    ws = with_champion
    relabel_target(ws)
    train_in_process(ws)

    comparison = _same_model_again(ws)

    assert comparison["decision"] == "reject" and comparison["needs_human_review"] is True
    assert comparison["reasons"] == [
        "cannot compare: the class labels changed since the champion was trained (only the champion has 0, 1; "
        "only the data has 'no', 'yes'). A human must decide (promote with --force)."]
    assert "mcnemar" not in comparison and comparison["metrics"]["accuracy"]["champion"] is None


def test_a_comparison_is_promoted_once_and_only_against_the_current_champion(with_model: Workspace) -> None:
    ws = with_model
    assert_ok(ws.run("compare.py"))
    assert_ok(ws.run("promote.py"))

    again, forced = run_scripts([("promote.py", [], ws.root), ("promote.py", ["--force"], ws.root)])

    for refused in (again, forced):
        assert_one_line_error(refused, "compared the model with no champion", "champion is v1",
                              "run compare.py again")
    assert registry_state(ws) == ([1], 1, [])


def test_a_comparison_with_a_dethroned_champion_is_refused(with_champion: Workspace) -> None:
    ws = with_champion
    with_v1 = _same_model_again(ws)
    registry = LocalRegistry(ws.registry)
    promote(ws.model, with_v1, registry, force=True, name="test-model")

    with pytest.raises(RegistryError, match="compared the model with champion v1, but the registry's champion is "
                                            "v2; run compare.py again"):
        promote(ws.model, with_v1, registry, force=True, name="test-model")
    registry.rollback()
    assert promote(ws.model, with_v1, registry, force=True, name="test-model").version == 3  # v1 is champion again


def test_a_comparison_with_another_artifact_as_the_champions_version_is_refused(with_champion: Workspace) -> None:
    """The version number alone does not name the champion (a rebuilt registry may reuse it): the comparison's v1
    had another artifact than the registry's v1, so even --force refuses the stale verdict."""
    ws = with_champion
    comparison = _same_model_again(ws)
    comparison["champion"]["artifact_sha256"] = "0" * 64

    with pytest.raises(RegistryError, match="compared the model with champion v1, but the registry's champion is "
                                            "v1; run compare.py again"):
        promote(ws.model, comparison, LocalRegistry(ws.registry), force=True, name="test-model")
    assert registry_state(ws) == ([1], 1, [])


def test_a_rejected_comparison_of_builds_without_a_commit_is_not_taken_for_a_rerun(with_champion: Workspace) -> None:
    """A re-run of the release on its own commit publishes nothing; two bundles that recorded no commit prove no
    such thing by sharing an artifact, so the gate's rejection stands."""
    ws = with_champion
    registry = LocalRegistry(ws.registry)
    comparison = _same_model_again(ws)
    assert comparison["decision"] == "reject"
    assert comparison["champion"]["artifact_sha256"] == comparison["challenger"]["artifact_sha256"]

    released = {side: {**comparison[side], "git_commit": "c" * 40} for side in ("champion", "challenger")}
    assert promote(ws.model, {**comparison, **released}, registry, name="test-model").version == 1
    uncommitted = {side: {**comparison[side], "git_commit": None} for side in ("champion", "challenger")}
    with pytest.raises(RegistryError, match="refusing to promote: the gate said reject"):
        promote(ws.model, {**comparison, **uncommitted}, registry, name="test-model")
    assert registry_state(ws) == ([1], 1, [])


def test_force_on_a_comparison_the_gate_passed_is_not_recorded_as_forced(with_model: Workspace) -> None:
    from ml.steps import compare_step

    ws = with_model
    comparison = compare_step(params_of(ws), ws.model, ws.reports / "comparison.json")
    assert comparison["decision"] == "promote"

    assert promote(ws.model, comparison, LocalRegistry(ws.registry), force=True, name="test-model").version == 1
    metadata = read_metadata(ws.registry / "v1")
    assert metadata["forced"] is False and metadata["gate_decision"] == "promote"
    assert "forced past the gate" not in (ws.registry / "v1" / "model_card.md").read_text()


def test_promote_refuses_a_comparison_of_another_model(with_champion: Workspace, tmp_path: Path) -> None:
    ws = with_champion
    comparison = json.loads((ws.reports / "comparison.json").read_text())
    comparison["challenger"]["artifact_sha256"] = "f" * 64
    comparison["decision"] = "promote"
    (ws.reports / "comparison.json").write_text(json.dumps(comparison))

    assert_one_line_error(ws.run("promote.py", "--force"), "different model")
    assert registry_state(ws) == ([1], 1, [])


@pytest.mark.parametrize(("edit", "says"), [
    (lambda c: c.pop("metrics"), "'metrics' must map each metric"),
    (lambda c: c["metrics"].update(roc_auc=0.9), "'metrics' must map each metric"),
    (lambda c: c.update(champion="v1"), "'champion' must be an object or null"),
    (lambda c: c.update(challenger=None), "'challenger' must be an object"),
    (lambda c: c.update(reasons="better"), "'reasons' must be a list"),
])
def test_promote_refuses_a_misshapen_comparison_in_one_line(with_champion: Workspace, edit, says) -> None:
    ws = with_champion
    comparison = json.loads((ws.reports / "comparison.json").read_text())
    edit(comparison)
    (ws.reports / "comparison.json").write_text(json.dumps(comparison))
    assert_one_line_error(ws.run("promote.py", "--force"), "comparison.json", says, "run compare.py again")
    assert registry_state(ws) == ([1], 1, [])


def until_blocked(lock: Path, pid: int, finished: Callable[[], bool], timeout: float = 60) -> None:
    """Wait until process pid waits for lock's flock, read from the kernel's table of locks (Linux's /proc/locks,
    as ml/deploy/lock.py reads it); fail if it finishes first, or never gets that far."""
    info = lock.stat()
    file_id = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"

    def blocked() -> bool:  # a waiter's line: "1: -> FLOCK  ADVISORY  WRITE 4243 08:01:1234 0 EOF"
        return any(fields[1:3] == ["->", "FLOCK"] and fields[5:7] == [str(pid), file_id]
                   for fields in map(str.split, Path("/proc/locks").read_text().splitlines()))

    deadline = time.monotonic() + timeout
    while not blocked() and not finished() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert blocked(), f"pid {pid} {'went on' if finished() else 'did not get that far'} without waiting for {lock}"


def test_a_promotion_waits_for_the_one_holding_the_registry(with_model: Workspace) -> None:
    """Checking the champion a comparison was judged against, numbering and publishing are one step: a second
    promotion in between would publish a verdict about a champion already replaced."""
    from tests.conftest import SCRIPTS, script_env

    ws = with_model
    assert_ok(ws.run("compare.py"))
    registry = LocalRegistry(ws.registry)
    with registry.exclusive():
        waiting = subprocess.Popen([sys.executable, str(SCRIPTS / "promote.py")], cwd=ws.root, env=script_env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        until_blocked(ws.registry / ".lock", waiting.pid, lambda: waiting.poll() is not None)
        assert registry.champion() is None  # held: it has not published
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert "v1" in out and registry_state(ws) == ([1], 1, [])


def test_promote_without_a_comparison_is_one_error(with_model: Workspace) -> None:
    assert_one_line_error(with_model.run("promote.py"), "comparison.json", "not found")
    assert not with_model.registry.exists()


def _same_model_again(ws: Workspace) -> dict:
    """A comparison of the workspace model with the registry champion (the same model: the gate rejects it)."""
    from ml.steps import compare_step

    return compare_step(params_of(ws), ws.model, ws.reports / "comparison.json")


def test_a_crash_while_publishing_leaves_no_half_registered_version(with_champion: Workspace, monkeypatch) -> None:
    ws = with_champion
    comparison = _same_model_again(ws)
    real_copy = shutil.copy2
    copied: list[str] = []

    def copy_then_crash(src, dst, *args, **kwargs):
        if ws.registry in Path(dst).parents:  # a copy into the registry's staging area
            if copied:
                raise OSError(28, "No space left on device")
            copied.append(str(dst))
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(shutil, "copy2", copy_then_crash)
    with pytest.raises(OSError, match="No space left"):
        promote(ws.model, comparison, LocalRegistry(ws.registry), force=True, name="test-model")
    monkeypatch.undo()

    assert copied, "the crash was not inside publish()"
    assert registry_state(ws) == ([1], 1, [])
    # The registry is still usable: the retry gets the number the crashed attempt would have had.
    assert promote(ws.model, comparison, LocalRegistry(ws.registry), force=True, name="test-model").version == 2
    assert registry_state(ws) == ([1, 2], 2, [])


PUBLISH_THEN_HANG = """
import shutil, sys, time
from pathlib import Path
from ml.registry.local import LocalRegistry

copy = shutil.copy2

def copy_then_hang(*args, **kwargs):
    copy(*args, **kwargs)
    print("copied", flush=True)
    time.sleep(300)

shutil.copy2 = copy_then_hang
LocalRegistry(sys.argv[1]).publish(Path(sys.argv[2]))
"""


def test_a_publish_killed_midway_is_never_a_version_and_the_next_publish_clears_it(with_champion: Workspace,
                                                                                  tmp_path: Path) -> None:
    """kill -9 in the middle of copying into the registry: its staging directory stays, but no reader takes it for a
    version, and the next publish (which waits while the first still runs) removes it."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import script_env

    ws = with_champion
    bundle = tmp_path / "v2"
    shutil.copytree(ws.model, bundle)
    write_metadata(bundle, {**read_metadata(bundle), "version": 2})
    killed = subprocess.Popen([sys.executable, "-c", PUBLISH_THEN_HANG, str(ws.registry), str(bundle)],
                              env=script_env(), stdout=subprocess.PIPE, text=True)
    with ThreadPoolExecutor(1) as pool:
        try:
            assert killed.stdout.readline() == "copied\n"
            (staging,) = ws.registry.glob(".publish-*")
            assert registry_state(ws) == ([1], 1, [staging.name]) and LocalRegistry(ws.registry).next_version() == 2
            waiting = pool.submit(LocalRegistry(ws.registry).publish, bundle)
            until_blocked(ws.registry / ".lock", os.getpid(), waiting.done)
            assert staging.is_dir(), "a publish in progress must be waited for, not cleared"
        finally:
            killed.kill()
            killed.wait()
        assert waiting.result(timeout=60).version == 2
    assert registry_state(ws) == ([1, 2], 2, [])


def test_a_crash_while_writing_the_card_registers_nothing(with_champion: Workspace, monkeypatch) -> None:
    ws = with_champion
    comparison = _same_model_again(ws)

    def broken_card(*args, **kwargs):
        raise RuntimeError("template error")

    monkeypatch.setattr("ml.promote.render_model_card", broken_card)
    with pytest.raises(RuntimeError, match="template error"):
        promote(ws.model, comparison, LocalRegistry(ws.registry), force=True, name="test-model")
    assert registry_state(ws) == ([1], 1, [])


def test_rollback_restores_the_previous_champion(with_champion: Workspace) -> None:
    ws = with_champion
    registry = LocalRegistry(ws.registry)
    promote(ws.model, _same_model_again(ws), registry, force=True, name="test-model")
    assert registry_state(ws) == ([1, 2], 2, [])

    assert registry.rollback().version == 1
    assert registry_state(ws) == ([1, 2], 1, [])
    assert registry.next_version() == 3  # v2 stays on record; a new promotion does not reuse its number
    with pytest.raises(RegistryError, match="oldest"):
        registry.rollback()
    assert registry.champion().version == 1


def _promote_twice_more(ws: Workspace) -> LocalRegistry:
    """v1 (the champion) → v1, v2, v3, each forced past the gate's 'no change'."""
    registry = LocalRegistry(ws.registry)
    for _ in range(2):
        promote(ws.model, _same_model_again(ws), registry, force=True, name="test-model")
    assert registry_state(ws) == ([1, 2, 3], 3, [])
    return registry


def test_rollback_goes_to_the_version_just_before_the_champion(with_champion: Workspace) -> None:
    registry = _promote_twice_more(with_champion)
    assert registry.rollback().version == 2
    assert registry_state(with_champion) == ([1, 2, 3], 2, [])
    assert registry.rollback().version == 1


def test_a_version_rolled_back_from_is_never_rolled_back_to(with_champion: Workspace) -> None:
    """v3 rolled back, v4 promoted, v4 rolled back: v2 again, not v3 (GitHub's backend marks v3 a prerelease)."""
    ws = with_champion
    registry = _promote_twice_more(ws)
    assert registry.rollback().version == 2
    assert promote(ws.model, _same_model_again(ws), registry, force=True, name="test-model").version == 4
    assert registry.rollback().version == 2
    assert registry.rollback().version == 1


def test_a_version_whose_publish_was_killed_before_it_became_champion_is_never_rolled_back_to(
        with_champion: Workspace) -> None:
    """v2's directory went into place, then the publish died before champion.json named it: v1 is still champion,
    v3 (judged against v1) is next, and rolling v3 back goes to v1, never to v2, which no gate ever let serve."""
    ws = with_champion
    registry = LocalRegistry(ws.registry)
    promote(ws.model, _same_model_again(ws), registry, force=True, name="test-model")
    pointer = ws.registry / "champion.json"
    pointer.write_text(json.dumps({"version": 1, "rolled_back": []}))  # as the killed publish left it
    assert registry.champion().version == 1 and registry.next_version() == 3
    assert promote(ws.model, _same_model_again(ws), registry, force=True, name="test-model").version == 3
    assert registry.rollback().version == 1


def test_a_version_whose_metadata_names_another_is_never_fetched_or_rolled_back_to(with_champion: Workspace,
                                                                                   tmp_path: Path) -> None:
    ws = with_champion
    registry = _promote_twice_more(ws)
    metadata = read_metadata(ws.registry / "v2")
    write_metadata(ws.registry / "v2", {**metadata, "version": 1})
    with pytest.raises(IntegrityError, match="v2: metadata.json says version 1, not 2"):
        registry.fetch(2, tmp_path / "fetched")
    with pytest.raises(IntegrityError, match="metadata.json says version 1, not 2"):
        registry.rollback()
    assert registry.champion().version == 3


def test_rollback_champion_script_makes_the_previous_version_the_champion(with_champion: Workspace) -> None:
    ws = with_champion
    _promote_twice_more(ws)
    assert assert_ok(ws.run("rollback_champion.py")).stdout == "champion: v2 (was v3)\n"
    assert registry_state(ws) == ([1, 2, 3], 2, [])
    assert_ok(ws.run("rollback_champion.py"))
    assert_one_line_error(ws.run("rollback_champion.py"), "nothing to roll back to", "v1 is the oldest")


def test_a_damaged_older_version_does_not_stop_the_champion_or_the_next_promotion(with_champion: Workspace) -> None:
    ws = with_champion
    registry = _promote_twice_more(ws)
    (ws.registry / "v1" / "metadata.json").write_text("{oops")
    assert registry.champion().version == 3 and registry.next_version() == 4
    assert promote(ws.model, _same_model_again(ws), registry, force=True, name="test-model").version == 4


def test_the_next_version_follows_the_newest_not_the_count(with_champion: Workspace) -> None:
    """With v2 removed by hand, v1 and v3 remain: the next promotion is v4, never a second v3."""
    ws = with_champion
    registry = _promote_twice_more(ws)
    shutil.rmtree(ws.registry / "v2")
    assert registry.next_version() == 4
    assert promote(ws.model, _same_model_again(ws), registry, force=True, name="test-model").version == 4
    assert registry_state(ws) == ([1, 3, 4], 4, [])


def test_rollback_refuses_a_tampered_previous_version(with_champion: Workspace) -> None:
    ws = with_champion
    registry = LocalRegistry(ws.registry)
    promote(ws.model, _same_model_again(ws), registry, force=True, name="test-model")
    artifact = ws.registry / "v1" / ARTIFACT
    artifact.write_bytes(artifact.read_bytes() + b"\0")

    with pytest.raises(IntegrityError, match="sha256"):
        registry.rollback()
    assert registry.champion().version == 2


def test_registry_refuses_out_of_order_versions_and_unknown_fetches(with_champion: Workspace, tmp_path) -> None:
    ws = with_champion
    registry = LocalRegistry(ws.registry)
    bundle = shutil.copytree(ws.registry / "v1", tmp_path / "again")  # claims to be v1, but v2 is next
    with pytest.raises(RegistryError, match="next version"):
        registry.publish(bundle)
    with pytest.raises(RegistryError, match="v7"):
        registry.fetch(7, tmp_path / "v7")
    assert registry_state(ws) == ([1], 1, [])
    fetched = registry.fetch(1, tmp_path / "fetched")
    assert verify_artifact(fetched)["version"] == 1


def test_a_failed_fetch_leaves_the_destination_as_it_was(with_champion: Workspace, tmp_path, monkeypatch) -> None:
    """fetch stages beside dest and swaps it in only once the copy verifies."""
    dest = tmp_path / "out" / "model"
    dest.mkdir(parents=True)
    (dest / "keep.txt").write_text("the previous bundle")

    def copy_then_fail(source, target, **kwargs):
        (Path(target) / ARTIFACT).write_bytes(b"half")
        raise OSError("No space left on device")

    monkeypatch.setattr(shutil, "copytree", copy_then_fail)
    with pytest.raises(OSError, match="No space left"):
        LocalRegistry(with_champion.registry).fetch(1, dest)
    assert [p.name for p in dest.parent.iterdir()] == ["model"]
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_fetch_model_of_an_unknown_version_keeps_dest(with_champion: Workspace) -> None:
    ws = with_champion
    dest = ws.root / "model"
    dest.mkdir()
    (dest / "metadata.json").write_text('{"the": "previous bundle"}')

    assert_one_line_error(ws.run("fetch_model.py", "--version", "99", "--dest", "model"), "v99")
    assert (dest / "metadata.json").read_text() == '{"the": "previous bundle"}'
    fetched = assert_ok(ws.run("fetch_model.py", "--dest", "model"))
    assert "fetched v1" in fetched.stdout
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in (ws.registry / "v1").iterdir())


def test_no_champion_and_empty_registry_rollback(tmp_path) -> None:
    registry = LocalRegistry(tmp_path / "empty")
    assert registry.versions() == [] and registry.champion() is None and registry.next_version() == 1
    with pytest.raises(RegistryError, match="no champion"):
        registry.rollback()


def test_check_gate_follows_the_decision(with_model: Workspace) -> None:
    ws = with_model
    ws.reports.mkdir()
    (ws.reports / "promote.json").write_text(json.dumps({"decision": "promote", "reasons": ["better"]}))
    (ws.reports / "reject.json").write_text(json.dumps({"decision": "reject", "reasons": ["worse"]}))
    passed, failed, missing = run_scripts([("check_gate.py", ["--comparison", f"reports/{name}.json"], ws.root)
                                           for name in ("promote", "reject", "missing")])
    assert_ok(passed)
    assert_one_line_error(failed, "reject", "worse")
    assert_one_line_error(missing, "missing.json")


def modes_under(*roots: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mode & 0o777 for root in roots for p in [root, *root.rglob("*")]}


def test_bundles_and_registry_versions_get_the_modes_of_ordinary_new_files(with_model: Workspace) -> None:
    """mkstemp and mkdtemp make 0600 files and 0700 directories: copied into the image with their modes, the
    non-root server (another uid) could not read metadata.json."""
    from ml.fileio import UMASK

    promote_in_process(with_model)

    modes = modes_under(with_model.model, with_model.registry)
    wanted = {path: (0o777 if Path(path).is_dir() else 0o666) & ~UMASK for path in modes}
    assert modes == wanted
    assert any(path.endswith("metadata.json") for path in modes)


def test_file_modes_follow_the_umask(tmp_path: Path) -> None:
    code = ("import os, sys; os.umask(0o027); from pathlib import Path; "
            "from ml.fileio import staging_dir, write_text_atomic; "
            "d = staging_dir(Path(sys.argv[1]), 'x-'); write_text_atomic(d / 'f.json', '{}')")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)

    staged = next(tmp_path.glob("x-*"))
    assert modes_under(staged) == {str(staged): 0o750, str(staged / "f.json"): 0o640}


def test_a_repository_without_commits_records_no_commit(tmp_path, monkeypatch) -> None:
    """`git rev-parse HEAD` there prints "HEAD": two bundles with that "commit" would pass for one build."""
    import subprocess

    from ml.provenance import git_commit

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    assert git_commit() is None

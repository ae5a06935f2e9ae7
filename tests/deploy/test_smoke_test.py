"""scripts/smoke_test.py against a real model server: golden answers, version header, latency budget."""

from __future__ import annotations

from tests.conftest import REPO, assert_ok, assert_one_line_error, run_script
from tests.deploy.bundles import copy_as_version, unservable_golden


def smoke(url: str, bundle, *args: str):
    return run_script("smoke_test.py", url, "--model-dir", str(bundle), *args, cwd=REPO)


def test_the_right_model_passes(model_server):
    bundle, port = model_server
    run = assert_ok(smoke(f"http://127.0.0.1:{port}", bundle, "--latency-budget-ms", "1000"))
    assert "8 golden answers from v7 match" in run.stdout


def test_another_version_fails_on_the_header(model_server, tmp_path):
    bundle, port = model_server
    other = copy_as_version(bundle, tmp_path / "v8", 8)
    assert_one_line_error(smoke(f"http://127.0.0.1:{port}", other), "X-Model-Version is 'v7', expected 'v8'")


def test_wrong_answers_fail_with_the_record_named(model_server, tmp_path, deploy_workspace):
    bundle, port = model_server
    changed = unservable_golden(copy_as_version(bundle, tmp_path / "v7", 7), deploy_workspace[0])
    assert_one_line_error(smoke(f"http://127.0.0.1:{port}", changed), "golden record 0", "422")


def test_latency_budget_and_unreachable_server(model_server):
    bundle, port = model_server
    assert_one_line_error(smoke(f"http://127.0.0.1:{port}", bundle, "--latency-budget-ms", "0.001"),
                          "exceeds the 0.001 ms budget")
    assert_one_line_error(smoke("http://127.0.0.1:9", bundle), "server unreachable")
    assert_one_line_error(smoke(f"http://127.0.0.1:{port}", REPO / "deploy"), "metadata.json: not found")

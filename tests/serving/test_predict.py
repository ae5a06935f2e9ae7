"""Happy paths against a real server: answers equal the pipeline's, headers, health, version, metrics, log."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from ml.data import model_frame


def reference(trained, records):
    """What the pipeline itself says: (labels, positive-class probabilities)."""
    proba = trained.pipeline.predict_proba(model_frame(pd.DataFrame.from_records(records), trained.params))
    return trained.pipeline.classes_[np.argmax(proba, axis=1)].tolist(), proba[:, -1]


def test_golden_records_come_back_with_the_recorded_outputs(server, trained):
    for golden in trained.metadata["golden"]:
        response = server.post("/predict", golden["features"])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["prediction"] == golden["prediction"]
        assert abs(body["probability"] - golden["probability"]) <= 1e-9
        assert body["model_version"] == "v1"
        assert response.headers["X-Model-Version"] == "v1"


def test_batch_equals_the_pipeline_on_holdout_rows_with_missing_values(server, trained):
    records = trained.holdout_records(50)
    assert any(None in r.values() for r in records), "the sample should exercise missing values"
    response = server.post("/predict/batch", {"instances": records})
    assert response.status_code == 200, response.text
    body = response.json()
    labels, probabilities = reference(trained, records)
    assert body["predictions"] == labels
    np.testing.assert_allclose(body["probabilities"], probabilities, rtol=0, atol=1e-9)
    assert body["model_version"] == "v1"


def test_concurrent_single_requests_are_batched_and_each_gets_its_own_answer(server, trained):
    records = trained.holdout_records(96)
    labels, probabilities = reference(trained, records)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda r: server.post("/predict", r).json(), records))
    assert [a["prediction"] for a in answers] == labels
    np.testing.assert_allclose([a["probability"] for a in answers], probabilities, rtol=0, atol=1e-9)


def test_health_and_version(server, trained):
    live = server.get("/health/live")
    assert live.status_code == 200 and live.headers["X-Model-Version"] == "v1"
    ready = server.get("/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "model_version": "v1"}
    version = server.get("/version").json()
    assert version["model_version"] == "v1"
    assert version["artifact_sha256"] == trained.metadata["artifact_sha256"]
    assert version["git_commit"] == trained.metadata["git_commit"]
    assert version["trained_at"] == trained.metadata["trained_at"]
    assert version["prediction_path"] == "compiled"


def test_every_response_carries_the_model_version(server):
    for response in (server.get("/nowhere"), server.post("/predict", data="{", content_type="application/json"),
                     server.post("/predict", data="x", content_type="text/plain"), server.get("/openapi.json"),
                     server.get("/metrics")):
        assert response.headers.get("X-Model-Version") == "v1", (response.status_code, response.text)


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one series; labels must match exactly those given plus model_version."""
    wanted = {"model_version": "v1", **labels}
    for line in text.splitlines():
        match = re.fullmatch(rf'{name}\{{(.*)\}} (\S+)', line)
        if match and dict(re.findall(r'(\w+)="([^"]*)"', match.group(1))) == wanted:
            return float(match.group(2))
    return 0.0


def test_metrics_count_requests_errors_latency_and_classes(server, trained):
    before = server.get("/metrics").text
    record = trained.metadata["golden"][0]["features"]
    for _ in range(3):
        assert server.post("/predict", record).status_code == 200
    assert server.post("/predict", {**record, "tenure_months": -1}).status_code == 422
    after = server.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text

    def delta(name, **labels):
        return _metric(text, name, **labels) - _metric(before, name, **labels)

    assert delta("http_requests_total", method="POST", path="/predict", status="200") == 3
    assert delta("http_requests_total", method="POST", path="/predict", status="422") == 1
    assert delta("prediction_errors_total", path="/predict", reason="validation") == 1
    assert delta("http_request_duration_seconds_count", path="/predict") == 4
    assert delta("http_request_duration_seconds_bucket", path="/predict", le="+Inf") == 4
    label = str(trained.metadata["golden"][0]["prediction"])
    assert delta("predictions_total", **{"class": label}) == 3
    assert _metric(text, "model_ready") == 1
    assert _metric(text, "model_batch_rows_count") >= 1


def test_predictions_are_logged_for_the_drift_job(server, trained):
    record = {**trained.metadata["golden"][1]["features"], "contract": "lifetime"}  # unseen: accepted
    answer = server.post("/predict", record).json()
    log_dir = trained.root / "logs" / "predictions"
    deadline = time.monotonic() + 10
    found = None
    while found is None and time.monotonic() < deadline:
        for path in sorted(log_dir.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():  # one record per line, whatever it holds
                entry = json.loads(line)
                if entry["features"] == record:
                    found = entry
        time.sleep(0.1)
    assert found is not None, "the prediction never reached the log"
    assert found["model_version"] == "v1"
    assert found["prediction"] == answer["prediction"]
    assert found["probability"] == pytest.approx(answer["probability"], abs=1e-12)
    assert found["ts"].endswith("+00:00")


def test_a_deploys_own_checks_are_answered_but_not_logged(server, trained):
    def logged() -> list[dict]:
        return [json.loads(line)["features"] for path in sorted(log_dir.glob("*.jsonl"))
                for line in path.read_text(encoding="utf-8").splitlines()]

    log_dir = trained.root / "logs" / "predictions"
    check, real = ({**trained.metadata["golden"][0]["features"], "tenure_months": months} for months in (71, 70))
    assert server.post("/predict", check, headers={"X-Smoke-Test": "1"}).status_code == 200
    assert server.post("/predict", real).status_code == 200  # after the check: once it is logged, both were handled
    deadline = time.monotonic() + 10
    while real not in logged() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert real in logged() and check not in logged()


def test_the_log_rotates_by_size(server, trained):
    log_dir = trained.root / "logs" / "predictions"

    def logged() -> tuple[list, Counter]:
        """The log files, and how often each record's features appear in them."""
        files = sorted(log_dir.glob("*.jsonl"))
        lines = [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]
        return files, Counter(json.dumps(json.loads(line)["features"], sort_keys=True) for line in lines)

    records = trained.holdout_records(40)
    wanted = Counter(json.dumps(record, sort_keys=True) for record in records * 3)
    files_before, before = logged()  # earlier tests logged to the same directory, some of these records too
    for _ in range(3):
        assert server.post("/predict/batch", {"instances": records}).status_code == 200
    deadline = time.monotonic() + 10
    while (logged()[1] - before) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    files, after = logged()
    assert after - before == wanted  # each of the 120 batch records logged once
    assert len(set(files) - set(files_before)) >= 3  # 120 records of ~300 bytes with a 4096-byte limit
    for path in files:
        size = path.stat().st_size
        assert size <= 4096 or path.read_text(encoding="utf-8").count("\n") == 1

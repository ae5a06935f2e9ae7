"""Start-up, readiness and shutdown: what is served, when it is ready, and that SIGTERM loses no request."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import time

import numpy as np
import pandas as pd
import pytest

from ml.bundle import read_metadata, write_metadata
from ml.data import model_frame
from ml.errors import ParamsError
from ml.params import load_params, parse_params
from ml.registry.local import LocalRegistry
from serving.settings import settings_from
from serving.state import ServerState
from tests.conftest import REPO
from tests.serving.conftest import Server, serving_params

# uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: the exit status says "terminated".
STOPPED = (0, -signal.SIGTERM)


def assert_never_ready(server: Server, *needles: str) -> str:
    """Failed readiness with a reason naming every needle, predictions refused, alive, one ERROR line."""
    body = server.wait()
    assert body["status"] == "failed", body
    time.sleep(0.3)
    assert server.get("/health/ready").status_code == 503
    assert server.get("/health/live").status_code == 200
    refused = server.post("/predict", {})
    assert refused.status_code == 503 and refused.headers["X-Model-Version"] == "none"
    assert server.get("/version").status_code == 503  # it serves no version, even with a model loaded
    output = server.output()
    errors = [line for line in output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, output
    assert "Traceback" not in output
    for needle in needles:
        assert needle in body["detail"] and needle in errors[0], (body, errors)
    return body["detail"]


def test_a_tampered_model_never_becomes_ready(trained, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(trained.model_dir, model)
    with open(model / "model.joblib", "ab") as artifact:
        artifact.write(b"\0")
    server = trained.serve(MODEL_DIR=str(model), PREDICTION_LOG_DIR="off")
    try:
        assert_never_ready(server, "sha256", "refusing to load")
    finally:
        assert server.stop() in STOPPED


def test_a_prediction_log_it_cannot_open_leaves_it_unready(trained):
    """The model is loaded by then: the server must still say it serves nothing."""
    server = trained.serve(PREDICTION_LOG_DIR="/proc/no-such-dir")
    try:
        assert_never_ready(server, "prediction log directory /proc/no-such-dir")
    finally:
        assert server.stop() in STOPPED


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize(("env", "needles"), [
    ({"UNSEEN_CATEGORIES": "maybe"}, ("UNSEEN_CATEGORIES", "accept or reject")),
    ({"MODEL_DIR": "nothing-here"}, ("nothing-here", "not a model directory")),
    ({"MODEL_DIR": ""}, ("no champion",)),                       # and nothing in the registry
    ({"MODEL_VERSION": "v2"}, ("MODEL_VERSION is v2", "holds v1")),  # an image built for v2 that holds v1
])
def test_invalid_settings_and_missing_models_leave_the_server_unready(trained, tmp_path, env, needles):
    """In-process (the tampered-model test above shows the same path on a live server)."""
    environ = {"PARAMS": str(trained.params_file), "MODEL_DIR": str(trained.model_dir),
               "MODEL_CACHE_DIR": str(tmp_path / "cache"), "PREDICTION_LOG_DIR": "off", **env}
    state = ServerState(environ)
    logger, handler = logging.getLogger("serving"), Collect()
    logger.addHandler(handler)
    cwd = os.getcwd()
    os.chdir(trained.root)  # params.yaml paths resolve against the working directory, as in a deploy
    try:
        asyncio.run(state._start())
        status, reason, model = state.status, state.reason, state.model
    finally:
        os.chdir(cwd)
        logger.removeHandler(handler)
        asyncio.run(state.stop())
    assert status == "failed" and model is None
    errors = [r.getMessage() for r in handler.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    for needle in needles:
        assert needle in reason and needle in errors[0]


def test_sigterm_finishes_the_request_in_flight_and_flushes_the_log(trained, tmp_path):
    log_dir = tmp_path / "predictions"
    server = trained.serve(PREDICTION_LOG_DIR=str(log_dir)).ready()
    record = trained.metadata["golden"][3]["features"]
    body = json.dumps(record).encode()
    head = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(head + body[:20])
        time.sleep(0.5)  # the server has read the headers: the request is in flight
        server.terminate()
        time.sleep(0.5)
        assert server.process.poll() is None, "the server quit with a request in flight"
        connection.sendall(body[20:])
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    status, _, payload = response.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200"), response
    assert json.loads(payload)["prediction"] == trained.metadata["golden"][3]["prediction"]
    assert server.process.wait(timeout=30) in STOPPED
    assert "prediction log flushed: 1 records written" in server.output()
    lines = [json.loads(line) for path in log_dir.glob("*.jsonl") for line in path.read_text().splitlines()]
    assert [entry["features"] for entry in lines] == [record]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2)
    server.stop()


def test_without_model_dir_the_registry_champion_or_a_chosen_version_is_served(trained, tmp_path):
    workspace = tmp_path / "ws"
    shutil.copytree(trained.root, workspace, ignore=shutil.ignore_patterns("logs", "server-*.log"))
    registry = LocalRegistry(workspace / "registry")  # params.yaml: registry.path = registry
    registry.publish(trained.model_dir)
    second = tmp_path / "v2"
    shutil.copytree(trained.model_dir, second)
    write_metadata(second, {**read_metadata(second), "version": 2})
    registry.publish(second)
    cache = tmp_path / "cache"
    common = {"PARAMS": str(workspace / "params.yaml"), "MODEL_CACHE_DIR": str(cache), "PREDICTION_LOG_DIR": "off"}
    champion = Server(workspace, **common)
    pinned = Server(workspace, **common, MODEL_VERSION="v1")
    try:
        champion.ready()
        pinned.ready()
        assert champion.get("/version").json()["model_version"] == "v2"
        assert pinned.get("/version").json()["model_version"] == "v1"
        answer = champion.post("/predict", trained.metadata["golden"][0]["features"])
        assert answer.headers["X-Model-Version"] == "v2" and answer.json()["model_version"] == "v2"
        assert len(list(cache.iterdir())) == 2  # each server fetched its own private copy
    finally:
        champion.stop()
        pinned.stop()
    assert list(cache.iterdir()) == []  # and removed it on shutdown


@pytest.mark.parametrize("unsafe", ["world-writable", "another user's, behind a link"])
def test_a_model_cache_another_user_could_write_to_is_refused(trained, tmp_path, unsafe):
    """Whoever can rename entries in the cache can swap a fetched bundle, metadata and all, before it loads."""
    workspace = tmp_path / "ws"
    shutil.copytree(trained.root, workspace, ignore=shutil.ignore_patterns("logs", "server-*.log"))
    LocalRegistry(workspace / "registry").publish(trained.model_dir)
    shared = tmp_path / "shared"
    shared.mkdir()
    cache = shared
    if unsafe == "world-writable":
        shared.chmod(0o777)
    else:  # e.g. /tmp/mlops-serving-models made first by someone else, as a link to their own directory
        if os.geteuid() != 0:
            pytest.skip("making a directory another user's needs root")
        os.chown(shared, 65534, 65534)
        cache = tmp_path / "cache"
        cache.symlink_to(shared)
    server = Server(workspace, PARAMS=str(workspace / "params.yaml"), MODEL_CACHE_DIR=str(cache),
                    PREDICTION_LOG_DIR="off")
    try:
        assert_never_ready(server, f"model cache {shared}", "MODEL_CACHE_DIR")
    finally:
        server.stop()
    assert list(shared.iterdir()) == []  # nothing was fetched into it


def test_an_unpromoted_regression_model(trained_regression):
    server = trained_regression.serve(PREDICTION_LOG_DIR="off").ready()
    try:
        label = "dev-" + trained_regression.metadata["artifact_sha256"][:8]
        records = trained_regression.holdout_records(30)
        expected = trained_regression.pipeline.predict(
            model_frame(pd.DataFrame.from_records(records), trained_regression.params))
        single = server.post("/predict", records[0])
        assert single.status_code == 200, single.text
        assert single.headers["X-Model-Version"] == label
        assert set(single.json()) == {"prediction", "model_version"}
        assert abs(single.json()["prediction"] - expected[0]) <= 1e-9
        batch = server.post("/predict/batch", {"instances": records}).json()
        assert "probabilities" not in batch
        np.testing.assert_allclose(batch["predictions"], expected, rtol=0, atol=1e-9)
        assert "monthly_charges" in server.post("/predict", {**records[0], "monthly_charges": 50.0}).text
    finally:
        server.stop()


def test_a_misspelt_serving_key_is_an_error_naming_it(tmp_path):
    """max_btach: 5 would otherwise be ignored, silently leaving max_batch at its default of 1000."""
    with pytest.raises(ParamsError) as error:
        settings_from(parse_params(serving_params(max_btach=5), tmp_path), {})
    assert str(error.value).startswith("params.yaml: unknown key 'serving.max_btach' (known: model_dir, ")
    assert "max_batch" in str(error.value) and "\n" not in str(error.value)
    for params in (load_params(REPO / "params.yaml"), parse_params(serving_params(), tmp_path)):
        assert settings_from(params, {}).max_batch == params.serving["max_batch"]


def test_settings_come_from_params_and_the_environment(trained):
    params = trained.params
    defaults = settings_from(params, {})
    assert defaults.max_batch == 50 and defaults.unseen_categories == "accept"
    assert defaults.prediction_log_dir == params.path("logs/predictions")
    overridden = settings_from(params, {"MAX_BATCH": "7", "UNSEEN_CATEGORIES": "reject", "MODEL_VERSION": "v3",
                                        "PREDICTION_LOG_DIR": "off", "MODEL_DIR": "some/model"})
    assert (overridden.max_batch, overridden.unseen_categories, overridden.model_version) == (7, "reject", 3)
    assert overridden.prediction_log_dir is None
    assert overridden.model_dir == params.path("some/model")
    for environ, needle in [({"MAX_BATCH": "0"}, "MAX_BATCH must be an integer >= 1"),
                            ({"MAX_BATCH": "many"}, "MAX_BATCH"),
                            ({"MODEL_VERSION": "latest"}, "MODEL_VERSION"),
                            ({"UNSEEN_CATEGORIES": "ignore"}, "UNSEEN_CATEGORIES must be accept or reject"),
                            ({"MODEL_THREADS": "-2"}, "MODEL_THREADS")]:
        with pytest.raises(ParamsError, match=needle):
            settings_from(params, environ)
    bad = params.serving | {"prediction_log_max_bytes": "big"}
    with pytest.raises(ParamsError, match="serving.prediction_log_max_bytes"):
        settings_from(type(params)(**{**vars(params), "serving": bad}), {})

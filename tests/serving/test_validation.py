"""Bad requests are refused with 4xx bodies that name the problem; nothing a client sends produces a 5xx."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def record(trained):
    return dict(trained.metadata["golden"][0]["features"])


def _locations(response) -> list[list]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("tenure_months", "12", "valid integer"),         # wrong type: a string for an int
    ("tenure_months", 12.5, "valid integer"),         # not a whole number
    ("tenure_months", True, "valid integer"),         # a boolean is not a number here
    ("monthly_charges", "cheap", "valid number"),
    ("senior_citizen", "yes", "valid boolean"),
    ("contract", 3, "valid string"),
    ("tenure_months", -1, "greater than or equal to 0"),   # out of range, both ends
    ("monthly_charges", 150.01, "less than or equal to 150"),
    ("tenure_months", None, "valid integer"),         # null where the feature is not nullable
])
def test_a_bad_value_is_a_422_naming_the_field(server, record, field, value, problem):
    response = server.post("/predict", {**record, field: value})
    assert _locations(response) == [["body", field]]
    assert problem in response.json()["detail"][0]["msg"]


def test_null_is_accepted_where_the_feature_is_nullable(server, record):
    response = server.post("/predict", {**record, "region": None, "total_charges": None})
    assert response.status_code == 200, response.text


def test_a_missing_field_is_named(server, record):
    record = {k: v for k, v in record.items() if k != "payment_method"}
    response = server.post("/predict", record)
    assert _locations(response) == [["body", "payment_method"]]
    assert response.json()["detail"][0]["type"] == "missing"


def test_an_unknown_field_is_named(server, record):
    response = server.post("/predict", {**record, "favourite_colour": "blue"})
    assert _locations(response) == [["body", "favourite_colour"]]
    assert response.json()["detail"][0]["type"] == "extra_forbidden"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_refused(server, record, literal):
    body = json.dumps({**record, "monthly_charges": 0.5}).replace("0.5", literal)
    response = server.post("/predict", data=body)
    assert ["body", "monthly_charges"] in _locations(response)
    assert "finite" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_refused_for_an_int_field_too(server, record, literal):
    body = json.dumps({**record, "tenure_months": 12345}).replace("12345", literal)
    response = server.post("/predict", data=body)
    assert _locations(response) == [["body", "tenure_months"]]
    assert "valid integer" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("body", ["{", "", "[1, 2]", "null", '{"tenure_months": 1,}'])
def test_invalid_json_or_not_an_object_is_a_422(server, body):
    response = server.post("/predict", data=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_a_415(server, record, content_type):
    response = server.post("/predict", data=json.dumps(record), content_type=content_type)
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["detail"]


def test_json_with_a_charset_is_fine(server, record):
    assert server.post("/predict", record, content_type="application/json; charset=utf-8").status_code == 200


def test_batch_errors_name_the_instance_and_field(server, trained, record):
    instances = trained.holdout_records(5)
    instances[3] = {**instances[3], "support_tickets": 99}
    response = server.post("/predict/batch", {"instances": instances})
    assert _locations(response) == [["body", "instances", 3, "support_tickets"]]


def test_an_oversize_batch_is_refused(server, trained):
    instances = trained.holdout_records(51)  # serving.max_batch is 50 in the test params
    response = server.post("/predict/batch", {"instances": instances})
    assert _locations(response) == [["body", "instances"]]
    assert "at most 50" in response.json()["detail"][0]["msg"]
    assert server.post("/predict/batch", {"instances": instances[:50]}).status_code == 200


@pytest.mark.parametrize("payload", [{"instances": []}, {}, {"records": []}])
def test_an_empty_or_misnamed_batch_is_refused(server, payload):
    assert server.post("/predict/batch", payload).status_code == 422


@pytest.mark.parametrize("path, wrap", [("/predict", lambda r: r), ("/predict/batch", lambda r: {"instances": [r]})])
def test_a_flood_of_unknown_fields_is_one_error_not_one_per_field(server, record, path, wrap):
    """Each unknown field would be its own error (kept with its input by pydantic-core): within max_body_bytes, a
    body of short keys made a 60 MB answer, 1.6 GB of memory and seconds of a blocked event loop."""
    flooded = {**record, **{f"k{i}": 1 for i in range(8000)}}
    response = server.post(path, wrap(flooded))
    assert _locations(response) == [["body"]]
    assert response.json()["detail"][0]["type"] == "too_many_fields"
    nested = {**record, "contract": {f"k{i}": 1 for i in range(8000)}}
    assert response.json() == server.post(path, wrap(nested)).json()


def test_colons_inside_values_are_not_taken_for_fields(server, trained):
    instances = [{**r, "contract": ":" * 200} for r in trained.holdout_records(50)]  # more colons than 50 records' keys
    assert server.post("/predict/batch", {"instances": instances}).status_code == 200


def test_a_body_over_the_size_limit_is_a_413(server, record):
    padded = json.dumps(record) + " " * 100_001  # serving.max_body_bytes is 100000
    response = server.post("/predict", data=padded)
    assert response.status_code == 413, response.text


def test_an_unseen_category_is_accepted_and_counted(server, record):
    def unseen_count() -> float:
        for line in server.get("/metrics").text.splitlines():
            if line.startswith('unseen_categories_total{model_version="v1",feature="region"}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = unseen_count()
    response = server.post("/predict", {**record, "region": "atlantis"})
    assert response.status_code == 200, response.text
    assert unseen_count() == before + 1


def test_an_unseen_category_is_a_422_when_rejected(trained):
    rejecting = trained.serve(UNSEEN_CATEGORIES="reject", PREDICTION_LOG_DIR="off").ready()
    try:
        record = trained.metadata["golden"][0]["features"]
        response = rejecting.post("/predict", {**record, "region": "atlantis"})
        assert _locations(response) == [["body", "region"]]
        assert "'north'" in response.json()["detail"][0]["msg"]
        assert rejecting.post("/predict", record).status_code == 200
        assert rejecting.post("/predict", {**record, "region": None}).status_code == 200
    finally:
        rejecting.stop()


def test_schemathesis_finds_no_server_error(server, tmp_path: Path):
    """A bounded property-based run over every operation in /openapi.json."""
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", server.url("/openapi.json"),
               "--checks", "all", "--max-examples", "30", "--seed", "7", "--workers", "2",
               "--generation-database", "none", "--no-color", "--request-timeout", "10"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Traceback" not in server.output()
    assert "unhandled" not in server.output()

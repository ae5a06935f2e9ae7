"""OpenAPI description of the endpoints. The handlers read raw bodies (for speed), so the request and response
schemas are declared here; Record and BatchRequest come from params.yaml once the model is loaded."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import PlainTextResponse

from serving.schema import BATCH, RECORD


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Prediction": {
        "type": "object", "required": ["prediction", "model_version"],
        "properties": {
            "prediction": {"description": "the predicted class label, or the predicted number for regression"},
            "probability": {"type": "number", "description": "classification only: the positive class's "
                            "probability (binary), the predicted class's (multi-class)"},
            "model_version": {"type": "string"},
        },
    },
    "BatchPrediction": {
        "type": "object", "required": ["predictions", "model_version"],
        "properties": {
            "predictions": {"type": "array", "items": {}},
            "probabilities": {"type": "array", "items": {"type": "number"}},
            "model_version": {"type": "string"},
        },
    },
    "ValidationErrors": {
        "type": "object", "required": ["detail"],
        "properties": {"detail": {"type": "array", "items": {
            "type": "object", "required": ["loc", "msg", "type"],
            "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                           "msg": {"type": "string"}, "type": {"type": "string"}}}}},
    },
    "Error": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}},
    "NotReady": {"type": "object", "required": ["status", "detail"],
                 "properties": {"status": {"type": "string"}, "detail": {"type": "string"}}},
    "Version": {"type": "object", "required": ["model_version"], "properties": {
        "model_version": {"type": "string"},
        **{key: {"type": ["string", "null"]} for key in (
            "artifact_sha256", "git_commit", "trained_at", "model_class", "task", "data_sha256", "prediction_path")},
    }},
}
# Before the model is loaded the feature schema is unknown.
PLACEHOLDERS = {RECORD: {"type": "object"}, BATCH: {"type": "object", "required": ["instances"],
                                                    "properties": {"instances": {"type": "array"}}}}

_REFUSALS = {
    413: _json("The body is larger than serving.max_body_bytes", _ref("Error")),
    415: _json("Content-Type is not application/json", _ref("Error")),
    422: _json("Invalid JSON or a record that breaks the schema; each error names its field", _ref("ValidationErrors")),
    503: _json("The model is not loaded (yet)", _ref("NotReady")),
}


def _body(name: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": _ref(name)}}}}


PREDICT = {
    "summary": "Predict one record",
    "openapi_extra": _body(RECORD),
    "responses": {200: _json("The prediction", _ref("Prediction")), **_REFUSALS},
}
PREDICT_BATCH = {
    "summary": "Predict up to serving.max_batch records",
    "openapi_extra": _body(BATCH),
    "responses": {200: _json("One prediction per instance, in order", _ref("BatchPrediction")), **_REFUSALS},
}
LIVE = {"summary": "Liveness: the process answers",
        "responses": {200: _json("Alive", {"type": "object", "properties": {"status": {"type": "string"}}})}}
READY = {"summary": "Readiness: the model is loaded, verified and warmed up",
         "responses": {200: _json("Ready", {"type": "object", "properties": {
             "status": {"type": "string"}, "model_version": {"type": "string"}}}), 503: _REFUSALS[503]}}
VERSION = {"summary": "The served model's version, sha256, commit and training time",
           "responses": {200: _json("The served model", _ref("Version")), 503: _REFUSALS[503]}}
METRICS = {"summary": "Prometheus metrics", "response_class": PlainTextResponse,
           "responses": {200: {"description": "Prometheus text format",
                               "content": {"text/plain": {"schema": {"type": "string"}}}}}}


def install_openapi(app: FastAPI, feature_schemas: Any) -> None:
    """Replace app.openapi: generated routes plus the feature schemas (cached once they are known)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(SCHEMAS)
        known = feature_schemas()
        schemas.update(known or PLACEHOLDERS)
        if known:
            app.openapi_schema = document
        return document

    app.openapi = openapi

"""The HTTP endpoints. Prediction handlers read the raw body and validate it in one pydantic-core call,
then answer with pre-serialised JSON: no per-request DataFrame, no FastAPI body model, no jsonable_encoder."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from serving import docs
from serving.metrics import CONTENT_TYPE
from serving.predictor import Outputs
from serving.predlog import UNLOGGED_HEADER
from serving.schema import RequestSchema, error_details
from serving.state import ServerState

log = logging.getLogger("serving")
router = APIRouter()


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers)


def _server(request: Request) -> ServerState:
    return request.app.state.server


def _not_ready(server: ServerState) -> Response:
    return _json({"status": server.status, "detail": server.reason}, 503, {"Retry-After": "5"})


async def _body(request: Request, server: ServerState, path: str) -> bytes | Response:
    """The request body, or the 415/413 response that refuses it."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        server.metrics.count_error(path, "unsupported_media_type")
        return _json({"detail": f"Content-Type must be application/json, got {content_type or 'none'!r}"}, 415)
    limit = server.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    too_large = _json({"detail": f"request body exceeds {limit} bytes"}, 413)
    if declared.isdigit() and int(declared) > limit:
        server.metrics.count_error(path, "too_large")
        return too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            server.metrics.count_error(path, "too_large")
            return too_large
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _single(outputs: Outputs) -> dict[str, Any]:
    payload: dict[str, Any] = {"prediction": outputs.predictions[0]}
    if outputs.probabilities is not None:
        payload["probability"] = outputs.probabilities[0]
    return payload


def _batch(outputs: Outputs) -> dict[str, Any]:
    payload: dict[str, Any] = {"predictions": outputs.predictions}
    if outputs.probabilities is not None:
        payload["probabilities"] = outputs.probabilities
    return payload


async def _answer(request: Request, path: str, parse: Callable[[RequestSchema, bytes], list[dict[str, Any]]],
                  shape: Callable[[Outputs], dict[str, Any]]) -> Response:
    """Refuse, or validate, predict (micro-batched), count, log and answer."""
    server = _server(request)
    if not server.ready:
        return _not_ready(server)
    body = await _body(request, server, path)
    if isinstance(body, Response):
        return body
    try:
        records = parse(server.schema, body)
    except ValidationError as exc:
        server.metrics.count_error(path, "validation")
        return _json({"detail": error_details(exc)}, 422)
    for record in records:
        unseen = server.schema.unseen(record)
        if unseen:
            server.note_unseen(unseen)
    try:
        outputs = await server.batcher.predict(records)
    except Exception as exc:  # validated input the model still fails on: a bug worth a 500 and a log line
        server.metrics.count_error(path, "model")
        log.error("model call failed on %d records: %s: %s", len(records), exc.__class__.__name__, exc)
        return _json({"detail": f"the model failed ({exc.__class__.__name__})"}, 500)
    server.record(records, outputs, logged=UNLOGGED_HEADER not in request.headers)
    payload = shape(outputs)
    payload["model_version"] = server.model.version
    return _json(payload)


@router.post("/predict", **docs.PREDICT)
async def predict(request: Request) -> Response:
    return await _answer(request, "/predict", lambda schema, body: [schema.record(body)], _single)


@router.post("/predict/batch", **docs.PREDICT_BATCH)
async def predict_batch(request: Request) -> Response:
    return await _answer(request, "/predict/batch", RequestSchema.batch, _batch)


@router.get("/health/live", **docs.LIVE)
async def live() -> Response:
    return _json({"status": "alive"})


@router.get("/health/ready", **docs.READY)
async def ready(request: Request) -> Response:
    server = _server(request)
    if not server.ready:
        return _not_ready(server)
    return _json({"status": "ready", "model_version": server.model.version})


@router.get("/version", **docs.VERSION)
async def version(request: Request) -> Response:
    server = _server(request)
    if not server.ready:  # a model loaded by a start-up that then failed is not the version this server serves
        return _not_ready(server)
    metadata = server.model.metadata
    return _json({
        "model_version": server.model.version,
        "artifact_sha256": metadata.get("artifact_sha256"),
        "git_commit": metadata.get("git_commit"),
        "trained_at": metadata.get("trained_at"),
        "model_class": metadata.get("model_class"),
        "task": metadata.get("task"),
        "data_sha256": metadata.get("data_sha256"),
        "prediction_path": server.model.predictor.path,
    })


@router.get("/metrics", **docs.METRICS)
async def metrics(request: Request) -> Response:
    server = _server(request)
    server.refresh_metrics()
    return Response(server.metrics.render(), media_type=CONTENT_TYPE)

"""Request schemas generated from the params.yaml features block, the one the pandera data schema comes from.

Validation runs in pydantic-core straight from the request bytes (about a microsecond per record): strict
JSON types, the declared ranges, finite numbers only, within the data schema's limits (integers within
±(2**53 - 1), other numbers within ±1e100: ml.params.MAX_SAFE_INT and MAX_MAGNITUDE), unknown fields rejected,
every field required (null only where the feature is nullable). Unseen categories pass or fail depending on
the `unseen_categories` setting; when they pass, `unseen()` lists them so the server can count them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import TypedDict

from ml.params import Feature

RECORD = "Record"
BATCH = "BatchRequest"
MAX_CATEGORY_CHARS = 200


def _bound(feature: Feature, value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if feature.type == "int" and float(value).is_integer() else value


def _range(feature: Feature) -> tuple[float | int, float | int]:
    """A number feature's range, declared or not, narrowed to what training accepts (Feature.magnitude_limit): an
    integer float64 cannot hold exactly would fail (or silently round) where the model converts it."""
    low, high, limit = _bound(feature, feature.min), _bound(feature, feature.max), feature.magnitude_limit
    return -limit if low is None else max(low, -limit), limit if high is None else min(high, limit)


def _whole_number(value: Any) -> Any:
    """JSON Schema's integer includes 16.0 (as does the data schema): whole floats become ints."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def field_type(feature: Feature, reject_unseen: bool) -> Any:
    low, high = _range(feature) if feature.is_numeric else (None, None)
    if feature.type == "int":
        kind: Any = Annotated[int, Field(strict=True, ge=low, le=high), BeforeValidator(_whole_number)]
    elif feature.type == "float":
        kind = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=low, le=high)]
    elif feature.type == "bool":
        kind = Annotated[bool, Field(strict=True)]
    elif reject_unseen:
        kind = Literal[feature.values]
    else:
        kind = Annotated[str, Field(strict=True, max_length=MAX_CATEGORY_CHARS,
                                    description=f"known values: {', '.join(feature.values)} "
                                                "(others are accepted, counted and ignored by the model)")]
    return kind | None if feature.nullable else kind


def _typed_dict(name: str, fields: dict[str, Any]) -> type:
    typed = TypedDict(name, fields)  # type: ignore[misc]  # functional form: feature names need not be identifiers
    typed.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return typed


class RequestSchema:
    """Parses and validates request bodies: one record, or {"instances": [records]} up to max_batch."""

    def __init__(self, features: tuple[Feature, ...], max_batch: int, unseen_categories: str = "accept"):
        self.features = features
        self.max_batch = max_batch
        reject = unseen_categories == "reject"
        record = _typed_dict(RECORD, {f.name: field_type(f, reject) for f in features})
        batch = _typed_dict(BATCH, {"instances": Annotated[list[record], Field(min_length=1, max_length=max_batch)]})
        self._record = TypeAdapter(record)
        self._batch = TypeAdapter(batch)
        self._categories = () if reject else tuple(
            (f.name, frozenset(f.values)) for f in features if f.type == "category")

    def record(self, body: bytes | str) -> dict[str, Any]:
        """Raises pydantic.ValidationError; `error_details` turns it into the 422 body."""
        _refuse_more_fields(body, 2 * len(self.features), RECORD)
        return self._record.validate_json(body)

    def batch(self, body: bytes | str) -> list[dict[str, Any]]:
        _refuse_more_fields(body, 2 * (self.max_batch * len(self.features) + 1), BATCH)  # +1: "instances"
        return self._batch.validate_json(body)["instances"]

    def unseen(self, record: dict[str, Any]) -> list[tuple[str, str]]:
        """(feature, value) pairs of categories the model never saw (always empty when they are rejected)."""
        found = []
        for name, known in self._categories:
            value = record[name]
            if value is not None and value not in known:
                found.append((name, value))
        return found

    def openapi_schemas(self) -> dict[str, dict]:
        """JSON schemas for /openapi.json's components: Record and BatchRequest."""
        template = "#/components/schemas/{model}"
        batch = self._batch.json_schema(ref_template=template)
        schemas = batch.pop("$defs", {})
        schemas[BATCH] = batch
        schemas.setdefault(RECORD, self._record.json_schema(ref_template=template))
        return schemas


class _TooManyFields(Exception):
    pass


def _refuse_more_fields(body: bytes | str, limit: int, title: str) -> None:
    """Refuse a body with far more JSON object keys (`limit`: twice what a valid one has) before pydantic-core sees
    it: it reports (and keeps the input of) every unknown field, so 8 MB of `"k1":1,"k2":1,…` cost seconds of the
    event loop, 1.6 GB and a 60 MB answer. Every key is followed by a colon: few colons prove few keys."""
    if body.count(b":" if isinstance(body, bytes) else ":") <= limit:
        return
    count = 0

    def pairs(items: list[tuple[str, Any]]) -> None:
        nonlocal count
        count += len(items)
        if count > limit:
            raise _TooManyFields

    try:
        json.loads(body, object_pairs_hook=pairs)
    except _TooManyFields:
        error = PydanticCustomError("too_many_fields", "The body has more than {limit} fields, twice as many as a "
                                    "valid request", {"limit": limit})
        raise ValidationError.from_exception_data(title, [InitErrorDetails(type=error, loc=(), input=None)]) from None
    except (ValueError, RecursionError):
        return  # not JSON: pydantic-core says where it breaks


def error_details(exc: ValidationError, where: str = "body") -> list[dict[str, Any]]:
    """FastAPI-style 422 details: each names the field (loc) and the problem (msg), without echoing input."""
    return [{"loc": [where, *error["loc"]], "msg": _message(error), "type": error["type"]}
            for error in exc.errors(include_url=False, include_input=False)]


_BOUNDS = {"greater_than_equal": ("ge", "greater than or equal to"), "less_than_equal": ("le", "less than or equal to")}


def _message(error: dict[str, Any]) -> str:
    """pydantic-core writes a float bound in full, MAX_MAGNITUDE as a 1 and a hundred zeros: say it as Python does."""
    key, words = _BOUNDS.get(error["type"], (None, None))
    bound = error.get("ctx", {}).get(key)
    if not isinstance(bound, float) or abs(bound) < 1e16:
        return error["msg"]
    return f"Input should be {words} {bound!r}"

"""Request schemas generated from the params.yaml features block, the one the pandera data schema comes from.

Validation runs in pydantic-core straight from the request bytes (about a microsecond per record): strict
JSON types, the declared ranges, finite numbers only, integers within ±(2**53 - 1), unknown fields rejected,
every field required (null only where the feature is nullable). Unseen categories pass or fail depending on
the `unseen_categories` setting; when they pass, `unseen()` lists them so the server can count them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from ml.params import Feature

RECORD = "Record"
BATCH = "BatchRequest"
MAX_CATEGORY_CHARS = 200
# The model sees every number as a float64, which holds integers exactly only up to 2**53 (and float() overflows
# past ~1.8e308); 2**53 - 1 is also the largest integer JSON parsers agree on (I-JSON, JavaScript).
MAX_SAFE_INT = 2**53 - 1


def _bound(feature: Feature, value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if feature.type == "int" and float(value).is_integer() else value


def _exact_ints(low: float | int | None, high: float | int | None) -> tuple[float | int, float | int]:
    """An int feature's range, declared or not, narrowed to the integers float64 holds exactly: a larger one
    would fail (or silently round) where the model converts it."""
    return (-MAX_SAFE_INT if low is None else max(low, -MAX_SAFE_INT),
            MAX_SAFE_INT if high is None else min(high, MAX_SAFE_INT))


def _whole_number(value: Any) -> Any:
    """JSON Schema's integer includes 16.0 (as does the data schema): whole floats become ints."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def field_type(feature: Feature, reject_unseen: bool) -> Any:
    low, high = _bound(feature, feature.min), _bound(feature, feature.max)
    if feature.type == "int":
        low, high = _exact_ints(low, high)
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

    def record(self, body: bytes) -> dict[str, Any]:
        """Raises pydantic.ValidationError; `error_details` turns it into the 422 body."""
        return self._record.validate_json(body)

    def batch(self, body: bytes) -> list[dict[str, Any]]:
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


def error_details(exc: ValidationError, where: str = "body") -> list[dict[str, Any]]:
    """FastAPI-style 422 details: each names the field (loc) and the problem (msg), without echoing input."""
    return [{"loc": [where, *error["loc"]], "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_input=False, include_context=False)]

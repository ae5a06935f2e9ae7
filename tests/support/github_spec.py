"""Check a request against GitHub's published endpoint metadata (`ghapi.gh_spec`), so the stand-in cannot drift.

Checked: the method and path match an endpoint, typed path parameters parse, query keys are ones the endpoint
takes, required query/body parameters are present, body keys are known and of the documented JSON type.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from ghapi.gh_spec import spec

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "bool": (bool,), "list": (list,), "dict": (dict,), "float": (int, float),
}


@dataclass(frozen=True)
class Endpoint:
    group: str
    name: str
    verb: str
    template: str
    pattern: re.Pattern[str]
    params: tuple[str, ...]
    literals: int
    op: dict[str, Any]

    @property
    def op_name(self) -> str:
        return f"{self.group}/{self.name}"


@dataclass(frozen=True)
class Match:
    endpoint: Endpoint
    route: dict[str, str]


class SpecError(Exception):
    """The request does not fit GitHub's published API; `status` is what GitHub would roughly answer."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


@functools.cache
def endpoints() -> tuple[Endpoint, ...]:
    """Every documented endpoint with a matcher for its path template, the most literal segments first."""
    found = []
    for op in spec["ops"]:
        parts = [p for p in op["path"].split("/") if p]
        names = tuple(p[1:-1] for p in parts if p.startswith("{"))
        regex = "".join("/([^/]+)" if p.startswith("{") else "/" + re.escape(p) for p in parts) or "/"
        if "git" in parts and parts[-1] == "{ref}":
            regex = regex[:-len("/([^/]+)")] + "/(.+)"  # the git ref endpoints take refs with slashes: heads/a/b
        literals = len(parts) - len(names)
        found.append(Endpoint(op["group"], op["name"], op["verb"].upper(), op["path"], re.compile(f"^{regex}$"),
                              names, literals, op))
    return tuple(sorted(found, key=lambda e: -e.literals))


def _route_ok(endpoint: Endpoint, route: dict[str, str]) -> bool:
    types = endpoint.op.get("param_types", {})
    return all(types.get(k) != "int" or v.isdigit() for k, v in route.items())


def match(method: str, path: str) -> Match:
    """The endpoint for method + path; SpecError(404/405) when GitHub has no such endpoint."""
    methods_seen = set()
    for endpoint in endpoints():
        found = endpoint.pattern.match(path)
        if not found:
            continue
        route = dict(zip(endpoint.params, found.groups(), strict=True))
        if not _route_ok(endpoint, route):
            continue
        if endpoint.verb == method:
            return Match(endpoint, route)
        methods_seen.add(endpoint.verb)
    if methods_seen:
        raise SpecError(f"{method} {path}: GitHub only allows {sorted(methods_seen)} here", 405)
    raise SpecError(f"{method} {path}: no such endpoint in GitHub's REST API", 404)


def _type_ok(kind: str | None, value: Any) -> bool:
    if kind is None or kind not in _JSON_TYPES:
        return True
    if kind in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, _JSON_TYPES[kind])


def _query_type_ok(kind: str | None, value: str) -> bool:
    if kind == "int":
        return value.isdigit()
    if kind == "bool":
        return value in ("true", "false")
    return True


def validate(found: Match, query: dict[str, list[str]], body: Any, raw_body: bytes) -> None:
    """Raise SpecError(422) unless query and body fit the endpoint's documented parameters."""
    op = found.endpoint.op
    where = f"{found.endpoint.verb} {found.endpoint.template}"
    types = op.get("param_types", {})
    query_params = set(op.get("query_params") or ())
    body_params = set(op.get("body_params") or ())
    required = set(op.get("required_params") or ())
    for key, values in query.items():
        if key not in query_params:
            raise SpecError(f"{where}: unknown query parameter {key!r}")
        if not all(_query_type_ok(types.get(key), v) for v in values):
            raise SpecError(f"{where}: query parameter {key!r} should be {types.get(key)}")
    for key in required & query_params:
        if key not in query:
            raise SpecError(f"{where}: missing required query parameter {key!r}")
    if not body_params:
        if raw_body and op.get("request_content_type") == "application/json":
            raise SpecError(f"{where}: takes no body")
        return
    if not isinstance(body, dict):
        if required & body_params or raw_body:
            raise SpecError(f"{where}: the body must be a JSON object")
        return
    for key, value in body.items():
        if key not in body_params:
            raise SpecError(f"{where}: unknown body field {key!r}")
        if not _type_ok(types.get(key), value):
            raise SpecError(f"{where}: body field {key!r} should be {types.get(key)}, got {type(value).__name__}")
    for key in required & body_params:
        if key not in body:
            raise SpecError(f"{where}: missing required body field {key!r}")

"""Smoke test a model server before it takes traffic: golden answers, version header, latency budget.

The golden records are written into the bundle's metadata at training time with the exact outputs that model
gave, so a server that loads the wrong file, a different library version or a broken preprocessing step fails here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml.deploy import http
from serving.predlog import UNLOGGED_HEADER

PROBABILITY_TOLERANCE = 1e-6
NOT_TRAFFIC = {UNLOGGED_HEADER: "1"}  # the server answers and counts these requests but keeps them out of its log


def version_label(metadata: dict[str, Any]) -> str:
    """The X-Model-Version a server reports for this bundle: vN once promoted, dev-<sha8> before."""
    version = metadata.get("version")
    if version is not None:
        return f"v{int(version)}"
    return f"dev-{str(metadata.get('artifact_sha256', ''))[:8]}"


@dataclass
class SmokeResult:
    url: str
    expected_version: str
    problems: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def p95_ms(self) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]

    def one_line(self) -> str:
        if self.ok:
            return (f"smoke test passed: {self.checked} golden answers from {self.expected_version} match, "
                    f"p95 latency {self.p95_ms:.1f} ms")
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"smoke test failed at {self.url}: {self.problems[0]}{more}"


def _answer_problem(index: int, expected: dict[str, Any], answer: Any) -> str | None:
    if not isinstance(answer, dict):
        return f"golden record {index}: answer is not a JSON object"
    if answer.get("prediction") != expected.get("prediction"):
        return (f"golden record {index}: prediction {answer.get('prediction')!r}, "
                f"expected {expected.get('prediction')!r}")
    want = expected.get("probability")
    if want is not None:
        got = answer.get("probability")
        if not isinstance(got, int | float) or abs(got - want) > PROBABILITY_TOLERANCE:
            return f"golden record {index}: probability {got!r}, expected {want:.6f} (tolerance 1e-6)"
    return None


def smoke_test(url: str, model_dir: str | Path, latency_budget_ms: float | None = None,
               rounds: int = 3, timeout: float = 5.0) -> SmokeResult:
    """Check /health/ready, every golden record (`rounds` times, for the latency sample) and the version header."""
    from ml.bundle import read_metadata  # imports joblib and numpy: not for status/rollback

    metadata = read_metadata(model_dir)
    result = SmokeResult(url=url, expected_version=version_label(metadata))
    golden = metadata.get("golden") or []
    if not golden:
        result.problems.append(f"{model_dir}: metadata has no golden records to check")
        return result
    try:
        ready = http.get(http.join(url, "/health/ready"), timeout=timeout)
        if ready.status != 200:
            result.problems.append(f"/health/ready answered {ready.status}")
            return result
        http.request("POST", http.join(url, "/predict"), golden[0]["features"], timeout=timeout,
                     extra_headers=NOT_TRAFFIC)  # warm-up
        for _ in range(max(1, rounds)):
            for index, record in enumerate(golden):
                response = http.request("POST", http.join(url, "/predict"), record["features"], timeout=timeout,
                                        extra_headers=NOT_TRAFFIC)
                result.latencies_ms.append(response.seconds * 1000)
                result.checked += 1
                problem = _check_response(index, record, response, result.expected_version)
                if problem:
                    result.problems.append(problem)
    except OSError as exc:
        result.problems.append(f"server unreachable ({exc.__class__.__name__}: {exc})")
        return result
    if result.ok and latency_budget_ms is not None and result.p95_ms > latency_budget_ms:
        result.problems.append(f"p95 latency {result.p95_ms:.2f} ms exceeds the {latency_budget_ms:g} ms budget")
    result.checked = len(golden)
    return result


def _check_response(index: int, record: dict[str, Any], response: http.Response, expected_version: str) -> str | None:
    if response.status != 200:
        return f"golden record {index}: POST /predict answered {response.status}: {response.body[:200]!r}"
    header = response.header("x-model-version")
    if header != expected_version:
        return f"X-Model-Version is {header!r}, expected {expected_version!r} (is the right model loaded?)"
    try:
        answer = response.json()
    except ValueError:
        return f"golden record {index}: answer is not JSON"
    return _answer_problem(index, record, answer)

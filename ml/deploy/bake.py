"""Bake: after the switch, watch the new slot's /metrics for a while and say whether it is healthy.

The server exposes Prometheus text. We read counters and the latency histogram at the start and on every poll
and judge only the difference, so traffic served before the switch (the smoke test, warm-up) does not count.
Metric names are matched loosely (…requests_total with a 5xx status label, or …errors_total when there are no
status labels; a latency/duration histogram), prediction routes only, so a renamed metric in the server does not
silently disable the check: no histogram at all is a failure.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ml.deploy import http

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_STATUS_LABELS = ("status", "code", "status_code")
_ROUTE_LABELS = ("path", "endpoint", "handler", "route")


def parse_prometheus(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            continue
        name, labels, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            continue
        samples.append((name, dict(_LABEL.findall(labels or "")), number))
    return samples


def _is_prediction_route(labels: dict[str, str]) -> bool:
    routes = [labels[k] for k in _ROUTE_LABELS if k in labels]
    return not routes or any("predict" in r for r in routes)


@dataclass(frozen=True)
class Snapshot:
    requests: float
    errors: float
    buckets: dict[float, float]   # cumulative count of latencies <= le seconds

    @classmethod
    def from_text(cls, text: str) -> Snapshot:
        requests = errors = 0.0
        status_errors = 0.0
        has_status = False
        buckets: dict[float, float] = {}
        for name, labels, value in parse_prometheus(text):
            if not _is_prediction_route(labels):
                continue
            lowered = name.lower()
            if lowered.endswith("_bucket") and "le" in labels and ("latency" in lowered or "duration" in lowered):
                le = math.inf if labels["le"] in ("+Inf", "Inf", "inf") else float(labels["le"])
                buckets[le] = buckets.get(le, 0.0) + value
            elif lowered.endswith("requests_total") and "error" not in lowered:
                requests += value
                status = next((labels[k] for k in _STATUS_LABELS if k in labels), "")
                has_status = has_status or bool(status)
                if status.startswith("5"):
                    status_errors += value
            elif lowered.endswith("errors_total"):
                errors += value
        # With status codes, only 5xx are the server's fault; a 422 for a bad input is the client's.
        return cls(requests=requests, errors=status_errors if has_status else errors, buckets=buckets)


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """Upper bound (seconds) of the bucket holding the q-quantile, from cumulative bucket counts."""
    if not buckets:
        return None
    ordered = sorted(buckets.items())
    total = ordered[-1][1]
    if total <= 0:
        return None
    for le, count in ordered:
        if count >= q * total:
            return le if math.isfinite(le) else ordered[-2][0] if len(ordered) > 1 else None
    return None


@dataclass
class BakeVerdict:
    ok: bool
    requests: float = 0.0
    errors: float = 0.0
    p95_ms: float | None = None
    problems: list[str] = field(default_factory=list)

    def one_line(self) -> str:
        latency = f", p95 ≤ {self.p95_ms:g} ms" if self.p95_ms is not None else ""
        summary = f"{self.requests:g} requests, {self.errors:g} errors{latency}"
        return f"bake passed: {summary}" if self.ok else f"bake failed: {'; '.join(self.problems)} ({summary})"


def judge(start: Snapshot, now: Snapshot, max_error_rate: float, max_p95_ms: float | None,
          min_requests: int) -> BakeVerdict:
    requests = now.requests - start.requests
    errors = now.errors - start.errors
    delta = {le: now.buckets.get(le, 0.0) - start.buckets.get(le, 0.0) for le in now.buckets}
    p95 = quantile(delta, 0.95)
    verdict = BakeVerdict(ok=True, requests=requests, errors=errors,
                          p95_ms=None if p95 is None else round(p95 * 1000, 3))
    if not now.buckets:
        verdict.problems.append("the server's /metrics has no latency histogram")
    if requests >= min_requests and requests > 0 and errors / requests > max_error_rate:
        verdict.problems.append(f"error rate {errors / requests:.1%} above {max_error_rate:.1%}")
    if max_p95_ms is not None and verdict.p95_ms is not None and requests >= min_requests \
            and verdict.p95_ms > max_p95_ms:
        verdict.problems.append(f"p95 latency bucket {verdict.p95_ms:g} ms above {max_p95_ms:g} ms")
    verdict.ok = not verdict.problems
    return verdict


def read_snapshot(base_url: str, timeout: float = 5.0) -> Snapshot:
    response = http.get(http.join(base_url, "/metrics"), timeout=timeout)
    if response.status != 200:
        raise ConnectionError(f"{base_url}/metrics answered {response.status}")
    return Snapshot.from_text(response.body.decode("utf-8", errors="replace"))


def bake(metrics_url: str, seconds: float, max_error_rate: float = 0.01, max_p95_ms: float | None = None,
         min_requests: int = 1, poll_seconds: float = 0.5,
         probe: Callable[[], str | None] | None = None) -> BakeVerdict:
    """Poll metrics_url for `seconds`; fail early on a bad window. `probe` (optional) sends traffic through the
    live path each poll and returns a problem string when that request failed."""
    try:
        start = read_snapshot(metrics_url)
    except OSError as exc:
        return BakeVerdict(ok=False, problems=[f"cannot read {metrics_url}/metrics ({exc})"])
    deadline = time.monotonic() + seconds
    verdict = BakeVerdict(ok=True)
    while True:
        if probe is not None:
            problem = probe()
            if problem:
                return BakeVerdict(ok=False, problems=[problem])
        try:
            verdict = judge(start, read_snapshot(metrics_url), max_error_rate, max_p95_ms, min_requests)
        except OSError as exc:
            return BakeVerdict(ok=False, problems=[f"cannot read {metrics_url}/metrics ({exc})"])
        if not verdict.ok or time.monotonic() >= deadline:
            return verdict
        time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))

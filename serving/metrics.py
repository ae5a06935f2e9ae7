"""Prometheus metrics in the text exposition format, kept in plain dicts (the event loop is the only writer).

Every series carries the model_version label, so a blue/green deploy can compare two instances' error
rate and latency straight from /metrics:
  error rate  = sum(http_requests_total{status=~"5.."}) / sum(http_requests_total)
  p99 latency = histogram_quantile(0.99, http_request_duration_seconds_bucket)
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: object) -> str:
    return str(value).replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _labels(pairs: dict[str, object]) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in pairs.items()) + "}"


class Histogram:
    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value

    def lines(self, name: str, labels: dict[str, object]) -> list[str]:
        out, cumulative = [], 0
        for bound, count in zip((*self.buckets, "+Inf"), self.counts, strict=True):
            cumulative += count
            le = bound if isinstance(bound, str) else f"{bound:g}"
            out.append(f"{name}_bucket{_labels({**labels, 'le': le})} {cumulative}")
        out.append(f"{name}_sum{_labels(labels)} {self.total:.6f}")
        out.append(f"{name}_count{_labels(labels)} {cumulative}")
        return out


class Metrics:
    def __init__(self) -> None:
        self.model_version = "none"
        self.ready = False
        self.requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: defaultdict[str, Histogram] = defaultdict(lambda: Histogram(LATENCY_BUCKETS))
        self.errors: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.predictions: defaultdict[str, int] = defaultdict(int)
        self.unseen: defaultdict[str, int] = defaultdict(int)
        self.batch_rows = Histogram(BATCH_BUCKETS)
        self.log_written = self.log_dropped = 0  # refreshed from the prediction log at scrape time

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        self.requests[method, path, status] += 1
        self.latency[path].observe(seconds)

    def count_error(self, path: str, reason: str) -> None:
        self.errors[path, reason] += 1

    def count_predictions(self, predictions: list, classification: bool) -> None:
        if not classification:
            self.predictions[""] += len(predictions)
            return
        counts = self.predictions
        for label in predictions:
            counts[label] += 1

    def render(self) -> str:
        version = {"model_version": self.model_version}
        out = [
            "# HELP model_ready 1 once the model is loaded, verified and warmed up.",
            "# TYPE model_ready gauge",
            f"model_ready{_labels(version)} {int(self.ready)}",
            "# HELP http_requests_total HTTP requests by method, path and status code.",
            "# TYPE http_requests_total counter",
        ]
        for (method, path, status), count in sorted(self.requests.items()):
            out.append(f"http_requests_total{_labels({**version, 'method': method, 'path': path, 'status': status})}"
                       f" {count}")
        out += ["# HELP http_request_duration_seconds Time to answer a request, by path.",
                "# TYPE http_request_duration_seconds histogram"]
        for path, histogram in sorted(self.latency.items()):
            out += histogram.lines("http_request_duration_seconds", {**version, "path": path})
        out += ["# HELP prediction_errors_total Requests refused or failed, by path and reason.",
                "# TYPE prediction_errors_total counter"]
        for (path, reason), count in sorted(self.errors.items()):
            out.append(f"prediction_errors_total{_labels({**version, 'path': path, 'reason': reason})} {count}")
        out += ["# HELP predictions_total Records predicted, by predicted class (empty for regression).",
                "# TYPE predictions_total counter"]
        for label, count in sorted(self.predictions.items(), key=lambda item: str(item[0])):
            out.append(f"predictions_total{_labels({**version, 'class': label})} {count}")
        out += ["# HELP unseen_categories_total Accepted category values the model never saw, by feature.",
                "# TYPE unseen_categories_total counter"]
        for feature, count in sorted(self.unseen.items()):
            out.append(f"unseen_categories_total{_labels({**version, 'feature': feature})} {count}")
        out += ["# HELP model_batch_rows Records per model call (micro-batching merges concurrent requests).",
                "# TYPE model_batch_rows histogram"]
        out += self.batch_rows.lines("model_batch_rows", version)
        out += ["# HELP prediction_log_records_total Prediction log records written or dropped.",
                "# TYPE prediction_log_records_total counter",
                f"prediction_log_records_total{_labels({**version, 'outcome': 'written'})} {self.log_written}",
                f"prediction_log_records_total{_labels({**version, 'outcome': 'dropped'})} {self.log_dropped}"]
        return "\n".join(out) + "\n"

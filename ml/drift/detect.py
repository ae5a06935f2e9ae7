"""Compare a current data profile with the reference: per-column checks, BH adjustment, the dataset verdict.

Every column gets the checks its type calls for: numeric → KS gated by Wasserstein/σ (PSI reported);
category and bool → chi-square gated by Jensen-Shannon distance, plus the share of never-seen values; every
column → the null rate. The model's score (or label) distribution is one more column.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ml.drift import stats
from ml.drift.config import DriftConfig
from ml.drift.profile import DataProfile
from ml.drift.report import md_value
from ml.drift.summary import CategorySummary, ColumnSummary, NumericSummary
from ml.drift.verdict import benjamini_hochberg, dataset_verdict
from ml.params import Feature

HISTOGRAM_BINS = 30
HALVES_EXACT = 2.0**52  # below it float64 holds the edges half-way between whole numbers
CHART_CATEGORIES = 10
PREDICTION = "prediction"


def compare(reference: DataProfile, current: DataProfile, features: tuple[Feature, ...],
            config: DriftConfig) -> dict[str, Any]:
    """The full drift result, JSON-ready: {"dataset_drift", "verdict", "columns", ...}."""
    columns = [_column(f.name, f.type, "feature", reference.columns[f.name], current.columns[f.name], config)
               for f in features]
    notes = []
    prediction = _prediction_column(reference, current, config, notes)
    if prediction is not None:
        columns.append(prediction)
    checks = [check for column in columns for check in column["checks"]]
    for check, adjusted in zip(checks, benjamini_hochberg([c["p_value"] for c in checks]), strict=True):
        check["p_adjusted"] = float(adjusted)
        check["drifted"] = bool(adjusted <= config.fdr and check["effect_size"] >= check["threshold"])
    for column in columns:
        _settle(column)
    verdict = dataset_verdict(columns, config)
    return {
        "dataset_drift": verdict["dataset_drift"],
        "verdict": verdict,
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reference": {"source": reference.source, "rows": reference.rows},
        "current": {"source": current.source, "rows": current.rows},
        "config": config.as_dict(),
        "notes": notes,
        "columns": columns,
    }


def _column(name: str, ftype: str, role: str, ref: ColumnSummary, cur: ColumnSummary,
            config: DriftConfig) -> dict[str, Any]:
    if isinstance(ref, NumericSummary):
        checks = [_ks_check(ref, cur, config)] if ref.count and cur.count else []
        chart = _histogram(ref.sample, cur.sample)
    else:
        checks = [_chi_square_check(ref, cur, config)]
        if role == "feature":
            checks.append(_unseen_check(ref, cur, config))
        chart = _category_shares(ref, cur)
    if role == "feature":
        checks.append(_null_check(ref, cur, config))
    return {"column": name, "type": ftype, "role": role, "checks": checks,
            "reference": _describe(ref), "current": _describe(cur), "chart": chart}


def _prediction_column(reference: DataProfile, current: DataProfile, config: DriftConfig,
                       notes: list[str]) -> dict[str, Any] | None:
    ref, cur = reference.prediction, current.prediction
    missing = [side for side, summary in (("reference", ref), ("current", cur)) if summary is None]
    if missing:
        notes.append(f"Prediction drift not checked: the {' and '.join(missing)} data "
                     f"{'has' if len(missing) == 1 else 'have'} no model output (pass --model-dir to score it).")
        return None
    if ref.kind != cur.kind:
        notes.append(f"Prediction drift not checked: the reference holds {_output_word(ref)} "
                     f"but the current data holds {_output_word(cur)}.")
        return None
    return _column(PREDICTION, "score" if ref.kind == "numeric" else "label", PREDICTION, ref, cur, config)


def _output_word(summary: ColumnSummary) -> str:
    return "scores" if summary.kind == "numeric" else "labels"


def _ks_check(ref: NumericSummary, cur: NumericSummary, config: DriftConfig) -> dict[str, Any]:
    statistic, p_value, wasserstein = stats.ks_and_wasserstein(ref.sample, cur.sample)
    scale = ref.std if ref.std > 0 else max(abs(ref.mean), 1.0)
    shift = (cur.mean - ref.mean) / scale
    medians = [stats.sorted_quantile(sample, 0.5) for sample in (ref.sample, cur.sample)]
    return {"test": "ks", "statistic": statistic, "p_value": p_value, "effect_size": wasserstein / scale,
            "effect": "wasserstein / reference std", "threshold": config.numeric_effect,
            "psi": stats.psi(ref.sample, cur.sample),
            **_change(lambda _: f"mean {ref.mean:.4g} → {cur.mean:.4g} ({shift:+.3g} σ), "
                                f"median {medians[0]:.4g} → {medians[1]:.4g}")}


def _chi_square_check(ref: CategorySummary, cur: CategorySummary, config: DriftConfig) -> dict[str, Any]:
    labels = list(dict.fromkeys([*ref.counts, *cur.counts]))
    ref_counts = np.array([ref.counts.get(label, 0) for label in labels], dtype=np.float64)
    cur_counts = np.array([cur.counts.get(label, 0) for label in labels], dtype=np.float64)
    statistic, p_value = stats.chi_square(ref_counts, cur_counts)
    moved = _change(lambda _: "")
    if labels and ref_counts.sum() and cur_counts.sum():
        deltas = cur_counts / cur_counts.sum() - ref_counts / ref_counts.sum()
        top = int(np.argmax(np.abs(deltas)))
        moved = _change(lambda quote: f"share of {quote(labels[top])} {ref_counts[top] / ref_counts.sum():.1%} → "
                                      f"{cur_counts[top] / cur_counts.sum():.1%}")
    return {"test": "chi_square", "statistic": statistic, "p_value": p_value,
            "effect_size": stats.js_distance(ref_counts, cur_counts), "effect": "jensen-shannon distance",
            "threshold": config.categorical_effect, **moved}


def _unseen_check(ref: CategorySummary, cur: CategorySummary, config: DriftConfig) -> dict[str, Any]:
    unseen = {label: count for label, count in cur.counts.items() if label not in ref.counts}
    hits = sum(unseen.values())
    z, p_value = stats.two_proportions(0, ref.count, hits, cur.count)
    share = hits / cur.count if cur.count else 0.0
    top = sorted(unseen.items(), key=lambda item: -item[1])[:5]

    def describe(quote: Callable[[str], str]) -> str:
        shown = ", ".join(f"{quote(label)} ({count / cur.count:.1%})" for label, count in top)
        return f"{share:.1%} of values never seen in the reference: {shown}" if hits else "no unseen values"

    return {"test": "unseen_values", "statistic": z, "p_value": p_value, "effect_size": share,
            "effect": "share of current values never seen in the reference", "threshold": config.unseen_share,
            **_change(describe)}


def _null_check(ref: ColumnSummary, cur: ColumnSummary, config: DriftConfig) -> dict[str, Any]:
    z, p_value = stats.two_proportions(ref.nulls, ref.rows, cur.nulls, cur.rows)
    before, after = ref.nulls / max(ref.rows, 1), cur.nulls / max(cur.rows, 1)
    return {"test": "null_rate", "statistic": z, "p_value": p_value, "effect_size": abs(after - before),
            "effect": "absolute change in null rate", "threshold": config.null_rate_change,
            **_change(lambda _: f"null rate {before:.1%} → {after:.1%}")}


def _change(describe: Callable[[Callable[[str], str]], str]) -> dict[str, str]:
    """What moved, in words, written twice: quoting category values plainly (drift.json; drift.html escapes it), and
    as inert code for drift.md, which goes into a GitHub issue: the values are whatever clients sent the model
    server, and must not mention anyone, link, embed images or add markup there."""
    return {"change": describe(lambda value: f"'{value}'"), "change_md": describe(md_value)}


def _settle(column: dict[str, Any]) -> None:
    """Lift the deciding check (the most significant drifted one, else the distribution test) to the top level."""
    checks = column["checks"]
    drifted = [check for check in checks if check["drifted"]]
    main = min(drifted, key=lambda check: check["p_adjusted"]) if drifted else (checks[0] if checks else None)
    column["drifted"] = bool(drifted)
    tests = {check["test"] for check in drifted}
    said = [check for check in drifted if not (check["test"] == "chi_square" and "unseen_values" in tests)]
    for key in ("change", "change_md"):
        column[key] = "; ".join(check[key] for check in said) if drifted else (main or {}).get(key, "")
    for key in ("test", "statistic", "p_value", "p_adjusted", "effect_size"):
        column[key] = main[key] if main else None


def _histogram(ref: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
    both = [sample for sample in (ref, cur) if sample.size]
    if not both:
        return {"kind": "histogram", "edges": [], "reference": [], "current": []}
    low = min(float(stats.sorted_quantile(sample, 0.005)) for sample in both)
    high = max(float(stats.sorted_quantile(sample, 0.995)) for sample in both)
    integral = all(np.array_equal(sample, np.round(sample)) for sample in both)
    if integral and high - low <= HISTOGRAM_BINS * 2 and max(-low, high) < HALVES_EXACT:
        edges = np.arange(np.floor(low) - 0.5, np.ceil(high) + 1.0)  # counts: one bar per value, no aliasing
    elif high > low:  # halved, as -1e308 to 1e308 (unvalidated data) spans more than float64 holds
        edges = np.linspace(low / 2, high / 2, HISTOGRAM_BINS + 1) * 2
    else:
        edges = np.array([low - 0.5, low + 0.5])

    def shares(sample: np.ndarray) -> list[float]:
        if not sample.size:
            return [0.0] * (edges.size - 1)
        counts, _ = np.histogram(np.clip(sample, edges[0], edges[-1]), bins=edges)
        return (counts / sample.size).tolist()

    return {"kind": "histogram", "edges": edges.tolist(), "reference": shares(ref), "current": shares(cur)}


def _category_shares(ref: CategorySummary, cur: CategorySummary) -> dict[str, Any]:
    def share(summary: CategorySummary, label: str) -> float:
        return summary.counts.get(label, 0) / summary.count if summary.count else 0.0

    labels = sorted(set(ref.counts) | set(cur.counts), key=lambda label: -max(share(ref, label), share(cur, label)))
    shown, rest = labels[:CHART_CATEGORIES], labels[CHART_CATEGORIES:]
    chart = {"kind": "categories", "labels": shown, "reference": [share(ref, label) for label in shown],
             "current": [share(cur, label) for label in shown], "unseen": [label not in ref.counts for label in shown]}
    if rest:
        chart["labels"].append(f"(other {len(rest)})")
        chart["reference"].append(sum(share(ref, label) for label in rest))
        chart["current"].append(sum(share(cur, label) for label in rest))
        chart["unseen"].append(False)
    return chart


def _describe(summary: ColumnSummary) -> dict[str, Any]:
    described: dict[str, Any] = {"rows": summary.rows, "null_rate": summary.nulls / max(summary.rows, 1)}
    if isinstance(summary, NumericSummary):
        if summary.count:
            described.update(mean=summary.mean, std=summary.std, min=summary.min, max=summary.max,
                             median=float(stats.sorted_quantile(summary.sample, 0.5)))
    else:
        total = max(summary.count, 1)
        described["categories"] = len(summary.counts)
        described["top"] = [[label, count / total] for label, count in
                            sorted(summary.counts.items(), key=lambda item: -item[1])[:5]]
    return described

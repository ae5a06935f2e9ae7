"""Challenger vs champion on the same holdout: metric deltas with paired bootstrap CIs, McNemar, the decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

from ml.bootstrap import paired_delta_samples
from ml.bundle import load_bundle
from ml.compatibility import schema_mismatch
from ml.dataset import Dataset
from ml.evaluate import Outputs, holdout_outputs, metric_table, predict
from ml.gate import Decision, MetricDelta, cannot_compare, decide, first_model
from ml.metrics import METRICS
from ml.params import Params
from ml.split import held_out_by


def flatten(mapping: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(mapping, dict):
        return {prefix.rstrip("."): mapping}
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        flat.update(flatten(value, f"{prefix}{key}."))
    return flat


_ABSENT = object()


def params_diff(old: dict, new: dict) -> list[dict[str, Any]]:
    """The keys whose values differ; a side that lacks the key has no entry, so an explicit null stays a null."""
    before, after = flatten(old or {}), flatten(new or {})
    diff = []
    for key in sorted(set(before) | set(after)):
        sides = {"champion": before.get(key, _ABSENT), "challenger": after.get(key, _ABSENT)}
        if sides["champion"] != sides["challenger"]:
            diff.append({"key": key, **{side: value for side, value in sides.items() if value is not _ABSENT}})
    return diff


def mcnemar(y: np.ndarray, champion: Outputs, challenger: Outputs) -> dict[str, float]:
    """Exact McNemar test on the rows exactly one of the two models gets right."""
    champ_right = champion.predictions == y
    chall_right = challenger.predictions == y
    only_champion = int(np.sum(champ_right & ~chall_right))
    only_challenger = int(np.sum(chall_right & ~champ_right))
    discordant = only_champion + only_challenger
    p_value = binomtest(only_challenger, discordant, 0.5).pvalue if discordant else 1.0
    return {"only_champion_correct": only_champion, "only_challenger_correct": only_challenger,
            "p_value": float(p_value)}


def _model_summary(metadata: dict) -> dict[str, Any]:
    keys = ("version", "artifact_sha256", "data_sha256", "git_commit", "trained_at", "model_class")
    return {key: metadata.get(key) for key in keys}


def compare(challenger_dir: Path, champion_dir: Path | None, dataset: Dataset, params: Params,
            chall_out: Outputs | None = None) -> dict[str, Any]:
    """chall_out: the challenger's outputs on dataset's holdout when the caller has just made them (run_pipeline)."""
    chall_meta, chall_out = holdout_outputs(challenger_dir, dataset, params, chall_out)
    y = dataset.y_holdout
    chall_scores = metric_table(y, chall_out, params)
    result: dict[str, Any] = {
        "primary_metric": params.primary_metric,
        "direction": params.direction,
        "confidence": params.gate.confidence,
        "resamples": params.gate.bootstrap_resamples,
        "holdout": {"rows": int(len(y)), "fingerprint": dataset.holdout_fingerprint},
        "challenger": _model_summary(chall_meta),
        "champion": None,
        "needs_human_review": False,
        "metrics": {name: {"champion": None, "challenger": value, "delta": None, "ci_low": None, "ci_high": None,
                           "significant": None, "direction": METRICS[params.task][name]}
                    for name, value in chall_scores.items()},
        "params_diff": [],
    }
    if champion_dir is None:
        return _with_verdict(result, first_model(chall_scores, params))

    champion, champ_meta = load_bundle(champion_dir)
    result["champion"] = _model_summary(champ_meta)
    result["params_diff"] = params_diff(champ_meta.get("params", {}), params.raw)
    mismatch = schema_mismatch(champ_meta, params, dataset.labels)
    if mismatch is None:
        try:
            champ_out = predict(champion, dataset.X_holdout, params)
        except Exception as exc:  # any failure of an old model on new data is the same finding
            mismatch = f"the champion cannot score the new holdout ({exc.__class__.__name__})"
    if mismatch is not None:
        return _with_verdict(result, cannot_compare(mismatch))

    unseen = held_out_by(champ_meta, dataset.holdout_keys)
    split_note = _champion_split_note(unseen, champ_meta, params)
    if unseen is not None and not unseen.all():
        if not unseen.any():
            return _with_verdict(result, cannot_compare(f"every holdout row is one {split_note}"))
        y, chall_out, champ_out = y[unseen], chall_out.rows(unseen), champ_out.rows(unseen)
        chall_scores = metric_table(y, chall_out, params)
        result["holdout"].update(rows=int(len(y)), champion_trained_rows=int((~unseen).sum()))
        for name, value in chall_scores.items():  # metrics.json keeps the whole holdout's; the report shows both
            entry = result["metrics"][name]
            entry.update(challenger_whole_holdout=entry["challenger"], challenger=value)
    champ_scores = metric_table(y, champ_out, params)
    names = list(chall_scores)
    samples = paired_delta_samples(y, champ_out, chall_out, params.task, names,
                                   params.gate.bootstrap_resamples, params.seed)
    tail = (1 - params.gate.confidence) / 2 * 100
    deltas = {}
    for name in names:
        finite = samples[name][np.isfinite(samples[name])]
        low, high = (np.percentile(finite, [tail, 100 - tail]) if finite.size else (np.nan, np.nan))
        deltas[name] = MetricDelta(name, METRICS[params.task][name], champ_scores[name], chall_scores[name],
                                   float(low), float(high))
        result["metrics"][name].update(champion=champ_scores[name], delta=deltas[name].delta,
                                       ci_low=float(low), ci_high=float(high),
                                       significant=bool(deltas[name].significant))
    if params.task == "classification":
        result["mcnemar"] = mcnemar(y, champ_out, chall_out)
    result = _with_verdict(result, decide(deltas, params))
    if split_note and unseen is None:
        result["reasons"].append(split_note)
    elif split_note:
        result["reasons"].append(f"compared on the {len(y)} holdout rows the champion held out too, leaving out "
                                 f"{result['holdout']['champion_trained_rows']} {split_note}")
    return result


def _champion_split_note(unseen: np.ndarray | None, champ_meta: dict, params: Params) -> str | None:
    """Why some holdout rows may be ones the champion trained on (a model re-scored on its own training rows looks
    better than it is), or None when its split settings are today's: then it held out every row we hold out."""
    if unseen is None:
        return ("the champion's training rows were chosen another way (a bundle from before the row-hash split): "
                "some holdout rows may be ones it trained on, which flatters it; its next successor is judged "
                "fairly")
    if unseen.all():
        return None
    split = champ_meta["params"]["split"]
    return (f"the champion trained on (its split: test_size {split['test_size']}, seed {split['seed']}; "
            f"now {params.test_size}, {params.seed})")


def _with_verdict(result: dict[str, Any], verdict: Decision) -> dict[str, Any]:
    result.update(decision=verdict.decision, reasons=verdict.reasons, needs_human_review=verdict.needs_human_review)
    return result

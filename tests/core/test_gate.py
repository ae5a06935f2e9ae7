"""The gate on constructed cases, and the statistics behind it checked against slow reference implementations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sklearn
import yaml
from scipy import stats
from sklearn import metrics as skm

from ml.bootstrap import BLOCK, paired_delta_samples, poisson_counts, resample_blocks
from ml.compare import mcnemar, params_diff
from ml.compatibility import schema_mismatch
from ml.evaluate import Outputs
from ml.gate import PROMOTE, REJECT, MetricDelta, decide, first_model
from ml.params import Params, Tolerance, parse_params
from ml.weighted_metrics import point_scores
from tests.conftest import base_params

# ---------------------------------------------------------------- the gate on constructed cases


def gate_params(tmp_path, task: str = "classification", guardrails: dict | None = None, **gate: Any) -> Params:
    raw = base_params()
    raw["gate"].update(gate)
    if task == "regression":
        raw.update(task="regression", target="spend")
        raw["metrics"] = {"primary": {"name": "rmse", "direction": "minimize"}, "guardrails": {"mae": 0.5}}
    if guardrails is not None:
        raw["metrics"]["guardrails"] = guardrails
    return parse_params(raw, tmp_path)


def deltas(**metrics: tuple[float, float, float, float]) -> dict[str, MetricDelta]:
    """name=(champion, challenger, ci_low, ci_high), directions from the metric table."""
    from ml.metrics import CLASSIFICATION, REGRESSION

    directions = {**CLASSIFICATION, **REGRESSION}
    return {name: MetricDelta(name, directions[name], *values) for name, values in metrics.items()}


HOLDING_GUARDRAILS = {"log_loss": (0.45, 0.44, -0.02, 0.0), "recall": (0.50, 0.51, -0.01, 0.03)}


def test_clear_win_is_promoted_even_when_significance_is_required(tmp_path) -> None:
    case = deltas(roc_auc=(0.80, 0.85, 0.03, 0.07), **HOLDING_GUARDRAILS)
    for required in (False, True):
        verdict = decide(case, gate_params(tmp_path, require_significance=required))
        assert verdict.decision == PROMOTE, verdict.reasons
        assert "roc_auc improved by 0.0500" in verdict.reasons[0]


def test_clear_loss_is_rejected(tmp_path) -> None:
    verdict = decide(deltas(roc_auc=(0.85, 0.80, -0.07, -0.03), **HOLDING_GUARDRAILS), gate_params(tmp_path))
    assert verdict.decision == REJECT
    assert "roc_auc changed by -0.0500" in verdict.reasons[0]


def test_no_change_is_rejected(tmp_path) -> None:
    verdict = decide(deltas(roc_auc=(0.80, 0.80, -0.01, 0.01), **HOLDING_GUARDRAILS), gate_params(tmp_path))
    assert verdict.decision == REJECT


def test_a_tie_at_the_best_possible_score_is_left_to_a_human(tmp_path) -> None:
    """No challenger can ever beat a perfect roc_auc on that holdout: say why, instead of rejecting every one."""
    verdict = decide(deltas(roc_auc=(1.0, 1.0, 0.0, 0.0), **HOLDING_GUARDRAILS), gate_params(tmp_path))
    assert verdict.decision == REJECT and verdict.needs_human_review
    assert "both models' roc_auc is 1 on this holdout, the best it can be" in verdict.reasons[0]
    worse = decide(deltas(roc_auc=(1.0, 0.98, -0.04, 0.0), **HOLDING_GUARDRAILS), gate_params(tmp_path))
    assert worse.decision == REJECT and not worse.needs_human_review  # simply worse
    perfect = deltas(rmse=(0.0, 0.0, 0.0, 0.0), mae=(0.0, 0.0, 0.0, 0.0))
    regression = decide(perfect, gate_params(tmp_path, "regression"))
    assert regression.needs_human_review and "both models' rmse is 0" in regression.reasons[0]


def test_improvement_within_noise_depends_on_require_significance(tmp_path) -> None:
    case = deltas(roc_auc=(0.800, 0.802, -0.004, 0.008), **HOLDING_GUARDRAILS)
    strict = decide(case, gate_params(tmp_path, require_significance=True))
    assert strict.decision == REJECT
    assert any("within noise" in reason and "[-0.004, +0.008]" in reason for reason in strict.reasons)
    lenient = decide(case, gate_params(tmp_path, require_significance=False))
    assert lenient.decision == PROMOTE
    assert ("not significant at 95% (95% CI [-0.004, +0.008] includes zero; gate.require_significance is off)"
            in lenient.reasons)


def test_a_significant_improvement_gets_no_noise_caveat_when_significance_is_not_required(tmp_path) -> None:
    verdict = decide(deltas(roc_auc=(0.80, 0.85, 0.03, 0.07), **HOLDING_GUARDRAILS),
                     gate_params(tmp_path, require_significance=False))
    assert not any("significant" in reason or "noise" in reason for reason in verdict.reasons)


def test_ci_bounds_in_reasons_keep_three_significant_figures(tmp_path) -> None:
    """Fixed 4 decimals printed a bound of 0.00003 as +0.0000, next to a claim that it excludes zero."""
    verdict = decide(deltas(roc_auc=(0.80, 0.8001, 0.00003, 0.00021), **HOLDING_GUARDRAILS),
                     gate_params(tmp_path, require_significance=True))
    assert "the improvement is significant (95% CI [+3e-05, +0.00021])" in verdict.reasons


def test_improvement_below_the_minimum_is_rejected(tmp_path) -> None:
    small = deltas(roc_auc=(0.80, 0.805, 0.001, 0.009), **HOLDING_GUARDRAILS)
    assert decide(small, gate_params(tmp_path, min_improvement=0.01)).decision == REJECT
    big = deltas(roc_auc=(0.80, 0.82, 0.01, 0.03), **HOLDING_GUARDRAILS)
    assert decide(big, gate_params(tmp_path, min_improvement=0.01)).decision == PROMOTE


def test_an_improvement_of_exactly_the_minimum_is_promoted(tmp_path) -> None:
    """"At least min_improvement": binary-exact values, so the improvement is the minimum to the last bit."""
    case = deltas(roc_auc=(0.25, 0.75, 0.25, 0.75), **HOLDING_GUARDRAILS)
    verdict = decide(case, gate_params(tmp_path, min_improvement=0.5))
    assert verdict.decision == PROMOTE, verdict.reasons
    assert decide(case, gate_params(tmp_path, min_improvement=0.75)).decision == REJECT


def test_an_improvement_of_the_minimum_in_decimals_is_promoted(tmp_path) -> None:
    """0.57 - 0.56 is 0.009999999999999898 in binary: still the 0.01 the gate asks for."""
    case = deltas(roc_auc=(0.56, 0.57, 0.001, 0.02), **HOLDING_GUARDRAILS)
    assert decide(case, gate_params(tmp_path, min_improvement=0.01)).decision == PROMOTE
    assert decide(case, gate_params(tmp_path, min_improvement=0.0101)).decision == REJECT


@pytest.mark.parametrize("guardrail, champion, challenger, says", [
    ("log_loss", 0.40, 0.45, "guardrail log_loss regressed by 0.0500 (tolerance 0.02)"),
    ("recall", 0.50, 0.46, "guardrail recall regressed by 0.0400 (tolerance 0.03)"),
])
def test_guardrail_regression_beyond_tolerance_rejects_a_winner(tmp_path, guardrail, champion, challenger,
                                                                says) -> None:
    metrics = {**HOLDING_GUARDRAILS, guardrail: (champion, challenger, -0.1, 0.1)}
    verdict = decide(deltas(roc_auc=(0.80, 0.85, 0.03, 0.07), **metrics), gate_params(tmp_path))
    assert verdict.decision == REJECT
    assert says in verdict.reasons


def test_guardrail_regression_within_tolerance_is_allowed(tmp_path) -> None:
    metrics = {"log_loss": (0.40, 0.415, -0.01, 0.04), "recall": (0.50, 0.48, -0.05, 0.01)}
    verdict = decide(deltas(roc_auc=(0.80, 0.85, 0.03, 0.07), **metrics), gate_params(tmp_path))
    assert verdict.decision == PROMOTE, verdict.reasons
    assert "✓ guardrail log_loss: +0.015 within tolerance 0.02" in verdict.reasons
    assert "✓ guardrail recall: -0.02 within tolerance 0.03" in verdict.reasons


def test_a_guardrail_regression_of_exactly_the_tolerance_is_allowed(tmp_path) -> None:
    """"May not get worse by more than" the tolerance: mae 7.5 → 8.0 against a tolerance of 0.5 (exact in binary)."""
    params = gate_params(tmp_path, task="regression")
    at_tolerance = decide(deltas(rmse=(10.0, 9.0, -1.5, -0.5), mae=(7.5, 8.0, 0.25, 0.75)), params)
    assert at_tolerance.decision == PROMOTE, at_tolerance.reasons
    assert "✓ guardrail mae: +0.5 within tolerance 0.5" in at_tolerance.reasons
    beyond = decide(deltas(rmse=(10.0, 9.0, -1.5, -0.5), mae=(7.5, 8.125, 0.25, 0.75)), params)
    assert beyond.decision == REJECT


def test_an_unquoted_percentage_in_params_yaml_is_a_relative_tolerance(tmp_path) -> None:
    """YAML reads an unquoted 10% as the string "10%"; a number stays an absolute tolerance."""
    raw = base_params()
    raw["metrics"]["guardrails"] = yaml.safe_load("log_loss: 10%\nrecall: 0.03\nbrier: 2.5%")
    guardrails = parse_params(raw, tmp_path).guardrails
    assert guardrails == {"log_loss": Tolerance(10.0, relative=True), "recall": Tolerance(0.03),
                          "brier": Tolerance(2.5, relative=True)}
    assert [str(tolerance) for tolerance in guardrails.values()] == ["10%", "0.03", "2.5%"]


@pytest.mark.parametrize("guardrail, champion, challenger, held, says", [
    # log_loss is worse when it goes up: 10% of 0.40 allows up to 0.44
    ("log_loss", 0.40, 0.43, True, "✓ guardrail log_loss: +0.03 within tolerance 10% of 0.4000 = 0.0400"),
    ("log_loss", 0.40, 0.45, False, "guardrail log_loss regressed by 0.0500 (tolerance 10% of 0.4000 = 0.0400)"),
    ("log_loss", 0.40, 0.20, True, "✓ guardrail log_loss: -0.2 within tolerance 10% of 0.4000 = 0.0400"),
    # recall is worse when it goes down: 10% of 0.50 allows down to 0.45
    ("recall", 0.50, 0.46, True, "✓ guardrail recall: -0.04 within tolerance 10% of 0.5000 = 0.0500"),
    ("recall", 0.50, 0.44, False, "guardrail recall regressed by 0.0600 (tolerance 10% of 0.5000 = 0.0500)"),
    ("recall", 0.50, 0.90, True, "✓ guardrail recall: +0.4 within tolerance 10% of 0.5000 = 0.0500"),
])
def test_a_relative_guardrail_allows_a_share_of_the_champions_value_in_the_metrics_direction(
        tmp_path, guardrail, champion, challenger, held, says) -> None:
    metrics = {**HOLDING_GUARDRAILS, guardrail: (champion, challenger, -0.1, 0.1)}
    params = gate_params(tmp_path, guardrails={"log_loss": "10%", "recall": "10%"})
    verdict = decide(deltas(roc_auc=(0.80, 0.85, 0.03, 0.07), **metrics), params)
    assert verdict.decision == (PROMOTE if held else REJECT), verdict.reasons
    assert says in verdict.reasons


def test_a_relative_guardrail_catches_a_doubled_log_loss_on_imbalanced_data(tmp_path) -> None:
    """On 1%-positive data log loss is small (the base rate alone scores ~0.056): an absolute 0.02 lets a good
    champion's 0.018 double, while 10% of it does not."""
    base_rate_loss = skm.log_loss([1] + [0] * 99, [0.01] * 100)
    assert 0.05 < base_rate_loss < 0.06
    doubled = deltas(roc_auc=(0.90, 0.91, 0.002, 0.02), log_loss=(0.018, 0.036, 0.01, 0.026),
                     recall=(0.50, 0.51, -0.01, 0.03))
    absolute = decide(doubled, gate_params(tmp_path, guardrails={"log_loss": 0.02, "recall": 0.03}))
    assert absolute.decision == PROMOTE and "✓ guardrail log_loss: +0.018 within tolerance 0.02" in absolute.reasons
    relative = decide(doubled, gate_params(tmp_path, guardrails={"log_loss": "10%", "recall": 0.03}))
    assert relative.decision == REJECT
    assert "guardrail log_loss regressed by 0.0180 (tolerance 10% of 0.0180 = 0.0018)" in relative.reasons


def test_a_relative_guardrail_on_a_perfect_champion_allows_no_regression(tmp_path) -> None:
    """A share of 0 is 0: against a champion mae of 0 the challenger may not be worse at all."""
    params = gate_params(tmp_path, task="regression", guardrails={"mae": "10%"})
    same = decide(deltas(rmse=(10.0, 9.0, -1.5, -0.5), mae=(0.0, 0.0, 0.0, 0.0)), params)
    assert same.decision == PROMOTE and "✓ guardrail mae: +0 within tolerance 10% of 0.0000 = 0.0000" in same.reasons
    worse = decide(deltas(rmse=(10.0, 9.0, -1.5, -0.5), mae=(0.0, 0.00002, 0.0, 0.0)), params)
    assert worse.decision == REJECT
    assert "guardrail mae regressed by 2e-05 (tolerance 10% of 0.0000 = 0.0000)" in worse.reasons


def test_a_relative_guardrail_scales_a_negative_champions_magnitude(tmp_path) -> None:
    """r2 can be negative: 50% of a champion's -0.2 allows 0.1 lower (to -0.3), never a negative tolerance."""
    params = gate_params(tmp_path, task="regression", guardrails={"r2": "50%"})
    within = decide(deltas(rmse=(10.0, 9.0, -1.5, -0.5), r2=(-0.2, -0.25, -0.1, 0.0)), params)
    assert within.decision == PROMOTE, within.reasons
    assert "✓ guardrail r2: -0.05 within tolerance 50% of 0.2000 = 0.1000" in within.reasons
    beyond = decide(deltas(rmse=(10.0, 9.0, -1.5, -0.5), r2=(-0.2, -0.35, -0.2, -0.1)), params)
    assert beyond.decision == REJECT


def test_a_relative_guardrail_regression_of_exactly_the_tolerance_is_allowed(tmp_path) -> None:
    """50% of mae 0.5 is 0.25, exact in binary like the regression 0.5 → 0.75."""
    params = gate_params(tmp_path, task="regression", guardrails={"mae": "50%"})
    assert decide(deltas(rmse=(10.0, 9.0, -1.5, -0.5), mae=(0.5, 0.75, 0.1, 0.4)), params).decision == PROMOTE
    assert decide(deltas(rmse=(10.0, 9.0, -1.5, -0.5), mae=(0.5, 0.78125, 0.1, 0.4)), params).decision == REJECT


@pytest.mark.parametrize("tolerance, champion, challenger", [
    ("10%", 0.40, 0.44),  # 10% of 0.40 is 0.04000000000000001, 0.44 - 0.40 is 0.040000000000000036
    (0.1, 0.7, 0.8),      # 0.8 - 0.7 is 0.10000000000000009
])
def test_a_guardrail_regression_at_the_tolerance_in_decimals_is_allowed(tmp_path, tolerance, champion,
                                                                        challenger) -> None:
    """Decimal values are not exact in binary: a regression that is the tolerance to the last digit written holds."""
    params = gate_params(tmp_path, guardrails={"log_loss": tolerance})
    metrics = {"log_loss": (champion, challenger, 0.0, 0.2)}
    verdict = decide(deltas(roc_auc=(0.80, 0.85, 0.03, 0.07), **metrics), params)
    assert verdict.decision == PROMOTE, verdict.reasons
    nudged = {"log_loss": (champion, challenger + 1e-6, 0.0, 0.2)}
    assert decide(deltas(roc_auc=(0.80, 0.85, 0.03, 0.07), **nudged), params).decision == REJECT


NAN = float("nan")


def test_the_first_model_is_promoted_unless_its_primary_metric_is_undefined(tmp_path) -> None:
    params = gate_params(tmp_path)
    first = first_model({"roc_auc": 0.8, "accuracy": 0.7}, params)
    assert first.decision == PROMOTE and not first.needs_human_review
    undefined = first_model({"roc_auc": NAN, "accuracy": 1.0}, params)
    assert undefined.decision == REJECT and undefined.needs_human_review
    assert "roc_auc is undefined on this holdout" in undefined.reasons[0]


@pytest.mark.parametrize("case, undefined", [
    (dict(roc_auc=(NAN, NAN, NAN, NAN), **HOLDING_GUARDRAILS), "roc_auc is"),  # a holdout without positives
    (dict(roc_auc=(0.80, NAN, NAN, NAN), **HOLDING_GUARDRAILS), "roc_auc is"),
    (dict(roc_auc=(0.80, 0.85, 0.03, 0.07), log_loss=(0.45, NAN, NAN, NAN), recall=(0.5, 0.51, 0, 0.03)),
     "log_loss is"),
    (dict(roc_auc=(NAN, NAN, NAN, NAN), log_loss=(0.45, 0.44, 0, 0), recall=(NAN, NAN, NAN, NAN)),
     "roc_auc, recall are"),
])
def test_an_undefined_gated_metric_is_left_to_a_human_never_promoted(tmp_path, case, undefined) -> None:
    """NaN fails every comparison: `improvement <= 0` and `regression > tolerance` are both False for it."""
    for required in (False, True):
        verdict = decide(deltas(**case), gate_params(tmp_path, require_significance=required))
        assert verdict.decision == REJECT and verdict.needs_human_review is True
        assert verdict.reasons == [f"cannot compare: {undefined} undefined on this holdout (NaN: e.g. it lacks a "
                                   "class). A human must decide (promote with --force)."]


def test_an_undefined_metric_outside_the_gate_does_not_block_it(tmp_path) -> None:
    verdict = decide(deltas(roc_auc=(0.80, 0.85, 0.03, 0.07), brier=(NAN, NAN, NAN, NAN), **HOLDING_GUARDRAILS),
                     gate_params(tmp_path))
    assert verdict.decision == PROMOTE and verdict.needs_human_review is False


def test_a_metric_to_minimize_improves_when_it_goes_down(tmp_path) -> None:
    params = gate_params(tmp_path, task="regression", require_significance=True)
    better = decide(deltas(rmse=(10.0, 9.0, -1.5, -0.5), mae=(8.0, 7.5, -1, 0)), params)
    assert better.decision == PROMOTE, better.reasons
    worse = decide(deltas(rmse=(9.0, 10.0, 0.5, 1.5), mae=(7.5, 8.0, 0, 1)), params)
    assert worse.decision == REJECT
    mae_regressed = decide(deltas(rmse=(10.0, 9.0, -1.5, -0.5), mae=(7.0, 8.0, 0.5, 1.5)), params)
    assert mae_regressed.decision == REJECT
    assert "guardrail mae regressed by 1.0000 (tolerance 0.5)" in mae_regressed.reasons


def test_a_metric_to_minimize_whose_ci_straddles_zero_is_within_noise(tmp_path) -> None:
    """For rmse better is negative: significance needs the whole CI below zero, not just its lower bound."""
    case = deltas(rmse=(10.0, 9.5, -1.0, 0.2), mae=(8.0, 7.5, -1, 0))
    strict = decide(case, gate_params(tmp_path, task="regression", require_significance=True))
    assert strict.decision == REJECT
    assert "the improvement is within noise (95% CI [-1, +0.2] includes zero)" in strict.reasons
    lenient = decide(case, gate_params(tmp_path, task="regression", require_significance=False))
    assert lenient.decision == PROMOTE, lenient.reasons


# ---------------------------------------------------------------- paired bootstrap against a slow reference


def _binary_outputs(rng: np.random.Generator, y: np.ndarray, noise: float) -> Outputs:
    score = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, noise, len(y)), 0.01, 0.99).round(2)  # ties on purpose
    return Outputs((score >= 0.5).astype(int), np.column_stack([1 - score, score]), (0, 1))


REFERENCE_BINARY = {
    "accuracy": lambda y, o, r: skm.accuracy_score(y[r], o.predictions[r]),
    "precision": lambda y, o, r: skm.precision_score(y[r], o.predictions[r], zero_division=0),
    "recall": lambda y, o, r: skm.recall_score(y[r], o.predictions[r], zero_division=0),
    "f1": lambda y, o, r: skm.f1_score(y[r], o.predictions[r], zero_division=0),
    "log_loss": lambda y, o, r: skm.log_loss(y[r], o.probabilities[r], labels=[0, 1]),
    "brier": lambda y, o, r: skm.brier_score_loss(y[r], o.probabilities[r, 1]),
    "roc_auc": lambda y, o, r: skm.roc_auc_score(y[r], o.probabilities[r, 1]),
}
REFERENCE_REGRESSION = {
    "rmse": lambda y, o, r: np.sqrt(skm.mean_squared_error(y[r], o.predictions[r])),
    "mae": lambda y, o, r: skm.mean_absolute_error(y[r], o.predictions[r]),
    "r2": lambda y, o, r: skm.r2_score(y[r], o.predictions[r]),
}


def reference_deltas(y, champion: Outputs, challenger: Outputs, metric, resamples: int, seed: int) -> np.ndarray:
    """One resample at a time with sklearn: the rows of each resample repeated as often as it draws them."""
    deltas = []
    with sklearn.config_context(skip_parameter_validation=True):  # same maths, a fraction of the call overhead
        for counts in resample_blocks(len(y), resamples, seed):
            for drawn in counts:
                rows = np.repeat(np.arange(len(y)), drawn)
                deltas.append(metric(y, challenger, rows) - metric(y, champion, rows))
    return np.array(deltas)


RESAMPLES = BLOCK + 20  # a full block and a partial one


def test_binary_bootstrap_matches_sklearn_on_the_same_resamples() -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    champion, challenger = _binary_outputs(rng, y, 0.25), _binary_outputs(rng, y, 0.2)
    fast = paired_delta_samples(y, champion, challenger, "classification", list(REFERENCE_BINARY), RESAMPLES, 11)
    for name, metric in REFERENCE_BINARY.items():
        slow = reference_deltas(y, champion, challenger, metric, RESAMPLES, 11)
        np.testing.assert_allclose(fast[name], slow, rtol=1e-9, atol=1e-12, err_msg=name)
        assert np.std(slow) > 0, name  # the resamples really differ


def test_regression_bootstrap_matches_sklearn_on_the_same_resamples() -> None:
    rng = np.random.default_rng(8)
    y = rng.normal(100, 20, 250)
    champion = Outputs(y + rng.normal(0, 12, len(y)), None, None)
    challenger = Outputs(y + rng.normal(2, 9, len(y)), None, None)
    fast = paired_delta_samples(y, champion, challenger, "regression", list(REFERENCE_REGRESSION), RESAMPLES, 3)
    for name, metric in REFERENCE_REGRESSION.items():
        slow = reference_deltas(y, champion, challenger, metric, RESAMPLES, 3)
        np.testing.assert_allclose(fast[name], slow, rtol=1e-9, atol=1e-12, err_msg=name)


def _sklearn_ovr_auc(y, proba, classes):
    """sklearn's macro one-vs-rest AUC over the classes in the truth (it refuses a resample without some class;
    each class's own one-vs-rest AUC is what it averages), NaN when the truth has a single class."""
    if set(y) == set(classes):
        return skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
    present = [k for k, label in enumerate(classes) if label in set(y)]
    return np.mean([skm.roc_auc_score(y == classes[k], proba[:, k]) for k in present]) if len(present) > 1 else np.nan


REFERENCE_MULTICLASS = {
    "accuracy": lambda y, o, r: skm.accuracy_score(y[r], o.predictions[r]),
    "precision": lambda y, o, r: skm.precision_score(y[r], o.predictions[r], average="macro", zero_division=0),
    "recall": lambda y, o, r: skm.recall_score(y[r], o.predictions[r], average="macro", zero_division=0),
    "f1": lambda y, o, r: skm.f1_score(y[r], o.predictions[r], average="macro", zero_division=0),
    "log_loss": lambda y, o, r: skm.log_loss(y[r], y_proba=o.probabilities[r], labels=list(o.classes)),
    "brier": lambda y, o, r: np.mean(np.sum((o.probabilities[r] - (y[r, None] == np.array(o.classes))) ** 2, 1)),
    "roc_auc": lambda y, o, r: _sklearn_ovr_auc(y[r], o.probabilities[r], list(o.classes)),
}


def test_multiclass_bootstrap_matches_sklearn_on_the_same_resamples() -> None:
    rng = np.random.default_rng(9)
    classes = ("a", "b", "c", "d")
    # "d" has one row and is never predicted: many resamples lack it in the truth, and so in both
    y = np.concatenate([rng.choice(classes[:3], 149), ["d"]])

    def model(noise: float) -> Outputs:
        logits = 1.5 * (y[:, None] == np.array(classes)[None, :]) + rng.normal(0, noise, (len(y), 4))
        logits[:, 3] -= 5
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return Outputs(np.array(classes)[proba.argmax(axis=1)], proba, classes)

    champion, challenger = model(0.9), model(0.6)
    fast = paired_delta_samples(y, champion, challenger, "classification", list(REFERENCE_MULTICLASS), RESAMPLES, 5)
    for name, metric in REFERENCE_MULTICLASS.items():
        slow = reference_deltas(y, champion, challenger, metric, RESAMPLES, 5)
        np.testing.assert_allclose(fast[name], slow, rtol=1e-9, atol=1e-12, err_msg=name)
        assert np.std(slow[np.isfinite(slow)]) > 0, name
    lacking_d = np.concatenate([block[:, -1] for block in resample_blocks(len(y), RESAMPLES, 5)]) == 0
    assert 0 < lacking_d.sum() < RESAMPLES and np.isfinite(fast["roc_auc"]).all()  # AUC over a, b, c there


def test_multiclass_auc_of_a_holdout_without_a_class_averages_the_classes_it_has() -> None:
    classes = ("a", "b", "c")
    y = np.array(["a", "a", "b", "b"])
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1], [0.1, 0.2, 0.7]])
    scores = point_scores(y, Outputs(np.array(classes)[proba.argmax(axis=1)], proba, classes), "classification")
    assert scores["roc_auc"] == pytest.approx((1.0 + 0.75) / 2)  # a vs rest ranks perfectly, b vs rest 3 of 4
    assert np.isnan(point_scores(y[:2], Outputs(np.array(["a", "b"]), proba[:2], classes), "classification")[
        "roc_auc"])  # a single class in the truth: no AUC at all


def test_multiclass_point_scores_are_sklearns() -> None:
    rng = np.random.default_rng(4)
    classes = (0, 1, 2)
    y = rng.integers(0, 3, 500)
    proba = rng.dirichlet([1, 1, 1], len(y))
    outputs = Outputs(proba.argmax(axis=1), proba, classes)
    every_row = np.arange(len(y))
    scores = point_scores(y, outputs, "classification")
    for name, metric in REFERENCE_MULTICLASS.items():
        assert scores[name] == pytest.approx(metric(y, outputs, every_row), rel=1e-12), name


def test_macro_averages_count_a_class_that_is_only_predicted() -> None:
    """As scikit-learn's unique_labels: class 2 is never the truth, but predicted once, with precision 0."""
    y = np.array([0, 0, 1, 1])
    predictions = np.array([0, 1, 1, 2])
    outputs = Outputs(predictions, np.eye(3)[predictions] * 0.8 + 0.2 / 3, (0, 1, 2))
    scores = point_scores(y, outputs, "classification")
    for name in ("precision", "recall", "f1"):
        expected = REFERENCE_MULTICLASS[name](y, outputs, np.arange(len(y)))
        assert scores[name] == pytest.approx(expected, rel=1e-12), name
    assert scores["precision"] == pytest.approx(0.5)  # (1 + 1/2 + 0) / 3 classes


@pytest.mark.parametrize("classes", [(0, 1), (0, 1, 2)])
def test_a_zero_probability_for_the_true_class_gives_sklearns_clipped_log_loss(classes) -> None:
    y = np.array([0, 1, 1, 0])
    proba = np.full((len(y), len(classes)), 0.0)
    proba[:, 1] = [0.2, 0.7, 0.9, 1.0]  # the last row gives its true class 0 a probability of exactly 0
    proba[:, 0] = 1 - proba[:, 1]
    outputs = Outputs(proba.argmax(axis=1), proba, classes)
    log_loss = point_scores(y, outputs, "classification")["log_loss"]
    assert np.isfinite(log_loss)
    assert log_loss == pytest.approx(skm.log_loss(y, proba, labels=list(classes)), rel=1e-12)


@pytest.mark.parametrize("predictions, r2", [([3.0, 3.0, 3.0], 1.0), ([3.0, 2.0, 3.0], 0.0)])
def test_r2_of_a_constant_target_is_sklearns_forced_finite_value(predictions, r2) -> None:
    """Zero variance in the truth: 1 for a perfect fit, 0 otherwise (not NaN or -inf, which would break the gate)."""
    y = np.array([3.0, 3.0, 3.0])
    score = point_scores(y, Outputs(np.array(predictions), None, None), "regression")["r2"]
    assert score == skm.r2_score(y, predictions) == r2


def test_identical_models_have_a_zero_delta_on_every_resample() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    model = _binary_outputs(rng, y, 0.2)
    samples = paired_delta_samples(y, model, model, "classification", list(REFERENCE_BINARY), BLOCK, 0)
    for name, values in samples.items():
        assert np.all(values == 0), name


# ---------------------------------------------------------------- McNemar against scipy


@pytest.mark.parametrize("only_champion, only_challenger, both, neither", [
    (7, 15, 150, 28), (0, 9, 50, 5), (30, 30, 10, 10), (1, 0, 0, 0), (120, 160, 500, 90),
])
def test_mcnemar_matches_an_exact_binomial_test(only_champion, only_challenger, both, neither) -> None:
    y = np.zeros(only_champion + only_challenger + both + neither, dtype=int)
    champ = np.concatenate([np.zeros(only_champion), np.ones(only_challenger), np.zeros(both), np.ones(neither)])
    chall = np.concatenate([np.ones(only_champion), np.zeros(only_challenger), np.zeros(both), np.ones(neither)])
    rng = np.random.default_rng(only_champion + only_challenger)
    order = rng.permutation(len(y))
    result = mcnemar(y[order], Outputs(champ[order].astype(int), None, None),
                     Outputs(chall[order].astype(int), None, None))

    assert result["only_champion_correct"] == only_champion
    assert result["only_challenger_correct"] == only_challenger
    discordant = only_champion + only_challenger
    expected = min(1.0, 2 * stats.binom.cdf(min(only_champion, only_challenger), discordant, 0.5))
    assert result["p_value"] == pytest.approx(expected, rel=1e-9)


def test_mcnemar_without_disagreement_is_not_significant() -> None:
    y = np.array([0, 1, 1, 0])
    same = Outputs(np.array([0, 1, 0, 0]), None, None)
    assert mcnemar(y, same, same)["p_value"] == 1.0


# ---------------------------------------------------------------- champion/challenger bookkeeping


def test_schema_mismatch_names_what_changed(tmp_path) -> None:
    params = parse_params(base_params(), tmp_path)
    features = [{"name": f.name, "type": f.type} for f in params.features]
    same = {"task": "classification", "target": "churned", "features": features, "classes": [0, 1]}
    assert schema_mismatch(same, params, [0, 1]) is None
    dropped = {**same, "features": [*features, {"name": "legacy_score", "type": "float"}]}
    assert "legacy_score" in schema_mismatch(dropped, params, [0, 1])
    retyped = {**same, "features": [{**f, "type": "float"} if f["name"] == "tenure_months" else f
                                    for f in features]}
    assert "tenure_months" in schema_mismatch(retyped, params, [0, 1])
    assert "regression" in schema_mismatch({**same, "task": "regression"}, params, [0, 1])
    assert "'cancelled'" in schema_mismatch({**same, "target": "cancelled"}, params, [0, 1])
    assert "the feature set changed since the model was trained" in schema_mismatch(dropped, params, [0, 1], "model")


def test_schema_mismatch_names_class_labels_the_champion_never_learned(tmp_path) -> None:
    """A champion trained on 0/1 scores accuracy 0 on 'no'/'yes' data: a comparison, but of nothing."""
    params = parse_params(base_params(), tmp_path)
    champion = {"task": "classification", "target": "churned", "classes": [0, 1],
                "features": [{"name": f.name, "type": f.type} for f in params.features]}
    assert schema_mismatch(champion, params, ["no", "yes"]) == (
        "the class labels changed since the champion was trained (only the champion has 0, 1; "
        "only the data has 'no', 'yes')")
    assert "only the champion has 2; only the data has none" in schema_mismatch(
        {**champion, "classes": [0, 1, 2]}, params, [0, 1])
    assert "only the data has '1'" in schema_mismatch(champion, params, [0, "1"])  # the string is another label


def test_params_diff_lists_changed_added_and_removed_keys() -> None:
    old = {"model": {"params": {"max_iter": 200, "learning_rate": 0.1}}, "split": {"seed": 42}}
    new = {"model": {"params": {"max_iter": 400, "l2_regularization": 1.0}}, "split": {"seed": 42}}
    assert params_diff(old, new) == [
        {"key": "model.params.l2_regularization", "challenger": 1.0},
        {"key": "model.params.learning_rate", "champion": 0.1},
        {"key": "model.params.max_iter", "champion": 200, "challenger": 400},
    ]
    assert params_diff(old, old) == []


def test_params_diff_tells_an_explicit_null_from_a_missing_key() -> None:
    old = {"model": {"params": {"max_depth": None}}}
    assert params_diff(old, {"model": {"params": {}}}) == [{"key": "model.params.max_depth", "champion": None}]
    assert params_diff(old, {"model": {"params": {"max_depth": 3}}}) == [
        {"key": "model.params.max_depth", "champion": None, "challenger": 3}]


# ---------------------------------------------------------------- compare() on real models


@pytest.fixture(scope="module")
def strong_and_weak(tmp_path_factory, sample_csv, trained_model):
    """The trained sample model, a DummyClassifier (always the prior) and an overconfident booster (learning
    rate 1, no early stopping: it still ranks far better than the prior, its probabilities are far worse),
    all trained on the same data."""
    from tests.conftest import make_workspace
    from tests.core.conftest import train_in_process

    ws = make_workspace(tmp_path_factory.mktemp("weak") / "ws", sample_csv)
    ws.edit_params(lambda raw: raw["model"]["params"].update(
        learning_rate=1.0, max_iter=300, early_stopping=False, min_samples_leaf=2))
    overconfident = train_in_process(ws, ws.root / "artifacts" / "overconfident")
    ws.edit_params(lambda raw: raw["model"].update({"class": "sklearn.dummy.DummyClassifier", "params": {}}))
    return ws, trained_model, train_in_process(ws), overconfident


def test_compare_rejects_a_clear_loss_and_promotes_a_clear_win(strong_and_weak) -> None:
    from ml.compare import compare
    from ml.dataset import load_dataset
    from tests.core.conftest import params_of

    ws, strong, weak, overconfident = strong_and_weak
    params = params_of(ws)
    dataset = load_dataset(params)

    loss = compare(weak, strong, dataset, params)
    assert loss["decision"] == REJECT and loss["needs_human_review"] is False
    assert loss["metrics"]["roc_auc"]["ci_high"] < 0 and loss["metrics"]["roc_auc"]["significant"] is True
    assert {"key": "model.class", "champion": "sklearn.ensemble.HistGradientBoostingClassifier",
            "challenger": "sklearn.dummy.DummyClassifier"} in loss["params_diff"]

    # The overconfident booster ranks far better but is far less calibrated than the prior: the log-loss
    # guardrail (0.02) holds the win back. The sample model's win goes through, significance required. Each
    # challenger is compared under the params.yaml it was trained with: a challenger of other settings is stale.
    from ml.bundle import read_metadata

    held = compare(overconfident, weak, dataset, parse_params(read_metadata(overconfident)["params"], ws.root))
    assert held["decision"] == REJECT
    assert held["metrics"]["roc_auc"]["ci_low"] > 0
    assert any(reason.startswith("guardrail log_loss regressed") for reason in held["reasons"])
    trained_with = read_metadata(strong)["params"]
    raw = {**trained_with, "gate": {**trained_with["gate"], "require_significance": True},
           "metrics": {**trained_with["metrics"], "guardrails": {"log_loss": 0.1, "recall": 0.03}}}
    params = parse_params(raw, ws.root)
    win = compare(strong, weak, dataset, params)
    assert win["decision"] == PROMOTE, win["reasons"]
    assert any("the improvement is significant" in reason for reason in win["reasons"])
    assert win["mcnemar"]["only_challenger_correct"] > win["mcnemar"]["only_champion_correct"]

    # The reported CIs are the percentiles of the paired deltas sklearn computes on the same resamples.
    from ml.bundle import load_bundle
    from ml.evaluate import predict

    outputs = {name: predict(load_bundle(path)[0], dataset.X_holdout, params)
               for name, path in (("strong", strong), ("weak", weak))}
    for name in ("roc_auc", "log_loss", "recall"):
        deltas = reference_deltas(dataset.y_holdout, outputs["weak"], outputs["strong"], REFERENCE_BINARY[name],
                                  params.gate.bootstrap_resamples, params.seed)
        low, high = np.percentile(deltas, [2.5, 97.5])
        assert win["metrics"][name]["ci_low"] == pytest.approx(low, rel=1e-9, abs=1e-12), name
        assert win["metrics"][name]["ci_high"] == pytest.approx(high, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("rows", [300, 70_000])
def test_resampled_auc_is_sklearns_weighted_auc(rows: int) -> None:
    from ml.weighted_metrics import WeightedAUC

    rng = np.random.default_rng(rows)
    actual = (rng.random(rows) < 0.3).astype(float)
    score = np.round(np.clip(0.4 + 0.3 * actual + rng.normal(0, 0.25, rows), 0, 1), 3)  # ties on purpose
    counts = poisson_counts(rng, 3, rows)
    expected = [skm.roc_auc_score(actual, score, sample_weight=weights) for weights in counts]
    np.testing.assert_allclose(WeightedAUC(score, actual)(counts), expected, rtol=1e-12)


def test_resample_counts_are_poisson_one_and_reproducible() -> None:
    counts = np.concatenate(list(resample_blocks(20_000, 3 * BLOCK, seed=5)))
    assert counts.shape == (3 * BLOCK, 20_000)
    drawn = np.bincount(np.minimum(counts.ravel(), 6), minlength=7)  # 6 stands for 6 or more
    expected = np.append(stats.poisson.pmf(np.arange(6), 1), stats.poisson.sf(5, 1)) * counts.size
    assert stats.chisquare(drawn, expected).pvalue > 1e-3
    assert counts.mean() == pytest.approx(1, abs=2e-3) and counts.var() == pytest.approx(1, abs=5e-3)
    again = np.concatenate(list(resample_blocks(20_000, 3 * BLOCK, seed=5)))
    assert np.array_equal(counts, again)
    assert not np.array_equal(counts[:BLOCK], counts[BLOCK:2 * BLOCK])  # blocks are not copies of each other
    other = np.concatenate(list(resample_blocks(20_000, 3 * BLOCK, seed=6)))
    assert not np.array_equal(counts, other)

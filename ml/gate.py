"""The promotion gate: primary metric must improve enough (optionally significantly); guardrails must hold."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ml.metrics import BEST, MAXIMIZE
from ml.params import Gate, Params, Tolerance

PROMOTE, REJECT = "promote", "reject"


@dataclass(frozen=True)
class MetricDelta:
    name: str
    direction: str
    champion: float
    challenger: float
    ci_low: float
    ci_high: float

    @property
    def delta(self) -> float:
        return self.challenger - self.champion

    @property
    def improvement(self) -> float:
        """Delta signed so that positive always means better."""
        return self.delta if self.direction == MAXIMIZE else -self.delta

    @property
    def significant(self) -> bool:
        """The confidence interval of the delta excludes zero."""
        return self.ci_low > 0 or self.ci_high < 0

    @property
    def significantly_better(self) -> bool:
        return (self.ci_low > 0) if self.direction == MAXIMIZE else (self.ci_high < 0)


@dataclass(frozen=True)
class Decision:
    decision: str
    reasons: list[str] = field(default_factory=list)
    needs_human_review: bool = False


def cannot_compare(why: str) -> Decision:
    """The metrics cannot settle it: reject, and leave the decision to a human."""
    return Decision(REJECT, [f"cannot compare: {why}. A human must decide (promote with --force)."],
                    needs_human_review=True)


def first_model(scores: dict[str, float], params: Params) -> Decision:
    """No champion yet: the first model becomes champion, unless its primary metric is undefined on this holdout
    (NaN), which shows nothing about what it learned."""
    if not math.isfinite(scores[params.primary_metric]):
        return cannot_compare(f"{params.primary_metric} is undefined on this holdout (NaN: e.g. it lacks a class) "
                              "and there is no champion yet")
    return Decision(PROMOTE, ["no champion yet: this model becomes the first champion"])


def _undefined_metrics(deltas: dict[str, MetricDelta], params: Params) -> list[str]:
    """The gated metrics (primary, guardrails) without a finite delta: NaN fails every comparison, so it would pass
    `improvement <= 0` and every guardrail, and promote."""
    gated = dict.fromkeys((params.primary_metric, *params.guardrails))
    return [name for name in gated if not math.isfinite(deltas[name].delta)]


def signed(value: float) -> str:
    """A delta or CI bound to 3 significant figures: fixed decimals show a small nonzero bound as ±0.0000."""
    return f"{value:+.3g}"


def _interval(primary: MetricDelta, confidence: float) -> str:
    return f"{confidence:.0%} CI [{signed(primary.ci_low)}, {signed(primary.ci_high)}]"


def _significance_reason(primary: MetricDelta, gate: Gate) -> tuple[bool, str | None]:
    """Whether significance lets the primary metric pass, and what to say: when it is not required, an improvement
    within noise is still said to be one, so the promotion does not read as a clear win."""
    interval = _interval(primary, gate.confidence)
    if gate.require_significance:
        if primary.significantly_better:
            return True, f"the improvement is significant ({interval})"
        return False, f"the improvement is within noise ({interval} includes zero)"
    if primary.improvement > 0 and not primary.significantly_better:
        return True, (f"not significant at {gate.confidence:.0%} ({interval} includes zero; "
                      "gate.require_significance is off)")
    return True, None


def _exceeds(value: float, limit: float) -> bool:
    """value > limit beyond float noise: decimals are inexact in binary (0.8 - 0.7 > 0.1), and a delta that is the
    limit to the digits the metrics and params.yaml are written in must count as the limit."""
    return value > limit and not math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-12)


def _amount(value: float) -> str:
    """A regression or tolerance to 4 decimals, like the other deltas, unless that shows a nonzero one as 0.0000."""
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-4 else f"{value:.3g}"


def _guardrail_reason(metric: MetricDelta, tolerance: Tolerance) -> tuple[bool, str]:
    """Held or not, said with the tolerance as params.yaml wrote it; a percentage also says what it came to."""
    regression, allowed = -metric.improvement, tolerance.allowed(metric.champion)
    said = f"{tolerance}"
    if tolerance.relative:
        said += f" of {_amount(abs(metric.champion))} = {_amount(allowed)}"
    if _exceeds(regression, allowed):
        return False, f"guardrail {metric.name} regressed by {_amount(regression)} (tolerance {said})"
    return True, f"✓ guardrail {metric.name}: {signed(metric.delta)} within tolerance {said}"


def decide(deltas: dict[str, MetricDelta], params: Params) -> Decision:
    undefined = _undefined_metrics(deltas, params)
    if undefined:
        verb = "is" if len(undefined) == 1 else "are"
        return cannot_compare(f"{', '.join(undefined)} {verb} undefined on this holdout (NaN: e.g. it lacks a class)")
    primary = deltas[params.primary_metric]
    if primary.champion == primary.challenger == BEST[primary.name]:
        return cannot_compare(f"both models' {primary.name} is {primary.champion:g} on this holdout, the best it can "
                              "be, so no challenger could ever improve on it (a holdout this easy cannot tell models "
                              "apart: more data, or another primary metric)")
    gate = params.gate
    reasons = []
    passed = True
    if primary.improvement <= 0 or _exceeds(gate.min_improvement, primary.improvement):
        passed = False
        reasons.append(f"{primary.name} changed by {primary.delta:+.4f}; the gate needs an improvement of at least "
                       f"{max(gate.min_improvement, 0):g} (and more than zero)")
    else:
        reasons.append(f"{primary.name} improved by {primary.improvement:.4f} (gate: ≥ {gate.min_improvement:g})")
    significant, why = _significance_reason(primary, gate)
    passed &= significant
    reasons += [why] if why else []
    for name, tolerance in params.guardrails.items():
        held, why = _guardrail_reason(deltas[name], tolerance)
        passed &= held
        reasons.append(why)
    return Decision(PROMOTE if passed else REJECT, reasons)

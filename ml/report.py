"""Render the markdown people read: the PR comment, the job summary, the validation summary, the model card."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ml.errors import MLOpsError
from ml.fileio import remove_outputs, write_text_atomic
from ml.gate import PROMOTE
from ml.json_report import load_json_report
from ml.provenance import git_commit

MARKER = "<!-- mlops-template:pr-report -->"
COMMENT, SUMMARY = "pr_comment.md", "job_summary.md"

_env = Environment(loader=PackageLoader("ml", "templates"), undefined=StrictUndefined, trim_blocks=False,
                   keep_trailing_newline=True, autoescape=False)


def _num(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def _signed(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.4f}"


def _yes_no(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")


def _version_label(model: dict) -> str:
    return f"v{model['version']}" if model.get("version") else ""


_env.globals.update(num=_num, signed=_signed, yes_no=_yes_no, version_label=_version_label)


def headline(comparison: dict) -> str:
    champion = comparison.get("champion")
    if comparison.get("needs_human_review"):
        return "⚠️ Needs a human: the champion cannot be compared with this model"
    if champion is None:
        return "🆕 Promote: first model, no champion yet"
    label = _version_label(champion) or "the champion"
    if comparison["decision"] == PROMOTE:
        return f"✅ Promote: the challenger beats champion {label}"
    return f"❌ Reject: the challenger does not beat champion {label}"


def _chart(comparison: dict) -> dict | None:
    """Metrics bounded in [0, 1] where higher is better: the ones that share one axis honestly."""
    rows = [(name, m) for name, m in comparison["metrics"].items()
            if m["direction"] == "maximize" and m["challenger"] is not None and 0 <= m["challenger"] <= 1]
    if not rows:
        return None
    has_champion = all(m["champion"] is not None for _, m in rows)
    return {
        "labels": [f'"{name}"' for name, _ in rows],
        "challenger": [f"{m['challenger']:.4f}" for _, m in rows],
        "champion": [f"{m['champion']:.4f}" for _, m in rows] if has_champion else None,
    }


def _ordered_metrics(comparison: dict) -> list[tuple[str, dict]]:
    primary = comparison["primary_metric"]
    return sorted(comparison["metrics"].items(), key=lambda item: (item[0] != primary, item[0]))


def render_validation(report: dict) -> str:
    return _env.get_template("validation.md.j2").render(report=report)


def render_pr_report(comparison: dict, validation: dict, metrics: dict, commit: str | None,
                     sticky: bool = True) -> str:
    return _env.get_template("pr_report.md.j2").render(
        marker=MARKER if sticky else "",
        headline=headline(comparison),
        comparison=comparison,
        metrics=_ordered_metrics(comparison),
        chart=_chart(comparison),
        confusion=metrics.get("confusion_matrix"),
        validation_md=render_validation(validation).strip(),
        commit=commit,
    )


def _allowed(feature: dict) -> str:
    if feature.get("values"):
        allowed = ", ".join(map(str, feature["values"]))
    elif "min" in feature or "max" in feature:
        allowed = f"{feature.get('min', float('-inf')):g} … {feature.get('max', float('inf')):g}"
    elif feature.get("type") == "bool":
        allowed = "true, false"
    else:
        allowed = "any"
    return allowed + (" (may be missing)" if feature.get("nullable") else "")


def render_model_card(metadata: dict[str, Any], name: str) -> str:
    hyperparameters = json.dumps(metadata.get("params", {}).get("model", {}), indent=2, sort_keys=True)
    features = [(f["name"], f["type"], _allowed(f)) for f in metadata.get("features", [])]
    return _env.get_template("model_card.md.j2").render(
        meta=metadata, name=name, version=f"v{metadata['version']}", hyperparameters=hyperparameters,
        features=features)


def render_invalid_data_report(validation: dict, commit: str | None, sticky: bool = True) -> str:
    """The PR report when validation failed: no model was trained, so the data problems are the whole story."""
    return _env.get_template("pr_invalid_data.md.j2").render(
        marker=MARKER if sticky else "", validation_md=render_validation(validation).strip(), commit=commit,
        data=validation.get("data", "<data file>"), target=validation.get("target", "<target>"))


def write_pr_reports(reports_dir: Path) -> tuple[Path, Path]:
    """Render pr_comment.md (with the sticky marker) and job_summary.md from the step reports.

    When validation failed, that is what they report: the PR author needs to hear why nothing was trained.
    """
    comment, summary = reports_dir / COMMENT, reports_dir / SUMMARY
    remove_outputs(comment, summary)
    validation = load_json_report(reports_dir / "validation.json", "validate_data.py")
    commit = git_commit()
    if not validation.get("ok"):
        write_text_atomic(comment, render_invalid_data_report(validation, commit, sticky=True))
        write_text_atomic(summary, render_invalid_data_report(validation, commit, sticky=False))
        return comment, summary
    metrics = load_json_report(reports_dir / "metrics.json", "evaluate.py")
    comparison = load_json_report(reports_dir / "comparison.json", "compare.py")
    if metrics.get("artifact_sha256") != comparison.get("challenger", {}).get("artifact_sha256"):
        raise MLOpsError(f"{reports_dir}: metrics.json and comparison.json describe different models; "
                         "rerun the steps")
    write_text_atomic(comment, render_pr_report(comparison, validation, metrics, commit, sticky=True))
    write_text_atomic(summary, render_pr_report(comparison, validation, metrics, commit, sticky=False))
    return comment, summary

"""Render the markdown people read: the PR comment, the job summary, the validation summary, the model card."""

from __future__ import annotations

import html
import json
import math
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ml.errors import MLOpsError
from ml.fileio import remove_outputs, write_text_atomic
from ml.gate import PROMOTE, signed
from ml.github.inert import defuse
from ml.json_report import load_json_report
from ml.metrics import MAXIMIZE
from ml.provenance import git_commit

MARKER = "<!-- mlops-template:pr-report -->"
COMMENT, SUMMARY = "pr_comment.md", "job_summary.md"

_env = Environment(loader=PackageLoader("ml", "templates"), undefined=StrictUndefined, trim_blocks=False,
                   keep_trailing_newline=True, autoescape=False)


# Characters of markdown one data value may take: a long or heavily escaped label, or a reason listing thousands
# of classes, must not push the comment past GitHub's limit (check_artifact.py then refuses it: no comment at all).
MAX_CELL, MAX_PROSE = 120, 2000
MAX_PARAMS_ROWS, MAX_CLASSES, MAX_CONFUSIONS, MAX_FAILURES = 50, 20, 20, 50


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _num(value: float | None) -> str:
    """4 decimals, as metrics in [0, 1] read best; an error in the millions (rmse of a price) as 4 significant
    figures, not a 100-digit cell."""
    if _missing(value):
        return "–"
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"


def _signed(value: float | None) -> str:
    return "–" if _missing(value) else signed(value)


def _fitted(render: Callable[[str], str], text: str, limit: int | None) -> str:
    """render(text), or render of its longest prefix (marked …) whose markdown fits in `limit` characters: the text
    is cut, never the markdown, so no escape, entity, code span or defused mention is split."""
    shown = render(text)
    if limit is None or len(shown) <= limit:
        return shown
    low, high = 0, len(text) - 1  # the markdown grows with the prefix: bisect for the longest that fits
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if len(render(text[:middle] + "…")) <= limit else (low, middle - 1)
    return render(text[:low] + "…")


def _cell(value: Any, code: bool = False, limit: int | None = MAX_CELL) -> str:
    """A data value inside a GFM table cell: `|` splits the cell even in a code span, a newline ends the row, and
    outside a code span it is prose (where an entity would show literally inside one)."""
    return _fitted(lambda text: _code_span(text.replace("|", r"\|")) if code else _prose(text, None), str(value),
                   limit)


def _code(value: Any, limit: int | None = MAX_CELL) -> str:
    """A data value (a path) as inline code, outside a table."""
    return _fitted(_code_span, str(value), limit)


def _code_span(text: str) -> str:
    """text as inline code: a fence longer than any run of backticks in it, so nothing in it can close the span,
    on one line, since a blank line would end it and leave the rest live markdown."""
    text = re.sub(r"[\r\n]+", " ", text)
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_MARKDOWN_PUNCTUATION = re.compile(r"[\\`*\[\]~|]|(?<![^\W_])_|_(?![^\W_])")


def _prose(value: Any, limit: int | None = MAX_PROSE) -> str:
    """A sentence of ours that quotes data (a gate reason naming features or labels, a validation error) as one
    line of inert markdown: no line break to start a heading, no HTML, no link, image, mention, emphasis or table
    syntax (an underscore inside a word, as in roc_auc, is never emphasis: it is left as written)."""
    def inert(text: str) -> str:
        return _MARKDOWN_PUNCTUATION.sub(r"\\\g<0>", defuse(html.escape(text, quote=False)))

    return _fitted(inert, " ".join(str(value).split()), limit)


def _significance(metric: dict) -> str:
    """Which way the CI points, by the metric's direction: a bare "yes" reads as good news for a significant loss."""
    if _missing(metric["ci_low"]) or _missing(metric["ci_high"]):
        return "–"
    if metric["ci_low"] > 0 or metric["ci_high"] < 0:
        return "better" if (metric["ci_low"] > 0) == (metric["direction"] == MAXIMIZE) else "worse"
    return "no"


def _version_label(model: dict) -> str:
    return f"v{model['version']}" if model.get("version") else ""


def headline(comparison: dict) -> str:
    champion = comparison.get("champion")
    if comparison.get("needs_human_review"):
        return "⚠️ Needs a human: the champion cannot be compared with this model"
    if champion is None:
        return "🆕 Promote: first model, no champion yet"
    label = _version_label(champion) or "the champion"
    if comparison["decision"] != PROMOTE:
        return f"❌ Reject: the challenger does not beat champion {label}"
    if _significance(comparison["metrics"][comparison["primary_metric"]]) != "better":
        return f"✅ Promote: the challenger improves on champion {label} (within noise)"
    return f"✅ Promote: the challenger beats champion {label}"


def _on_unit_axis(value: float | None) -> bool:
    return value is not None and 0 <= value <= 1


def _chart(comparison: dict) -> dict | None:
    """Metrics bounded in [0, 1] where higher is better: the ones that share one axis honestly (both models' values
    on it: a bar below 0 would be drawn as if it were 0)."""
    rows = [(name, m) for name, m in comparison["metrics"].items()
            if m["direction"] == MAXIMIZE and _on_unit_axis(m["challenger"])
            and (m["champion"] is None or _on_unit_axis(m["champion"]))]
    if not rows:
        return None
    has_champion = all(m["champion"] is not None for _, m in rows)
    return {
        "labels": [f'"{name}"' for name, _ in rows],
        "challenger": [f"{m['challenger']:.4f}" for _, m in rows],
        "champion": [f"{m['champion']:.4f}" for _, m in rows] if has_champion else None,
    }


def _param_value(entry: dict, side: str) -> str:
    """A params value as YAML would mean it (true, null, ["a", "b"]); a key one side lacks is not a null."""
    if side not in entry:
        return "(absent)"
    return _cell(json.dumps(entry[side], ensure_ascii=False, default=str), code=True)


def _confusion(confusion: dict | None) -> dict | None:
    """The matrix while it fits a comment; beyond MAX_CLASSES classes, the largest off-diagonal confusions."""
    if not confusion or len(confusion["labels"]) <= MAX_CLASSES:
        return confusion
    labels = confusion["labels"]
    pairs = sorted(((count, actual, predicted) for actual, row in enumerate(confusion["matrix"])
                    for predicted, count in enumerate(row) if actual != predicted and count),
                   key=lambda pair: (-pair[0], pair[1], pair[2]))
    return {"classes": len(labels), "more": max(len(pairs) - MAX_CONFUSIONS, 0),
            "pairs": [(labels[a], labels[p], count) for count, a, p in pairs[:MAX_CONFUSIONS]]}


_env.globals.update(num=_num, signed=_signed, significance=_significance, param_value=_param_value,
                    version_label=_version_label)
_env.filters["cell"] = _cell
_env.filters["prose"] = _prose
_env.filters["code"] = _code


def _ordered_metrics(comparison: dict) -> list[tuple[str, dict]]:
    primary = comparison["primary_metric"]
    return sorted(comparison["metrics"].items(), key=lambda item: (item[0] != primary, item[0]))


def _worst_failures(failures: list[dict]) -> list[dict]:
    """The failures a table has room for, worst first: a column-level problem (missing, unknown, empty) breaks
    every row, then the most rows; validation.json keeps them all."""
    return sorted(failures, key=lambda f: (f["count"] > 0, -f["count"]))[:MAX_FAILURES]


def render_validation(report: dict) -> str:
    failures = report.get("failures") or []
    return _env.get_template("validation.md.j2").render(
        report=report, failures=_worst_failures(failures), failures_more=max(len(failures) - MAX_FAILURES, 0))


def render_pr_report(comparison: dict, validation: dict, metrics: dict, commit: str | None,
                     sticky: bool = True) -> str:
    return _env.get_template("pr_report.md.j2").render(
        marker=MARKER if sticky else "",
        headline=headline(comparison),
        comparison=comparison,
        metrics=_ordered_metrics(comparison),
        chart=_chart(comparison),
        champion_scored=any(m["champion"] is not None for m in comparison["metrics"].values()),
        params_diff=comparison["params_diff"][:MAX_PARAMS_ROWS],
        params_more=max(len(comparison["params_diff"]) - MAX_PARAMS_ROWS, 0),
        confusion=_confusion(metrics.get("confusion_matrix")),
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
    gate = metadata.get("comparison") or {}
    compared = gate.get("metrics") or {}
    metrics = [(name, value, compared.get(name, {})) for name, value in metadata["metrics"].items()]
    return _env.get_template("model_card.md.j2").render(
        meta=metadata, name=name, version=f"v{metadata['version']}", hyperparameters=hyperparameters,
        features=features, gate=gate, metrics=metrics, data_path=metadata.get("params", {}).get("data", {}).get("path"))


def render_invalid_data_report(validation: dict, commit: str | None, sticky: bool = True) -> str:
    """The PR report when validation failed: no model was trained, so the data problems are the whole story."""
    return _env.get_template("pr_invalid_data.md.j2").render(
        marker=MARKER if sticky else "", validation_md=render_validation(validation).strip(), commit=commit,
        draft_command=_code_span(shlex.join(["python", "scripts/draft_params.py", validation.get("data", "DATA_FILE"),
                                             "--target", validation.get("target", "TARGET"), "--write"])))


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
    if metrics.get("data_sha256") != validation.get("data_sha256"):
        raise MLOpsError(f"{reports_dir}: validation.json and metrics.json describe different data; "
                         "rerun the steps")
    write_text_atomic(comment, render_pr_report(comparison, validation, metrics, commit, sticky=True))
    write_text_atomic(summary, render_pr_report(comparison, validation, metrics, commit, sticky=False))
    return comment, summary

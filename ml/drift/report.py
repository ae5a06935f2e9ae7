"""Render a drift result: drift.md (the issue body and job summary) and drift.html (charts, self-contained)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from html import escape
from typing import Any

from ml.drift import svg

TEST_NAMES = {"ks": "KS", "chi_square": "chi-square", "unseen_values": "unseen values", "null_rate": "null rate"}
INLINE_MARKDOWN = re.compile(r"\*\*(?P<bold>.+?)\*\*|`(?P<code>[^`]+)`")
# Letters and digits joined by - or _: no markdown, mention, link or emoji syntax, and an underscore inside a word
# is never emphasis. Column names like this stay plain text in drift.md; any other data goes in a code span.
PLAIN_WORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")
MAX_SHOWN = 80  # characters of one data value in drift.md; drift.html shows it whole


def md_code(text: str, limit: int | None = MAX_SHOWN) -> str:
    """Data as a code span, where GitHub renders no mention, link, image, HTML or emphasis."""
    return f"`{_inert(text, limit) or ' '}`"


def md_name(name: str) -> str:
    """A column name for drift.md: as it is when it is a plain word, else as code."""
    return name if PLAIN_WORD.fullmatch(name) and len(name) <= MAX_SHOWN else md_code(name)


def md_value(value: str) -> str:
    """A category value for drift.md: quoted and always code, since any client of the model server can send one."""
    return f"`'{_inert(value, MAX_SHOWN)}'`"


def _inert(text: str, limit: int | None) -> str:
    """Text that cannot leave a code span: backticks (which would close it) become quotes; whitespace and control
    characters (which could end the line, the table row or the paragraph) collapse into single spaces."""
    spaced = "".join(" " if unicodedata.category(char)[0] in "CZ" else char for char in text.replace("`", "'"))
    shown = " ".join(spaced.split())
    return shown[:limit - 1] + "…" if limit is not None and len(shown) > limit else shown


def title(result: dict[str, Any], name: Callable[[str], str] = str) -> str:
    """One line: the report's heading and the CLI's summary, each column shown by `name`."""
    verdict = result["verdict"]
    drifted = [name(column) for column in verdict["drifted_columns"]]
    drifted += ["prediction"] if verdict.get("prediction_drifted") else []
    if result["dataset_drift"]:
        return f"Data drift: {', '.join(drifted)}"
    if drifted:
        return f"No dataset drift ({', '.join(drifted)} moved, below the rule)"
    return "No data drift"


def p_value(value: float | None) -> str:
    if value is None:
        return "–"
    return "<1e-300" if value == 0 else f"{value:.2g}"


def effect(column: dict[str, Any]) -> str:
    check = _main_check(column)
    if check is None:
        return "–"
    return f"{check['effect_size']:.3f} (≥ {check['threshold']:g})"


def _main_check(column: dict[str, Any]) -> dict[str, Any] | None:
    return next((check for check in column["checks"] if check["test"] == column["test"]), None)


def _md_cell(text: str) -> str:
    """GFM ends a table cell at every unescaped |, even inside a code span."""
    return text.replace("|", "\\|")


def _md_reasons(verdict: dict[str, Any]) -> str:
    """verdict.py's sentences name the critical columns that drifted: shown as they are while those names are
    plain words, else each sentence as code."""
    if not verdict["reasons"]:
        return "no rule met"
    plain = all(md_name(name) == name for name in verdict["critical_drifted"])
    return "; ".join(verdict["reasons"] if plain else (md_code(reason, limit=None) for reason in verdict["reasons"]))


def next_steps(result: dict[str, Any]) -> list[str]:
    """What a person should do about this result, most specific first."""
    drifted = [column for column in result["columns"] if column["drifted"]]
    by_test: dict[str, list[str]] = {}
    for column in drifted:
        for check in column["checks"]:
            if check["drifted"]:
                by_test.setdefault(check["test"], []).append(md_name(column["column"]))
    steps = []
    if "null_rate" in by_test:
        steps.append(f"**Null spike in {', '.join(by_test['null_rate'])}**: usually a broken upstream feed (a renamed "
                     "field, a failed join), not a change in the world. Fix the feed before retraining, or the "
                     "retrained model learns the bug.")
    if "unseen_values" in by_test:
        names = by_test["unseen_values"]
        steps.append(f"**New values in {', '.join(names)}**: the model treats categories it never saw as unknown. "
                     f"If they are legitimate, add them to `features.<column>.values` in params.yaml and retrain; "
                     f"if not, fix the producer.")
    shifted = sorted({name for test in ("ks", "chi_square") for name in by_test.get(test, []) if name != "prediction"})
    if shifted:
        retrain = ("The drift workflow dispatches `retrain.yml`; its pull request is judged against the champion "
                   "like any other." if result["dataset_drift"] else "The drift workflow dispatches `retrain.yml` "
                   "only when the dataset drifts; run it by hand to retrain sooner.")
        steps.append(f"**Distribution shift in {', '.join(shifted)}**: if the world changed (new customers, "
                     f"pricing, season), retrain on recent data. {retrain}")
    if any(column["role"] == "prediction" for column in drifted):
        steps.append("**The model's output moved**: check the live metrics as soon as labels arrive, and compare "
                     "the retrained model with the champion before promoting it.")
    if drifted and not result["dataset_drift"]:
        steps.insert(0, "Below the dataset rule: no action needed yet. Watch these columns in the next runs.")
    if result["dataset_drift"]:
        steps.append("If the change is expected and harmless, close this issue. To tune the sensitivity, edit "
                     "`drift:` in params.yaml (fdr, effect thresholds, critical_columns, dataset_share).")
    return steps or ["Nothing to do: no column moved beyond its thresholds."]


def render_markdown(result: dict[str, Any]) -> str:
    verdict = result["verdict"]
    columns = result["columns"]
    drifted = [column for column in columns if column["drifted"]]
    icon = "🔴" if result["dataset_drift"] else ("🟡" if drifted else "🟢")
    lines = [f"## {icon} {title(result, md_name)}", ""]
    lines.append(f"**Verdict:** {'drift' if result['dataset_drift'] else 'no drift'} ({_md_reasons(verdict)}).")
    lines.append(f"Compared {result['current']['rows']:,} current rows ({md_code(result['current']['source'])}) "
                 f"with {result['reference']['rows']:,} reference rows ({md_code(result['reference']['source'])}) at "
                 f"{result['checked_at']}; Benjamini-Hochberg FDR {result['config']['fdr']:g} across "
                 f"{sum(len(column['checks']) for column in columns)} tests.")
    lines.append("")
    if drifted:
        features = [column for column in columns if column["role"] == "feature"]
        drifted_features = [column for column in drifted if column["role"] == "feature"]
        also = " and the model's prediction" if len(drifted_features) < len(drifted) else ""
        lines += [f"### Drifted columns ({len(drifted_features)} of {len(features)} features{also})", "",
                  "| Column | Type | Test | What moved | Effect (threshold) | p (BH) |", "|---|---|---|---|---|---|"]
        lines += [f"| {_md_cell(md_name(c['column']))} | {c['type']} | {TEST_NAMES.get(c['test'], c['test'])} | "
                  f"{_md_cell(c['change_md'])} | {effect(c)} | {p_value(c['p_adjusted'])} |" for c in drifted]
        lines.append("")
    lines += ["### What to do next", ""] + [f"- {step}" for step in next_steps(result)] + [""]
    for note in result.get("notes", []):
        lines += [f"> {note}", ""]
    lines += ["<details><summary>All columns</summary>", "",
              "| Column | Type | Drifted | Test | Statistic | p | p (BH) | Effect (threshold) |",
              "|---|---|---|---|---|---|---|---|"]
    for c in columns:
        statistic = "–" if c["statistic"] is None else f"{c['statistic']:.4g}"
        lines.append(f"| {_md_cell(md_name(c['column']))} | {c['type']} | {'yes' if c['drifted'] else 'no'} | "
                     f"{TEST_NAMES.get(c['test'], c['test'] or '–')} | {statistic} | {p_value(c['p_value'])} | "
                     f"{p_value(c['p_adjusted'])} | {effect(c)} |")
    lines += ["", "</details>", "", "The full report with charts is `drift.html` in this run's artifacts.", ""]
    return "\n".join(lines)


STYLE = """
body{font-family:system-ui,-apple-system,sans-serif;margin:2rem auto;max-width:60rem;color:#1d2733;padding:0 1rem}
h1{font-size:1.5rem}.banner{padding:.8rem 1rem;border-radius:6px;margin:1rem 0}
.drift{background:#ffe3e3}.watch{background:#fff3bf}.quiet{background:#d3f9d8}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #dee2e6;padding:.35rem .5rem;text-align:left}tr.drifted td{background:#fff5f5}
section{border:1px solid #dee2e6;border-radius:6px;padding:1rem;margin:1rem 0}section h3{margin-top:0}
.meta{color:#5c6773;font-size:.9rem}svg{max-width:100%;height:auto;display:block;margin:.5rem 0}
"""


def render_html(result: dict[str, Any]) -> str:
    """One self-contained page: no scripts, no external stylesheets, fonts or images."""
    columns = result["columns"]
    drifted = [column for column in columns if column["drifted"]]
    state = "drift" if result["dataset_drift"] else ("watch" if drifted else "quiet")
    reasons = "; ".join(result["verdict"]["reasons"]) or "no rule met"
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title(result))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title(result))}</h1>",
        f'<div class="banner {state}"><strong>Verdict:</strong> '
        f"{'drift' if result['dataset_drift'] else 'no drift'} ({escape(reasons)})</div>",
        f'<p class="meta">{result["current"]["rows"]:,} current rows ({escape(result["current"]["source"])}) vs '
        f'{result["reference"]["rows"]:,} reference rows ({escape(result["reference"]["source"])}), checked '
        f'{escape(result["checked_at"])}.</p>',
        "<h2>What to do next</h2><ul>",
        *[f"<li>{_inline_markdown(step)}</li>" for step in next_steps(result)],
        "</ul>",
        *[f'<p class="meta">{escape(note)}</p>' for note in result.get("notes", [])],
        "<h2>All columns</h2>", _html_table(columns),
    ]
    if drifted:
        parts.append("<h2>Drifted columns</h2>")
        parts += [_column_section(column) for column in drifted]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _inline_markdown(text: str) -> str:
    """The next-step sentences use **bold** and `code` only. Each tag comes from one matched pair of markers (a
    marker without its partner stays literal), so the tags always close, whatever the text around them."""
    return INLINE_MARKDOWN.sub(_inline_tag, escape(text))


def _inline_tag(match: re.Match[str]) -> str:
    if match["code"] is not None:
        return f"<code>{match['code']}</code>"
    return f"<strong>{INLINE_MARKDOWN.sub(_inline_tag, match['bold'])}</strong>"  # only `code` can be inside


def _html_table(columns: list[dict[str, Any]]) -> str:
    rows = ["<table><thead><tr><th>Column</th><th>Type</th><th>Drifted</th><th>Test</th><th>What moved</th>"
            "<th>Effect (threshold)</th><th>p (BH)</th></tr></thead><tbody>"]
    for c in columns:
        rows.append(f'<tr class="{"drifted" if c["drifted"] else ""}"><td>{escape(c["column"])}</td>'
                    f'<td>{escape(c["type"])}</td><td>{"yes" if c["drifted"] else "no"}</td>'
                    f'<td>{escape(TEST_NAMES.get(c["test"], c["test"] or "–"))}</td><td>{escape(c["change"])}</td>'
                    f"<td>{escape(effect(c))}</td><td>{escape(p_value(c['p_adjusted']))}</td></tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _column_section(column: dict[str, Any]) -> str:
    name = column["column"]
    chart = column["chart"]
    parts = [f"<section><h3>{escape(name)} <small>({escape(column['type'])})</small></h3>",
             f"<p>{escape(column['change'])}</p>"]
    if chart["kind"] == "histogram" and chart["edges"]:
        parts.append(svg.histogram(f"{name}: reference vs current distribution", chart["edges"],
                                   chart["reference"], chart["current"]))
    elif chart["kind"] == "categories" and chart["labels"]:
        parts.append(svg.grouped_bars(f"{name}: share of each value", chart["labels"], chart["reference"],
                                      chart["current"], chart.get("unseen")))
    if any(check["test"] == "null_rate" and check["drifted"] for check in column["checks"]):
        parts.append(svg.grouped_bars(f"{name}: null rate", ["null"], [column["reference"]["null_rate"]],
                                      [column["current"]["null_rate"]]))
    parts.append("<table><thead><tr><th>Test</th><th>Statistic</th><th>p</th><th>p (BH)</th><th>Effect</th>"
                 "<th>Threshold</th><th>Drifted</th></tr></thead><tbody>")
    for check in column["checks"]:
        parts.append(f"<tr><td>{escape(TEST_NAMES.get(check['test'], check['test']))}</td>"
                     f"<td>{check['statistic']:.4g}</td><td>{p_value(check['p_value'])}</td>"
                     f"<td>{p_value(check['p_adjusted'])}</td><td>{check['effect_size']:.3f} "
                     f"<small>{escape(check['effect'])}</small></td><td>{check['threshold']:g}</td>"
                     f"<td>{'yes' if check['drifted'] else 'no'}</td></tr>")
    parts.append("</tbody></table></section>")
    return "".join(parts)

"""drift.md goes into a GitHub issue as github-actions[bot]: category values any client of the model server sent, and
column names, must render as their literal text there, never as a mention, link, image, HTML tag or emphasis."""

from __future__ import annotations

import copy
import json
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from markdown_it import MarkdownIt

from ml.drift.report import MAX_SHOWN, md_code, md_name, md_value
from tests.drift.conftest import RAW_PARAMS, load_script, make_frame

# What GitHub would turn into something other than text, each with a marker that must only ever show inside code.
HOSTILE = [
    "@org/team see [fix](https://evil.example) ![](https://evil.example/p.png)",
    "<img src=https://evil.example/p.png> <b>loud</b> <!-- hidden",
    "**loud** _soft_ ~~gone~~ :tada: #1 www.evil.example",
    "``` `break` out `` @org/team",
    "two\n\n## @org/team heading\n| cell | <b>loud</b>\r\n- item",
    "\u202e@org/team\u0000\u200b\x1b[31m\tevil",
    "x" * 300 + " @org/team",
]
MARKERS = ("@org", "evil", "loud", "soft", "gone", "tada", "#1", "heading")
ALLOWED_TAGS = {"h2", "h3", "p", "strong", "code", "table", "thead", "tbody", "tr", "th", "td", "ul", "li",
                "blockquote", "details", "summary"}
HOSTILE_COLUMN = "plan <i>@org/team</i> [x](https://evil.example) **loud**"


class Rendered(HTMLParser):
    """CommonMark + GFM tables as HTML: the tags used, and the text inside and outside code spans. GitHub makes
    mentions, autolinks and emoji in text only, never inside code, so text outside code must hold no marker."""

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.code: list[str] = []
        self.outside: list[str] = []
        self._in_code = False
        self.feed(MarkdownIt("commonmark").enable("table").render(markdown))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "code":
            self._in_code = True
            self.code.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_code = self._in_code and tag != "code"

    def handle_comment(self, data: str) -> None:
        self.tags.add("<!--")

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.code[-1] += data
        else:
            self.outside.append(data)

    def assert_inert(self) -> None:
        assert self.tags <= ALLOWED_TAGS, self.tags - ALLOWED_TAGS
        text = "".join(self.outside)
        assert [marker for marker in MARKERS if marker in text] == [], text


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("render", [md_code, md_value, md_name])
def test_each_renderer_keeps_a_hostile_value_in_one_code_span(render, value: str) -> None:
    shown = render(value)
    page = Rendered(f"| a | b |\n|---|---|\n| {shown.replace('|', chr(92) + '|')} | x |\n\n- in a list: {shown}\n")
    page.assert_inert()
    assert len(page.code) == 2 and page.code[0] == page.code[1]
    assert len(page.code[0]) <= MAX_SHOWN + 2  # the quotes md_value adds
    assert "\n" not in page.code[0] and "`" not in page.code[0]


def test_plain_words_stay_plain_and_anything_else_is_code() -> None:
    assert [md_name(name) for name in ("monthly_charges", "month-to-month", "v2", "x")] == \
        ["monthly_charges", "month-to-month", "v2", "x"]
    assert [md_name(name) for name in ("_soft_", "a b", "a.b", "-x", "")] == ["`_soft_`", "`a b`", "`a.b`", "`-x`",
                                                                              "` `"]
    assert md_value("month-to-month") == "`'month-to-month'`"
    assert md_code("a`b", limit=None) == "`a'b`" and md_code("é\u00a0\u2028x") == "`é x`"


@pytest.fixture
def hostile_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """detect_drift.py, as drift.yml runs it, on a production log full of hostile values in a hostile column."""
    raw = copy.deepcopy(RAW_PARAMS)
    raw["features"][HOSTILE_COLUMN] = {"type": "category", "values": ["basic", "pro"]}
    raw["drift"]["critical_columns"] = ["contract", HOSTILE_COLUMN]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    rng = np.random.default_rng(3)
    reference, current = make_frame(rng, 4000), make_frame(rng, 3000)
    reference[HOSTILE_COLUMN] = rng.choice(["basic", "pro"], len(reference))
    current[HOSTILE_COLUMN] = rng.choice(["basic", "pro", *HOSTILE[:2]], len(current))
    current["contract"] = np.where(rng.random(len(current)) < 0.2, rng.choice(HOSTILE[2:], len(current)),
                                   current["contract"])
    reference.to_csv(tmp_path / "reference.csv", index=False)
    lines = [json.dumps({"ts": "2025-01-01T00:00:00Z", "model_version": "v1", "prediction": None,
                         "probability": None, "features": {k: None if pd.isna(v) else v for k, v in row.items()}},
                        default=lambda v: v.item())
             for row in current.to_dict("records")]
    (tmp_path / "current.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(load_script("detect_drift.py").main,
                                ["--reference", "reference.csv", "--current", "current.jsonl", "--out", "out"])
    assert result.exit_code == 0, result.output
    return tmp_path / "out"


def test_the_drift_issue_body_renders_hostile_values_and_names_as_literal_text(hostile_run: Path) -> None:
    markdown = (hostile_run / "drift.md").read_text()
    page = Rendered(markdown)
    page.assert_inert()
    assert "<img" not in markdown.replace("`'<img", "")  # the only raw <img is inside a code span
    code = "\n".join(page.code)
    assert "'@org/team see [fix](https://evil.example) ![](https://evil.example/p.png)'" in code
    assert "plan <i>@org/team</i> [x](https://evil.example) **loud**" in code
    assert "critical columns drifted: contract, plan <i>@org/team</i>" in code  # verdict.py's reason, as code
    assert markdown.startswith("## 🔴 Data drift: contract, `plan <i>@org/team</i>")


def test_the_html_report_keeps_the_raw_values_escaped(hostile_run: Path) -> None:
    html = (hostile_run / "drift.html").read_text()
    assert escape(HOSTILE[0], quote=False) in html and escape(HOSTILE_COLUMN, quote=False) in html
    assert "<img src=https://evil" not in html and "<i>@org" not in html and "<b>loud" not in html

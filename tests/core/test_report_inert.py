"""Reports of hostile data are still posted: pr-comment.yml refuses any comment that is not inert markdown
(ml.github.inert), so each value our templates quote must come out as text that reads the same, whatever it holds.

Property-style: seeded random values built from what real data holds (e-mail addresses, C#, URLs, HTML-ish text,
emoji, pipes, backticks, markdown) fill every slot the pipeline's reports feed into the templates.
"""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from ml.github.inert import WORD_JOINER, markdown_problem
from ml.report import render_invalid_data_report, render_pr_report
from tests.core.test_report import VALID, comparison_of

PIECES = ["user@example.com", "@octocat", "@org/team", "#1", "C#", "owner/repo#12", "GH-12", "gh-3", "http://x",
          "https://e.example/p?q=1", "www.site", "mailto:a@b.example", "ftp://h", "<b>", "</b>", "<img src=x>",
          "<!-- c -->", "<details>", "<summary>", "<https://a.example>", "<a@b.example>", "&#64;u", "&amp;", "&lt;",
          "[x](y)", "![i](y.png)", "[x]", "[x]: http://y", "[^1]", "`", "``", "```", "|", "\\|", "\\", "*", "**b**",
          "_i_", "~~s~~", ":", "://", "//", "10%", ":tada:", "😀", "👍🏽", "é", "\u2060", "\u200b", "\u202e", "\t",
          "\n", "\n\n", "\r\n", "# ", "- ", "1. ", "> ", "---", "===", "    ", "$x$", "{{ x }}", "www", "@", "#", "'",
          '"', "x_www.e.example"]


def hostile(rng: random.Random) -> str:
    """A value such as a user's data holds: a few pieces with words between them, now and then very long."""
    text = "".join(rng.choice(PIECES) + rng.choice(["", " ", "a", "1", "x.example"]) for _ in range(rng.randint(1, 4)))
    return text * 40 if rng.random() < 0.05 else text


def json_value(rng: random.Random) -> object:
    """A params.yaml value as params_diff holds it: a string, a list of category values, a mapping, a scalar."""
    return rng.choice([hostile(rng), [hostile(rng), hostile(rng)], {hostile(rng): hostile(rng)},
                       {"0": 1, "1": 3}, True, None, 0.5])


# GitHub's own rules, written apart from ml.github.inert's: a mention, an e-mail, an issue or GH- reference, a URL.
GITHUB_LIVE = re.compile(r"(?<![\w`])@[a-z0-9]|[\w.+-]@[a-z0-9-]+\.|#\d|\bGH-\d|[a-z][a-z0-9+.-]*://"
                         r"|(?<![^\s*_~(])www\.", re.IGNORECASE)
ALLOWED_TAGS = {"h2", "h3", "p", "strong", "em", "del", "code", "pre", "ul", "li", "table", "thead", "tbody", "tr",
                "th", "td", "details", "summary", "sub"}


class Rendered(HTMLParser):
    """The report as GitHub-flavoured HTML: the tags, and the text inside and outside code."""

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []
        self.outside_code: list[str] = []
        self._code = 0
        self.feed(MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        self._code += tag in ("code", "pre")

    def handle_endtag(self, tag: str) -> None:
        self._code -= tag in ("code", "pre")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if not self._code:
            self.outside_code.append(data)


def assert_posted_and_inert(markdown: str, quoted: list[str]) -> None:
    """What check_artifact.py requires, what GitHub would make of it, and each value still readable: its first
    20 characters at least (a longer one may be cut to fit the comment, never into less markdown than that)."""
    assert markdown_problem(markdown) is None
    page = Rendered(markdown)
    assert page.tags <= ALLOWED_TAGS, page.tags - ALLOWED_TAGS
    assert page.attributes <= {"style", "class"}  # column alignment, the mermaid fence's language
    live = [match.group(0) for text in page.outside_code for match in GITHUB_LIVE.finditer(text)]
    assert live == []
    shown = "".join("".join(page.text).replace(WORD_JOINER, "").split())
    for value in quoted:
        assert "".join(value[:20].replace(WORD_JOINER, "").split()) in shown, value


def pr_report_case(rng: random.Random) -> tuple[list[str], list[str]]:
    """The PR comment and job summary of a trained challenger, hostile data in every slot; the values to read."""
    comparison = comparison_of(champion=rng.random() < 0.8)
    comparison["reasons"] = [f"cannot compare: the feature set changed ({hostile(rng)}, {hostile(rng)})",
                             f"only the data has {hostile(rng)!r}"][:rng.randint(0, 2)]
    if comparison["champion"]:
        comparison["params_diff"] = [{"key": f"features.{hostile(rng)}.values", "champion": json_value(rng),
                                      "challenger": json_value(rng)} for _ in range(rng.randint(0, 4))]
    labels = list(dict.fromkeys(hostile(rng) for _ in range(rng.choice([2, 3, 7, 25]))))
    confusion = {"labels": labels, "matrix": [[rng.randint(0, 50) for _ in labels] for _ in labels]}
    validation = {**VALID, "data": f"data/{hostile(rng)}.csv"}
    reports = [render_pr_report(comparison, validation, {"confusion_matrix": confusion}, "0" * 40, sticky=sticky)
               for sticky in (True, False)]
    quoted = [*comparison["reasons"], validation["data"], *(d["key"] for d in comparison["params_diff"])]
    return reports, quoted + (labels if len(labels) <= 20 else [])


def invalid_report_case(rng: random.Random) -> tuple[list[str], list[str]]:
    """The PR comment and job summary of data that failed validation, quoting its bad values."""
    failures = [{"column": hostile(rng), "check": f"must be one of {[hostile(rng)]}", "count": rng.randint(0, 9),
                 "examples": [repr(hostile(rng)) for _ in range(rng.randint(0, 3))]} for _ in range(rng.randint(0, 4))]
    validation = {"ok": False, "data": f"data/{hostile(rng)}.csv", "target": hostile(rng), "rows": 10,
                  "failures": failures, "error": None if failures else f"target {hostile(rng)!r} has a single class"}
    reports = [render_invalid_data_report(validation, "0" * 40, sticky=sticky) for sticky in (True, False)]
    quoted = [validation["data"], validation["error"] or ""]
    for failure in failures:
        quoted += [failure["column"], failure["check"], ", ".join(failure["examples"])]  # a cell each
    return reports, quoted


@pytest.mark.parametrize("case", [pr_report_case, invalid_report_case])
@pytest.mark.parametrize("seed", range(8))
def test_reports_of_hostile_data_are_inert_and_read_as_the_data(case, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        reports, quoted = case(rng)
        for report in reports:
            assert_posted_and_inert(report, quoted)


@pytest.mark.parametrize("hostile_markdown", [
    "cc @maintainer", "see #12 and GH-3", "https://e.example", "[ok](https://e.example)", "![](https://e.example/p)",
    "<img src=x>", "<b>loud</b>",
])
def test_the_oracle_sees_what_github_would_make_live(hostile_markdown: str) -> None:
    """The checks above can fail: raw markdown of this kind is refused by both."""
    with pytest.raises(AssertionError):
        assert_posted_and_inert(hostile_markdown, [])
    page = Rendered(hostile_markdown)
    assert not page.tags <= ALLOWED_TAGS or any(GITHUB_LIVE.search(text) for text in page.outside_code)

"""pr-comment.yml posts a PR's comment only if GitHub would render it as text and our plain tags (ml.github.inert):
the PR's code rendered it, and the bot must not ping, link or show anything for it."""

from __future__ import annotations

import pytest

from ml.github.inert import defuse, markdown_problem

MARKER = "<!-- mlops-template:pr-report -->"
OURS = f"""{MARKER}
## ✅ Promote: the challenger beats champion v1

- roc_auc improved by 0.0500 (gate: ≥ 0), feature `@org/team` and `http://e.example` in code

| metric | champion v1 | challenger |
| --- | ---: | ---: |
| **roc_auc** (primary) ↑ | 0.8000 | 0.8500 |

```mermaid
xychart-beta
    x-axis ["roc_auc"]
    line [0.8500]
```
<details><summary>Confusion matrix of the challenger (rows: actual, columns: predicted)</summary>

| | `0` | `1` |
| --- | ---: | ---: |
</details>

<sub>Commit `0000000` · challenger sha256 `cccc`</sub>
"""


def test_the_shape_of_our_report_is_inert() -> None:
    assert markdown_problem(OURS) is None


@pytest.mark.parametrize("hostile", [
    "cc @maintainer", "cc @org/everyone", "mail a@b.example", "see #12", "see octo/repo#12", "see GH-12",
    "https://track.example/p", "www.track.example", "see x_www.track.example", "[ok](https://e.example)",
    "![](https://t.example/p.png)", "<https://e.example>", "[ok][1]\n\n[1]: https://e.example", "&#64;maintainer",
    "<img src=x>",
    "<a href='https://e.example'>ok</a>", "<details open><summary>x</summary>\n\n</details>",
    "<details><summary>ping @maintainer</summary>\n\n</details>", "x <b>loud</b>",
    "```mermaid\nflowchart LR\n  A --> B\n  click A href \"https://e.example\"\n```", "```geojson\n{}\n```",
    "| a |\n| --- |\n| @maintainer |",
])
def test_anything_that_pings_links_or_shows_html_is_a_problem(hostile: str) -> None:
    assert markdown_problem(f"{MARKER}\n## Report\n\n{hostile}\n") is not None


def test_defused_text_reads_the_same_and_is_inert() -> None:
    text = "@org/team a@b.example #12 GH-3 www.e.example https://e.example x_www.e.example"
    assert markdown_problem(text) is not None
    assert markdown_problem(defuse(text)) is None
    assert defuse(text).replace("\u2060", "") == text

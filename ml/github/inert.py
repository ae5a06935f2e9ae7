"""Markdown that GitHub shows as text: no link, image, mention, issue reference, or HTML beyond a few plain tags.

pr-comment.yml posts, as the bot and with a write token, a body that a pull request's own code rendered. Our
templates (ml/report.py) quote data inertly, so a body that is not inert did not come from them: it is refused,
not cleaned, because a cleaner that missed one GitHub rule would post what it missed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset({"details", "summary", "sub"})  # what ml/templates use, always without attributes
FENCES = frozenset({"", "mermaid"})  # GitHub renders some fences (geojson maps, stl models) with fetched content
WORD_JOINER = "\u2060"
# What GitHub turns into a link or a notification in text (never inside code): @user, @org/team and e-mail
# addresses, #1, owner/repo#1 and GH-1 references, and GFM's autolinks (scheme://… and www.…, which an underscore
# may precede: `x_www.e.example` links).
_LIVE = re.compile(r"@(?=\w)|#(?=\d)|:(?=//)|(?<![^\W_])(?:www(?=\.)|GH(?=-\d))", re.IGNORECASE)
# Mermaid diagrams can carry links and callbacks (`click A href "…"`).
_LIVE_MERMAID = re.compile(r"://|\bclick\b|\bhref\b|<", re.IGNORECASE)
_PARSER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def defuse(text: str) -> str:
    """text with a word joiner after each character that would start a mention, reference or autolink: it reads
    the same, and GitHub no longer links it."""
    return _LIVE.sub(lambda match: match.group(0) + WORD_JOINER, text)


def markdown_problem(markdown: str) -> str | None:
    """What in `markdown` GitHub would render as more than text and our plain tags, or None."""
    for token in _PARSER.parse(markdown):
        if token.type in ("fence", "code_block"):
            info = token.info.strip().lower()
            if info not in FENCES:
                return f"has a ```{info[:20]} block"
            if info == "mermaid" and _LIVE_MERMAID.search(token.content):
                return "has a mermaid diagram with a link"
        elif token.type == "html_block":
            problem = _html_problem(token.content)
            if problem:
                return problem
        for child in token.children or ():
            if child.type in ("link_open", "image"):
                return f"has a link or image ({child.attrGet('href') or child.attrGet('src') or ''})"[:120]
            if child.type == "html_inline":
                problem = _html_problem(child.content)
                if problem:
                    return problem
            if child.type == "text" and _LIVE.search(child.content):
                return f"has a mention, reference or link in {_quote(child.content)}"
    return None


def _html_problem(html: str) -> str | None:
    found = _HTMLFinder()
    found.feed(html)
    found.close()
    return found.problem


class _HTMLFinder(HTMLParser):
    """The first tag that is not one of ours, attribute, or live text in raw HTML (comments are hidden: fine)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problem: str | None = None

    def _note(self, problem: str) -> None:
        self.problem = self.problem or problem

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS or attrs:
            self._note(f"has the HTML tag {_quote(self.get_starttag_text() or tag)}")

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self._note(f"has the HTML tag </{tag[:40]}>")

    def handle_data(self, data: str) -> None:
        if _LIVE.search(data):
            self._note(f"has a mention, reference or link in {_quote(data)}")


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 60 else text[:59] + "…")

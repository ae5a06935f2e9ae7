"""drift.html is self-contained and opens in a real headless Chromium without console errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from ml.drift.config import drift_config
from ml.drift.detect import compare
from ml.drift.profile import profile_batches
from ml.drift.report import _inline_markdown, render_html, render_markdown
from ml.params import Params
from tests.drift.conftest import as_batch, make_columns

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--enable-logging=stderr", "--v=0", "--window-size=1200,2400"]
CONSOLE_LINE = re.compile(r":CONSOLE[:(]")


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI (.ci/run installs the 'chromium' apt package)")
        pytest.skip("chromium not installed (apt-get install chromium); CI always runs this test")
    return found


def console_messages(chromium: str, page: Path, screenshot: Path, profile: Path) -> list[str]:
    """Load the page in a fresh profile, save a screenshot, return every console message Chromium logged."""
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={screenshot}",
                           page.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert screenshot.exists(), done.stderr[-3000:]
    return [line for line in done.stderr.splitlines() if CONSOLE_LINE.search(line)]


def drift_result(params: Params, *, only_monthly_charges: bool = False) -> dict:
    """A drifted result; with only_monthly_charges, one non-critical column moved: below the dataset rule."""
    rng = np.random.default_rng(8)
    reference, current = make_columns(rng, 5000), make_columns(rng, 4000)
    current["monthly_charges"] = current["monthly_charges"] + 8
    if only_monthly_charges:
        return _compare(params, reference, current)
    current["contract"] = np.where(rng.random(4000) < 0.05, "weekly <b>&", current["contract"])
    current["region"] = np.where(rng.random(4000) < 0.25, None, current["region"])
    current["tenure_months"] = np.minimum(current["tenure_months"] + 6, 72)
    return _compare(params, reference, current)


def _compare(params: Params, reference: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> dict:
    config = drift_config(params)
    profiles = [profile_batches([as_batch(columns)], side, params.features, config.sample_size)
                for side, columns in (("reference.csv", reference), ("current <logs>", current))]
    return compare(*profiles, params.features, config)


class AssetFinder(HTMLParser):
    """Collects anything that would make the page depend on something outside itself."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name in ("src", "href") or (value and re.search(r"url\(|https?://(?!www\.w3\.org/2000/svg)", value)):
                self.problems.append(f"{tag} {name}={value}")


def test_the_report_is_self_contained_and_escapes_data(params: Params) -> None:
    html = render_html(drift_result(params))
    finder = AssetFinder()
    finder.feed(html)
    assert finder.problems == []
    assert "@import" not in html and "url(" not in html
    assert "weekly &lt;b&gt;&amp;" in html and "weekly <b>&" not in html
    assert html.count("<svg") >= 5  # histograms, category bars, the null-rate chart
    assert "`'weekly <b>&'`" in render_markdown(drift_result(params))  # the raw value, but inert: as code


class TagBalance(HTMLParser):
    """Every element closed, innermost first: one unclosed <strong> turns the rest of the page bold."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.problems.append(f"</{tag}> while <{self.open[-1] if self.open else 'nothing'}> is open")


@pytest.mark.parametrize("only_monthly_charges", [False, True], ids=["drift", "below the rule"])
def test_the_report_is_well_formed_and_the_next_steps_intact(params: Params, only_monthly_charges: bool) -> None:
    result = drift_result(params, only_monthly_charges=only_monthly_charges)
    assert result["dataset_drift"] is not only_monthly_charges
    html = render_html(result)
    balance = TagBalance()
    balance.feed(html)
    assert balance.problems == [] and balance.open == []
    assert html.count("<strong>") == html.count("</strong>") and html.count("<code>") == html.count("</code>")
    assert re.search(r"<li><strong>Distribution shift in [a-z_, ]*monthly_charges[a-z_, ]*</strong>: if the", html)
    below = "<li>Below the dataset rule: no action needed yet. Watch these columns in the next runs.</li>"
    assert (below in html) is only_monthly_charges


def test_the_next_steps_claim_a_retraining_only_when_the_dataset_drifted(params: Params) -> None:
    dispatched = "The drift workflow dispatches `retrain.yml`;"
    assert dispatched in render_markdown(drift_result(params))
    below = render_markdown(drift_result(params, only_monthly_charges=True))
    assert dispatched not in below and "dispatches `retrain.yml` only when the dataset drifts" in below


@pytest.mark.parametrize(("text", "html"), [
    ("Below the rule, `code` and **bold**", "Below the rule, <code>code</code> and <strong>bold</strong>"),
    ("**New values in `a`, <b>**: C", "<strong>New values in <code>a</code>, &lt;b&gt;</strong>: C"),
    ("a lone ** and a lone ` stay", "a lone ** and a lone ` stay"),
    ("`x**y` then **z**", "<code>x**y</code> then <strong>z</strong>"),
])
def test_only_paired_markers_become_tags(text: str, html: str) -> None:
    assert _inline_markdown(text) == html


def test_the_report_opens_in_headless_chromium_without_console_errors(chromium: str, params: Params,
                                                                     tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>console.error('boom'); missing();</script></body></html>")
    control = console_messages(chromium, broken, tmp_path / "broken.png", tmp_path / "profile-control")
    assert len(control) >= 2, "the harness must see console errors when there are some"

    report = tmp_path / "drift.html"
    report.write_text(render_html(drift_result(params)), encoding="utf-8")
    screenshot = tmp_path / "drift.png"
    assert console_messages(chromium, report, screenshot, tmp_path / "profile") == []
    header = screenshot.read_bytes()[:24]
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and (width, height) == (1200, 2400)
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_a_long_new_category_label_is_cut_to_fit_with_its_mark() -> None:
    from ml.drift.svg import LABEL_CHARS, grouped_bars

    label = "<script>alert(1)</script> and more"
    svg = grouped_bars("t", [label, "ok"], [0.0, 1.0], [0.5, 0.5], marks=[True, False])
    shown = svg.split("</title>", 2)[2].split("</text>", 1)[0]  # the first label's text, after its tooltip
    assert shown.endswith("… (new)") and len(shown.replace("&lt;", "<").replace("&gt;", ">")) == LABEL_CHARS
    assert "<script>" not in svg

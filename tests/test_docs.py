"""The documentation is the template's front door: its links lead somewhere, and its reference tables name what the
code and the workflows actually read (every params.yaml key, every repository variable and secret, every job's
token permissions)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from ml.drift.config import DEFAULTS as DRIFT_KEYS
from ml.params import read_params_yaml
from serving.settings import KEYS as SERVING_KEYS
from tests.conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted(REPO.glob("*/README.md"))]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
MARKDOWN = MarkdownIt("commonmark").enable("table")


def _tokens(path: Path) -> list:
    blocks = MARKDOWN.parse(path.read_text(encoding="utf-8"))
    return [token for block in blocks for token in [block, *(block.children or [])]]


def anchors(path: Path) -> set[str]:
    """The ids GitHub gives the headings: lower case, punctuation but - and _ dropped, spaces as -, repeats -1, -2."""
    tokens, seen, found = MARKDOWN.parse(path.read_text(encoding="utf-8")), {}, set()
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type == "heading_open":
            slug = re.sub(r"[^\w\- ]", "", inline.content.replace("`", "").strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    return [token.attrs["href"] for token in _tokens(path) if token.type == "link_open"
            and not re.match(r"[a-z][a-z+.-]*:", str(token.attrs["href"]))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_and_anchors_resolve(doc: Path) -> None:
    broken = []
    for link in relative_links(doc):
        target, _, anchor = link.partition("#")
        file = (doc.parent / target).resolve() if target else doc
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            broken.append(link)
    assert not broken, f"{doc.relative_to(REPO)}: broken links {broken}"


def _section(doc: Path, heading: str) -> str:
    """The text from the `## heading` line to the next `## ` heading."""
    text = doc.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def params_yaml_keys(mapping: dict, prefix: str = "") -> list[str]:
    """Every setting of params.yaml as a dotted key; a feature's and the model's own names are the user's data."""
    keys = []
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        keys.append(dotted)
        if isinstance(value, dict) and dotted not in ("features", "model.params", "metrics.guardrails"):
            keys += params_yaml_keys(value, f"{dotted}.")
    return keys


def test_readme_configuration_reference_names_every_params_yaml_key() -> None:
    reference = _section(REPO / "README.md", "Configuration reference")
    spelled = set(re.findall(r"`([^`]+)`", reference))
    expected = [*params_yaml_keys(read_params_yaml(REPO / "params.yaml")[1]),
                *(f"drift.{key}" for key in DRIFT_KEYS), *(f"serving.{key}" for key in SERVING_KEYS)]
    # A row may name a section's keys bare: `metrics.primary` is `name` and `direction`, `drift.*` is `fdr`, ...
    def named(key: str) -> bool:
        parent, _, last = key.rpartition(".")
        return key in spelled or bool(parent) and bool({parent, f"{parent}.*"} & spelled) and last in spelled

    missing = [key for key in dict.fromkeys(expected) if not named(key)]
    assert not missing, f"README.md's configuration reference does not name {missing}"


def test_every_repository_variable_and_secret_is_documented() -> None:
    used = {name for path in WORKFLOWS
            for name in re.findall(r"\b(?:vars|secrets)\.([A-Z][A-Z0-9_]*)", path.read_text(encoding="utf-8"))}
    for doc in (REPO / "README.md", REPO / "docs" / "workflows.md"):
        table = _section(doc, "On GitHub" if doc.name == "README.md" else "Secrets and variables")
        listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
        assert used <= listed, f"{doc.relative_to(REPO)} does not list {sorted(used - listed)}"


def documented_permissions(cell: str, jobs: dict) -> dict[str, set[str]]:
    """`job: `a: read`, `b: write`; job2: …` (or one list for every job that has permissions) → job → grants."""
    granted: dict[str, set[str]] = {}
    for part in cell.split(";"):
        label = re.match(r"\s*([\w-]+):\s*`", part)
        named = label and label.group(1) in jobs
        for job in [label.group(1)] if named else [job for job, spec in jobs.items() if spec.get("permissions")]:
            granted.setdefault(job, set()).update(re.findall(r"`([\w-]+: \w+)`", part))
    return granted


def test_the_workflow_table_lists_each_jobs_permissions() -> None:
    rows = {match.group(1): match.group(2) for match in re.finditer(
        r"^\| `([\w-]+\.yml)` \| [^|]+ \| ([^|]+) \|", (REPO / "docs" / "workflows.md").read_text(), re.M)}
    assert set(rows) == {path.name for path in WORKFLOWS}
    for path in WORKFLOWS:
        jobs = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]
        actual = {job: {f"{key}: {value}" for key, value in spec["permissions"].items()}
                  for job, spec in jobs.items() if spec.get("permissions")}
        assert documented_permissions(rows[path.name], jobs) == actual, path.name

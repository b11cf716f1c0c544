"""The Markdown pages: their code runs, the landing page covers the book, and every
link to an entry of the references page names an entry that exists.

Read from the sources in docs/, so these tests need no build of the site.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHAPTERS = sorted((DOCS / "chapters").glob("*.py"))
REFERENCES = DOCS / "reference" / "references.md"

# Pages whose ```python blocks a reader is invited to copy and run.
PAGES_WITH_CODE = [DOCS / "getting_started.md", DOCS / "index.md"]

# A fenced block: the opening fence (maybe indented, in a list), the code, the closing
# fence with the same indentation.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)[^\n]*\n"
    r"(?P<code>.*?)"
    r"^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)

# `{#anchor}` (attr_list on a heading or a block) and `id="anchor"` (md_in_html).
ANCHOR = re.compile(r"\{:?[^}\n]*?#([A-Za-z][\w-]*)[^}\n]*\}|\bid=\"([^\"]+)\"")
# A link into the references page, from a chapter (../reference/references.md) or a
# page (reference/references.md, references.md).
REFERENCE_LINK = re.compile(r"\]\((?:[./\w-]*/)?references\.md#([^)\s]+)\)")


def python_blocks(page: Path) -> list[str]:
    """The code of every ```python block of a Markdown page, dedented."""
    blocks = []
    for match in FENCE.finditer(page.read_text(encoding="utf-8")):
        if match.group("lang").lower() in ("python", "py", "python3"):
            blocks.append(textwrap.dedent(match.group("code")))
    return blocks


SNIPPETS = [
    pytest.param(code, id=f"{page.stem}-{number}")
    for page in PAGES_WITH_CODE
    for number, code in enumerate(python_blocks(page), start=1)
]


def test_getting_started_shows_code():
    assert len(python_blocks(DOCS / "getting_started.md")) >= 2


@pytest.mark.parametrize("code", SNIPPETS)
def test_snippet_runs_on_its_own(code, tmp_path):
    """Each block runs in a fresh interpreter, in an empty folder, as a reader would run it."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{code}\n--- stderr ---\n{result.stderr[-4000:]}"


def test_landing_page_links_every_chapter():
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(chapters/([^)#\s]+\.py)(?:#[^)\s]*)?\)", text))
    missing = [chapter.name for chapter in CHAPTERS if chapter.name not in linked]
    assert not missing, f"docs/index.md does not link {missing}"
    unknown = sorted(name for name in linked if not (DOCS / "chapters" / name).exists())
    assert not unknown, f"docs/index.md links chapters that do not exist: {unknown}"


def reference_anchors() -> list[str]:
    text = REFERENCES.read_text(encoding="utf-8")
    return [a or b for a, b in ANCHOR.findall(text)]


def test_reference_anchors_are_unique():
    anchors = reference_anchors()
    assert anchors, "references.md defines no anchors"
    duplicates = sorted({a for a in anchors if anchors.count(a) > 1})
    assert not duplicates, duplicates


def citing_files() -> list[Path]:
    return sorted(DOCS.rglob("*.md")) + CHAPTERS


def test_every_reference_link_names_an_entry():
    anchors = set(reference_anchors())
    broken = []
    for path in citing_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for anchor in REFERENCE_LINK.findall(line):
                if anchor not in anchors:
                    broken.append(f"{path.relative_to(ROOT)}:{number}: #{anchor}")
    assert not broken, "links to references.md entries that do not exist:\n" + "\n".join(broken)


def test_chapters_cite_the_references_page():
    """The parts of the book that rest on published work link to it."""
    cited = {path.name for path in citing_files() if REFERENCE_LINK.search(path.read_text(encoding="utf-8"))}
    for name in ("03_additive_attention.py", "05_scaled_dot_product_attention.py",
                 "10_multi_head_attention.py", "12_transformer_architecture.py"):
        assert name in cited, f"{name} links no entry of references.md"

"""The build itself: a failing chapter fails it, a bad link fails it, and the
chapter cache follows the package.

Each test builds a one-chapter book in a temporary folder with the book's own
mkdocs.yml (plugins, hooks, options) and only the nav changed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from site_helpers import ROOT

HEADER = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""


def make_book(folder: Path, chapter_body: str) -> Path:
    """A copy of the book's machinery with one chapter, `chapters/01_tiny.py`."""
    for name in ("hooks", "attention"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "requirements.txt", folder / "requirements.txt")
    docs = folder / "docs"
    for name in ("javascripts", "stylesheets"):
        shutil.copytree(ROOT / "docs" / name, docs / name)
    (docs / "index.md").write_text("# A tiny book\n\nSee [the chapter](chapters/01_tiny.py).\n")
    (docs / "chapters").mkdir()
    (docs / "chapters" / "01_tiny.py").write_text(HEADER + chapter_body)
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config["nav"] = ["index.md", "chapters/01_tiny.py"]
    (folder / "mkdocs.yml").write_text(yaml.safe_dump(config))
    return folder


def build(folder: Path, workers: int = 2) -> subprocess.CompletedProcess:
    """Build the book; `workers` chapter workers (0: mkdocs-jupyter runs the chapters)."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=folder,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "BOOK_BUILD_WORKERS": str(workers)},
        capture_output=True,
        text=True,
    )


GOOD_CHAPTER = """
# %% [markdown]
# # Tiny
# Some math: $e^{i\\pi} = -1$.
# ## Calling `attention.softmax`
# ## Again
# ## Again

# %%
print(1 + 1)
"""


# What mkdocs-jupyter logs when it executes a chapter, in a worker or in the build itself.
RAN = "Converting notebook (execute=True)"


@pytest.mark.parametrize("workers", [0, 2])
def test_a_chapter_that_raises_fails_the_build(tmp_path, workers):
    book = make_book(tmp_path, '\n# %%\nraise RuntimeError("a deliberate failure in a chapter")\n')
    result = build(book, workers)
    assert result.returncode != 0
    assert "a deliberate failure in a chapter" in result.stderr


def test_a_link_to_a_missing_chapter_fails_the_build(tmp_path):
    book = make_book(tmp_path, "\n# %% [markdown]\n# See [nowhere](02_missing.py).\n")
    result = build(book)
    assert result.returncode != 0
    assert "02_missing.py" in result.stderr


def test_chapters_rerun_when_the_package_changes_and_only_then(tmp_path):
    """Also the control for the failing-chapter test: a chapter that runs builds."""
    book = make_book(tmp_path, GOOD_CHAPTER)
    first = build(book)
    assert first.returncode == 0, first.stderr[-3000:]
    assert RAN in first.stderr
    html = (book / "site" / "chapters" / "01_tiny" / "index.html").read_text()
    assert "<pre>2\n</pre>" in html  # the output of the executed cell
    # The table of contents names the headings as the page shows them, and links to them.
    toc = re.findall(r'<a href="#([^"]+)" class="md-nav__link">\s*<span class="md-ellipsis">\s*(.*?)\s*</span>', html, re.S)
    assert toc[:3] == [("calling-attentionsoftmax", "Calling attention.softmax"), ("again", "Again"), ("again_1", "Again")]
    ids = set(re.findall(r' id="([^"]+)"', html))
    assert all(anchor in ids for anchor, _ in toc), toc

    unchanged = build(book)
    assert unchanged.returncode == 0
    assert "Cache hit" in unchanged.stderr and RAN not in unchanged.stderr

    softmax = book / "attention" / "softmax.py"
    softmax.write_text(softmax.read_text() + "\n# an edit to the package\n")
    changed = build(book)
    assert changed.returncode == 0
    assert RAN in changed.stderr

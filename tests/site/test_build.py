"""The build itself: a failing chapter fails it, a bad link fails it, and the
chapter cache follows the package and the code that runs the chapters.

Each test builds a one-chapter book in a temporary folder with the book's own
mkdocs.yml (plugins, hooks, options) and only the nav changed.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from mkdocs.utils.yaml import yaml_load

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
    for name in ("hooks", "executor", "attention", "overrides"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("requirements.txt", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, folder / name)
    docs = folder / "docs"
    for name in ("javascripts", "stylesheets"):
        shutil.copytree(ROOT / "docs" / name, docs / name)
    (docs / "index.md").write_text("# A tiny book\n\nSee [the chapter](chapters/01_tiny.py).\n")
    (docs / "chapters").mkdir()
    (docs / "chapters" / "01_tiny.py").write_text(HEADER + chapter_body)
    config = yaml_load((ROOT / "mkdocs.yml").read_text())  # mkdocs' loader: it knows !ENV
    config["nav"] = ["index.md", "chapters/01_tiny.py"]
    (folder / "mkdocs.yml").write_text(yaml.safe_dump(config))
    return folder


def build(folder: Path, workers: int = 2, **env: str) -> subprocess.CompletedProcess:
    """Build the book, running at most `workers` chapters at a time (0: one per core)."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=folder,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "BOOK_BUILD_WORKERS": str(workers), **env},
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


# What hooks/execute.py logs when it has run a chapter.
RAN = "Executed 01_tiny.py"


@pytest.mark.parametrize("workers", [0, 2])
def test_a_chapter_that_raises_fails_the_build(tmp_path, workers):
    book = make_book(tmp_path, '\n# %%\nraise RuntimeError("a deliberate failure in a chapter")\n')
    result = build(book, workers)
    assert result.returncode != 0
    assert "a deliberate failure in a chapter" in result.stderr
    assert "01_tiny.py, cell 1 raised" in result.stderr


RUN_WITHOUT_MKDOCS = """
import asyncio, sys
from pathlib import Path
from executor import chapters, kernel_forks
chapter, target = Path(sys.argv[1]), Path(sys.argv[2])
forks = kernel_forks.serve_forks() if kernel_forks.AVAILABLE else ""
print(asyncio.run(chapters.execute(chapter, target, asyncio.Semaphore(1), forks)))
print(sorted({name.split(".")[0] for name in sys.modules} & {"mkdocs", "material", "mkdocs_jupyter"}))
"""


def test_stage_one_runs_a_chapter_without_mkdocs(tmp_path):
    """executor/ alone turns a chapter into its executed notebook (the exit plan: another
    renderer drives it as hooks/execute.py does), and a failing cell names its chapter."""
    book = make_book(tmp_path, "\n# %%\nprint(6 * 7)\n")
    chapter, target = book / "docs" / "chapters" / "01_tiny.py", tmp_path / "out" / "01_tiny.ipynb"
    result = subprocess.run([sys.executable, "-c", RUN_WITHOUT_MKDOCS, str(chapter), str(target)],
                            cwd=book, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "[]"  # nothing of MkDocs was imported
    assert "Debugger warning" not in result.stderr  # debugpy, imported by the fork server, keeps quiet
    executed = nbformat.read(target, as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "42\n"
    assert nbformat.read(target.with_suffix(".download"), as_version=4).cells[-1].get("outputs") == []

    chapter.write_text(chapter.read_text() + '\n# %%\nraise ValueError("no")\n')
    failed = subprocess.run([sys.executable, "-c", RUN_WITHOUT_MKDOCS, str(chapter), str(tmp_path / "failed.ipynb")],
                            cwd=book, capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0 and "ChapterError: 01_tiny.py, cell 2 raised" in failed.stderr
    assert not (tmp_path / "failed.ipynb").exists()


RUN_THREE = """
import asyncio, json, sys
from pathlib import Path
from executor import chapters, kernel_forks
forks = kernel_forks.serve_forks() if kernel_forks.AVAILABLE else ""

async def main():
    workers, kernels = asyncio.Semaphore(1), asyncio.Semaphore(2)
    runs = [chapters.execute(Path(name), Path(name).with_suffix(".ipynb"), workers, forks, kernels)
            for name in sys.argv[1:]]
    await asyncio.gather(*runs)

asyncio.run(main())
print(json.dumps([json.loads(chapters.nbformat.read(Path(name).with_suffix(".ipynb"), as_version=4)
                             .cells[-1].outputs[0]["text"]) for name in sys.argv[1:]]))
"""
TIMED_CHAPTER = """# %%
import json, os, time
start = time.time()
time.sleep(0.4)
# %%
print(json.dumps([start, time.time(), os.getpid()]))
"""


def test_kernels_get_ready_ahead_but_chapters_run_one_per_worker(tmp_path):
    """A kernel may start while another chapter runs, but never more chapters run at once than
    there are workers (the timings that chapters print depend on it)."""
    book = make_book(tmp_path, "\n# %%\nprint(1)\n")
    names = []
    for number in range(3):
        names.append(str(book / f"timed_{number}.py"))
        Path(names[-1]).write_text(TIMED_CHAPTER)
    result = subprocess.run([sys.executable, "-c", RUN_THREE, *names], cwd=book, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted(json.loads(result.stdout.splitlines()[-1]))  # [start, end, kernel's pid] of each
    assert len({pid for _, _, pid in runs}) == 3  # a kernel of its own for each chapter
    for (_, end, _), (start, _, _) in zip(runs, runs[1:]):
        assert end <= start, runs  # one at a time: the worker is taken before the first cell runs


def test_a_chapter_that_exclude_docs_names_never_runs(tmp_path):
    book = make_book(tmp_path, '\n# %%\nraise RuntimeError("a deliberate failure in a chapter")\n')
    config = yaml.safe_load((book / "mkdocs.yml").read_text())
    config["exclude_docs"], config["nav"] = "chapters/01_tiny.py\n", ["index.md"]
    (book / "mkdocs.yml").write_text(yaml.safe_dump(config))
    (book / "docs" / "index.md").write_text("# A tiny book\n")
    result = build(book)
    assert result.returncode == 0, result.stderr[-3000:]
    assert RAN not in result.stderr and not (book / "site" / "chapters" / "01_tiny").exists()


def test_a_link_to_a_missing_chapter_fails_the_build(tmp_path):
    book = make_book(tmp_path, "\n# %% [markdown]\n# See [nowhere](02_missing.py).\n")
    for run in ("executed and adjusted", "both from the cache"):
        result = build(book)
        assert result.returncode != 0, run
        assert "02_missing.py" in result.stderr, run


def test_chapters_rerun_when_the_package_changes_and_only_then(tmp_path):
    """Also the control for the failing-chapter test: a chapter that runs builds."""
    book = make_book(tmp_path, GOOD_CHAPTER)
    first = build(book)
    assert first.returncode == 0, first.stderr[-3000:]
    assert RAN in first.stderr
    html = (book / "site" / "chapters" / "01_tiny" / "index.html").read_text()
    assert "<pre>2\n</pre>" in html  # the output of the executed cell
    # Numbered from its file name (01_tiny.py), in the page's title and its heading.
    assert re.search(r"<title>1\. Tiny - ", html)
    assert re.search(r'<h1 id="tiny">1\. Tiny<a class="anchor-link"', html)
    # The table of contents names the headings as the page shows them, and links to them.
    toc = re.findall(r'<a href="#([^"]+)" class="md-nav__link">\s*<span class="md-ellipsis">\s*(.*?)\s*</span>', html, re.S)
    assert toc[:3] == [("calling-attentionsoftmax", "Calling attention.softmax"), ("again", "Again"), ("again_1", "Again")]
    ids = set(re.findall(r' id="([^"]+)"', html))
    assert all(anchor in ids for anchor, _ in toc), toc

    def site() -> dict[str, bytes]:
        return {path.relative_to(book).as_posix(): path.read_bytes() for path in (book / "site").rglob("*") if path.is_file()}

    built = site()
    unchanged = build(book)
    assert unchanged.returncode == 0
    assert RAN not in unchanged.stderr
    assert site() == built  # the same site, byte for byte, from the cache

    softmax = book / "attention" / "foundations" / "softmax.py"
    softmax.write_text(softmax.read_text() + "\n# an edit to the package\n")
    changed = build(book)
    assert changed.returncode == 0
    assert RAN in changed.stderr

    forks = book / "executor" / "kernel_forks.py"  # a fix to how kernels run must not meet old outputs
    forks.write_text(forks.read_text() + "\n# an edit to the kernels\n")
    rerun = build(book)
    assert rerun.returncode == 0
    assert RAN in rerun.stderr

    pages = set((book / ".cache" / "pages").glob("*.json"))  # the HTML stage's output per page
    requirements = book / "requirements.txt"  # say, a new BeautifulSoup
    requirements.write_text(requirements.read_text() + "\n# an edit to the requirements\n")
    assert build(book).returncode == 0
    assert pages and set((book / ".cache" / "pages").glob("*.json")).isdisjoint(pages)


FIGURES_CHAPTER = """
# %% [markdown]
# # Figures

# %% tags=["fold"]
import matplotlib.pyplot as plt
from attention.plotting import use_book_style
use_book_style()
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
plt.show()

# %% [markdown]
# **Figure 1.1.** A line going down.

# %%
fig, ax = plt.subplots()
ax.plot([0, 1], [0, 1])
plt.show()

# %% [markdown]
# **Figure 1.2.** A line going up.

# %% tags=["solution"]
# Exercise 2: the answer
print(6 * 7)
"""


def test_figures_are_drawn_whatever_the_backend_and_named_by_their_captions(tmp_path):
    book = make_book(tmp_path, FIGURES_CHAPTER)
    result = build(book, MPLBACKEND="Agg")  # usual on servers: plt.show() alone would draw nothing
    assert result.returncode == 0, result.stderr[-3000:]
    html = (book / "site" / "chapters" / "01_tiny" / "index.html").read_text()
    figures = re.findall(r"<svg [^>]*>", html)
    named = [re.search(r'aria-labelledby="([^"]+)"', svg) for svg in figures if 'role="img"' in svg]
    assert [m and m[1] for m in named] == ["figure-1-1", "figure-1-2"]
    assert re.search(r'<p id="figure-1-1"><strong>Figure 1.1.</strong> A line going down.', html)
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)[:10]
    # The fold cell's code is folded, still copied by its button; its figure is shown.
    fold = re.search(r'<details class="fold"><summary>Show the code</summary>(.*?)</details>', html, re.S)
    assert fold and 'class="clipboard-copy-txt"' in fold[1] and 'role="img"' not in fold[1]
    assert "ax.plot([0, 1], [1, 0])" in fold[1]
    solution = re.search(r'<details class="solution"><summary>Solution to exercise 2</summary>(.*?)</details>', html, re.S)
    assert solution and "<pre>42\n</pre>" in solution[1]
    assert 'class="cell-tag"' not in html and "celltoolbar" not in html


def test_highlighted_code_loses_only_spans_that_draw_nothing():
    """Names and whitespace have no colour of their own: their spans go, neighbours of
    one class join, and the code's text and every coloured token stay as they were."""
    sys.path.insert(0, str(ROOT / "hooks"))
    from bs4 import BeautifulSoup
    from chapter_pages import lighten_code

    html = ('<div class="highlight-ipynb"><pre><span></span><span class="n">x</span>'
            '<span class="w"> </span><span class="o">=</span><span class="w"> </span>'
            '<span class="n">f</span><span class="p">(</span><span class="p">)</span>'
            '<span class="w"> </span><span class="c1"># a comment</span>\n</pre></div>')
    soup = BeautifulSoup(html, "html.parser")
    lighten_code(soup)
    assert soup.get_text() == BeautifulSoup(html, "html.parser").get_text()
    assert [(s.get("class"), s.get_text()) for s in soup.find_all("span")] == [
        (None, ""), (["o"], "="), (["p"], "()"), (["c1"], "# a comment")]


def test_the_copy_icon_is_drawn_once_and_used_by_every_button():
    sys.path.insert(0, str(ROOT / "hooks"))
    from bs4 import BeautifulSoup
    from chapter_pages import share_copy_icon

    icon = '<svg class="clipboard-copy-icon" viewbox="0 0 16 16"><path d="M0 0h16v16z"></path></svg>'
    soup = BeautifulSoup(f'<div class="jp-Notebook">{icon}<p>text</p>{icon}</div>', "html.parser")
    share_copy_icon(soup)
    assert [str(p) for p in soup.find("symbol", id="copy-icon").find_all("path")] == ['<path d="M0 0h16v16z"></path>']
    assert [u["href"] for u in soup.find_all("use")] == ["#copy-icon", "#copy-icon"]
    assert len(soup.find_all("path")) == 1


def test_the_build_benchmark_finds_what_it_imports():
    """benchmarks/build.py is run by hand, rarely: at least its imports must resolve."""
    import runpy

    names = runpy.run_path(str(ROOT / "benchmarks" / "build.py"), run_name="not_main")
    assert callable(names["main"]) and names["CHAPTERS"]


def private_names_of_other_packages(source: str) -> list[str]:
    """`_name`s the code takes from packages not its own: `from x import _y`, `x._y`
    (the standard library's, such as `os._exit`, are documented)."""
    own = {"attention", "executor", "execute", "chapter_pages", "book", "mathjax"} | sys.stdlib_module_names
    tree = ast.parse(source)
    imported: dict[str, str] = {}  # local name -> the package it comes from
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {(alias.asname or alias.name).split(".")[0]: alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            package = node.module.split(".")[0]
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_") and package not in own]
            imported |= {alias.asname or alias.name: package for alias in node.names}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr.startswith("_")
                and not node.attr.startswith("__") and imported.get(node.value.id, "attention") not in own):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_the_build_uses_only_public_names_of_other_packages():
    """hooks/ and executor/ reach no private name of MkDocs, mkdocs-jupyter, nbclient...:
    an upgrade of a plugin cannot break them silently."""
    assert private_names_of_other_packages(
        "from mkdocs_jupyter.plugin import _compute_cache_key\nimport nbclient\nnbclient._private()\n"
        "from attention import _moved\n") == ["mkdocs_jupyter.plugin._compute_cache_key", "nbclient._private"]
    code = sorted((ROOT / "hooks").glob("*.py")) + sorted((ROOT / "executor").glob("*.py"))
    found = {path.name: private_names_of_other_packages(path.read_text()) for path in code}
    assert not {name: names for name, names in found.items() if names}

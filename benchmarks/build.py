"""Measure the build: cold and unchanged-rebuild times, each chapter's execution time,
and each chapter page's weight. Prints a table; budgets from the project issues.

    python benchmarks/build.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "hooks"))
from notebooks import CACHE_ROOT, write_notebook  # noqa: E402
from site_helpers import CHAPTERS, build_site, chapter_page, page_weight  # noqa: E402

BUDGET_COLD_S, BUDGET_CHAPTER_S, BUDGET_PAGE_KB = 90, 4, 300


def timed_build(site_dir: Path) -> float:
    start = time.perf_counter()
    result = build_site(site_dir)
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    return time.perf_counter() - start


def chapter_seconds(chapter: Path, folder: Path) -> float:
    """Kernel start plus every cell, as the build runs it."""
    path = folder / f"{chapter.stem}.ipynb"
    write_notebook(chapter, path)
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        shutil.rmtree(CACHE_ROOT, ignore_errors=True)
        cold = timed_build(site)
        warm = timed_build(site)
        print(f"{'measure':<40} {'value':>10} {'budget':>10}")
        print(f"{'cold mkdocs build --strict (s)':<40} {cold:>10.1f} {BUDGET_COLD_S:>10}")
        print(f"{'unchanged rebuild (s)':<40} {warm:>10.1f} {'':>10}")
        for chapter in CHAPTERS:
            seconds = chapter_seconds(chapter, Path(tmp))
            print(f"{'run ' + chapter.stem + ' (s)':<40} {seconds:>10.1f} {BUDGET_CHAPTER_S:>10}")
        for chapter in CHAPTERS:
            kb = page_weight(site, chapter_page(site, chapter)) / 1024
            print(f"{'page ' + chapter.stem + ' (KB)':<40} {kb:>10.0f} {BUDGET_PAGE_KB:>10}")


if __name__ == "__main__":
    main()

"""Measure the build against the budgets of the project's issues. Prints a table:

* a cold `mkdocs build --strict` (the chapter cache wiped: every chapter runs), three
  times, and their median;
* a rebuild with nothing changed, and after an edit to one chapter (a typical
  one, and the slowest to run), each as a fresh `mkdocs build --strict` process;
* the same edit under `mkdocs serve`, whose process stays warm between builds
  (how one writes a chapter): from saving the file to the rebuilt site;
* each chapter's run time alone on one core, in a warm fork as the build runs it and
  in a fresh kernel as a reader's Jupyter runs it (kernel start and imports included),
  and each chapter page's weight.

Every build is also given in CPU seconds of the whole machine (the build, its
forkserver and kernels), so measure on an otherwise idle machine (Linux: /proc/stat).

    python benchmarks/build.py

The edited chapter gets a comment appended, and is restored afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "site"))
sys.path.insert(0, str(ROOT))
from executor import kernel_forks  # noqa: E402
from executor.chapters import KERNEL_ENV, source_notebook  # noqa: E402
from site_helpers import CHAPTERS, build_site, chapter_page, page_weight  # noqa: E402

BUDGET_COLD_S, BUDGET_REBUILD_S, BUDGET_PAGE_KB, BUDGET_CHAPTER_S = 56, 8, 300, 15
COLD_RUNS = 3  # the cold build's figure is their median
CACHE = ROOT / ".cache"  # executed chapters, rendered pages, the package's wheel
EDITED = ROOT / "docs" / "chapters" / "05_scaled_dot_product_attention.py"  # a typical chapter
SLOWEST = ROOT / "docs" / "chapters" / "13_training_a_transformer.py"  # trains a model


def cpu_seconds() -> float:
    """CPU time the machine has spent busy (the kernels are not this process's children)."""
    user, nice, system = map(int, Path("/proc/stat").read_text().split()[1:4])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def timed_build(site_dir: Path, rows: list | None = None, name: str = "", budget="") -> float:
    start, cpu = time.perf_counter(), cpu_seconds()
    result = build_site(site_dir)
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    seconds = time.perf_counter() - start
    if rows is not None:
        rows += [(f"{name} (s)", seconds, budget), (f"{name} (CPU s)", cpu_seconds() - cpu, "")]
    return seconds


def edit(chapter: Path, note: str) -> None:
    """A change to the chapter's bytes (so its cache misses) that changes nothing else."""
    with chapter.open("a", encoding="utf-8") as file:
        file.write(f"\n# benchmark edit: {note}\n")


def serve_rebuild_seconds(chapter: Path) -> float:
    """Seconds from saving an edit to `mkdocs serve` having rebuilt the site."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "--strict", "-a", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        for line in server.stdout:  # the first build
            if "Serving on" in line:
                break
        time.sleep(2)  # let the file watcher settle
        start = time.perf_counter()
        edit(chapter, "serve")
        for line in server.stdout:
            if re.search(r"Reloading browsers|Documentation built in", line):
                return time.perf_counter() - start
        raise RuntimeError("mkdocs serve stopped before rebuilding")
    finally:
        server.terminate()
        server.wait()


def chapter_seconds(chapter: Path, forked: bool) -> float:
    """Kernel start plus every cell, on one core, in a warm fork or in a fresh kernel."""
    notebook = source_notebook(chapter)
    options = {"kernel_manager_class": kernel_forks.ForkedKernelManager} if forked else {}
    env = {**os.environ, **KERNEL_ENV, "BOOK_KERNEL_FORKS": kernel_forks.serve_forks()}
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3", shutdown_kernel="immediate",
                   resources={"metadata": {"path": str(chapter.parent)}}, **options).execute(env=env)
    return time.perf_counter() - start


def main() -> None:
    rows = []
    original, slowest_original = EDITED.read_bytes(), SLOWEST.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        for _ in range(COLD_RUNS - 1):
            shutil.rmtree(CACHE, ignore_errors=True)
            timed_build(site, rows, "cold mkdocs build --strict")
        shutil.rmtree(CACHE, ignore_errors=True)
        timed_build(site, rows, "cold mkdocs build --strict", BUDGET_COLD_S)
        colds = sorted(value for name, value, _ in rows if name == "cold mkdocs build --strict (s)")
        rows.append(("cold mkdocs build --strict, median (s)", colds[len(colds) // 2], BUDGET_COLD_S))
        timed_build(site, rows, "rebuild, nothing changed")
        try:
            edit(EDITED, "build")
            timed_build(site, rows, f"rebuild, {EDITED.stem} edited", BUDGET_REBUILD_S)
            EDITED.write_bytes(original)
            timed_build(site)  # back to the original
            edit(SLOWEST, "build")  # the bound: a rebuild waits for the edited chapter to run
            timed_build(site, rows, f"rebuild, {SLOWEST.stem} edited")
            SLOWEST.write_bytes(slowest_original)
            timed_build(site)
            rows.append((f"mkdocs serve, {EDITED.stem} edited (s)", serve_rebuild_seconds(EDITED),
                         BUDGET_REBUILD_S))
        finally:
            EDITED.write_bytes(original)
            SLOWEST.write_bytes(slowest_original)
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, for the kernels too
        kernel_forks.serve_forks()  # started on that core
        chapter_seconds(CHAPTERS[0], True)  # waits for the server's imports; those it makes idle follow
        time.sleep(5)
        for chapter in CHAPTERS:
            rows.append((f"run {chapter.stem}, build's fork (s)", chapter_seconds(chapter, True), BUDGET_CHAPTER_S))
            rows.append((f"run {chapter.stem}, fresh kernel (s)", chapter_seconds(chapter, False), BUDGET_CHAPTER_S))
        for chapter in CHAPTERS:
            kb = page_weight(site, chapter_page(site, chapter)) / 1024
            rows.append((f"page {chapter.stem} (KB)", kb, BUDGET_PAGE_KB))
    print(f"{'measure':<58} {'value':>8} {'budget':>8}")
    for name, value, budget in rows:
        print(f"{name:<58} {value:>8.1f} {budget!s:>8}")


if __name__ == "__main__":
    main()

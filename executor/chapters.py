"""Run a chapter (a jupytext `.py` file in docs/chapters/) into a plain executed notebook.

nbclient executes it into `.cache/chapters/<name>.<key>.ipynb`, for any renderer, next to
the download (`.download`: the source as a notebook). The key hashes all the outputs
depend on: the chapter, every file of `attention` (code and data), requirements.txt, the
kernels' environment and the code that runs them (this folder). Nothing here knows MkDocs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert.filters import strip_ansi

from executor import kernel_forks

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "chapters"
# Figures drawn inline whatever MPLBACKEND the build inherits (Agg would draw nothing).
# One thread each, as many kernels as cores: the same sums on every machine.
KERNEL_ENV = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "OMP_NUM_THREADS": "1"}


class ChapterError(Exception):
    """A cell of a chapter raised: the message names the chapter and the cell, with the traceback."""


def inputs_hash() -> bytes:
    """What every chapter's outputs depend on, besides the chapter itself."""
    digest = hashlib.sha256()
    package = [p for p in sorted((ROOT / "attention").rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    runner = sorted(Path(__file__).resolve().parent.glob("*.py"))  # how chapters run
    for path in package + [ROOT / "requirements.txt"] + runner:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.digest() + repr(KERNEL_ENV).encode()


def executed_path(chapter: Path, inputs: bytes) -> Path:
    key = hashlib.sha256(inputs + chapter.read_bytes()).hexdigest()[:16]
    return CACHE / f"{chapter.stem}.{key}.ipynb"


def download_path(executed: Path) -> Path:
    return executed.with_suffix(".download")  # the source as a notebook, for the reader


def source_notebook(chapter: Path) -> nbformat.NotebookNode:
    notebook = jupytext.read(chapter)
    notebook.metadata.pop("jupytext", None)
    for number, cell in enumerate(notebook.cells, 1):
        cell.id = f"cell-{number}"  # the same notebook every build (jupytext draws random ids)
    return notebook


async def execute(chapter: Path, target: Path, workers: asyncio.Semaphore, forks: str,
                  kernels: asyncio.Semaphore | None = None) -> float:
    """Write the chapter's download and its executed notebook `target`; return the run's seconds.

    Its kernel, a fork from the server at `forks` ("": a cold kernel), starts once one of
    `kernels` is free (None: at once), and its cells run once one of `workers` is. So a
    kernel can get ready while other chapters run: jupyter_client calls a new kernel ready
    only after its output has been quiet for 0.2 s, a wait that would otherwise leave a
    core idle. A cell that raises raises ChapterError, and writes no notebook."""
    notebook = source_notebook(chapter)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, download_path(target))
    started: list[float] = []

    async def take_a_worker(notebook: nbformat.NotebookNode) -> None:  # the kernel is ready
        await workers.acquire()
        started.append(time.perf_counter())

    def free_the_worker(notebook: nbformat.NotebookNode) -> None:  # the kernel has stopped
        if started:
            workers.release()

    client = NotebookClient(notebook, kernel_name="python3", timeout=600, shutdown_kernel="immediate",
                            coalesce_streams=True, kernel_manager_class=kernel_forks.KernelManager,
                            resources={"metadata": {"path": str(chapter.parent)}},
                            on_notebook_start=take_a_worker, on_notebook_complete=free_the_worker)
    async with kernels or contextlib.nullcontext():
        try:
            await client.async_execute(env={**os.environ, **KERNEL_ENV, "BOOK_KERNEL_FORKS": forks})
        except CellExecutionError as error:
            number = next(n for n, cell in enumerate(notebook.cells, 1)
                          if any(out.output_type == "error" for out in cell.get("outputs", [])))
            raise ChapterError(f"{chapter.name}, cell {number} raised:\n{strip_ansi(str(error))}") from None
    seconds = time.perf_counter() - started[0]
    partial = target.with_suffix(".partial")
    nbformat.write(notebook, partial)
    partial.replace(target)  # never a half-written notebook under the real name
    return seconds

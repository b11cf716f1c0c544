"""Stage 1 of 3: run the chapters (mkdocs-jupyter renders them, hooks/chapter_pages.py adjusts).

nbclient executes each chapter (a jupytext `.py` file in docs/chapters/) into a plain
notebook, `.cache/chapters/<name>.<key>.ipynb`, for any renderer, next to the download
(`.download`: the source as a notebook). The key hashes all the outputs depend on: the
chapter, every file of `attention` (code and data), requirements.txt, the kernels'
environment and the code that runs them (this file and hooks/kernel_forks.py). Chapters
without their notebook run at the same time, `BOOK_BUILD_WORKERS` kernels (0 or unset:
one per core), each a warm fork (hooks/kernel_forks.py), while the other pages render;
their pages render last, waiting for them. A cell that raises fails the build, naming
the chapter and cell, with its traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from concurrent.futures import Future
from pathlib import Path

import jupytext
import kernel_forks
import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, InclusionLevel, set_exclusions
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert.filters import strip_ansi

log = logging.getLogger("mkdocs.hooks.execute")
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "chapters"
# Figures drawn inline whatever MPLBACKEND the build inherits (Agg would draw nothing).
# One thread each, as many kernels as cores: the same sums on every machine.
KERNEL_ENV = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "OMP_NUM_THREADS": "1"}
_running: dict[str, Future] = {}  # chapter page -> the run that makes its notebook
_book_order: list[File] = []  # the pages in the book's order, which `on_env` restores


def is_chapter(file: File) -> bool:
    return file.src_uri.startswith("chapters/") and file.src_uri.endswith(".py")


def inputs_hash() -> bytes:
    """What every chapter's outputs depend on, besides the chapter itself."""
    digest = hashlib.sha256()
    package = [p for p in sorted((ROOT / "attention").rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    runner = [Path(__file__).resolve(), Path(kernel_forks.__file__).resolve()]  # how chapters run
    for path in package + [ROOT / "requirements.txt"] + runner:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.digest() + repr(KERNEL_ENV).encode()


def executed_path(chapter: Path, inputs: bytes) -> Path:
    key = hashlib.sha256(inputs + chapter.read_bytes()).hexdigest()[:16]
    return CACHE / f"{chapter.stem}.{key}.ipynb"


def source_notebook(chapter: Path) -> nbformat.NotebookNode:
    notebook = jupytext.read(chapter)
    notebook.metadata.pop("jupytext", None)
    for number, cell in enumerate(notebook.cells, 1):
        cell.id = f"cell-{number}"  # the same notebook every build (jupytext draws random ids)
    return notebook


def download_path(executed: Path) -> Path:
    return executed.with_suffix(".download")  # the source as a notebook, for the reader


async def execute(chapter: Path, target: Path, workers: asyncio.Semaphore, forks: str) -> None:
    notebook = source_notebook(chapter)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, download_path(target))
    client = NotebookClient(notebook, kernel_name="python3", timeout=600, shutdown_kernel="immediate",
                            coalesce_streams=True, kernel_manager_class=kernel_forks.KernelManager,
                            resources={"metadata": {"path": str(chapter.parent)}})
    async with workers:
        start = time.perf_counter()
        try:
            await client.async_execute(env={**os.environ, **KERNEL_ENV, "BOOK_KERNEL_FORKS": forks})
        except CellExecutionError as error:
            number = next(n for n, cell in enumerate(notebook.cells, 1)
                          if any(out.output_type == "error" for out in cell.get("outputs", [])))
            raise PluginError(f"{chapter.name}, cell {number} raised:\n{strip_ansi(str(error))}") from None
        log.info("Executed %s in %.1f s", chapter.name, time.perf_counter() - start)
    partial = target.with_suffix(".partial")
    nbformat.write(notebook, partial)
    partial.replace(target)  # never a half-written notebook under the real name


def on_startup(command, dirty):
    if kernel_forks.AVAILABLE:  # it imports the libraries while the build reads the files
        kernel_forks.serve_forks()


@event_priority(-50)  # after mkdocs-jupyter's on_files, which made the chapters notebook pages
def on_files(files, config):
    inputs = inputs_hash()
    set_exclusions(files, config)  # as mkdocs does after on_files: no chapter that `exclude_docs` names runs
    pages = files.documentation_pages(inclusion=InclusionLevel.is_in_serve)  # drafts too (`mkdocs serve` shows them)
    chapters = [file for file in pages if is_chapter(file)]
    executed = {file: executed_path(Path(file.abs_src_path), inputs) for file in chapters}
    missing = {file: path for file, path in executed.items() if not download_path(path).exists() or not path.exists()}
    _book_order[:] = pages
    loop, workers = kernel_forks.kernels_loop(int(os.environ.get("BOOK_BUILD_WORKERS") or 0) or os.cpu_count() or 1)
    for file, path in missing.items():  # they run while the other pages render; theirs render last
        forks = kernel_forks.serve_forks() if kernel_forks.AVAILABLE else ""
        run = execute(Path(file.abs_src_path), path, workers, forks)
        _running[file.src_uri] = asyncio.run_coroutine_threadsafe(run, loop)
        files.remove(file)
        files.append(file)
    for file in chapters:
        file.abs_src_path = str(executed[file])  # the page shows the executed notebook
        download = f"{file.src_uri[:-3]}/{Path(file.src_uri).stem}.ipynb"
        files.append(File.generated(config, download, abs_src_path=str(download_path(executed[file]))))
    kept = set(executed.values()) | {download_path(path) for path in executed.values()}
    for old in set(CACHE.glob("*")) - kept:
        old.unlink()  # made for another version of a chapter or of the package
    return files


@event_priority(100)  # before mkdocs-jupyter reads the executed notebook
def on_pre_page(page, config, files):
    run = _running.pop(page.file.src_uri, None)
    if run is not None:
        run.result()  # its chapter has run; one that failed fails the build here


def on_env(env, config, files):
    for file in _book_order:  # written in the book's order again (the search index follows it)
        files.remove(file)
        files.append(file)
    return env

"""Stage 1 of 3, from MkDocs: run the chapters that changed (executor/ does the work).

Each chapter page shows its executed notebook from `.cache/chapters/` (executor/chapters.py),
and offers the chapter as a notebook to download. Chapters without their notebook run at
the same time, `BOOK_BUILD_WORKERS` kernels (0 or unset: one per core), each a warm fork
(executor/kernel_forks.py) made ready before its turn, while the other pages render; their
pages render last, waiting for them. A cell that raises fails the build, naming the chapter
and cell, with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from concurrent.futures import Future
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, InclusionLevel, set_exclusions

if str(ROOT := Path(__file__).resolve().parent.parent) not in sys.path:  # `mkdocs serve` reloads hooks
    sys.path.insert(0, str(ROOT))  # the repository, for executor/
from executor import chapters, kernel_forks  # noqa: E402

log = logging.getLogger("mkdocs.hooks.execute")
_running: dict[str, Future] = {}  # chapter page -> the run that makes its notebook
_book_order: list[File] = []  # the pages in the book's order, which `on_env` restores


def is_chapter(file: File) -> bool:
    return file.src_uri.startswith("chapters/") and file.src_uri.endswith(".py")


async def run(chapter: Path, target: Path, workers: asyncio.Semaphore, kernels: asyncio.Semaphore,
              forks: str) -> None:
    seconds = await chapters.execute(chapter, target, workers, forks, kernels)
    log.info("Executed %s in %.1f s", chapter.name, seconds)


def on_startup(command, dirty):
    if kernel_forks.AVAILABLE:  # it imports the libraries while the build reads the files
        kernel_forks.serve_forks()


@event_priority(-50)  # after mkdocs-jupyter's on_files, which made the chapters notebook pages
def on_files(files, config):
    inputs = chapters.inputs_hash()
    set_exclusions(files, config)  # as mkdocs does after on_files: no chapter that `exclude_docs` names runs
    pages = files.documentation_pages(inclusion=InclusionLevel.is_in_serve)  # drafts too (`mkdocs serve` shows them)
    executed = {file: chapters.executed_path(Path(file.abs_src_path), inputs) for file in pages if is_chapter(file)}
    downloads = {file: chapters.download_path(path) for file, path in executed.items()}
    _book_order[:] = pages
    loop, workers, kernels = kernel_forks.kernels_loop(int(os.environ.get("BOOK_BUILD_WORKERS") or 0) or os.cpu_count() or 1)
    for file, path in executed.items():
        if not (path.exists() and downloads[file].exists()):  # it runs while the other pages render
            forks = kernel_forks.serve_forks() if kernel_forks.AVAILABLE else ""
            _running[file.src_uri] = asyncio.run_coroutine_threadsafe(
                run(Path(file.abs_src_path), path, workers, kernels, forks), loop)
            files.remove(file)
            files.append(file)  # its page renders last
        file.abs_src_path = str(path)  # the page shows the executed notebook
        download = f"{file.src_uri[:-3]}/{Path(file.src_uri).stem}.ipynb"
        files.append(File.generated(config, download, abs_src_path=str(downloads[file])))
    for old in set(chapters.CACHE.glob("*")) - set(executed.values()) - set(downloads.values()):
        old.unlink()  # made for another version of a chapter or of the package
    return files


@event_priority(100)  # before mkdocs-jupyter reads the executed notebook
def on_pre_page(page, config, files):
    running = _running.pop(page.file.src_uri, None)
    if running is not None:
        try:
            running.result()  # its chapter has run
        except chapters.ChapterError as error:
            raise PluginError(str(error)) from None


def on_env(env, config, files):
    for file in _book_order:  # written in the book's order again (the search index follows it)
        files.remove(file)
        files.append(file)
    return env

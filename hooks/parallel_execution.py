"""Run the chapters that need running in worker processes, while mkdocs builds the rest.

mkdocs-jupyter executes a chapter when it renders the page, one page after
another, so a build waits for every chapter in turn, and for each kernel to shut
down. This hook finds the chapters whose cached HTML is missing as soon as the
files are known, and executes them in forked worker processes, one per core,
writing each result where mkdocs-jupyter looks for it (same cache key, same
JSON). Meanwhile mkdocs builds the other pages: a chapter still running gets a
placeholder with its title when mkdocs reads the pages, and its content once it has
run, just before mkdocs writes the page (the chapters being executed are moved to
the end of the file list, so they are written last). A worker's kernel is stopped
at once when its last cell is done (hooks/jupyter/jupyter_nbconvert_config.json),
not asked to shut down and awaited.

A chapter that fails in a worker is left uncached: mkdocs-jupyter runs it again
on its own and fails the build with its usual error.

Set BOOK_BUILD_WORKERS to choose the number of workers (0 turns them off).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from multiprocessing.connection import wait
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import Files
from mkdocs_jupyter.plugin import _compute_cache_key, _get_nb_toc_tokens

log = logging.getLogger("mkdocs.hooks.parallel_execution")

TIMINGS = Path(__file__).resolve().parent.parent / ".cache" / "chapter-timings.json"
WORKER_CONFIG = Path(__file__).resolve().parent / "jupyter"
_CONVERT_OPTIONS = (
    "kernel_name", "theme", "allow_errors", "show_input", "no_input", "no_prompt",
    "remove_tag_config", "highlight_extra_classes", "include_requirejs", "custom_mathjax_url",
)


def _execute(source: str, options: dict, toc_depth: int, cache_path: str) -> None:
    """Execute one chapter and write mkdocs-jupyter's cache entry (in a forked process)."""
    os.environ["JUPYTER_CONFIG_PATH"] = str(WORKER_CONFIG)  # read by nb2html's NbConvertApp
    from mkdocs_jupyter import convert

    body = convert.nb2html(source, execute=True, **options)
    toc_tokens, title = _get_nb_toc_tokens(source, toc_depth)
    entry = json.dumps({"content": body, "toc_tokens": toc_tokens, "title": title})
    partial = Path(cache_path).with_suffix(".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(entry, encoding="utf-8")
    partial.replace(cache_path)  # never a half-written entry under the real name


def _workers() -> int:
    return int(os.environ.get("BOOK_BUILD_WORKERS", os.cpu_count() or 1))


class _Pool:
    """Chapters waiting to run, the workers running them, and what each took."""

    def __init__(self, chapters: dict[str, tuple[str, str]], options: dict, toc_depth: int):
        self.timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
        # longest first, so the slowest chapter does not start last
        self.queue = sorted(chapters, key=lambda uri: -self.timings.get(uri, 0.0))
        self.chapters, self.options, self.toc_depth = chapters, options, toc_depth
        self.running: dict[int, tuple[str, multiprocessing.Process, float]] = {}
        self.done: set[str] = set()
        self._fill()

    def _start(self, uri: str) -> None:
        source, cache_path = self.chapters[uri]
        # Forked processes, not a ProcessPoolExecutor: a hook module cannot be pickled by name.
        process = multiprocessing.get_context("fork").Process(
            target=_execute, args=(source, self.options, self.toc_depth, cache_path)
        )
        process.start()
        self.running[process.sentinel] = (uri, process, time.perf_counter())

    def _fill(self, first: str | None = None) -> None:
        if first in self.queue:  # the page mkdocs is waiting for goes next
            self.queue.remove(first)
            self.queue.insert(0, first)
        while self.queue and len(self.running) < _workers():
            self._start(self.queue.pop(0))

    def wait_for(self, uri: str) -> None:
        """Return once `uri` has run (or failed), keeping every worker busy meanwhile."""
        while uri not in self.done:
            self._fill(first=uri)
            for sentinel in wait(list(self.running)):
                done, process, start = self.running.pop(sentinel)
                process.join()
                self.done.add(done)
                if process.exitcode == 0:
                    self.timings[done] = round(time.perf_counter() - start, 2)
                    log.info("Executed %s in %.1f s", done, self.timings[done])
                else:  # mkdocs-jupyter runs it again and reports the error
                    log.info("Chapter %s failed in a worker: running it again", done)
        if not self.queue and not self.running:
            TIMINGS.parent.mkdir(parents=True, exist_ok=True)
            TIMINGS.write_text(json.dumps(self.timings, indent=1, sort_keys=True))


_pool: _Pool | None = None
_waiting: dict[str, tuple] = {}  # src_uri -> (mkdocs-jupyter's render, files) of a chapter not yet run


def on_files(files, config):
    global _pool
    _pool = None
    _waiting.clear()
    plugin = config.plugins["mkdocs-jupyter"]
    settings = plugin.config
    if not (settings["cache"] and settings["execute"]) or _workers() < 1:
        return files
    missing = {}
    for file in files:
        if file.src_uri.endswith(".py") and plugin.should_include(file):
            key = _compute_cache_key(file.abs_src_path, settings, True)
            cache_path = Path(settings["cache_dir"]) / f"{key}.json"
            if not cache_path.exists():
                missing[file.src_uri] = (file.abs_src_path, str(cache_path))
    if not missing:
        return files
    log.info("Executing %d chapters on %d workers", len(missing), _workers())
    options = {name: settings[name] for name in _CONVERT_OPTIONS}
    _pool = _Pool(missing, options, settings["toc_depth"])
    # Pages are read, and later written, in file order: the chapters being run go last.
    ordered = sorted(files, key=lambda file: file.src_uri in missing)
    return Files(ordered)


def on_pre_page(page, config, files):
    """Runs after mkdocs-jupyter's on_pre_page, which replaced page.render."""
    uri = page.file.src_uri
    if _pool is not None and uri in _pool.chapters:
        render = page.render

        def render_or_wait(config, files):
            if uri in _pool.done:
                return render(config, files)
            _waiting[uri] = (render, files)  # rendered in on_page_context, once its worker is done
            page.content = ""
            _, title = _get_nb_toc_tokens(page.file.abs_src_path, _pool.toc_depth)
            if title is not None and not config.plugins["mkdocs-jupyter"].config["ignore_h1_titles"]:
                page.title = title  # as mkdocs-jupyter sets it: the other pages' navigation shows it

        page.render = render_or_wait
    return page


@event_priority(200)  # before the search plugin and anything else that reads the content
def on_page_context(context, page, config, nav):
    waiting = _waiting.pop(page.file.src_uri, None)
    if waiting is not None:
        render, files = waiting
        _pool.wait_for(page.file.src_uri)
        render(config, files)  # the cache entry is there now (or the chapter runs here and fails)
        page.content = config.plugins.on_page_content(page.content, page=page, config=config, files=files)
    return context

"""Run the chapters that need running in parallel, before mkdocs renders the pages.

mkdocs-jupyter executes a chapter when it renders the page, one page after
another, so a cold build waits for every chapter in turn. Most of a chapter's
time is a kernel starting and importing torch, on one core. This hook finds the
chapters whose cached HTML is missing and executes them in a pool of worker
processes, one per core, writing each result where mkdocs-jupyter looks for it
(same cache key, same JSON). mkdocs-jupyter then finds every chapter cached.

A chapter that fails in the pool is left uncached: mkdocs-jupyter runs it again
on its own and fails the build with its usual error.

Set BOOK_BUILD_WORKERS to choose the pool size (1 turns the pool off).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from multiprocessing.connection import wait
from pathlib import Path

from mkdocs_jupyter.plugin import _compute_cache_key, _get_nb_toc_tokens

log = logging.getLogger("mkdocs.hooks.parallel_execution")

TIMINGS = Path(__file__).resolve().parent.parent / ".cache" / "chapter-timings.json"
_CONVERT_OPTIONS = (
    "kernel_name", "theme", "allow_errors", "show_input", "no_input", "no_prompt",
    "remove_tag_config", "highlight_extra_classes", "include_requirejs", "custom_mathjax_url",
)


def _execute(source: str, options: dict, toc_depth: int, cache_path: str) -> None:
    """Execute one chapter and write mkdocs-jupyter's cache entry (in a forked process)."""
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


def on_files(files, config):
    plugin = config.plugins["mkdocs-jupyter"]
    settings = plugin.config
    if not (settings["cache"] and settings["execute"]) or _workers() < 2:
        return files
    missing = {}
    for file in files:
        if file.src_uri.endswith(".py") and plugin.should_include(file):
            key = _compute_cache_key(file.abs_src_path, settings, True)
            cache_path = Path(settings["cache_dir"]) / f"{key}.json"
            if not cache_path.exists():
                missing[file.src_uri] = (file.abs_src_path, str(cache_path))
    if len(missing) < 2:
        return files  # nothing to gain from a pool

    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    order = sorted(missing, key=lambda uri: -timings.get(uri, 0.0))  # longest first
    options = {name: settings[name] for name in _CONVERT_OPTIONS}
    log.info("Executing %d chapters on %d workers", len(missing), _workers())
    # Forked processes, not a ProcessPoolExecutor: a hook module cannot be pickled by name.
    fork = multiprocessing.get_context("fork")
    running: dict[int, tuple[str, multiprocessing.Process, float]] = {}
    while order or running:
        while order and len(running) < _workers():
            uri = order.pop(0)
            source, cache_path = missing[uri]
            process = fork.Process(
                target=_execute, args=(source, options, settings["toc_depth"], cache_path)
            )
            process.start()
            running[process.sentinel] = (uri, process, time.perf_counter())
        for sentinel in wait(list(running)):
            uri, process, start = running.pop(sentinel)
            process.join()
            if process.exitcode == 0:
                timings[uri] = round(time.perf_counter() - start, 2)
                log.info("Executed %s in %.1f s", uri, timings[uri])
            else:  # mkdocs-jupyter runs it again and reports the error
                log.info("Chapter %s failed in the pool: running it again", uri)
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps(timings, indent=1, sort_keys=True))
    return files

"""What the book adds to mkdocs-jupyter's notebook pages.

1. Fresh outputs: mkdocs-jupyter caches a chapter's HTML under a key made of the
   chapter's own bytes, so a change to the `attention` package would leave old
   outputs on the pages. The cache directory is keyed on a hash of the package
   and of requirements.txt as well: change either and every chapter runs again;
   change nothing and every chapter is a cache hit.
2. A download link under every chapter's title, for an .ipynb made from the
   chapter source.
3. Links in notebook Markdown cells to other pages' sources (`02_queries_keys_values.py`,
   `../index.md`) are rewritten to the built pages' URLs, as mkdocs does for
   Markdown pages; a link to a page that does not exist is a warning, which fails
   a strict build.
4. Figures: nbconvert shows an SVG output as an <img> with a base64 data URL.
   Inlined as <svg> instead, a figure takes the page's text colour for its ink
   (see attention/plotting.py), so it reads on the light and the dark theme, and
   weighs a quarter less.
5. Exercises: a code cell tagged `solution` runs at build time like any other,
   and is shown folded in a <details> block that the reader opens.
6. The table of contents is made from the page's own headings. mkdocs-jupyter
   derives it from a Markdown rendering of the source, which drops inline code
   from headings, so its names and anchors could miss the page's. Headings with
   the same text get unique ids (`name`, `name_1`, ...); nbconvert repeats them.
7. Page weight: the ~600 KB of CSS that mkdocs-jupyter inlines into every notebook
   page is written once to a shared file and linked; the Mermaid loader (a CDN
   script) is dropped, as the book draws no Mermaid diagrams.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import posixpath
import re
import shutil
from pathlib import Path

import jupytext
import nbformat
from mkdocs.structure.toc import TableOfContents, get_toc
from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.notebooks")

ROOT = Path(__file__).resolve().parent.parent
CACHE_ROOT = ROOT / ".cache" / "mkdocs-jupyter"
NOTEBOOK_CACHE = ROOT / ".cache" / "notebooks"
SHARED_CSS_DIR = "assets/notebook"
KEPT_CACHES = 3

_STYLE = re.compile(r'<style type="text/css">(.*?)</style>', re.DOTALL)
_MERMAID = re.compile(
    r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded".*?</script>\s*'
    r"<style>\s*\.jp-Mermaid.*?</style>",
    re.DOTALL,
)
_SVG_IMG = re.compile(r'<img alt="[^"]*"(?: class="[^"]*")? src="data:image/svg\+xml;base64,([^"]+)"\s*/?>')
_SVG_START = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)  # XML declaration, DOCTYPE, comments
_H1_END = re.compile(r"</h1>")
_SOLUTION = re.compile(r'<div class="jp-Cell jp-CodeCell jp-Notebook-cell[^"]*celltag_solution[^"]*">')
_HEADING = re.compile(
    r'(<h[1-6] id=")([^"]+)(">(?:(?!</h[1-6]>).)*?<a class="anchor-link" href="#)([^"]+)(")', re.DOTALL
)
_HEADING_TEXT = re.compile(r'<h([1-6]) id="([^"]+)">(.*?)<a class="anchor-link"', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_HREF = re.compile(r'href="([^":#?]+\.(?:py|md|ipynb))(#[^"]*)?"')


def is_chapter(page) -> bool:
    """Chapters are the jupytext .py files that mkdocs-jupyter renders."""
    return page.file.src_uri.endswith(".py")


def source_hash() -> str:
    """A hash of everything a chapter's outputs depend on besides the chapter."""
    digest = hashlib.sha256()
    sources = sorted((ROOT / "attention").rglob("*.py")) + [ROOT / "requirements.txt"]
    for path in sources:
        if path.exists():
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def notebook_name(page) -> str:
    return Path(page.file.src_uri).with_suffix(".ipynb").name


def write_notebook(source: Path, target: Path) -> None:
    """Write the chapter as a notebook without outputs: it runs as is in Jupyter.

    The conversion is kept in the cache under a hash of the chapter's bytes, so
    a rebuild copies it instead of parsing every chapter again.
    """
    text = source.read_bytes()
    cached = NOTEBOOK_CACHE / f"{hashlib.sha256(text).hexdigest()[:16]}.ipynb"
    if not cached.exists():
        notebook = jupytext.reads(text.decode("utf-8"), fmt="py")
        notebook.metadata.pop("jupytext", None)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")
        nbformat.write(notebook, partial)
        partial.replace(cached)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, target)


def on_config(config):
    cache_dir = CACHE_ROOT / source_hash()
    config.plugins["mkdocs-jupyter"].config["cache_dir"] = str(cache_dir)
    return config


def on_post_build(config):
    # Caches made for other versions of the package can only hit again if the
    # package goes back to that version: keep the few newest, drop the rest.
    if CACHE_ROOT.is_dir():
        caches = sorted(CACHE_ROOT.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in caches[KEPT_CACHES:]:
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()


def _rewrite_links(html: str, page, files) -> str:
    def resolve(match: re.Match) -> str:
        target, anchor = match.group(1), match.group(2) or ""
        src_uri = posixpath.normpath(posixpath.join(posixpath.dirname(page.file.src_uri), target))
        linked = files.get_file_from_path(src_uri)
        if linked is None:
            log.warning("%s links to '%s', which is not a page of the book", page.file.src_uri, target)
            return match.group(0)
        return f'href="{linked.url_relative_to(page.file)}{anchor}"'

    return _HREF.sub(resolve, html)


def svg_for_page(svg: str) -> str:
    """An SVG document as a page inlines it: no XML prologue, role="img", and out of
    the search index (its labels are not prose, and indexing them slows every build)."""
    return _SVG_START.sub("", svg, count=1).replace("<svg ", '<svg role="img" data-search-exclude ', 1)


def _inline_svg(match: re.Match) -> str:
    return svg_for_page(base64.b64decode(match.group(1)).decode("utf-8"))


def _unique_heading_ids(html: str) -> str:
    seen: dict[str, int] = {}

    def rename(match: re.Match) -> str:
        anchor = match.group(2)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        if count == 0:
            return match.group(0)
        unique = f"{anchor}_{count}"
        return f"{match.group(1)}{unique}{match.group(3)}{unique}{match.group(5)}"

    return _HEADING.sub(rename, html)


def _table_of_contents(html: str) -> TableOfContents:
    """Nest the page's headings (level, id, text) the way mkdocs nests Markdown ones."""
    roots: list[dict] = []
    open_sections: list[dict] = []
    for level, anchor, inner in _HEADING_TEXT.findall(html):
        token = {"level": int(level), "id": anchor, "name": _TAG.sub("", inner).strip(), "children": []}
        while open_sections and open_sections[-1]["level"] >= token["level"]:
            open_sections.pop()
        (open_sections[-1]["children"] if open_sections else roots).append(token)
        open_sections.append(token)
    return get_toc(roots)


def _fold_solutions(html: str) -> str:
    """Wrap every cell tagged `solution` (input and output) in a closed <details>."""
    pieces = []
    position = 0
    for match in _SOLUTION.finditer(html):
        end = _matching_div_end(html, match.start())
        pieces += [html[position : match.start()], '<details class="solution"><summary>Solution</summary>',
                   html[match.start() : end], "</details>"]
        position = end
    return "".join(pieces) + html[position:]


def _matching_div_end(html: str, start: int) -> int:
    """Index just past the </div> that closes the <div> opening at `start`."""
    depth = 0
    for tag in re.finditer(r"<div\b|</div>", html[start:]):
        depth += 1 if tag.group(0) == "<div" else -1
        if depth == 0:
            return start + tag.end()
    raise ValueError("unbalanced <div> in notebook HTML")


def _share_styles(html: str, page, config) -> str:
    """Move inline stylesheets to files named by their hash, written once per site."""

    def link(match: re.Match) -> str:
        css = match.group(1)
        name = f"{SHARED_CSS_DIR}/{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
        path = Path(config["site_dir"]) / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(css, encoding="utf-8")
        return f'<link rel="stylesheet" href="{get_relative_url(name, page.url)}">'

    return _STYLE.sub(link, html)


def on_page_content(html: str, page, config, files) -> str:
    if not is_chapter(page):
        return html
    html = _MERMAID.sub("", html)
    html = _share_styles(html, page, config)  # before the figures are inlined: their <style>s stay
    html = _SVG_IMG.sub(_inline_svg, html)
    html = _rewrite_links(html, page, files)
    write_notebook(
        Path(page.file.abs_src_path),
        Path(config["site_dir"]) / posixpath.dirname(page.file.dest_uri) / notebook_name(page),
    )
    html = _fold_solutions(html)
    html = _unique_heading_ids(html)
    page.toc = _table_of_contents(html)
    download = (
        f'<p class="notebook-download"><a href="{notebook_name(page)}" download>'
        f"Download this chapter as a notebook</a> (it needs the book's <code>attention</code> "
        f"package: <code>pip install -r requirements.txt</code>)</p>"
    )
    return _H1_END.sub(lambda m: m.group(0) + download, html, count=1)

"""Stage 3 of 3: adjust the HTML that mkdocs-jupyter renders from an executed chapter.

`adjust` reads each chapter page with BeautifulSoup, one job per function:
- `share_styles`: the ~600 KB of notebook CSS in every page goes to one shared file (and
  the Mermaid loader, a CDN script for diagrams the book does not draw, goes);
- `rewrite_links`: links to pages' sources (`02_queries_keys_values.py`) go to the built
  pages; a link to no page of the book fails a strict build;
- `fold_cells`: `solution` and `fold` cells are folded in <details>;
- `lighten_code`, `share_copy_icon`: code a third lighter, the same pixels;
- the chapter's number (from its file name) and a download note under the title;
- `unique_heading_ids`: the table of contents, from the page's own headings;
- `take_figures`: figures (SVG <img> from nbconvert, already made for a page by
  `attention.book.svg`) are inlined as <svg> once the page is complete (`on_post_page`,
  after the search index), so their ink takes the theme's text colour; each is named
  by its caption.
What this stage makes of a page is kept in .cache/pages/, keyed on its input HTML, the
book's files, this file's code and requirements.txt: a rebuild parses only what changed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import posixpath
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Comment
from mkdocs.structure.toc import get_toc
from execute import is_chapter
from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.chapter_pages")

SHARED_CSS_DIR = "assets/notebook"
ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / ".cache" / "pages"  # this stage's output, per page
# Its code and the versions of what it uses (BeautifulSoup...): a change to either misses the cache.
STAGE = [Path(__file__).read_text(encoding="utf-8"), (ROOT / "requirements.txt").read_text(encoding="utf-8")]
SVG_DATA = "data:image/svg+xml;base64,"
_figures: dict[str, list[str]] = {}  # page -> its figures' SVG, until on_post_page
_used: set[Path] = set()  # this build's entries of the cache; `on_post_build` drops the others


def chapter_number(src_uri: str) -> int | None:
    match = re.match(r"chapters/(\d+)_", src_uri)
    return int(match[1]) if match else None


def rewrite_links(soup, page, files) -> list[str]:
    """Point links at built pages; return the links that match no page."""
    broken = []
    for link in soup.find_all("a", href=True):  # in Markdown cells and in Markdown outputs
        target = urlsplit(link["href"])
        if target.scheme or target.netloc or not target.path.endswith((".py", ".md", ".ipynb")):
            continue
        linked = files.get_file_from_path(posixpath.normpath(posixpath.join(posixpath.dirname(page.file.src_uri), target.path)))
        if linked is None:
            broken.append(target.path)
        else:
            link["href"] = linked.url_relative_to(page.file) + (f"#{target.fragment}" if target.fragment else "")
    return broken


def fold(soup, element, summary: str, css_class: str) -> None:
    details = soup.new_tag("details", attrs={"class": css_class})
    details.append(soup.new_tag("summary", string=summary))
    element.wrap(details)


def fold_cells(soup) -> None:
    for toolbar in soup.find_all("div", class_="celltoolbar"):
        toolbar.decompose()  # the tag chips
    for cell in soup.find("div", class_="jp-Notebook").find_all("div", class_="jp-Cell", recursive=False):
        classes = cell["class"]  # of the outer wrapper of each cell
        if "celltag_solution" in classes:
            code = cell.find("div", class_="clipboard-copy-txt")
            exercise = re.match(r"#\s*exercise\s+(\w+)", code.get_text().lstrip(), re.IGNORECASE) if code else None
            fold(soup, cell, f"Solution to exercise {exercise[1]}" if exercise else "Solution", "solution")
        elif "celltag_fold" in classes:
            fold(soup, cell.find("div", class_="jp-Cell-inputWrapper"), "Show the code", "fold")


def unique_heading_ids(soup) -> list[dict]:
    """Give repeated headings unique ids; return the tokens of the page's table of contents."""
    seen: dict[str, int] = {}
    roots: list[dict] = []
    open_sections: list[dict] = []
    for heading in soup.find_all(re.compile("^h[1-6]$"), id=True):
        anchor = heading.find("a", class_="anchor-link")
        count = seen[heading["id"]] = seen.get(heading["id"], -1) + 1
        if count:
            heading["id"] = f"{heading['id']}_{count}"
            if anchor:
                anchor["href"] = f"#{heading['id']}"
        name = heading.get_text().removesuffix(anchor.get_text() if anchor else "").strip()
        token = {"level": int(heading.name[1]), "id": heading["id"], "name": name, "children": []}
        while open_sections and open_sections[-1]["level"] >= token["level"]:
            open_sections.pop()
        (open_sections[-1]["children"] if open_sections else roots).append(token)
        open_sections.append(token)
    return roots


def share_styles(soup, page) -> list[str]:
    """Move the page's notebook CSS to shared files (kept in the cache); return their names."""
    for loader in soup.find_all("script", type="module", string=re.compile("mermaid")):
        loader.find_next_sibling("style").decompose()  # its .jp-Mermaid rules
        loader.decompose()
    names = []
    for style in soup.find_all("style", type="text/css"):
        css = (style.string or "").encode()
        names.append(f"{SHARED_CSS_DIR}/{hashlib.sha256(css).hexdigest()[:12]}.css")
        if not (PAGES / names[-1]).exists():
            (PAGES / names[-1]).parent.mkdir(parents=True, exist_ok=True)
            (PAGES / names[-1]).write_bytes(css)
        style.replace_with(soup.new_tag("link", rel="stylesheet", href=get_relative_url(names[-1], page.url)))
    return names


PLAIN_TOKENS = ({"n"}, {"w"})  # Pygments' Name and Whitespace: no colour of their own


def lighten_code(soup) -> None:
    for block in soup.find_all("div", class_="highlight-ipynb"):
        for span in block.find_all("span"):
            if set(span.get("class", [])) in PLAIN_TOKENS:
                span.unwrap()
        for pre in block.find_all("pre"):
            pre.smooth()
            span = pre.find("span")
            while span is not None:
                after = span.next_sibling
                if getattr(after, "name", None) == "span" and after.get("class") == span.get("class"):
                    span.extend(after.extract().contents)
                    span.smooth()
                else:
                    span = span.find_next_sibling("span")


def share_copy_icon(soup) -> None:
    icons = soup.find_all("svg", class_="clipboard-copy-icon")
    if icons:
        symbol = soup.new_tag("symbol", attrs={"id": "copy-icon", "viewBox": icons[0].get("viewbox", "0 0 16 16")})
        symbol.extend(list(icons[0].children))
        sprite = soup.new_tag("svg", attrs={"aria-hidden": "true", "style": "display: none"})
        sprite.append(symbol)
        soup.find("div", class_="jp-Notebook").insert(0, sprite)
    for icon in icons:
        icon.clear()
        icon.append(soup.new_tag("use", attrs={"href": "#copy-icon"}))


def take_figures(soup) -> list[str]:
    """Swap each SVG <img> for a placeholder; return the <svg> that `on_post_page` puts there."""
    figures = []
    for img in soup.find_all("img", src=lambda src: src and src.startswith(SVG_DATA)):
        caption = img.find_next(lambda tag: tag.name == "p" and tag.strong is not None
                                and tag.contents[0] is tag.strong and tag.strong.get_text().startswith("Figure "))
        if caption is not None and not caption.get("id"):
            caption["id"] = "figure-" + caption.strong.get_text().removeprefix("Figure ").strip(".").replace(".", "-")
        # made for a page by attention.book.svg: its ink, fonts and ids are right already
        svg = base64.b64decode(img["src"][len(SVG_DATA):]).decode("utf-8")
        name = f' aria-labelledby="{caption["id"]}"' if caption is not None else ""
        figures.append(svg.replace("<svg ", f'<svg role="img" data-search-exclude=""{name} ', 1))
        img.replace_with(Comment(f"figure {len(figures) - 1}"))
    return figures


def adjust(html: str, page, config, files) -> dict:
    """The chapter page as readers see it, and what the build needs to know of it."""
    soup = BeautifulSoup(html, "html.parser")
    styles = share_styles(soup, page)
    broken = rewrite_links(soup, page, files)
    fold_cells(soup)
    lighten_code(soup)
    share_copy_icon(soup)
    title = soup.find("h1")
    number = chapter_number(page.file.src_uri)
    if number is not None and title is not None:
        title.insert(0, f"{number}. ")
    toc = unique_heading_ids(soup)
    wheel = config.extra["wheel"]
    note = BeautifulSoup(
        f'<p class="notebook-download"><a href="{Path(page.file.src_uri).stem}.ipynb" download>Download this chapter as a '
        f"notebook</a>. It needs the book's <code>attention</code> package: download "
        f'<a href="{get_relative_url(wheel, page.url)}" download>its wheel</a>, then '
        f"<code>pip install {posixpath.basename(wheel)}</code> (this also installs NumPy, PyTorch and "
        f"matplotlib).</p>", "html.parser")
    title.insert_after(note) if title is not None else soup.insert(0, note)
    figures = take_figures(soup)
    return {"html": str(soup), "styles": styles, "broken": broken, "toc": toc, "figures": figures}


def on_page_content(html: str, page, config, files) -> str:
    if not is_chapter(page.file):
        return html
    # The same page from the same HTML, in the same book, with the same code: as last time.
    inputs = [STAGE, html, page.file.src_uri, config.extra["wheel"], sorted((f.src_uri, f.url) for f in files)]
    cached = PAGES / f"{hashlib.sha256(repr(inputs).encode()).hexdigest()[:16]}.json"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(adjust(html, page, config, files)), encoding="utf-8")
    done = json.loads(cached.read_text(encoding="utf-8"))
    _used.add(cached)
    for target in done["broken"]:
        log.warning("%s links to '%s', which is not a page of the book", page.file.src_uri, target)
    for name in done["styles"]:
        if not (Path(config["site_dir"]) / name).exists():
            (Path(config["site_dir"]) / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(PAGES / name, Path(config["site_dir"]) / name)
    number = chapter_number(page.file.src_uri)
    if number is not None:
        page.title = f"{number}. {page.title}"  # the navigation and the browser's title
    page.toc = get_toc(done["toc"])
    _figures[page.file.src_uri] = done["figures"]
    return done["html"]


def on_post_page(output: str, page, config) -> str:
    for number, svg in enumerate(_figures.pop(page.file.src_uri, [])):
        output = output.replace(f"<!--figure {number}-->", svg, 1)
    return output


def on_post_build(config) -> None:
    for old in set(PAGES.glob("*.json")) - _used:
        old.unlink()
    _used.clear()

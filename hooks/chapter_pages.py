"""Stage 3 of 3: adjust the HTML that mkdocs-jupyter renders from an executed chapter.

Read with BeautifulSoup, on each chapter page (`on_page_content`):

1. Links in Markdown to other pages' sources (`02_queries_keys_values.py`, `../index.md`)
   point at the built pages; a link to no page of the book fails a strict build.
2. A `solution` cell is folded in a <details> ("Solution to exercise 2" when its first
   line is `# Exercise 2`); a `fold` cell's input is folded ("Show the code"). No tag chips.
3. The table of contents is made from the page's own headings, with unique ids.
4. The ~600 KB of notebook CSS inlined into every page goes to one shared file; the
   Mermaid loader (a CDN script; the book draws no Mermaid diagrams) is dropped.
5. Chapter numbers, from the file names (`NN_name.py`), go in the title and the
   navigation. Under the title, a link to download the chapter as a
   notebook and the command that installs the `attention` wheel (hooks/book.py).
6. Highlighted code loses the spans of names and whitespace (drawn in the code's own
   colour) and joins neighbouring spans of one class: a third lighter, the same pixels.
   The copy buttons' icon is drawn once per page and used by every button.
7. Figures (SVG as <img> data URLs from nbconvert) are inlined as <svg>, so their ink
   takes the page's text colour (currentColor) in both themes; each is named by its
   caption for screen readers, its ids made unique on the page (referenced ones
   prefixed, the others dropped), its coordinates rounded to 0.01 px. They go in once
   the page is complete (`on_post_page`), so the search index never parses them.

What this stage makes of a page is kept in .cache/pages/, keyed on its input HTML, the
book's files and this file's code, so a rebuild parses only the chapters that changed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import posixpath
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Comment
from mkdocs.structure.toc import get_toc
from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.chapter_pages")

SHARED_CSS_DIR = "assets/notebook"
PAGES = Path(__file__).resolve().parent.parent / ".cache" / "pages"  # this stage's output, per page
STAGE = Path(__file__).read_text(encoding="utf-8")  # its code: a change to it misses the cache
SVG_DATA = "data:image/svg+xml;base64,"
SVG, XLINK = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", XLINK)
LONG_NUMBER = re.compile(r"-?\d+\.\d{3,}")
REFERENCE = re.compile(r"url\(#([^)]+)\)")
_figures: dict[str, list[str]] = {}  # page -> its figures' SVG, until on_post_page
_used: set[Path] = set()  # this build's entries of the cache; `on_post_build` drops the others


def chapter_number(src_uri: str) -> int | None:
    match = re.match(r"chapters/(\d+)_", src_uri)
    return int(match[1]) if match else None


def is_chapter(page) -> bool:
    return page.file.src_uri.startswith("chapters/") and page.file.src_uri.endswith(".py")


def notebook_name(page) -> str:
    return Path(page.file.src_uri).with_suffix(".ipynb").name


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


def svg_for_page(svg: str, prefix: str, caption: str | None) -> str:
    """An SVG document as the page inlines it: unique ids, rounded numbers, a name."""
    root = ET.fromstring(svg)
    for metadata in root.findall(f"{{{SVG}}}metadata"):
        root.remove(metadata)  # creator and licence: not for the page
    href = f"{{{XLINK}}}href"
    used = {m for el in root.iter() for value in el.attrib.values() for m in REFERENCE.findall(value)}
    used |= {el.get(href, "")[1:] for el in root.iter()} | {el.get("href", "")[1:] for el in root.iter()}
    for element in root.iter():
        for name, value in list(element.attrib.items()):
            if name == "id":
                value = f"{prefix}-{value}" if value in used else None
            elif name in (href, "href") and value.startswith("#"):
                value = f"#{prefix}-{value[1:]}"
            else:
                value = LONG_NUMBER.sub(lambda m: f"{float(m[0]):.2f}", REFERENCE.sub(rf"url(#{prefix}-\1)", value))
            if value is None:
                del element.attrib[name]
            else:
                element.set(name, value)
    root.set("role", "img")
    root.set("data-search-exclude", "")
    if caption:
        root.set("aria-labelledby", caption)
    return ET.tostring(root, encoding="unicode")


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
        svg = base64.b64decode(img["src"][len(SVG_DATA):]).decode("utf-8")
        figures.append(svg_for_page(svg, f"fig{len(figures) + 1}", caption and caption["id"]))
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
        f'<p class="notebook-download"><a href="{notebook_name(page)}" download>Download this chapter as a '
        f"notebook</a>. It needs the book's <code>attention</code> package: download "
        f'<a href="{get_relative_url(wheel, page.url)}" download>its wheel</a>, then '
        f"<code>pip install {posixpath.basename(wheel)}</code> (this also installs NumPy, PyTorch and "
        f"matplotlib).</p>", "html.parser")
    title.insert_after(note) if title is not None else soup.insert(0, note)
    figures = take_figures(soup)
    return {"html": str(soup), "styles": styles, "broken": broken, "toc": toc, "figures": figures}


def on_page_content(html: str, page, config, files) -> str:
    if not is_chapter(page):
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

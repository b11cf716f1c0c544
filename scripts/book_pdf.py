"""The whole book as one PDF, printed from the built site by headless Chromium.

    mkdocs build --strict && python scripts/book_pdf.py site

writes site/book.pdf: a title page with the table of contents, then every page of
the navigation in order, each starting on a new sheet, with equations typeset by
MathJax, figures in their static form, code in monospace and the folded solutions
opened. PDF bookmarks follow the parts of the book. Needs Debian's `chromium` and
`chromium-driver` (the browser test uses them too) and pypdf; nothing else, and no
network: the site is served from localhost.
"""

from __future__ import annotations

import argparse
import base64
import functools
import html
import http.server
import io
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import yaml
from pypdf import PdfReader, PdfWriter
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parent.parent
A4 = {"paperWidth": 8.27, "paperHeight": 11.69, "marginTop": 0.6, "marginBottom": 0.6,
      "marginLeft": 0.6, "marginRight": 0.6}

# Before printing: every folded block open, MathJax's queue empty.
PREPARE_JS = "document.querySelectorAll('details').forEach(d => d.open = true);"
# The visible text outside code must hold no TeX that MathJax left untypeset.
RAW_TEX_JS = """
const clone = document.querySelector("article").cloneNode(true);
clone.querySelectorAll("pre, code, script, style, .MathJax_Preview, .MJX_Assistive_MathML, .highlight,"
  + " .highlight-ipynb, .clipboard-copy-txt").forEach(e => e.remove());
return ["$$", "\\\\(", "\\\\)", "\\\\[", "\\\\]", "\\\\frac"].filter(t => clone.innerText.includes(t));
"""
MATH_DONE_JS = (
    "return !window.MathJax || (MathJax.isReady && MathJax.Hub.queue.pending === 0"
    " && MathJax.Hub.queue.running === 0)"
)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@dataclass
class Entry:
    """One page of the navigation: its part, its title in the PDF and its URL in the site."""

    part: str | None
    title: str
    url: str


def nav_entries(config_file: Path) -> list[Entry]:
    """The pages of mkdocs.yml's nav, in reading order, with their part."""

    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may hold tags such as !ENV and !!python/name: read them as plain values.
    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    nav = yaml.load(config_file.read_text(), Loader=Loader)["nav"]
    entries: list[Entry] = []

    def walk(items: list, part: str | None) -> None:
        for item in items:
            if isinstance(item, str):
                item = {None: item}
            for title, target in item.items():
                if isinstance(target, list):
                    walk(target, title)
                else:
                    url = "" if target == "index.md" else target.rsplit(".", 1)[0] + "/"
                    entries.append(Entry(part, title or "", url))

    walk(nav, None)
    return entries


def make_driver() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver_path), options=options)


def print_page(driver: webdriver.Chrome, url: str, timeout: float = 30.0) -> tuple[bytes, str]:
    """Load url, open folded blocks, wait for MathJax, print; return the PDF and the page title."""
    driver.get(url)
    driver.execute_script(PREPARE_JS)
    deadline = time.monotonic() + timeout
    while not driver.execute_script(MATH_DONE_JS):
        if time.monotonic() > deadline:
            raise RuntimeError(f"MathJax did not finish on {url} within {timeout} s")
        time.sleep(0.2)
    raw = driver.execute_script(RAW_TEX_JS)
    if raw:
        raise RuntimeError(f"untypeset TeX {raw} on {url}")
    title = driver.execute_script("const h = document.querySelector('article h1');"
                                  " return h ? h.textContent.replace('¶', '').trim() : document.title;")
    pdf = driver.execute_cdp_cmd("Page.printToPDF", {**A4, "printBackground": True})
    return base64.b64decode(pdf["data"]), title


def contents_html(title: str, rows: list[tuple[str | None, str, int]]) -> str:
    """The title page: the book's name and a table of contents with page numbers."""
    lines, part = [], None
    for row_part, name, page in rows:
        if row_part != part and row_part:
            lines.append(f"<h2>{html.escape(row_part)}</h2>")
        part = row_part
        lines.append(f"<p><span>{html.escape(name)}</span><span>{page}</span></p>")
    return (
        "<!doctype html><meta charset='utf-8'><style>"
        "body{font-family:sans-serif;margin:0}h1{font-size:26pt;margin:0 0 6pt}"
        "h2{font-size:12pt;margin:14pt 0 4pt}p{display:flex;justify-content:space-between;"
        "margin:2pt 0;font-size:10.5pt;border-bottom:1px dotted #999}</style>"
        f"<h1>{html.escape(title)}</h1><p style='border:0'>Contents</p>{''.join(lines)}"
    )


def build_pdf(site: Path, output: Path, config_file: Path = ROOT / "mkdocs.yml") -> int:
    """Print every page of the built site into output; return the number of pages."""
    entries = nav_entries(config_file)
    book_title = yaml.safe_load(
        "\n".join(line for line in config_file.read_text().splitlines() if line.startswith("site_name:"))
    )["site_name"]
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    driver = make_driver()
    try:
        printed = []
        for entry in entries:
            pdf, title = print_page(driver, base + entry.url)
            printed.append((entry, title, PdfReader(io.BytesIO(pdf))))
        # The contents page needs its own length to number the pages after it: print twice.
        contents_pages = 1
        for _ in range(2):
            rows, page = [], contents_pages + 1
            for entry, title, reader in printed:
                rows.append((entry.part, title, page))
                page += len(reader.pages)
            driver.get("data:text/html;charset=utf-8," + quote(contents_html(book_title, rows)))
            contents = PdfReader(io.BytesIO(base64.b64decode(
                driver.execute_cdp_cmd("Page.printToPDF", A4)["data"])))
            if len(contents.pages) == contents_pages:
                break
            contents_pages = len(contents.pages)
    finally:
        driver.quit()
        server.shutdown()

    writer = PdfWriter()
    writer.append(contents)
    parts: dict[str, object] = {}
    for (entry, title, reader), (_, _, first_page) in zip(printed, rows):
        writer.append(reader)
        parent = None
        if entry.part:
            if entry.part not in parts:
                parts[entry.part] = writer.add_outline_item(title=entry.part, page_number=first_page - 1)
            parent = parts[entry.part]
        writer.add_outline_item(title=title, page_number=first_page - 1, parent=parent)
    writer.add_metadata({"/Title": book_title})
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as f:
        writer.write(f)
    return len(writer.pages)


def check_pdf(path: Path, config_file: Path = ROOT / "mkdocs.yml") -> list[str]:
    """What is wrong with a printed book: too few pages, a page of the site missing."""
    reader = PdfReader(path)
    entries = nav_entries(config_file)
    problems = []
    if len(reader.pages) < 2 * len(entries):
        problems.append(f"{len(reader.pages)} pages for the {len(entries)} pages of the site")
    parts = {entry.part for entry in entries if entry.part}
    pages = [item for item in flatten_outline(reader.outline) if item.title not in parts]
    if len(pages) != len(entries):
        problems.append(f"{len(pages)} bookmarked pages, {len(entries)} in the navigation")
    for bookmark in pages:
        # Compared without spaces: a long title may break across lines, after a hyphen too.
        text = "".join((reader.pages[reader.get_destination_page_number(bookmark)].extract_text() or "").split())
        if "".join(bookmark.title.split()) not in text:
            problems.append(f"the page bookmarked {bookmark.title!r} does not show that title")
    return problems


def flatten_outline(outline: list) -> list:
    return [leaf for item in outline for leaf in (flatten_outline(item) if isinstance(item, list) else [item])]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site (mkdocs build --strict)")
    parser.add_argument("-o", "--output", type=Path, help="default: SITE/book.pdf")
    args = parser.parse_args(argv)
    output = args.output or args.site / "book.pdf"
    started = time.monotonic()
    pages = build_pdf(args.site, output)
    problems = check_pdf(output)
    if problems:
        sys.exit(f"{output}: " + "; ".join(problems))
    print(f"{output}: {pages} pages in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

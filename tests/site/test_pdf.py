"""The whole book as one PDF (scripts/book_pdf.py), printed from the built site.

Needs Debian's `chromium` and `chromium-driver`, like the browser test: without
them it is skipped, unless REQUIRE_BROWSER=1 (as .ci/run sets), when it fails.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from site_helpers import ROOT, parse

if not (shutil.which("chromium") and shutil.which("chromedriver")):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise RuntimeError("REQUIRE_BROWSER=1 but chromium / chromedriver are not installed")
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)

sys.path.insert(0, str(ROOT / "scripts"))
import book_pdf  # noqa: E402


@pytest.fixture(scope="module")
def book(built_site, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("pdf") / "book.pdf"
    book_pdf.build_pdf(built_site, output)
    return output


def test_the_book_prints_with_every_page_of_the_site(book):
    assert book_pdf.check_pdf(book) == []


def test_the_contents_page_lists_every_chapter(book):
    contents = " ".join((PdfReader(book).pages[0].extract_text() or "").split())
    for entry in book_pdf.nav_entries(ROOT / "mkdocs.yml"):
        if entry.part:
            assert entry.part in contents


def test_the_check_finds_a_missing_chapter(book, tmp_path):
    """The control: drop the pages of one chapter and the check must say so."""
    reader = PdfReader(book)
    bookmarks = [b for b in book_pdf.flatten_outline(reader.outline)]
    start = reader.get_destination_page_number(bookmarks[-2])
    writer = PdfWriter()
    for number, page in enumerate(reader.pages):
        if number < start:
            writer.add_page(page)
    for bookmark in bookmarks[:-2]:
        writer.add_outline_item(title=bookmark.title, page_number=reader.get_destination_page_number(bookmark))
    truncated = tmp_path / "truncated.pdf"
    with truncated.open("wb") as f:
        writer.write(f)
    assert book_pdf.check_pdf(truncated)


def test_the_home_page_links_the_pdf(built_site):
    assert "book.pdf" in parse(built_site / "index.html").links

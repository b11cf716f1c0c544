"""The built site, read as files: links resolve, notebooks download, pages stay light,
and nothing is fetched from another host."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import jupytext
import nbformat
import pytest
from bs4 import BeautifulSoup

from site_helpers import CHAPTERS, chapter_page, page_paths, page_weight, parse, resolve

ROOT_CHAPTERS = Path(__file__).resolve().parent.parent / "docs" / "chapters"
PAGE_BUDGET = 300 * 1024  # bytes of HTML and page-specific assets per chapter page


def test_every_chapter_is_in_the_navigation_and_every_navigation_chapter_exists():
    config = (CHAPTERS[0].parents[2] / "mkdocs.yml").read_text(encoding="utf-8")
    in_nav = set(re.findall(r"chapters/([\w-]+\.py)", config.split("\nnav:", 1)[1].split("\n\n", 1)[0]))
    on_disk = {chapter.name for chapter in CHAPTERS}
    assert in_nav == on_disk, (
        f"chapters missing from the nav: {sorted(on_disk - in_nav)}; "
        f"nav entries without a file: {sorted(in_nav - on_disk)}"
    )


# Printed from the built site after `mkdocs build` (scripts/book_pdf.py, tests/site/test_pdf.py).
BUILT_AFTER_THE_SITE = {"book.pdf"}


def test_every_internal_link_and_anchor_resolves(built_site):
    broken = []
    for page in page_paths(built_site):
        parsed = parse(page)
        for href in parsed.links + parsed.assets:
            if urlparse(href).scheme or href.startswith(("mailto:", "//")):
                continue
            if href.rsplit("/", 1)[-1] in BUILT_AFTER_THE_SITE:
                continue
            target, anchor = resolve(built_site, page, href)
            if not target.exists():
                broken.append(f"{page.relative_to(built_site)}: {href} (no file)")
            elif anchor and target.suffix == ".html" and anchor not in parse(target).ids:
                broken.append(f"{page.relative_to(built_site)}: {href} (no anchor)")
    assert not broken, "\n".join(broken)


def test_notebook_links_point_at_pages_not_sources(built_site):
    for chapter in CHAPTERS:
        links = parse(chapter_page(built_site, chapter)).links
        assert not [h for h in links if re.search(r"\.(py|md)(#|$)", h)], links


def test_nothing_is_loaded_from_another_host(built_site):
    for page in page_paths(built_site):
        external = [src for src in parse(page).assets if urlparse(src).netloc]
        assert not external, f"{page}: {external}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_offers_its_notebook(built_site, chapter):
    page = chapter_page(built_site, chapter)
    downloads = [h for h in parse(page).links if h.endswith(".ipynb")]
    assert downloads == [f"{chapter.stem}.ipynb"]
    notebook = nbformat.read(page.parent / downloads[0], as_version=4)
    nbformat.validate(notebook)
    source = jupytext.read(chapter)
    assert [c.source for c in notebook.cells] == [c.source for c in source.cells]
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page_weight_is_within_budget(built_site, chapter):
    weight = page_weight(built_site, chapter_page(built_site, chapter))
    assert weight <= PAGE_BUDGET, f"{chapter.stem}: {weight / 1024:.0f} KB"


def chapter_number(chapter) -> int | None:
    prefix = chapter.stem.split("_", 1)[0]
    return int(prefix) if prefix.isdigit() else None


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_titles_carry_the_number_of_their_file_name(built_site, chapter):
    page = chapter_page(built_site, chapter).read_text(encoding="utf-8")
    title = re.search(r"<title>(.*?)</title>", page)[1]
    h1 = re.sub(r"<[^>]+>", "", re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)[1]).rstrip("¶")
    number = chapter_number(chapter)
    if number is None:  # evolution_at_a_glance
        assert not re.match(r"\d", title) and not re.match(r"\d", h1)
    else:
        assert title.startswith(f"{number}. ") and h1.startswith(f"{number}. "), (title, h1)
        # the navigation of another page names it with its number
        home = (built_site / "index.html").read_text(encoding="utf-8")
        link = re.search(rf'href="chapters/{chapter.stem}/"[^>]*>\s*<span class="md-ellipsis">\s*([^<]*?)\s*<', home)
        assert link and link[1].startswith(f"{number}. "), link and link[1]


def test_the_home_page_lists_chapters_by_their_numbers(built_site):
    home = BeautifulSoup((built_site / "index.html").read_text(encoding="utf-8"), "html.parser")
    shown = []  # (the number a reader sees, the chapter linked)
    for ol in home.select("article ol"):
        for position, item in enumerate(ol.find_all("li", recursive=False)):
            link = item.find("a", href=re.compile(r"^chapters/\w+/$"))
            if link is not None:
                shown.append((int(ol.get("start", 1)) + position, link["href"].split("/")[1]))
    numbered = [(seen, stem) for seen, stem in shown if chapter_number(ROOT_CHAPTERS / stem) is not None]
    assert len(numbered) >= 10
    assert all(seen == chapter_number(ROOT_CHAPTERS / stem) for seen, stem in numbered), numbered


def test_no_repository_is_named_unless_the_publisher_sets_one(built_site):
    if os.environ.get("BOOK_REPO_URL"):
        pytest.skip("BOOK_REPO_URL is set")
    for page in page_paths(built_site):
        text = page.read_text(encoding="utf-8")
        assert 'class="md-source"' not in text and "git clone" not in text, page

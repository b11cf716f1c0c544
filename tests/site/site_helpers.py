"""Build the book once per test session and serve it on localhost."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

ROOT = Path(__file__).resolve().parents[2]
LOADED_LINKS = {"stylesheet", "icon", "preload", "modulepreload", "manifest"}  # not prev/next
CHAPTERS = sorted((ROOT / "docs" / "chapters").glob("*.py"))


def build_site(site_dir: Path) -> subprocess.CompletedProcess:
    """Run `mkdocs build --strict` into site_dir; chapters come from the shared cache."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def page_paths(site_dir: Path) -> list[Path]:
    """Every HTML page of the built book (MathJax's own files aside)."""
    return sorted(p for p in site_dir.rglob("*.html") if "assets" not in p.relative_to(site_dir).parts)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class SiteServer:
    """Serve a folder on 127.0.0.1 at a free port, in a background thread."""

    def __init__(self, directory: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "SiteServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class PageLinks(HTMLParser):
    """Collect ids, hyperlinks and the addresses of assets a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag in ("script", "img", "iframe", "source") and a.get("src"):
            self.assets.append(a["src"])
        elif tag == "link" and a.get("href") and a.get("rel") in LOADED_LINKS:
            self.assets.append(a["href"])


def parse(path: Path) -> PageLinks:
    parser = PageLinks()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def chapter_page(site: Path, chapter: Path) -> Path:
    return site / "chapters" / chapter.stem / "index.html"


def resolve(site: Path, page: Path, href: str) -> tuple[Path, str]:
    """The file and the anchor an internal href points at."""
    page_url = "/" + page.relative_to(site).as_posix()
    url = urlparse(urljoin(page_url, href))
    target = site / unquote(url.path).lstrip("/")
    if url.path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target, url.fragment


def local_assets(site: Path, page: Path) -> set[Path]:
    return {resolve(site, page, a)[0] for a in parse(page).assets if not urlparse(a).scheme}


def page_weight(site: Path, page: Path) -> int:
    """Bytes of the page plus the assets no other page uses (shared ones count for the site)."""
    shared = set().union(*(local_assets(site, other) for other in page_paths(site) if other != page))
    own = local_assets(site, page) - shared
    return page.stat().st_size + sum(path.stat().st_size for path in own)

"""The built book in headless Chromium, with every host but localhost refused.

For each page, in the light and the dark theme: equations are typeset (no raw
TeX delimiters left in the visible text), every figure is loaded and not empty,
the console shows no errors, and no request went to another host. Screenshots go
to screenshots/ for a person to look at.

Needs Debian's `chromium` and `chromium-driver`. Without them the test is skipped,
unless REQUIRE_BROWSER=1 (as .ci/run sets), when it fails.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from site_helpers import ROOT, SiteServer, page_paths

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = ROOT / "screenshots"

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise RuntimeError("REQUIRE_BROWSER=1 but chromium / chromedriver are not installed")
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

# What the page's visible text may not contain once MathJax has run.
RAW_TEX = ("$", "\\(", "\\)", "\\[", "\\]")

# Visible text outside code, and the figures of the page, as the reader sees them.
PAGE_REPORT_JS = """
const article = document.querySelector("article");
const clone = article.cloneNode(true);
clone.querySelectorAll("pre, code, script, style, .MathJax_Preview, .MJX_Assistive_MathML, .highlight, .highlight-ipynb, .clipboard-copy-txt")
  .forEach(e => e.remove());
const images = [...article.querySelectorAll("img")].map(img => ({
  src: img.currentSrc.slice(0, 80), complete: img.complete, width: img.naturalWidth
}));
const svgs = [...article.querySelectorAll(".jp-OutputArea svg[role=img]")].map(svg => {
  const box = svg.getBoundingClientRect();
  return {width: box.width, height: box.height, shapes: svg.querySelectorAll("path, use, image").length};
});
return {
  text: clone.innerText,
  mathjax: document.querySelectorAll(".MathJax, .MathJax_Display").length,
  mathjaxErrors: document.querySelectorAll(".MathJax_Error, merror").length,
  // The hidden text behind each copy button must stay the code, untouched by MathJax.
  typesetCode: document.querySelectorAll(".clipboard-copy-txt .MathJax, .clipboard-copy-txt script").length,
  images: images,
  svgs: svgs,
  scheme: document.body.getAttribute("data-md-color-scheme"),
};
"""


def make_driver() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        # Refuse every host but localhost: names resolve to nothing.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def save_full_page_screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """The whole page, not only the window: what a reader scrolls through."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def wait_for_math(driver: webdriver.Chrome, timeout: float = 20.0) -> None:
    """Wait until MathJax has loaded and finished its typesetting queue."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = driver.execute_script(
            "return !!(window.MathJax && MathJax.isReady && MathJax.Hub.queue.pending === 0"
            " && MathJax.Hub.queue.running === 0)"
        )
        if done:
            return
        time.sleep(0.2)
    raise AssertionError(f"MathJax did not finish within {timeout} s on {driver.current_url}")


@pytest.fixture(scope="module")
def server(built_site):
    with SiteServer(built_site) as running:
        yield running


@pytest.fixture(scope="module", params=["light", "dark"])
def driver(request):
    """A fresh browser per theme: Material remembers the palette in local storage."""
    chrome = make_driver()
    chrome.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": request.param}]},
    )
    chrome.scheme = request.param
    yield chrome
    chrome.quit()


def pages_to_check(site_dir: Path) -> list[str]:
    return [p.relative_to(site_dir).as_posix() for p in page_paths(site_dir) if p.name != "404.html"]


def test_pages_render_offline(built_site, server, driver):
    SCREENSHOTS.mkdir(exist_ok=True)
    scheme = driver.scheme
    pages = pages_to_check(built_site)
    assert any("chapters/" in p for p in pages), pages
    problems: list[str] = []
    for rel in pages:
        driver.get_log("performance")  # forget earlier pages' requests
        driver.get_log("browser")
        driver.get(server.url + rel)
        wait_for_math(driver)
        report = driver.execute_script(PAGE_REPORT_JS)
        name = rel.replace("/", "_").removesuffix(".html")
        save_full_page_screenshot(driver, SCREENSHOTS / f"{name}-{scheme}.png")

        expected = "slate" if scheme == "dark" else "default"
        if report["scheme"] != expected:
            problems.append(f"{rel}: colour scheme {report['scheme']!r}, expected {expected!r}")
        for raw in RAW_TEX:
            if raw in report["text"]:
                at = report["text"].index(raw)
                problems.append(f"{rel}: raw {raw!r} in text: ...{report['text'][max(0, at - 60):at + 60]!r}")
        if report["typesetCode"]:
            problems.append(f"{rel}: MathJax typeset {report['typesetCode']} formulas inside code to copy")
        if report["mathjaxErrors"]:
            problems.append(f"{rel}: {report['mathjaxErrors']} MathJax errors")
        for img in report["images"]:
            if not img["complete"] or img["width"] == 0:
                problems.append(f"{rel}: image not loaded: {img['src']}")
        for i, svg in enumerate(report["svgs"]):
            if svg["width"] < 50 or svg["height"] < 50 or svg["shapes"] == 0:
                problems.append(f"{rel}: figure {i} is empty or tiny: {svg}")
        for entry in driver.get_log("browser"):
            if entry["level"] == "SEVERE":
                problems.append(f"{rel}: console error: {entry['message']}")
        for url in requested_urls(driver):
            host = urlparse(url).hostname
            if urlparse(url).scheme in ("http", "https", "ws", "wss") and host not in ("127.0.0.1", "localhost"):
                problems.append(f"{rel}: request to another host: {url}")
    assert not problems, "\n".join(problems)


def test_chapters_have_equations_and_figures(built_site, server, driver):
    """The checks above must have had something to check on every chapter."""
    for rel in pages_to_check(built_site):
        if not rel.startswith("chapters/"):
            continue
        driver.get(server.url + rel)
        wait_for_math(driver)
        report = driver.execute_script(PAGE_REPORT_JS)
        assert report["mathjax"] > 0, f"{rel}: no typeset equation"
        assert report["svgs"], f"{rel}: no figure"


# Elements of the article that reach past the right edge of the screen, unless
# they sit in a box that scrolls sideways (code blocks, tables, wide equations).
PHONE_OVERFLOW_JS = """
const width = document.documentElement.clientWidth;
const offenders = [];
for (const el of document.querySelectorAll("article *")) {
  const box = el.getBoundingClientRect();
  if (box.width === 0 || box.right <= width + 1) continue;
  let scrolls = false;
  for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    const overflow = getComputedStyle(a).overflowX;
    if ((overflow === "auto" || overflow === "scroll") && a.getBoundingClientRect().right <= width + 1) {
      scrolls = true;
      break;
    }
  }
  if (!scrolls) offenders.push(`${el.tagName.toLowerCase()}.${el.getAttribute("class") || ""} reaches ${Math.round(box.right)}px`);
}
return {pageWidth: document.documentElement.scrollWidth, width: width, offenders: offenders};
"""


def test_pages_fit_a_phone_screen(built_site, server):
    """At 390 CSS pixels wide nothing but code, tables and equations may scroll sideways."""
    phone = make_driver()
    phone.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    problems = []
    try:
        for rel in pages_to_check(built_site):
            phone.get(server.url + rel)
            wait_for_math(phone)
            report = phone.execute_script(PHONE_OVERFLOW_JS)
            if report["pageWidth"] > report["width"]:
                problems.append(f"{rel}: the page is {report['pageWidth']}px wide on a {report['width']}px screen")
            problems += [f"{rel}: {offender}" for offender in report["offenders"][:3]]
        save_full_page_screenshot(phone, SCREENSHOTS / "phone-last-page.png")
    finally:
        phone.quit()
    assert not problems, "\n".join(problems)


def unique_terms(built_site: Path) -> dict[str, str]:
    """For each chapter, a long word of its text that no other page of the site contains."""
    index = json.loads((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    words: dict[str, set[str]] = {}  # page -> every run of letters on it
    candidates: dict[str, set[str]] = {}  # page -> its whole words, as the search splits them
    for doc in index["docs"]:
        page = doc["location"].split("#")[0]
        text = (doc["title"] + " " + doc["text"]).lower()
        words.setdefault(page, set()).update(re.findall("[a-z]+", text))
        tokens = (t.strip(".,;:!?()[]'\"*") for t in re.split(r"[\s\-]+", text))
        candidates.setdefault(page, set()).update(t for t in tokens if re.fullmatch("[a-z]{9,}", t))
    terms = {}
    for page, mine in candidates.items():
        if not page.startswith("chapters/"):
            continue
        # The search stems words ("generates", "generating"): compare crude stems.
        others = {w[:7] for p, ws in words.items() if p != page for w in ws}
        only_here = sorted(w for w in mine if w[:7] not in others)
        if only_here:
            terms[page] = only_here[len(only_here) // 2]
    return terms


def test_search_finds_a_chapter_by_a_term_only_it_contains(built_site, server):
    terms = unique_terms(built_site)
    assert len(terms) >= 10, terms  # nearly every chapter has a word of its own
    chrome = make_driver()
    problems = []
    try:
        for page, term in sorted(terms.items())[::4]:  # a sample, to keep the test short
            chrome.get(server.url)
            box = chrome.find_element("css selector", "input.md-search__input")
            chrome.execute_script("arguments[0].focus()", box)
            box.send_keys(term)
            deadline = time.monotonic() + 15
            links: list[str] = []
            while time.monotonic() < deadline and not links:
                time.sleep(0.3)
                links = chrome.execute_script(
                    "return [...document.querySelectorAll('.md-search-result__item > a')].map(a => a.href)"
                )
            if not links or page not in links[0]:
                problems.append(f"searching {term!r}: expected {page} first, got {links[:3]}")
    finally:
        chrome.quit()
    assert not problems, "\n".join(problems)

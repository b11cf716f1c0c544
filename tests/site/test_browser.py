"""The built book in headless Chromium, with every host but localhost refused.

For each page, in the light and the dark theme: equations are typeset (no raw
TeX delimiters left in the visible text), every figure is loaded and not empty,
the console shows no errors, and no request went to another host. Screenshots go
to screenshots/ for a person to look at.

Accessibility, on every page in both themes: axe-core (shipped inside the
selenium-axe-python package, injected from disk, nothing from a network) finds no
serious or critical violation; the minor and moderate ones are counted by rule
and printed in the summary at the end of the run (and written to
screenshots/axe-report.json). Every typeset equation has a MathML copy for screen
readers, and every control on the page can be reached with the Tab key and has a
name.

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
from collections import Counter
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
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium_axe_python import Axe  # noqa: E402
from selenium_axe_python.axe import _DEFAULT_SCRIPT as AXE_SCRIPT  # noqa: E402

# "4.9.1", read from the script's banner: the axe-core the report names.
AXE_VERSION = re.search(r"axe v([\d.]+)", Path(AXE_SCRIPT).read_text(encoding="utf-8")[:200]).group(1)

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
// An interactive figure's static drawing is hidden once the live chart is drawn.
const svgs = [...article.querySelectorAll(".jp-OutputArea svg[role=img]")]
  .filter(svg => !svg.closest(".interactive-figure-static")).map(svg => {
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


@pytest.fixture(scope="module")
def visits(built_site, server, driver) -> dict[str, dict]:
    """Each page loaded once per theme: what the per-page tests below check (PAGE_REPORT_JS's
    report, console errors, requests, equations' MathML, axe's violations)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    found = {}
    for rel in pages_to_check(built_site):
        driver.get_log("performance")  # forget earlier pages' requests
        driver.get_log("browser")
        driver.get(server.url + rel)
        wait_for_math(driver)
        visit = found[rel] = {"report": driver.execute_script(PAGE_REPORT_JS)}
        save_full_page_screenshot(driver, SCREENSHOTS / f"{rel.replace('/', '_').removesuffix('.html')}-{driver.scheme}.png")
        visit["console"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        visit["requests"] = requested_urls(driver)
        visit["equations"] = driver.execute_script(MATH_ACCESS_JS)
        visit["axe"] = axe_violations(driver)  # last: it adds axe's script to the page
    return found


def test_pages_render_offline(built_site, visits, driver):
    scheme = driver.scheme
    assert any("chapters/" in p for p in visits), list(visits)
    problems: list[str] = []
    for rel, visit in visits.items():
        report = visit["report"]
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
        for message in visit["console"]:
            problems.append(f"{rel}: console error: {message}")
        for url in visit["requests"]:
            host = urlparse(url).hostname
            if urlparse(url).scheme in ("http", "https", "ws", "wss") and host not in ("127.0.0.1", "localhost"):
                problems.append(f"{rel}: request to another host: {url}")
    assert not problems, "\n".join(problems)


def test_chapters_have_equations_and_figures(visits):
    """The checks above must have had something to check on every chapter."""
    for rel, visit in visits.items():
        if rel.startswith("chapters/"):
            assert visit["report"]["mathjax"] > 0, f"{rel}: no typeset equation"
            assert visit["report"]["svgs"], f"{rel}: no figure"


# --- Accessibility -----------------------------------------------------------

SEVERE = ("serious", "critical")
AXE_REPORT = SCREENSHOTS / "axe-report.json"

# axe's violations, cut to what a report needs (the full results are megabytes).
AXE_RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  results => done(results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))
  }))),
  error => done({error: String(error)})
);
"""


def axe_violations(driver: webdriver.Chrome) -> list[dict]:
    """Run axe-core on the page the browser shows; its violations, one entry per rule."""
    Axe(driver).inject()  # axe.min.js from the installed package, not from a network
    driver.set_script_timeout(180)
    found = driver.execute_async_script(AXE_RUN_JS)
    if isinstance(found, dict):
        raise AssertionError(f"axe-core failed on {driver.current_url}: {found['error']}")
    return found


class AxeSummary:
    """Counts of axe's findings by theme, impact and rule, printed at the end of the run."""

    def __init__(self) -> None:
        self.elements: dict[str, Counter] = {}  # theme -> (impact, rule) -> elements
        self.pages: dict[str, Counter] = {}  # theme -> (impact, rule) -> pages

    def add(self, scheme: str, violations: list[dict]) -> None:
        for v in violations:
            key = (v["impact"], v["id"])
            self.elements.setdefault(scheme, Counter())[key] += len(v["nodes"])
            self.pages.setdefault(scheme, Counter())[key] += 1

    def lines(self) -> list[str]:
        lines = ["axe-core " + AXE_VERSION + ": violations by rule (elements, pages), every page"]
        for scheme, counts in sorted(self.elements.items()):
            total = sum(counts.values())
            lines.append(f"  {scheme} theme: {total} elements")
            for (impact, rule), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"    {impact:<9} {rule:<28} {n:>6} elements on {self.pages[scheme][impact, rule]:>2} pages")
        return lines

    # A pytest hook, called on this object once it is registered as a plugin.
    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.elements:
            return
        terminalreporter.section("accessibility (axe-core)")
        for line in self.lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def axe_summary(request):
    summary = AxeSummary()
    request.config.pluginmanager.register(summary, "axe-summary")
    yield summary
    SCREENSHOTS.mkdir(exist_ok=True)
    AXE_REPORT.write_text(
        json.dumps({s: {f"{i} {r}": n for (i, r), n in c.items()} for s, c in summary.elements.items()}, indent=1)
    )


def test_pages_pass_axe(visits, driver, axe_summary):
    """No serious or critical axe-core violation on any page, in either theme."""
    problems = []
    for rel, visit in visits.items():
        axe_summary.add(driver.scheme, visit["axe"])
        for v in visit["axe"]:
            if v["impact"] in SEVERE:
                first = v["nodes"][0]
                problems.append(
                    f"{rel} ({driver.scheme}): {v['impact']} {v['id']} ({v['help']}) on {len(v['nodes'])}"
                    f" elements, e.g. {first['target']}: {first['summary'][:300]}"
                )
    assert not problems, "\n".join(problems)


# Each equation MathJax typeset, and whether a screen reader gets it: the visible
# rendering hidden from assistive technology, a MathML copy beside it (MathJax's
# AssistiveMML extension).
MATH_ACCESS_JS = """
return MathJax.Hub.getAllJax().map(jax => {
  const frame = document.getElementById(jax.inputID + "-Frame");
  const mathml = frame && frame.querySelector(".MJX_Assistive_MathML math");
  return {
    tex: jax.originalText.slice(0, 60),
    frame: !!frame,
    visualHidden: !!frame && !!frame.querySelector(":scope > [aria-hidden=true]"),
    mathml: mathml ? mathml.textContent.trim().length : -1,
    tabStop: !!frame && frame.tabIndex >= 0,
  };
});
"""


def test_equations_reach_screen_readers(visits):
    """Every typeset equation has a MathML copy that screen readers read instead of the glyphs."""
    problems = []
    checked = 0
    for rel, visit in visits.items():
        for eq in visit["equations"]:
            checked += 1
            if not eq["frame"] or eq["mathml"] <= 0 or not eq["visualHidden"]:
                problems.append(f"{rel}: equation {eq['tex']!r} has no MathML for screen readers: {eq}")
            if eq["tabStop"]:  # the menu is off: focusing an equation would do nothing
                problems.append(f"{rel}: equation {eq['tex']!r} is a Tab stop")
    assert checked > 100, checked  # the book has equations on nearly every page
    assert not problems, "\n".join(problems[:20])


# Controls a reader can see and click: each must have a name and be reached with
# Tab (directly or, for a visually hidden radio button or checkbox, through the
# label the reader sees and clicks; for radio buttons, Tab reaches the group's
# checked one). A box that only scrolls must be reached too; it needs no name.
# Controls shown only on focus or once they apply (opacity 0) are left out.
CONTROLS_JS = """
const visible = el => {
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  if (box.width === 0 || box.height === 0 || style.visibility === "hidden" || style.display === "none") return false;
  // Inside a closed <details> (a folded solution) nothing is shown.
  if (!el.checkVisibility({contentVisibilityAuto: true, opacityProperty: true, visibilityProperty: true})) return false;
  for (let a = el; a; a = a.parentElement) if (getComputedStyle(a).opacity === "0") return false;
  return true;
};
const clickable = el => getComputedStyle(el).cursor === "pointer" && getComputedStyle(el).pointerEvents !== "none";
const named = "a[href], button, input, select, textarea, summary, [role=button]";
const selector = named + ", [tabindex]:not([tabindex='-1']), [onclick], label[for]";
const controls = [];
for (const el of document.querySelectorAll(selector)) {
  if (el.tagName === "INPUT" && el.type === "hidden") continue;
  let target = el;
  if (el.tagName === "LABEL") {
    target = document.getElementById(el.getAttribute("for"));
    if (!target || !visible(el) || !clickable(el)) continue;
  } else if (el.tagName === "INPUT" && el.labels && [...el.labels].some(l => visible(l) && clickable(l))) {
    // reached through its label, checked above
  } else if (!visible(el)) {
    continue;
  }
  if (target.type === "radio") {  // Tab stops at the group's checked radio, or else its first
    const group = `input[type=radio][name="${target.name}"]`;
    target = document.querySelector(group + ":checked") || document.querySelector(group);
  }
  controls.push({
    el: target,
    what: el.outerHTML.slice(0, 140),
    needsName: target.matches(named),
    disabled: target.disabled === true,
    tabbable: target.tabIndex >= 0 && !target.disabled,
  });
}
return controls;
"""


def tab_sequence(driver: webdriver.Chrome, limit: int = 800) -> list:
    """The elements Tab visits from the top of the page, in order, once round."""
    driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    seen = []
    chain = webdriver.ActionChains(driver)
    for _ in range(limit):
        chain.send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        if seen and active == seen[0]:
            break
        seen.append(active)
    return seen


def accessible_name(driver: webdriver.Chrome, element) -> str:
    """The name Chromium's accessibility tree gives an element."""
    driver.execute_script("window.__axNode = arguments[0]", element)
    remote = driver.execute_cdp_cmd("Runtime.evaluate", {"expression": "window.__axNode"})["result"]
    node = driver.execute_cdp_cmd("DOM.describeNode", {"objectId": remote["objectId"]})["node"]
    tree = driver.execute_cdp_cmd(
        "Accessibility.getPartialAXTree", {"backendNodeId": node["backendNodeId"], "fetchRelatives": False}
    )
    return tree["nodes"][0].get("name", {}).get("value", "")


@pytest.mark.parametrize("rel", ["index.html", "chapters/05_scaled_dot_product_attention/index.html"])
def test_controls_are_named_and_reached_with_the_keyboard(built_site, server, rel):
    """Tab reaches every control of the page, and each has a name a screen reader reads."""
    chrome = make_driver()
    problems = []
    try:
        chrome.get(server.url + rel)
        wait_for_math(chrome)
        controls = chrome.execute_script(CONTROLS_JS)
        reached = {e.id for e in tab_sequence(chrome)}
        assert len(reached) > 20, f"{rel}: Tab reached only {len(reached)} elements"
        assert len(controls) > 20, f"{rel}: found only {len(controls)} controls"
        for c in controls:
            if c["disabled"]:
                continue
            if not c["tabbable"] or c["el"].id not in reached:
                problems.append(f"Tab never reaches {c['what']}")
            if c["needsName"] and not accessible_name(chrome, c["el"]).strip():
                problems.append(f"no accessible name: {c['what']}")
    finally:
        chrome.quit()
    assert not problems, f"{rel}:\n" + "\n".join(problems)


def test_the_theme_toggle_works_from_the_keyboard(built_site, server):
    """Tab to the colour-theme toggle, press Enter: the page turns dark, and back."""
    chrome = make_driver()
    try:
        chrome.get(server.url)
        scheme = lambda: chrome.execute_script("return document.body.getAttribute('data-md-color-scheme')")  # noqa: E731
        assert scheme() == "default"
        for expected in ("slate", "default"):
            for element in tab_sequence(chrome):
                if element.get_attribute("name") == "__palette":
                    element.send_keys(Keys.ENTER)
                    break
            else:
                raise AssertionError("Tab never reaches the colour-theme toggle")
            deadline = time.monotonic() + 5
            while scheme() != expected and time.monotonic() < deadline:
                time.sleep(0.1)
            assert scheme() == expected
    finally:
        chrome.quit()


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


# Boxes of the article that scroll sideways on a phone, and whether the reader
# can see that they do: the scroll shadows of extra.css (code blocks show their
# cut-off lines and need none).
SIDEWAYS_JS = """
const boxes = [];
for (const el of document.querySelectorAll("article .md-typeset__scrollwrap, article table, article .jp-OutputArea-output")) {
  if (!/(auto|scroll)/.test(getComputedStyle(el).overflowX) || el.scrollWidth <= el.clientWidth + 1) continue;
  boxes.push({what: el.className || el.tagName, cue: getComputedStyle(el).backgroundImage.includes("gradient")});
}
return boxes;
"""

# The size in CSS pixels of each text of a cell's figures, as the page shows them.
FIGURE_TEXT_SIZES_JS = """
const sizes = [];
for (const svg of document.querySelectorAll(arguments[0] + " svg")) {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  for (const t of svg.querySelectorAll("text")) {
    const px = parseFloat(getComputedStyle(t.querySelector("tspan") || t).fontSize);
    sizes.push(px * scale);  // font sizes are in the SVG's user units
  }
}
return sizes;
"""


def phone_driver() -> webdriver.Chrome:
    phone = make_driver()
    phone.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    return phone


def test_wide_tables_show_that_they_scroll_on_a_phone(built_site, server):
    phone = phone_driver()
    problems = []
    scrolling = 0
    try:
        for rel in ("index.html", "reference/notation/index.html"):
            phone.get(server.url + rel)
            wait_for_math(phone)
            boxes = phone.execute_script(SIDEWAYS_JS)
            scrolling += len(boxes)
            problems += [f"{rel}: {box['what']} scrolls with no sign of it" for box in boxes if not box["cue"]]
    finally:
        phone.quit()
    assert scrolling >= 2, "the home page's and the notation page's tables should be wider than a phone"
    assert not problems, "\n".join(problems)


def test_the_architecture_diagram_is_legible_on_a_phone(built_site, server):
    """Chapter 12's diagram keeps its labels at 9 CSS pixels or more (it scrolls instead)."""
    phone = phone_driver()
    try:
        phone.get(server.url + "chapters/12_transformer_architecture/index.html")
        wait_for_math(phone)
        sizes = phone.execute_script(FIGURE_TEXT_SIZES_JS, ".celltag_wide-figure")
    finally:
        phone.quit()
    assert len(sizes) > 10, sizes  # the diagram's labels were found
    assert min(sizes) >= 9, f"smallest label {min(sizes):.1f} px"


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

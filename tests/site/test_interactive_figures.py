"""The interactive figures in headless Chromium, offline.

For every interactive figure on every chapter page: the live chart replaces the
static drawing; each control is moved with the keyboard, as a reader without a
mouse would; the drawing changes and shows the readout of the frame the chapter
computed for the control's new value; no console error, no request outside
localhost. The time from a key press to the redrawn chart is measured and must
stay under 100 ms.
"""

from __future__ import annotations

import json
import time

import pytest

from site_helpers import CHAPTERS, chapter_page
from test_browser import make_driver, requested_urls, server  # noqa: F401 (server: a fixture); skips without chromium

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

RESPONSE_BUDGET_MS = 100.0  # a typical redraw, as a reader feels it
STALL_MS = 1000.0  # no single redraw may stall, even on a machine busy with other work

# The figures' state, read from the page: each figure's controls and data (as the
# chapter wrote them) and the text the chart draws now.
FIGURES_JS = """
return [...document.querySelectorAll(".interactive-figure")].map(figure => ({
  state: figure.dataset.state || "",
  spec: JSON.parse(figure.querySelector("script.interactive-figure-spec").textContent),
  texts: [...figure.querySelectorAll(".interactive-figure-live svg text")].map(t => t.textContent),
  svg: (figure.querySelector(".interactive-figure-live svg") || {}).innerHTML || "",
}));
"""
# How long a figure takes to redraw after its control changes: set the control back to
# the value it had, as a reader's input event would, and wait for the chart to finish.
RESPONSE_JS = """
const [index, control, value, done] = [...arguments];
const figure = document.querySelectorAll(".interactive-figure")[index];
const input = figure.querySelectorAll(".vega-bind input, .vega-bind select")[control];
const started = performance.now();
const checkbox = input.type === "checkbox";
if (checkbox) input.checked = value; else input.value = value;
input.dispatchEvent(new Event(input.tagName === "SELECT" || checkbox ? "change" : "input", {bubbles: true}));
figure.view.runAsync().then(() => done(performance.now() - started));
"""


def pages_with_figures(built_site):
    pages = []
    for chapter in CHAPTERS:
        page = chapter_page(built_site, chapter)
        if 'class="interactive-figure"' in page.read_text(encoding="utf-8"):
            pages.append(page)
    return pages


def frame_for(spec: dict, values: dict) -> dict:
    """The chapter's frame for the controls' values."""
    data = spec.get("data") or next(l["data"] for l in spec["layer"] if "data" in l)
    frames = spec["datasets"][data["name"]] if "name" in data else data["values"]
    matches = [f for f in frames if all(abs(f[k] - v) < 1e-9 if isinstance(v, (int, float)) else f[k] == v
                                        for k, v in values.items())]
    assert len(matches) == 1, f"{len(matches)} frames for {values}"
    return matches[0]


def control_value(element):
    """A control's value as the chart's parameter holds it: a number, a menu's option, a bool."""
    if element.get_attribute("type") == "checkbox":
        return element.is_selected()
    if element.tag_name == "input":
        return json.loads(element.get_attribute("value"))
    return element.get_attribute("value")


def key_that_moves(driver, element) -> str:
    """The key that changes a control: right/down, or left/up at the end of its range."""
    if element.get_attribute("type") == "checkbox":
        return Keys.SPACE
    if element.tag_name == "input":
        at_end = float(element.get_attribute("value")) >= float(element.get_attribute("max"))
        return Keys.ARROW_LEFT if at_end else Keys.ARROW_RIGHT
    last = driver.execute_script("return arguments[0].selectedIndex === arguments[0].options.length - 1", element)
    return Keys.ARROW_UP if last else Keys.ARROW_DOWN


def wait_live(driver, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        figures = driver.execute_script(FIGURES_JS)
        if figures and all(f["state"] in ("live", "failed") for f in figures):
            return figures
        time.sleep(0.2)
    raise AssertionError(f"interactive figures not drawn within {timeout} s on {driver.current_url}")


def test_the_book_has_interactive_figures(built_site):
    assert pages_with_figures(built_site), "no chapter has an interactive figure"


@pytest.mark.parametrize("scheme", ["default", "slate"])
def test_every_control_moves_its_figure_to_the_chapters_frame(built_site, server, scheme):
    driver = make_driver()
    responses = []
    try:
        for page in pages_with_figures(built_site):
            url = server.url + page.relative_to(built_site).parent.as_posix() + "/"
            driver.get(url)
            driver.execute_script(f"localStorage.setItem('/.__palette', JSON.stringify({{index: {0 if scheme == 'default' else 1}}}))")
            driver.get(url)
            figures = wait_live(driver)
            for index, figure in enumerate(figures):
                assert figure["state"] == "live", f"{url}: figure {index} failed to draw"
                element = driver.find_elements(By.CSS_SELECTOR, ".interactive-figure")[index]
                inputs = element.find_elements(By.CSS_SELECTOR, ".vega-bind input, .vega-bind select")
                assert inputs, f"{url}: figure {index} has no control"
                for control, input_ in enumerate(inputs):
                    name = input_.get_attribute("name")
                    label = driver.execute_script("return arguments[0].closest('label').textContent", input_)
                    assert label.strip(), f"{url}: figure {index}, control {name} has no label"
                    before = driver.execute_script(FIGURES_JS)[index]
                    checkbox = input_.get_attribute("type") == "checkbox"
                    old_value = input_.is_selected() if checkbox else input_.get_attribute("value")
                    # A range moves with the arrow keys, a menu with the up and down arrows (back
                    # from its end), a checkbox toggles with the space bar.
                    input_.send_keys(key_that_moves(driver, input_))
                    deadline = time.monotonic() + 5
                    while True:
                        after = driver.execute_script(FIGURES_JS)[index]
                        if after["svg"] != before["svg"] or time.monotonic() > deadline:
                            break
                    assert after["svg"] != before["svg"], f"{url}: figure {index}, control {name}: nothing changed"
                    values = {el.get_attribute("name"): control_value(el) for el in inputs}
                    if checkbox:
                        assert values[name] != old_value, f"{url}: figure {index}, {name} did not toggle"
                    expected = frame_for(figure["spec"], values)["readout"]
                    assert expected in after["texts"], (
                        f"{url}: figure {index} after moving {name} to {values[name]} shows "
                        f"{after['texts']}, not the chapter's frame {expected!r}"
                    )
                    responses.append(driver.execute_async_script(RESPONSE_JS, index, control, old_value))
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, f"{url}: {errors}"
            outside = [u for u in requested_urls(driver) if not u.startswith((server.url, "data:", "blob:"))]
            assert not outside, f"{url}: requests outside localhost: {outside}"
    finally:
        driver.quit()
    slowest, median = max(responses), sorted(responses)[len(responses) // 2]
    print(f"\ninteractive figures ({scheme}): {len(responses)} control moves, slowest redraw "
          f"{slowest:.0f} ms, median {median:.0f} ms")
    assert median < RESPONSE_BUDGET_MS, f"median redraw {median:.0f} ms"
    assert slowest < STALL_MS, f"slowest redraw {slowest:.0f} ms"

"""Every character of every figure of the built book shows in a browser.

Figures are inline SVG whose text stays text, drawn by the reader's browser with
the fonts it has. The site ships no fonts, so the rule is:

- a figure names only generic font families (sans-serif, serif, monospace, as
  `attention.plotting.GENERIC_FAMILIES` lists them), which every browser has;
- a figure's text holds no private-use character (U+E000-U+F8FF, planes 15 and
  16): no browser font has a glyph for one, and the reader would see a box.
"""

from __future__ import annotations

import html
import re

from attention.book.plotting import GENERIC_FAMILIES, is_private_use
from site_helpers import page_paths

SVG = re.compile(r"<svg\b.*?</svg>", re.S)
FONT_FAMILY = re.compile(r"font-family\s*[:=]\s*[\"']?([^;\"]+)")
FONT_SHORTHAND = re.compile(r"[\s;\"]font\s*:")


def figures(site) -> list[tuple[str, int, str]]:
    """(page, index, SVG text with entities decoded) for every inline SVG figure."""
    found = []
    for page in page_paths(site):
        text = page.read_text(encoding="utf-8")
        for i, svg in enumerate(SVG.findall(text)):
            if "<text" in svg:
                found.append((page.relative_to(site).as_posix(), i, html.unescape(svg)))
    return found


def test_figures_hold_only_characters_a_browser_can_draw(built_site):
    found = figures(built_site)
    assert len(found) > 30, len(found)  # nearly every chapter has figures with text
    problems = []
    for page, i, svg in found:
        private = sorted({f"U+{ord(c):04X}" for c in svg if is_private_use(c)})
        if private:
            problems.append(f"{page}, SVG {i}: private-use characters {private}")
        families = {f.strip().strip("'\"") for value in FONT_FAMILY.findall(svg) for f in value.split(",")}
        named = families - set(GENERIC_FAMILIES)
        if named:
            problems.append(f"{page}, SVG {i}: font families the page does not ship: {sorted(named)}")
        if FONT_SHORTHAND.search(svg):
            problems.append(f"{page}, SVG {i}: a `font:` shorthand (name the family with font-family)")
    assert not problems, "\n".join(problems)

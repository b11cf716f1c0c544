"""Matplotlib's SVG as a web page inlines it, in any theme and any browser.

- Ink follows the page: the one reserved ink colour becomes `currentColor`, the page's
  text colour (dark on a light page, light on a dark one).
- Every character shows: text names generic font families only (sans-serif, serif,
  monospace: every browser has them) and holds no private-use character. Matplotlib
  draws `\\mathcal{L}` from a private-use code point of its STIX fonts, which no
  browser font has: it becomes the Unicode script letter (ℒ, U+2112).
- Many figures share a page: ids that nothing references are dropped, the others get a
  prefix of the figure's own, so two figures never clash; no metadata (creator,
  licence); coordinates rounded to 0.01 px, which no screen shows.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET

SVG, XLINK = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG)  # how every SVG tool writes them
ET.register_namespace("xlink", XLINK)
GENERIC_FAMILIES = ("sans-serif", "serif", "monospace")

# Matplotlib's mathtext draws \mathcal{A}..\mathcal{Z} as U+E22D..U+E246 of
# 'STIXNonUnicode' (a private-use area). Unicode has the same letters as
# MATHEMATICAL SCRIPT CAPITAL A..Z, except for eight that were encoded earlier
# in Letterlike Symbols.
_SCRIPT_CAPITALS_ELSEWHERE = {
    "B": 0x212C, "E": 0x2130, "F": 0x2131, "H": 0x210B, "I": 0x2110, "L": 0x2112, "M": 0x2133, "R": 0x211B,
}
_CALLIGRAPHIC_TO_UNICODE = {
    0xE22D + i: _SCRIPT_CAPITALS_ELSEWHERE.get(letter, 0x1D49C + i)
    for i, letter in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}
_FONT_FAMILY = re.compile(r"font-family:\s*([^;\"]+)")
_LONG_NUMBER = re.compile(r"-?\d+\.\d{3,}")
_REFERENCE = re.compile(r"url\(#([^)]+)\)")
PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U0010ffff]")  # the BMP's area, planes 15 and 16


def is_private_use(char: str) -> bool:
    """True for a code point of a private-use area (U+E000-U+F8FF, planes 15 and 16)."""
    if not isinstance(char, str) or len(char) != 1:
        raise TypeError(f"char must be one character, got {char!r}")
    return PRIVATE_USE.match(char) is not None


def _generic_family(match: re.Match) -> str:
    """The generic family closest to a named one ('DejaVu Sans Mono' -> monospace)."""
    names = match.group(1).lower()
    if "mono" in names:
        return "font-family: monospace"
    if "serif" in names.replace("sans-serif", "") and "sans" not in names:
        return "font-family: serif"
    return "font-family: sans-serif"


def _ids_of_its_own(root: ET.Element, prefix: str) -> None:
    """Prefix the ids that something references; drop the others."""
    href = f"{{{XLINK}}}href"
    used = {m for el in root.iter() for value in el.attrib.values() for m in _REFERENCE.findall(value)}
    used |= {el.get(name, "")[1:] for el in root.iter() for name in (href, "href")}
    for element in root.iter():
        for name, value in list(element.attrib.items()):
            if name == "id" and value not in used:
                del element.attrib[name]
            elif name == "id":
                element.set(name, f"{prefix}-{value}")
            elif name in (href, "href") and value.startswith("#"):
                element.set(name, f"#{prefix}-{value[1:]}")
            else:
                value = _REFERENCE.sub(rf"url(#{prefix}-\1)", value)
                element.set(name, _LONG_NUMBER.sub(lambda m: f"{float(m[0]):.2f}", value))


def svg_for_the_web(svg: str, ink: str) -> str:
    """Matplotlib's SVG text, drawn in `ink`, as a page inlines it (see the module's text).

    Raises:
        ValueError: when the text holds a character from a private-use area that has no
            Unicode equivalent here (say which text to change).

    Example:
        >>> svg = ('<svg xmlns="http://www.w3.org/2000/svg"><metadata/><g id="figure_1">'
        ...        '<path d="M 0.123456 1 L 2 3" style="stroke: #010203"/></g></svg>')
        >>> svg_for_the_web(svg, ink="#010203")
        '<svg xmlns="http://www.w3.org/2000/svg"><g><path d="M 0.12 1 L 2 3" style="stroke: currentColor" /></g></svg>'
    """
    svg = _FONT_FAMILY.sub(_generic_family, svg.replace(ink, "currentColor").translate(_CALLIGRAPHIC_TO_UNICODE))
    private = sorted({f"U+{ord(c):04X}" for c in PRIVATE_USE.findall(svg)})  # one pass in C: SVGs are long
    if private:
        raise ValueError(
            f"the figure's text has private-use characters {', '.join(private)}, which no browser"
            " font draws: write those symbols another way (mathtext or Unicode letters)"
        )
    root = ET.fromstring(svg)
    for metadata in root.findall(f"{{{SVG}}}metadata"):
        root.remove(metadata)
    _ids_of_its_own(root, "f" + hashlib.sha256(svg.encode()).hexdigest()[:6])
    return ET.tostring(root, encoding="unicode")

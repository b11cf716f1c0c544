"""Figures as a page inlines them (attention.book.svg): many on one page never clash."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import matplotlib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from attention.book.plotting import BOOK_RC, figure_to_svg, plot_attention_weights  # noqa: E402
from attention.book.svg import is_private_use, svg_for_the_web  # noqa: E402

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def figures() -> list[str]:
    """Two heatmaps with colour bars (clip paths, images) and two plots of one shape."""
    rng = np.random.default_rng(0)
    svgs = [figure_to_svg(plot_attention_weights(rng.dirichlet(np.ones(3), size=2))) for _ in range(2)]
    for _ in range(2):
        with matplotlib.rc_context(BOOK_RC):
            fig, ax = plt.subplots()
            ax.plot(rng.normal(size=5))
            ax.set_title("$\\sqrt{d_k}$")
        svgs.append(figure_to_svg(fig))
    plt.close("all")
    return svgs


def ids_and_references(svg: str) -> tuple[list[str], set[str]]:
    root = ET.fromstring(svg)
    ids = [el.get("id") for el in root.iter() if el.get("id") is not None]
    references = {m for el in root.iter() for value in el.attrib.values() for m in re.findall(r"url\(#([^)]+)\)", value)}
    references |= {el.get(name)[1:] for el in root.iter() for name in (XLINK_HREF, "href") if el.get(name, "").startswith("#")}
    return ids, references


def test_ids_are_kept_only_when_referenced_and_never_clash_between_figures():
    page_ids = []
    for svg in figures():
        ids, references = ids_and_references(svg)
        assert set(ids) == references  # every reference resolves in its own figure; nothing else has an id
        page_ids += ids
    assert page_ids and len(page_ids) == len(set(page_ids))


def test_no_metadata_and_coordinates_to_a_hundredth():
    for svg in figures():
        assert "<metadata" not in svg and "rdf:" not in svg
        assert not re.findall(r"\d+\.\d{3,}", svg)


@pytest.mark.parametrize("ink", ["#010203", "#abcdef"])
def test_only_the_ink_becomes_the_page_colour(ink):
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><path style="fill: {ink}; stroke: #3b82f6"/></svg>'
    assert 'style="fill: currentColor; stroke: #3b82f6"' in svg_for_the_web(svg, ink=ink)


@given(st.characters(codec=None))
def test_the_private_use_areas_are_e000_to_f8ff_and_planes_15_and_16(char):
    code = ord(char)
    assert is_private_use(char) == (0xE000 <= code <= 0xF8FF or 0xF0000 <= code <= 0x10FFFF)


XML_CHARACTERS = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="\ufffe\uffff")


@given(st.text(XML_CHARACTERS, max_size=20))
def test_a_text_is_refused_exactly_when_it_holds_a_private_use_character(text):
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><text>{escape(text)}</text></svg>'
    private = sorted({f"U+{ord(c):04X}" for c in text if 0xE000 <= ord(c) <= 0xF8FF or ord(c) >= 0xF0000})
    if private:
        with pytest.raises(ValueError, match=", ".join(re.escape(code) for code in private)):
            svg_for_the_web(svg, ink="#010203")
    else:
        assert svg_for_the_web(svg, ink="#010203")

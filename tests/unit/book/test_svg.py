"""Figures as a page inlines them (attention.book.svg): many on one page never clash."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from attention.book.plotting import BOOK_RC, figure_to_svg, plot_attention_weights  # noqa: E402
from attention.book.svg import svg_for_the_web  # noqa: E402

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

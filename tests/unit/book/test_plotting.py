"""The book's figure helpers."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from attention.book.plotting import (  # noqa: E402
    BOOK_RC,
    GENERIC_FAMILIES,
    INK,
    figure_to_svg,
    is_private_use,
    plot_attention_weights,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def weights(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).dirichlet(np.ones(shape[-1]), size=shape[:-1])


def heatmaps(fig) -> list:
    return [ax for ax in fig.axes if ax.get_images() and ax.get_label() != "<colorbar>"]


def test_one_map_with_labels_and_a_colour_bar():
    fig = plot_attention_weights(weights(3, 4), ["a", "b", "c"], ["w", "x", "y", "z"])
    (ax,) = heatmaps(fig)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["w", "x", "y", "z"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() == "keys" and ax.get_ylabel() == "queries"
    assert len(fig.axes) == 2
    assert fig.axes[1].get_ylabel() == "attention weight"
    np.testing.assert_allclose(ax.get_images()[0].get_array(), weights(3, 4))


def test_one_panel_per_head_on_a_shared_scale():
    w = weights(5, 2, 3)
    fig = plot_attention_weights(torch.tensor(w), colorbar=False)
    maps = heatmaps(fig)
    assert [ax.get_title() for ax in maps] == [f"head {h}" for h in range(5)]
    assert {ax.get_images()[0].get_clim() for ax in maps} == {(0.0, w.max())}


def test_annotations_print_the_weights():
    fig = plot_attention_weights(np.array([[0.25, 0.75]]), annotate=True)
    assert [t.get_text() for t in heatmaps(fig)[0].texts] == ["0.25", "0.75"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"weights": np.ones(3)}, r"shape \(queries, keys\).*got \(3,\)"),
        ({"weights": np.ones((1, 2, 3, 4))}, r"got \(1, 2, 3, 4\)"),
        ({"weights": np.ones((0, 3))}, r"must not be empty, got shape \(0, 3\)"),
        ({"weights": np.ones((2, 3)), "query_labels": ["a"]}, "got 1 query labels for 2 query"),
        ({"weights": np.ones((2, 3)), "key_labels": ["a", "b"]}, "got 2 key labels for 3 key"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_attention_weights(**kwargs)


def test_svg_ink_follows_the_page_and_has_no_date():
    with matplotlib.rc_context(BOOK_RC):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        ax.set_xlabel("x")
    svg = figure_to_svg(fig)
    assert INK not in svg
    assert "currentColor" in svg
    assert "<dc:date>" not in svg


FIGURE_SCRIPT = """
import hashlib, numpy as np, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from attention.book.plotting import figure_to_svg, plot_attention_weights, use_book_style
use_book_style()
fig = plot_attention_weights(np.random.default_rng(1).dirichlet(np.ones(4), size=3), annotate=True)
line, ax = plt.subplots()
ax.hist(np.random.default_rng(2).normal(size=500), bins=30)
print(hashlib.sha256((figure_to_svg(fig) + figure_to_svg(line)).encode()).hexdigest())
"""


@pytest.mark.slow
def test_figures_are_identical_from_run_to_run():
    digests = {
        subprocess.run([sys.executable, "-c", FIGURE_SCRIPT], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(digests) == 1, digests  # two fresh runs, one SVG


def svg_text_and_fonts(svg: str) -> tuple[str, set[str]]:
    """All the characters of the SVG's text elements, and every font family it names."""
    import re
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    text = "".join(part.strip() for el in root.iter() if el.tag.endswith("}text") for part in el.itertext())
    families = {f.strip().strip("'\"") for value in re.findall(r"font-family:\s*([^;\"]+)", svg) for f in value.split(",")}
    return text, families


def test_calligraphic_letters_become_unicode_and_fonts_are_generic():
    with matplotlib.rc_context(BOOK_RC):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0], label=r"norm of $\partial\mathcal{L}/\partial z$")
        ax.set_xlabel(r"$\mathcal{ABCDEFGHIJKLMNOPQRSTUVWXYZ}$, $\sum_i \alpha_i$, $\sqrt{d_k}$")
        ax.set_ylabel("code", family="monospace")
        ax.legend()
    svg = figure_to_svg(fig)
    text, families = svg_text_and_fonts(svg)
    assert not [hex(ord(c)) for c in text if is_private_use(c)]
    assert not [c for c in svg if is_private_use(c)]
    # ℒ where the legend and the label put \mathcal{L}: twice; and the script alphabet
    assert text.count("\u2112") == 2
    assert "\U0001d49c\u212c\U0001d49e" in text  # script A, B, C
    assert families <= set(GENERIC_FAMILIES) and {"sans-serif", "monospace"} <= families, families


@pytest.mark.filterwarnings("ignore:Glyph 57344:UserWarning")  # matplotlib's: DejaVu Sans has no U+E000
def test_a_private_use_character_is_refused_by_name():
    with matplotlib.rc_context(BOOK_RC):
        fig, ax = plt.subplots()
        ax.set_title("\ue000 marks the spot")
    with pytest.raises(ValueError, match="U\\+E000"):
        figure_to_svg(fig)


def test_private_use_areas():
    assert [is_private_use(c) for c in "\ue000\uf8ff\U000f0000\U0010fffd"] == [True] * 4
    assert not any(is_private_use(c) for c in "aℒ∂\U0001d4d2\uf900\U000effff")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["Agg", None])
def test_a_notebook_shows_its_figures_whatever_mplbackend_says(backend, monkeypatch):
    """A reader's kernel started with MPLBACKEND=Agg still shows the figure inline."""
    import nbformat
    from nbclient import NotebookClient

    if backend is None:
        monkeypatch.delenv("MPLBACKEND", raising=False)
    else:
        monkeypatch.setenv("MPLBACKEND", backend)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "from attention.book.plotting import use_book_style\n"
        "use_book_style()\n"
        "plt.plot([0, 1], [1, 0])\n"
        "plt.show()"
    )])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert [o for o in outputs if "image/svg+xml" in o.get("data", {})], outputs

"""The book's figures: one look, legible on light and dark pages, the same bytes every build.

How the figures stay legible on both themes: every figure has a transparent
background, and all of its "ink" (text, axes, ticks, grid) is drawn in one
reserved colour, `INK`, which `figure_to_svg` rewrites to the SVG keyword
`currentColor`. Inline in a page, the SVG then takes the page's text colour: dark
on the light theme, light on the dark one. Data colours (`COLORS`, the viridis
colour map) are chosen to read on both backgrounds.

How they stay identical from build to build: SVG ids come from a fixed salt (then
from the figure's own content), and the date stamp is left out.

How every character shows in a browser: the text of a figure stays text in the
SVG (`svg.fonttype: none`), drawn by the reader's browser with its own fonts;
`attention.book.svg` names only generic font families and real Unicode characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from attention.book.svg import GENERIC_FAMILIES, is_private_use, svg_for_the_web  # noqa: F401 (the first two: for readers)

INK = "#010203"  # reserved: drawn as currentColor (the page's text colour) in the book
COLORS = ["#3b82f6", "#f97316", "#10b981", "#ef4444", "#a855f7", "#eab308"]
WEIGHTS_CMAP = "viridis"

BOOK_RC: dict[str, Any] = {
    "figure.figsize": (6.4, 3.2),
    "figure.dpi": 100,
    "figure.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.transparent": True,
    "savefig.bbox": "tight",
    "axes.facecolor": "none",
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "axes.titlecolor": INK,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
    "grid.color": INK,
    "grid.alpha": 0.15,
    "text.color": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 2.0,
    # Text is laid out with DejaVu Sans (shipped with matplotlib, so the same on every
    # build machine) and written into the SVG as text, not as glyph outlines: half
    # the bytes. figure_to_svg names only the generic sans-serif family, so every
    # reader sees their own sans-serif font (the site ships none).
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10,
    "image.cmap": WEIGHTS_CMAP,
    "svg.fonttype": "none",
    "svg.hashsalt": "how-attention-evolved",
}


def figure_to_svg(fig: Figure) -> str:
    """Render a figure as SVG text whose ink follows the page's text colour.

    Its text names generic font families only and holds no private-use
    character (`\\mathcal` letters become Unicode script letters), so that a
    browser draws every character with the fonts it has.

    Raises:
        ValueError: when the figure holds a character from a private-use area
            that has no Unicode equivalent here (say which text to change).

    Example:
        >>> fig, ax = plt.subplots()
        >>> _ = ax.set_xlabel(r"norm of $\\partial\\mathcal{L}/\\partial z$")
        >>> svg = figure_to_svg(fig)
        >>> "\\u2112" in svg, any(is_private_use(c) for c in svg)  # ℒ, and nothing private
        (True, False)
        >>> plt.close(fig)
    """
    from io import StringIO

    buffer = StringIO()
    with mpl.rc_context(BOOK_RC):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return svg_for_the_web(buffer.getvalue(), ink=INK)


def use_book_style() -> None:
    """Apply the book's look to every later figure.

    In Jupyter (and in the book's build) figures are then shown inline as SVG made
    by `figure_to_svg`, even in a kernel whose environment says `MPLBACKEND=Agg`;
    elsewhere only the matplotlib settings change.

    Examples:
        >>> use_book_style()
        >>> mpl.rcParams["svg.hashsalt"] == BOOK_RC["svg.hashsalt"]  # the same SVG ids every build
        True
    """
    mpl.rcParams.update(BOOK_RC)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is installed with the book
        return
    shell = get_ipython()
    if shell is None:
        return
    # A kernel started with MPLBACKEND=Agg (common on servers) draws into nothing:
    # plt.show() would show no figure. In a notebook, figures go inline.
    if getattr(shell, "kernel", None) is not None and mpl.get_backend().lower() == "agg":
        plt.switch_backend("module://matplotlib_inline.backend_inline")
    # Importing the inline backend makes it register its own (PNG) formatters now,
    # so that ours, set after it, are the ones that stay.
    import matplotlib_inline.backend_inline  # noqa: F401

    formatters = shell.display_formatter.formatters
    formatters["image/png"].pop(Figure, None)
    formatters["image/svg+xml"].for_type(Figure, figure_to_svg)


def _to_numpy(weights: Any) -> np.ndarray:
    if hasattr(weights, "detach"):  # a torch tensor
        weights = weights.detach().cpu().double().numpy()
    return np.asarray(weights, dtype=float)


def _check_labels(labels: Sequence[str] | None, count: int, what: str) -> None:
    if labels is not None and len(labels) != count:
        raise ValueError(f"got {len(labels)} {what} labels for {count} {what}")


def plot_attention_weights(
    weights: Any,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    *,
    titles: Sequence[str] | None = None,
    colorbar: bool = True,
    annotate: bool = False,
    vmax: float | None = None,
    columns: int = 4,
    cell_size: float = 0.42,
) -> Figure:
    """Draw attention weights as a heatmap: one row per query, one column per key.

    Args:
        weights: array or tensor of shape `(queries, keys)`, or `(heads, queries, keys)`
            for one panel per head (all panels share one colour scale).
        query_labels: `queries` strings for the rows (tokens), optional.
        key_labels: `keys` strings for the columns, optional.
        titles: one title per panel, optional; heads get "head 0", "head 1", ... by default.
        colorbar: add a colour bar labelled "attention weight".
        annotate: print each weight in its cell (for small maps).
        vmax: top of the colour scale; the largest weight by default.
        columns: panels per row when drawing several heads.
        cell_size: size of one cell in inches, so that small maps stay small.

    Returns:
        The matplotlib Figure.

    Examples:
        >>> fig = plot_attention_weights(np.full((2, 3), 1 / 3), ["a", "b"], ["x", "y", "z"])
        >>> len(fig.axes)  # the heatmap and its colour bar
        2
    """
    w = _to_numpy(weights)
    if w.ndim not in (2, 3):
        raise ValueError(
            f"weights must have shape (queries, keys) or (heads, queries, keys), got {w.shape}"
        )
    panels = w[None] if w.ndim == 2 else w  # (heads, queries, keys)
    heads, num_queries, num_keys = panels.shape
    if 0 in panels.shape:
        raise ValueError(f"weights must not be empty, got shape {w.shape}")
    _check_labels(query_labels, num_queries, "query")
    _check_labels(key_labels, num_keys, "key")
    if titles is None:
        titles = [f"head {h}" for h in range(heads)] if w.ndim == 3 else [""]
    _check_labels(titles, heads, "panel title")

    ncols = min(heads, columns)
    nrows = -(-heads // ncols)
    panel_w = max(1.6, cell_size * num_keys + 0.8)
    panel_h = max(1.4, cell_size * num_queries + 0.6)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel_w * ncols + (1.0 if colorbar else 0.0), panel_h * nrows),
        squeeze=False,
        layout="constrained",
    )
    top = float(panels.max()) if vmax is None else vmax
    image = None
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            ax.set_visible(False)
            continue
        image = ax.imshow(panels[h], cmap=WEIGHTS_CMAP, vmin=0.0, vmax=top, aspect="equal")
        ax.grid(False)
        ax.set_title(titles[h])
        ax.set_xticks(range(num_keys), key_labels if key_labels is not None else None)
        ax.set_yticks(range(num_queries), query_labels if query_labels is not None else None)
        if key_labels is not None and max(map(len, key_labels)) > 2:
            ax.tick_params(axis="x", labelrotation=90)
        ax.set_xlabel("keys")
        if h % ncols == 0:
            ax.set_ylabel("queries")
        if annotate:
            for (i, j), value in np.ndenumerate(panels[h]):
                shade = "black" if value > 0.6 * top else "white"
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=shade)
    if colorbar and image is not None:
        fig.colorbar(image, ax=axes, shrink=0.9, label="attention weight")
    return fig

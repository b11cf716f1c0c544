"""Interactive figures: a Vega-Lite chart whose every frame the chapter computed.

A chapter computes every state the reader can reach (a grid of temperatures, of
head indices, of steps...) with the package, puts the numbers in a chart made
with Altair, and shows it with `interactive_figure`. One convention makes every
figure checkable: the chart's data is a list of frames, each frame has a field
named after each control (the value of the control that shows it) and a
`readout`, a line of text the chart draws and that says which frame is shown
(the browser test moves each control and compares the drawn readout with the
frame's). The page then holds:

- the chart's Vega-Lite specification, data included, which the site's
  `javascripts/interactive-figures.js` draws with the Vega bundle served from the
  site itself: the browser only picks a frame and draws it, it never computes
  attention;
- a static SVG of the chart's default state, drawn at build time by vl-convert,
  which is what a reader without JavaScript, a printout and the PDF show.

Ink (text, axes, grid) is `currentColor`, as in the matplotlib figures, so a chart
takes the page's text colour in the light and the dark theme. In Jupyter the same
output also carries the Vega-Lite MIME type, so JupyterLab draws it interactively.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from attention.book.plotting import COLORS

INK = "currentColor"

# The book's look for Vega-Lite: transparent, ink in the page's text colour, the
# book's data colours, the page's font.
BOOK_CONFIG: dict[str, Any] = {
    "background": None,
    "font": "sans-serif",
    "view": {"stroke": None},
    "range": {"category": COLORS},
    "mark": {"color": COLORS[0]},
    "axis": {
        "labelColor": INK, "titleColor": INK, "domainColor": INK, "tickColor": INK,
        "gridColor": INK, "gridOpacity": 0.15, "labelFontSize": 11, "titleFontSize": 12,
        "titleFontWeight": "normal",
    },
    "legend": {"labelColor": INK, "titleColor": INK, "labelFontSize": 11, "titleFontSize": 12,
               "gradientStrokeColor": INK},
    "header": {"labelColor": INK, "titleColor": INK},
    "title": {"color": INK, "subtitleColor": INK, "fontSize": 13, "fontWeight": "normal"},
    "text": {"color": INK},
}


class InteractiveFigure:
    """A chart ready to display: its specification and a static drawing of its default state."""

    def __init__(self, spec: dict[str, Any], static_svg: str, description: str) -> None:
        self.spec = spec
        self.static_svg = static_svg
        self.description = description

    def __repr__(self) -> str:  # the same text on every run (no memory address)
        return f"InteractiveFigure({self.description!r})"

    def to_html(self) -> str:
        """The page's markup: the static SVG, and the specification the site's script draws."""
        # JSON in a script element: no attribute escaping, and search indexes no script.
        spec = json.dumps(self.spec, separators=(",", ":")).replace("</", "<\\/")
        label = html.escape(self.description, quote=True)
        svg = self.static_svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
        # The live chart draws the same gradients and clip paths under the same ids; a
        # reference to one would find the static drawing's first, hidden once the chart is
        # live, and a colour legend would lose its gradient. So the static ids get a prefix.
        svg = re.sub(r'(\bid="|url\(#|href="#)', r"\1static-", svg)
        return (
            f'<div class="interactive-figure">'
            f'<script type="application/json" class="interactive-figure-spec">{spec}</script>'
            f'<div class="interactive-figure-static">{svg}</div></div>'
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self.to_html(), "application/vnd.vegalite.v6+json": self.spec}


def controls(spec: dict[str, Any]) -> list[str]:
    """The names of the parameters a reader sets with a control (those bound to an input)."""
    params = list(spec.get("params", []))
    for layer in spec.get("layer", []) + spec.get("hconcat", []) + spec.get("vconcat", []):
        params += layer.get("params", [])
    return [p["name"] for p in params if "bind" in p]


def frames(spec: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The chart's frames: its inline data (Altair may move it to `datasets`)."""
    data = spec.get("data") or next((layer["data"] for layer in spec.get("layer", []) if "data" in layer), {})
    if "name" in data:
        return spec.get("datasets", {}).get(data["name"])
    return data.get("values")


def book_look(config: dict[str, Any]) -> dict[str, Any]:
    """The book's config with `config`'s entries over it, entry by entry: Altair writes its own
    `view` into every chart, which must not undo the book's (no frame around the view)."""
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in BOOK_CONFIG.items()}
    for key, value in config.items():
        both_dicts = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = {**merged[key], **value} if both_dicts else value
    return merged


def _check_frames(spec: dict[str, Any]) -> None:
    names = controls(spec)
    frames_ = frames(spec)
    if not names:
        raise ValueError("an interactive figure needs a parameter bound to a control (alt.param(bind=...))")
    if not isinstance(frames_, list) or not frames_:
        raise ValueError("an interactive figure's chart needs its frames as inline data (alt.Data(values=...))")
    for index, frame in enumerate(frames_):
        missing = [key for key in [*names, "readout"] if key not in frame]
        if missing:
            raise ValueError(f"frame {index} has no field {missing} (controls: {names})")


def interactive_figure(chart: Any, description: str) -> InteractiveFigure:
    """An Altair chart as an interactive figure for the book.

    Args:
        chart: an Altair chart (or a Vega-Lite specification as a dict) whose data
            holds every frame a control can reach.
        description: one sentence for screen readers: what the figure shows.

    Returns:
        An `InteractiveFigure`; as the last expression of a cell it is displayed.

    Raises:
        TypeError: if `chart` is neither an Altair chart nor a dict.
        ValueError: if `description` is empty, or the chart breaks the convention
            above (no control, no inline frames, a frame without a field named
            after each control or without a `readout`).

    Examples:
        >>> import altair as alt
        >>> frames = [{"k": k, "y": k * k, "readout": f"k = {k}"} for k in range(3)]
        >>> k = alt.param(name="k", value=0, bind=alt.binding_range(min=0, max=2, step=1))
        >>> chart = (alt.Chart(alt.Data(values=frames)).mark_point().encode(x="k:Q", y="y:Q")
        ...          .transform_filter("datum.k == k").add_params(k))
        >>> figure = interactive_figure(chart, "One point, picked by k.")
        >>> figure.to_html().startswith('<div class="interactive-figure"')
        True
    """
    if hasattr(chart, "to_dict"):
        spec = chart.to_dict()
    elif isinstance(chart, dict):
        spec = dict(chart)
    else:
        raise TypeError(f"chart must be an Altair chart or a Vega-Lite dict, got {type(chart).__name__}")
    if not isinstance(description, str) or not description.strip():
        raise ValueError("description must say in a sentence what the figure shows")
    _check_frames(spec)
    spec["config"] = book_look(spec.get("config", {}))
    spec["description"] = description
    spec.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
    import vl_convert  # imported here: only chapters with interactive figures pay for it

    # The static drawing needs a fixed width where the live chart fills its container. It
    # is one image (role="img" and the description, in `to_html`), so its marks need no
    # ARIA attributes of their own: without them it weighs about half as much.
    static_spec = {**spec, "config": {**spec["config"], "aria": False}}
    if spec.get("width") == "container":
        static_spec["width"] = 560
    static_svg = vl_convert.vegalite_to_svg(static_spec)
    return InteractiveFigure(spec, static_svg, description)

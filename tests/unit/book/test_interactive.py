"""Interactive figures (attention.book.interactive): the frames convention, the spec, the page's markup."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import altair as alt
import pytest

from attention.book.interactive import BOOK_CONFIG, INK, InteractiveFigure, controls, frames, interactive_figure
from attention.book.plotting import COLORS

FRAMES = [{"k": k, "j": k % 2, "y": k * k, "readout": f"k = {k}"} for k in range(3)]
DESCRIPTION = 'Squares of k; "k < 3" & </script> in words.'  # quotes and markup must survive


def param(name: str = "k", bound: bool = True):
    bind = alt.binding_range(min=0, max=2, step=1) if name == "k" else alt.binding_checkbox()
    return alt.param(name=name, value=0, bind=bind) if bound else alt.param(name=name, value=0)


def chart(data=None, *params, **properties) -> alt.Chart:
    """A tiny chart of the frames (a point picked by k), as the module's docstring builds one."""
    data = alt.Data(values=FRAMES) if data is None else data
    made = alt.Chart(data).mark_point().encode(x="k:Q", y="y:Q").transform_filter("datum.k == k")
    return made.add_params(*(params or [param()])).properties(**{"width": 40, "height": 30, **properties})


def without(field: str, index: int) -> list[dict]:
    return [{key: v for key, v in f.items() if i != index or key != field} for i, f in enumerate(FRAMES)]


@pytest.fixture(scope="module")
def figure() -> InteractiveFigure:
    return interactive_figure(chart(), DESCRIPTION)


@pytest.mark.parametrize(
    "make, description, error, message",
    [
        pytest.param(lambda: chart(None, param(bound=False)), "d", ValueError, r"needs a parameter bound to a control",
                     id="no-control-bound"),
        pytest.param(lambda: chart(alt.UrlData("frames.json")), "d", ValueError, r"frames as inline data",
                     id="data-from-a-url"),
        pytest.param(lambda: chart(alt.Data(values=[])), "d", ValueError, r"frames as inline data", id="no-frames"),
        pytest.param(lambda: chart(alt.Data(values=without("k", 1))), "d", ValueError,
                     r"frame 1 has no field \['k'\] \(controls: \['k'\]\)", id="frame-without-the-control"),
        pytest.param(lambda: chart(alt.Data(values=without("j", 2)), param("k"), param("j")), "d", ValueError,
                     r"frame 2 has no field \['j'\]", id="frame-without-the-second-control"),
        pytest.param(lambda: chart(alt.Data(values=without("readout", 0))), "d", ValueError,
                     r"frame 0 has no field \['readout'\]", id="frame-without-readout"),
        pytest.param(chart, "", ValueError, r"description must say", id="empty-description"),
        pytest.param(chart, " \n\t", ValueError, r"description must say", id="blank-description"),
        pytest.param(lambda: FRAMES, "d", TypeError, r"Altair chart or a Vega-Lite dict, got list",
                     id="chart-is-a-list"),
        pytest.param(lambda: json.dumps(chart().to_dict()), "d", TypeError, r"got str", id="chart-is-json-text"),
    ],
)
def test_a_figure_that_breaks_the_convention_is_refused(make, description, error, message):
    with pytest.raises(error, match=message):
        interactive_figure(make(), description)


def test_the_spec_carries_the_description_and_the_books_ink(figure):
    assert figure.description == figure.spec["description"] == DESCRIPTION
    assert figure.spec["config"]["axis"]["labelColor"] == INK == "currentColor"
    assert figure.spec["config"]["range"] == {"category": COLORS}
    assert frames(figure.spec) == FRAMES and controls(figure.spec) == ["k"]


def test_an_altair_chart_gets_the_whole_book_look(figure):
    config = figure.spec["config"]  # each of the book's entries, or the book's within Altair's own
    lost = {k: v for k, v in BOOK_CONFIG.items()
            if config[k] != v and not (isinstance(v, dict) and v.items() <= config[k].items())}
    assert not lost
    colours = set(re.findall(r'(?:fill|stroke)="([^"]+)"', figure.static_svg))
    assert colours <= {INK, "none", "transparent", *COLORS}


def test_no_ink_of_vegas_own_in_a_heatmap_with_a_gradient_legend():
    """Grey frames and outlines (Vega's #ddd, #888...) would not follow the page's theme."""
    made = alt.Chart(alt.Data(values=FRAMES)).mark_rect().encode(x="k:O", color="y:Q")
    svg = interactive_figure(made.add_params(param()).properties(width=40, height=30), "d").static_svg
    inks = set(re.findall(r'stroke="([^"]+)"', svg))
    assert inks <= {INK, "none", "transparent"}, inks


def test_the_callers_config_wins_over_the_books():
    spec = {**chart().to_dict(), "config": {"font": "serif", "axis": {"labelColor": "red"}}}
    config = interactive_figure(spec, "d").spec["config"]
    assert config["font"] == "serif" and config["axis"] == {**BOOK_CONFIG["axis"], "labelColor": "red"}
    assert config["legend"] == BOOK_CONFIG["legend"]  # what the caller leaves is the book's
    assert interactive_figure(chart().configure(font="monospace"), "d").spec["config"]["font"] == "monospace"


@pytest.mark.parametrize("width, drawn", [("container", "560"), (40, "40")])
def test_only_the_static_drawing_gets_a_fixed_width(width, drawn):
    figure = interactive_figure(chart(width=width), "d")
    assert figure.spec["width"] == width
    svg = ET.fromstring(figure.static_svg)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("width") == drawn
    assert svg.findall(".//{http://www.w3.org/2000/svg}path")  # vl-convert drew the marks


class Markup(HTMLParser):
    """The elements of a piece of HTML: (depth, tag, attributes), and the text of each script."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements, self.scripts, self.open = [], [], []
        self.feed(text)
        self.close()
        assert not self.open, f"unclosed {self.open}"

    def handle_startendtag(self, tag, attrs):
        self.elements.append((len(self.open), tag, dict(attrs)))

    def handle_starttag(self, tag, attrs):
        self.handle_startendtag(tag, attrs)
        self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open.pop() == tag

    def handle_data(self, data):
        if self.open[-1:] == ["script"]:
            self.scripts.append(data)


def test_the_html_is_one_element_named_by_the_description(figure):
    markup = Markup(figure.to_html())
    assert [(tag, attrs.get("class")) for depth, tag, attrs in markup.elements if depth == 0] == [
        ("div", "interactive-figure")]
    images = [(tag, attrs) for _, tag, attrs in markup.elements if attrs.get("role") == "img"]
    assert [(tag, attrs["aria-label"]) for tag, attrs in images] == [("svg", DESCRIPTION)]


def test_the_spec_in_the_html_round_trips(figure):
    (script,) = Markup(figure.to_html()).scripts
    assert json.loads(script) == figure.spec


def test_the_static_ids_get_a_prefix_and_still_resolve():
    made = alt.Chart(alt.Data(values=FRAMES)).mark_rect(clip=True).encode(x="k:O", color="y:Q")
    html = interactive_figure(made.add_params(param()).properties(width=40, height=30), "d").to_html()
    ids = re.findall(r'\bid="([^"]+)"', html)
    references = re.findall(r'(?:url\(#|href="#)([^)"]+)', html)
    assert ids and all(i.startswith("static-") for i in ids)  # a clip path and a legend's gradient
    assert references and set(references) <= set(ids)


def test_jupyter_gets_html_and_vega_lite_and_a_stable_repr(figure):
    bundle = figure._repr_mimebundle_()
    assert bundle == {"text/html": figure.to_html(), "application/vnd.vegalite.v6+json": figure.spec}
    assert "/vega-lite/v6." in figure.spec["$schema"]  # the MIME type names the spec's version
    again = interactive_figure(chart(), DESCRIPTION)
    assert repr(figure) == repr(again) == f"InteractiveFigure({DESCRIPTION!r})"


@pytest.mark.parametrize(
    "make, names",
    [
        pytest.param(lambda: chart().to_dict(), ["k"], id="one-control"),
        pytest.param(lambda: chart(None, param("k"), param("j")).to_dict(), ["k", "j"], id="two-controls"),
        pytest.param(lambda: chart(None, alt.selection_point(name="pick"), param("k")).to_dict(), ["k"],
                     id="a-selection-is-no-control"),
        pytest.param(lambda: {"layer": [{"params": [{"name": "k", "bind": {"input": "range"}}]}, {}]}, ["k"],
                     id="control-in-a-layer"),
        pytest.param(lambda: {"params": [{"name": "k", "bind": {"input": "range"}}],
                              "hconcat": [{}, {"params": [{"name": "j", "bind": {"input": "checkbox"}}]}],
                              "vconcat": [{"params": [{"name": "h", "bind": {"input": "select"}}]}]},
                     ["k", "j", "h"], id="controls-in-concats"),
    ],
)
def test_controls_are_the_bound_parameters(make, names):
    assert controls(make()) == names


def layers(data) -> alt.LayerChart:
    points = alt.Chart(data).mark_point().encode(x="k:Q")
    return alt.layer(points, points.mark_text().encode(text="readout:N")).add_params(param())


@pytest.mark.parametrize(
    "make, found",
    [
        pytest.param(lambda: chart().to_dict(), FRAMES, id="inline-values"),
        pytest.param(lambda: chart(alt.InlineData(values=FRAMES), param("k"), param("j")).to_dict(), FRAMES,
                     id="two-controls-moved-to-datasets"),
        pytest.param(lambda: layers(alt.Data(values=FRAMES)).to_dict(), FRAMES, id="in-the-layers"),
        pytest.param(lambda: layers(alt.InlineData(values=FRAMES)).to_dict(), FRAMES, id="in-the-layers-by-name"),
        pytest.param(lambda: {"data": {"name": "gone"}, "datasets": {}}, None, id="named-but-missing"),
        pytest.param(lambda: {"mark": "point"}, None, id="no-data"),
    ],
)
def test_frames_are_the_inline_data_wherever_altair_put_it(make, found):
    assert frames(make()) == found


def test_the_chart_given_is_not_changed():
    spec = {**chart().to_dict(), "config": {"font": "serif"}}
    spec_before = copy.deepcopy(spec)
    made = chart(width="container")
    made_before = made.to_dict()
    interactive_figure(spec, "d")
    interactive_figure(made, "d")
    assert spec == spec_before and made.to_dict() == made_before


def test_a_figure_shares_no_part_of_the_books_config():
    figure = interactive_figure(chart(), "d")
    figure.spec["config"]["axis"]["labelColor"] = "red"  # a chapter changing one figure
    assert BOOK_CONFIG["axis"]["labelColor"] == INK

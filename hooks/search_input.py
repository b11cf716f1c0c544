"""Hand the search plugin a lighter copy of each chapter page, then put the page back.

The search plugin parses every page's HTML to index its text, and on a chapter
page most of that HTML carries no text worth a second copy: each code cell is
there twice (highlighted, one <span> per token, and as plain text for the copy
button), and the figures and icons are inline <svg> elements that are left out
of the index anyway. Parsing them took most of a build's time once the chapters
were cached. The search plugin sees the page without the highlighted code and the
<svg> elements; it indexes the same words, the code once, from the plain copy.
"""

from __future__ import annotations

import re

from mkdocs.plugins import CombinedEvent, event_priority

_HIGHLIGHTED_CODE = re.compile(r'<div class="highlight-ipynb[^"]*"><pre>.*?</pre></div>', re.DOTALL)
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_full_content: dict[str, str] = {}


@event_priority(100)  # before the search plugin (priority 0)
def _lighten(context, page, config, nav):
    if page.file.src_uri.endswith(".py"):
        _full_content[page.file.src_uri] = page.content
        page.content = _SVG.sub("", _HIGHLIGHTED_CODE.sub("", page.content))
    return context


@event_priority(-100)  # after the search plugin, before the page's template is rendered
def _restore(context, page, config, nav):
    if page.file.src_uri in _full_content:
        page.content = _full_content.pop(page.file.src_uri)
    return context


on_page_context = CombinedEvent(_lighten, _restore)

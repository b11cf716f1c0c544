"""The API reference page as a reader sees it: examples are code, one statement a line.

The docstrings' `Examples:` sections hold doctests (`>>>` lines). Rendered as Markdown
they would turn into nested block quotes with every line run together; griffe parses
an `Examples:` section as code. These tests read the built page.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINE_LENGTH = 80  # mkdocstrings' `line_length` in mkdocs.yml

SECTION = re.compile(r'<span class="doc-section-title">(?P<title>[^<]+):</span></p>\s*(?P<body>.*?)(?=<p><span class="doc-section-title">|<div class="doc doc-|\Z)', re.S)
CODE_BLOCK = re.compile(r'^<div class="highlight"><pre>.*?<code>(?P<code>.*?)</code></pre></div>', re.S)
SIGNATURE = re.compile(r'<div class="doc-signature highlight"><pre>.*?<code>(?P<code>.*?)</code></pre></div>', re.S)


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


@pytest.fixture(scope="module")
def reference_page(built_site: Path) -> str:
    return (built_site / "reference" / "api" / "index.html").read_text(encoding="utf-8")


def docstring_example_count() -> int:
    """How many `Examples:` sections the documented package's docstrings hold."""
    return sum(
        len(re.findall(r"^\s+Examples:\s*$", path.read_text(encoding="utf-8"), re.M))
        for path in (ROOT / "attention").rglob("*.py")
    )


def test_no_block_quote_is_left(reference_page: str) -> None:
    assert "<blockquote" not in reference_page


def test_every_example_is_a_code_block_with_a_line_per_statement(reference_page: str) -> None:
    examples = [m["body"] for m in SECTION.finditer(reference_page) if m["title"] == "Examples"]
    # Most of the package's examples are on the page (a few belong to private helpers).
    assert len(examples) >= docstring_example_count() // 2
    for body in examples:
        block = CODE_BLOCK.match(body.strip())
        assert block, f"an Examples section that is not a code block: {text(body)[:200]!r}"
        lines = text(block["code"]).splitlines()
        statements = [line for line in lines if line.startswith(">>> ")]
        assert statements, f"an example with no statement: {lines[:3]}"
        # One statement a line: no second prompt inside a line.
        assert all(">>> " not in line[4:] for line in statements), lines


def test_an_example_shows_its_output_under_its_statement(reference_page: str) -> None:
    start = re.search(r'id="attention\.[\w.]*naive_softmax"', reference_page).start()
    body = next(m["body"] for m in SECTION.finditer(reference_page, start) if m["title"] == "Examples")
    lines = text(CODE_BLOCK.match(body.strip())["code"]).splitlines()
    assert lines[0].startswith(">>> naive_softmax([1.0, 2.0, 3.0])")
    assert lines[1] == "array([0.09 , 0.245, 0.665])"


def test_a_returned_tuple_is_one_row_of_the_returns_table(reference_page: str) -> None:
    tables = [m["body"] for m in SECTION.finditer(reference_page) if m["title"] == "Returns"]
    assert tables
    for table in tables:
        assert table.count('class="doc-section-item"') == 1, text(table)[:300]


def test_long_signatures_are_wrapped(reference_page: str) -> None:
    signatures = [text(m["code"]) for m in SIGNATURE.finditer(reference_page)]
    assert any(len(s.splitlines()) > 3 for s in signatures)  # some were long enough to wrap
    for signature in signatures:
        assert max(map(len, signature.splitlines())) <= LINE_LENGTH, signature

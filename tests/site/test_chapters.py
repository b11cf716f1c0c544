"""Every chapter runs from top to bottom as the notebook a reader downloads,
and draws the same figures as the build did.

The run here and the build's run (the executed notebook executor/chapters.py keeps
in .cache/chapters/) are two independent executions of the chapter, so comparing
their figures byte for byte shows that a chapter's figures are the same on every
build. Cells tagged `measured` (timings and
memory measured on the machine) are left out of that comparison.
"""

from __future__ import annotations

import re
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from site_helpers import CHAPTERS, ROOT, chapter_page

sys.path.insert(0, str(ROOT))
from executor.chapters import executed_path, inputs_hash  # noqa: E402  (the build's first stage)


def figures(notebook: nbformat.NotebookNode, *, measured: bool) -> list[str]:
    """The SVG figures of the notebook's code cells, as a page inlines them."""
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or ("measured" in cell.metadata.get("tags", [])) != measured:
            continue
        for output in cell.get("outputs", []):
            svg = output.get("data", {}).get("image/svg+xml")
            if svg:
                svg = svg if isinstance(svg, str) else "".join(svg)
                found.append(svg)
    return found


CAPTION = re.compile(r"\s*\*\*Figure \d+\.\d+\.\*\*")
IMAGES = {"image/svg+xml", "image/png", "image/jpeg"}


def captions_without_figures(notebook: nbformat.NotebookNode) -> list[str]:
    """Each figure caption (`**Figure N.M.**` opening a Markdown cell, or a `remove-input`
    cell's Markdown output) with no image drawn since the previous caption."""
    found, drawn = [], False  # drawn: an image since the previous caption
    for number, cell in enumerate(notebook.cells, 1):
        outputs = [out.get("data", {}) for out in cell.get("outputs", [])]
        drawn = drawn or any(IMAGES & data.keys() for data in outputs)
        texts = [cell.source] if cell.cell_type == "markdown" else []
        if "remove-input" in cell.metadata.get("tags", []):
            texts += [data["text/markdown"] for data in outputs if "text/markdown" in data]
        for text in filter(CAPTION.match, texts):
            found += [] if drawn else [f"cell {number}: {text.strip()[:40]}"]
            drawn = False
    return found


def test_a_caption_with_no_figure_is_found():
    figure = nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg/>"})
    cells = [nbformat.v4.new_code_cell(outputs=[figure]), nbformat.v4.new_markdown_cell("**Figure 1.1.** Drawn."),
             nbformat.v4.new_code_cell(outputs=[]), nbformat.v4.new_markdown_cell("**Figure 1.2.** Not drawn.")]
    assert captions_without_figures(nbformat.v4.new_notebook(cells=cells)) == ["cell 4: **Figure 1.2.** Not drawn."]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_as_downloaded_and_draws_the_built_figures(chapter, built_site, tmp_path):
    page = chapter_page(built_site, chapter)
    notebook = nbformat.read(page.parent / f"{chapter.stem}.ipynb", as_version=4)  # the download
    # Run it away from the repository, as a reader would, with the python3 kernel.
    # execute() raises CellExecutionError at the first cell that fails; what it cannot
    # tell is a cell that never ran (skipped by a tag or a kernel that stopped early).
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    not_run = [i for i, c in enumerate(notebook.cells)
               if c.cell_type == "code" and c.source.strip() and c.get("execution_count") is None]
    assert not not_run, f"{chapter.name}: code cells {not_run} did not run"

    built = nbformat.read(executed_path(chapter, inputs_hash()), as_version=4)
    assert not captions_without_figures(built), f"{chapter.name}: captions with no figure"
    fixed, measured = figures(notebook, measured=False), figures(notebook, measured=True)
    assert len(fixed) == len(figures(built, measured=False)), f"{chapter.name}: a different number of figures"
    assert len(measured) == len(figures(built, measured=True)), f"{chapter.name}: a different number of figures"
    missing = [i for i, (a, b) in enumerate(zip(fixed, figures(built, measured=False))) if a != b]
    assert not missing, f"{chapter.name}: figures {missing} differ from the build's"
    shown = page.read_text(encoding="utf-8").count(' role="img" data-search-exclude=""')
    assert shown == len(fixed) + len(measured), f"{chapter.name}: the page shows {shown} figures"

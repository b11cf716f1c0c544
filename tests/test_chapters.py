"""Every chapter runs from top to bottom as the notebook a reader downloads."""

from __future__ import annotations

import sys

import nbformat
import pytest
from nbclient import NotebookClient

from site_helpers import CHAPTERS, ROOT

sys.path.insert(0, str(ROOT / "hooks"))
from notebooks import write_notebook  # noqa: E402  (the hook that makes the downloads)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_as_downloaded(chapter, tmp_path):
    notebook_path = tmp_path / f"{chapter.stem}.ipynb"
    write_notebook(chapter, notebook_path)
    notebook = nbformat.read(notebook_path, as_version=4)
    # Run it away from the repository, as a reader would, with the python3 kernel.
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors

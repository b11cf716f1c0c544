"""The code a reader copies from a chapter page runs as it is.

For every chapter, the code behind the page's copy buttons is taken from the
built HTML, in page order, and run as one script in a fresh interpreter, away
from the repository. Cells whose input the page hides (the ones that write
computed numbers into the prose) are not on the page, so they are not run:
the code a reader sees must not depend on them.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys

import pytest

from site_helpers import CHAPTERS, chapter_page

_COPY_TEXT = re.compile(r'<div class="clipboard-copy-txt" id="cell-\d+">(.*?)</div>', re.DOTALL)


def copied_code(page_html: str) -> list[str]:
    """The text each copy button of the page copies, in page order."""
    return [html.unescape(code) for code in _COPY_TEXT.findall(page_html)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_code_copied_from_the_page_runs(chapter, built_site, tmp_path):
    page = chapter_page(built_site, chapter).read_text(encoding="utf-8")
    cells = copied_code(page)
    assert cells, f"{chapter.name}: no code on the page"
    script = tmp_path / f"{chapter.stem}.py"
    script.write_text("\n\n".join(cells) + "\n", encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore::UserWarning"}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{chapter.name}: the copied code fails:\n{result.stderr[-3000:]}"

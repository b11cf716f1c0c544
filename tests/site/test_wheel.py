"""A reader holding only a downloaded chapter can run it: the site serves the `attention`
package as a wheel, and the chapter runs with that wheel installed in a fresh
environment, away from the repository.

The fresh environment reaches the shared environment's packages (NumPy, PyTorch,
matplotlib, Jupyter) through a .pth file instead of downloading them; the book's own
package there is installed in editable mode through a .pth file of its own, which a
path added this way does not run, so `attention` can only come from the wheel.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

from site_helpers import CHAPTERS, chapter_page

RUN_CHAPTER = """
import sys, nbformat, attention
from nbclient import NotebookClient
assert attention.__file__.startswith(sys.prefix), attention.__file__
notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
images = sum("image/svg+xml" in out.get("data", {}) for cell in notebook.cells for out in cell.get("outputs", []))
print("figures:", images)
"""


def test_a_downloaded_chapter_runs_with_the_wheel_from_the_site(built_site, tmp_path):
    chapter = CHAPTERS[0]
    page = chapter_page(built_site, chapter)
    wheel_links = re.findall(r'href="([^"]+\.whl)"', page.read_text(encoding="utf-8"))
    assert len(wheel_links) == 1, wheel_links
    wheel = (page.parent / wheel_links[0]).resolve()
    assert wheel.is_file() and wheel.name.startswith("attention-")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND")}
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                   env=env, check=True, capture_output=True)

    notebook = tmp_path / "chapter.ipynb"
    notebook.write_bytes((page.parent / f"{chapter.stem}.ipynb").read_bytes())
    result = subprocess.run([python, "-c", RUN_CHAPTER, str(notebook)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split("figures:")[1]) > 0

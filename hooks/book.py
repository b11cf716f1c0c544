"""What the book adds to the site besides its chapter pages, each kept in .cache/ until it changes.

- The `attention` package as a wheel, `assets/attention-<version>-py3-none-any.whl`
  (setuptools, offline): `{{ wheel }}` in a Markdown page is its address from there,
  `{{ wheel_name }}` its file name.
- `{{ clone }}`: the clone command when `repo_url` is set (the publishing workflow sets
  BOOK_REPO_URL), else nothing.
- Vega, Vega-Lite and Vega-Embed for the interactive figures, as the one script
  `assets/vega/vega-bundle.js` that vl-convert-python writes out (nothing third-party
  is committed); docs/javascripts/interactive-figures.js loads it where needed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import vl_convert
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / ".cache" / "wheel"


def build_wheel() -> Path:
    digest = hashlib.sha256()
    package = [p for p in sorted((ROOT / "attention").rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    for path in package + [ROOT / "pyproject.toml"]:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    folder = WHEELS / digest.hexdigest()[:16]
    if not folder.is_dir():
        with tempfile.TemporaryDirectory() as tmp:  # a copy: no build/ folder left behind
            for name in ("attention", "pyproject.toml", "README.md"):
                copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
                copy(ROOT / name, Path(tmp) / name)
            wheel = Path(tmp) / "dist"
            subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_wheel({str(wheel)!r})"],
                           cwd=tmp, check=True, capture_output=True)
            shutil.copytree(wheel, folder)
    return next(folder.glob("*.whl"))


def vega_bundle() -> Path:
    bundle = ROOT / ".cache" / "vega" / f"vega-bundle-{vl_convert.__version__}.js"
    if not bundle.exists():
        bundle.parent.mkdir(parents=True, exist_ok=True)
        bundle.write_text(vl_convert.javascript_bundle(), encoding="utf-8")
    return bundle


@event_priority(-100)  # after hooks/execute.py has set the chapters running: made meanwhile
def on_files(files, config):
    wheel = build_wheel()
    config.extra["wheel"] = f"assets/{wheel.name}"  # for hooks/chapter_pages.py and templates
    files.append(File.generated(config, config.extra["wheel"], abs_src_path=str(wheel)))
    files.append(File.generated(config, "assets/vega/vega-bundle.js", abs_src_path=str(vega_bundle())))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    clone = f"```bash\ngit clone {config.repo_url}\n```" if config.repo_url else ""
    wheel = get_relative_url(config.extra["wheel"], page.file.src_uri)  # a link Markdown resolves
    return (markdown.replace("{{ clone }}", clone).replace("{{ wheel_name }}", Path(wheel).name)
            .replace("{{ wheel }}", wheel))

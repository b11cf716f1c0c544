"""Serve MathJax 2.7 from the site itself (from the `jupyter-server-mathjax` package;
nothing third-party is committed), so equations render with no network. Every page
loads it through `extra_javascript`, configured by docs/javascripts/mathjax-config.js;
mkdocs-jupyter adds no loader while its `custom_mathjax_url` is empty (the default).
"""

from __future__ import annotations

from pathlib import Path

import jupyter_server_mathjax
from mkdocs.structure.files import File, Files

MATHJAX_DIR = Path(jupyter_server_mathjax.__file__).parent / "static"
SITE_PREFIX = "assets/mathjax"
# Parts MathJax never loads with our configuration (other languages, the
# accessibility explorer) are left out to keep the site small.
SKIPPED = ("localization/", "extensions/a11y/", "jax/output/SVG/", "unpacked/")

def on_files(files: Files, config) -> Files:
    for path in sorted(MATHJAX_DIR.rglob("*")):
        rel = path.relative_to(MATHJAX_DIR).as_posix()
        if path.is_file() and not rel.startswith(SKIPPED):
            files.append(File.generated(config, f"{SITE_PREFIX}/{rel}", abs_src_path=str(path)))
    return files


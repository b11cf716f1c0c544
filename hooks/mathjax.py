"""Serve MathJax from the site itself, so equations render with no network.

MathJax 2.7 comes from the `jupyter-server-mathjax` package (installed by
requirements.txt); nothing third-party is committed. Every page loads it through
`extra_javascript` in mkdocs.yml, configured by docs/javascripts/mathjax-config.js.
mkdocs-jupyter adds no loader of its own while its `custom_mathjax_url` is empty
(the default), so notebook pages use the same local copy as Markdown pages.
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


"""Serve Vega, Vega-Lite and Vega-Embed from the site, for the interactive figures.

The bundle comes from the `vl-convert-python` package (installed by requirements.txt),
which ships the three libraries and writes them out as one script; nothing
third-party is committed. It is made once per vl-convert version and kept under
.cache/. docs/javascripts/interactive-figures.js loads it on pages that have a figure.
"""

from __future__ import annotations

from pathlib import Path

import vl_convert
from mkdocs.structure.files import File, Files

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "vega"
SITE_PATH = "assets/vega/vega-bundle.js"


def on_files(files: Files, config) -> Files:
    bundle = CACHE / f"vega-bundle-{vl_convert.__version__}.js"
    if not bundle.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        bundle.write_text(vl_convert.javascript_bundle(), encoding="utf-8")
    files.append(File.generated(config, SITE_PATH, abs_src_path=str(bundle)))
    return files

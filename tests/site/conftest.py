from __future__ import annotations

from pathlib import Path

import pytest

from site_helpers import build_site


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The book built once with `mkdocs build --strict`, shared by the site tests."""
    site_dir = tmp_path_factory.mktemp("site")
    result = build_site(site_dir)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"
    return site_dir

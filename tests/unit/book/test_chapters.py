"""The table of which chapter teaches which version, against the chapters themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from attention.book.chapters import VERSION_CHAPTERS
from attention.versions.overview import VERSIONS

CHAPTERS = Path(__file__).resolve().parents[3] / "docs" / "chapters"


def test_every_version_has_a_chapter():
    assert sorted(VERSION_CHAPTERS) == [v.number for v in VERSIONS]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_each_version_links_its_own_chapter(version):
    chapter = CHAPTERS / VERSION_CHAPTERS[version.number]
    assert chapter.is_file()
    title = next(line for line in chapter.read_text().splitlines() if line.startswith("# # "))
    assert title.startswith(f"# # Version {version.number}:"), title

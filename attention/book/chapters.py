"""Which chapter of the book teaches each version of attention.

The attention code does not know the book's file names; the site does. This
table joins the two: version number (as in `attention.versions.overview`) to
the chapter's source file in `docs/chapters/`.

Examples:
    >>> VERSION_CHAPTERS[0]
    '03_additive_attention.py'
"""

from __future__ import annotations

VERSION_CHAPTERS: dict[int, str] = {
    0: "03_additive_attention.py",
    1: "04_dot_product_attention.py",
    2: "05_scaled_dot_product_attention.py",
    3: "06_many_queries.py",
    4: "07_cross_attention.py",
    5: "08_self_attention.py",
    6: "10_multi_head_attention.py",
}

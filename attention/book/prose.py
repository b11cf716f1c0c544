"""Numbers written for the book's prose (the Markdown that chapters compute at build time)."""

from __future__ import annotations

import math


def tex_sci(x: float, digits: int = 1) -> str:
    """A number in scientific notation as TeX, for use inside `$...$`.

    Raises:
        ValueError: if `x` is NaN or infinite (it has no such notation).

    Examples:
        >>> tex_sci(4.2e-18)
        '4.2 \\\\times 10^{-18}'
    """
    if not math.isfinite(x):
        raise ValueError(f"x must be a finite number to write in scientific notation, got {x}")
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    return f"{mantissa} \\times 10^{{{int(exponent)}}}"

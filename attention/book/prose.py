"""Numbers written for the book's prose (the Markdown that chapters compute at build time)."""

from __future__ import annotations


def tex_sci(x: float, digits: int = 1) -> str:
    """A number in scientific notation as TeX, for use inside `$...$`.

    Examples:
        >>> tex_sci(4.2e-18)
        '4.2 \\\\times 10^{-18}'
    """
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    return f"{mantissa} \\times 10^{{{int(exponent)}}}"

"""Numbers written for the prose (attention.book.prose.tex_sci): TeX that reads back as the number."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.book.prose import tex_sci

TEX = re.compile(r"(-?\d+(?:\.\d+)?) \\times 10\^\{(-?\d+)\}")


@pytest.mark.parametrize(
    "x, digits, tex",
    [
        pytest.param(4.2e-18, 1, r"4.2 \times 10^{-18}", id="docstring-example"),
        pytest.param(-4.2e-18, 1, r"-4.2 \times 10^{-18}", id="negative"),
        pytest.param(0.0, 1, r"0.0 \times 10^{0}", id="zero"),
        pytest.param(1000, 1, r"1.0 \times 10^{3}", id="an-int"),
        pytest.param(9.96e-5, 1, r"1.0 \times 10^{-4}", id="rounding-carries-into-the-exponent"),
        pytest.param(-9.96e5, 1, r"-1.0 \times 10^{6}", id="negative-carry-up"),
        pytest.param(9.6e-5, 0, r"1 \times 10^{-4}", id="digits-0-carries-and-has-no-point"),
        pytest.param(0.5, 0, r"5 \times 10^{-1}", id="digits-0"),
        pytest.param(12345.678, 3, r"1.235 \times 10^{4}", id="digits-3"),
        pytest.param(np.finfo(np.float64).max, 1, r"1.8 \times 10^{308}", id="largest-float64"),
        pytest.param(5e-324, 1, r"4.9 \times 10^{-324}", id="smallest-subnormal"),
        pytest.param(np.float32(3e-5), 2, r"3.00 \times 10^{-5}", id="a-numpy-float32"),
        pytest.param(2.5e20, 1, r"2.5 \times 10^{20}", id="exponent-has-no-plus-or-leading-zero"),
    ],
)
def test_tex_sci(x, digits, tex):
    assert tex_sci(x, digits) == tex


def read_back(tex: str) -> tuple[str, int]:
    match = TEX.fullmatch(tex)
    assert match, f"not mantissa \\times 10^{{exponent}}: {tex!r}"
    return match[1], int(match[2])


@settings(max_examples=300, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False), digits=st.integers(0, 8))
def test_the_tex_reads_back_as_the_number_within_its_last_digit(x, digits):
    mantissa, exponent = read_back(tex_sci(x, digits))
    assert len(mantissa.lstrip("-").partition(".")[2]) == digits
    value = Fraction(mantissa) * Fraction(10) ** exponent
    assert x == 0 or 1 <= abs(Fraction(mantissa)) < 10  # normalised: one digit before the point
    assert abs(value - Fraction(x)) <= Fraction(1, 2) * Fraction(10) ** (exponent - digits)


@pytest.mark.parametrize("x", [float("nan"), float("inf"), -float("inf")])
def test_a_number_with_no_scientific_notation_is_refused_by_name(x):
    with pytest.raises(ValueError, match=f"x must be a finite number.*got {x}"):
        tex_sci(x)

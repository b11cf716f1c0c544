"""Tests for the sinusoidal positional encoding."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import PositionalEncoding, sinusoidal_encoding
from attention.transformer.positional_encoding import offset_matrix


def test_table_matches_the_formula_entry_by_entry():
    table = sinusoidal_encoding(50, 16, dtype=torch.float64)
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-14)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-14)


def test_every_row_has_norm_sqrt_half_d_model():
    table = sinusoidal_encoding(100, 32, dtype=torch.float64)
    torch.testing.assert_close(table.norm(dim=1), torch.full((100,), 4.0, dtype=torch.float64))


@settings(max_examples=25, deadline=None)
@given(half_d=st.integers(1, 16), offset=st.integers(-20, 20))
def test_a_fixed_offset_is_one_linear_map_for_every_position(half_d, offset):
    d_model = 2 * half_d
    table = sinusoidal_encoding(60, d_model, dtype=torch.float64)
    start, stop = max(0, -offset), min(60, 60 - offset)
    shifted = table[start:stop] @ offset_matrix(offset, d_model).T
    torch.testing.assert_close(shifted, table[start + offset : stop + offset], atol=1e-10, rtol=0)


def test_similarity_depends_only_on_the_distance():
    table = sinusoidal_encoding(80, 64, dtype=torch.float64)
    for distance in (1, 5, 13):
        dots = (table[:-distance] * table[distance:]).sum(dim=1)  # (80 - distance,)
        torch.testing.assert_close(dots, dots[:1].expand_as(dots), atol=1e-10, rtol=0)


def test_module_adds_the_table_and_keeps_it_as_a_buffer():
    encode = PositionalEncoding(d_model=8, max_len=20)
    x = torch.randn(3, 11, 8)
    torch.testing.assert_close(encode(x), x + sinusoidal_encoding(11, 8))
    assert "encoding" in dict(encode.named_buffers())
    assert not list(encode.parameters())
    assert encode(x.double()).dtype == torch.float64


def test_the_inputs_order_now_matters():
    """Adding positions breaks permutation equivariance: the point of the encoding."""
    encode = PositionalEncoding(d_model=8, max_len=10)
    x = torch.randn(1, 5, 8)
    perm = torch.tensor([4, 2, 0, 1, 3])
    assert not torch.allclose(encode(x[:, perm]), encode(x)[:, perm])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: PositionalEncoding(d_model=7, max_len=10), "d_model must be even"),
        (lambda: sinusoidal_encoding(10, 5), "d_model=5"),
        (lambda: PositionalEncoding(8, 4)(torch.zeros(1, 6, 8)), "x has 6 positions but max_len of the positional table=4"),
        (lambda: PositionalEncoding(8, 10)(torch.zeros(1, 6, 4)), r"d_model=8\), got \(1, 6, 4\)"),
    ],
)
def test_bad_input_gets_a_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()

"""Position schemes: what each adds where, the positions they accept, and the scheme for a name."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.modern.alibi import ALiBiPositions
from attention.modern.position_schemes import (
    LearnedPositions,
    PositionScheme,
    SinusoidalPositions,
    check_positions,
    make_position_scheme,
)
from attention.modern.rotary import RotaryPositions


@pytest.mark.parametrize(
    ("positions", "error", "words"),
    [
        ([0, 1, 2], TypeError, "positions must be a torch.Tensor of positions, got list"),
        (torch.zeros(2, 3, dtype=torch.long), ValueError, r"1-D integer tensor \(T,\), got shape \(2, 3\)"),
        (torch.arange(3.0), TypeError, "dtype torch.float32"),
        (torch.ones(3, dtype=torch.bool), TypeError, "dtype torch.bool"),
        (torch.tensor([0, -2, 1]), ValueError, "positions must be non-negative, got -2"),
    ],
    ids=["a list", "2-D", "float", "bool", "negative"],
)
def test_bad_positions_are_named(positions, error, words):
    with pytest.raises(error, match=words):
        check_positions("positions", positions)


@pytest.mark.parametrize("positions", [torch.arange(4), torch.arange(4, dtype=torch.int32),
                                       torch.zeros(0, dtype=torch.long)], ids=["int64", "int32", "empty"])
def test_good_positions_come_back_as_they_are(positions):
    assert check_positions("positions", positions) is positions


def test_the_base_scheme_adds_nothing_anywhere():
    scheme, x, positions = PositionScheme(), torch.randn(2, 3, 4), torch.arange(3)
    assert scheme.embed(x, positions) is x
    assert scheme.rotate(x[:, None], positions).equal(x[:, None])
    assert scheme.bias(positions, positions) is None
    assert scheme.max_len is None


def test_learned_positions_add_their_row_and_refuse_a_position_past_max_len():
    torch.manual_seed(0)
    scheme = LearnedPositions(max_len=5, d_model=4)
    x, positions = torch.randn(2, 3, 4), torch.tensor([4, 0, 2])  # any order, as a cache sees them
    torch.testing.assert_close(scheme.embed(x, positions), x + scheme.table.weight[positions])
    with pytest.raises(ValueError, match=r"position 5 has no learned vector: max_len=5 \(positions 0 to 4\)"):
        scheme.embed(x, torch.tensor([3, 4, 5]))
    with pytest.raises(ValueError, match="max_len must be"):
        LearnedPositions(max_len=-1, d_model=4)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=1, max_size=6), st.sampled_from([2, 4, 8]),
       st.floats(0.01, 2.0))
def test_sinusoidal_positions_add_scale_times_sin_and_cos(positions, d_model, scale):
    """Entry 2i of position p is scale * sin(p / base^(2i/d)), entry 2i + 1 the cosine (float64 here)."""
    scheme = SinusoidalPositions(d_model, scale=scale)
    x = torch.zeros(1, len(positions), d_model, dtype=torch.float64)
    got = scheme.embed(x, torch.tensor(positions))[0]  # (T, d_model)
    for row, p in zip(got, positions):
        for i in range(d_model // 2):
            angle = p / 10000.0 ** (2 * i / d_model)
            assert math.isclose(row[2 * i], scale * math.sin(angle), abs_tol=1e-9)
            assert math.isclose(row[2 * i + 1], scale * math.cos(angle), abs_tol=1e-9)


def test_sinusoidal_positions_take_no_positions():
    x = torch.randn(1, 0, 4)
    assert SinusoidalPositions(4).embed(x, torch.zeros(0, dtype=torch.long)) is x


@pytest.mark.parametrize(
    ("name", "kind"),
    [("none", PositionScheme), ("learned", LearnedPositions), ("sinusoidal", SinusoidalPositions),
     ("rope", RotaryPositions), ("alibi", ALiBiPositions)],
)
def test_each_name_makes_its_scheme(name, kind):
    scheme = make_position_scheme(name, d_model=16, num_heads=4, max_len=32)
    assert type(scheme) is kind


def test_a_scheme_is_passed_through_and_a_bad_name_is_refused():
    mine = SinusoidalPositions(8)
    assert make_position_scheme(mine, d_model=16, num_heads=4, max_len=None) is mine
    with pytest.raises(ValueError, match=r"positions must be 'none', 'learned'.* got 'relative'"):
        make_position_scheme("relative", d_model=16, num_heads=4, max_len=32)
    with pytest.raises(ValueError, match="learned positions need max_len"):
        make_position_scheme("learned", d_model=16, num_heads=4, max_len=None)

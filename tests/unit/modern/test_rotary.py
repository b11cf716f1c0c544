"""Tests for rotary position embeddings (RoPE)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.modern.rotary import RotaryPositions, apply_rotary, rotary_frequencies


def rotary_by_complex_numbers(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """The independent reference: pair (x_2i, x_2i+1) is the complex number x_2i + i x_2i+1,
    multiplied by exp(i p theta_i), in float64."""
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    turn = torch.polar(torch.ones(len(positions), d // 2, dtype=torch.float64),
                       positions.double()[:, None] * theta)  # (T, d/2), |turn| = 1
    z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(z * turn).reshape(x.shape)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), half=st.integers(1, 8), length=st.integers(1, 6),
       first=st.integers(0, 5000))
def test_rotation_is_complex_multiplication(seed, half, length, first):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, length, 2 * half, generator=generator, dtype=torch.float64)
    positions = torch.arange(first, first + length)
    torch.testing.assert_close(apply_rotary(x, positions), rotary_by_complex_numbers(x, positions))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(0, 300), n=st.integers(0, 300),
       shift=st.integers(0, 10_000))
def test_scores_depend_only_on_the_offset(seed, m, n, shift):
    """q at m and k at n score what q at m + s and k at n + s score, for every shift s."""
    generator = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 1, 16, generator=generator, dtype=torch.float64)
    score = apply_rotary(q, torch.tensor([m])) @ apply_rotary(k, torch.tensor([n])).T
    shifted = apply_rotary(q, torch.tensor([m + shift])) @ apply_rotary(k, torch.tensor([n + shift])).T
    torch.testing.assert_close(shifted, score, atol=1e-9, rtol=1e-9)


def test_rotation_keeps_lengths_and_position_zero_is_the_identity():
    x = torch.randn(4, 10, 8, dtype=torch.float64)
    rotated = apply_rotary(x, torch.arange(10) * 37)
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    assert torch.equal(apply_rotary(x[:, :1], torch.tensor([0])), x[:, :1])


def test_the_rotation_is_not_a_shift_invariant_of_the_vectors_themselves():
    """The vectors do change with position (absolute), only their dot products do not (relative)."""
    x = torch.randn(1, 8)
    assert not torch.allclose(apply_rotary(x, torch.tensor([3])), apply_rotary(x, torch.tensor([4])))


def test_frequencies_are_those_of_the_sinusoidal_encoding():
    from attention.transformer.positional_encoding import frequencies

    torch.testing.assert_close(rotary_frequencies(12), frequencies(12))


def test_scheme_rotates_queries_and_keys_only():
    scheme = RotaryPositions(d_head=4)
    x = torch.randn(1, 3, 4)
    assert torch.equal(scheme.embed(x, torch.arange(3)), x)
    assert scheme.bias(torch.arange(3), torch.arange(3)) is None
    assert torch.equal(scheme.rotate(x[None], torch.arange(3)), apply_rotary(x[None], torch.arange(3)))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"d_head must be even and positive, got 5"):
        rotary_frequencies(5)
    with pytest.raises(ValueError, match=r"T = len\(positions\) = 3, got \(2, 4\)"):
        apply_rotary(torch.zeros(2, 4), torch.arange(3))
    with pytest.raises(TypeError, match=r"positions must be a 1-D integer tensor \(T,\), got dtype torch.float32"):
        apply_rotary(torch.zeros(2, 4), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"positions must be non-negative, got -1"):
        apply_rotary(torch.zeros(2, 4), torch.tensor([-1, 0]))
    with pytest.raises(TypeError, match=r"x must be floating point"):
        apply_rotary(torch.zeros(2, 4, dtype=torch.long), torch.arange(2))

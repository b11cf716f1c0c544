"""Tests for ALiBi, attention with linear biases."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.modern.alibi import ALiBiPositions, alibi_bias, alibi_slopes
from attention.modern.causal_self_attention import CausalSelfAttention


@pytest.mark.parametrize("heads", [1, 2, 4, 8, 16, 32])
def test_slopes_of_a_power_of_two_are_geometric_from_2_to_the_minus_8_over_h(heads):
    slopes = alibi_slopes(heads)
    expected = torch.tensor([2.0 ** (-8.0 * i / heads) for i in range(1, heads + 1)], dtype=torch.float64)
    torch.testing.assert_close(slopes, expected)
    assert slopes[-1] == 2.0**-8


@pytest.mark.parametrize("heads", [3, 5, 6, 12])
def test_other_head_counts_interleave_the_slopes_of_twice_the_power_below(heads):
    below = 2 ** (heads.bit_length() - 1)
    slopes = alibi_slopes(heads).tolist()
    assert slopes[:below] == alibi_slopes(below).tolist()
    assert slopes[below:] == alibi_slopes(2 * below).tolist()[0::2][: heads - below]
    assert len(set(slopes)) == heads


@settings(max_examples=30, deadline=None)
@given(heads=st.integers(1, 8), first=st.integers(0, 1000), length=st.integers(1, 7))
def test_bias_is_minus_slope_times_distance(heads, first, length):
    positions = torch.arange(first, first + length)
    bias = alibi_bias(alibi_slopes(heads), positions, positions)
    for h, m in enumerate(alibi_slopes(heads).tolist()):
        for i in range(length):
            for j in range(length):
                assert bias[h, i, j].item() == pytest.approx(-m * abs(i - j), abs=1e-12)


@pytest.mark.parametrize("need_weights", [True, False])
def test_attention_with_alibi_is_sdpa_with_the_bias_as_a_float_mask(need_weights):
    """The reference: PyTorch's attention given the bias, -inf above the diagonal, as attn_mask."""
    torch.manual_seed(0)
    layer = CausalSelfAttention(d_model=16, num_heads=4, num_kv_heads=4).double()
    scheme = ALiBiPositions(4).double()
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    positions = torch.arange(9)
    output, _ = layer(x, positions, scheme=scheme, need_weights=need_weights)

    q, k, v = (w(x).view(2, 9, 4, 4).transpose(1, 2) for w in (layer.w_q, layer.w_k, layer.w_v))
    slopes = torch.tensor([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8], dtype=torch.float64)
    distance = (positions[:, None] - positions[None, :]).double()  # i - j
    float_mask = -slopes[:, None, None] * distance  # (heads, T, T)
    float_mask = float_mask.masked_fill(distance < 0, float("-inf"))
    heads = F.scaled_dot_product_attention(q, k, v, attn_mask=float_mask)
    torch.testing.assert_close(output, layer.w_o(heads.transpose(1, 2).reshape(2, 9, 16)))


def test_a_steeper_head_looks_nearer():
    """On equal scores, the weight of a key falls off as exp(-m * distance)."""
    positions = torch.arange(20)
    bias = alibi_bias(alibi_slopes(4), positions[-1:], positions)  # (heads, 1, T)
    weights = torch.softmax(bias[:, 0], dim=-1)  # (heads, T)
    mean_distance = (weights * (19 - positions)).sum(-1)
    assert (mean_distance.diff() > 0).all()  # head 0 steepest: the nearest mean


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"num_heads must be positive, got 0"):
        alibi_slopes(0)
    with pytest.raises(TypeError, match=r"num_heads must be an integer"):
        alibi_slopes(2.0)
    with pytest.raises(ValueError, match=r"slopes must be a 1-D tensor"):
        alibi_bias(torch.ones(2, 2), torch.arange(2), torch.arange(2))
    with pytest.raises(ValueError, match=r"key_positions must be a 1-D integer tensor"):
        alibi_bias(torch.ones(2), torch.arange(2), torch.arange(4).view(2, 2))

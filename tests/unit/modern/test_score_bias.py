"""Tests for attention with a score bias and shared key/value heads."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.modern.score_bias import biased_attention


def reference(q, k, v, mask, bias):
    """float64 formula, written with loops over heads: softmax(q k / sqrt(d) + b) v, masked."""
    group = q.shape[1] // k.shape[1]
    outputs = []
    for h in range(q.shape[1]):
        scores = q[:, h] @ k[:, h // group].transpose(-2, -1) / math.sqrt(q.shape[-1]) + bias[h]
        scores = scores.masked_fill(~mask, float("-inf"))
        outputs.append(torch.softmax(scores, dim=-1) @ v[:, h // group])
    return torch.stack(outputs, dim=1)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kv_heads=st.sampled_from([1, 2, 4]), tq=st.integers(1, 6),
       extra=st.integers(0, 4))
def test_both_paths_match_the_formula(seed, kv_heads, tq, extra):
    generator = torch.Generator().manual_seed(seed)
    tk = tq + extra
    q = torch.randn(2, 4, tq, 8, generator=generator, dtype=torch.float64)
    k, v = (torch.randn(2, kv_heads, tk, 8, generator=generator, dtype=torch.float64) for _ in range(2))
    bias = torch.randn(4, tq, tk, generator=generator, dtype=torch.float64)
    mask = torch.rand(tq, tk, generator=generator) < 0.7
    mask[:, 0] = True  # every query sees a key
    expected = reference(q, k, v, mask, bias)
    explicit, weights = biased_attention(q, k, v, mask, bias)
    fused, none = biased_attention(q, k, v, mask, bias, need_weights=False)
    torch.testing.assert_close(explicit, expected)
    torch.testing.assert_close(fused, expected)
    assert none is None and torch.equal(weights.masked_select(~mask), torch.zeros((~mask).sum() * 8, dtype=torch.float64))


def test_fused_path_is_sdpa_with_the_float_mask():
    q, k, v = torch.randn(3, 1, 2, 5, 4).unbind(0)
    bias = torch.randn(2, 5, 5)
    output, _ = biased_attention(q, k, v, bias=bias, need_weights=False)
    torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, attn_mask=bias))


@pytest.mark.parametrize("need_weights", [True, False])
def test_a_query_with_no_key_gets_zeros_not_nan(need_weights):
    q, k, v = torch.randn(3, 1, 2, 3, 4).unbind(0)
    mask = torch.tensor([[True, False, False], [False, False, False], [True, True, True]])
    output, _ = biased_attention(q, k, v, mask, torch.zeros(3, 3), need_weights=need_weights)
    assert not output.isnan().any()
    assert torch.equal(output[:, :, 1], torch.zeros(1, 2, 4))


def test_bad_shapes_are_named():
    q = torch.randn(1, 4, 3, 8)
    with pytest.raises(ValueError, match=r"query has 4 heads, which must be a multiple of the key's 3"):
        biased_attention(q, torch.randn(1, 3, 3, 8), torch.randn(1, 3, 3, 8))
    with pytest.raises(ValueError, match=r"key must have shape \(batch, heads, positions, d_head\), got \(3, 8\)"):
        biased_attention(q, torch.randn(3, 8), torch.randn(3, 8))
    with pytest.raises(ValueError, match=r"key has 3 positions but value has 2"):
        biased_attention(q, torch.randn(1, 1, 3, 8), torch.randn(1, 1, 2, 8))
    with pytest.raises(TypeError, match=r"value must be floating point"):
        biased_attention(q, q, q.long())


def test_a_bias_of_another_float_dtype_is_taken_in_the_queries_dtype_on_both_paths():
    """A float64 bias (alibi_bias of alibi_slopes, say) with float32 queries, as the fused path always did."""
    q, k, v = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)
    bias = -torch.arange(3.0, dtype=torch.float64)
    slow, weights = biased_attention(q, k, v, bias=bias)
    fast, _ = biased_attention(q, k, v, bias=bias, need_weights=False)
    assert slow.dtype == weights.dtype == torch.float32
    torch.testing.assert_close(slow, fast, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(slow, biased_attention(q, k, v, bias=bias.float())[0])

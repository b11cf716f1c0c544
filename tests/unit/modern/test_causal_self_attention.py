"""Tests for the attention layer of `attention.GPT`: projections, positions, pattern and cache."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from attention.fast.kv_cache import KVCache
from attention.modern.causal_self_attention import CausalSelfAttention
from attention.modern.rotary import RotaryPositions
from attention.modern.sliding_window import RollingKVCache, SlidingWindowPattern


def test_attention_is_causal_sdpa_with_shared_key_value_heads():
    """An independent reference: PyTorch's fused attention with is_causal and enable_gqa."""
    torch.manual_seed(0)
    layer = CausalSelfAttention(d_model=16, num_heads=4, num_kv_heads=2).double()
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    q = layer.w_q(x).view(3, 7, 4, 4).transpose(1, 2)
    k = layer.w_k(x).view(3, 7, 2, 4).transpose(1, 2)
    v = layer.w_v(x).view(3, 7, 2, 4).transpose(1, 2)
    heads = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    reference = layer.w_o(heads.transpose(1, 2).reshape(3, 7, 16))
    for need_weights in (True, False):
        output, weights = layer(x, torch.arange(7), need_weights=need_weights)
        torch.testing.assert_close(output, reference)
    assert weights is None  # the fused path keeps no weights


def test_the_attention_layer_names_bad_input():
    layer = CausalSelfAttention(16, 4, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, positions, d_model=16\), got \(2, 5, 8\)"):
        layer(torch.zeros(2, 5, 8), torch.arange(5))
    with pytest.raises(ValueError, match=r"positions has 4 entries for the 5 positions of x"):
        layer(torch.zeros(2, 5, 16), torch.arange(4))
    with pytest.raises(TypeError, match=r"x must be floating point"):
        layer(torch.zeros(2, 5, 16, dtype=torch.long), torch.arange(5))


def test_a_bad_pattern_leaves_the_cache_as_it_was():
    """The mask is made and checked before the new keys go into the cache."""
    layer, cache = CausalSelfAttention(8, 2, 1), KVCache(1, 1, 8, 4)
    for need_weights in (True, False):
        with pytest.raises(TypeError, match="mask must be boolean"):
            layer(torch.randn(1, 3, 8), torch.arange(3), cache=cache, need_weights=need_weights,
                  pattern=lambda q, k: torch.ones(len(q), len(k)))
        assert len(cache) == 0


@pytest.mark.parametrize("pattern, make_cache", [
    (None, lambda: KVCache(2, 2, 9, 4, dtype=torch.float64)),
    (SlidingWindowPattern(window=3, num_sinks=1), lambda: RollingKVCache(2, 2, 4, window=3, num_sinks=1, dtype=torch.float64)),
])
def test_steps_through_a_cache_give_the_full_pass(pattern, make_cache):
    torch.manual_seed(0)
    layer = CausalSelfAttention(d_model=16, num_heads=4, num_kv_heads=2).double()
    scheme = RotaryPositions(d_head=4)
    x = torch.randn(2, 9, 16, dtype=torch.float64)  # (batch, T, d_model)
    full, _ = layer(x, torch.arange(9), scheme=scheme, pattern=pattern)
    cache = make_cache()
    steps = [layer(x[:, :4], torch.arange(4), scheme=scheme, pattern=pattern, cache=cache)[0]]
    steps += [layer(x[:, t:t + 1], torch.arange(t, t + 1), scheme=scheme, pattern=pattern, cache=cache)[0]
              for t in range(4, 9)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full)

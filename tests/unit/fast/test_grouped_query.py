"""Tests for grouped-query attention, against PyTorch's enable_gqa and against multi-head attention."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import GroupedQueryAttention, KVCache, MultiHeadAttention, causal_mask, padding_mask
from attention.fast.grouped_query import grouped_query_attention

SETTINGS = settings(max_examples=30, deadline=None)


@SETTINGS
@given(
    num_kv_heads=st.integers(1, 3), group=st.integers(1, 3), num_queries=st.integers(1, 5),
    data=st.data(), mask_kind=st.sampled_from(["none", "padding", "causal"]),
    need_weights=st.booleans(), seed=st.integers(0, 2**32 - 1),
)
def test_equals_pytorch_enable_gqa(num_kv_heads, group, num_queries, data, mask_kind, need_weights, seed):
    num_keys = data.draw(st.integers(num_queries, 6))
    generator = torch.Generator().manual_seed(seed)
    num_heads, batch = num_kv_heads * group, 2
    query = torch.randn(batch, num_heads, num_queries, 3, generator=generator, dtype=torch.float64)
    key = torch.randn(batch, num_kv_heads, num_keys, 3, generator=generator, dtype=torch.float64)
    value = torch.randn(batch, num_kv_heads, num_keys, 2, generator=generator, dtype=torch.float64)
    mask = {
        "none": None,
        "padding": padding_mask([num_keys, 1], num_keys)[:, None],  # (batch, 1, 1, Tk)
        "causal": causal_mask(num_queries, num_keys),  # (Tq, Tk)
    }[mask_kind]
    output, weights = grouped_query_attention(query, key, value, mask, need_weights=need_weights)
    expected = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, enable_gqa=True)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-10)
    if need_weights:
        assert weights.shape == (batch, num_heads, num_queries, num_keys)
        repeated_key = key.repeat_interleave(group, dim=1)  # (batch, heads, Tk, d): head i uses kv head i // group
        scores = query @ repeated_key.transpose(-2, -1) / 3**0.5
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        torch.testing.assert_close(weights, torch.softmax(scores, dim=-1), rtol=0, atol=1e-10)
    else:
        assert weights is None


def multi_head_with_repeated_kv_heads(gqa: GroupedQueryAttention) -> MultiHeadAttention:
    """The MultiHeadAttention whose every key/value head is a copy of the GQA head its group shares."""
    group = gqa.num_heads // gqa.num_kv_heads
    mha = MultiHeadAttention(gqa.d_model, gqa.num_heads).to(gqa.w_q.weight.dtype)
    with torch.no_grad():
        for ours, theirs in ((mha.w_q, gqa.w_q), (mha.w_o, gqa.w_o)):
            ours.weight.copy_(theirs.weight)
            ours.bias.copy_(theirs.bias)
        for ours, theirs in ((mha.w_k, gqa.w_k), (mha.w_v, gqa.w_v)):
            weight = theirs.weight.unflatten(0, (gqa.num_kv_heads, gqa.d_head))  # (kv_heads, d_head, d_model)
            ours.weight.copy_(weight.repeat_interleave(group, dim=0).flatten(0, 1))  # (d_model, d_model)
            bias = theirs.bias.unflatten(0, (gqa.num_kv_heads, gqa.d_head))  # (kv_heads, d_head)
            ours.bias.copy_(bias.repeat_interleave(group, dim=0).flatten())  # (d_model,)
    return mha


def make_gqa(d_model: int = 12, num_heads: int = 6, num_kv_heads: int = 2) -> GroupedQueryAttention:
    torch.manual_seed(0)
    module = GroupedQueryAttention(d_model, num_heads, num_kv_heads).double().eval()
    for parameter in module.parameters():  # biases start at 0: make them matter
        torch.nn.init.normal_(parameter)
    return module


@pytest.mark.parametrize("num_kv_heads", [1, 2, 3, 6])
@pytest.mark.parametrize("need_weights", [True, False])
def test_equals_multi_head_attention_with_repeated_key_value_heads(num_kv_heads, need_weights):
    gqa = make_gqa(num_kv_heads=num_kv_heads)
    mha = multi_head_with_repeated_kv_heads(gqa)
    generator = torch.Generator().manual_seed(1)
    query = torch.randn(3, 4, 12, generator=generator, dtype=torch.float64)
    key = torch.randn(3, 5, 12, generator=generator, dtype=torch.float64)
    mask = padding_mask([5, 2, 3], 5) & causal_mask(4, 5)  # (batch, Tq, Tk)
    output, weights = gqa(query, key, key, mask, need_weights=need_weights)
    expected, expected_weights = mha(query, key, key, mask, need_weights=need_weights)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-10)
    if need_weights:
        torch.testing.assert_close(weights, expected_weights, rtol=0, atol=1e-10)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("prefill", [1, 3])
def test_decoding_with_a_cache_equals_causal_attention_over_everything(need_weights, prefill):
    """A prompt of `prefill` positions, then one at a time: the queries are fewer than the keys,
    so the causal mask must be aligned to the lower right."""
    gqa = make_gqa()
    x = torch.randn(2, 6, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    expected, expected_weights = gqa(x, x, x, causal=True)
    cache = gqa.new_cache(batch=2, capacity=6)
    outputs, weights = [], []
    with torch.no_grad():
        for start, end in [(0, prefill)] + [(t, t + 1) for t in range(prefill, 6)]:
            chunk = x[:, start:end]  # (batch, new, d_model)
            output, step_weights = gqa(chunk, chunk, chunk, causal=True, cache=cache, need_weights=need_weights)
            outputs.append(output)
            weights.append(step_weights)
    torch.testing.assert_close(torch.cat(outputs, dim=1), expected, rtol=0, atol=1e-10)
    if need_weights:  # the last step's query sees all 6 keys, like the last row of the full weights
        torch.testing.assert_close(weights[-1][:, :, -1], expected_weights[:, :, -1], rtol=0, atol=1e-10)
    assert len(cache) == 6


def test_the_cache_holds_only_the_key_value_heads():
    assert make_gqa(num_kv_heads=2).new_cache(batch=1, capacity=10).keys.shape == (1, 2, 10, 2)
    assert make_gqa(num_kv_heads=1).new_cache(batch=1, capacity=10).keys.shape == (1, 1, 10, 2)


def test_a_full_cache_names_its_sizes():
    gqa = make_gqa()
    cache = gqa.new_cache(batch=1, capacity=3)
    x = torch.randn(1, 3, 12, dtype=torch.float64)
    with torch.no_grad():
        gqa(x, x, x, causal=True, cache=cache)
        with pytest.raises(ValueError, match=r"cannot append 1 positions to a KVCache holding 3 of its capacity 3"):
            gqa(x[:, :1], x[:, :1], x[:, :1], causal=True, cache=cache)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((12, 6, 4), ValueError, r"num_heads=6 is not divisible by num_kv_heads=4"),
        ((10, 4, 2), ValueError, r"d_model=10 is not divisible by num_heads=4"),
        ((12, 6, 0), ValueError, r"num_kv_heads must be positive, got 0"),
        ((12, 6, 2.0), TypeError, r"num_kv_heads must be an integer, got 2\.0"),
    ],
)
def test_bad_sizes_are_named(args, error, message):
    with pytest.raises(error, match=message):
        GroupedQueryAttention(*args)


def test_bad_input_is_named():
    gqa = make_gqa()
    with pytest.raises(ValueError, match=r"query must have shape \(batch, positions, d_model=12\), got \(2, 3, 8\)"):
        gqa(torch.zeros(2, 3, 8), torch.zeros(2, 3, 12), torch.zeros(2, 3, 12))
    with pytest.raises(ValueError, match=r"query has 6 heads, which must be a multiple of the key's 4"):
        grouped_query_attention(torch.zeros(1, 6, 2, 3), torch.zeros(1, 4, 2, 3), torch.zeros(1, 4, 2, 3))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4\) does not broadcast to the scores of shape \(1, 6, 2, 4\)"):
        grouped_query_attention(torch.zeros(1, 6, 2, 3), torch.zeros(1, 2, 4, 3), torch.zeros(1, 2, 4, 3),
                                torch.ones(4, 4, dtype=torch.bool))
    cache = KVCache(batch=1, num_kv_heads=3, capacity=4, d_head=2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"key must have shape \(batch=1, kv_heads=3"):
        gqa(torch.zeros(1, 2, 12, dtype=torch.float64), torch.zeros(1, 2, 12, dtype=torch.float64),
            torch.zeros(1, 2, 12, dtype=torch.float64), cache=cache)

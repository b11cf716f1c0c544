"""Attention inside every head (attention.versions.head_attention), against a float64 loop
over the heads: grouped key/value heads, shared and per-head masks, rows with no key."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from attention.versions.head_attention import attend_heads, fused_attention, mask_for_heads


def reference(query, key, value, mask):
    """Head by head: query head h reads key/value head h // group; a row with no key gives 0."""
    batch, heads, num_queries, d = query.shape
    group = heads // key.shape[1]
    mask = torch.ones(1, 1, 1, 1, dtype=torch.bool) if mask is None else mask
    mask = mask.expand(batch, heads, num_queries, key.shape[2])  # (batch, heads, Tq, Tk)
    outputs, weights = torch.zeros(batch, heads, num_queries, value.shape[-1], dtype=torch.float64), []
    for h in range(heads):
        scores = query[:, h] @ key[:, h // group].transpose(-2, -1) / math.sqrt(d)  # (batch, Tq, Tk)
        scores = scores.masked_fill(~mask[:, h], float("-inf"))
        alive = mask[:, h].any(dim=-1, keepdim=True)  # (batch, Tq, 1)
        w = torch.softmax(scores.masked_fill(~alive, 0.0), dim=-1) * alive * mask[:, h]
        outputs[:, h] = w @ value[:, h // group]
        weights.append(w)
    return outputs, torch.stack(weights, dim=1)  # (batch, heads, Tq, d_v), (batch, heads, Tq, Tk)


@st.composite
def heads_case(draw: st.DrawFn) -> tuple:
    batch, kv_heads, group = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    num_queries, num_keys, d = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    query = randn(batch, kv_heads * group, num_queries, d)
    key, value = randn(batch, kv_heads, num_keys, d), randn(batch, kv_heads, num_keys, draw(st.integers(1, 3)))
    kind = draw(st.sampled_from(["none", "shared", "per head"]))
    mask = None
    if kind != "none":  # some rows may have no key at all
        shape = (batch, 1 if kind == "shared" else kv_heads * group, num_queries, num_keys)
        mask = torch.rand(*shape, generator=generator) < draw(st.sampled_from([0.3, 0.7, 1.0]))
    return query, key, value, mask


@settings(max_examples=60, deadline=None)
@given(case=heads_case(), need_weights=st.booleans())
def test_attend_heads_is_attention_in_every_head_with_grouped_keys(case, need_weights):
    query, key, value, mask = case
    output, weights = attend_heads(query, key, value, mask, need_weights=need_weights, dropout=nn.Dropout(0.0))
    expected, expected_weights = reference(query, key, value, mask)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-12)
    if need_weights:
        torch.testing.assert_close(weights, expected_weights, rtol=0, atol=1e-12)
    else:
        assert weights is None


@pytest.mark.parametrize(
    ("shape", "as_four_dims"),
    [((5,), (1, 1, 1, 5)), ((3, 5), (1, 1, 3, 5)), ((2, 1, 5), (2, 1, 1, 5)),
     ((2, 3, 5), (2, 1, 3, 5)), ((2, 4, 3, 5), (2, 4, 3, 5))],
)
def test_a_mask_gets_a_head_dim_and_means_the_same(shape, as_four_dims):
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(0)) < 0.5
    for_heads = mask_for_heads(mask, batch=2, num_heads=4, num_queries=3, num_keys=5)
    assert for_heads.shape == as_four_dims
    if len(shape) < 4:  # shared by the heads: every head sees the mask as it was
        for head in range(4):
            assert torch.equal(for_heads.expand(2, 4, 3, 5)[:, head], mask.expand(2, 3, 5))
    assert mask_for_heads(None, 2, 4, 3, 5) is None


def test_a_mask_that_does_not_fit_is_refused_by_name():
    with pytest.raises(ValueError, match="self_mask"):
        mask_for_heads(torch.ones(3, 4, dtype=torch.bool), 2, 4, 3, 5, name="self_mask")


def test_fused_attention_gives_zeros_for_a_query_with_no_key_and_keeps_a_nan_query():
    generator = torch.Generator().manual_seed(1)
    query, key, value = (torch.randn(1, 1, 3, 2, generator=generator, dtype=torch.float64) for _ in range(3))
    mask = torch.tensor([[True, False, True], [False, False, False], [True, True, True]])
    output = fused_attention(query, key, value, mask, dropout_p=0.0)
    assert torch.equal(output[0, 0, 1], torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(output, reference(query, key, value, mask)[0], rtol=0, atol=1e-12)
    query[0, 0, 0, 0] = float("nan")
    assert fused_attention(query, key, value, mask, 0.0)[0, 0, 0].isnan().all()

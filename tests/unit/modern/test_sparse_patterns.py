"""Tests for sparse attention patterns and their cost."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.modern.score_bias import biased_attention
from attention.modern.sparse_patterns import attention_flops, bigbird_mask, local_global_mask


@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 12), window=st.integers(0, 5), causal=st.booleans(), data=st.data())
def test_local_global_mask_is_the_definition(length, window, causal, data):
    globals_ = data.draw(st.lists(st.integers(0, length - 1), max_size=3, unique=True))
    mask = local_global_mask(length, window, globals_, causal=causal)
    for i in range(length):
        for j in range(length):
            near = (0 <= i - j < window) if causal else abs(i - j) < window
            allowed = near or i in globals_ or j in globals_
            assert mask[i, j].item() == (allowed and (j <= i or not causal))


@settings(max_examples=30, deadline=None)
@given(length=st.integers(4, 30), window=st.integers(1, 3), num_global=st.integers(0, 2),
       num_random=st.integers(0, 3), seed=st.integers(0, 1000))
def test_bigbird_adds_random_keys_to_local_and_global(length, window, num_global, num_random, seed):
    mask = bigbird_mask(length, window, num_global, num_random, torch.Generator().manual_seed(seed))
    base = local_global_mask(length, window, list(range(num_global)))
    assert (mask | base).equal(mask)  # it keeps the band and the global positions
    extra = (mask & ~base).sum(dim=1)  # random keys per query
    free = (~base).sum(dim=1)
    for i in range(length):
        expected = 0 if i < num_global else min(num_random, int(free[i]))
        assert int(extra[i]) == expected
    again = bigbird_mask(length, window, num_global, num_random, torch.Generator().manual_seed(seed))
    assert torch.equal(mask, again)


def test_attention_under_a_sparse_mask_is_sdpa_with_that_mask():
    mask = bigbird_mask(20, 3, 2, 2, torch.Generator().manual_seed(0))
    q, k, v = torch.randn(3, 1, 2, 20, 8, dtype=torch.float64).unbind(0)
    output, _ = biased_attention(q, k, v, mask)
    torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_flops_count_the_allowed_entries():
    dense = torch.ones(10, 10, dtype=torch.bool)
    assert attention_flops(dense, 16) == 4 * 16 * 100
    band = local_global_mask(100, 4)
    assert attention_flops(band, 1) == 4 * (100 * 7 - 2 * (1 + 2 + 3))  # 7 keys, fewer at the ends
    with pytest.raises(TypeError, match=r"mask must be a bool tensor"):
        attention_flops(dense.int(), 4)
    with pytest.raises(ValueError, match=r"global position 5 is outside 0..4"):
        local_global_mask(5, 1, [5])

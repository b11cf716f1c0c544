"""Tests for the causal pattern of `attention.GPT` and the positions its caches hold."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention.fast.kv_cache import KVCache
from attention.modern.causal_pattern import CausalPattern, cached_positions, check_pattern
from attention.modern.sliding_window import RollingKVCache


@given(st.lists(st.integers(0, 40), min_size=1, max_size=6), st.lists(st.integers(0, 40), min_size=1, max_size=6))
def test_a_query_sees_exactly_the_keys_at_or_before_it(queries, keys):
    mask = CausalPattern()(torch.tensor(queries), torch.tensor(keys))  # (Tq, Tk)
    for i, q in enumerate(queries):
        for j, k in enumerate(keys):
            assert bool(mask[i, j]) == (k <= q)


def test_its_cache_keeps_every_key():
    cache = CausalPattern().new_cache(2, 1, 4, 16, torch.float64, None)
    assert isinstance(cache, KVCache) and cache.capacity == 16 and cache.keys.dtype == torch.float64


def test_cached_positions_of_each_kind_of_cache():
    full = KVCache(batch=1, num_kv_heads=1, capacity=8, d_head=2)
    full.append(torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
    held, following = cached_positions(full)
    assert held.tolist() == [0, 1, 2] and following == 3
    rolling = RollingKVCache(batch=1, num_kv_heads=1, d_head=2, window=2)
    rolling.append(torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
    held, following = cached_positions(rolling)
    assert held.tolist() == [2] and following == 3


@pytest.mark.parametrize("pattern, error", [("causal", TypeError), (CausalPattern, TypeError), (3, TypeError)])
def test_check_pattern_refuses_what_is_not_a_function_of_positions(pattern, error):
    with pytest.raises(error, match="pattern must be a function"):
        check_pattern(pattern)
    assert isinstance(check_pattern(None), CausalPattern)

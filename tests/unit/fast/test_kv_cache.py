"""Tests for the KV cache."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import KVCache


@settings(max_examples=30, deadline=None)
@given(chunks=st.lists(st.integers(0, 4), min_size=1, max_size=5), seed=st.integers(0, 2**32 - 1))
def test_append_returns_everything_appended_so_far(chunks, seed):
    generator = torch.Generator().manual_seed(seed)
    cache = KVCache(batch=2, num_kv_heads=3, capacity=sum(chunks) + 1, d_head=4, dtype=torch.float64)
    all_keys, all_values = [], []
    for size in chunks:
        key, value = (torch.randn(2, 3, size, 4, generator=generator, dtype=torch.float64) for _ in range(2))
        all_keys.append(key)
        all_values.append(value)
        keys, values = cache.append(key, value)
        assert torch.equal(keys, torch.cat(all_keys, dim=2))
        assert torch.equal(values, torch.cat(all_values, dim=2))
        assert len(cache) == keys.shape[2]


def test_reset_empties_the_cache_and_keeps_its_buffers():
    cache = KVCache(1, 1, 4, 2)
    buffer = cache.keys
    cache.append(torch.ones(1, 1, 3, 2), torch.ones(1, 1, 3, 2))
    cache.reset()
    assert len(cache) == 0 and cache.capacity == 4 and cache.keys is buffer
    keys, _ = cache.append(torch.zeros(1, 1, 4, 2), torch.zeros(1, 1, 4, 2))  # the whole capacity again
    assert keys.shape == (1, 1, 4, 2) and not keys.any()


def test_appending_past_the_capacity_names_the_sizes():
    cache = KVCache(batch=1, num_kv_heads=2, capacity=5, d_head=3)
    cache.append(torch.zeros(1, 2, 4, 3), torch.zeros(1, 2, 4, 3))
    with pytest.raises(ValueError, match=r"cannot append 2 positions to a KVCache holding 4 of its capacity 5"):
        cache.append(torch.zeros(1, 2, 2, 3), torch.zeros(1, 2, 2, 3))
    assert len(cache) == 4  # unchanged


@pytest.mark.parametrize(
    ("key_shape", "value_shape", "message"),
    [
        ((1, 3, 1, 3), (1, 2, 1, 3), r"key must have shape \(batch=1, kv_heads=2, new positions, d_head=3\), got \(1, 3, 1, 3\)"),
        ((1, 2, 1, 3), (1, 2, 1, 4), r"value must have shape .* got \(1, 2, 1, 4\)"),
        ((2, 1, 3), (2, 1, 3), r"key must have shape .* got \(2, 1, 3\)"),
        ((1, 2, 2, 3), (1, 2, 1, 3), r"key has 2 positions but value has 1"),
    ],
)
def test_shapes_that_do_not_fit_are_named(key_shape, value_shape, message):
    cache = KVCache(batch=1, num_kv_heads=2, capacity=5, d_head=3)
    with pytest.raises(ValueError, match=message):
        cache.append(torch.zeros(key_shape), torch.zeros(value_shape))


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match=r"capacity must be positive, got -1"):
        KVCache(1, 2, -1, 3)
    with pytest.raises(TypeError, match=r"d_head must be an integer, got 2\.5"):
        KVCache(1, 2, 4, 2.5)



"""Tests for the KV cache and for decoding with it."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import KVCache
from attention.kv_cache import kv_cache_bytes
from attention.kv_decoding import TinyLanguageModel


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


def test_cache_bytes_is_the_size_of_the_buffers():
    cache = KVCache(batch=2, num_kv_heads=3, capacity=7, d_head=5, dtype=torch.float16)
    buffers = cache.keys.nbytes + cache.values.nbytes
    assert kv_cache_bytes(2, num_layers=1, num_kv_heads=3, d_head=5, num_positions=7, bytes_per_element=2) == buffers
    # Grouped-query attention with 8 of 32 heads keeps a quarter of the cache.
    assert kv_cache_bytes(1, 32, 32, 128, 4096) == 4 * kv_cache_bytes(1, 32, 8, 128, 4096)


def make_model(num_kv_heads: int = 2) -> TinyLanguageModel:
    torch.manual_seed(0)
    model = TinyLanguageModel(vocab_size=40, d_model=16, num_heads=4, num_kv_heads=num_kv_heads,
                              num_layers=2, max_len=24)
    return model.double().eval()


@pytest.mark.parametrize("num_kv_heads", [1, 2, 4])
def test_cached_decoding_gives_the_logits_of_full_decoding(num_kv_heads):
    """The prompt in one go, then one token at a time, equals the whole sequence at once."""
    model = make_model(num_kv_heads)
    tokens = torch.randint(40, (3, 12), generator=torch.Generator().manual_seed(1))  # (batch, T)
    with torch.no_grad():
        full = model(tokens)  # (batch, T, vocab)
        caches = model.new_caches(batch=3, capacity=12)
        steps = [model(tokens[:, :5], caches)] + [model(tokens[:, t:t + 1], caches) for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=0, atol=1e-10)
    assert all(len(cache) == 12 for cache in caches)


@pytest.mark.parametrize("num_kv_heads", [1, 4])
def test_cached_generation_gives_the_tokens_of_full_generation(num_kv_heads):
    model = make_model(num_kv_heads)
    prompt = torch.randint(40, (2, 4), generator=torch.Generator().manual_seed(2))
    cached = model.generate(prompt, num_tokens=20)
    assert cached.shape == (2, 24) and torch.equal(cached[:, :4], prompt)
    assert torch.equal(cached, model.generate(prompt, num_tokens=20, use_cache=False))


def test_generation_refuses_what_it_cannot_position():
    model = make_model()
    with pytest.raises(ValueError, match=r"a prompt of 5 and 20 new tokens exceed max_len=24"):
        model.generate(torch.zeros(1, 5, dtype=torch.long), num_tokens=20)
    with pytest.raises(ValueError, match=r"prompt must have shape \(batch, positions >= 1\), got \(1, 0\)"):
        model.generate(torch.zeros(1, 0, dtype=torch.long), num_tokens=2)

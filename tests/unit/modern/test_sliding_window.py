"""Tests for sliding-window attention, the rolling KV cache and attention sinks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.modern.causal_self_attention import CausalSelfAttention
from attention.modern.gpt import GPT
from attention.modern.sliding_window import (
    RollingKVCache,
    SlidingWindowPattern,
    receptive_field,
    sliding_window_mask,
)


def make_model(window: int, num_sinks: int = 0, positions: str = "rope", num_layers: int = 2) -> GPT:
    torch.manual_seed(0)
    model = GPT(11, 16, 4, num_layers, num_kv_heads=2, positions=positions,
                pattern=SlidingWindowPattern(window, num_sinks))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.3)
    return model.eval()


@settings(max_examples=30, deadline=None)
@given(window=st.integers(1, 8), num_sinks=st.integers(0, 3), first=st.integers(0, 50),
       tq=st.integers(1, 6), tk=st.integers(0, 10))
def test_mask_is_the_definition(window, num_sinks, first, tq, tk):
    queries = torch.arange(first + tk, first + tk + tq)
    keys = torch.randperm(first + tk + tq, generator=torch.Generator().manual_seed(first))[:tk + tq]
    mask = sliding_window_mask(queries, keys, window, num_sinks)
    for a, i in enumerate(queries.tolist()):
        for b, j in enumerate(keys.tolist()):
            assert mask[a, b].item() == (j <= i and (i - j < window or j < num_sinks))


def test_a_window_as_long_as_the_text_is_the_causal_mask():
    positions = torch.arange(7)
    assert torch.equal(sliding_window_mask(positions, positions, 7), torch.ones(7, 7, dtype=torch.bool).tril())


@pytest.mark.parametrize("need_weights", [True, False])
def test_windowed_attention_is_sdpa_with_the_boolean_mask(need_weights):
    torch.manual_seed(0)
    layer = CausalSelfAttention(d_model=16, num_heads=4, num_kv_heads=4).double()
    x = torch.randn(2, 12, 16, dtype=torch.float64)
    positions = torch.arange(12)
    output, _ = layer(x, positions, pattern=SlidingWindowPattern(3), need_weights=need_weights)
    q, k, v = (w(x).view(2, 12, 4, 4).transpose(1, 2) for w in (layer.w_q, layer.w_k, layer.w_v))
    band = torch.ones(12, 12, dtype=torch.bool).tril().triu(-2)  # i - 3 < j <= i
    heads = F.scaled_dot_product_attention(q, k, v, attn_mask=band)
    torch.testing.assert_close(output, layer.w_o(heads.transpose(1, 2).reshape(2, 12, 16)))


@settings(max_examples=25, deadline=None)
@given(window=st.integers(1, 6), num_sinks=st.integers(0, 3),
       chunks=st.lists(st.integers(1, 7), min_size=1, max_size=6),
       positions=st.sampled_from(["rope", "alibi", "sinusoidal"]))
def test_decoding_with_the_rolling_cache_is_the_windowed_full_pass(window, num_sinks, chunks, positions):
    model = make_model(window, num_sinks, positions)
    total = sum(chunks)
    tokens = torch.randint(11, (2, total), generator=torch.Generator().manual_seed(total))
    with torch.no_grad():
        full = model(tokens)  # (batch, T, vocab), the mask of the pattern
        caches = model.new_caches(2, capacity=1)  # the capacity is not used: the window is
        steps, start = [], 0
        for size in chunks:
            steps.append(model(tokens[:, start:start + size], caches))
            start += size
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    assert len(caches[0]) <= num_sinks + window - 1


def test_the_cache_stays_the_same_size_however_long_the_text():
    model = make_model(window=4, num_sinks=2)
    generated = model.generate(torch.tensor([[1, 2, 3]]), 60)
    assert generated.shape == (1, 63)
    caches = model.new_caches(1, 0)
    with torch.no_grad():
        model(generated, caches)
    assert caches[0].keys.shape[2] == 5 and len(caches[0]) == 5
    assert sorted(caches[0].positions.tolist()) == [0, 1, 60, 61, 62]
    assert torch.equal(generated, model.generate(torch.tensor([[1, 2, 3]]), 60, use_cache=False))


@settings(max_examples=30, deadline=None)
@given(window=st.integers(1, 5), num_layers=st.integers(1, 3), data=st.data())
def test_a_token_beyond_the_receptive_field_changes_nothing(window, num_layers, data):
    """Changing a token more than (w - 1) N positions back leaves the last logits bit for bit
    the same; changing the one just inside the field changes them (the control)."""
    field = receptive_field(window, num_layers)
    model = make_model(window, positions="rope", num_layers=num_layers)
    length = field + data.draw(st.integers(1, 6))
    tokens = torch.randint(11, (1, length), generator=torch.Generator().manual_seed(length))
    last = length - 1
    far = data.draw(st.integers(0, last - field))  # at least `field` positions back
    near = last - (field - 1)  # the oldest position inside the field
    with torch.no_grad():
        base = model(tokens)[0, last]
        changed_far, changed_near = tokens.clone(), tokens.clone()
        changed_far[0, far] = (tokens[0, far] + 1) % 11
        changed_near[0, near] = (tokens[0, near] + 1) % 11
        assert torch.equal(model(changed_far)[0, last], base)
        assert not torch.equal(model(changed_near)[0, last], base)


def test_receptive_field_formula():
    assert [receptive_field(w, 1) for w in (1, 2, 5)] == [1, 2, 5]
    assert receptive_field(4096, 32) == 4095 * 32 + 1  # Mistral 7B's window and layers
    with pytest.raises(ValueError, match=r"window must be at least 1"):
        receptive_field(0, 2)


def test_a_failed_append_changes_nothing():
    cache = RollingKVCache(batch=1, num_kv_heads=2, d_head=3, window=3, num_sinks=1)
    cache.append(torch.ones(1, 2, 4, 3), torch.ones(1, 2, 4, 3))
    before = (cache.keys.clone(), cache.positions.clone(), cache.num_seen)
    with pytest.raises(ValueError, match=r"key must have shape \(batch=1, kv_heads=2, new positions, d_head=3\), got \(1, 2, 1, 4\)"):
        cache.append(torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 1, 4))
    with pytest.raises(ValueError, match=r"key has 2 positions but value has 1"):
        cache.append(torch.zeros(1, 2, 2, 3), torch.zeros(1, 2, 1, 3))
    assert torch.equal(cache.keys, before[0]) and torch.equal(cache.positions, before[1])
    assert cache.num_seen == before[2] and len(cache) == 3
    cache.reset()
    assert len(cache) == 0 and cache.num_seen == 0


def test_a_window_of_one_keeps_only_the_sinks():
    cache = RollingKVCache(batch=1, num_kv_heads=1, d_head=1, window=1, num_sinks=2)
    for p in range(5):
        keys, _ = cache.append(torch.full((1, 1, 1, 1), float(p)), torch.zeros(1, 1, 1, 1))
    assert keys.flatten().tolist() == [0.0, 1.0, 4.0] and cache.positions.tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"window must be at least 1"):
        SlidingWindowPattern(0)

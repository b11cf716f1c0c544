"""The cost formulas against PyTorch's own FLOP counter, on the package's modules."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from attention import (
    AdditiveAttention,
    KVCache,
    MultiHeadAttention,
    scaled_dot_product_attention,
)
from attention.fast.cost import (
    SOFTMAX_FLOPS_PER_SCORE,
    additive_attention_cost,
    dot_product_attention_cost,
    kv_cache_bytes,
    matmul_flops,
    multi_head_attention_cost,
    softmax_flops,
)

sizes = st.integers(1, 9)


def counted_flops(fn, *args, **kwargs) -> int:
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    return counter.get_total_flops()


@settings(deadline=None, max_examples=25)
@given(tq=sizes, tk=sizes, dk=sizes, dv=sizes)
def test_dot_product_matmuls_match_the_flop_counter(tq, tk, dk, dv):
    q, k, v = torch.randn(tq, dk), torch.randn(tk, dk), torch.randn(tk, dv)
    counted = counted_flops(scaled_dot_product_attention, q, k, v)
    assert dot_product_attention_cost(tq, tk, dk, dv, scaled=True).matmul == counted


@settings(deadline=None, max_examples=25)
@given(tq=sizes, tk=sizes, dq=sizes, dk=sizes, h=sizes, dv=sizes)
def test_additive_matmuls_match_the_flop_counter(tq, tk, dq, dk, h, dv):
    module = AdditiveAttention(dq, dk, h)
    q, k, v = torch.randn(1, tq, dq), torch.randn(1, tk, dk), torch.randn(1, tk, dv)
    counted = counted_flops(module, q, k, v)
    assert additive_attention_cost(tq, tk, dq, dk, h, dv).matmul == counted


@settings(deadline=None, max_examples=25)
@given(tq=sizes, tk=sizes, head_size=st.integers(1, 4), heads=st.integers(1, 4))
def test_multi_head_matmuls_match_the_flop_counter(tq, tk, head_size, heads):
    d = head_size * heads
    module = MultiHeadAttention(d, heads)
    q, kv = torch.randn(1, tq, d), torch.randn(1, tk, d)
    counted = counted_flops(module, q, kv, kv)
    assert multi_head_attention_cost(tq, tk, d, heads).matmul == counted


def test_heads_do_not_change_the_matmul_cost():
    costs = {multi_head_attention_cost(50, 60, 64, h).matmul for h in (1, 2, 4, 8, 16, 64)}
    assert len(costs) == 1


def test_additive_costs_more_than_dot_product_at_equal_sizes():
    d = 64
    additive = additive_attention_cost(100, 100, d, d, d, d)
    dot = dot_product_attention_cost(100, 100, d, d)
    assert additive.total > 1.5 * dot.total


@pytest.mark.parametrize(("bad", "error", "message"), [
    (0, ValueError, "m must be positive, got 0"),
    (-1, ValueError, "m must be positive, got -1"),
    (2.5, TypeError, "m must be an integer, got 2.5"),
    (True, TypeError, "m must be an integer, got True"),
])
def test_sizes_must_be_positive_integers(bad, error, message):
    with pytest.raises(error, match=message):
        matmul_flops(bad, 2, 3)


def test_numpy_integers_count_as_integers():
    import numpy as np

    assert matmul_flops(np.int64(3), np.int32(2), 3) == 36
    assert type(matmul_flops(np.int64(3), 2, 3)) is int


def test_heads_must_divide_the_model_size():
    with pytest.raises(ValueError, match="d_model=10 is not divisible by num_heads=3"):
        multi_head_attention_cost(4, 4, 10, 3)


def test_cache_bytes_is_the_size_of_the_buffers():
    cache = KVCache(batch=2, num_kv_heads=3, capacity=7, d_head=5, dtype=torch.float16)
    buffers = cache.keys.nbytes + cache.values.nbytes
    assert kv_cache_bytes(2, num_layers=1, num_kv_heads=3, d_head=5, num_positions=7, bytes_per_element=2) == buffers
    # Grouped-query attention with 8 of 32 heads keeps a quarter of the cache.
    assert kv_cache_bytes(1, 32, 32, 128, 4096) == 4 * kv_cache_bytes(1, 32, 8, 128, 4096)


def test_softmax_counts_five_flops_per_score():
    # max, subtract, exp, sum, divide: one FLOP each per score
    assert softmax_flops(3, 7) == 5 * 3 * 7
    assert SOFTMAX_FLOPS_PER_SCORE == 5


@settings(deadline=None, max_examples=25)
@given(tq=sizes, tk=sizes, dk=sizes, dv=sizes, scaled=st.booleans())
def test_dot_product_elementwise_is_the_softmax_and_the_scale(tq, tk, dk, dv, scaled):
    cost = dot_product_attention_cost(tq, tk, dk, dv, scaled=scaled)
    assert cost.elementwise == 5 * tq * tk + (tq * dk if scaled else 0)


def test_additive_elementwise_is_add_tanh_and_the_softmax():
    # (queries, keys, hidden) add and tanh, then a softmax over (queries, keys)
    assert additive_attention_cost(2, 3, 4, 5, 6, 7).elementwise == 2 * 2 * 3 * 6 + 5 * 2 * 3

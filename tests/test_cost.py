"""The cost formulas against PyTorch's own FLOP counter, on the package's modules."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from attention import AdditiveAttention, MultiHeadAttention, scaled_dot_product_attention
from attention.cost import (
    additive_attention_cost,
    dot_product_attention_cost,
    matmul_flops,
    multi_head_attention_cost,
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

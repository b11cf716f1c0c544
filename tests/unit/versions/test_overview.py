"""The overview table of Part II against the package's modules, its cost formulas and
PyTorch's own FLOP counter."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from attention import (
    AdditiveAttention,
    CrossAttention,
    MultiHeadAttention,
    SelfAttention,
    scaled_dot_product_attention,
)
from attention.fast.cost import (
    additive_attention_cost,
    dot_product_attention_cost,
    multi_head_attention_cost,
    projection_cost,
)
from attention.versions.overview import (
    VERSIONS,
    count_parameters,
    evolution_table,
    version_cost,
    version_module,
)

head_counts = st.sampled_from([1, 2, 4])
small = st.integers(1, 6)


def numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def counted_matmul_flops(fn, *args) -> int:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops()


def test_seven_versions_in_order():
    assert [v.number for v in VERSIONS] == list(range(7))
    assert [v.name for v in VERSIONS] == [
        "additive", "dot-product", "scaled dot-product", "many queries",
        "cross-attention", "self-attention", "multi-head",
    ]
    rows = evolution_table()
    assert [row.version for row in rows] == list(VERSIONS)


@settings(deadline=None, max_examples=20)
@given(head_size=small, heads=head_counts, hidden=small, seq_len=small)
def test_parameters_are_those_of_the_modules(head_size, heads, hidden, seq_len):
    d = head_size * heads
    rows = evolution_table(d=d, seq_len=seq_len, hidden=hidden, heads=heads)
    expected = [
        numel(AdditiveAttention(d, d, hidden)),
        0, 0, 0,  # versions 1 to 3 are functions
        numel(CrossAttention(d, d, d)),
        numel(SelfAttention(d)),
        numel(MultiHeadAttention(d, heads)),
    ]
    assert [row.parameters for row in rows] == expected
    # The same counts in closed form: W_q, W_k (d x hidden) and w_v; W_K, W_V; W_Q, W_K,
    # W_V; and the four d x d projections of multi-head attention with their biases.
    assert expected == [2 * d * hidden + hidden, 0, 0, 0, 2 * d * d, 3 * d * d, 4 * d * d + 4 * d]


@settings(deadline=None, max_examples=10)
@given(head_size=small, heads=st.sampled_from([1, 2, 3, 4, 6]))
def test_multi_head_parameters_do_not_depend_on_the_number_of_heads(head_size, heads):
    d = 12 * head_size  # divisible by every head count drawn
    assert count_parameters(version_module(6, d=d, heads=heads)) == 4 * d * d + 4 * d


@settings(deadline=None, max_examples=20)
@given(head_size=small, heads=head_counts, hidden=small, t=small)
def test_costs_are_the_cost_formulas(head_size, heads, hidden, t):
    d = head_size * heads
    rows = evolution_table(d=d, seq_len=t, hidden=hidden, heads=heads)
    attend = dot_product_attention_cost(t, t, d, d, scaled=True)
    expected = [
        additive_attention_cost(1, t, d, d, hidden, d),
        dot_product_attention_cost(1, t, d, d),
        dot_product_attention_cost(1, t, d, d, scaled=True),
        attend,
        projection_cost(t, d, d) + projection_cost(t, d, d) + attend,
        projection_cost(t, d, d) + projection_cost(t, d, d) + projection_cost(t, d, d) + attend,
        multi_head_attention_cost(t, t, d, heads),
    ]
    assert [row.cost for row in rows] == expected
    assert [row.num_queries for row in rows] == [1, 1, 1, t, t, t, t]
    assert all(row.num_keys == t for row in rows)


@settings(deadline=None, max_examples=8)
@given(head_size=st.integers(1, 4), heads=head_counts, hidden=small, t=small)
def test_matmul_flops_are_what_torch_counts(head_size, heads, hidden, t):
    """Run every version as the book computes it and let PyTorch count its matmuls."""
    d = head_size * heads
    x = torch.randn(1, t, d)  # (batch, T, d): the input sequence
    one_query = torch.randn(1, 1, d)  # (batch, 1, d)
    queries = torch.randn(1, t, d)  # (batch, T, d)
    runs = [
        lambda: version_module(0, d, hidden, heads)(one_query, x, x),
        lambda: scaled_dot_product_attention(one_query, x, x, scale=1.0),
        lambda: scaled_dot_product_attention(one_query, x, x),
        lambda: scaled_dot_product_attention(queries, x, x),
        lambda: version_module(4, d, hidden, heads)(queries, x),
        lambda: version_module(5, d, hidden, heads)(x),
        lambda: version_module(6, d, hidden, heads)(x, x, x),
    ]
    counted = [counted_matmul_flops(run) for run in runs]
    rows = evolution_table(d=d, seq_len=t, hidden=hidden, heads=heads)
    assert [row.cost.matmul for row in rows] == counted


def test_elementwise_flops_by_hand():
    t, d, hidden, heads = 10, 8, 6, 2
    rows = evolution_table(d=d, seq_len=t, hidden=hidden, heads=heads)
    softmax_one_query = 5 * t  # max, subtract, exp, sum and divide over T scores
    assert rows[0].cost.elementwise == 2 * t * hidden + softmax_one_query  # add and tanh
    assert rows[1].cost.elementwise == softmax_one_query
    assert rows[2].cost.elementwise == softmax_one_query + d  # the query times 1/sqrt(d)
    for row in rows[3:6]:
        assert row.cost.elementwise == 5 * t * t + t * d
    assert rows[6].cost.elementwise == heads * (5 * t * t + t * (d // heads))


def test_reference_sizes_and_total():
    rows = evolution_table(d=64, seq_len=128, hidden=64, heads=8)
    assert [row.parameters for row in rows] == [8256, 0, 0, 0, 8192, 12288, 16640]
    assert rows[1].cost.total == 2 * 64 * 128 * 2 + 5 * 128
    assert version_cost(6, 128).total == rows[6].cost.total


def test_more_heads_only_add_softmax_work():
    costs = [version_cost(6, 32, d=48, heads=h) for h in (1, 2, 3, 4, 6, 8, 12)]
    assert len({c.matmul for c in costs}) == 1
    assert [c.elementwise for c in costs] == sorted(c.elementwise for c in costs)


@pytest.mark.parametrize(
    ("sizes", "error"),
    [(dict(d=0), ValueError), (dict(seq_len=-1), ValueError), (dict(hidden=2.0), TypeError),
     (dict(heads=True), TypeError), (dict(d=10, heads=4), ValueError)],
    ids=["d=0", "seq_len<0", "float hidden", "bool heads", "heads do not divide d"],
)
def test_bad_sizes_are_named(sizes, error):
    name = "heads" if "heads" in sizes else next(iter(sizes))
    with pytest.raises(error, match=name):
        evolution_table(**sizes)


@pytest.mark.parametrize("number", [-1, 7, 2.0, "3"])
def test_bad_version_numbers(number):
    with pytest.raises(ValueError, match="version number"):
        version_cost(number, 8)
    with pytest.raises(ValueError, match="version number"):
        version_module(number)


def test_heads_must_divide_d_only_for_multi_head():
    assert version_cost(3, 8, d=10, heads=4).total > 0  # versions 0 to 5 have no heads
    assert count_parameters(version_module(5, d=10, heads=4)) == 300
    with pytest.raises(ValueError, match="heads=4"):
        version_module(6, d=10, heads=4)

"""Tests for tiled_attention_steps: the loop's state after every tile, against direct formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.fast.tiled_steps import tiled_attention_steps

SETTINGS = settings(max_examples=40, deadline=None)


def lower_right_causal(num_queries: int, num_keys: int) -> torch.Tensor:
    """Query i sees keys j <= i + Tk - Tq (True = may attend), written independently of the package."""
    queries = torch.arange(num_queries)[:, None]  # (Tq, 1)
    keys = torch.arange(num_keys)[None, :]  # (1, Tk)
    return keys <= queries + (num_keys - num_queries)  # (Tq, Tk)


def inputs(seed: int, num_queries: int, num_keys: int, d: int = 3, d_v: int = 2):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator, dtype=torch.float64)
            for shape in ((num_queries, d), (num_keys, d), (num_keys, d_v))]


@SETTINGS
@given(num_queries=st.integers(1, 10), data=st.data(), block_size=st.integers(1, 11),
       causal=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_every_state_matches_the_formulas_and_the_last_is_exact_attention(
        num_queries, data, block_size, causal, seed):
    """After the tile (rows, keys up to k_end): m and l of those rows are the max and the
    sum of exp(s - m) over the allowed scores read so far; finished rows hold the output."""
    num_keys = data.draw(st.integers(num_queries if causal else 1, 10))
    query, key, value = inputs(seed, num_queries, num_keys)
    scores = query @ key.T / math.sqrt(query.shape[-1])  # (Tq, Tk)
    allowed = lower_right_causal(num_queries, num_keys) if causal else torch.ones_like(scores, dtype=torch.bool)
    scores = scores.masked_fill(~allowed, float("-inf"))
    exact = F.scaled_dot_product_attention(query, key, value, attn_mask=allowed)  # (Tq, d_v)
    steps = tiled_attention_steps(query, key, value, block_size=block_size, causal=causal)
    tiles = [(q, k) for q in range(0, num_queries, block_size) for k in range(0, num_keys, block_size)
             if allowed[q:q + block_size, k:k + block_size].any()]
    assert [(s.query_block[0], s.key_block[0]) for s in steps] == tiles
    for step in steps:
        (q0, q1), (_, k1) = step.query_block, step.key_block
        read = scores[q0:q1, :k1]  # (bq, keys read so far)
        m = read.max(dim=-1).values
        torch.testing.assert_close(step.running_max[q0:q1], m)
        torch.testing.assert_close(step.running_sum[q0:q1], (read - m[:, None]).exp().sum(-1))
        assert torch.isinf(step.running_max[q1:]).all() and (step.running_sum[q1:] == 0).all()
        torch.testing.assert_close(step.output[:step.rows_done], exact[:step.rows_done], rtol=0, atol=1e-12)
        assert (step.output[step.rows_done:] == 0).all()
    assert steps[-1].rows_done == num_queries
    torch.testing.assert_close(steps[-1].output, exact, rtol=0, atol=1e-12)


def test_causal_skips_the_tiles_in_the_future():
    query, key, value = inputs(0, 8, 8)
    causal = tiled_attention_steps(query, key, value, block_size=2, causal=True)
    full = tiled_attention_steps(query, key, value, block_size=2)
    assert len(full) == 16 and len(causal) == 10  # 4 + 3 + 2 + 1 tiles skipped
    assert all(s.key_block[0] <= s.query_block[0] for s in causal)


def test_the_states_are_copies():
    query, key, value = inputs(1, 4, 4)
    steps = tiled_attention_steps(query, key, value, block_size=2)
    assert torch.isinf(steps[0].running_max[2:]).all()  # not overwritten by later steps
    assert (steps[0].output == 0).all() and steps[1].rows_done == 2


def test_bad_arguments_raise_with_the_shapes():
    query, key, value = inputs(0, 4, 5)
    with pytest.raises(ValueError, match="2-D"):
        tiled_attention_steps(query[None], key[None], value[None], block_size=2)
    with pytest.raises(ValueError, match="block_size"):
        tiled_attention_steps(query, key, value, block_size=0)
    with pytest.raises(TypeError, match="block_size"):
        tiled_attention_steps(query, key, value, block_size=2.0)
    with pytest.raises(ValueError):
        tiled_attention_steps(query, key[:, :2], value, block_size=2)
    with pytest.raises(TypeError):
        tiled_attention_steps(query.float(), key, value, block_size=2)

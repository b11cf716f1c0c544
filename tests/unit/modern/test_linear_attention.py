"""Linear attention: parallel and recurrent forms, against a float64 formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from attention.modern.linear_attention import (
    LinearAttentionState,
    elu_feature_map,
    linear_attention,
    linear_attention_cost,
    linear_attention_recurrent,
)


def formula(q, k, v, causal, eps=1e-6):
    """phi(Q) phi(K)^T, masked, rows normalised, times V: float64, the quadratic way."""
    q, k, v = q.double(), k.double(), v.double()
    phi_q = torch.where(q > 0, q + 1, torch.exp(q))  # elu(x) + 1, written out
    phi_k = torch.where(k > 0, k + 1, torch.exp(k))
    kernel = phi_q @ phi_k.transpose(-2, -1)  # (..., T, T)
    if causal:
        kernel = kernel * torch.ones(q.shape[-2], q.shape[-2], dtype=torch.float64).tril()
    return (kernel @ v) / (kernel.sum(-1, keepdim=True) + eps)


sizes = st.tuples(st.integers(1, 3), st.integers(1, 40), st.integers(1, 6), st.integers(1, 5),
                  st.integers(1, 50), st.integers(0, 2**31 - 1))


@settings(max_examples=40, deadline=None)
@given(sizes, st.booleans())
def test_parallel_equals_float64_formula(size, causal):
    batch, T, d_k, d_v, chunk, seed = size
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(batch, T, d_k, generator=g, dtype=torch.float64), torch.randn(
        batch, T, d_k, generator=g, dtype=torch.float64)
    v = torch.randn(batch, T, d_v, generator=g, dtype=torch.float64)
    out = linear_attention(q, k, v, causal=causal, chunk_size=chunk)
    torch.testing.assert_close(out, formula(q, k, v, causal), rtol=1e-10, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(sizes)
def test_recurrent_equals_parallel(size):
    batch, T, d_k, d_v, chunk, seed = size
    g = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(batch, 2, T, d_k, generator=g, dtype=torch.float64) * 3 for _ in range(2))
    v = torch.randn(batch, 2, T, d_v, generator=g, dtype=torch.float64)
    torch.testing.assert_close(linear_attention_recurrent(q, k, v),
                               linear_attention(q, k, v, chunk_size=chunk), rtol=1e-10, atol=1e-10)


def test_feature_map_is_elu_plus_one_and_positive():
    x = torch.linspace(-30, 5, 101, dtype=torch.float64)
    torch.testing.assert_close(elu_feature_map(x), F.elu(x) + 1)
    assert (elu_feature_map(x) > 0).all()


def test_causal_a_future_token_changes_no_earlier_output():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 30, 4, generator=g) for _ in range(3))
    k2, v2 = k.clone(), v.clone()
    k2[:, 20], v2[:, 20] = 5.0, -7.0
    for chunk in (1, 8, 64):
        a, b = linear_attention(q, k, v, chunk_size=chunk), linear_attention(q, k2, v2, chunk_size=chunk)
        assert torch.equal(a[:, :20], b[:, :20])
        assert not torch.equal(a[:, 20:], b[:, 20:])
    assert not torch.equal(linear_attention(q, k, v, causal=False)[:, :20],
                           linear_attention(q, k2, v2, causal=False)[:, :20])


def test_custom_feature_map_and_no_nan_on_zero_features():
    q, k, v = torch.randn(6, 3), torch.randn(6, 3), torch.randn(6, 2)
    out = linear_attention(q, k, v, feature_map=lambda x: torch.zeros_like(x))
    assert torch.isfinite(out).all() and (out == 0).all()
    relu = linear_attention(q, k, v, feature_map=F.relu, causal=False)
    phi_q, phi_k = F.relu(q.double()), F.relu(k.double())
    expected = (phi_q @ phi_k.T @ v.double()) / ((phi_q @ phi_k.T).sum(-1, keepdim=True) + 1e-6)
    torch.testing.assert_close(relu.double(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("q, k, v, error, words", [
    (torch.randn(4, 3), torch.randn(5, 3), torch.randn(5, 2), ValueError, ["q and k", "(4, 3)", "(5, 3)"]),
    (torch.randn(4, 3), torch.randn(4, 3), torch.randn(3, 2), ValueError, ["v must", "(3, 2)"]),
    (torch.randn(3), torch.randn(3), torch.randn(3), ValueError, ["q must", "(3,)"]),
    ([[1.0]], torch.randn(1, 1), torch.randn(1, 1), TypeError, ["q"]),
    (torch.randn(4, 3), torch.randn(4, 3).double(), torch.randn(4, 2), TypeError, ["dtype"]),
])
def test_bad_input_names_the_argument_and_shapes(q, k, v, error, words):
    with pytest.raises(error) as raised:
        linear_attention(q, k, v)
    for word in words:
        assert word in str(raised.value)


def test_bad_chunk_size():
    with pytest.raises(ValueError, match="chunk_size"):
        linear_attention(torch.randn(2, 2), torch.randn(2, 2), torch.randn(2, 2), chunk_size=0)


def test_a_failed_step_leaves_the_state_unchanged():
    state = LinearAttentionState((2,), d_k=3, d_v=4)
    state.step(torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 4))
    before = (state.state.clone(), state.zeta.clone(), state.num_seen)
    for bad in [(torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 5)),
                (torch.randn(2, 3), torch.randn(1, 3), torch.randn(2, 4)),
                (torch.randn(2, 3), torch.randn(2, 3).double(), torch.randn(2, 4))]:
        with pytest.raises((ValueError, TypeError)) as raised:
            state.step(*bad)
        assert "must have shape" in str(raised.value) or "dtype" in str(raised.value)
        assert torch.equal(state.state, before[0]) and torch.equal(state.zeta, before[1])
        assert state.num_seen == before[2]


def test_the_state_does_not_grow():
    state = LinearAttentionState((1, 2), d_k=4, d_v=4)
    size = state.nbytes()
    for _ in range(50):
        state.step(torch.randn(1, 2, 4), torch.randn(1, 2, 4), torch.randn(1, 2, 4))
    assert state.nbytes() == size == (2 * 4 * 4 + 2 * 4) * 4


def test_cost_matches_the_flop_counter():
    T, d_k, d_v = 64, 8, 5
    q, k, v = torch.randn(T, d_k), torch.randn(T, d_k), torch.randn(T, d_v)
    with FlopCounterMode(display=False) as counter:
        linear_attention(q, k, v, causal=False)
    # the normaliser phi(Q) . zeta is an element-wise product and a sum here, not a matmul
    assert counter.get_total_flops() == linear_attention_cost(T, d_k, d_v).matmul - 2 * T * d_k
    with pytest.raises(ValueError, match="num_positions"):
        linear_attention_cost(0, 2, 2)

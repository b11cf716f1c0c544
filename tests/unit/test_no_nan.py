"""No NaN out of finite input, forward or backward, and a NaN that goes in is never hidden.

* A row with nothing to attend to (all masked, every allowed score -inf, or no
  keys at all) gets zero weights and a zero output, with finite gradients.
* Half precision does not overflow in the package's own arithmetic: scores are
  computed in float32 (checked against PyTorch's fused attention).
* NaN in: the PyTorch functions return NaN where PyTorch's own do (never zeros);
  the NumPy version refuses it with the same ValueError, mask or no mask.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import (
    AdditiveAttention,
    GroupedQueryAttention,
    MultiHeadAttention,
    masked_softmax,
    numpy_scaled_dot_product_attention,
    online_softmax,
    scaled_dot_product_attention,
    tiled_attention,
)

INF = float("inf")


def test_the_reported_row_whose_allowed_scores_are_all_minus_inf_gets_zero_weights():
    scores = torch.tensor([[-INF, 1.0, 2.0]], requires_grad=True)
    weights = masked_softmax(scores, torch.tensor([[True, False, False]]))
    assert torch.equal(weights, torch.zeros(1, 3))
    (weights * torch.arange(3.0)).sum().backward()
    assert torch.equal(scores.grad, torch.zeros(1, 3))


@settings(max_examples=80, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(0, 6)),
    minus_inf=st.floats(0.0, 1.0),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([torch.float16, torch.float32, torch.float64]),
)
def test_masked_and_online_softmax_are_finite_forward_and_backward(shape, minus_inf, density, seed, dtype):
    generator = torch.Generator().manual_seed(seed)
    scores = (torch.randn(shape, generator=generator) * 30).to(dtype)
    scores = scores.masked_fill(torch.rand(shape, generator=generator) < minus_inf, -INF)
    mask = torch.rand(shape, generator=generator) < density
    scores.requires_grad_(True)
    weights = masked_softmax(scores, mask)
    weights.sum().backward() if weights.numel() else None
    assert torch.isfinite(weights).all()
    assert scores.grad is None or torch.isfinite(scores.grad).all()
    sums = weights.double().sum(-1)
    nothing = ~((scores != -INF) & mask).any(-1)
    assert torch.all(torch.where(nothing, sums == 0, (sums - 1).abs() < 1e-2))
    assert torch.isfinite(online_softmax(scores.detach(), block_size=2)).all()


@st.composite
def attention_call(draw):
    batch, num_queries, num_keys = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(0, 5))
    size = draw(st.sampled_from([1.0, 100.0, 300.0]))  # 300: float16 scores beyond 65504
    seed = draw(st.integers(0, 2**16))
    density = draw(st.sampled_from([0.0, 0.5, 1.0]))
    dtype = draw(st.sampled_from([torch.float16, torch.float32, torch.float64]))
    generator = torch.Generator().manual_seed(seed)
    q = torch.rand(batch, num_queries, 4, generator=generator) * size
    k = torch.rand(batch, num_keys, 4, generator=generator) * size
    v = torch.randn(batch, num_keys, 3, generator=generator)
    mask = torch.rand(batch, num_queries, num_keys, generator=generator) < density
    return q.to(dtype), k.to(dtype), v.to(dtype), mask


@settings(max_examples=80, deadline=None)
@given(call=attention_call())
def test_attention_functions_are_finite_and_match_pytorch_in_every_dtype(call):
    q, k, v, mask = call
    expected = F.scaled_dot_product_attention(
        q.double(), k.double(), v.double(), attn_mask=mask | ~mask.any(-1, keepdim=True)
    ).masked_fill(~mask.any(-1, keepdim=True), 0.0)
    tolerance = 2e-2 if q.dtype == torch.float16 else 1e-4
    for requires_grad in (False, True):
        inputs = [x.clone().requires_grad_(requires_grad) for x in (q, k, v)]
        output, weights = scaled_dot_product_attention(*inputs, mask)
        tiled = tiled_attention(*inputs, block_size=2)
        for result in (output, weights, tiled):
            assert torch.isfinite(result).all()
        torch.testing.assert_close(output.double(), expected, atol=tolerance, rtol=tolerance)
        if mask.all():
            torch.testing.assert_close(tiled.double(), expected, atol=tolerance, rtol=tolerance)
        if requires_grad and output.numel():
            (output.float().sum() + tiled.float().sum()).backward()
            assert all(torch.isfinite(x.grad).all() for x in inputs)


def test_the_reported_float16_case_is_finite_and_equals_pytorch():
    q = torch.full((1, 1, 4), 300.0, dtype=torch.float16)
    expected = F.scaled_dot_product_attention(q, q, q)
    assert torch.equal(scaled_dot_product_attention(q, q, q)[0], expected)
    assert torch.equal(tiled_attention(q, q, q), expected)


@settings(max_examples=30, deadline=None)
@given(
    num_keys=st.integers(0, 4),
    density=st.sampled_from([0.0, 0.5, 1.0]),
    grouped=st.booleans(),
    need_weights=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_modules_are_finite_forward_and_backward_with_empty_rows(num_keys, density, grouped, need_weights, seed):
    torch.manual_seed(seed)
    module = GroupedQueryAttention(8, 4, 2) if grouped else MultiHeadAttention(8, 2)
    x = torch.randn(2, 3, 8, requires_grad=True)
    memory = torch.randn(2, num_keys, 8, requires_grad=True)
    mask = torch.rand(2, 3, num_keys) < density
    output, _ = module(x, memory, memory, mask, need_weights=need_weights)
    output.sum().backward()
    assert torch.isfinite(output).all()
    assert torch.isfinite(x.grad).all() and torch.isfinite(memory.grad).all()
    nothing = ~mask.any(-1)  # these queries see no key: the output is the bias of w_o
    torch.testing.assert_close(output[nothing], module.w_o.bias.expand_as(output[nothing]))
    additive = AdditiveAttention(8, 8, 4)
    out, weights = additive(x, memory, memory, mask)
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()


# ---------------------------------------------------------------- NaN in


def test_nan_in_a_query_comes_out_as_nan_in_that_row_only():
    q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
    q[1, 0] = float("nan")
    for mask in (None, torch.ones(3, 5, dtype=torch.bool)):
        output, _ = scaled_dot_product_attention(q, k, v, mask)
        assert torch.isnan(output[1]).all() and torch.isfinite(output[[0, 2]]).all()
        assert torch.isnan(tiled_attention(q, k, v)[1]).all()
    for module in (MultiHeadAttention(4, 2), GroupedQueryAttention(4, 2, 1)):
        for need_weights in (True, False):  # PyTorch's own kernel hides this NaN with d_head = 2
            output, _ = module(q[None], k[None], k[None], need_weights=need_weights)
            assert torch.isnan(output[0, 1]).all() and torch.isfinite(output[0, [0, 2]]).all()


def test_nan_in_the_value_of_a_masked_key_gives_nan_as_in_pytorch():
    """0 * NaN is NaN: the documented behaviour, the same as F.scaled_dot_product_attention."""
    q, k, v = torch.randn(2, 4), torch.randn(3, 4), torch.randn(3, 2)
    v[2] = float("nan")
    mask = torch.tensor([[True, True, False], [True, True, False]])
    output, weights = scaled_dot_product_attention(q, k, v, mask)
    assert torch.equal(weights[:, 2], torch.zeros(2))
    assert torch.isnan(output).all()
    assert torch.isnan(F.scaled_dot_product_attention(q, k, v, attn_mask=mask)).all()


@pytest.mark.parametrize("mask", [None, np.ones((2, 3), bool), np.array([[True, False, True]] * 2)])
@pytest.mark.parametrize("where", ["query", "key", "value"])
def test_numpy_attention_refuses_nan_with_the_same_error_mask_or_no_mask(mask, where):
    rng = np.random.default_rng(0)
    inputs = {"query": rng.normal(size=(2, 4)), "key": rng.normal(size=(3, 4)), "value": rng.normal(size=(3, 2))}
    inputs[where][0, 0] = np.nan
    with pytest.raises(ValueError, match=rf"{where} has a NaN or infinite entry \(nan at index \(0, 0\)"):
        numpy_scaled_dot_product_attention(**inputs, mask=mask)


def test_a_masked_score_is_never_read_whatever_it_holds_in_numpy_and_torch():
    from attention import numpy_masked_softmax

    scores = np.array([[np.nan, 1.0, 2.0], [np.inf, 0.0, 0.0]])
    mask = np.array([[False, True, True], [False, True, True]])
    expected = np.array([[0.0, 1 / (1 + np.e), np.e / (1 + np.e)], [0.0, 0.5, 0.5]])
    np.testing.assert_allclose(numpy_masked_softmax(scores, mask), expected)
    np.testing.assert_allclose(masked_softmax(torch.from_numpy(scores), torch.from_numpy(mask)).numpy(), expected)
    with pytest.raises(ValueError, match="scores has a NaN"):
        numpy_masked_softmax(scores, ~mask)  # now the NaN is read
    assert torch.isnan(masked_softmax(torch.from_numpy(scores), torch.from_numpy(~mask))[0]).all()

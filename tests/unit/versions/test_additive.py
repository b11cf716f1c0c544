"""Tests for AdditiveAttention (Bahdanau)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from attention import AdditiveAttention, causal_mask, padding_mask

SETTINGS = settings(max_examples=25, deadline=None)


def loop_reference(module: AdditiveAttention, query, key, value, mask):
    """Bahdanau's formula one query and one key at a time, in plain Python floats."""
    w_q, w_k, w_v = module.w_q.weight.tolist(), module.w_k.weight.tolist(), module.w_v.weight[0].tolist()
    batch, num_queries, num_keys = query.shape[0], query.shape[1], key.shape[1]
    weights = torch.zeros(batch, num_queries, num_keys, dtype=torch.float64)
    for b in range(batch):
        for i in range(num_queries):
            q = query[b, i].tolist()
            scores = {}
            for j in range(num_keys):
                if mask is not None and not mask.expand(batch, num_queries, num_keys)[b, i, j]:
                    continue
                k = key[b, j].tolist()
                hidden = [
                    math.tanh(sum(a * x for a, x in zip(row_q, q)) + sum(a * x for a, x in zip(row_k, k)))
                    for row_q, row_k in zip(w_q, w_k)
                ]
                scores[j] = sum(v * h for v, h in zip(w_v, hidden))
            if scores:
                top = max(scores.values())
                total = sum(math.exp(s - top) for s in scores.values())
                for j, s in scores.items():
                    weights[b, i, j] = math.exp(s - top) / total
    return weights @ value, weights


@st.composite
def additive_case(draw: st.DrawFn) -> dict:
    batch, num_queries, num_keys = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    query_size, key_size = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    hidden_size, value_size = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    torch.manual_seed(draw(st.integers(0, 2**32 - 1)))
    module = AdditiveAttention(query_size, key_size, hidden_size).double()
    mask = draw(st.sampled_from([None, "padding", "causal"]))
    if mask == "padding":
        mask = padding_mask(draw(st.lists(st.integers(0, num_keys), min_size=batch, max_size=batch)), num_keys)
    elif mask == "causal":
        num_keys = max(num_keys, num_queries)
        mask = causal_mask(num_queries, num_keys)
    query = torch.randn(batch, num_queries, query_size, dtype=torch.float64)
    key = torch.randn(batch, num_keys, key_size, dtype=torch.float64)
    value = torch.randn(batch, num_keys, value_size, dtype=torch.float64)
    return dict(module=module, query=query, key=key, value=value, mask=mask)


@SETTINGS
@given(additive_case())
def test_matches_the_formula_computed_by_hand(case):
    module = case.pop("module")
    output, weights = module(**case)
    expected_output, expected_weights = loop_reference(module, **case)
    torch.testing.assert_close(weights, expected_weights, rtol=0, atol=1e-12)
    torch.testing.assert_close(output, expected_output, rtol=0, atol=1e-12)


@SETTINGS
@given(additive_case())
def test_masked_keys_get_zero_and_blind_queries_give_zero(case):
    module = case.pop("module")
    output, weights = module(**case)
    mask = torch.ones(weights.shape, dtype=torch.bool) if case["mask"] is None else case["mask"].expand(weights.shape)
    assert torch.all(weights[~mask] == 0)
    has_a_key = mask.any(-1)
    torch.testing.assert_close(weights.sum(-1)[has_a_key], torch.ones_like(weights.sum(-1)[has_a_key]))
    assert torch.all(weights[~has_a_key] == 0) and torch.all(output[~has_a_key] == 0)
    assert torch.isfinite(output).all()


def test_members_are_the_three_bias_free_projections():
    module = AdditiveAttention(query_size=3, key_size=5, hidden_size=7)
    for linear, (inputs, outputs) in ((module.w_q, (3, 7)), (module.w_k, (5, 7)), (module.w_v, (7, 1))):
        assert isinstance(linear, nn.Linear)
        assert (linear.in_features, linear.out_features) == (inputs, outputs)
        assert linear.bias is None


@pytest.mark.slow
def test_gradcheck_with_a_mask():
    torch.manual_seed(0)
    module = AdditiveAttention(3, 4, 5).double()
    query = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    key = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
    value = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    mask = padding_mask([3, 0], 4)  # the second sequence is all padding

    def attend(q, k, v):
        return module(q, k, v, mask=mask)

    assert torch.autograd.gradcheck(attend, (query, key, value))


def test_gradients_reach_every_parameter():
    torch.manual_seed(1)
    module = AdditiveAttention(3, 4, 5)
    output, _ = module(torch.randn(2, 3, 3), torch.randn(2, 4, 4), torch.randn(2, 4, 2))
    output.square().sum().backward()
    for name, parameter in module.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_with_a_mask_is_finite(dtype):
    torch.manual_seed(2)
    module = AdditiveAttention(4, 4, 8).to(dtype)
    x = torch.randn(2, 5, 4, dtype=dtype)
    output, weights = module(x, x, x, mask=causal_mask(5) & padding_mask([5, 0], 5))
    assert torch.isfinite(output).all() and torch.isfinite(weights).all()
    assert torch.all(weights[1] == 0)


@pytest.mark.parametrize(
    ("shapes", "kwargs", "error", "message"),
    [
        (((2, 3, 5), (2, 4, 6), (2, 4, 2)), {}, ValueError,
         r"query must have shape \(\.\.\., positions, query_size=4\), got \(2, 3, 5\)"),
        (((2, 3, 4), (2, 4, 7), (2, 4, 2)), {}, ValueError,
         r"key must have shape \(\.\.\., positions, key_size=6\), got \(2, 4, 7\)"),
        (((2, 3, 4), (2, 7, 6), (2, 5, 2)), {}, ValueError, r"key has 7 positions but value has 5"),
        (((2, 3, 4), (3, 4, 6), (3, 4, 2)), {}, ValueError, r"batch dims do not broadcast: query \(2,\), key \(3,\)"),
        (((4,), (2, 4, 6), (2, 4, 2)), {}, ValueError, r"query must have shape \(\.\.\., positions, query_size=4\), got \(4,\)"),
        (((2, 3, 4), (2, 4, 6), (2, 4, 2)), {"mask": torch.ones(2, 3, 5, dtype=torch.bool)}, ValueError,
         r"mask of shape \(2, 3, 5\) does not broadcast to the scores of shape \(2, 3, 4\)"),
        (((2, 3, 4), (2, 4, 6), (2, 4, 2)), {"mask": torch.ones(2, 3, 4, dtype=torch.int8)}, TypeError,
         r"mask must be boolean.*torch\.int8"),
    ],
)
def test_bad_input_is_named_in_the_error(shapes, kwargs, error, message):
    module = AdditiveAttention(query_size=4, key_size=6, hidden_size=3)
    query, key, value = (torch.zeros(shape) for shape in shapes)
    with pytest.raises(error, match=message):
        module(query, key, value, **kwargs)

"""Tests for CrossAttention (version 4): keys and values projected from the input."""

from __future__ import annotations


import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from unit.references import float64_attention

from attention import CrossAttention, padding_mask, scaled_dot_product_attention

SETTINGS = settings(max_examples=30, deadline=None)


def reference(query, inputs, w_k, w_v, mask=None):
    """softmax(Q (X W_K)^T / sqrt(d_k)) X W_V in float64, written out from the formula.

    `w_k` and `w_v` are nn.Linear weights, (out, in): W_K = w_k.T.
    """
    x = inputs.double()
    return float64_attention(query, x @ w_k.double().T, x @ w_v.double().T, mask)


@st.composite
def cross_case(draw: st.DrawFn) -> dict:
    """A float64 module with random weights, a query, an input and an optional padding mask."""
    query_size, input_size, value_size = (draw(st.integers(1, 6)) for _ in range(3))
    batch, num_queries, num_keys = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 6))
    torch.manual_seed(draw(st.integers(0, 2**32 - 1)))
    module = CrossAttention(query_size, input_size, value_size).double()
    query = torch.randn(batch, num_queries, query_size, dtype=torch.float64)
    inputs = torch.randn(batch, num_keys, input_size, dtype=torch.float64)
    mask = None
    if draw(st.booleans()):  # every length >= 1: no query is left without keys
        lengths = draw(st.lists(st.integers(1, num_keys), min_size=batch, max_size=batch))
        mask = padding_mask(lengths, num_keys)  # (batch, 1, Tk)
    return dict(module=module, query=query, inputs=inputs, mask=mask)


@SETTINGS
@given(cross_case())
def test_matches_the_formula(case):
    module = case["module"]
    output, weights = module(case["query"], case["inputs"], case["mask"])
    expected_output, expected_weights = reference(
        case["query"], case["inputs"], module.w_k.weight, module.w_v.weight, case["mask"]
    )
    batch, num_queries, _ = case["query"].shape
    assert output.shape == (batch, num_queries, module.value_size)
    assert weights.shape == (batch, num_queries, case["inputs"].shape[1])
    torch.testing.assert_close(output, expected_output, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(cross_case(), st.randoms(use_true_random=False))
def test_permuting_the_inputs_permutes_only_the_weight_columns(case, random):
    """The input rows are a set of key-value pairs: their order does not change the output."""
    module, query, inputs = case["module"], case["query"], case["inputs"]
    order = list(range(inputs.shape[1]))
    random.shuffle(order)
    output, weights = module(query, inputs)
    shuffled_output, shuffled_weights = module(query, inputs[:, order])
    torch.testing.assert_close(shuffled_output, output, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(shuffled_weights, weights[:, :, order], rtol=1e-10, atol=1e-10)


@SETTINGS
@given(cross_case())
def test_new_inputs_change_keys_and_values_but_the_queries_stay_raw(case):
    """Attention with other inputs X2 is plain attention of the *same raw query* over X2 W_K, X2 W_V."""
    module, query, inputs = case["module"], case["query"], case["inputs"]
    other_inputs = torch.randn_like(inputs) * 3 + 1
    with torch.no_grad():
        for inputs_now in (inputs, other_inputs):
            output, weights = module(query, inputs_now)
            keys, values = module.w_k(inputs_now), module.w_v(inputs_now)
            expected_output, expected_weights = scaled_dot_product_attention(query, keys, values)
            torch.testing.assert_close(output, expected_output, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(weights, expected_weights, rtol=1e-12, atol=1e-12)
    assert {name for name, _ in module.named_parameters()} == {"w_k.weight", "w_v.weight"}


def test_new_inputs_change_the_result():
    torch.manual_seed(0)
    module = CrossAttention(3, 4, 2).double()
    query = torch.randn(1, 2, 3, dtype=torch.float64)
    inputs = torch.randn(1, 5, 4, dtype=torch.float64)
    output, weights = module(query, inputs)
    output2, weights2 = module(query, inputs.flip(-1))  # the same rows with features reversed
    assert (output - output2).abs().max() > 1e-3
    assert (weights - weights2).abs().max() > 1e-3


def test_identity_projections_give_back_version_3():
    """With W_K = W_V = I, cross-attention is attention over the raw input."""
    torch.manual_seed(1)
    module = CrossAttention(4, 4, 4).double()
    with torch.no_grad():
        module.w_k.weight.copy_(torch.eye(4))
        module.w_v.weight.copy_(torch.eye(4))
    query = torch.randn(2, 3, 4, dtype=torch.float64)
    inputs = torch.randn(2, 5, 4, dtype=torch.float64)
    output, weights = module(query, inputs)
    expected_output, expected_weights = scaled_dot_product_attention(query, inputs, inputs)
    torch.testing.assert_close(output, expected_output)
    torch.testing.assert_close(weights, expected_weights)


def test_keys_decide_the_weights_and_values_decide_the_output():
    """Changing W_V leaves the weights alone; changing W_K changes them."""
    torch.manual_seed(2)
    module = CrossAttention(3, 5, 2).double()
    query = torch.randn(1, 4, 3, dtype=torch.float64)
    inputs = torch.randn(1, 6, 5, dtype=torch.float64)
    _, weights = module(query, inputs)
    with torch.no_grad():
        module.w_v.weight.normal_()
    _, weights_new_values = module(query, inputs)
    torch.testing.assert_close(weights_new_values, weights, rtol=0, atol=0)
    with torch.no_grad():
        module.w_k.weight.normal_()
    _, weights_new_keys = module(query, inputs)
    assert (weights_new_keys - weights).abs().max() > 1e-3


def test_fully_masked_query_gets_zero_output():
    torch.manual_seed(3)
    module = CrossAttention(2, 3, 4)
    mask = torch.tensor([[True, False, True], [False, False, False]])  # (Tq, Tk)
    output, weights = module(torch.randn(1, 2, 2), torch.randn(1, 3, 3), mask)
    assert torch.equal(weights[0, 1], torch.zeros(3))
    assert torch.equal(output[0, 1], torch.zeros(4))
    assert weights[0, 0, 1] == 0.0
    torch.testing.assert_close(weights[0, 0].sum(), torch.tensor(1.0))


def test_gradcheck():
    torch.manual_seed(4)
    module = CrossAttention(2, 3, 2).double()
    query = torch.randn(2, 2, 2, dtype=torch.float64, requires_grad=True)
    inputs = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    mask = padding_mask([3, 2], 3)
    w_k, w_v = module.w_k.weight, module.w_v.weight

    def run(query, inputs, w_k_weight, w_v_weight):
        params = {"w_k.weight": w_k_weight, "w_v.weight": w_v_weight}
        return torch.func.functional_call(module, params, (query, inputs, mask))

    assert torch.autograd.gradcheck(run, (query, inputs, w_k.detach().requires_grad_(),
                                          w_v.detach().requires_grad_()))


@pytest.mark.parametrize(
    ("query_shape", "inputs_shape", "message"),
    [
        ((1, 2, 5), (1, 3, 4), r"query must have shape \(\.\.\., positions, query_size=3\), got \(1, 2, 5\)"),
        ((1, 2, 3), (1, 3, 6), r"inputs must have shape \(\.\.\., positions, input_size=4\), got \(1, 3, 6\)"),
        ((3,), (1, 3, 4), r"query must have shape .* got \(3,\)"),
        ((2, 2, 3), (3, 3, 4), r"batch dims do not broadcast"),
    ],
)
def test_shape_errors_name_the_shapes(query_shape, inputs_shape, message):
    module = CrossAttention(3, 4, 2)
    with pytest.raises(ValueError, match=message):
        module(torch.randn(query_shape), torch.randn(inputs_shape))


def test_mask_errors():
    module = CrossAttention(3, 4, 2)
    query, inputs = torch.randn(1, 2, 3), torch.randn(1, 5, 4)
    with pytest.raises(ValueError, match=r"mask of shape \(2, 4\) does not broadcast .* \(1, 2, 5\)"):
        module(query, inputs, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask must be boolean"):
        module(query, inputs, torch.ones(2, 5))


def test_type_errors():
    module = CrossAttention(3, 4, 2)
    with pytest.raises(TypeError, match="query must be a torch.Tensor"):
        module([[[0.0, 0.0, 0.0]]], torch.randn(1, 5, 4))
    with pytest.raises(TypeError, match="inputs must be floating point"):
        module(torch.randn(1, 2, 3), torch.ones(1, 5, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"query has dtype torch.float64 but the module's weights are torch.float32"):
        module(torch.randn(1, 2, 3, dtype=torch.float64), torch.randn(1, 5, 4))


@pytest.mark.parametrize("sizes", [(0, 4, 2), (3, -1, 2), (3, 4, 2.5), (True, 4, 2)])
def test_bad_sizes(sizes):
    with pytest.raises((ValueError, TypeError), match="query_size|input_size|value_size"):
        CrossAttention(*sizes)


def test_repr_names_the_sizes():
    assert "query_size=3, input_size=4, value_size=2" in repr(CrossAttention(3, 4, 2))

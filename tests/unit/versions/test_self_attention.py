"""Tests for SelfAttention (version 5): queries, keys and values from the same sequence."""

from __future__ import annotations


import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from unit.references import float64_attention

from attention import CrossAttention, SelfAttention, causal_mask, padding_mask

SETTINGS = settings(max_examples=30, deadline=None)


def reference(x, w_q, w_k, w_v, mask=None):
    """softmax(X W_Q (X W_K)^T / sqrt(d_k)) X W_V in float64, from the formula.

    The arguments are nn.Linear weights, (out, in): W_Q = w_q.T and so on.
    """
    x = x.double()
    return float64_attention(x @ w_q.double().T, x @ w_k.double().T, x @ w_v.double().T, mask)


@st.composite
def self_case(draw: st.DrawFn) -> dict:
    """A float64 module with random weights and an input (batch, T, d_model)."""
    d_model = draw(st.integers(1, 6))
    d_k, d_v = draw(st.none() | st.integers(1, 6)), draw(st.none() | st.integers(1, 6))
    batch, length = draw(st.integers(1, 3)), draw(st.integers(1, 6))
    torch.manual_seed(draw(st.integers(0, 2**32 - 1)))
    module = SelfAttention(d_model, d_k, d_v).double()
    x = torch.randn(batch, length, d_model, dtype=torch.float64)
    return dict(module=module, x=x)


@SETTINGS
@given(self_case(), st.sampled_from(["none", "causal", "padding"]), st.data())
def test_matches_the_formula(case, mask_kind, data):
    module, x = case["module"], case["x"]
    batch, length, _ = x.shape
    mask = None
    if mask_kind == "causal":
        mask = causal_mask(length)  # (T, T)
    elif mask_kind == "padding":
        lengths = data.draw(st.lists(st.integers(1, length), min_size=batch, max_size=batch))
        mask = padding_mask(lengths, length)  # (batch, 1, T)
    output, weights = module(x, mask)
    expected_output, expected_weights = reference(
        x, module.w_q.weight, module.w_k.weight, module.w_v.weight, mask
    )
    assert output.shape == (batch, length, module.d_v)
    assert weights.shape == (batch, length, length)
    torch.testing.assert_close(output, expected_output, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(self_case(), st.randoms(use_true_random=False))
def test_permutation_equivariance(case, random):
    """Shuffling the tokens shuffles the outputs, and the weights' rows and columns, the same way."""
    module, x = case["module"], case["x"]
    order = list(range(x.shape[1]))
    random.shuffle(order)
    output, weights = module(x)
    shuffled_output, shuffled_weights = module(x[:, order])
    torch.testing.assert_close(shuffled_output, output[:, order], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(shuffled_weights, weights[:, order][:, :, order], rtol=1e-10, atol=1e-10)


@SETTINGS
@given(self_case(), st.data())
def test_causal_mask_makes_earlier_outputs_independent_of_later_tokens(case, data):
    module, x = case["module"], case["x"]
    length = x.shape[1]
    t = data.draw(st.integers(0, length - 1))  # positions 0..t are kept, the rest changed
    changed = x.clone()
    changed[:, t + 1:] = torch.randn_like(changed[:, t + 1:]) * 5
    output, weights = module(x, causal_mask(length))
    changed_output, changed_weights = module(changed, causal_mask(length))
    torch.testing.assert_close(changed_output[:, : t + 1], output[:, : t + 1], rtol=0, atol=0)
    torch.testing.assert_close(changed_weights[:, : t + 1], weights[:, : t + 1], rtol=0, atol=0)
    assert torch.all(weights.triu(diagonal=1) == 0)


def test_without_the_mask_later_tokens_do_matter():
    """The counterpart of the causal test: it can fail, because unmasked outputs do change."""
    torch.manual_seed(0)
    module = SelfAttention(4).double()
    x = torch.randn(1, 5, 4, dtype=torch.float64)
    changed = x.clone()
    changed[:, -1] += 3.0
    assert (module(changed)[0][:, 0] - module(x)[0][:, 0]).abs().max() > 1e-3


def test_is_cross_attention_with_projected_queries():
    """Version 5 = version 4 whose queries are X W_Q, computed from the same X."""
    torch.manual_seed(1)
    module = SelfAttention(6, d_k=3, d_v=2).double()
    cross = CrossAttention(query_size=3, input_size=6, value_size=2).double()
    cross.load_state_dict({"w_k.weight": module.w_k.weight, "w_v.weight": module.w_v.weight})
    x = torch.randn(2, 4, 6, dtype=torch.float64)
    with torch.no_grad():
        expected = cross(module.w_q(x), x)
        got = module(x)
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=0)
    torch.testing.assert_close(got[1], expected[1], rtol=0, atol=0)


def test_matches_one_head_of_torch_multihead_attention():
    """nn.MultiheadAttention with one head, no bias and W_O = I is our self-attention."""
    torch.manual_seed(2)
    d_model = 6
    ours = SelfAttention(d_model).double()
    torch_attention = nn.MultiheadAttention(d_model, 1, bias=False, batch_first=True).double()
    with torch.no_grad():
        torch_attention.in_proj_weight.copy_(
            torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight])
        )
        torch_attention.out_proj.weight.copy_(torch.eye(d_model))
    x = torch.randn(3, 5, d_model, dtype=torch.float64)
    mask = causal_mask(5)
    output, weights = ours(x, mask)
    expected_output, expected_weights = torch_attention(x, x, x, attn_mask=~mask)  # True = blocked there
    torch.testing.assert_close(output, expected_output)
    torch.testing.assert_close(weights, expected_weights)


def test_default_sizes():
    module = SelfAttention(5)
    assert (module.d_k, module.d_v) == (5, 5)
    assert module.w_q.weight.shape == module.w_k.weight.shape == module.w_v.weight.shape == (5, 5)
    assert all(linear.bias is None for linear in (module.w_q, module.w_k, module.w_v))
    assert {name for name, _ in module.named_parameters()} == {"w_q.weight", "w_k.weight", "w_v.weight"}


def test_gradcheck():
    torch.manual_seed(3)
    module = SelfAttention(3, d_k=2, d_v=2).double()
    x = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    mask = causal_mask(3)
    names = ["w_q.weight", "w_k.weight", "w_v.weight"]
    params = [module.get_parameter(n).detach().requires_grad_() for n in names]

    def run(x, *weights):
        return torch.func.functional_call(module, dict(zip(names, weights)), (x, mask))

    assert torch.autograd.gradcheck(run, (x, *params))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((2, 5, 3), r"x must have shape \(\.\.\., positions, d_model=4\), got \(2, 5, 3\)"),
        ((4,), r"x must have shape \(\.\.\., positions, d_model=4\), got \(4,\)"),
    ],
)
def test_shape_errors_name_the_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        SelfAttention(4)(torch.randn(shape))


def test_mask_and_type_errors():
    module = SelfAttention(4)
    x = torch.randn(1, 3, 4)
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4\) does not broadcast .* \(1, 3, 3\)"):
        module(x, causal_mask(4))
    with pytest.raises(TypeError, match="mask must be boolean"):
        module(x, torch.ones(3, 3))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        module(x.numpy())
    with pytest.raises(TypeError, match="x has dtype torch.float64 but the module's weights are torch.float32"):
        module(x.double())


@pytest.mark.parametrize("sizes", [(0,), (4, 0), (4, None, -2), (4.0,)])
def test_bad_sizes(sizes):
    with pytest.raises((ValueError, TypeError), match="d_model|d_k|d_v"):
        SelfAttention(*sizes)


def test_repr_names_the_sizes():
    assert "d_model=8, d_k=4, d_v=2" in repr(SelfAttention(8, 4, 2))

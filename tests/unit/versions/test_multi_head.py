"""Tests for MultiHeadAttention, against torch.nn.MultiheadAttention among others."""

from __future__ import annotations


import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from attention import MultiHeadAttention, causal_mask, padding_mask

SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def torch_module_case(draw: st.DrawFn) -> dict:
    """A float64 nn.MultiheadAttention, inputs, masks in both conventions, call options."""
    num_heads, d_head = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    batch, num_queries = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    self_attention = draw(st.booleans())
    num_keys = num_queries if self_attention else draw(st.integers(num_queries, 6))
    batch_first, bias = draw(st.booleans()), draw(st.booleans())
    torch.manual_seed(draw(st.integers(0, 2**32 - 1)))
    module = nn.MultiheadAttention(num_heads * d_head, num_heads, bias=bias, batch_first=batch_first)
    module = module.double().eval()
    for parameter in module.parameters():  # biases start at 0: make them matter
        nn.init.normal_(parameter)
    query = torch.randn(batch, num_queries, num_heads * d_head, dtype=torch.float64)
    key = query if self_attention else torch.randn(batch, num_keys, num_heads * d_head, dtype=torch.float64)
    value = query if self_attention else torch.randn(batch, num_keys, num_heads * d_head, dtype=torch.float64)

    ours_mask, key_padding_mask, attn_mask = None, None, None
    mask_kind = draw(st.sampled_from(["none", "padding", "causal", "both"]))
    if mask_kind in ("padding", "both"):  # every length >= 1, so no query is left without keys
        lengths = draw(st.lists(st.integers(1, num_keys), min_size=batch, max_size=batch))
        ours_mask = padding_mask(lengths, num_keys)  # (batch, 1, Tk)
        key_padding_mask = ~ours_mask[:, 0, :]  # (batch, Tk), True = blocked
    if mask_kind in ("causal", "both"):
        causal = causal_mask(num_queries, num_keys)  # (Tq, Tk)
        ours_mask = causal if ours_mask is None else ours_mask & causal  # (batch, Tq, Tk)
        attn_mask = ~causal  # True = blocked
    return dict(
        module=module, query=query, key=key, value=value, ours_mask=ours_mask,
        key_padding_mask=key_padding_mask, attn_mask=attn_mask,
        need_weights=draw(st.booleans()), average_attn_weights=draw(st.booleans()),
    )


@SETTINGS
@given(torch_module_case())
def test_from_torch_computes_what_pytorch_computes(case):
    module = case["module"]
    ours = MultiHeadAttention.from_torch(module)
    output, weights = ours(case["query"], case["key"], case["value"], mask=case["ours_mask"],
                           need_weights=case["need_weights"])

    query, key, value = case["query"], case["key"], case["value"]
    if not module.batch_first:  # (batch, T, d_model) -> (T, batch, d_model)
        query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
    expected_output, expected_weights = module(
        query, key, value, key_padding_mask=case["key_padding_mask"], attn_mask=case["attn_mask"],
        need_weights=case["need_weights"], average_attn_weights=case["average_attn_weights"],
    )
    if not module.batch_first:
        expected_output = expected_output.transpose(0, 1)
    torch.testing.assert_close(output, expected_output, rtol=0, atol=1e-10)
    if not case["need_weights"]:
        assert weights is None
    elif case["average_attn_weights"]:
        torch.testing.assert_close(weights.mean(dim=1), expected_weights, rtol=0, atol=1e-10)
    else:
        batch, num_queries, num_keys = case["query"].shape[0], case["query"].shape[1], case["key"].shape[1]
        assert weights.shape == (batch, module.num_heads, num_queries, num_keys)
        torch.testing.assert_close(weights, expected_weights, rtol=0, atol=1e-10)


def test_from_torch_copies_dtype_training_mode_and_bias_choice():
    module = nn.MultiheadAttention(6, 2, bias=False, dropout=0.25).float().train()
    ours = MultiHeadAttention.from_torch(module)
    assert ours.training and ours.dropout.p == 0.25 and ours.num_heads == 2 and ours.d_head == 3
    assert all(linear.bias is None for linear in (ours.w_q, ours.w_k, ours.w_v, ours.w_o))
    assert MultiHeadAttention.from_torch(module.double().eval()).w_q.weight.dtype == torch.float64
    assert not MultiHeadAttention.from_torch(module).training


@pytest.mark.parametrize(
    ("module", "error", "message"),
    [
        (nn.MultiheadAttention(8, 2, kdim=4), ValueError, r"kdim=4 and vdim=8 must equal embed_dim=8"),
        (nn.MultiheadAttention(8, 2, vdim=5), ValueError, r"kdim=8 and vdim=5 must equal embed_dim=8"),
        (nn.MultiheadAttention(8, 2, add_bias_kv=True), ValueError, r"add_bias_kv=True is not supported"),
        (nn.MultiheadAttention(8, 2, add_zero_attn=True), ValueError, r"add_zero_attn=True is not supported"),
        (nn.Linear(8, 8), TypeError, r"from_torch takes an nn\.MultiheadAttention, got Linear"),
    ],
)
def test_from_torch_rejects_what_it_cannot_copy(module, error, message):
    with pytest.raises(error, match=message):
        MultiHeadAttention.from_torch(module)


def make_module(d_model: int = 8, num_heads: int = 2, **kwargs) -> MultiHeadAttention:
    torch.manual_seed(0)
    return MultiHeadAttention(d_model, num_heads, **kwargs).double().eval()


def test_all_mask_shapes_mean_the_same_thing():
    module = make_module()
    torch.manual_seed(1)
    query, key = torch.randn(3, 4, 8, dtype=torch.float64), torch.randn(3, 5, 8, dtype=torch.float64)
    per_key = padding_mask([5, 2, 3], 5)  # (batch, 1, Tk)
    per_query = per_key & causal_mask(4, 5)  # (batch, Tq, Tk)
    for mask in (per_key, per_query, causal_mask(4, 5)):
        per_head = mask.expand(3, 4, 5)[:, None].expand(3, 2, 4, 5)  # (batch, heads, Tq, Tk)
        output, weights = module(query, key, key, mask=mask)
        expected_output, expected_weights = module(query, key, key, mask=per_head)
        torch.testing.assert_close(output, expected_output, rtol=0, atol=0)
        torch.testing.assert_close(weights, expected_weights, rtol=0, atol=0)
        assert torch.all(weights[~per_head] == 0)


def test_heads_may_have_different_masks():
    module = make_module()
    x = torch.randn(1, 3, 8, dtype=torch.float64)
    mask = torch.stack([causal_mask(3), torch.ones(3, 3, dtype=torch.bool)])[None]  # (1, heads, Tq, Tk)
    _, weights = module(x, x, x, mask=mask)
    assert torch.all(weights[0, 0].triu(1) == 0) and torch.all(weights[0, 1] > 0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("need_weights", [True, False])
def test_query_with_no_allowed_key_gives_zero_heads_and_finite_gradients(dtype, need_weights):
    torch.manual_seed(2)
    module = MultiHeadAttention(8, 2).to(dtype)
    x = torch.randn(2, 4, 8, dtype=dtype, requires_grad=True)
    mask = causal_mask(4) & padding_mask([4, 0], 4)  # sequence 1 is all padding
    output, weights = module(x, x, x, mask=mask, need_weights=need_weights)
    assert torch.isfinite(output).all()
    # With every head's output zero, what is left is the bias of the output projection.
    torch.testing.assert_close(output[1], module.w_o.bias.expand(4, 8), rtol=0, atol=0)
    if need_weights:
        assert torch.all(weights[1] == 0)
    output.float().square().sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in module.parameters())


@pytest.mark.parametrize("mask", [None, causal_mask(5), padding_mask([5, 3, 1], 5), causal_mask(5) & padding_mask([5, 0, 2], 5)])
def test_fused_path_without_weights_gives_the_same_output(mask):
    module = make_module()
    torch.manual_seed(3)
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    output, _ = module(x, x, x, mask=mask)
    fast, weights = module(x, x, x, mask=mask, need_weights=False)
    assert weights is None
    torch.testing.assert_close(fast, output, rtol=0, atol=1e-12)


def test_fused_path_gives_zeros_even_if_pytorch_gave_nan(monkeypatch):
    """Some PyTorch versions and backends return NaN for a query with no allowed key."""

    def attention_with_an_additive_mask(query, key, value, attn_mask=None, dropout_p=0.0):
        scores = (query @ key.transpose(-2, -1)) / query.shape[-1] ** 0.5
        if attn_mask is not None:  # -inf added, as many fused kernels do: NaN rows, NaN gradients
            scores = scores + torch.zeros(attn_mask.shape, dtype=scores.dtype).masked_fill(~attn_mask, float("-inf"))
        return torch.softmax(scores, dim=-1) @ value

    module = make_module()
    x = torch.randn(3, 5, 8, dtype=torch.float64, requires_grad=True)
    mask = causal_mask(5) & padding_mask([5, 0, 2], 5)
    expected, _ = module(x, x, x, mask=mask)
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", attention_with_an_additive_mask)
    fast, _ = module(x, x, x, mask=mask, need_weights=False)
    torch.testing.assert_close(fast, expected, rtol=0, atol=1e-12)
    fast.square().sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("need_weights", [True, False])
def test_dropout_acts_only_in_training(need_weights):
    module = make_module(dropout=0.5)
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    evaluated, _ = module(x, x, x, need_weights=need_weights)
    evaluated_again, _ = module(x, x, x, need_weights=need_weights)
    torch.testing.assert_close(evaluated, evaluated_again, rtol=0, atol=0)
    module.train()
    trained, _ = module(x, x, x, need_weights=need_weights)
    assert not torch.allclose(trained, evaluated)
    no_dropout = make_module(dropout=0.0).train()
    torch.testing.assert_close(no_dropout(x, x, x, need_weights=need_weights)[0], evaluated, rtol=0, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    length=st.integers(2, 7), position=st.data(), heads=st.sampled_from([1, 2, 4]),
    need_weights=st.booleans(), seed=st.integers(0, 2**32 - 1),
)
def test_causal_self_attention_never_looks_ahead(length, position, heads, need_weights, seed):
    module = make_module(num_heads=heads)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, length, 8, generator=generator, dtype=torch.float64)
    changed_from = position.draw(st.integers(1, length - 1))
    x_changed = x.clone()
    x_changed[:, changed_from:] = torch.randn(2, length - changed_from, 8, generator=generator, dtype=torch.float64)
    output, _ = module(x, x, x, mask=causal_mask(length), need_weights=need_weights)
    output_changed, _ = module(x_changed, x_changed, x_changed, mask=causal_mask(length), need_weights=need_weights)
    torch.testing.assert_close(output_changed[:, :changed_from], output[:, :changed_from], rtol=0, atol=1e-12)
    assert not torch.allclose(output_changed[:, changed_from:], output[:, changed_from:])


@settings(max_examples=25, deadline=None)
@given(length=st.integers(2, 7), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_self_attention_without_mask_is_permutation_equivariant(length, data, seed):
    module = make_module()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, length, 8, generator=generator, dtype=torch.float64)
    order = torch.tensor(data.draw(st.permutations(range(length))))
    output, weights = module(x, x, x)
    permuted_output, permuted_weights = module(x[:, order], x[:, order], x[:, order])
    torch.testing.assert_close(permuted_output, output[:, order], rtol=0, atol=1e-12)
    torch.testing.assert_close(permuted_weights, weights[:, :, order][:, :, :, order], rtol=0, atol=1e-12)


@pytest.mark.parametrize("need_weights", [True, False])
def test_gradcheck_with_a_mask(need_weights):
    module = make_module(d_model=4, num_heads=2)
    torch.manual_seed(4)
    query = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    key = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
    value = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
    mask = padding_mask([4, 2], 4) & causal_mask(3, 4)

    def attend(q, k, v):
        return module(q, k, v, mask=mask, need_weights=need_weights)[0]

    assert torch.autograd.gradcheck(attend, (query, key, value))


def test_split_and_combine_heads_are_inverse_and_slice_the_features():
    module = make_module(d_model=12, num_heads=3)
    x = torch.randn(2, 5, 12)
    heads = module.split_heads(x)
    assert heads.shape == (2, 3, 5, 4)
    for h in range(3):
        assert torch.equal(heads[:, h], x[..., 4 * h: 4 * (h + 1)])
    assert torch.equal(module.combine_heads(heads), x)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((10, 3), ValueError, r"d_model=10 is not divisible by num_heads=3"),
        ((8, 0), ValueError, r"num_heads must be positive, got 0"),
        ((8, -2), ValueError, r"num_heads must be positive, got -2"),
        ((8.0, 2), TypeError, r"d_model must be an integer, got 8\.0"),
    ],
)
def test_bad_sizes_are_named(args, error, message):
    with pytest.raises(error, match=message):
        MultiHeadAttention(*args)


@pytest.mark.parametrize(
    ("shapes", "mask", "error", "message"),
    [
        (((2, 3, 6), (2, 4, 8), (2, 4, 8)), None, ValueError,
         r"query must have shape \(batch, positions, d_model=8\), got \(2, 3, 6\)"),
        (((3, 8), (4, 8), (4, 8)), None, ValueError, r"query must have shape .* got \(3, 8\)"),
        (((2, 3, 8), (2, 7, 8), (2, 5, 8)), None, ValueError, r"key has 7 positions but value has 5"),
        (((2, 3, 8), (3, 4, 8), (3, 4, 8)), None, ValueError, r"batch sizes differ: query shape \(2, 3, 8\), key shape \(3, 4, 8\)"),
        (((1, 3, 8), (3, 4, 8), (3, 4, 8)), None, ValueError, r"batch sizes differ: query shape \(1, 3, 8\)"),
        (((2, 3, 8), (2, 4, 8), (2, 4, 8)), torch.ones(2, 4, 4, dtype=torch.bool), ValueError,
         r"mask of shape \(2, 4, 4\) does not broadcast to the scores of shape \(2, 3, 4\)"),
        (((2, 3, 8), (2, 4, 8), (2, 4, 8)), torch.ones(2, 3, 3, 4, dtype=torch.bool), ValueError,
         r"mask of shape \(2, 3, 3, 4\) does not broadcast to the scores of shape \(2, 2, 3, 4\)"),
        (((2, 3, 8), (2, 4, 8), (2, 4, 8)), torch.ones(2, 3, 4), TypeError, r"mask must be boolean.*torch\.float32"),
    ],
)
def test_bad_input_is_named_in_the_error(shapes, mask, error, message):
    module = MultiHeadAttention(8, 2)
    query, key, value = (torch.zeros(shape) for shape in shapes)
    with pytest.raises(error, match=message):
        module(query, key, value, mask=mask)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
def test_self_attention_with_one_stacked_projection_equals_three_projections(bias, need_weights):
    """query is key is value takes the one (3 d_model, d_model) product; copies take three."""
    module = make_module(bias=bias)
    x = torch.randn(2, 5, 8, dtype=torch.float64, requires_grad=True)
    output, weights = module(x, x, x, mask=causal_mask(5), need_weights=need_weights)
    copies = x.clone(), x.clone()
    expected, expected_weights = module(x, *copies, mask=causal_mask(5), need_weights=need_weights)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-12)
    if need_weights:
        torch.testing.assert_close(weights, expected_weights, rtol=0, atol=1e-12)
    parameters = [x, *module.parameters()]
    grads = torch.autograd.grad(output.sum(), parameters)
    expected_grads = torch.autograd.grad(expected.sum(), parameters)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-12)


def test_projections_are_the_public_linear_layers():
    module = make_module()
    x = torch.randn(1, 3, 8, dtype=torch.float64)
    q, k, v = module.project(x, x, x)
    for projected, linear in ((q, module.w_q), (k, module.w_k), (v, module.w_v)):
        torch.testing.assert_close(projected, linear(x), rtol=0, atol=1e-12)

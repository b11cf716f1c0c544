"""Tests for scaled_dot_product_attention and masked_softmax (PyTorch)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from attention import causal_mask, masked_softmax, padding_mask, scaled_dot_product_attention

ALL_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
SETTINGS = settings(max_examples=40, deadline=None)


def random_mask(generator: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    """A random bool mask of `shape` (..., Tq or 1, Tk) in which every row allows at least one key."""
    mask = torch.rand(shape, generator=generator, dtype=torch.float64) < 0.6
    keep = torch.randint(shape[-1], shape[:-1] + (1,), generator=generator)
    return mask.scatter(-1, keep, True)


@st.composite
def attention_case(draw: st.DrawFn) -> dict:
    """Random query/key/value with broadcasting batch dims, an optional mask and scale."""
    batch = draw(st.lists(st.integers(1, 3), max_size=2))

    def batch_variant() -> tuple[int, ...]:
        # Some dims set to 1 and some leading dims dropped: still broadcasts to `batch`.
        dims = [n if draw(st.booleans()) else 1 for n in batch]
        return tuple(dims[draw(st.integers(0, len(dims))):])

    num_queries, num_keys = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    d_k, d_v = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
    query = torch.randn(batch_variant() + (num_queries, d_k), generator=generator, dtype=torch.float64)
    key = torch.randn(batch_variant() + (num_keys, d_k), generator=generator, dtype=torch.float64)
    value = torch.randn(batch_variant() + (num_keys, d_v), generator=generator, dtype=torch.float64)
    scores_batch = tuple(np.broadcast_shapes(query.shape[:-2], key.shape[:-2]))
    mask_kind = draw(st.sampled_from(["none", "full", "per-key", "matrix", "causal"]))
    mask = {
        "none": None,
        "full": lambda: random_mask(generator, scores_batch + (num_queries, num_keys)),
        "per-key": lambda: random_mask(generator, scores_batch + (1, num_keys)),
        "matrix": lambda: random_mask(generator, (num_queries, num_keys)),
        "causal": lambda: causal_mask(num_queries, max(num_queries, num_keys)),
    }[mask_kind]
    mask = mask() if mask is not None else None
    if mask_kind == "causal":
        key, value = (torch.randn(x.shape[:-2] + (mask.shape[-1], x.shape[-1]), generator=generator,
                                  dtype=torch.float64) for x in (key, value))
    scale = draw(st.none() | st.floats(0.05, 3.0))
    return dict(query=query, key=key, value=value, mask=mask, scale=scale)


def reference_weights(query, key, mask, scale) -> np.ndarray:
    """The attention weights straight from the formula, in float64 NumPy."""
    q, k = query.numpy(), key.numpy()
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = np.einsum("...qd,...kd->...qk", q, k) * scale
    if mask is not None:
        scores = np.where(mask.numpy(), scores, -np.inf)
    exps = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


def torch_reference_output(query, key, value, mask, scale) -> torch.Tensor:
    """PyTorch's own attention, on explicitly broadcast tensors."""
    batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    query = query.expand(batch + query.shape[-2:])
    key = key.expand(batch + key.shape[-2:])
    value = value.expand(batch + value.shape[-2:])
    if mask is not None:
        mask = mask.expand(batch + (query.shape[-2], key.shape[-2]))
    return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=scale)


@SETTINGS
@given(attention_case())
def test_matches_pytorch_and_the_formula(case):
    output, weights = scaled_dot_product_attention(**case)
    expected_weights = reference_weights(case["query"], case["key"], case["mask"], case["scale"])
    expected_output = torch_reference_output(**case)
    assert weights.shape == expected_weights.shape
    np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=0, atol=1e-10)
    torch.testing.assert_close(output, expected_output, rtol=0, atol=1e-10)


@SETTINGS
@given(attention_case())
def test_rows_sum_to_one_and_masked_keys_get_exactly_zero(case):
    _, weights = scaled_dot_product_attention(**case)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1], dtype=weights.dtype))
    if case["mask"] is not None:
        blocked = ~case["mask"].expand(weights.shape)
        assert torch.all(weights[blocked] == 0)
        assert torch.all(weights[~blocked] > 0)


def test_scale_defaults_to_one_over_sqrt_dk():
    generator = torch.Generator().manual_seed(0)
    query, key, value = (torch.randn(3, 9, generator=generator, dtype=torch.float64) for _ in range(3))
    default, _ = scaled_dot_product_attention(query, key, value)
    explicit, _ = scaled_dot_product_attention(query, key, value, scale=1 / 3)
    other, _ = scaled_dot_product_attention(query, key, value, scale=1.0)
    torch.testing.assert_close(default, explicit, rtol=0, atol=1e-15)
    assert not torch.allclose(default, other)


def test_padding_mask_hides_padded_keys_from_every_query():
    generator = torch.Generator().manual_seed(1)
    query = torch.randn(2, 3, 4, generator=generator)
    key = torch.randn(2, 5, 4, generator=generator)
    value = torch.randn(2, 5, 2, generator=generator)
    output, weights = scaled_dot_product_attention(query, key, value, mask=padding_mask([2, 5], 5))
    assert torch.all(weights[0, :, 2:] == 0)
    assert torch.all(weights[1] > 0)
    # Garbage in the padding does not reach the output.
    value_with_garbage = value.clone()
    value_with_garbage[0, 2:] = 1e6
    output_again, _ = scaled_dot_product_attention(query, key, value_with_garbage, mask=padding_mask([2, 5], 5))
    torch.testing.assert_close(output_again, output, rtol=0, atol=0)


class TimesTwo(nn.Module):
    """A stand-in for dropout that makes its effect easy to see."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x


def test_dropout_is_applied_to_the_weights_before_the_values():
    generator = torch.Generator().manual_seed(2)
    query, key, value = (torch.randn(2, 4, 3, generator=generator) for _ in range(3))
    plain_output, plain_weights = scaled_dot_product_attention(query, key, value)
    output, weights = scaled_dot_product_attention(query, key, value, dropout=TimesTwo())
    torch.testing.assert_close(weights, 2 * plain_weights)
    torch.testing.assert_close(output, 2 * plain_output)


def test_real_dropout_in_training_zeroes_some_weights():
    torch.manual_seed(3)
    query, key, value = (torch.randn(4, 8, 3) for _ in range(3))
    output, weights = scaled_dot_product_attention(query, key, value, dropout=nn.Dropout(0.5).train())
    assert torch.any(weights == 0)
    torch.testing.assert_close(output, weights @ value)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_fully_masked_query_gives_zeros_and_finite_gradients(dtype):
    generator = torch.Generator().manual_seed(4)
    query = torch.randn(2, 3, 4, generator=generator).to(dtype).requires_grad_()
    key = torch.randn(2, 5, 4, generator=generator).to(dtype).requires_grad_()
    value = torch.randn(2, 5, 6, generator=generator).to(dtype).requires_grad_()
    mask = torch.ones(2, 3, 5, dtype=torch.bool)
    mask[0, 1] = False  # query 1 of sequence 0 may see nothing
    mask[1, :, 3:] = False
    output, weights = scaled_dot_product_attention(query, key, value, mask=mask)
    assert torch.all(weights[0, 1] == 0) and torch.all(output[0, 1] == 0)
    assert torch.isfinite(output).all() and torch.isfinite(weights).all()
    (output.float().sum() + weights.float().square().sum()).backward()
    for x in (query, key, value):
        assert torch.isfinite(x.grad).all()
    assert torch.all(query.grad[0, 1] == 0)  # nothing depends on the blind query


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_no_nan_is_computed_anywhere_not_even_in_the_backward_pass():
    scores = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(2, 3, 4, dtype=torch.bool)
    mask[0, 1] = False
    with torch.autograd.detect_anomaly():  # raises if a backward step yields NaN
        masked_softmax(scores, mask).square().sum().backward()
    assert torch.all(scores.grad[0, 1] == 0) and torch.all(scores.grad[1] != 0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_with_masks_is_finite_and_close_to_float64(dtype):
    generator = torch.Generator().manual_seed(5)
    query, key, value = (torch.randn(3, 6, 8, generator=generator, dtype=torch.float64) for _ in range(3))
    mask = causal_mask(6) & padding_mask([6, 4, 1], 6)  # (3, 6, 6)
    expected, expected_weights = scaled_dot_product_attention(query, key, value, mask=mask)
    output, weights = scaled_dot_product_attention(query.to(dtype), key.to(dtype), value.to(dtype), mask=mask)
    assert output.dtype == dtype
    assert torch.isfinite(output).all() and torch.isfinite(weights).all()
    torch.testing.assert_close(output.double(), expected, rtol=0, atol=5e-2)
    torch.testing.assert_close(weights.double(), expected_weights, rtol=0, atol=2e-2)


def test_gradcheck_with_a_mask():
    generator = torch.Generator().manual_seed(6)
    query = torch.randn(2, 3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    key = torch.randn(2, 5, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    value = torch.randn(2, 5, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    mask = random_mask(generator, (2, 3, 5))
    mask[1, 2] = False  # include a fully masked query

    def attend(q, k, v):
        return scaled_dot_product_attention(q, k, v, mask=mask)

    assert torch.autograd.gradcheck(attend, (query, key, value))


def test_masked_softmax_matches_softmax_without_a_mask():
    scores = torch.randn(3, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(masked_softmax(scores), torch.softmax(scores, -1), rtol=0, atol=0)
    torch.testing.assert_close(masked_softmax(scores, dim=1), torch.softmax(scores, 1), rtol=0, atol=0)


@pytest.mark.parametrize("dim", [0, 1, 2, -2])
def test_masked_softmax_along_other_dims_with_a_shorter_mask(dim):
    generator = torch.Generator().manual_seed(7)
    scores = torch.randn(3, 4, 5, generator=generator, dtype=torch.float64)
    mask = torch.rand(4, 5, generator=generator) < 0.5  # broadcast over dim 0
    mask[0] = False
    weights = masked_softmax(scores, mask, dim=dim)
    full = mask.expand(scores.shape)
    exps = torch.where(full, scores.exp(), torch.zeros(()))
    totals = exps.sum(dim, keepdim=True)
    expected = torch.where(totals > 0, exps / totals, torch.zeros(()))
    torch.testing.assert_close(weights, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_masked_softmax_survives_extreme_scores(dtype):
    big = torch.finfo(dtype).max
    scores = torch.tensor([[big, -big, 0.0], [-big, -big, -big], [1.0, 2.0, 3.0]], dtype=dtype)
    mask = torch.tensor([[False, True, True], [True, True, False], [False, False, False]])
    weights = masked_softmax(scores, mask)
    assert torch.isfinite(weights).all()
    assert weights[0].tolist() == [0.0, 0.0, 1.0]
    assert weights[1].tolist() == [0.5, 0.5, 0.0]
    assert weights[2].tolist() == [0.0, 0.0, 0.0]


def bad(*shape: int) -> torch.Tensor:
    return torch.zeros(shape)


@pytest.mark.parametrize(
    ("query", "key", "value", "kwargs", "error", "message"),
    [
        (bad(2, 3, 8), bad(2, 7, 6), bad(2, 7, 5), {}, ValueError, r"query has d_k=8 but key has d_k=6"),
        (bad(2, 3, 8), bad(2, 7, 8), bad(2, 5, 4), {}, ValueError, r"key has 7 positions but value has 5"),
        (bad(2, 3, 8), bad(3, 7, 8), bad(3, 7, 4), {}, ValueError,
         r"batch dims do not broadcast: query \(2,\), key \(3,\), value \(3,\)"),
        (bad(8), bad(7, 8), bad(7, 4), {}, ValueError, r"query must have at least 2 dims.*shape \(8,\)"),
        (bad(3, 8), bad(7, 8), bad(7, 4), {"mask": torch.ones(4, 7, dtype=torch.bool)}, ValueError,
         r"mask of shape \(4, 7\) does not broadcast to the scores of shape \(3, 7\)"),
        (bad(3, 8), bad(7, 8), bad(7, 4), {"mask": torch.ones(2, 3, 7, dtype=torch.bool)}, ValueError,
         r"mask of shape \(2, 3, 7\) does not broadcast to the scores of shape \(3, 7\)"),
        (bad(3, 8), bad(7, 8), bad(7, 4), {"mask": torch.ones(3, 7)}, TypeError,
         r"mask must be boolean.*torch\.float32"),
        (bad(3, 8), bad(7, 8), bad(7, 4), {"scale": 0.0}, ValueError, r"scale must be positive.*0\.0"),
        (bad(3, 8), bad(7, 8), bad(7, 4), {"scale": -1.0}, ValueError, r"scale must be positive.*-1\.0"),
        (bad(3, 8), bad(7, 8), bad(7, 4), {"scale": float("nan")}, ValueError, r"scale must be positive.*nan"),
        (bad(3, 8), bad(7, 8), bad(7, 4), {"scale": "big"}, TypeError, r"scale must be a real number"),
        (bad(3, 8), bad(7, 8).double(), bad(7, 4), {}, TypeError, r"share a dtype.*torch\.float64"),
        (torch.zeros(3, 8, dtype=torch.long), bad(7, 8), bad(7, 4), {}, TypeError,
         r"query must be floating point, got dtype torch\.int64"),
        (np.zeros((3, 8)), bad(7, 8), bad(7, 4), {}, TypeError, r"query must be a torch\.Tensor"),
    ],
)
def test_bad_input_is_named_in_the_error(query, key, value, kwargs, error, message):
    with pytest.raises(error, match=message):
        scaled_dot_product_attention(query, key, value, **kwargs)


def test_masked_softmax_rejects_bad_masks():
    with pytest.raises(ValueError, match=r"mask of shape \(3,\) does not broadcast to the scores of shape \(2, 4\)"):
        masked_softmax(torch.zeros(2, 4), torch.ones(3, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"mask must be boolean.*torch\.int64"):
        masked_softmax(torch.zeros(2, 4), torch.ones(2, 4, dtype=torch.long))

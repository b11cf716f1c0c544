"""Tests for the NumPy attention: it must agree with the PyTorch version."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import (
    causal_mask,
    numpy_causal_mask,
    numpy_masked_softmax,
    numpy_padding_mask,
    numpy_scaled_dot_product_attention,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
)

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def numpy_case(draw: st.DrawFn) -> dict:
    """Random float64 query/key/value with broadcasting batch dims, any bool mask, a scale."""
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    num_queries, num_keys = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    d_k, d_v = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    query_batch = batch[draw(st.integers(0, len(batch))):]  # drop some leading dims
    mask_shape = draw(st.sampled_from([batch + (num_queries, num_keys), batch + (1, num_keys), (num_keys,)]))
    return dict(
        query=rng.standard_normal(query_batch + (num_queries, d_k)),
        key=rng.standard_normal(batch + (num_keys, d_k)),
        value=rng.standard_normal((num_keys, d_v)),
        mask=None if draw(st.booleans()) else rng.random(mask_shape) < 0.5,  # fully masked rows included
        scale=draw(st.none() | st.floats(0.05, 3.0)),
    )


@SETTINGS
@given(numpy_case())
def test_numpy_and_pytorch_agree(case):
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # not even in discarded entries
        output, weights = numpy_scaled_dot_product_attention(**case)
    as_tensors = {name: torch.from_numpy(x) if isinstance(x, np.ndarray) else x for name, x in case.items()}
    expected_output, expected_weights = scaled_dot_product_attention(**as_tensors)
    assert output.shape == tuple(expected_output.shape) and weights.shape == tuple(expected_weights.shape)
    np.testing.assert_allclose(output, expected_output.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(weights, expected_weights.numpy(), rtol=0, atol=1e-10)


@SETTINGS
@given(numpy_case())
def test_weights_are_distributions_over_the_allowed_keys(case):
    _, weights = numpy_scaled_dot_product_attention(**case)
    mask = np.ones(weights.shape, bool) if case["mask"] is None else np.broadcast_to(case["mask"], weights.shape)
    assert np.all(weights[~mask] == 0)
    has_a_key = mask.any(axis=-1)
    np.testing.assert_allclose(weights.sum(axis=-1)[has_a_key], 1.0, rtol=0, atol=1e-12)
    assert np.all(weights[~has_a_key] == 0)


def test_fully_masked_query_gets_zero_output_without_warnings():
    rng = np.random.default_rng(0)
    query, key, value = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    mask = np.ones((3, 5), dtype=bool)
    mask[1] = False
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        output, weights = numpy_scaled_dot_product_attention(query, key, value, mask=mask)
    assert np.all(weights[1] == 0) and np.all(output[1] == 0)
    assert np.isfinite(output).all()


def test_masked_softmax_without_a_mask_is_the_book_softmax():
    scores = np.random.default_rng(1).standard_normal((2, 3, 4))
    np.testing.assert_array_equal(numpy_masked_softmax(scores), softmax(scores))
    np.testing.assert_array_equal(numpy_masked_softmax(scores, axis=0), softmax(scores, axis=0))


def test_masked_softmax_ignores_huge_masked_scores():
    scores = np.array([[1e308, 0.0, 0.0], [1e308, 3.0, -1e308], [1e308, -1e308, 1e308]])
    mask = np.array([[False, True, True], [False, True, True], [False, True, False]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        weights = numpy_masked_softmax(scores, mask)
    np.testing.assert_array_equal(weights, [[0.0, 0.5, 0.5], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])


def test_integer_inputs_are_promoted_to_float64():
    output, weights = numpy_scaled_dot_product_attention([[1, 0]], [[1, 0], [0, 1]], [[10], [20]], scale=1.0)
    assert output.dtype == np.float64
    np.testing.assert_allclose(weights, [[np.e / (np.e + 1), 1 / (np.e + 1)]], rtol=1e-15)


@settings(max_examples=30, deadline=None)
@given(num_queries=st.integers(0, 7), extra_keys=st.integers(0, 7))
def test_numpy_causal_mask_equals_the_torch_one(num_queries, extra_keys):
    mask = numpy_causal_mask(num_queries, num_queries + extra_keys)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, causal_mask(num_queries, num_queries + extra_keys).numpy())
    np.testing.assert_array_equal(numpy_causal_mask(num_queries), causal_mask(num_queries).numpy())


@settings(max_examples=30, deadline=None)
@given(lengths=st.lists(st.integers(0, 6), min_size=1, max_size=5), padding=st.integers(0, 3))
def test_numpy_padding_mask_equals_the_torch_one(lengths, padding):
    max_len = max(lengths) + padding
    mask = numpy_padding_mask(lengths, max_len)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, padding_mask(lengths, max_len).numpy())
    np.testing.assert_array_equal(numpy_padding_mask(np.array(lengths), max_len), mask)


BAD_INPUTS = [
    ((2, 3, 8), (2, 7, 6), (2, 7, 5), {}, r"query has d_k=8 but key has d_k=6"),
    ((2, 3, 8), (2, 7, 8), (2, 5, 4), {}, r"key has 7 positions but value has 5"),
    ((2, 3, 8), (3, 7, 8), (3, 7, 4), {}, r"batch dims do not broadcast: query \(2,\), key \(3,\)"),
    ((8,), (7, 8), (7, 4), {}, r"query must have at least 2 dims.*shape \(8,\)"),
    ((3, 8), (7, 8), (7, 4), {"mask": np.ones((4, 7), bool)}, r"mask of shape \(4, 7\) does not broadcast"),
    ((3, 8), (7, 8), (7, 4), {"scale": -2.0}, r"scale must be positive.*-2\.0"),
]


@pytest.mark.parametrize(("query", "key", "value", "kwargs", "message"), BAD_INPUTS)
def test_bad_input_gives_the_same_error_as_pytorch(query, key, value, kwargs, message):
    with pytest.raises(ValueError, match=message) as numpy_error:
        numpy_scaled_dot_product_attention(np.zeros(query), np.zeros(key), np.zeros(value), **kwargs)
    torch_kwargs = {name: torch.from_numpy(x) if isinstance(x, np.ndarray) else x for name, x in kwargs.items()}
    with pytest.raises(ValueError) as torch_error:
        scaled_dot_product_attention(torch.zeros(query), torch.zeros(key), torch.zeros(value), **torch_kwargs)
    assert str(numpy_error.value) == str(torch_error.value)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: numpy_scaled_dot_product_attention(np.zeros((3, 4)), np.zeros((5, 4)), np.zeros((5, 2)),
                                                    mask=np.ones((3, 5))), TypeError, r"mask must be boolean.*float64"),
        (lambda: numpy_scaled_dot_product_attention(np.array([["a"]]), np.zeros((1, 1)), np.zeros((1, 1))),
         TypeError, r"query must hold real numbers"),
        (lambda: numpy_masked_softmax(np.zeros((2, 3)), np.ones((3, 3), bool)), ValueError,
         r"mask of shape \(3, 3\) does not broadcast to the scores of shape \(2, 3\)"),
        (lambda: numpy_causal_mask(4, 2), ValueError, r"num_queries=4, num_keys=2"),
        (lambda: numpy_padding_mask([1, 7], 5), ValueError, r"lengths\[1\] = 7 is out of range.*max_len=5"),
        (lambda: numpy_padding_mask([1.0, 2.0], 5), TypeError, r"lengths must be integers, got dtype float64"),
        (lambda: numpy_padding_mask([[1, 2]], 5), ValueError, r"1-D \(batch,\), got shape \(1, 2\)"),
    ],
)
def test_other_bad_input_is_named_in_the_error(call, error, message):
    with pytest.raises(error, match=message):
        call()

"""Tests for causal_mask and padding_mask (PyTorch)."""

from __future__ import annotations


import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import causal_mask, padding_mask

SETTINGS = settings(max_examples=50, deadline=None)


@SETTINGS
@given(num_queries=st.integers(0, 8), extra_keys=st.integers(0, 8))
def test_causal_mask_lets_each_query_see_its_past_aligned_to_the_lower_right(num_queries, extra_keys):
    num_keys = num_queries + extra_keys
    mask = causal_mask(num_queries, num_keys)
    assert mask.dtype == torch.bool and mask.shape == (num_queries, num_keys)
    for i in range(num_queries):
        position = extra_keys + i  # where query i sits in the sequence of keys
        for j in range(num_keys):
            assert bool(mask[i, j]) == (j <= position)


@SETTINGS
@given(st.integers(1, 10))
def test_square_causal_mask_is_lower_triangular_and_default(size):
    mask = causal_mask(size)
    assert torch.equal(mask, causal_mask(size, size))
    assert mask.sum().item() == size * (size + 1) // 2
    assert torch.all(mask.diagonal())
    assert not torch.any(mask.triu(diagonal=1))


def test_causal_mask_last_query_sees_every_key():
    mask = causal_mask(3, 7)
    assert torch.all(mask[-1])
    assert mask[0].tolist() == [True] * 5 + [False] * 2


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((5, 3), ValueError, r"num_keys >= num_queries.*num_queries=5, num_keys=3"),
        ((-1,), ValueError, r"num_queries must be non-negative, got -1"),
        ((2, -4), ValueError, r"num_keys must be non-negative, got -4"),
        ((2.5,), TypeError, r"num_queries must be an integer, got 2\.5"),
        ((2, True), TypeError, r"num_keys must be an integer, got True"),
    ],
)
def test_causal_mask_rejects_bad_sizes(args, error, message):
    with pytest.raises(error, match=message):
        causal_mask(*args)


@SETTINGS
@given(lengths=st.lists(st.integers(0, 6), min_size=1, max_size=5), padding=st.integers(0, 3))
def test_padding_mask_marks_exactly_the_real_tokens(lengths, padding):
    max_len = max(lengths) + padding
    mask = padding_mask(lengths, max_len)
    assert mask.dtype == torch.bool and mask.shape == (len(lengths), 1, max_len)
    for b, length in enumerate(lengths):
        assert mask[b, 0].tolist() == [True] * length + [False] * (max_len - length)
    for dtype in (torch.int64, torch.int32, torch.uint8):
        assert torch.equal(padding_mask(torch.tensor(lengths, dtype=dtype), max_len), mask)


def test_padding_mask_broadcasts_against_scores_and_combines_with_causal():
    mask = padding_mask([2, 4], 4) & causal_mask(4)  # (2, 1, 4) & (4, 4) -> (2, 4, 4)
    assert mask.shape == (2, 4, 4)
    assert mask[0].int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]]
    assert torch.equal(mask[1], causal_mask(4))


@pytest.mark.parametrize(
    ("lengths", "max_len", "error", "message"),
    [
        ([3, 5], 4, ValueError, r"lengths\[1\] = 5 is out of range.*max_len=4"),
        ([-1, 2], 4, ValueError, r"lengths\[0\] = -1 is out of range.*max_len=4"),
        (torch.tensor([2, 9]), 4, ValueError, r"lengths\[1\] = 9 is out of range.*max_len=4"),
        (torch.tensor([2.0, 3.0]), 4, TypeError, r"integer tensor, got dtype torch\.float32"),
        (torch.tensor([[2, 3]]), 4, ValueError, r"1-D \(batch,\), got shape \(1, 2\)"),
        ([2, 1.5], 4, TypeError, r"lengths\[1\] must be an integer, got 1\.5"),
        ([2, 3], -1, ValueError, r"max_len must be non-negative, got -1"),
    ],
)
def test_padding_mask_rejects_bad_lengths(lengths, max_len, error, message):
    with pytest.raises(error, match=message):
        padding_mask(lengths, max_len)

"""The rules of `attention.validation.shapes`, for shapes: dims, attention's shapes and batch dims, masks, lengths: what each accepts and
returns, and what it refuses."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention.validation import shapes
from unit.validation.rules import SETTINGS, args, assert_returns, table_tests

GOOD = [
    ("check_dim/last-negative", args("dim", -1, (2, 3, 4)), 2),
    ("check_dim/numpy-int64", args("dim", np.int64(-2), (2, 3)), 0),
    ("check_min_dims/two", args("query", (5, 8)), None),
    ("check_min_dims/custom", args("query", (1, 2, 3, 4), 4), None),
    ("check_query_key_sizes/same", args((5, 8), (2, 7, 8)), None),
    ("check_key_value_positions/same", args((7, 8), (3, 7, 2)), None),
    ("broadcast_batch_shapes/docstring", args(query=(2, 1), key=(3,)), (2, 3)),
    ("broadcast_batch_shapes/no-batch", args(query=(), key=()), ()),
    ("check_attention_shapes/docstring", args((2, 5, 8), (2, 7, 8), (2, 7, 3)), (2, 5, 7)),
    ("check_attention_shapes/broadcast", args((4, 1, 5, 8), (3, 7, 8), (7, 3)), (4, 3, 5, 7)),
    ("check_attention_shapes/value-batch-not-in-scores", args((5, 8), (7, 8), (2, 7, 3)), (5, 7)),
    ("check_attention_shapes/additive", args((5, 8), (7, 4), (7, 3), same_query_key_size=False), (5, 7)),
    ("check_attention_shapes/no-positions", args((0, 8), (0, 8), (0, 3)), (0, 0)),
    ("check_same_batch/same", args(query=(2, 5, 4), key=(2, 7, 4)), 2),
    ("check_same_batch/torch-size", args(x=torch.Size([3, 4]), memory=torch.Size([3, 1])), 3),
    ("check_mask/same-shape", args((2, 3), np.dtype(bool), True, (2, 3)), None),
    ("check_mask/broadcast", args((1, 3), torch.bool, True, (4, 2, 3)), None),
    ("check_mask/scalar", args((), torch.bool, True, (2, 3)), None),
    ("check_causal_sizes/square", args(3, None), (3, 3)),
    ("check_causal_sizes/more-keys", args(2, 5), (2, 5)),
    ("check_causal_sizes/empty", args(0, None), (0, 0)),
    ("check_causal_sizes/numpy", args(np.int64(2), np.int32(3)), (2, 3)),
    ("check_lengths/ints", args([0, 2, 4], 4), [0, 2, 4]),
    ("check_lengths/numpy", args(np.array([1, 3]), np.int64(3)), [1, 3]),
    ("check_lengths/none", args([], 0), []),
    ("check_fits/equal", args("x", 10, "max_len", 10), None),
]

BAD = [
    ("check_dim/too-large", args("dim", 2, (2, 3)), ValueError, r"dim=2 is out of range for shape \(2, 3\) \(2 dims\)"),
    ("check_dim/scalar-shape", args("axis", 0, ()), ValueError, r"axis=0 is out of range for shape \(\) \(0 dims\)"),
    ("check_dim/bool", args("dim", True, (2, 3)), TypeError, r"dim must be an integer, got True"),
    ("check_min_dims/vector", args("query", (3,)), ValueError, r"query must have at least 2 dims .*got shape \(3,\)"),
    ("check_min_dims/custom", args("query", (2, 3, 4), 4), ValueError, r"query must have at least 4 dims .*\(2, 3, 4\)"),
    ("check_query_key_sizes/differ", args((2, 3), (4, 2)), ValueError, r"query has d_k=3 but key has d_k=2 \(query shape \(2, 3\), key shape \(4, 2\)\)"),
    ("check_query_key_sizes/zero", args((2, 0), (4, 0)), ValueError, r"d_k=0 .*\(query shape \(2, 0\), key shape \(4, 0\)\)"),
    ("check_key_value_positions/differ", args((4, 3), (5, 1)), ValueError, r"key has 4 positions but value has 5 \(key shape \(4, 3\), value shape \(5, 1\)\)"),
    ("broadcast_batch_shapes/differ", args(query=(2,), key=(3,)), ValueError, r"batch dims do not broadcast: query \(2,\), key \(3,\)"),
    ("broadcast_batch_shapes/inner", args(query=(4, 2, 1), key=(3, 5), value=(5,)), ValueError, r"query \(4, 2, 1\), key \(3, 5\), value \(5,\)"),
    ("check_attention_shapes/query-1d", args((3,), (4, 3), (4, 1)), ValueError, r"query must have at least 2 dims .*\(3,\)"),
    ("check_attention_shapes/d_k", args((2, 3), (4, 2), (4, 1)), ValueError, r"query has d_k=3 but key has d_k=2"),
    ("check_attention_shapes/positions", args((2, 3), (4, 3), (5, 1)), ValueError, r"key has 4 positions but value has 5"),
    ("check_attention_shapes/batch", args((2, 2, 3), (3, 4, 3), (3, 4, 1)), ValueError, r"do not broadcast: query \(2,\), key \(3,\), value \(3,\)"),
    ("check_attention_shapes/value-batch", args((2, 5, 8), (2, 7, 8), (3, 7, 3)), ValueError, r"query \(2,\), key \(2,\), value \(3,\)"),
    ("check_same_batch/differ", args(query=(1, 4, 5, 4), key=(2, 2, 7, 4)), ValueError, r"batch sizes differ: query shape \(1, 4, 5, 4\), key shape \(2, 2, 7, 4\)"),
    ("check_same_batch/one-does-not-broadcast", args(x=(1, 3, 8), memory=(3, 5, 8)), ValueError, r"x shape \(1, 3, 8\), memory shape \(3, 5, 8\)"),
    ("check_same_batch/nothing", args(), TypeError, r"check_same_batch needs at least one named shape"),
    ("check_same_batch/scalar", args(x=(2, 3), memory=()), ValueError, r"memory has no batch dim: shape \(\)"),
    ("check_mask/float", args((2, 3), np.dtype("float32"), False, (2, 3)), TypeError, r"mask must be boolean .*got dtype float32"),
    ("check_mask/shape", args((3, 2), torch.bool, True, (2, 3)), ValueError, r"mask of shape \(3, 2\) does not broadcast to the scores of shape \(2, 3\)"),
    ("check_mask/extra-dims", args((1, 2, 3), torch.bool, True, (2, 3)), ValueError, r"mask of shape \(1, 2, 3\) .*scores of shape \(2, 3\)"),
    ("check_mask/grows-the-scores", args((2, 3), torch.bool, True, (1, 3)), ValueError, r"mask of shape \(2, 3\) .*scores of shape \(1, 3\)"),
    ("check_causal_sizes/more-queries", args(3, 2), ValueError, r"num_keys >= num_queries .*num_queries=3, num_keys=2"),
    ("check_causal_sizes/negative", args(-1, None), ValueError, r"num_queries must be non-negative, got -1"),
    ("check_causal_sizes/negative-keys", args(1, -1), ValueError, r"num_keys must be non-negative, got -1"),
    ("check_causal_sizes/bool", args(True, None), TypeError, r"num_queries must be an integer, got True"),
    ("check_lengths/too-long", args([1, 5], 4), ValueError, r"lengths\[1\] = 5 is out of range: .*max_len=4"),
    ("check_lengths/negative", args([-1], 4), ValueError, r"lengths\[0\] = -1 is out of range"),
    ("check_lengths/int", args(3, 4), TypeError, "lengths must be a sequence of ints, one per sequence, got int"),
    ("check_lengths/2d-array", args(np.ones((2, 2), int), 4), TypeError, "lengths must be a sequence of ints.*ndarray"),
    ("check_lengths/float", args([1, 2.5], 4), TypeError, r"lengths\[1\] must be an integer, got 2\.5"),
    ("check_lengths/bool", args([True], 4), TypeError, r"lengths\[0\] must be an integer, got True"),
    ("check_lengths/max_len", args([1], -1), ValueError, r"max_len must be non-negative, got -1"),
    ("check_fits/over", args("x", 11, "max_len", 10), ValueError, r"x has 11 positions but max_len=10"),
]


(test_accepts_a_good_value_and_returns_it_converted, test_refuses_a_bad_value_naming_the_argument,
 test_every_rule_has_good_and_bad_cases) = table_tests(shapes, GOOD, BAD)


# ---- properties, with PyTorch (or Python) as the reference

SHAPES = st.lists(st.sampled_from([0, 1, 1, 2, 3]), max_size=4).map(tuple)


def near(data, target):
    """A shape that broadcasts to `target` (leading dims left out, some set to 1), or any shape."""
    if data.draw(st.booleans()):
        return data.draw(SHAPES)
    kept = target[data.draw(st.integers(0, len(target))):]
    return tuple(data.draw(st.sampled_from([n, 1])) for n in kept)


@SETTINGS
@given(data=st.data(), target=SHAPES, count=st.integers(1, 3))
def test_broadcast_batch_shapes_agrees_with_torch(data, target, count):
    named = {name: near(data, target) for name in ("query", "key", "value")[:count]}
    try:
        expected = tuple(torch.broadcast_shapes(*named.values()))
    except RuntimeError:
        with pytest.raises(ValueError, match="batch dims do not broadcast") as raised:
            shapes.broadcast_batch_shapes(**named)
        for name, shape in named.items():
            assert f"{name} {shape}" in str(raised.value)
    else:
        assert_returns(shapes.broadcast_batch_shapes(**named), expected)


@SETTINGS
@given(data=st.data(), scores=SHAPES)
def test_a_mask_is_accepted_exactly_when_it_broadcasts_to_the_scores_unchanged(data, scores):
    mask = near(data, scores)
    try:
        fits = torch.broadcast_shapes(mask, scores) == scores
    except RuntimeError:
        fits = False
    if fits:
        shapes.check_mask(mask, torch.bool, True, scores)
    else:
        with pytest.raises(ValueError, match=re.escape(f"mask of shape {mask} does not broadcast to the scores of shape {scores}")):
            shapes.check_mask(mask, torch.bool, True, scores)


@SETTINGS
@given(shape=SHAPES, dim=st.integers(-5, 5))
def test_check_dim_agrees_with_torch(shape, dim):
    try:
        torch.empty(shape).size(dim)
    except IndexError:
        with pytest.raises(ValueError, match=re.escape(f"dim={dim} is out of range for shape {shape}")):
            shapes.check_dim("dim", dim, shape)
    else:
        assert shapes.check_dim("dim", dim, shape) == range(len(shape))[dim]

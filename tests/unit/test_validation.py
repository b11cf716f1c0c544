"""The input-checking rules of `attention.validation`, called directly: what each accepts and returns, and what it refuses."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from attention import validation

F32, F64, LONG = torch.float32, torch.float64, torch.long
INF, NAN = float("inf"), float("nan")
GENERATOR = torch.Generator()
SETTINGS = settings(max_examples=60, deadline=None)


def args(*positional, **named):
    return positional, named


def t(*shape, dtype=F32):
    return torch.zeros(shape, dtype=dtype)


def bools(*shape):
    return torch.ones(shape, dtype=torch.bool)


WEIGHT = t(4, 4)  # a module's weight: float32
X, X64, HALF, MASK = t(2, 5, 4), t(2, 5, 4, dtype=F64), t(2, 5, 4, dtype=torch.bfloat16), bools(1, 3)
TOKENS, NO_TOKENS = torch.tensor([[0, 19], [3, 7]]), torch.zeros(2, 0, dtype=LONG)
DROPOUT = nn.Dropout(0.1)

# (rule/case, arguments, what it returns): a tensor is returned itself, not a copy
GOOD = [
    ("check_integer/int", args("n", 4), 4),
    ("check_integer/numpy-int64", args("n", np.int64(4)), 4),
    ("check_count/zero", args("num_keys", 0), 0),
    ("check_positive/one", args("d_model", 1), 1),
    ("check_divides/divides", args("num_heads", 4, "d_model", 12), None),
    ("check_real/int", args("lr", 3), 3.0),
    ("check_real/numpy-float32", args("lr", np.float32(0.5)), 0.5),
    ("check_real/inf-passes", args("lr", INF), INF),  # the range is the caller's rule
    ("check_real/nan-passes", args("lr", NAN), NAN),
    ("check_positive_real/int", args("eps", 2), 2.0),
    ("check_scale/float", args(0.125), 0.125),
    ("check_probability/one-int", args("dropout", 1), 1.0),
    ("check_probability/numpy-float32", args("dropout", np.float32(0.5)), 0.5),
    ("check_bool/true", args("causal", True), True),
    ("check_bool/numpy-bool", args("causal", np.bool_(True)), True),
    ("check_generator/generator", args(GENERATOR), GENERATOR),
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
    ("as_float_array/float32-kept", args("x", np.ones(2, np.float32)), np.ones(2, np.float32)),
    ("as_float_array/ints-to-float64", args("x", [1, 2]), np.array([1.0, 2.0])),
    ("as_float_array/scalar", args("x", 3), np.array(3.0)),
    ("as_float_array/tensor", args("x", torch.ones(2)), np.ones(2, np.float32)),
    ("as_float_array/nan-unless-finite", args("x", [NAN, INF]), np.array([NAN, INF])),
    ("check_finite_array/finite", args("x", np.ones(3)), None),
    ("check_finite_array/empty", args("x", np.zeros((0, 3))), None),
    ("as_mask_array/list", args([[True, False]], (2, 2)), np.array([[True, False]])),
    ("as_mask_array/tensor", args(bools(2, 1), (2, 3)), np.ones((2, 1), bool)),
    ("check_float_tensor/float32", args("x", X), X),
    ("check_float_tensor/bfloat16", args("x", HALF), HALF),
    ("check_same_dtype/same", args(query=X, key=X, value=X), None),
    ("check_module_dtype/same", args("x", X, WEIGHT), None),
    ("check_query_key_value/broadcast", args(t(2, 5, 8), t(7, 8), t(7, 3)), (2, 5, 7)),
    ("check_mask_tensor/broadcast", args(MASK, (2, 2, 3)), MASK),
    ("check_model_input/fits", args("x", X, "d_model", 4, WEIGHT), X),
    ("check_model_input/no-weights", args("x", X64, "d_model", 4), X64),
    ("check_module/module", args("model", DROPOUT, "anything"), DROPOUT),
    ("check_features/3d", args("x", X, "d_model", 4, WEIGHT), X),
    ("check_token_ids/in-range", args("tokens", TOKENS, 20), TOKENS),
    ("check_token_ids/no-positions", args("tokens", NO_TOKENS, 20), NO_TOKENS),
    ("check_dropout_module/none", args(None), None),
    ("check_dropout_module/dropout", args(DROPOUT), None),
]

# (rule/case, arguments, error, pattern of the message: it names the argument and the value or shapes)
BAD = [
    ("check_integer/bool", args("num_heads", True), TypeError, r"num_heads must be an integer, got True"),
    ("check_integer/numpy-bool", args("num_heads", np.bool_(False)), TypeError, r"num_heads must be an integer, got .*False"),
    ("check_integer/float", args("n", 4.0), TypeError, r"n must be an integer, got 4\.0"),
    ("check_integer/str", args("n", "4"), TypeError, r"n must be an integer, got '4'"),
    ("check_integer/tensor", args("n", torch.tensor(3)), TypeError, r"n must be an integer, got tensor\(3\)"),
    ("check_count/negative", args("num_keys", -1), ValueError, r"num_keys must be non-negative, got -1"),
    ("check_count/bool", args("num_keys", False), TypeError, r"num_keys must be an integer, got False"),
    ("check_positive/zero", args("d_model", 0), ValueError, r"d_model must be positive, got 0"),
    ("check_positive/bool", args("d_model", True), TypeError, r"d_model must be an integer, got True"),
    ("check_divides/not", args("num_heads", 5, "d_model", 12), ValueError, r"d_model=12 is not divisible by num_heads=5"),
    ("check_real/bool", args("lr", False), TypeError, r"lr must be a real number, got False"),
    ("check_real/numpy-bool", args("lr", np.bool_(True)), TypeError, r"lr must be a real number, got .*True"),
    ("check_real/complex", args("lr", 1j), TypeError, r"lr must be a real number, got 1j"),
    ("check_real/array", args("lr", np.array(0.5)), TypeError, r"lr must be a real number, got array\(0\.5\)"),
    ("check_real/huge-int", args("lr", 10**400), ValueError, r"lr is too large for a float, got 1000"),
    ("check_positive_real/zero", args("eps", 0.0), ValueError, r"eps must be positive and finite, got 0\.0"),
    ("check_positive_real/numpy-inf", args("eps", np.float32(np.inf)), ValueError, r"eps must be positive and finite, got inf"),
    ("check_positive_real/bool", args("eps", True), TypeError, r"eps must be a real number, got True"),
    ("check_scale/zero", args(0.0), ValueError, r"scale must be positive and finite, got 0\.0"),
    ("check_scale/str", args("1"), TypeError, r"scale must be a real number, got '1'"),
    ("check_probability/above-one", args("dropout", 1.5), ValueError, r"dropout must lie between 0 and 1, got 1\.5"),
    ("check_probability/bool", args("dropout", True), TypeError, r"dropout must be a real number, got True"),
    ("check_bool/int", args("causal", 1), TypeError, r"causal must be True or False, got 1"),
    ("check_generator/seed", args(0), TypeError, r"generator must be a torch.Generator, got int"),
    ("check_generator/none", args(None), TypeError, r"generator must be a torch.Generator, got NoneType"),
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
    ("as_float_array/strings", args("logits", ["a"]), TypeError, r"logits must hold real numbers, got dtype <U1"),
    ("as_float_array/bools", args("x", [True, False]), TypeError, r"x must hold real numbers, got dtype bool"),
    ("as_float_array/complex", args("x", np.zeros(2, complex)), TypeError, r"x must hold real numbers, got dtype complex128"),
    ("as_float_array/timedelta", args("x", np.zeros(2, "m8[s]")), TypeError, r"x must hold real numbers, got dtype timedelta64\[s\]"),
    ("as_float_array/dates", args("x", np.zeros(2, "M8[D]")), TypeError, r"x must hold real numbers, got dtype datetime64\[D\]"),
    ("as_float_array/ragged", args("x", [[1.0], [1.0, 2.0]]), TypeError, r"x must be an array of real numbers, got list"),
    ("as_float_array/grad", args("query", torch.zeros(2, requires_grad=True)), TypeError, r"query is a torch tensor that requires grad.*query\.detach\(\)"),
    ("as_float_array/nan", args("x", [1.0, NAN], finite=True), ValueError, r"x has a NaN or infinite entry \(nan at index \(1,\) of shape \(2,\)\)"),
    ("as_float_array/-inf", args("x", [[0, 1], [-INF, 2]], finite=True), ValueError, r"\(-inf at index \(1, 0\) of shape \(2, 2\)\)"),
    ("check_finite_array/nan", args("scores", np.array([[0.0, NAN]])), ValueError, r"scores has a NaN or infinite entry \(nan at index \(0, 1\) of shape \(1, 2\)\)"),
    ("check_finite_array/first-bad", args("x", np.array([1.0, INF, NAN])), ValueError, r"x has .*\(inf at index \(1,\) of shape \(3,\)\)"),
    ("as_mask_array/float", args(np.ones((2, 3)), (2, 3)), TypeError, r"mask must be boolean .*got dtype float64"),
    ("as_mask_array/ints", args([[1, 0]], (1, 2)), TypeError, r"mask must be boolean .*got dtype int64"),
    ("as_mask_array/shape", args(np.ones((3, 2), bool), (2, 3)), ValueError, r"mask of shape \(3, 2\) does not broadcast to the scores of shape \(2, 3\)"),
    ("as_mask_array/ragged", args([[True], [True, False]], (2, 2)), TypeError, r"mask must be an array of booleans, got list"),
    ("as_mask_array/grad", args(torch.ones(2, requires_grad=True), (2,)), TypeError, r"mask is a torch tensor that requires grad"),
    ("check_float_tensor/long", args("scores", t(2, 3, dtype=LONG)), TypeError, r"scores must be floating point, got dtype torch\.int64"),
    ("check_float_tensor/complex", args("x", t(2, dtype=torch.complex64)), TypeError, r"x must be floating point, got dtype torch\.complex64"),
    ("check_float_tensor/numpy", args("query", np.zeros(2)), TypeError, r"query must be a torch\.Tensor, got ndarray"),
    ("check_same_dtype/differ", args(query=X, key=X64, value=X), TypeError, r"query, key, value must share a dtype, got query torch\.float32, key torch\.float64, value torch\.float32"),
    ("check_module_dtype/float64", args("x", X64, WEIGHT), TypeError, r"x has dtype torch\.float64 but the module's weights are torch\.float32.*module\.to\(torch\.float64\)"),
    ("check_query_key_value/numpy", args(np.zeros((2, 3)), t(4, 3), t(4, 1)), TypeError, r"query must be a torch\.Tensor, got ndarray"),
    ("check_query_key_value/long-value", args(t(2, 3), t(4, 3), t(4, 1, dtype=LONG)), TypeError, r"value must be floating point, got dtype torch\.int64"),
    ("check_query_key_value/dtypes", args(t(2, 3), t(4, 3, dtype=F64), t(4, 1)), TypeError, r"key torch\.float64"),
    ("check_query_key_value/batch", args(t(2, 2, 3), t(3, 4, 3), t(4, 1)), ValueError, r"query \(2,\), key \(3,\), value \(\)"),
    ("check_mask_tensor/list", args([[True]], (1, 1)), TypeError, r"mask must be a bool torch\.Tensor, got list"),
    ("check_mask_tensor/float", args(torch.ones(2, 3), (2, 3)), TypeError, r"mask must be boolean .*got dtype torch\.float32"),
    ("check_mask_tensor/uint8", args(torch.ones(2, 3, dtype=torch.uint8), (2, 3)), TypeError, r"mask must be boolean .*got dtype torch\.uint8"),
    ("check_mask_tensor/shape", args(bools(2, 5), (2, 4)), ValueError, r"mask of shape \(2, 5\) does not broadcast to the scores of shape \(2, 4\)"),
    ("check_mask_tensor/extra-dims", args(bools(2, 1, 3), torch.Size([1, 3])), ValueError, r"mask of shape \(2, 1, 3\) .*scores of shape \(1, 3\)"),
    ("check_model_input/2d", args("x", t(5, 4), "d_model", 4, WEIGHT), ValueError, r"x must have shape \(batch, positions, d_model=4\), got \(5, 4\)"),
    ("check_model_input/size", args("source", t(2, 5, 6), "d_model", 4, WEIGHT), ValueError, r"source must have shape \(batch, positions, d_model=4\), got \(2, 5, 6\)"),
    ("check_model_input/dtype", args("x", X64, "d_model", 4, WEIGHT), TypeError, r"x has dtype torch\.float64 but the module's weights are torch\.float32"),
    ("check_features/1d", args("x", t(4), "d_model", 4, WEIGHT), ValueError, r"x must have shape \(\.\.\., positions, d_model=4\), got \(4,\)"),
    ("check_features/size", args("x", t(3, 2, 5), "embed_dim", 4, WEIGHT), ValueError, r"x must have shape \(\.\.\., positions, embed_dim=4\), got \(3, 2, 5\)"),
    ("check_features/dtype", args("x", X64, "d_model", 4, WEIGHT), TypeError, r"x has dtype torch\.float64 but the module's weights are torch\.float32"),
    ("check_token_ids/too-large", args("tokens", torch.tensor([[0, 20]]), 20), ValueError, r"tokens ids must lie in \[0, 20\), got ids from 0 to 20"),
    ("check_token_ids/negative", args("source", torch.tensor([[-1, 3]]), 20), ValueError, r"source ids must lie in \[0, 20\), got ids from -1 to 3"),
    ("check_token_ids/int32", args("tokens", t(1, 2, dtype=torch.int32), 20), TypeError, r"tokens must be an int64 torch\.Tensor of token ids, got torch\.int32"),
    ("check_token_ids/1d", args("tokens", torch.tensor([1, 2]), 20), ValueError, r"tokens must have shape \(batch, positions\), got \(2,\)"),
    ("check_module/class", args("model", nn.Linear, "tokens -> logits"), TypeError, r"model must be an nn\.Module \(tokens -> logits\), got type"),
    ("check_module/function", args("attention", lambda layer: None, "one layer's attention"), TypeError, r"attention must be an nn\.Module \(one layer's attention\), got function"),
    ("check_dropout_module/class", args(nn.Dropout), TypeError, r"dropout must be a module .*got type"),
    ("check_dropout_module/float", args(0.1), TypeError, r"dropout must be a module .*nn\.Dropout\(0\.1\).*got float 0\.1"),
]


def rule(case_id: str):
    return getattr(validation, case_id.split("/")[0])


def assert_returns(result, expected):
    if isinstance(expected, torch.Tensor):
        assert result is expected  # the tensor itself, not a copy
    elif isinstance(expected, np.ndarray):
        assert isinstance(result, np.ndarray) and result.dtype == expected.dtype, repr(result)
        np.testing.assert_array_equal(result, expected)  # NaN equals NaN here
    else:
        assert type(result) is type(expected), f"{result!r} is a {type(result).__name__}"
        assert result == expected or (result != result and expected != expected), repr(result)
        if isinstance(expected, (tuple, list)):  # plain ints, not NumPy ints
            assert [type(n) for n in result] == [type(n) for n in expected]


@pytest.mark.parametrize("case", GOOD, ids=[c[0] for c in GOOD])
def test_accepts_a_good_value_and_returns_it_converted(case):
    case_id, (positional, named), expected = case
    assert_returns(rule(case_id)(*positional, **named), expected)


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_refuses_a_bad_value_naming_the_argument(case):
    case_id, (positional, named), error, pattern = case
    with pytest.raises(Exception) as raised:
        rule(case_id)(*positional, **named)
    assert type(raised.value) is error, f"raised {type(raised.value).__name__}: {raised.value}"
    assert raised.match(pattern)


def public_rules() -> set[str]:
    return {name for name, value in inspect.getmembers(validation, inspect.isfunction)
            if not name.startswith("_") and value.__module__ == validation.__name__}


def test_every_rule_has_good_and_bad_cases():
    for table in (GOOD, BAD):
        ids = [c[0] for c in table]
        assert len(ids) == len(set(ids)), "duplicate case ids"
        used = {i.split("/")[0] for i in ids}
        assert used <= public_rules(), f"cases of no rule: {sorted(used - public_rules())}"
        assert not public_rules() - used, f"rules without a case: {sorted(public_rules() - used)}"


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
    shapes = {name: near(data, target) for name in ("query", "key", "value")[:count]}
    try:
        expected = tuple(torch.broadcast_shapes(*shapes.values()))
    except RuntimeError:
        with pytest.raises(ValueError, match="batch dims do not broadcast") as raised:
            validation.broadcast_batch_shapes(**shapes)
        for name, shape in shapes.items():
            assert f"{name} {shape}" in str(raised.value)
    else:
        assert_returns(validation.broadcast_batch_shapes(**shapes), expected)


@SETTINGS
@given(data=st.data(), scores=SHAPES)
def test_a_mask_is_accepted_exactly_when_it_broadcasts_to_the_scores_unchanged(data, scores):
    mask = near(data, scores)
    try:
        fits = torch.broadcast_shapes(mask, scores) == scores
    except RuntimeError:
        fits = False
    if fits:
        validation.check_mask(mask, torch.bool, True, scores)
    else:
        with pytest.raises(ValueError, match=re.escape(f"mask of shape {mask} does not broadcast to the scores of shape {scores}")):
            validation.check_mask(mask, torch.bool, True, scores)


@SETTINGS
@given(shape=SHAPES, dim=st.integers(-5, 5))
def test_check_dim_agrees_with_torch(shape, dim):
    try:
        torch.empty(shape).size(dim)
    except IndexError:
        with pytest.raises(ValueError, match=re.escape(f"dim={dim} is out of range for shape {shape}")):
            validation.check_dim("dim", dim, shape)
    else:
        assert validation.check_dim("dim", dim, shape) == range(len(shape))[dim]


@SETTINGS
@given(n=st.integers(-3, 3) | st.integers(-(2**63), 2**63 - 1) | st.integers(), as_numpy=st.booleans())
def test_integer_rules_accept_exactly_their_range(n, as_numpy):
    value = np.int64(n) if as_numpy and -(2**63) <= n < 2**63 else n
    for check, low in ((validation.check_integer, -INF), (validation.check_count, 0), (validation.check_positive, 1)):
        if n >= low:
            assert_returns(check("n", value), n)
        else:
            with pytest.raises(ValueError, match=rf"^n must be (non-negative|positive), got {n}$"):
                check("n", value)


@SETTINGS
@given(x=st.floats() | st.sampled_from([0.0, -0.0, 5e-324, 1.0, 1.0000000000000002, INF, -INF, NAN]), as_numpy=st.booleans())
def test_real_rules_accept_exactly_their_range(x, as_numpy):
    value = np.float64(x) if as_numpy else x
    for check, accepts in ((validation.check_positive_real, 0 < x < INF), (validation.check_probability, 0 <= x <= 1)):
        if accepts:
            assert_returns(check("p", value), x)
        else:
            with pytest.raises(ValueError, match=rf"^p must .*, got {re.escape(str(x))}$"):
                check("p", value)

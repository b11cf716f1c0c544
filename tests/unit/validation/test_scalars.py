"""The rules of `attention.validation.scalars`, for single values: integers, sizes, reals, probabilities, flags, generators: what each accepts and
returns, and what it refuses."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention.validation import scalars
from unit.validation.rules import GENERATOR, INF, NAN, SETTINGS, args, assert_returns, table_tests

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
]

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
]


(test_accepts_a_good_value_and_returns_it_converted, test_refuses_a_bad_value_naming_the_argument,
 test_every_rule_has_good_and_bad_cases) = table_tests(scalars, GOOD, BAD)


# ---- properties, with PyTorch (or Python) as the reference

@SETTINGS
@given(n=st.integers(-3, 3) | st.integers(-(2**63), 2**63 - 1) | st.integers(), as_numpy=st.booleans())
def test_integer_rules_accept_exactly_their_range(n, as_numpy):
    value = np.int64(n) if as_numpy and -(2**63) <= n < 2**63 else n
    for check, low in ((scalars.check_integer, -INF), (scalars.check_count, 0), (scalars.check_positive, 1)):
        if n >= low:
            assert_returns(check("n", value), n)
        else:
            with pytest.raises(ValueError, match=rf"^n must be (non-negative|positive), got {n}$"):
                check("n", value)


@SETTINGS
@given(x=st.floats() | st.sampled_from([0.0, -0.0, 5e-324, 1.0, 1.0000000000000002, INF, -INF, NAN]), as_numpy=st.booleans())
def test_real_rules_accept_exactly_their_range(x, as_numpy):
    value = np.float64(x) if as_numpy else x
    for check, in_range in ((scalars.check_positive_real, 0 < x < INF), (scalars.check_probability, 0 <= x <= 1)):
        if in_range:
            assert_returns(check("p", value), x)
        else:
            with pytest.raises(ValueError, match=rf"^p must .*, got {re.escape(str(x))}$"):
                check("p", value)

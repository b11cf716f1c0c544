"""The rules of `attention.validation.arrays`, for NumPy arrays and masks: what each accepts and
returns, and what it refuses."""

from __future__ import annotations

import numpy as np
import torch

from attention.validation import arrays
from unit.validation.rules import INF, NAN, args, bools, table_tests

GOOD = [
    ("as_float_array/float32-kept", args("x", np.ones(2, np.float32)), np.ones(2, np.float32)),
    ("as_float_array/ints-to-float64", args("x", [1, 2]), np.array([1.0, 2.0])),
    ("as_float_array/scalar", args("x", 3), np.array(3.0)),
    ("as_float_array/tensor", args("x", torch.ones(2)), np.ones(2, np.float32)),
    ("as_float_array/nan-unless-finite", args("x", [NAN, INF]), np.array([NAN, INF])),
    ("check_finite_array/finite", args("x", np.ones(3)), None),
    ("check_finite_array/empty", args("x", np.zeros((0, 3))), None),
    ("as_mask_array/list", args([[True, False]], (2, 2)), np.array([[True, False]])),
    ("as_mask_array/tensor", args(bools(2, 1), (2, 3)), np.ones((2, 1), bool)),
]

BAD = [
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
]


(test_accepts_a_good_value_and_returns_it_converted, test_refuses_a_bad_value_naming_the_argument,
 test_every_rule_has_good_and_bad_cases) = table_tests(arrays, GOOD, BAD)

"""What the tests of `attention.validation`'s rules share: small inputs, and the checks
that run each rule's table of good and bad cases.

A table row is `(rule/case, arguments, what it returns)` for a good case and
`(rule/case, arguments, error, pattern of the message)` for a bad one: the message
names the argument and the value or shapes.
"""

from __future__ import annotations

import inspect
from types import ModuleType

import numpy as np
import pytest
import torch
from hypothesis import settings
from torch import nn

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


def table_tests(module: ModuleType, good: list, bad: list) -> tuple:
    """The three tests of a module's tables, for its test file to name at its top level:
    each good case is returned converted as the table says; each bad case raises the
    table's error with a message that matches its pattern; and each public rule of
    `module` has good and bad cases, each case being of a rule there."""
    def rule(case_id: str):
        return getattr(module, case_id.split("/")[0])

    @pytest.mark.parametrize("case", good, ids=[case[0] for case in good])
    def test_accepts_a_good_value_and_returns_it_converted(case):
        case_id, (positional, named), expected = case
        assert_returns(rule(case_id)(*positional, **named), expected)

    @pytest.mark.parametrize("case", bad, ids=[case[0] for case in bad])
    def test_refuses_a_bad_value_naming_the_argument(case):
        case_id, (positional, named), error, pattern = case
        with pytest.raises(Exception) as raised:
            rule(case_id)(*positional, **named)
        assert type(raised.value) is error, f"raised {type(raised.value).__name__}: {raised.value}"
        assert raised.match(pattern)

    def test_every_rule_has_good_and_bad_cases():
        rules = {name for name, value in inspect.getmembers(module, inspect.isfunction)
                 if not name.startswith("_") and value.__module__ == module.__name__}
        for table in (good, bad):
            ids = [case[0] for case in table]
            assert len(ids) == len(set(ids)), "duplicate case ids"
            used = {case_id.split("/")[0] for case_id in ids}
            assert used <= rules, f"cases of no rule: {sorted(used - rules)}"
            assert not rules - used, f"rules without a case: {sorted(rules - used)}"

    return (test_accepts_a_good_value_and_returns_it_converted,
            test_refuses_a_bad_value_naming_the_argument, test_every_rule_has_good_and_bad_cases)

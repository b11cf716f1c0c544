"""The rules for single values: integers, sizes, reals, probabilities, flags, generators.

Each returns the value as a plain Python `int`, `float` or `bool` (NumPy scalars
included), or raises naming the argument: TypeError for the wrong kind of value,
ValueError for one out of range.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def check_integer(name: str, value: object) -> int:
    """Return `value` as an int; TypeError unless it is an integer (NumPy ints too, not bools).

    Examples:
        >>> check_integer("num_heads", np.int64(4))
        4
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(value)


def check_count(name: str, value: object) -> int:
    """Return `value` as an int, or raise unless it is an integer >= 0."""
    value = check_integer(name, value)
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


def check_positive(name: str, value: object) -> int:
    """Return `value` as an int, or raise unless it is an integer >= 1."""
    value = check_integer(name, value)
    if value < 1:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def check_divides(name: str, value: int, of_name: str, of: int) -> None:
    """Raise ValueError unless `value` divides `of`."""
    if of % value != 0:
        raise ValueError(f"{of_name}={of} is not divisible by {name}={value}")


def check_real(name: str, value: object) -> float:
    """Return `value` as a float; TypeError unless it is a real number (not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large for a float, got {value}") from None


def check_positive_real(name: str, value: object) -> float:
    """Return `value` as a float, or raise unless it is a positive finite number."""
    value = check_real(name, value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return value


def check_scale(scale: object) -> float:
    """The rule for `scale`, the factor of the scores: a positive finite number."""
    return check_positive_real("scale", scale)


def check_probability(name: str, value: object) -> float:
    """Return `value` as a float, or raise unless it lies in [0, 1]."""
    value = check_real(name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie between 0 and 1, got {value}")
    return value


def check_bool(name: str, value: object) -> bool:
    """Return `value`, or raise TypeError unless it is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_generator(generator: object) -> Any:
    """Return `generator`, or raise TypeError unless it is a torch.Generator (seed it)."""
    import torch

    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator

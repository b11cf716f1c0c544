"""The rules for NumPy inputs: what the NumPy functions of the book accept as arrays and masks."""

from __future__ import annotations

from typing import Any

import numpy as np

from attention.validation.shapes import Shape, check_mask


def as_float_array(name: str, x: Any, *, finite: bool = False) -> np.ndarray:
    """Return `x` as a floating NumPy array (integers become float64), or raise naming it.

    A torch tensor that requires grad is refused with a TypeError (NumPy code
    cannot follow its gradient): pass `x.detach()`, or use the torch function.
    With `finite=True`, NaN and infinite entries are refused (ValueError).
    """
    if getattr(x, "requires_grad", False) and type(x).__module__.startswith("torch"):
        raise TypeError(
            f"{name} is a torch tensor that requires grad; NumPy code cannot follow its "
            f"gradient: pass {name}.detach(), or use the torch version"
        )
    try:
        array = np.asarray(x)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__}") from error
    if array.dtype.kind not in "iuf":  # NumPy counts timedelta64 among its integers
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if finite:
        check_finite_array(name, array)
    return array


def check_finite_array(name: str, array: np.ndarray) -> None:
    """Raise ValueError naming the first NaN or infinite entry of `array`."""
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} has a NaN or infinite entry ({array[where]} at index {where} of "
            f"shape {array.shape})"
        )


def as_mask_array(mask: Any, scores_shape: Shape, name: str = "mask") -> np.ndarray:
    """Return `mask` as a boolean array checked to broadcast to the scores."""
    if getattr(mask, "requires_grad", False):
        as_float_array(name, mask)  # the same TypeError as for any other input
    try:
        array = np.asarray(mask)
    except (TypeError, ValueError) as error:  # a ragged list, say
        raise TypeError(f"{name} must be an array of booleans, got {type(mask).__name__}") from error
    check_mask(array.shape, array.dtype, array.dtype == np.bool_, scores_shape, name)
    return array

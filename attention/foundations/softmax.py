"""Softmax in NumPy: the stable version the book uses, and the naive one it warns against.

Softmax turns a vector of real scores (logits) into a probability vector:

    softmax(z)_i = exp(z_i) / sum_j exp(z_j)

Every function here works along one axis of an array of any shape and returns an
array of the same shape.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention.validation import as_float_array, check_dim, check_positive_real


def _as_float_array(logits: ArrayLike, axis: int) -> NDArray[np.floating]:
    """Check the input and return it as a floating-point array."""
    x = as_float_array("logits", logits)
    if x.ndim == 0:
        raise ValueError("softmax needs at least one axis, got a scalar")
    check_dim("axis", axis, x.shape)
    if x.shape[axis] == 0:
        raise ValueError(f"softmax over an empty axis: axis {axis} of shape {x.shape} has length 0")
    return x


def naive_softmax(logits: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    """Softmax straight from the definition, exp(z) / sum(exp(z)).

    Shown only to be broken: exp overflows to inf for logits above about 709 in
    float64 (88 in float32), and inf / inf is NaN.

    Args:
        logits: scores of any shape `(..., n, ...)`.
        axis: the axis to normalise over.

    Returns:
        An array of the shape of `logits`.

    Examples:
        >>> naive_softmax([1.0, 2.0, 3.0]).round(3)  # fine for small logits
        array([0.09 , 0.245, 0.665])
        >>> naive_softmax([1000.0, 999.0])  # exp(1000) is inf, and inf / inf is NaN
        array([nan, nan])
    """
    x = _as_float_array(logits, axis)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x)
        return e / e.sum(axis=axis, keepdims=True)


def softmax(logits: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    """Numerically stable softmax along `axis`.

    Subtracting the largest logit first changes nothing mathematically (softmax is
    invariant to adding a constant) but keeps every exponent at or below 0, so
    exp never overflows and the largest term is exactly 1.

    Args:
        logits: scores of any shape `(..., n, ...)`; integers are promoted to float64.
        axis: the axis to normalise over.

    Returns:
        Probabilities of the shape of `logits`, non-negative, summing to 1 along `axis`.

    Raises:
        ValueError: for a scalar, an out-of-range axis, an empty axis, or a NaN or
            infinite logit (the message gives its index).
        TypeError: for non-numeric or complex input.

    Examples:
        >>> softmax([1.0, 2.0, 3.0]).round(3)
        array([0.09 , 0.245, 0.665])
    """
    x = _as_float_array(logits, axis)
    finite = np.isfinite(x)
    if not np.all(finite):
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(
            f"softmax got a NaN or infinite logit ({x[where]} at index {where} of an array of "
            f"shape {x.shape}); mask scores with a boolean mask instead"
        )
    shifted = x - x.max(axis=axis, keepdims=True)  # every entry <= 0
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def softmax_with_temperature(
    logits: ArrayLike, temperature: float, axis: int = -1
) -> NDArray[np.floating]:
    """Softmax of `logits / temperature`.

    A temperature below 1 sharpens the distribution towards the largest logit,
    above 1 flattens it towards uniform.

    Args:
        logits: scores of any shape.
        temperature: a positive number.
        axis: the axis to normalise over.

    Returns:
        Probabilities of the shape of `logits`.

    Raises:
        ValueError: for a temperature that is not positive and finite (0, negative, NaN, inf).
        TypeError: for a temperature that is not a real number.

    Examples:
        >>> softmax_with_temperature([1.0, 2.0, 3.0], 0.5).round(3)  # sharper than T = 1
        array([0.016, 0.117, 0.867])
    """
    temperature = check_positive_real("temperature", temperature)
    return softmax(as_float_array("logits", logits) / temperature, axis=axis)


def softmax_jacobian(logits: ArrayLike) -> NDArray[np.floating]:
    """Jacobian of softmax for one vector of logits.

    With alpha = softmax(z), d alpha_i / d z_j = alpha_i (delta_ij - alpha_j), that is
    diag(alpha) - alpha alpha^T.

    Args:
        logits: a vector of shape `(n,)`.

    Returns:
        The Jacobian, of shape `(n, n)`; entry `[i, j]` is d s_i / d z_j. It is
        symmetric and each of its rows sums to 0.

    Examples:
        >>> softmax_jacobian([0.0, 0.0])  # s = (1/2, 1/2)
        array([[ 0.25, -0.25],
               [-0.25,  0.25]])
    """
    z = as_float_array("logits", logits)
    if z.ndim != 1:
        raise ValueError(f"softmax_jacobian takes one vector of logits, got shape {z.shape}")
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)


def entropy(probabilities: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    """Shannon entropy in nats, -sum p log p, with 0 log 0 taken as 0.

    Args:
        probabilities: distributions along `axis`, shape `(..., n, ...)`.

    Returns:
        The entropies, with `axis` removed. 0 for a one-hot row, log(n) for a uniform one.

    Examples:
        >>> entropy([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]]).round(4)  # log 4 = 1.3863
        array([0.    , 1.3863])
    """
    p = as_float_array("probabilities", probabilities)
    check_dim("axis", axis, p.shape)
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=axis) + 0.0  # + 0.0 turns -0.0 (one-hot rows) into 0.0

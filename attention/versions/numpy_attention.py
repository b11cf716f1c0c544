"""Scaled dot-product attention in NumPy, with its masks, for the early chapters.

The same functions as `attention.versions.scaled_dot_product` and `attention.versions.masks`, on
NumPy arrays, with the same shapes, the same mask convention (True = may
attend) and the same error messages. The PyTorch versions are tested to agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention.validation import (
    as_float_array,
    as_mask_array,
    check_attention_shapes,
    check_causal_sizes,
    check_dim,
    check_finite_array,
    check_lengths,
    check_scale,
)


def numpy_causal_mask(num_queries: int, num_keys: int | None = None) -> NDArray[np.bool_]:
    """Mask `(Tq, Tk)` letting query i see keys j <= i + (Tk - Tq): nothing in its future.

    With Tk > Tq the queries are the last Tq of Tk positions (lower-right
    alignment), exactly as `attention.causal_mask`.

    Examples:
        >>> numpy_causal_mask(2, 3).astype(int)
        array([[1, 1, 0],
               [1, 1, 1]])
    """
    num_queries, num_keys = check_causal_sizes(num_queries, num_keys)
    return np.tri(num_queries, num_keys, k=num_keys - num_queries, dtype=bool)  # (Tq, Tk)


def numpy_padding_mask(lengths: Sequence[int] | ArrayLike, max_len: int) -> NDArray[np.bool_]:
    """Mask `(batch, 1, max_len)`, True at the first `lengths[b]` positions of sequence b.

    Examples:
        >>> numpy_padding_mask([2, 3], max_len=3).astype(int)
        array([[[1, 1, 0]],
        <BLANKLINE>
               [[1, 1, 1]]])
    """
    if getattr(lengths, "requires_grad", False):
        as_float_array("lengths", lengths)  # refuses it, with the package's message
    array = np.asarray(lengths)
    if array.ndim != 1:
        raise ValueError(f"lengths must be 1-D (batch,), got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"lengths must be integers, got dtype {array.dtype}")
    checked = np.array(check_lengths(array.tolist(), max_len), dtype=np.int64)
    positions = np.arange(max_len)  # (max_len,)
    return (positions < checked[:, None])[:, None, :]  # (batch, 1, max_len)


def numpy_masked_softmax(
    scores: ArrayLike, mask: ArrayLike | None = None, axis: int = -1
) -> NDArray[np.floating]:
    """Softmax along `axis` giving exactly zero weight where `mask` is False.

    The same rules as `attention.masked_softmax`: a score of -inf gets weight 0
    like a masked one, and a row with nothing to attend to (every entry masked
    or -inf, or an empty axis) gets all-zero weights, not NaN. A NaN or +inf
    score that the mask allows is refused (ValueError), mask or no mask: a NaN
    is never hidden. (A masked score is never read, as in `attention.masked_softmax`.)

    Examples:
        >>> numpy_masked_softmax([[0.0, 0.0, 5.0], [1.0, 2.0, 3.0]],
        ...                      [[True, True, False], [False, False, False]])
        array([[0.5, 0.5, 0. ],
               [0. , 0. , 0. ]])
    """
    scores = as_float_array("scores", scores)
    if scores.ndim == 0:
        raise ValueError("scores must have at least one axis, got a scalar")
    axis = check_dim("axis", axis, scores.shape)
    if mask is not None:
        mask = as_mask_array(mask, scores.shape)
    read = scores != -np.inf if mask is None else (scores != -np.inf) & mask  # the scores it uses
    check_finite_array("scores", np.where(read, scores, 0.0))  # -inf and masked entries: not read
    return _masked_softmax(scores, mask, axis)


def _masked_softmax(
    scores: NDArray[np.floating], mask: NDArray[np.bool_] | None, axis: int
) -> NDArray[np.floating]:
    """`numpy_masked_softmax` without its checks (finite or -inf scores)."""
    allowed = scores != -np.inf
    if mask is not None:
        allowed = allowed & mask  # (..., Tq, Tk): the mask broadcast to the scores
    # The largest *allowed* score of each row; -inf where nothing is allowed, then 0.
    row_max = np.max(scores, axis=axis, keepdims=True, where=allowed, initial=-np.inf)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    shifted = np.where(allowed, scores, row_max) - row_max  # <= 0 where allowed, 0 elsewhere
    exps = np.where(allowed, np.exp(shifted), 0.0)  # exactly 0 where masked
    totals = exps.sum(axis=axis, keepdims=True)  # 0 only for rows with nothing allowed
    return np.divide(exps, totals, out=np.zeros_like(exps), where=totals > 0)


def numpy_scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    mask: ArrayLike | None = None,
    scale: float | None = None,
) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """softmax(scale * Q K^T) V on NumPy arrays.

    The same shapes, rules and errors as `attention.scaled_dot_product_attention`
    (a query with nothing to attend to, masked or with Tk = 0, gets zero weights
    and output; d_k = 0 is refused), except for NaN: NumPy code refuses NaN and
    infinite entries in query, key and value (ValueError, naming the entry),
    where the PyTorch version lets NaN through to its output.

    Args:
        query: `(..., Tq, d_k)`, d_k >= 1.
        key: `(..., Tk, d_k)`.
        value: `(..., Tk, d_v)`; the batch dims `...` broadcast as in `np.matmul`.
        mask: bool, broadcastable to `(..., Tq, Tk)`, True = may attend.
        scale: multiplies the scores; defaults to 1 / sqrt(d_k).

    Returns:
        `(output, weights)` of shapes `(..., Tq, d_v)` and `(..., Tq, Tk)`.

    Examples:
        >>> query = np.array([[1.0, 0.0]])             # (Tq=1, d_k=2)
        >>> key = np.array([[1.0, 0.0], [0.0, 1.0]])   # (Tk=2, d_k=2)
        >>> value = np.array([[10.0], [20.0]])         # (Tk=2, d_v=1)
        >>> output, weights = numpy_scaled_dot_product_attention(query, key, value, scale=1.0)
        >>> weights.round(4), output.round(4)
        (array([[0.7311, 0.2689]]), array([[12.6894]]))
    """
    query = as_float_array("query", query, finite=True)
    key = as_float_array("key", key, finite=True)
    value = as_float_array("value", value, finite=True)
    scores_shape = check_attention_shapes(query.shape, key.shape, value.shape)
    if mask is not None:
        mask = as_mask_array(mask, scores_shape)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else check_scale(scale)

    # (..., Tq, d_k) @ (..., d_k, Tk) -> (..., Tq, Tk)
    wide = np.float32 if query.dtype == np.float16 else query.dtype  # half precision overflows
    with np.errstate(over="ignore"):  # finite inputs can still give scores beyond float range
        scores = (query.astype(wide) * scale) @ np.swapaxes(key.astype(wide), -2, -1)  # (..., Tq, Tk)
    check_finite_array("scores (query times key)", scores)
    weights = _masked_softmax(scores, mask, axis=-1).astype(value.dtype)  # (..., Tq, Tk)
    output = weights @ value  # (..., Tq, Tk) @ (..., Tk, d_v) -> (..., Tq, d_v)
    return output, weights

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

from attention._checks import (
    Shape,
    check_attention_shapes,
    check_causal_sizes,
    check_lengths,
    check_mask,
    check_scale,
)
from attention.foundations.softmax import softmax


def _as_float_array(name: str, x: ArrayLike) -> NDArray[np.floating]:
    """Return `x` as a floating-point array (integers become float64)."""
    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


def _as_mask(mask: ArrayLike, scores_shape: Shape) -> NDArray[np.bool_]:
    """Return `mask` as an array, checked to be boolean and to broadcast to the scores."""
    array = np.asarray(mask)
    check_mask(array.shape, array.dtype, array.dtype == np.bool_, scores_shape)
    return array


def numpy_causal_mask(num_queries: int, num_keys: int | None = None) -> NDArray[np.bool_]:
    """Mask `(Tq, Tk)` letting query i see keys j <= i + (Tk - Tq): nothing in its future.

    With Tk > Tq the queries are the last Tq of Tk positions (lower-right
    alignment), exactly as `attention.causal_mask`.

    Example:
        >>> numpy_causal_mask(2, 3).astype(int)
        array([[1, 1, 0],
               [1, 1, 1]])
    """
    num_queries, num_keys = check_causal_sizes(num_queries, num_keys)
    return np.tri(num_queries, num_keys, k=num_keys - num_queries, dtype=bool)  # (Tq, Tk)


def numpy_padding_mask(lengths: Sequence[int] | ArrayLike, max_len: int) -> NDArray[np.bool_]:
    """Mask `(batch, 1, max_len)`, True at the first `lengths[b]` positions of sequence b.

    Example:
        >>> numpy_padding_mask([2, 3], max_len=3).astype(int)
        array([[[1, 1, 0]],
        <BLANKLINE>
               [[1, 1, 1]]])
    """
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

    A row with no allowed entry gets all-zero weights (not NaN). Without a mask
    this is `attention.foundations.softmax.softmax`.

    Example:
        >>> numpy_masked_softmax([[0.0, 0.0, 5.0], [1.0, 2.0, 3.0]],
        ...                      [[True, True, False], [False, False, False]])
        array([[0.5, 0.5, 0. ],
               [0. , 0. , 0. ]])
    """
    scores = _as_float_array("scores", scores)
    if mask is None:
        return softmax(scores, axis=axis)
    mask = _as_mask(mask, scores.shape)
    mask = np.broadcast_to(mask, scores.shape)  # a read-only view
    # The largest *allowed* score of each row; -inf where nothing is allowed, then 0.
    row_max = np.max(scores, axis=axis, keepdims=True, where=mask, initial=-np.inf)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    shifted = np.where(mask, scores, row_max) - row_max  # <= 0 where allowed, 0 where masked
    exps = np.where(mask, np.exp(shifted), 0.0)  # exactly 0 where masked
    totals = exps.sum(axis=axis, keepdims=True)  # 0 only for fully masked rows
    return np.divide(exps, totals, out=np.zeros_like(exps), where=totals > 0)


def numpy_scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    mask: ArrayLike | None = None,
    scale: float | None = None,
) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """softmax(scale * Q K^T) V on NumPy arrays.

    Args:
        query: `(..., Tq, d_k)`.
        key: `(..., Tk, d_k)`.
        value: `(..., Tk, d_v)`; the batch dims `...` broadcast as in `np.matmul`.
        mask: bool, broadcastable to `(..., Tq, Tk)`, True = may attend.
        scale: multiplies the scores; defaults to 1 / sqrt(d_k).

    Returns:
        `(output, weights)` of shapes `(..., Tq, d_v)` and `(..., Tq, Tk)`.

    Example:
        >>> query = np.array([[1.0, 0.0]])             # (Tq=1, d_k=2)
        >>> key = np.array([[1.0, 0.0], [0.0, 1.0]])   # (Tk=2, d_k=2)
        >>> value = np.array([[10.0], [20.0]])         # (Tk=2, d_v=1)
        >>> output, weights = numpy_scaled_dot_product_attention(query, key, value, scale=1.0)
        >>> weights.round(4), output.round(4)
        (array([[0.7311, 0.2689]]), array([[12.6894]]))
    """
    query = _as_float_array("query", query)
    key = _as_float_array("key", key)
    value = _as_float_array("value", value)
    scores_shape = check_attention_shapes(query.shape, key.shape, value.shape)
    if mask is not None:
        mask = _as_mask(mask, scores_shape)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else check_scale(scale)

    # (..., Tq, d_k) @ (..., d_k, Tk) -> (..., Tq, Tk)
    scores = (query * scale) @ np.swapaxes(key, -2, -1)  # (..., Tq, Tk)
    weights = numpy_masked_softmax(scores, mask, axis=-1)  # (..., Tq, Tk)
    output = weights @ value  # (..., Tq, Tk) @ (..., Tk, d_v) -> (..., Tq, d_v)
    return output, weights

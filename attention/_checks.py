"""Shape and value checks shared by the NumPy and PyTorch attention code.

Every check works on plain Python values (shapes as tuples of ints, dtypes by
name), so the NumPy and PyTorch versions raise the same errors with the same
messages, before any matrix multiplication runs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

Shape = tuple[int, ...]


def check_min_dims(name: str, shape: Shape, min_dims: int = 2) -> None:
    """Raise ValueError if `shape` has fewer than `min_dims` dimensions."""
    if len(shape) < min_dims:
        raise ValueError(
            f"{name} must have at least {min_dims} dims (..., positions, features), "
            f"got shape {shape}"
        )


def check_query_key_sizes(query_shape: Shape, key_shape: Shape) -> None:
    """Raise ValueError unless queries and keys have the same feature size d_k."""
    if query_shape[-1] != key_shape[-1]:
        raise ValueError(
            f"query has d_k={query_shape[-1]} but key has d_k={key_shape[-1]} "
            f"(query shape {query_shape}, key shape {key_shape})"
        )


def check_key_value_positions(key_shape: Shape, value_shape: Shape) -> None:
    """Raise ValueError unless there is exactly one value per key."""
    if key_shape[-2] != value_shape[-2]:
        raise ValueError(
            f"key has {key_shape[-2]} positions but value has {value_shape[-2]} "
            f"(key shape {key_shape}, value shape {value_shape})"
        )


def broadcast_batch_shapes(**batch_shapes: Shape) -> Shape:
    """Broadcast named batch shapes like `matmul` does, or raise ValueError naming them.

    Examples:
        >>> broadcast_batch_shapes(query=(2, 1), key=(3,))
        (2, 3)
    """
    try:
        return tuple(int(n) for n in np.broadcast_shapes(*batch_shapes.values()))
    except ValueError:
        named = ", ".join(f"{name} {shape}" for name, shape in batch_shapes.items())
        raise ValueError(f"batch dims do not broadcast: {named}") from None


def check_attention_shapes(
    query_shape: Shape,
    key_shape: Shape,
    value_shape: Shape,
    *,
    same_query_key_size: bool = True,
) -> Shape:
    """Check query `(..., Tq, d_k)`, key `(..., Tk, d_k)`, value `(..., Tk, d_v)`.

    Args:
        query_shape, key_shape, value_shape: the three shapes.
        same_query_key_size: require the last dims of query and key to agree
            (dot-product scores need it; additive scores project both first).

    Returns:
        The shape of the scores, `(..., Tq, Tk)`, where `...` is the broadcast of
        the batch dims of query and key (the values' batch dims must broadcast
        with them too, but only the output has them).

    Examples:
        >>> check_attention_shapes((2, 5, 8), (2, 7, 8), (2, 7, 3))
        (2, 5, 7)
    """
    check_min_dims("query", query_shape)
    check_min_dims("key", key_shape)
    check_min_dims("value", value_shape)
    if same_query_key_size:
        check_query_key_sizes(query_shape, key_shape)
    check_key_value_positions(key_shape, value_shape)
    broadcast_batch_shapes(query=query_shape[:-2], key=key_shape[:-2], value=value_shape[:-2])
    scores_batch = broadcast_batch_shapes(query=query_shape[:-2], key=key_shape[:-2])
    return scores_batch + (query_shape[-2], key_shape[-2])


def check_mask(
    mask_shape: Shape, mask_dtype: object, is_boolean: bool, scores_shape: Shape
) -> None:
    """Raise unless the mask is boolean and broadcasts to the scores `(..., Tq, Tk)`.

    A mask may leave out leading dims or have size 1 where the scores do not,
    but it may not add dims: the scores keep their shape.

    Raises:
        TypeError: the mask is not boolean (its dtype is named).
        ValueError: the mask does not broadcast (both shapes are named).
    """
    if not is_boolean:
        raise TypeError(f"mask must be boolean (True = may attend), got dtype {mask_dtype}")
    try:
        fits = np.broadcast_shapes(mask_shape, scores_shape) == tuple(scores_shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask of shape {tuple(mask_shape)} does not broadcast to the scores "
            f"of shape {tuple(scores_shape)} (..., queries, keys)"
        )


def check_scale(scale: object) -> float:
    """Return `scale` as a float, or raise if it is not a positive finite number."""
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a real number, got {scale!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive and finite, got {scale}")
    return float(scale)


def check_count(name: str, value: object) -> int:
    """Return `value` as an int, or raise unless it is a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return int(value)


def check_causal_sizes(num_queries: object, num_keys: object | None) -> tuple[int, int]:
    """Return (num_queries, num_keys) for a causal mask; num_keys None means num_queries.

    The queries are the last positions of the key sequence, so there cannot be
    more queries than keys.
    """
    num_queries = check_count("num_queries", num_queries)
    num_keys = num_queries if num_keys is None else check_count("num_keys", num_keys)
    if num_keys < num_queries:
        raise ValueError(
            f"causal_mask needs num_keys >= num_queries (queries are the last positions "
            f"of the key sequence), got num_queries={num_queries}, num_keys={num_keys}"
        )
    return num_queries, num_keys


def check_lengths(lengths: Sequence[object], max_len: int) -> list[int]:
    """Return the sequence lengths as ints, each checked to lie in [0, max_len]."""
    max_len = check_count("max_len", max_len)
    checked = []
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, numbers.Integral):
            raise TypeError(f"lengths must be integers, got lengths[{i}] = {length!r}")
        if not 0 <= length <= max_len:
            raise ValueError(
                f"lengths[{i}] = {length} is out of range: "
                f"every length must lie between 0 and max_len={max_len}"
            )
        checked.append(int(length))
    return checked

"""The rules for shapes, checked as plain tuples of ints (so the NumPy and PyTorch
versions raise the same messages): dims, attention's query/key/value shapes and
their batch dims, masks that broadcast to the scores, lengths and limits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attention.validation.scalars import check_count, check_integer

Shape = tuple[int, ...]


def check_dim(name: str, dim: object, shape: Shape) -> int:
    """Return `dim` as a non-negative index into `shape`, or raise naming both."""
    dim = check_integer(name, dim)
    ndim = len(shape)
    if not -ndim <= dim < ndim:
        raise ValueError(f"{name}={dim} is out of range for shape {tuple(shape)} ({ndim} dims)")
    return dim % ndim



def check_min_dims(name: str, shape: Shape, min_dims: int = 2) -> None:
    """Raise ValueError if `shape` has fewer than `min_dims` dimensions."""
    if len(shape) < min_dims:
        raise ValueError(
            f"{name} must have at least {min_dims} dims (..., positions, features), "
            f"got shape {tuple(shape)}"
        )


def check_query_key_sizes(query_shape: Shape, key_shape: Shape) -> None:
    """Raise ValueError unless queries and keys have the same feature size d_k >= 1.

    A dot product of vectors with no entries is 0 for every key, and the scale
    1 / sqrt(d_k) is undefined, so d_k = 0 is refused rather than guessed at.
    """
    if query_shape[-1] != key_shape[-1]:
        raise ValueError(
            f"query has d_k={query_shape[-1]} but key has d_k={key_shape[-1]} "
            f"(query shape {tuple(query_shape)}, key shape {tuple(key_shape)})"
        )
    if query_shape[-1] == 0:
        raise ValueError(
            f"query and key have d_k=0 features: there is nothing to compare "
            f"(query shape {tuple(query_shape)}, key shape {tuple(key_shape)})"
        )


def check_key_value_positions(key_shape: Shape, value_shape: Shape) -> None:
    """Raise ValueError unless there is exactly one value per key."""
    if key_shape[-2] != value_shape[-2]:
        raise ValueError(
            f"key has {key_shape[-2]} positions but value has {value_shape[-2]} "
            f"(key shape {tuple(key_shape)}, value shape {tuple(value_shape)})"
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
        named = ", ".join(f"{name} {tuple(shape)}" for name, shape in batch_shapes.items())
        raise ValueError(f"batch dims do not broadcast: {named}") from None


def check_attention_shapes(
    query_shape: Shape, key_shape: Shape, value_shape: Shape, *, same_query_key_size: bool = True
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


def check_same_batch(**shapes: Shape) -> int:
    """Return the common batch size (dim 0) of the named shapes, or raise naming them.

    Modules with a fixed layout `(batch, positions, features)` do not broadcast
    the batch, as `nn.MultiheadAttention` does not: a size-1 batch against a
    size-3 one is more often a mistake than a wish.
    """
    if not shapes:
        raise TypeError("check_same_batch needs at least one named shape")
    for name, shape in shapes.items():
        if len(shape) == 0:
            raise ValueError(f"{name} has no batch dim: shape ()")
    sizes = {name: shape[0] for name, shape in shapes.items()}
    if len(set(sizes.values())) > 1:
        named = ", ".join(f"{name} shape {tuple(shapes[name])}" for name in shapes)
        raise ValueError(f"batch sizes differ: {named}")
    return next(iter(sizes.values()))


def check_mask(
    mask_shape: Shape, mask_dtype: object, is_boolean: bool, scores_shape: Shape, name: str = "mask"
) -> None:
    """Raise unless the mask is boolean and broadcasts to the scores `(..., Tq, Tk)`.

    A mask may leave out leading dims or have size 1 where the scores do not,
    but it may not add dims: the scores keep their shape.

    Raises:
        TypeError: the mask is not boolean (its dtype is named).
        ValueError: the mask does not broadcast (both shapes are named).
    """
    if not is_boolean:
        raise TypeError(f"{name} must be boolean (True = may attend), got dtype {mask_dtype}")
    try:
        fits = np.broadcast_shapes(tuple(mask_shape), tuple(scores_shape)) == tuple(scores_shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name} of shape {tuple(mask_shape)} does not broadcast to the scores "
            f"of shape {tuple(scores_shape)} (..., queries, keys)"
        )


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


def check_lengths(lengths: Sequence[object] | np.ndarray, max_len: object) -> list[int]:
    """Return the sequence lengths (a sequence or 1-D array) as ints, each in [0, max_len]."""
    max_len = check_count("max_len", max_len)
    if isinstance(lengths, np.ndarray) and lengths.ndim == 1:
        lengths = lengths.tolist()
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence):
        raise TypeError(f"lengths must be a sequence of ints, one per sequence, got {type(lengths).__name__}")
    checked = []
    for i, length in enumerate(lengths):
        length = check_integer(f"lengths[{i}]", length)
        if not 0 <= length <= max_len:
            raise ValueError(
                f"lengths[{i}] = {length} is out of range: "
                f"every length must lie between 0 and max_len={max_len}"
            )
        checked.append(length)
    return checked


def check_fits(name: str, length: int, limit_name: str, limit: int) -> None:
    """Raise ValueError if `length` positions exceed `limit` (a table's or a cache's)."""
    if length > limit:
        raise ValueError(f"{name} has {length} positions but {limit_name}={limit}")

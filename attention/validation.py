"""Every input check of the package, one function per rule.

The public functions and modules call these at their entry points, before any
arithmetic and before any state changes; the functions they call in turn
trust their callers and check nothing again. Every rule raises the same kind
of error everywhere, naming the argument and the offending shape or value:

* TypeError: the wrong kind of thing (not an integer, not a float tensor, a
  dtype that differs from the module's, a mask that is not boolean);
* ValueError: the right kind with a wrong value or shape (a size <= 0, shapes
  that do not fit, a dim out of range, more positions than a table holds).

Shapes are checked as plain tuples of ints, so the NumPy and PyTorch versions
raise the same messages. This module does not import torch: the tensor checks
import it when they are called, which only torch code does.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

Shape = tuple[int, ...]

# ---------------------------------------------------------------- numbers


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


def check_dim(name: str, dim: object, shape: Shape) -> int:
    """Return `dim` as a non-negative index into `shape`, or raise naming both."""
    dim = check_integer(name, dim)
    ndim = len(shape)
    if not -ndim <= dim < ndim:
        raise ValueError(f"{name}={dim} is out of range for shape {tuple(shape)} ({ndim} dims)")
    return dim % ndim


# ---------------------------------------------------------------- shapes


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


# ---------------------------------------------------------------- NumPy arrays


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


# ---------------------------------------------------------------- torch tensors


def check_float_tensor(name: str, x: object) -> Any:
    """Return `x`, or raise TypeError unless it is a real floating-point torch tensor."""
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be floating point, got dtype {x.dtype}")
    return x


def check_same_dtype(**tensors: Any) -> None:
    """Raise TypeError unless the named tensors share one dtype."""
    dtypes = {name: x.dtype for name, x in tensors.items()}
    if len(set(dtypes.values())) > 1:
        named = ", ".join(f"{name} {dtype}" for name, dtype in dtypes.items())
        raise TypeError(f"{', '.join(tensors)} must share a dtype, got {named}")


def check_module_dtype(name: str, x: Any, weight: Any) -> None:
    """Raise TypeError unless tensor `x` has the dtype of the module's `weight`."""
    if x.dtype != weight.dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype} but the module's weights are {weight.dtype}; "
            f"convert one of them (e.g. module.to({x.dtype}))"
        )


def check_query_key_value(query: object, key: object, value: object) -> Shape:
    """Check three float tensors of one dtype and fitting shapes; return the scores' shape."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        check_float_tensor(name, x)
    check_same_dtype(query=query, key=key, value=value)
    return check_attention_shapes(tuple(query.shape), tuple(key.shape), tuple(value.shape))


def check_mask_tensor(mask: object, scores_shape: Shape, name: str = "mask") -> Any:
    """Return `mask`, or raise unless it is a bool tensor that broadcasts to `scores_shape`."""
    import torch

    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a bool torch.Tensor, got {type(mask).__name__}")
    check_mask(tuple(mask.shape), mask.dtype, mask.dtype == torch.bool, tuple(scores_shape), name)
    return mask


def check_model_input(name: str, x: object, size_name: str, size: int, weight: Any = None) -> Any:
    """Return `x`, or raise unless it is `(batch, positions, size)` of the module's dtype.

    A module without weights (`weight=None`) takes any floating dtype."""
    check_float_tensor(name, x)
    if x.ndim != 3 or x.shape[-1] != size:
        raise ValueError(
            f"{name} must have shape (batch, positions, {size_name}={size}), got {tuple(x.shape)}"
        )
    if weight is not None:
        check_module_dtype(name, x, weight)
    return x


def check_features(name: str, x: object, size_name: str, size: int, weight: Any) -> Any:
    """Return `x`, or raise unless it is `(..., positions, size)` of the module's dtype."""
    check_float_tensor(name, x)
    if x.ndim < 2 or x.shape[-1] != size:
        raise ValueError(
            f"{name} must have shape (..., positions, {size_name}={size}), got {tuple(x.shape)}"
        )
    check_module_dtype(name, x, weight)
    return x


def check_token_ids(name: str, tokens: object, vocab_size: int) -> Any:
    """Return `tokens`, or raise unless it is an int64 `(batch, positions)` tensor of ids < vocab_size."""
    import torch

    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
        kind = tokens.dtype if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise TypeError(f"{name} must be an int64 torch.Tensor of token ids, got {kind}")
    if tokens.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, positions), got {tuple(tokens.shape)}")
    if tokens.numel() and not 0 <= int(tokens.min()) <= int(tokens.max()) < vocab_size:
        raise ValueError(
            f"{name} ids must lie in [0, {vocab_size}), "
            f"got ids from {int(tokens.min())} to {int(tokens.max())}"
        )
    return tokens


def check_module(name: str, module: object, role: str) -> Any:
    """Return `module`, or raise TypeError unless it is an `nn.Module`; `role` says what it is for."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{name} must be an nn.Module ({role}), got {type(module).__name__}")
    return module


def check_dropout_module(dropout: object) -> None:
    """Raise TypeError unless `dropout` is None or callable (a module such as nn.Dropout(0.1)).

    A class is refused: `nn.Dropout` itself, not an instance, would take the weights for its `p`.
    """
    if dropout is not None and (not callable(dropout) or isinstance(dropout, type)):
        raise TypeError(
            f"dropout must be a module applied to the weights, such as nn.Dropout({dropout!r}), "
            f"or None; got {type(dropout).__name__} {dropout!r}"
        )

"""The rules for torch tensors and modules: float tensors, dtypes that match a module's
weights, a module's inputs, token ids, masks, and modules passed as arguments.

torch is imported when a rule is called (only torch code calls these), so that
`import attention.validation` stays free of torch.
"""

from __future__ import annotations

from typing import Any

from attention.validation.shapes import Shape, check_attention_shapes, check_mask


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


def check_token_ids(name: str, tokens: object, vocab_size: int, *, min_positions: int = 0) -> Any:
    """Return `tokens`, or raise unless it is an int64 `(batch, positions)` tensor of ids < vocab_size,
    with at least `min_positions` positions (1: a prompt, or a source a recurrent network reads)."""
    import torch

    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
        kind = tokens.dtype if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise TypeError(f"{name} must be an int64 torch.Tensor of token ids, got {kind}")
    if tokens.ndim != 2 or tokens.shape[1] < min_positions:
        positions = f"positions >= {min_positions}" if min_positions else "positions"
        raise ValueError(f"{name} must have shape (batch, {positions}), got {tuple(tokens.shape)}")
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

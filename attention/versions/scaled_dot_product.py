"""Scaled dot-product attention in PyTorch, and the masked softmax under it.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

Each query is compared with every key by a dot product; softmax turns one
query's scores into weights over the keys; the output is the weighted average
of the values. Masks follow the package convention: True = may attend.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from attention._checks import Shape, check_attention_shapes, check_mask, check_scale


def check_float_tensor(name: str, x: object) -> torch.Tensor:
    """Raise TypeError unless `x` is a floating-point tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be floating point, got dtype {x.dtype}")
    return x


def check_torch_mask(mask: object, scores_shape: Shape) -> torch.Tensor:
    """Raise unless `mask` is a bool tensor that broadcasts to `scores_shape`."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a bool torch.Tensor, got {type(mask).__name__}")
    check_mask(tuple(mask.shape), mask.dtype, mask.dtype == torch.bool, tuple(scores_shape))
    return mask


def check_query_key_value(query: object, key: object, value: object) -> Shape:
    """Check three float tensors of one dtype and fitting shapes; return the scores' shape."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        check_float_tensor(name, x)
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            "query, key and value must share a dtype, "
            f"got {query.dtype}, {key.dtype} and {value.dtype}"
        )
    return check_attention_shapes(tuple(query.shape), tuple(key.shape), tuple(value.shape))


def masked_softmax(
    scores: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1
) -> torch.Tensor:
    """Softmax over `dim` in which masked-out entries get exactly zero weight.

    How it avoids NaN: masked scores become -inf, so exp gives exactly 0 for
    them as long as the row still has a finite score. A row whose entries are
    *all* masked would compute -inf - (-inf) = NaN, so such rows are first set
    to 0 (any finite value would do), and their weights are set to 0 after the
    softmax. Hence, in every floating dtype:

    * a row with at least one allowed entry sums to 1 over its allowed entries,
      and its masked entries are exactly 0;
    * a fully masked row is all zeros, and its gradient is zero, never NaN.

    Filling with the dtype's most negative finite value, torch.finfo(dtype).min,
    instead of -inf would avoid the NaN but give a fully masked row uniform
    weights, and masked entries would not be exactly 0 if the allowed scores
    were themselves that negative.

    Args:
        scores: real scores of any shape, e.g. `(..., queries, keys)`.
        mask: bool, broadcastable to `scores.shape`, True = keep; None keeps all.
        dim: the dim to normalise over.

    Returns:
        Weights of the shape of `scores`.

    Example:
        >>> scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
        >>> mask = torch.tensor([[True, True, False], [False, False, False]])
        >>> masked_softmax(scores, mask)
        tensor([[0.2689, 0.7311, 0.0000],
                [0.0000, 0.0000, 0.0000]])
    """
    check_float_tensor("scores", scores)
    if mask is None:
        return torch.softmax(scores, dim=dim)
    check_torch_mask(mask, scores.shape)
    mask = mask.reshape((1,) * (scores.ndim - mask.ndim) + mask.shape)  # as many dims as scores
    fully_masked = ~mask.any(dim=dim, keepdim=True)  # size 1 along dim
    scores = scores.masked_fill(~mask, float("-inf"))  # a new tensor: safe to edit in place
    scores.masked_fill_(fully_masked, 0.0)  # no row is all -inf any more
    weights = torch.softmax(scores, dim=dim)
    return weights.masked_fill(fully_masked, 0.0)


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout: nn.Module | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(scale * Q K^T) V, with an optional mask and dropout on the weights.

    The leading batch dims `...` of query, key and value broadcast against
    each other as in `torch.matmul` (e.g. one key set shared by all heads).
    The weights, like the mask, carry the batch dims of query and key; the
    output carries those of all three.

    Args:
        query: `(..., Tq, d_k)`.
        key: `(..., Tk, d_k)`.
        value: `(..., Tk, d_v)`.
        mask: bool, broadcastable to `(..., Tq, Tk)`; True = the query may attend
            to the key. A query with no allowed key gets zero weights and output.
        dropout: a module applied to the weights (e.g. `nn.Dropout(0.1)`).
        scale: multiplies the scores; defaults to 1 / sqrt(d_k).

    Returns:
        `(output, weights)`: output `(..., Tq, d_v)`, and weights `(..., Tq, Tk)`,
        the weights actually applied to the values (after dropout, if any).

    Raises:
        ValueError: shapes that do not fit (named in the message), or scale <= 0.
        TypeError: non-tensor or non-float inputs, or a non-boolean mask.

    Example:
        >>> query = torch.tensor([[1.0, 0.0]])              # (Tq=1, d_k=2)
        >>> key = torch.tensor([[1.0, 0.0], [0.0, 1.0]])    # (Tk=2, d_k=2)
        >>> value = torch.tensor([[10.0], [20.0]])          # (Tk=2, d_v=1)
        >>> output, weights = scaled_dot_product_attention(query, key, value, scale=1.0)
        >>> weights
        tensor([[0.7311, 0.2689]])
        >>> output
        tensor([[12.6894]])
    """
    scores_shape = check_query_key_value(query, key, value)
    if mask is not None:
        check_torch_mask(mask, scores_shape)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else check_scale(scale)

    # Scale the queries rather than the scores: (..., Tq, d_k) is usually the smaller tensor.
    # (..., Tq, d_k) @ (..., d_k, Tk) -> (..., Tq, Tk)
    scores = (query * scale) @ key.transpose(-2, -1)  # (..., Tq, Tk)
    weights = masked_softmax(scores, mask, dim=-1)  # (..., Tq, Tk)
    if dropout is not None:
        weights = dropout(weights)
    output = weights @ value  # (..., Tq, Tk) @ (..., Tk, d_v) -> (..., Tq, d_v)
    return output, weights

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

from attention.validation import (
    check_dim,
    check_dropout_module,
    check_float_tensor,
    check_mask_tensor,
    check_query_key_value,
    check_scale,
)

def score_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype attention scores are computed in for inputs of `dtype`: float32 for half precision.

    Half-precision scores overflow (65504 is float16's largest value) long before
    their softmax is in any danger.
    """
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def masked_softmax(
    scores: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1
) -> torch.Tensor:
    """Softmax over `dim` in which masked-out entries get exactly zero weight.

    A score of -inf counts as masked too: it gets weight 0 whether the mask
    allows it or not. A row with nothing left to attend to (every entry masked,
    or every allowed score -inf, or no entry at all) gets all-zero weights and
    a zero gradient, never NaN: it is the same case as a fully masked row.

    How it avoids NaN: masked scores become -inf, so exp gives exactly 0 for
    them as long as the row still has a finite score. A row with nothing
    allowed would compute -inf - (-inf) = NaN, so such rows are first set to 0
    (any finite value would do), and their weights are set to 0 after the
    softmax. Hence, in every floating dtype:

    * a row with at least one allowed entry sums to 1 over its allowed entries,
      and its masked entries are exactly 0;
    * a row with nothing allowed is all zeros, and its gradient is zero.

    A NaN score is never hidden: its row comes out NaN, as in `torch.softmax`.

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

    Raises:
        TypeError: scores not a float tensor, a non-boolean mask, a non-integer dim.
        ValueError: a mask that does not broadcast, a dim out of range.

    Examples:
        >>> scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
        >>> mask = torch.tensor([[True, True, False], [False, False, False]])
        >>> masked_softmax(scores, mask)
        tensor([[0.2689, 0.7311, 0.0000],
                [0.0000, 0.0000, 0.0000]])
    """
    check_float_tensor("scores", scores)
    if mask is not None:
        check_mask_tensor(mask, tuple(scores.shape))
    dim = check_dim("dim", dim, tuple(scores.shape))
    return weights_from_scores(scores, mask, dim)


def weights_from_scores(scores: torch.Tensor, mask: torch.Tensor | None, dim: int) -> torch.Tensor:
    """`masked_softmax` without its checks: for callers that have checked their inputs."""
    allowed = scores != float("-inf")  # (..., Tq, Tk); NaN counts as allowed, so it shows
    if mask is not None:
        allowed = allowed & mask  # the mask broadcasts to the scores' shape
    nothing_allowed = ~allowed.any(dim=dim, keepdim=True)  # size 1 along dim
    scores = scores.masked_fill(~allowed, float("-inf"))  # a new tensor: safe to edit in place
    scores.masked_fill_(nothing_allowed, 0.0)  # no row is all -inf any more
    weights = torch.softmax(scores, dim=dim)
    return weights.masked_fill(nothing_allowed, 0.0)


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

    Edge cases, the same in every attention function of the package: a query
    with no key to attend to (all masked, or no keys at all, Tk = 0) gets zero
    weights and a zero output. In float16 and bfloat16 the scores and their
    softmax are computed in float32, so large scores do not overflow. NaN in
    the inputs is never hidden: it comes out as NaN. That includes a NaN in the
    value of a masked key, since its zero weight times NaN is NaN (PyTorch's
    `F.scaled_dot_product_attention` does the same).

    Args:
        query: `(..., Tq, d_k)`, d_k >= 1.
        key: `(..., Tk, d_k)`.
        value: `(..., Tk, d_v)`.
        mask: bool, broadcastable to `(..., Tq, Tk)`; True = the query may attend
            to the key.
        dropout: a module applied to the weights (e.g. `nn.Dropout(0.1)`), or None.
        scale: multiplies the scores; defaults to 1 / sqrt(d_k).

    Returns:
        `(output, weights)`: output `(..., Tq, d_v)`, and weights `(..., Tq, Tk)`,
        the weights actually applied to the values (after dropout, if any).

    Raises:
        ValueError: shapes that do not fit (named in the message), d_k = 0, or scale <= 0.
        TypeError: non-tensor or non-float inputs, mixed dtypes, a non-boolean
            mask, a dropout that is not a module (e.g. a float).

    Examples:
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
        check_mask_tensor(mask, scores_shape)
    check_dropout_module(dropout)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else check_scale(scale)
    return attend(query, key, value, mask, dropout, scale)


def attend(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    mask: torch.Tensor | None, dropout: nn.Module | None, scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`scaled_dot_product_attention` without its checks: for callers that have checked."""
    wide = score_dtype(query.dtype)
    # Scale the queries rather than the scores: (..., Tq, d_k) is usually the smaller tensor.
    # (..., Tq, d_k) @ (..., d_k, Tk) -> (..., Tq, Tk)
    scores = (query.to(wide) * scale) @ key.to(wide).transpose(-2, -1)  # (..., Tq, Tk)
    weights = weights_from_scores(scores, mask, dim=-1).to(value.dtype)  # (..., Tq, Tk)
    if dropout is not None:
        weights = dropout(weights)
    output = weights @ value  # (..., Tq, Tk) @ (..., Tk, d_v) -> (..., Tq, d_v)
    return output, weights

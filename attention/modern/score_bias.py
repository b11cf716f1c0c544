"""Attention with a bias added to the scores, and key/value heads shared by groups of query heads.

    softmax(Q K^T / sqrt(d_head) + B, masked) V

The bias B is how relative position schemes such as ALiBi (`attention.modern.alibi`)
enter attention: a number per head, query and key, added to the score before
the softmax. The mask is applied after it: a masked key gets exactly zero
weight whatever its bias. Key/value heads are shared as in grouped-query
attention (Chapter 17): query head i uses key/value head i // (heads / kv_heads).

Two paths compute the same thing: an explicit one that returns the weights,
and PyTorch's fused `F.scaled_dot_product_attention`, given the bias and the
mask together as one float `attn_mask` (-inf where the mask is False).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from attention.validation import (
    check_bool,
    check_float_tensor,
    check_mask,
    check_mask_tensor,
    check_query_key_sizes,
    check_same_batch,
    check_same_dtype,
)
from attention.versions.scaled_dot_product import weights_from_scores


def biased_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    mask: torch.Tensor | None = None, bias: torch.Tensor | None = None, *,
    need_weights: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q k^T / sqrt(d_head) + bias), masked, times v, with shared key/value heads.

    Args:
        query: `(batch, heads, Tq, d_head)`.
        key: `(batch, kv_heads, Tk, d_head)`, kv_heads dividing heads.
        value: `(batch, kv_heads, Tk, d_head)`.
        mask: bool, True = may attend, broadcastable to `(batch, heads, Tq, Tk)`.
        bias: float, added to the scaled scores, broadcastable to the same.
        need_weights: if False, run PyTorch's fused kernel (the bias and mask
            passed as one float `attn_mask`) and return no weights.

    Returns:
        `(output (batch, heads, Tq, d_head), weights (batch, heads, Tq, Tk) or None)`.
        A query with no allowed key gets zero weights and a zero output.

    Raises:
        TypeError: non-float or mixed-dtype inputs, a mask that is not a bool
            tensor, a bias that is not a float tensor.
        ValueError: shapes that do not fit (batch sizes, heads, positions, d_head),
            a mask or bias that does not broadcast to `(batch, heads, Tq, Tk)`.

    Examples:
        >>> q, k, v = torch.randn(1, 4, 3, 8), torch.randn(1, 2, 3, 8), torch.randn(1, 2, 3, 8)
        >>> bias = -torch.arange(3.0)                       # (Tk,): later keys penalised
        >>> slow, weights = biased_attention(q, k, v, bias=bias)
        >>> fast, _ = biased_attention(q, k, v, bias=bias, need_weights=False)
        >>> weights.shape, torch.allclose(slow, fast, atol=1e-6)
        (torch.Size([1, 4, 3, 3]), True)
    """
    for name, x in (("query", query), ("key", key), ("value", value)):
        check_float_tensor(name, x)
        if x.ndim != 4:
            raise ValueError(f"{name} must have shape (batch, heads, positions, d_head), got {tuple(x.shape)}")
    check_same_dtype(query=query, key=key, value=value)
    batch = check_same_batch(query=query.shape, key=key.shape, value=value.shape)
    if key.shape[2] != value.shape[2]:
        raise ValueError(f"key has {key.shape[2]} positions but value has {value.shape[2]}")
    num_heads, num_kv_heads = query.shape[1], key.shape[1]
    if num_kv_heads == 0 or num_heads % num_kv_heads or value.shape[1] != num_kv_heads:
        raise ValueError(
            f"query has {num_heads} heads, which must be a multiple of the key's {num_kv_heads} "
            f"key/value heads (and the value's {value.shape[1]})"
        )
    check_query_key_sizes(query.shape, key.shape)
    check_mask_and_bias(mask, bias, (batch, num_heads, query.shape[2], key.shape[2]))
    need_weights = check_bool("need_weights", need_weights)
    return attend_with_bias(query, key, value, mask, bias, need_weights=need_weights)


def check_mask_and_bias(
    mask: torch.Tensor | None, bias: torch.Tensor | None, scores_shape: tuple[int, ...]
) -> None:
    """Raise unless `mask` (bool) and `bias` (float) are None or broadcast to the scores.

    Args:
        mask: None, or a bool tensor, True = may attend.
        bias: None, or a float tensor added to the scores.
        scores_shape: `(batch, heads, Tq, Tk)`.

    Examples:
        >>> check_mask_and_bias(None, torch.zeros(5), (1, 1, 2, 4))
        Traceback (most recent call last):
        ...
        ValueError: bias of shape (5,) does not broadcast to the scores of shape (1, 1, 2, 4) (..., queries, keys)
    """
    if mask is not None:
        check_mask_tensor(mask, scores_shape)
    if bias is not None:
        check_float_tensor("bias", bias)
        check_mask(tuple(bias.shape), bias.dtype, True, scores_shape, "bias")  # the broadcast rule of masks


def attend_with_bias(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    mask: torch.Tensor | None, bias: torch.Tensor | None, *, need_weights: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`biased_attention` without its checks: for callers that have checked their inputs."""
    num_heads, num_kv_heads = query.shape[1], key.shape[1]
    if need_weights:
        group = num_heads // num_kv_heads
        key = key.repeat_interleave(group, dim=1)  # (batch, heads, Tk, d_head)
        value = value.repeat_interleave(group, dim=1)
        scores = (query / math.sqrt(query.shape[-1])) @ key.transpose(-2, -1)  # (batch, heads, Tq, Tk)
        if bias is not None:
            scores = scores + bias.to(scores.dtype)  # as the fused path does
        weights = weights_from_scores(scores, mask, -1)  # (batch, heads, Tq, Tk)
        return weights @ value, weights
    fully_masked = None
    attn_mask = mask
    if bias is not None:
        attn_mask = bias.to(query.dtype)
        if mask is not None:
            attn_mask = attn_mask.masked_fill(~mask, float("-inf"))
    if mask is not None:  # a query with no allowed key: let it see all, then zero it
        fully_masked = ~mask.any(dim=-1, keepdim=True)  # (..., Tq, 1)
        if fully_masked.any():
            attn_mask = (attn_mask | fully_masked if attn_mask.dtype == torch.bool
                         else attn_mask.masked_fill(fully_masked, 0.0))
        else:
            fully_masked = None
    if attn_mask is not None and attn_mask.ndim < 2:  # the fused kernel wants (..., Tq, Tk)
        attn_mask = attn_mask.reshape((1,) * (2 - attn_mask.ndim) + attn_mask.shape)
    output = F.scaled_dot_product_attention(
        query, key, value, attn_mask=attn_mask, enable_gqa=num_kv_heads != num_heads
    )  # (batch, heads, Tq, d_head)
    if fully_masked is not None:
        output = output.masked_fill(fully_masked, 0.0)
    return output, None

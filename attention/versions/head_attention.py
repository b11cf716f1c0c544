"""Attention inside every head: the step multi-head and grouped-query attention share.

The heads arrive split, `(batch, heads, T, d_head)`; keys and values may have fewer
heads than the queries (grouped-query attention), each shared by a group of query
heads. Without weights asked for, the heads run in PyTorch's fused
`scaled_dot_product_attention` (`fused_attention`, made to give zeros where a query
may see no key); with weights, in this package's explicit `attend`. These functions
trust their caller: `MultiHeadAttention` and `GroupedQueryAttention` check the inputs
once (with `mask_for_heads` for the mask).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from attention.validation import check_mask_tensor
from attention.versions.scaled_dot_product import attend


def fused_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    dropout_p: float,
) -> torch.Tensor:
    """PyTorch's fused attention, made to give zeros for a query with no allowed key.

    PyTorch's boolean `attn_mask` uses our convention (True = may attend). For a
    fully masked query, torch 2.13's `F.scaled_dot_product_attention` returns
    zeros on its own, but older versions returned NaN there (and
    `nn.MultiheadAttention` still does with `need_weights=True`; chapter 9 shows
    both). So as not to depend on the version, such queries are allowed to see
    every key (a finite result) and their output is then set to 0.
    """
    # PyTorch's CPU kernel can return a finite row for a query holding NaN (seen with
    # d_head = 2); adding 0 * (sum of the query) brings the NaN back, as the explicit path has it.
    nan_of_query = query.sum(dim=-1, keepdim=True).mul(0.0)  # (batch, heads, Tq, 1): 0 or NaN
    if mask is None:
        return F.scaled_dot_product_attention(query, key, value, dropout_p=dropout_p) + nan_of_query
    fully_masked = ~mask.any(dim=-1, keepdim=True)  # (..., Tq or 1, 1)
    output = F.scaled_dot_product_attention(
        query, key, value, attn_mask=mask | fully_masked, dropout_p=dropout_p
    )  # (batch, heads, Tq, d_head)
    return (output + nan_of_query).masked_fill(fully_masked, 0.0)


def mask_for_heads(
    mask: torch.Tensor | None, batch: int, num_heads: int, num_queries: int, num_keys: int,
    name: str = "mask",
) -> torch.Tensor | None:
    """Check `mask` and return it as 4 dims, broadcastable to `(batch, heads, Tq, Tk)`.

    A mask of up to 3 dims (`(Tk,)`, `(Tq, Tk)`, `(batch, 1 or Tq, Tk)`) is
    shared by all heads; one of 4 dims, `(batch, heads, Tq, Tk)`, may differ
    between heads. Errors call the mask `name`.
    """
    if mask is None:
        return None
    if isinstance(mask, torch.Tensor) and mask.ndim == 4:
        return check_mask_tensor(mask, (batch, num_heads, num_queries, num_keys), name)
    check_mask_tensor(mask, (batch, num_queries, num_keys), name)
    mask = mask.reshape((1,) * (3 - mask.ndim) + mask.shape)  # (batch or 1, Tq or 1, Tk or 1)
    return mask.unsqueeze(1)  # (batch or 1, 1, Tq or 1, Tk or 1): the same for every head


def attend_heads(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None,
    *, need_weights: bool, dropout: nn.Dropout,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Attention in every head, query heads grouped over shared key/value heads; no checks.

    Args:
        query: `(batch, heads, Tq, d)`.
        key: `(batch, kv_heads, Tk, d)`, kv_heads dividing heads (equal for multi-head).
        value: `(batch, kv_heads, Tk, d_v)`.
        mask: None or 4 dims, broadcastable to `(batch, heads, Tq, Tk)`.
        need_weights: False runs PyTorch's fused kernel and returns no weights.
        dropout: on the weights; the fused kernel takes its `p` while training.

    Returns:
        `(output, weights)`: `(batch, heads, Tq, d_v)` and `(batch, heads, Tq, Tk)` or None.

    Query head i uses key/value head i // (heads / kv_heads). The keys are never
    copied per head: the queries of one group are stacked along the query dim
    and attend to their shared keys together (with one group per key/value
    head, as in multi-head attention, the stacking changes nothing).
    """
    batch, num_heads, num_queries, d = query.shape
    num_kv_heads, num_keys = key.shape[1], key.shape[2]
    group = num_heads // num_kv_heads
    # Head i = kv * group + g: the group's queries stacked along the query dim.
    query = query.reshape(batch, num_kv_heads, group * num_queries, d)  # (batch, kv_heads, group Tq, d)
    if mask is not None and group > 1:  # the same stacking for the mask
        mask = mask.expand(mask.shape[0], num_heads, num_queries, num_keys)  # (batch or 1, heads, Tq, Tk)
        mask = mask.reshape(mask.shape[0], num_kv_heads, group * num_queries, num_keys)
    if need_weights:
        output, weights = attend(query, key, value, mask, dropout, 1.0 / math.sqrt(d))
        weights = weights.reshape(batch, num_heads, num_queries, num_keys)  # (batch, heads, Tq, Tk)
    else:
        dropout_p = dropout.p if dropout.training else 0.0
        output, weights = fused_attention(query, key, value, mask, dropout_p), None
    output = output.reshape(batch, num_heads, num_queries, value.shape[-1])  # (batch, heads, Tq, d_v)
    return output, weights

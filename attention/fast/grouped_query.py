"""Grouped-query attention: several query heads share one key/value head.

Multi-head attention gives each of its h query heads its own keys and values.
Multi-query attention (Shazeer, 2019) keeps one key/value head for all of
them; grouped-query attention (Ainslie et al., 2023) keeps g, each shared by a
group of h / g query heads: g = h is multi-head attention, g = 1 multi-query.
Keys and values, and so the KV cache a decoder keeps, shrink by h / g.

Query head i uses key/value head i // (h / g), as in PyTorch's
`scaled_dot_product_attention(..., enable_gqa=True)`. The keys are never
copied per head: the queries of one group are stacked along the query dim and
attend to their shared keys together.
"""

from __future__ import annotations

import torch
from torch import nn

from attention.fast.kv_cache import KVCache
from attention.validation import (
    check_bool,
    check_dropout_module,
    check_float_tensor,
    check_mask_tensor,
    check_same_batch,
    check_same_dtype,
)
from attention.versions.masks import causal_mask
from attention.versions.head_attention import attend_heads, mask_for_heads
from attention.versions.multi_head import AttentionHeads


def grouped_query_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    mask: torch.Tensor | None = None, *,
    need_weights: bool = True, dropout: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention in which groups of query heads share key/value heads.

    Args:
        query: `(batch, heads, Tq, d)`, d >= 1.
        key: `(batch, kv_heads, Tk, d)`, kv_heads dividing heads, the same batch size.
        value: `(batch, kv_heads, Tk, d_v)`.
        mask: bool, True = may attend, broadcastable to `(batch, heads, Tq, Tk)`.
        need_weights: if False, use PyTorch's fused kernel and return no weights.
        dropout: an `nn.Dropout` applied to the weights (the explicit path; the
            fused one takes `dropout.p` when the module is training), or None.

    Returns:
        `(output, weights)`: output `(batch, heads, Tq, d_v)`, weights
        `(batch, heads, Tq, Tk)` or None if not need_weights. A query with no
        key to attend to gets a zero output, as in `scaled_dot_product_attention`.

    Raises:
        TypeError: non-float or mixed-dtype inputs, a non-boolean mask, a dropout
            that is not an `nn.Dropout`.
        ValueError: shapes that do not fit (the shapes passed are named).

    Examples:
        >>> import torch.nn.functional as F
        >>> q, k, v = torch.randn(2, 8, 5, 4), torch.randn(2, 2, 7, 4), torch.randn(2, 2, 7, 3)
        >>> output, weights = grouped_query_attention(q, k, v)  # 4 query heads per key/value head
        >>> output.shape, weights.shape
        (torch.Size([2, 8, 5, 3]), torch.Size([2, 8, 5, 7]))
        >>> torch.allclose(output, F.scaled_dot_product_attention(q, k, v, enable_gqa=True), atol=1e-6)
        True
    """
    for name, x in (("query", query), ("key", key), ("value", value)):
        check_float_tensor(name, x)
        if x.ndim != 4:
            raise ValueError(
                f"{name} must have shape (batch, heads, positions, features), got {tuple(x.shape)}"
            )
    check_same_dtype(query=query, key=key, value=value)
    shapes = f"(query shape {tuple(query.shape)}, key shape {tuple(key.shape)}, value shape {tuple(value.shape)})"
    batch = check_same_batch(query=query.shape, key=key.shape, value=value.shape)
    num_heads, num_queries, d = query.shape[1:]
    num_kv_heads, num_keys, d_key = key.shape[1:]
    if value.shape[1:3] != key.shape[1:3]:
        raise ValueError(f"key and value must have the same heads and positions {shapes}")
    if num_kv_heads == 0 or num_heads % num_kv_heads != 0:
        raise ValueError(
            f"query has {num_heads} heads, which must be a multiple of the key's "
            f"{num_kv_heads} key/value heads {shapes}"
        )
    if d != d_key or d == 0:
        raise ValueError(f"query and key must have the same feature size d >= 1 {shapes}")
    if mask is not None:
        check_mask_tensor(mask, (batch, num_heads, num_queries, num_keys))
        mask = mask.reshape((1,) * (4 - mask.ndim) + mask.shape)  # 4 dims
    need_weights = check_bool("need_weights", need_weights)
    if dropout is None:
        dropout = nn.Dropout(0.0)
    elif not isinstance(dropout, nn.Dropout):
        check_dropout_module(dropout)  # a float gets its own message
        raise TypeError(f"dropout must be an nn.Dropout or None, got {type(dropout).__name__}")
    return attend_heads(query, key, value, mask, need_weights=need_weights, dropout=dropout)


class GroupedQueryAttention(AttentionHeads):
    """Multi-head attention whose query heads share `num_kv_heads` key/value heads.

    With num_kv_heads = num_heads it computes what `MultiHeadAttention` computes
    (the two share their projections, head split and attention code).

    Args:
        d_model: the size of every input and output vector.
        num_heads: the number of query heads; must divide d_model.
        num_kv_heads: the number of key/value heads; must divide num_heads.
            num_heads gives multi-head attention, 1 multi-query attention.
        dropout: dropout probability on the attention weights (training only).
        bias: whether the four projections have biases.

    Members:
        w_q, w_o: `nn.Linear(d_model, d_model)`; w_k, w_v:
        `nn.Linear(d_model, num_kv_heads * d_head)`, where d_head = d_model / num_heads.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> attend = GroupedQueryAttention(d_model=16, num_heads=4, num_kv_heads=2)
        >>> x = torch.randn(3, 5, 16)                          # (batch, positions, d_model)
        >>> output, weights = attend(x, x, x, causal=True)
        >>> output.shape, weights.shape
        (torch.Size([3, 5, 16]), torch.Size([3, 4, 5, 5]))
        >>> cache = KVCache(batch=3, num_kv_heads=2, capacity=5, d_head=4)
        >>> with torch.no_grad():                               # the same, one position at a time
        ...     steps = [attend(x[:, t:t + 1], x[:, t:t + 1], x[:, t:t + 1], causal=True,
        ...                     cache=cache, need_weights=False)[0] for t in range(5)]
        >>> torch.allclose(torch.cat(steps, dim=1), output, atol=1e-6)
        True
    """

    stack_projections = False  # w_k is called on its own: a hook on it sees the new keys

    def __init__(
        self, d_model: int, num_heads: int, num_kv_heads: int, dropout: float = 0.0, bias: bool = True
    ) -> None:
        super().__init__(d_model, num_heads, num_kv_heads, dropout, bias)

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        """An empty `KVCache` for this module's keys and values, of its dtype and device."""
        weight = self.w_k.weight
        return KVCache(
            batch, self.num_kv_heads, capacity, self.d_head, dtype=weight.dtype, device=weight.device
        )

    def forward(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
        mask: torch.Tensor | None = None, *,
        causal: bool = False, cache: KVCache | None = None, need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from every query to the keys (and to the cached ones, with a cache).

        Every input is checked before the cache is written: a call that raises
        leaves the cache as it was.

        Args:
            query: `(batch, Tq, d_model)`.
            key: `(batch, T_new, d_model)`, the new positions.
            value: `(batch, T_new, d_model)`, their values.
            mask: bool, True = may attend, over all Tk keys (cached and new): any
                shape `MultiHeadAttention` takes, e.g. `(Tq, Tk)`, `(batch, 1 or Tq, Tk)`,
                or `(batch, heads, Tq, Tk)`.
            causal: also mask future keys, aligned to the lower right (the
                queries are the last Tq of the Tk positions), as `causal_mask` does.
            cache: if given, the new keys and values are appended to it and the
                queries attend to every position it holds.
            need_weights: if False, use PyTorch's fused kernel and return None weights.

        Returns:
            `(output, weights)`: output `(batch, Tq, d_model)`, weights
            `(batch, heads, Tq, Tk)` or None.

        Raises:
            TypeError: as `MultiHeadAttention`, or a cache that is not a `KVCache`
                or not of the module's dtype.
            ValueError: as `MultiHeadAttention`, a cache of other sizes or without
                room for T_new positions, causal with more queries than keys.
        """
        batch, num_queries, num_new = self.check_inputs(query, key, value)
        num_keys = num_new
        if cache is not None:
            if not isinstance(cache, KVCache):
                raise TypeError(f"cache must be a KVCache, got {type(cache).__name__}")
            new_shape = (batch, self.num_kv_heads, num_new, self.d_head)
            cache.check_append(new_shape, new_shape, self.w_k.weight.dtype)
            num_keys += len(cache)
        mask = mask_for_heads(mask, batch, self.num_heads, num_queries, num_keys)
        if check_bool("causal", causal):
            allowed = causal_mask(num_queries, num_keys, device=query.device)[None, None]  # (1, 1, Tq, Tk)
            mask = allowed if mask is None else mask & allowed  # 4 dims, as mask_for_heads gives
        need_weights = check_bool("need_weights", need_weights)

        q, k, v = self.project(query, key, value)  # (batch, Tq or T_new, d_model or d_kv)
        q, k, v = (self.split_heads(x) for x in (q, k, v))  # (batch, heads or kv_heads, T, d_head)
        if cache is not None:
            k, v = cache.store(k, v)  # (batch, kv_heads, Tk, d_head), Tk = cached + new
        heads, weights = attend_heads(
            q, k, v, mask, need_weights=need_weights, dropout=self.dropout
        )  # (batch, heads, Tq, d_head)
        output = self.w_o(self.combine_heads(heads))  # (batch, Tq, d_model)
        return output, weights

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

from attention._checks import check_count
from attention.fast.kv_cache import KVCache
from attention.versions.masks import causal_mask
from attention.versions.multi_head import (
    check_model_inputs,
    fused_attention,
    mask_for_heads,
)
from attention.versions.scaled_dot_product import (
    check_float_tensor,
    check_torch_mask,
    scaled_dot_product_attention,
)


def grouped_query_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    mask: torch.Tensor | None = None, *,
    need_weights: bool = True, dropout: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention in which groups of query heads share key/value heads.

    Args:
        query: `(batch, heads, Tq, d)`.
        key: `(batch, kv_heads, Tk, d)`, kv_heads dividing heads.
        value: `(batch, kv_heads, Tk, d_v)`.
        mask: bool, True = may attend, broadcastable to `(batch, heads, Tq, Tk)`.
        need_weights: if False, use PyTorch's fused kernel and return no weights.
        dropout: applied to the weights (the explicit path; the fused one takes
            `dropout.p` when the module is training).

    Returns:
        `(output, weights)`: output `(batch, heads, Tq, d_v)`, weights
        `(batch, heads, Tq, Tk)` or None if not need_weights.

    Example:
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
    batch, num_heads, num_queries, _ = query.shape
    num_kv_heads, num_keys = key.shape[1], key.shape[2]
    if num_kv_heads == 0 or num_heads % num_kv_heads != 0 or value.shape[1] != num_kv_heads:
        raise ValueError(
            f"query has {num_heads} heads, which must be a multiple of the key's {num_kv_heads} "
            f"key/value heads (and the value's {value.shape[1]})"
        )
    group = num_heads // num_kv_heads
    # Head i = kv * group + g: the group's queries stacked along the query dim.
    # (batch, kv_heads, group * Tq, d):
    stacked = query.reshape(batch, num_kv_heads, group * num_queries, query.shape[-1])
    if mask is not None:  # the same stacking: (batch or 1, kv_heads, group * Tq, Tk)
        check_torch_mask(mask, (batch, num_heads, num_queries, num_keys))
        mask = mask.reshape((1,) * (4 - mask.ndim) + mask.shape)  # (batch or 1, heads or 1, Tq or 1, Tk)
        mask = mask.expand(mask.shape[0], num_heads, num_queries, num_keys)  # (batch or 1, heads, Tq, Tk)
        mask = mask.reshape(mask.shape[0], num_kv_heads, group * num_queries, num_keys)
    if need_weights:
        output, weights = scaled_dot_product_attention(stacked, key, value, mask, dropout=dropout)
        weights = weights.reshape(batch, num_heads, num_queries, num_keys)  # (batch, heads, Tq, Tk)
    else:
        dropout_p = dropout.p if dropout is not None and dropout.training else 0.0
        output, weights = fused_attention(stacked, key, value, mask, dropout_p), None
    output = output.reshape(batch, num_heads, num_queries, value.shape[-1])  # (batch, heads, Tq, d_v)
    return output, weights


class GroupedQueryAttention(nn.Module):
    """Multi-head attention whose query heads share `num_kv_heads` key/value heads.

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

    Example:
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

    def __init__(
        self, d_model: int, num_heads: int, num_kv_heads: int, dropout: float = 0.0, bias: bool = True
    ) -> None:
        super().__init__()
        sizes = {name: check_count(name, size) for name, size in
                 (("d_model", d_model), ("num_heads", num_heads), ("num_kv_heads", num_kv_heads))}
        if 0 in sizes.values():
            named = ", ".join(f"{name}={size}" for name, size in sizes.items())
            raise ValueError(f"sizes must be positive, got {named}")
        if d_model % num_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        if num_heads % num_kv_heads != 0:
            raise ValueError(f"num_heads={num_heads} is not divisible by num_kv_heads={num_kv_heads}")
        self.d_model, self.num_heads, self.num_kv_heads = d_model, num_heads, num_kv_heads
        self.d_head = d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, num_kv_heads * self.d_head, bias=bias)
        self.w_v = nn.Linear(d_model, num_kv_heads * self.d_head, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, T, heads * d_head)` -> `(batch, heads, T, d_head)`, for query or key/value heads."""
        return x.unflatten(-1, (-1, self.d_head)).transpose(1, 2)  # (batch, heads, T, d_head)

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

        Args:
            query: `(batch, Tq, d_model)`.
            key: `(batch, T_new, d_model)`, the new positions.
            value: `(batch, T_new, d_model)`, their values.
            mask: bool, True = may attend, over all Tk keys (cached and new):
                `(Tq, Tk)`, `(batch, 1 or Tq, Tk)`, or `(batch, heads, Tq, Tk)`.
            causal: also mask future keys, aligned to the lower right (the
                queries are the last Tq of the Tk positions), as `causal_mask` does.
            cache: if given, the new keys and values are appended to it and the
                queries attend to every position it holds.
            need_weights: if False, use PyTorch's fused kernel and return None weights.

        Returns:
            `(output, weights)`: output `(batch, Tq, d_model)`, weights
            `(batch, heads, Tq, Tk)` or None.
        """
        batch, num_queries, _ = check_model_inputs(self.d_model, query, key, value)
        q = self.split_heads(self.w_q(query))  # (batch, heads, Tq, d_head)
        k = self.split_heads(self.w_k(key))  # (batch, kv_heads, T_new, d_head)
        v = self.split_heads(self.w_v(value))  # (batch, kv_heads, T_new, d_head)
        if cache is not None:
            k, v = cache.append(k, v)  # (batch, kv_heads, Tk, d_head), Tk = cached + new
        num_keys = k.shape[-2]
        mask = mask_for_heads(mask, batch, self.num_heads, num_queries, num_keys)
        if causal:
            allowed = causal_mask(num_queries, num_keys, device=query.device)  # (Tq, Tk)
            mask = allowed if mask is None else mask & allowed  # broadcasts to (batch, heads, Tq, Tk)
        heads, weights = grouped_query_attention(
            q, k, v, mask, need_weights=need_weights, dropout=self.dropout
        )  # (batch, heads, Tq, d_head)
        output = self.w_o(heads.transpose(1, 2).flatten(-2))  # (batch, Tq, d_model)
        return output, weights

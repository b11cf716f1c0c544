"""The attention of one block of `attention.GPT`: grouped-query projections, a position
scheme, a pattern on positions, and a cache to decode with.

It is the multi-head (grouped-query) attention of Part IV, told where its vectors
sit: queries and keys are turned by the scheme's rotation (RoPE), the scores get
its bias (ALiBi), the pattern says which keys each query sees, and new keys and
values go into the cache before the queries look at them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from attention.validation import check_bool
from attention.fast.grouped_query import GroupedQueryAttention
from attention.fast.kv_cache import KVCache
from attention.modern.causal_pattern import cached_positions, check_pattern
from attention.modern.position_schemes import PositionScheme, check_input_positions
from attention.modern.score_bias import attend_with_bias, check_mask_and_bias


class CausalSelfAttention(GroupedQueryAttention):
    """The attention of one `GPT` block: projections, positions, pattern, cache.

    It has the projections of `GroupedQueryAttention` (w_q, w_k, w_v, w_o) and
    is called on one input `x` `(batch, T, d_model)` with the positions of its
    T vectors. Queries and keys are turned by `scheme.rotate`; the new keys and
    values go into `cache`, if given; the scores get `scheme.bias`; the mask is
    `pattern(query positions, key positions)`.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> attend_ = CausalSelfAttention(d_model=8, num_heads=2, num_kv_heads=1)
        >>> out, weights = attend_(torch.randn(1, 4, 8), torch.arange(4), need_weights=True)
        >>> out.shape, weights[0, 0].triu(1).abs().max().item()     # causal: no weight above the diagonal
        (torch.Size([1, 4, 8]), 0.0)
    """

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, positions: torch.Tensor, *,
        scheme: PositionScheme | None = None, pattern: Callable | None = None,
        cache: object | None = None, need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`(batch, T, d_model)` at `positions` `(T,)` -> `(output (batch, T, d_model), weights)`."""
        check_input_positions(x, positions, self.d_model, self.w_q.weight)
        scheme = PositionScheme() if scheme is None else scheme
        if not isinstance(scheme, PositionScheme):
            raise TypeError(f"scheme must be a PositionScheme, got {type(scheme).__name__}")
        need_weights = check_bool("need_weights", need_weights)
        key_positions = positions  # the mask and bias come first: a bad one leaves the cache as it was
        if cache is not None:
            self.check_cache(cache, x.shape[0], x.shape[1])
            key_positions = torch.cat([cached_positions(cache)[0].to(positions.device), positions])  # (Tk,)
        mask = check_pattern(pattern)(positions, key_positions)  # (Tq, Tk)
        bias = scheme.bias(positions, key_positions)  # (heads, Tq, Tk) or None
        check_mask_and_bias(mask, bias, (x.shape[0], self.num_heads, x.shape[1], len(key_positions)))
        q = scheme.rotate(self.split_heads(self.w_q(x)), positions)  # (batch, heads, T, d_head)
        k = scheme.rotate(self.split_heads(self.w_k(x)), positions)  # (batch, kv_heads, T, d_head)
        v = self.split_heads(self.w_v(x))  # (batch, kv_heads, T, d_head)
        if cache is not None:
            k, v = cache.append(k, v)  # (batch, kv_heads, Tk, d_head): held, then new
        heads, weights = attend_with_bias(q, k, v, mask, bias, need_weights=need_weights)
        return self.w_o(heads.transpose(1, 2).flatten(-2)), weights  # (batch, T, d_model)

    def check_cache(self, cache: object, batch: int, new: int, name: str = "cache") -> None:
        """Raise unless `cache` (a `KVCache` or a rolling one) can take `new` positions of this layer.

        `GPT.forward` calls it on every block's cache before any is changed.

        Examples:
            >>> layer = CausalSelfAttention(d_model=8, num_heads=2, num_kv_heads=1)
            >>> layer.check_cache(KVCache(1, 1, 4, 4), batch=1, new=4)      # fits: no error
            >>> layer.check_cache(KVCache(1, 1, 4, 4), batch=2, new=1, name="caches[0]")
            Traceback (most recent call last):
            ...
            ValueError: caches[0] holds batch=1, kv_heads=1, d_head=4; this call needs batch=2, kv_heads=1, d_head=4
        """
        keys = getattr(cache, "keys", None)
        if not (isinstance(keys, torch.Tensor) and keys.ndim == 4 and hasattr(cache, "append")):
            raise TypeError(f"{name} must be a KVCache or RollingKVCache (made by the pattern's "
                            f"new_cache), got {type(cache).__name__}")
        held, needed = (keys.shape[0], keys.shape[1], keys.shape[3]), (batch, self.num_kv_heads, self.d_head)
        if held != needed:
            raise ValueError(f"{name} holds batch={held[0]}, kv_heads={held[1]}, d_head={held[2]}; "
                             f"this call needs batch={batch}, kv_heads={needed[1]}, d_head={needed[2]}")
        if keys.dtype != self.w_k.weight.dtype:
            raise TypeError(f"{name} holds {keys.dtype} but the module's weights are {self.w_k.weight.dtype}")
        if isinstance(cache, KVCache) and len(cache) + new > cache.capacity:
            raise ValueError(f"cannot append {new} positions to {name}, a KVCache holding "
                             f"{len(cache)} of its capacity {cache.capacity}")

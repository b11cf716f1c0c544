"""Which keys each query may see, written on positions, and the caches that follow from it.

`attention.GPT` asks its pattern two things: the mask `pattern(query positions,
key positions)` `(Tq, Tk)`, True = may attend, and a cache for each layer to decode
with (`pattern.new_cache(...)`). `CausalPattern` is causal attention: every key
up to the query, so a `KVCache` that keeps every key. Other patterns keep fewer
(`attention.SlidingWindowPattern`); `cached_positions` tells which positions any
of their caches holds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from attention.fast.kv_cache import KVCache
from attention.modern.position_schemes import check_positions


def cached_positions(cache: object) -> tuple[torch.Tensor, int]:
    """The positions of the keys a cache holds, in order, and the position of the next token.

    A `KVCache` holds positions 0 to len - 1; other caches (the rolling ones,
    a `LatentCache`, a `LinearAttentionState`) say which they hold, in
    `cache.positions` and `cache.num_seen`.

    Args:
        cache: a `KVCache`, or any cache with `positions` and `num_seen`.

    Returns:
        `(positions (held,), next position)`.

    Examples:
        >>> cache = KVCache(batch=1, num_kv_heads=1, capacity=8, d_head=2)
        >>> _ = cache.append(torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
        >>> cached_positions(cache)
        (tensor([0, 1, 2]), 3)
    """
    if isinstance(cache, KVCache):
        return torch.arange(len(cache), device=cache.keys.device), len(cache)
    if not (hasattr(cache, "positions") and hasattr(cache, "num_seen")):
        raise TypeError(f"cache must be a KVCache or a cache with positions and num_seen, "
                        f"got {type(cache).__name__}")
    return cache.positions, cache.num_seen


class CausalPattern:
    """Query i sees keys j <= i: the causal mask, written on positions.

    Examples:
        >>> CausalPattern()(torch.tensor([1, 2]), torch.arange(3)).int()   # (Tq, Tk)
        tensor([[1, 1, 0],
                [1, 1, 1]], dtype=torch.int32)
    """

    def __call__(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        """The mask `(Tq, Tk)`, True = may attend."""
        check_positions("query_positions", query_positions)
        check_positions("key_positions", key_positions)
        return key_positions[None, :] <= query_positions[:, None]

    def new_cache(
        self, batch: int, num_kv_heads: int, d_head: int, capacity: int, dtype: torch.dtype,
        device: torch.device | None,
    ) -> KVCache:
        """A `KVCache` for `capacity` positions: causal attention keeps every key."""
        return KVCache(batch, num_kv_heads, capacity, d_head, dtype=dtype, device=device)

    def __repr__(self) -> str:
        return "CausalPattern()"


def check_pattern(pattern: object) -> Callable:
    """Return `pattern`, or `CausalPattern()` for None; TypeError unless it is a function of positions.

    Examples:
        >>> check_pattern(None)
        CausalPattern()
    """
    if pattern is None:
        return CausalPattern()
    if not callable(pattern) or isinstance(pattern, type):  # a class, not an instance: CausalPattern
        raise TypeError(f"pattern must be a function (query positions, key positions) -> mask, "
                        f"such as CausalPattern(), or None; got {pattern!r:.60}")
    return pattern

"""Sliding-window attention, its rolling KV cache, and attention sinks.

With a window of w, the query at position i sees only the keys j with
i - w < j <= i: itself and the w - 1 positions before it (Longformer, Beltagy
et al., 2020; Mistral 7B, Jiang et al., 2023). A decoder then never needs more
than w - 1 past keys per layer, so its KV cache can be a *rolling* buffer of
fixed size: position p goes to slot p mod (w - 1), over the key it replaces,
which no later query can see. Memory stays constant however long the text.

Information still travels further than w through the layers: the vector at
position i in layer 1 already mixes positions i - w + 1 to i, so layer 2 reaches
back 2(w - 1) positions, and N layers (w - 1) N, a receptive field of
(w - 1) N + 1 tokens.

*Attention sinks* (StreamingLLM, Xiao et al., 2023): trained models put much
of their attention on the first few tokens, whatever they say, and break when
those leave the window. Keeping the first `num_sinks` positions in the cache
for good, as well as the window, repairs most of that.
"""

from __future__ import annotations

import torch

from attention.validation import check_count, check_positive
from attention.modern.position_schemes import check_positions
from attention.validation import check_float_tensor


def _check_window(window: object, num_sinks: object) -> tuple[int, int]:
    window, num_sinks = check_count("window", window), check_count("num_sinks", num_sinks)
    if window == 0:
        raise ValueError("window must be at least 1 (the query itself), got 0")
    return window, num_sinks


def sliding_window_mask(
    query_positions: torch.Tensor, key_positions: torch.Tensor, window: int, num_sinks: int = 0
) -> torch.Tensor:
    """Causal attention within a window of `window` keys, plus the first `num_sinks` positions.

    Args:
        query_positions: `(Tq,)` integers.
        key_positions: `(Tk,)` integers, in any order.
        window: w, the keys a query sees, itself included: i - w < j <= i.
        num_sinks: the first positions every query also sees (j < num_sinks).

    Returns:
        `(Tq, Tk)` bool, True = may attend.

    Examples:
        >>> sliding_window_mask(torch.arange(5), torch.arange(5), window=2).int()
        tensor([[1, 0, 0, 0, 0],
                [1, 1, 0, 0, 0],
                [0, 1, 1, 0, 0],
                [0, 0, 1, 1, 0],
                [0, 0, 0, 1, 1]], dtype=torch.int32)
        >>> sliding_window_mask(torch.tensor([4]), torch.arange(5), window=2, num_sinks=1).int()
        tensor([[1, 0, 0, 1, 1]], dtype=torch.int32)
    """
    window, num_sinks = _check_window(window, num_sinks)
    check_positions("query_positions", query_positions)
    check_positions("key_positions", key_positions)
    offset = query_positions[:, None] - key_positions[None, :]  # (Tq, Tk): i - j
    recent = (offset >= 0) & (offset < window)
    sinks = (key_positions[None, :] < num_sinks) & (offset >= 0)
    return recent | sinks


def receptive_field(window: int, num_layers: int) -> int:
    """How many tokens the last position of a stack of windowed layers can depend on: (w - 1) N + 1.

    Examples:
        >>> receptive_field(window=4, num_layers=2)         # itself and 6 tokens back
        7
    """
    window, _ = _check_window(window, 0)
    return (window - 1) * check_count("num_layers", num_layers) + 1


class RollingKVCache:
    """A KV cache of fixed size for sliding-window attention, with optional sink tokens.

    It keeps the keys and values of the first `num_sinks` positions for good,
    and of the last `window - 1` others in a ring: position p >= num_sinks goes
    to slot num_sinks + (p - num_sinks) mod (window - 1). The slots are not in
    position order; `positions` says which position each holds.

    Args:
        batch: the number of sequences.
        num_kv_heads: the number of key/value heads.
        d_head: the size of one head's keys and values.
        window: w, the keys a query sees, itself included.
        num_sinks: how many first positions to keep.
        dtype: the dtype of the buffers.
        device: where the buffers live.

    Members:
        keys, values: `(batch, kv_heads, num_sinks + window - 1, d_head)` buffers.
        num_seen: the number of positions appended so far (the next one's position).

    Examples:
        >>> cache = RollingKVCache(batch=1, num_kv_heads=1, d_head=2, window=3, num_sinks=1)
        >>> for p in range(6):                           # one position at a time
        ...     keys, values = cache.append(torch.full((1, 1, 1, 2), float(p)), torch.zeros(1, 1, 1, 2))
        >>> keys[0, 0, :, 0].tolist()                    # held (sink 0, then 3 and 4), then the new 5
        [0.0, 3.0, 4.0, 5.0]
        >>> cache.positions.tolist(), cache.num_seen      # now: 5 took the slot of 3
        ([0, 5, 4], 6)
    """

    def __init__(
        self, batch: int, num_kv_heads: int, d_head: int, window: int, num_sinks: int = 0, *,
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> None:
        self.window, self.num_sinks = _check_window(window, num_sinks)
        sizes = (check_positive("batch", batch), check_positive("num_kv_heads", num_kv_heads),
                 self.num_sinks + self.window - 1, check_positive("d_head", d_head))
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.keys = torch.zeros(sizes, dtype=dtype, device=device)  # (batch, kv_heads, slots, d_head)
        self.values = torch.zeros(sizes, dtype=dtype, device=device)
        self._slot_positions = torch.full((sizes[2],), -1, dtype=torch.long, device=device)  # -1: empty
        self.num_seen = 0

    def __len__(self) -> int:
        return int((self._slot_positions >= 0).sum())

    def __repr__(self) -> str:
        return (f"RollingKVCache(window={self.window}, num_sinks={self.num_sinks}, "
                f"holding {len(self)} of {self.num_seen} seen)")

    @property
    def positions(self) -> torch.Tensor:
        """The positions of the held keys, in the order `append` returns them: `(held,)`."""
        return self._slot_positions[self._slot_positions >= 0]

    def _slot(self, position: int) -> int:
        if position < self.num_sinks:
            return position
        return self.num_sinks + (position - self.num_sinks) % (self.window - 1)

    def append(self, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the next positions; return the keys and values a new query may need.

        Args:
            key: `(batch, kv_heads, new, d_head)`, positions num_seen to num_seen + new - 1.
            value: `(batch, kv_heads, new, d_head)`.

        Returns:
            `(keys, values)`, each `(batch, kv_heads, held + new, d_head)`: the
            held ones (in the order of `positions` before the call), then the new
            ones. A mask on positions (`sliding_window_mask`) tells which of them
            each new query sees; the cache then keeps only what later queries can see.

        Raises:
            TypeError: not a float tensor, or not the cache's dtype (the cache is left unchanged).
            ValueError: a shape that does not fit (the cache is left unchanged).
        """
        batch, heads, _, d_head = self.keys.shape
        for name, x in (("key", key), ("value", value)):
            check_float_tensor(name, x)
            if x.ndim != 4 or (x.shape[0], x.shape[1], x.shape[3]) != (batch, heads, d_head):
                raise ValueError(f"{name} must have shape (batch={batch}, kv_heads={heads}, "
                                 f"new positions, d_head={d_head}), got {tuple(x.shape)}")
            if x.dtype != self.keys.dtype:
                raise TypeError(f"{name} has dtype {x.dtype} but the cache holds {self.keys.dtype}")
        if key.shape[2] != value.shape[2]:
            raise ValueError(f"key has {key.shape[2]} positions but value has {value.shape[2]}")
        held = self._slot_positions >= 0  # (slots,)
        keys = torch.cat([self.keys[:, :, held], key], dim=2)  # (batch, kv_heads, held + new, d_head)
        values = torch.cat([self.values[:, :, held], value], dim=2)
        new_positions = range(self.num_seen, self.num_seen + key.shape[2])
        last_slot = {}  # slot -> index of the newest position that goes there
        for index, position in enumerate(new_positions):
            if self.window > 1 or position < self.num_sinks:
                last_slot[self._slot(position)] = index
        if last_slot:
            slots = torch.tensor(list(last_slot), device=self.keys.device)
            indices = torch.tensor(list(last_slot.values()), device=self.keys.device)
            self.keys[:, :, slots] = key[:, :, indices]
            self.values[:, :, slots] = value[:, :, indices]
            self._slot_positions[slots] = indices + self.num_seen
        self.num_seen += key.shape[2]
        return keys, values

    def reset(self) -> None:
        """Forget every position."""
        self._slot_positions.fill_(-1)
        self.num_seen = 0


class SlidingWindowPattern:
    """The pattern of `attention.GPT` for sliding-window attention (with sinks): mask and cache.

    Examples:
        >>> pattern = SlidingWindowPattern(window=2)
        >>> pattern(torch.arange(3), torch.arange(3)).int()
        tensor([[1, 0, 0],
                [1, 1, 0],
                [0, 1, 1]], dtype=torch.int32)
    """

    def __init__(self, window: int, num_sinks: int = 0) -> None:
        self.window, self.num_sinks = _check_window(window, num_sinks)

    def __call__(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        return sliding_window_mask(query_positions, key_positions, self.window, self.num_sinks)

    def new_cache(
        self, batch: int, num_kv_heads: int, d_head: int, capacity: int, dtype: torch.dtype,
        device: torch.device | None,
    ) -> RollingKVCache:
        """A `RollingKVCache` (its size does not depend on `capacity`)."""
        return RollingKVCache(batch, num_kv_heads, d_head, self.window, self.num_sinks,
                              dtype=dtype, device=device)

    def __repr__(self) -> str:
        return f"SlidingWindowPattern(window={self.window}, num_sinks={self.num_sinks})"

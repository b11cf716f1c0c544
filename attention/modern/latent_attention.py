"""Multi-head latent attention, MLA (DeepSeek-AI, 2024): cache a small latent, not keys and values.

Each position's input x_t is compressed to a latent c_t = x_t W^DKV of size
d_c, and only c_t is cached. Every head up-projects it to its own key and
value, k_t,i = c_t W^UK_i and v_t,i = c_t W^UV_i. RoPE cannot be applied to
those keys: a rotation that depends on the position sits between the query and
W^UK and stops it from being folded away. So a small extra key k^R_t =
RoPE(x_t W^KR) of size d_r, shared by all heads and rotated once, is cached
beside c_t; each head's query has a matching rotary part q^R_i. Head i scores

    (q_i . k_j,i + q^R_i . k^R_j) / sqrt(d_head + d_r)

Plain: up-project every cached latent to keys and values, then attend.
Absorbed (inference): q_i . (c_j W^UK_i) = (q_i W^UK_i^T) . c_j, so W^UK_i is
folded into the query side and the query scores latents directly; the
weighted sum of latents is then taken through W^UV_i and W^O in one matrix.
Both give the same output; the absorbed one never forms per-head keys.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from attention.validation import check_count, check_model_input, check_positive, check_positive_real
from attention.modern.causal_pattern import check_pattern
from attention.modern.position_schemes import check_input_positions
from attention.modern.rotary import apply_rotary
from attention.modern.score_bias import attend_with_bias, check_mask_and_bias
from attention.validation import check_float_tensor
from attention.versions.scaled_dot_product import weights_from_scores


def mla_cache_bytes(
    batch: int, num_layers: int, d_c: int, d_r: int, num_positions: int, bytes_per_element: int = 2,
) -> int:
    """Bytes of the latents and rotary keys an MLA decoder caches: batch * layers * (d_c + d_r) * positions * bytes.

    Examples:
        >>> mla_cache_bytes(1, num_layers=60, d_c=512, d_r=64, num_positions=1)   # DeepSeek-V2's sizes
        69120
    """
    sizes = dict(batch=batch, num_layers=num_layers, num_positions=num_positions,
                 bytes_per_element=bytes_per_element)
    total = check_count("d_c", d_c) + check_count("d_r", d_r)
    for name, size in sizes.items():
        total *= check_count(name, size)
    return total


class LatentCache:
    """The latents c_t `(batch, capacity, d_c)` and rotary keys `(batch, capacity, d_r)` of the positions so far.

    Examples:
        >>> cache = LatentCache(batch=2, capacity=10, d_c=8, d_r=4)
        >>> c, k_rope = cache.append(torch.zeros(2, 3, 8), torch.zeros(2, 3, 4))
        >>> len(cache), c.shape, cache.nbytes()
        (3, torch.Size([2, 3, 8]), 960)
    """

    def __init__(self, batch: int, capacity: int, d_c: int, d_r: int, *,
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> None:
        batch, capacity = check_positive("batch", batch), check_positive("capacity", capacity)
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.latents = torch.zeros(batch, capacity, check_positive("d_c", d_c), dtype=dtype, device=device)
        self.rope_keys = torch.zeros(batch, capacity, check_count("d_r", d_r), dtype=dtype, device=device)
        self._length = 0

    def __len__(self) -> int:
        return self._length

    @property
    def num_seen(self) -> int:
        return self._length

    @property
    def positions(self) -> torch.Tensor:
        """The positions held, 0 to len - 1."""
        return torch.arange(self._length, device=self.latents.device)

    def nbytes(self) -> int:
        """Bytes of the buffers, at full capacity."""
        return self.latents.nbytes + self.rope_keys.nbytes

    def append(self, latents: torch.Tensor, rope_keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store new positions; return all held, `(batch, len, d_c)` and `(batch, len, d_r)`.

        Raises ValueError (shapes or capacity named) and leaves the cache unchanged.
        """
        batch, capacity, d_c = self.latents.shape
        d_r = self.rope_keys.shape[-1]
        for name, x, size in (("latents", latents, d_c), ("rope_keys", rope_keys, d_r)):
            check_float_tensor(name, x)
            if x.ndim != 3 or x.shape[0] != batch or x.shape[2] != size:
                raise ValueError(f"{name} must have shape (batch={batch}, new positions, {size}), "
                                 f"got {tuple(x.shape)}")
            if x.dtype != self.latents.dtype:
                raise TypeError(f"{name} has dtype {x.dtype} but the cache holds {self.latents.dtype}")
        if latents.shape[1] != rope_keys.shape[1]:
            raise ValueError(f"latents has {latents.shape[1]} positions but rope_keys {rope_keys.shape[1]}")
        start, end = self._length, self._length + latents.shape[1]
        if end > capacity:
            raise ValueError(f"cannot append {latents.shape[1]} positions to a LatentCache holding "
                             f"{start} of its capacity {capacity}")
        self.latents[:, start:end] = latents
        self.rope_keys[:, start:end] = rope_keys
        self._length = end
        return self.latents[:, :end], self.rope_keys[:, :end]


class MultiHeadLatentAttention(nn.Module):
    """Causal self-attention whose cache is one latent of size d_c (and a rotary key of d_r) per position.

    Args:
        d_model: the size of the input and output vectors.
        num_heads: h, the heads.
        d_head: the size of each head's content queries, keys and values.
        d_c: the size of the latent c_t, what is cached.
        d_r: the size of the decoupled rotary query (per head) and key (shared);
            0 = no positions in the scores.
        rope_base: RoPE's wavelength scale.

    Members (no biases): w_q `(d_model -> h d_head)`, w_qr `(d_model -> h d_r)`,
    w_dkv `(d_model -> d_c)`, w_kr `(d_model -> d_r)` (w_qr and w_kr None if d_r = 0), w_uk and w_uv
    `(d_c -> h d_head)`, w_o `(h d_head -> d_model)`.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> mla = MultiHeadLatentAttention(d_model=16, num_heads=4, d_head=8, d_c=6, d_r=4)
        >>> x = torch.randn(2, 5, 16)                                    # (batch, T, d_model)
        >>> plain, weights = mla(x, need_weights=True)
        >>> absorbed, _ = mla(x, absorbed=True)
        >>> plain.shape, weights.shape, torch.allclose(plain, absorbed, atol=1e-5)
        (torch.Size([2, 5, 16]), torch.Size([2, 4, 5, 5]), True)
    """

    makes_own_cache = True  # `attention.GPT.new_caches` asks `new_cache`, not the pattern, for a cache

    def __init__(self, d_model: int, num_heads: int, d_head: int, d_c: int, d_r: int = 0,
                 rope_base: float = 10000.0) -> None:
        super().__init__()
        sizes = dict(d_model=d_model, num_heads=num_heads, d_head=d_head, d_c=d_c)
        for name, size in sizes.items():
            if check_count(name, size) == 0:
                raise ValueError(f"{name} must be positive, got 0")
        if check_count("d_r", d_r) % 2:
            raise ValueError(f"d_r is rotated in pairs, so it must be even, got {d_r}")
        self.d_model, self.num_heads, self.d_head, self.d_c, self.d_r = d_model, num_heads, d_head, d_c, d_r
        self.rope_base = check_positive_real("rope_base", rope_base)
        self.w_q = nn.Linear(d_model, num_heads * d_head, bias=False)
        self.w_qr = nn.Linear(d_model, num_heads * d_r, bias=False) if d_r else None
        self.w_dkv = nn.Linear(d_model, d_c, bias=False)
        self.w_kr = nn.Linear(d_model, d_r, bias=False) if d_r else None
        self.w_uk = nn.Linear(d_c, num_heads * d_head, bias=False)
        self.w_uv = nn.Linear(d_c, num_heads * d_head, bias=False)
        self.w_o = nn.Linear(num_heads * d_head, d_model, bias=False)

    def new_cache(self, batch: int, capacity: int) -> LatentCache:
        """An empty `LatentCache` of this module's sizes, dtype and device.

        Args:
            batch: the number of sequences decoded together.
            capacity: the most positions the cache can hold.

        Examples:
            >>> mla = MultiHeadLatentAttention(d_model=16, num_heads=4, d_head=8, d_c=6, d_r=4)
            >>> cache = mla.new_cache(batch=2, capacity=10)
            >>> cache.latents.shape, cache.rope_keys.shape           # (batch, capacity, d_c), (..., d_r)
            (torch.Size([2, 10, 6]), torch.Size([2, 10, 4]))
        """
        weight = self.w_dkv.weight
        return LatentCache(batch, capacity, self.d_c, self.d_r, dtype=weight.dtype, device=weight.device)

    def check_cache(self, cache: object, batch: int, new: int, name: str = "cache") -> None:
        """Raise unless `cache` is a `LatentCache` of this module's sizes and dtype with room for `new` positions.

        Args:
            cache: the cache to check.
            batch: the batch of the call that would append to it.
            new: the number of positions that call would append.
            name: the argument's name, for the message.

        Examples:
            >>> mla = MultiHeadLatentAttention(d_model=16, num_heads=4, d_head=8, d_c=6, d_r=4)
            >>> mla.check_cache(mla.new_cache(1, 4), batch=1, new=4)      # fits: no error
            >>> mla.check_cache(mla.new_cache(1, 4), batch=1, new=5)
            Traceback (most recent call last):
            ...
            ValueError: cannot append 5 positions to cache, a LatentCache holding 0 of its capacity 4
        """
        if not isinstance(cache, LatentCache):
            raise TypeError(f"{name} must be a LatentCache (made by new_cache), got {type(cache).__name__}")
        cached_batch, capacity, d_c = cache.latents.shape
        if (cached_batch, d_c, cache.rope_keys.shape[-1]) != (batch, self.d_c, self.d_r):
            raise ValueError(f"{name} holds batch={cached_batch}, d_c={d_c}, d_r={cache.rope_keys.shape[-1]}; "
                             f"this call needs batch={batch}, d_c={self.d_c}, d_r={self.d_r}")
        if cache.latents.dtype != self.w_dkv.weight.dtype:
            raise TypeError(f"{name} holds {cache.latents.dtype} but the module's weights are "
                            f"{self.w_dkv.weight.dtype}")
        if len(cache) + new > capacity:
            raise ValueError(f"cannot append {new} positions to {name}, a LatentCache holding "
                             f"{len(cache)} of its capacity {capacity}")

    def absorbed_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """W^Q_i W^UK_i^T per head `(h, d_model, d_c)`, and W^UV_i W^O_i per head `(h, d_c, d_model)`."""
        h, dh = self.num_heads, self.d_head
        w_q = self.w_q.weight.view(h, dh, self.d_model)  # (h, d_head, d_model): nn.Linear's (out, in)
        w_uk = self.w_uk.weight.view(h, dh, self.d_c)  # (h, d_head, d_c)
        w_uv = self.w_uv.weight.view(h, dh, self.d_c)  # (h, d_head, d_c)
        w_o = self.w_o.weight.view(self.d_model, h, dh).transpose(0, 1)  # (h, d_model, d_head)
        return w_q.transpose(1, 2) @ w_uk, w_uv.transpose(1, 2) @ w_o.transpose(1, 2)

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor | None = None, *,
        cache: LatentCache | None = None, absorbed: bool = False, pattern: object | None = None,
        need_weights: bool = False, scheme: object | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`x` `(batch, T, d_model)` at `positions` `(T,)` (default: after the cached ones).

        Args:
            cache: a `LatentCache` (`new_cache`): the new latents are appended and
                the queries attend to every position it holds. Any other kind of
                cache is a TypeError, one without room a ValueError.
            absorbed: score the latents directly (W^UK folded into the queries,
                W^UV into W^O) instead of up-projecting keys and values.
            pattern: which keys each query sees, `pattern(query positions, key
                positions)`; None = causal.
            need_weights: also return the weights `(batch, h, T, Tk)`; without them the
                plain form runs PyTorch's fused attention (`biased_attention`).
            scheme: ignored (MLA rotates its own rotary part); there for `attention.GPT`.

        Returns:
            `(output (batch, T, d_model), weights or None)`. A failed call leaves the cache unchanged.
        """
        check_model_input("x", x, "d_model", self.d_model, self.w_dkv.weight)
        if cache is not None:
            self.check_cache(cache, x.shape[0], x.shape[1])
        start = len(cache) if cache is not None else 0
        if positions is None:
            positions = torch.arange(start, start + x.shape[1], device=x.device)
        check_input_positions(x, positions, self.d_model, self.w_dkv.weight)  # x again: cheap
        batch, T, _ = x.shape
        key_positions = positions  # the mask comes first: a bad one leaves the cache as it was
        if cache is not None:
            key_positions = torch.cat([cache.positions, positions])  # (Tk,)
        mask = check_pattern(pattern)(positions, key_positions)  # (T, Tk)
        check_mask_and_bias(mask, None, (batch, self.num_heads, T, len(key_positions)))
        h, dh, dr = self.num_heads, self.d_head, self.d_r
        latents = self.w_dkv(x)  # (batch, T, d_c)
        if dr:
            rope_keys = apply_rotary(self.w_kr(x), positions, self.rope_base)  # (batch, T, d_r)
        else:
            rope_keys = x.new_zeros(batch, T, 0)
        if cache is not None:
            latents, rope_keys = cache.append(latents, rope_keys)  # (batch, Tk, d_c), (batch, Tk, d_r)
        if dr:
            q_rope = self.w_qr(x).view(batch, T, h, dr).transpose(1, 2)  # (batch, h, T, d_r)
            q_rope = apply_rotary(q_rope, positions, self.rope_base)
        else:
            q_rope = x.new_zeros(batch, h, T, 0)
        if not absorbed:  # one query [q_i, q^R_i] and key [k_j,i, k^R_j] per head: ordinary attention
            q = self.w_q(x).view(batch, T, h, dh).transpose(1, 2)  # (batch, h, T, d_head)
            k = self.w_uk(latents).unflatten(-1, (h, dh)).transpose(1, 2)  # (batch, h, Tk, d_head)
            v = self.w_uv(latents).unflatten(-1, (h, dh)).transpose(1, 2)  # (batch, h, Tk, d_head)
            q = torch.cat([q, q_rope], dim=-1)  # (batch, h, T, d_head + d_r)
            k = torch.cat([k, rope_keys[:, None].expand(-1, h, -1, -1)], dim=-1)  # (batch, h, Tk, d_head + d_r)
            heads, weights = attend_with_bias(q, k, v, mask, None,
                                              need_weights=need_weights)  # / sqrt(d_head + d_r)
            return self.w_o(heads.transpose(1, 2).flatten(-2)), weights  # (batch, T, d_model)
        q_absorb, out_absorb = self.absorbed_weights()  # (h, d_model, d_c), (h, d_c, d_model)
        q_latent = torch.einsum("btm,hmc->bhtc", x, q_absorb)  # (batch, h, T, d_c)
        scores = q_rope @ rope_keys[:, None].transpose(-2, -1)  # (batch, h, T, Tk): the rotary part
        scores = scores + q_latent @ latents[:, None].transpose(-2, -1)  # (batch, h, T, Tk)
        weights = weights_from_scores(scores / math.sqrt(dh + dr), mask, -1)  # (batch, h, T, Tk)
        mixed = weights @ latents[:, None]  # (batch, h, T, d_c): a weighted sum of latents
        output = torch.einsum("bhtc,hcm->btm", mixed, out_absorb)  # (batch, T, d_model)
        return output, weights if need_weights else None

"""Sparse attention patterns as boolean masks, and what they cost.

Dense attention scores every query against every key: T^2 entries. A sparse
pattern keeps a few per query, so the work grows like T instead:

* local: a band, each query sees the keys within `window` of it;
* global (Longformer, Beltagy et al., 2020): a few chosen positions see every
  key and are seen by every query, so any two positions are two steps apart;
* random (BigBird, Zaheer et al., 2020): each query also sees a few keys drawn
  at random, which shortens paths further.

Written as masks (True = may attend), every pattern runs in the package's
ordinary attention and can be checked against dense attention with the same
mask. A mask alone saves nothing, though: the dense kernel still computes
every score. The savings need kernels that skip the masked blocks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from attention.validation import check_count, check_generator, check_integer


def _band(num_positions: int, window: int, causal: bool) -> torch.Tensor:
    offset = torch.arange(num_positions)[:, None] - torch.arange(num_positions)[None, :]  # i - j
    if causal:
        return (offset >= 0) & (offset < window)
    return offset.abs() < window


def local_global_mask(
    num_positions: int, window: int, global_positions: list[int] | tuple[int, ...] = (), *,
    causal: bool = False,
) -> torch.Tensor:
    """A band of width `window` on each side, plus global positions that see and are seen by all.

    Args:
        num_positions: T, the sequence length.
        window: query i sees keys j with |i - j| < window (i - window < j <= i if causal).
        global_positions: positions that attend everywhere and that every query attends to.
        causal: also forbid every key after the query.

    Returns:
        `(T, T)` bool, True = may attend.

    Examples:
        >>> local_global_mask(5, window=2, global_positions=[0]).int()
        tensor([[1, 1, 1, 1, 1],
                [1, 1, 1, 0, 0],
                [1, 1, 1, 1, 0],
                [1, 0, 1, 1, 1],
                [1, 0, 0, 1, 1]], dtype=torch.int32)
    """
    num_positions, window = check_count("num_positions", num_positions), check_count("window", window)
    if isinstance(global_positions, (torch.Tensor, np.ndarray)):
        global_positions = global_positions.tolist()
    if isinstance(global_positions, (str, bytes)) or not isinstance(global_positions, Sequence):
        raise TypeError(f"global_positions must be a list of positions, got {global_positions!r:.40}")
    global_positions = [check_integer(f"global_positions[{i}]", p) for i, p in enumerate(global_positions)]
    mask = _band(num_positions, window, causal)
    for position in global_positions:
        if not 0 <= position < num_positions:
            raise ValueError(f"global position {position} is outside 0..{num_positions - 1}")
        mask[position, :] = True  # it sees every key
        mask[:, position] = True  # every query sees it
    if causal:
        mask &= torch.ones_like(mask).tril()
    return mask


def bigbird_mask(
    num_positions: int, window: int, num_global: int, num_random: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """BigBird's pattern: a band, the first `num_global` positions global, and random keys.

    Each query also sees `num_random` keys drawn at random (without repeats)
    from those the band and the global positions do not already give it.

    Returns:
        `(T, T)` bool, True = may attend.

    Examples:
        >>> mask = bigbird_mask(16, window=2, num_global=1, num_random=2,
        ...                     generator=torch.Generator().manual_seed(0))
        >>> mask.sum(dim=1).tolist()   # keys per query: all (global), else band 3 + global + 2 random
        [16, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5]
    """
    num_global, num_random = check_count("num_global", num_global), check_count("num_random", num_random)
    if generator is not None:
        check_generator(generator)
    mask = local_global_mask(num_positions, window, list(range(min(num_global, num_positions))))
    for i in range(num_positions):
        free = (~mask[i]).nonzero().flatten()  # (free keys,)
        if num_global <= i and len(free):
            chosen = free[torch.randperm(len(free), generator=generator)[:num_random]]
            mask[i, chosen] = True
    return mask


def attention_flops(mask: torch.Tensor, d_head: int) -> int:
    """Matmul FLOPs of one head's attention restricted to `mask`: 4 * d_head per allowed entry.

    Scoring a key costs a dot product of d_head (2 d_head FLOPs) and adding its
    value to the output as much again, as in Chapter 15's count.

    Examples:
        >>> attention_flops(torch.ones(4, 4, dtype=torch.bool).tril(), d_head=8)   # 10 entries
        320
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor, got {mask!r:.40}")
    return 4 * check_count("d_head", d_head) * int(mask.sum())

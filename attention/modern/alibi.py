"""ALiBi, attention with linear biases (Press, Smith and Lewis, 2022).

No position vectors at all: each head adds to the score of query i and key j
a penalty proportional to their distance,

    score_ij = q_i . k_j / sqrt(d_head) - m * |i - j|,

with a fixed slope m per head. The slopes form a geometric sequence: for h
heads (a power of 2), m = 2^(-8/h), 2^(-16/h), ..., 2^(-8). The steepest head
sees little beyond its neighbours; the gentlest one sees far. Nothing is
learned, and the bias is defined for every distance, which is what lets a
model trained on short sequences read longer ones.

For h not a power of 2, the paper takes the slopes of the power of 2 just
below h and fills the rest with every other slope of twice that power.
"""

from __future__ import annotations

import math

import torch

from attention.validation import check_count, check_float_tensor
from attention.modern.position_schemes import PositionScheme, check_positions


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """The slope m of each head, `(num_heads,)` float64, steepest first.

    Examples:
        >>> alibi_slopes(4)
        tensor([0.2500, 0.0625, 0.0156, 0.0039], dtype=torch.float64)
        >>> alibi_slopes(8)[-1].item()                 # always 2^-8 for the last of 2^k heads
        0.00390625
    """
    num_heads = check_count("num_heads", num_heads)
    if num_heads == 0:
        raise ValueError("num_heads must be positive, got 0")

    def powers(n: int) -> list[float]:
        return [2.0 ** (-8.0 * i / n) for i in range(1, n + 1)]

    below = 2 ** int(math.floor(math.log2(num_heads)))
    slopes = powers(below) + powers(2 * below)[0::2][: num_heads - below]
    return torch.tensor(slopes, dtype=torch.float64)


def alibi_bias(
    slopes: torch.Tensor, query_positions: torch.Tensor, key_positions: torch.Tensor
) -> torch.Tensor:
    """The ALiBi bias `-m |i - j|` of every head, query and key.

    Args:
        slopes: `(heads,)`, e.g. `alibi_slopes(heads)`.
        query_positions: `(Tq,)` integers.
        key_positions: `(Tk,)` integers.

    Returns:
        `(heads, Tq, Tk)`, in the dtype and on the device of `slopes`; 0 where i = j.

    Examples:
        >>> alibi_bias(torch.tensor([0.5]), torch.arange(3), torch.arange(3))
        tensor([[[ 0.0000, -0.5000, -1.0000],
                 [-0.5000,  0.0000, -0.5000],
                 [-1.0000, -0.5000,  0.0000]]])
    """
    check_positions("query_positions", query_positions)
    check_positions("key_positions", key_positions)
    if check_float_tensor("slopes", slopes).ndim != 1:
        raise ValueError(f"slopes must be a 1-D tensor (heads,), got {slopes!r:.60}")
    query_positions, key_positions = query_positions.to(slopes.device), key_positions.to(slopes.device)
    distance = (query_positions[:, None] - key_positions[None, :]).abs()  # (Tq, Tk)
    return slopes[:, None, None] * (-distance).to(slopes.dtype)  # (heads, Tq, Tk); +0 at i = j


class ALiBiPositions(PositionScheme):
    """ALiBi as a position scheme of `attention.GPT`: a fixed linear bias per head.

    Args:
        num_heads: the number of (query) heads, one slope each.

    Members:
        slopes: `(num_heads,)` float32 buffer.

    Examples:
        >>> scheme = ALiBiPositions(num_heads=2)
        >>> scheme.bias(torch.arange(3), torch.arange(3)).shape   # (heads, Tq, Tk)
        torch.Size([2, 3, 3])
    """

    def __init__(self, num_heads: int) -> None:
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(num_heads).float())

    def bias(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        return alibi_bias(self.slopes, query_positions, key_positions)

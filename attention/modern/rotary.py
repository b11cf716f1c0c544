"""Rotary position embeddings, RoPE (Su et al., 2021).

Instead of adding a position vector to the input, RoPE turns every query and
every key by an angle proportional to its position. The d_head features are
taken in pairs (2i, 2i + 1), each pair a point in the plane, and the pair i of
the vector at position p is rotated by the angle p * theta_i, with
theta_i = base^(-2i / d_head), the frequencies of the sinusoidal encoding:

    (x_2i, x_2i+1) -> (x_2i cos(p theta_i) - x_2i+1 sin(p theta_i),
                       x_2i sin(p theta_i) + x_2i+1 cos(p theta_i))

A rotation keeps lengths, and the dot product of two pairs rotated by angles
a and b depends on a - b only. So the score of a query at position m and a key
at position n depends on their content and on the offset m - n, never on m
and n themselves: the positions become relative inside the score, while each
vector is still turned by its own absolute position (which is what lets a KV
cache store keys already rotated).
"""

from __future__ import annotations

import torch

from attention.validation import check_count, check_positive_real
from attention.modern.position_schemes import PositionScheme, check_positions
from attention.validation import check_float_tensor


def rotary_frequencies(d_head: int, base: float = 10000.0) -> torch.Tensor:
    """The angle per position of each pair, `base^(-2i / d_head)`: `(d_head / 2,)`, float64.

    Examples:
        >>> rotary_frequencies(4)
        tensor([1.0000, 0.0100], dtype=torch.float64)
    """
    d_head = check_count("d_head", d_head)
    if d_head == 0 or d_head % 2:
        raise ValueError(f"RoPE rotates pairs of features, so d_head must be even and positive, got {d_head}")
    base = check_positive_real("base", base)  # base 0 would give infinite angles, and NaN at position 0
    return base ** (-torch.arange(0, d_head, 2, dtype=torch.float64) / d_head)


def apply_rotary(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotate each pair of features of `x` by position times its frequency.

    Args:
        x: queries or keys `(..., T, d_head)`, d_head even.
        positions: the position of each of the T vectors, `(T,)` integers.
        base: the wavelength scale (10000, as in the sinusoidal encoding).

    Returns:
        The rotated vectors, the shape and dtype of `x`. The angles are computed
        in float64 and rounded once, so large positions lose no precision.

    Examples:
        >>> x = torch.tensor([[1.0, 0.0, 1.0, 0.0]])           # (T=1, d_head=4)
        >>> apply_rotary(x, torch.tensor([0])).tolist()        # position 0: no rotation
        [[1.0, 0.0, 1.0, 0.0]]
        >>> q, k = torch.randn(1, 8), torch.randn(1, 8)
        >>> near = apply_rotary(q, torch.tensor([5])) @ apply_rotary(k, torch.tensor([3])).T
        >>> far = apply_rotary(q, torch.tensor([105])) @ apply_rotary(k, torch.tensor([103])).T
        >>> torch.allclose(near, far, atol=1e-5)               # the same offset, the same score
        True
    """
    check_float_tensor("x", x)
    check_positions("positions", positions)
    if x.ndim < 2 or x.shape[-2] != positions.shape[0]:
        raise ValueError(
            f"x must have shape (..., T, d_head) with T = len(positions) = {positions.shape[0]}, "
            f"got {tuple(x.shape)}"
        )
    angles = positions.to(torch.float64)[:, None] * rotary_frequencies(x.shape[-1], base)  # (T, d/2)
    cos = torch.cos(angles).to(device=x.device, dtype=x.dtype)  # (T, d/2)
    sin = torch.sin(angles).to(device=x.device, dtype=x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., T, d/2) each
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)  # (..., T, d/2, 2)
    return rotated.flatten(-2)  # (..., T, d_head), pairs back in place


class RotaryPositions(PositionScheme):
    """RoPE as a position scheme of `attention.GPT`: queries and keys rotated in every layer.

    Args:
        d_head: the size of one head's queries and keys (even).
        base: the wavelength scale.

    Examples:
        >>> scheme = RotaryPositions(d_head=4)
        >>> q = torch.randn(2, 3, 5, 4)                        # (batch, heads, T, d_head)
        >>> scheme.rotate(q, torch.arange(5)).shape
        torch.Size([2, 3, 5, 4])
    """

    def __init__(self, d_head: int, base: float = 10000.0) -> None:
        super().__init__()
        rotary_frequencies(d_head, base)  # checks d_head
        self.d_head, self.base = d_head, base

    def rotate(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        if check_float_tensor("x", x).ndim < 2 or x.shape[-1] != self.d_head:
            raise ValueError(f"x must have shape (..., T, d_head={self.d_head}), got {tuple(x.shape)}")
        return apply_rotary(x, positions, self.base)

    def extra_repr(self) -> str:
        return f"d_head={self.d_head}, base={self.base:g}"

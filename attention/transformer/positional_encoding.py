"""Sinusoidal positional encoding (Vaswani et al., 2017).

Self-attention is permutation-equivariant: shuffle the tokens and its outputs
shuffle the same way, so on its own it cannot tell "dog bites man" from
"man bites dog". The Transformer adds to each token's embedding a vector that
depends only on its position:

    PE[pos, 2i]     = sin(pos / 10000^(2i / d_model))
    PE[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))

Each pair of dims (2i, 2i + 1) is a point on a circle turning at its own
frequency, from one turn every 2 pi positions (i = 0) down to one every
10000 * 2 pi positions. Shifting the position by k rotates every pair by a
fixed angle, so PE[pos + k] is a linear function of PE[pos] for every pos.
"""

from __future__ import annotations

import torch
from torch import nn

from attention.validation import (
    check_count,
    check_fits,
    check_float_tensor,
    check_positive_real,
    check_probability,
)


def _check_even_size(d_model: object) -> int:
    d_model = check_count("d_model", d_model)
    if d_model == 0 or d_model % 2 != 0:
        raise ValueError(
            f"the sinusoidal encoding pairs dims as (sin, cos), so d_model must be even "
            f"and positive, got d_model={d_model}"
        )
    return d_model


def frequencies(d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The angular frequency of each (sin, cos) pair: `base^(-2i / d_model)`, shape `(d_model/2,)`."""
    d_model = _check_even_size(d_model)
    base = check_positive_real("base", base)
    exponents = torch.arange(0, d_model, 2, dtype=torch.float64) / d_model  # (d_model/2,)
    return base ** (-exponents)


def sinusoidal_encoding(
    max_len: int, d_model: int, base: float = 10000.0, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The table of sinusoidal position vectors, one row per position.

    Args:
        max_len: the number of positions, 0 to max_len - 1.
        d_model: the size of each vector; must be even.
        base: the wavelength scale (10000 in the paper).
        dtype: the dtype of the table (computed in float64 first).

    Returns:
        `(max_len, d_model)`: even columns are sines, odd columns cosines.

    Examples:
        >>> pe = sinusoidal_encoding(max_len=3, d_model=4)
        >>> pe.shape
        torch.Size([3, 4])
        >>> pe[0]            # position 0: sin 0 = 0, cos 0 = 1
        tensor([0., 1., 0., 1.])
    """
    max_len = check_count("max_len", max_len)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    positions = torch.arange(max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
    angles = positions * frequencies(d_model, base)  # (max_len, d_model/2)
    table = torch.empty(max_len, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles)
    return table.to(dtype)


def offset_matrix(offset: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The rotation R_k with `PE[pos + k] = PE[pos] @ R_k.T` for every position, k = `offset`.

    Each (sin, cos) pair is rotated by the angle `k * frequency`, so R_k is
    block diagonal with one 2 x 2 rotation per pair. It depends on the offset
    k only, not on the position.

    Returns:
        `(d_model, d_model)`, float64.

    Examples:
        >>> pe = sinusoidal_encoding(10, 6, dtype=torch.float64)
        >>> shift = offset_matrix(3, 6)
        >>> torch.allclose(pe[:7] @ shift.T, pe[3:])
        True
    """
    if isinstance(offset, bool) or not isinstance(offset, (int, float)):
        raise TypeError(f"offset must be a number, got {offset!r}")
    angles = offset * frequencies(d_model, base)  # (d_model/2,)
    cos, sin = torch.cos(angles), torch.sin(angles)
    matrix = torch.zeros(d_model, d_model, dtype=torch.float64)
    even = torch.arange(0, d_model, 2)
    # sin(a + b) = sin a cos b + cos a sin b;  cos(a + b) = cos a cos b - sin a sin b
    matrix[even, even], matrix[even, even + 1] = cos, sin
    matrix[even + 1, even], matrix[even + 1, even + 1] = -sin, cos
    return matrix


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal encoding of each position to a batch of embeddings.

    Args:
        d_model: the embedding size; must be even.
        max_len: the longest sequence the table covers.
        dropout: dropout applied to the sum (training only), as in the paper.

    Members:
        encoding: the `(max_len, d_model)` table, a buffer (saved with the
            model, moved by `.to()`, never trained). Converting the module to
            another dtype recomputes it in that dtype, so it is as exact in
            float64 as `sinusoidal_encoding(..., dtype=torch.float64)`; an input
            of another dtype than the table's gets its rows computed in its own dtype.

    Examples:
        >>> encode = PositionalEncoding(d_model=4, max_len=10)
        >>> x = torch.zeros(2, 3, 4)                     # (batch, positions, d_model)
        >>> encode(x)[0, 0]
        tensor([0., 1., 0., 1.])
    """

    def __init__(self, d_model: int, max_len: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.d_model = _check_even_size(d_model)
        self.max_len = check_count("max_len", max_len)
        self.register_buffer("encoding", sinusoidal_encoding(self.max_len, self.d_model))
        self.dropout = nn.Dropout(check_probability("dropout", dropout))

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        """After `.to()`, `.double()` and the like, recompute the table in its new dtype.

        Casting the float32 table would keep float32's rounding (errors of 3e-8).
        """
        super()._apply(fn, recurse)
        table = self.encoding
        self.encoding = sinusoidal_encoding(self.max_len, self.d_model, dtype=table.dtype).to(table.device)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, T, d_model)` -> `(batch, T, d_model)`: x plus the encoding of positions 0..T-1."""
        check_float_tensor("x", x)
        if x.ndim < 2 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"x must have shape (..., positions, d_model={self.d_model}), got {tuple(x.shape)}"
            )
        length = x.shape[-2]
        check_fits("x", length, "max_len of the positional table", self.max_len)
        encoding = self.encoding[:length]  # (T, d_model)
        if encoding.dtype != x.dtype:  # computed in x's dtype, not rounded through the table's
            encoding = sinusoidal_encoding(length, self.d_model, dtype=x.dtype).to(x.device)
        return self.dropout(x + encoding)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"

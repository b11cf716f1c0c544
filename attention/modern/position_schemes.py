"""Where a language model gets word order from: the position schemes `attention.GPT` takes.

Self-attention alone ignores order, so a model must put positions in somewhere.
There are three places, and a scheme may use any of them:

* `embed`: add a vector per position to the token embeddings, before the first
  block (learned embeddings, GPT-2; the sinusoidal encoding, the Transformer);
* `rotate`: turn each query and key by an angle that grows with its position,
  inside every attention layer (rotary embeddings, `attention.modern.rotary`);
* `bias`: add a number per (query, key) pair to the attention scores, that
  depends on the two positions (ALiBi, `attention.modern.alibi`).

`PositionScheme` does none of the three (a model without positions); the
schemes override what they use. Positions are absolute token indices: a
`(T,)` int64 tensor, so a scheme works the same on a whole sequence and on the
newest token of a cached decoder.
"""

from __future__ import annotations

import torch
from torch import nn

from attention.validation import check_divides, check_model_input
from attention.validation import check_positive, check_real
from attention.transformer.positional_encoding import frequencies, sinusoidal_encoding


def check_positions(name: str, positions: object) -> torch.Tensor:
    """Raise unless `positions` is a 1-D integer tensor of non-negative positions."""
    if not isinstance(positions, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of positions, got {type(positions).__name__}")
    if positions.dtype.is_floating_point or positions.dtype.is_complex or positions.dtype == torch.bool:
        raise TypeError(f"{name} must be a 1-D integer tensor (T,), got dtype {positions.dtype}")
    if positions.ndim != 1:
        raise ValueError(f"{name} must be a 1-D integer tensor (T,), got shape {tuple(positions.shape)}")
    if positions.numel() and int(positions.min()) < 0:
        raise ValueError(f"{name} must be non-negative, got {int(positions.min())}")
    return positions


def check_input_positions(x: object, positions: object, d_model: int, weight: torch.Tensor | None = None) -> None:
    """Raise unless `x` is `(batch, T, d_model)` float (of `weight`'s dtype, if given) and
    `positions` holds the T positions of its vectors.

    Examples:
        >>> check_input_positions(torch.zeros(1, 3, 4), torch.arange(3), d_model=4)   # fits: no error
        >>> check_input_positions(torch.zeros(1, 3, 4), torch.arange(2), d_model=4)
        Traceback (most recent call last):
        ...
        ValueError: positions has 2 entries for the 3 positions of x
    """
    check_model_input("x", x, "d_model", d_model, weight)
    if check_positions("positions", positions).shape[0] != x.shape[1]:
        raise ValueError(f"positions has {positions.shape[0]} entries for the {x.shape[1]} positions of x")


class PositionScheme(nn.Module):
    """No positions at all: the base of every scheme, each method a no-op.

    Examples:
        >>> scheme = PositionScheme()
        >>> x = torch.ones(1, 3, 4)                                  # (batch, T, d_model)
        >>> torch.equal(scheme.embed(x, torch.arange(3)), x), scheme.bias(torch.arange(3), torch.arange(3))
        (True, None)
    """

    max_len: int | None = None  # the most positions the scheme can tell apart (None: no limit)

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Token embeddings `(batch, T, d_model)` -> the same with positions added."""
        return x

    def rotate(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Queries or keys `(batch, heads, T, d_head)` -> the same, turned by position."""
        return x

    def bias(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor | None:
        """A score bias `(heads or 1, Tq, Tk)` for these positions, or None."""
        return None


class LearnedPositions(PositionScheme):
    """A learned vector per position, added to the token embeddings (as in GPT-2).

    Args:
        max_len: the number of positions with a vector; later ones cannot be embedded.
        d_model: the size of the vectors.

    Examples:
        >>> scheme = LearnedPositions(max_len=8, d_model=4)
        >>> scheme.embed(torch.zeros(2, 3, 4), torch.arange(3)).shape
        torch.Size([2, 3, 4])
    """

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len = check_positive("max_len", max_len)
        self.table = nn.Embedding(self.max_len, check_positive("d_model", d_model))

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        check_input_positions(x, positions, self.table.embedding_dim, self.table.weight)
        if positions.numel() and int(positions.max()) >= self.max_len:
            raise ValueError(
                f"position {int(positions.max())} has no learned vector: "
                f"max_len={self.max_len} (positions 0 to {self.max_len - 1})"
            )
        return x + self.table(positions)  # (batch, T, d_model)


class SinusoidalPositions(PositionScheme):
    """The fixed sinusoidal encoding of Chapter 11, times `scale`, added to the token embeddings.

    It is defined for every position, so a model can be run past the length it
    was trained on (whether it then works is another matter). `scale` sets its
    size against the token embeddings': `GPT` initialises those with entries of
    standard deviation 0.02, and an encoding of entries near 1 would drown them.

    Examples:
        >>> scheme = SinusoidalPositions(d_model=4)
        >>> scheme.embed(torch.zeros(1, 2, 4), torch.tensor([0, 1000]))[0, 0]
        tensor([0., 1., 0., 1.])
    """

    def __init__(self, d_model: int, base: float = 10000.0, scale: float = 1.0) -> None:
        super().__init__()
        frequencies(d_model, base)  # checks d_model (even) and base
        self.d_model, self.base, self.scale = d_model, base, check_real("scale", scale)

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        check_input_positions(x, positions, self.d_model)
        if not positions.numel():
            return x
        table = sinusoidal_encoding(int(positions.max()) + 1, self.d_model, self.base, x.dtype)
        return x + self.scale * table.to(x.device)[positions]  # (batch, T, d_model)


def make_position_scheme(
    name: str | PositionScheme, *, d_model: int, num_heads: int, max_len: int | None
) -> PositionScheme:
    """The scheme called `name`: "none", "learned", "sinusoidal", "rope" or "alibi".

    A `PositionScheme` instance is returned as it is.

    Examples:
        >>> make_position_scheme("learned", d_model=8, num_heads=2, max_len=16).max_len
        16
    """
    if isinstance(name, PositionScheme):
        return name
    if name == "none":
        return PositionScheme()
    if name == "learned":
        if max_len is None:
            raise ValueError("learned positions need max_len, the number of positions to learn")
        return LearnedPositions(max_len, d_model)
    if name == "sinusoidal":  # as small as the learned vectors start: std 0.02 per entry
        return SinusoidalPositions(d_model, scale=0.02)
    if name == "rope":
        from attention.modern.rotary import RotaryPositions

        num_heads, d_model = check_positive("num_heads", num_heads), check_positive("d_model", d_model)
        check_divides("num_heads", num_heads, "d_model", d_model)
        return RotaryPositions(d_model // num_heads)
    if name == "alibi":
        from attention.modern.alibi import ALiBiPositions

        return ALiBiPositions(num_heads)
    raise ValueError(
        f"positions must be 'none', 'learned', 'sinusoidal', 'rope', 'alibi' or a "
        f"PositionScheme, got {name!r}"
    )

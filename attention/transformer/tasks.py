"""Synthetic sequence-to-sequence tasks on digit strings, generated in code.

A source is a string of digits of random length; the target is a function of
it (reversed, or sorted). The answer is known exactly, so a model's whole-
sequence accuracy can be measured on sequences it never saw in training.

Token ids: 0 = padding, 1 = start, 2 = end, 3 + d = digit d.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from attention.validation import check_integer, check_positive, check_real

PAD, START, END = 0, 1, 2
NUM_SPECIAL = 3


@dataclass(frozen=True)
class DigitTask:
    """Map a digit string to its reverse (`kind="reverse"`) or its sorted digits (`"sort"`).

    Args:
        kind: "reverse" or "sort".
        min_len, max_len: the range of source lengths, both included.
        num_digits: how many distinct digits (10 for 0 to 9).
        held_out: the share of all possible sources kept out of training,
            chosen by a fixed hash of the digits, so train and test never meet.

    Examples:
        >>> task = DigitTask("reverse", min_len=3, max_len=5)
        >>> source, target = task.sample(2, torch.Generator().manual_seed(0))
        >>> task.to_text(source[0]), task.to_text(target[0])
        ('3 9 7 3 7', '7 3 7 9 3 <end>')
    """

    kind: str = "reverse"
    min_len: int = 1
    max_len: int = 8
    num_digits: int = 10
    held_out: float = 0.1

    def __post_init__(self) -> None:
        for name in ("min_len", "max_len"):
            check_integer(name, getattr(self, name))
        check_positive("num_digits", self.num_digits)
        check_real("held_out", self.held_out)
        if self.kind not in ("reverse", "sort"):
            raise ValueError(f"kind must be 'reverse' or 'sort', got {self.kind!r}")
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError(
                f"need 1 <= min_len <= max_len, got min_len={self.min_len}, max_len={self.max_len}"
            )
        if not 0.0 <= self.held_out < 1.0:
            raise ValueError(f"held_out must lie in [0, 1), got {self.held_out}")

    @property
    def vocab_size(self) -> int:
        """Padding, start and end, then the digits."""
        return NUM_SPECIAL + self.num_digits

    def answer(self, source: torch.Tensor) -> torch.Tensor:
        """The target tokens of `(batch, max_len)` padded sources, end token and padding included.

        Returns `(batch, max_len + 1)`.
        """
        lengths = (source != PAD).sum(dim=1)  # (batch,)
        positions = torch.arange(self.max_len)  # (max_len,)
        if self.kind == "reverse":
            # Target position i takes source position length - 1 - i.
            index = (lengths[:, None] - 1 - positions).clamp(min=0)  # (batch, max_len)
            answer = source.gather(1, index)
        else:
            # Padding sorts last if it counts as larger than every digit.
            big = self.vocab_size
            answer = source.masked_fill(source == PAD, big).sort(dim=1).values
            answer = answer.masked_fill(answer == big, PAD)
        answer = answer.masked_fill(positions >= lengths[:, None], PAD)  # (batch, max_len)
        target = torch.cat([answer, torch.full_like(answer[:, :1], PAD)], dim=1)
        target[torch.arange(len(source)), lengths] = END  # (batch, max_len + 1)
        return target

    def is_held_out(self, source: torch.Tensor) -> torch.Tensor:
        """True for the sources reserved for testing: `(batch, max_len)` -> `(batch,)`."""
        prime = 1_000_003
        weights = torch.tensor([(i + 1) * 2_654_435_761 % prime for i in range(self.max_len)])
        digest = (source * weights).sum(dim=1) % prime  # (batch,) a fixed hash of the digits
        digest = digest * 48_271 % prime  # scrambled, so that short sources spread too
        return digest < int(self.held_out * prime)

    def sample(
        self, count: int, generator: torch.Generator, *, held_out: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`count` random sources and their targets, from the training or the held-out share.

        Returns:
            `(source, target)`: `(count, max_len)` and `(count, max_len + 1)` int64 ids.
        """
        sources = []
        found = 0
        while found < count:
            lengths = torch.randint(self.min_len, self.max_len + 1, (2 * count,), generator=generator)
            digits = torch.randint(0, self.num_digits, (2 * count, self.max_len), generator=generator)
            source = (digits + NUM_SPECIAL).masked_fill(
                torch.arange(self.max_len) >= lengths[:, None], PAD
            )  # (2 count, max_len)
            source = source[self.is_held_out(source) == held_out]
            sources.append(source)
            found += len(source)
        source = torch.cat(sources)[:count]
        return source, self.answer(source)

    def to_text(self, tokens: torch.Tensor) -> str:
        """Token ids -> readable text, e.g. `'3 1 4 <end>'`; padding and start are dropped."""
        names = {END: "<end>"}
        return " ".join(
            names.get(t, str(t - NUM_SPECIAL)) for t in tokens.tolist() if t not in (PAD, START)
        )


def decoder_input(target: torch.Tensor) -> torch.Tensor:
    """Teacher forcing: the decoder reads the start token then the target shifted right.

    `(batch, T)` -> `(batch, T)`; the last target token (end or padding) is never read.

    Examples:
        >>> decoder_input(torch.tensor([[5, 4, 2]]))
        tensor([[1, 5, 4]])
    """
    if not isinstance(target, torch.Tensor) or target.ndim != 2:
        shape = tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
        raise ValueError(f"target must have shape (batch, positions), got {shape}")
    start = torch.full_like(target[:, :1], START)
    return torch.cat([start, target[:, :-1]], dim=1)

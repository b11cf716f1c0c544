"""Boolean attention masks in PyTorch: which keys each query may attend to.

Convention used everywhere in this package: **True means "may attend"**.
A mask broadcasts against the scores `(..., queries, keys)`; where it is False
the key gets exactly zero weight. (PyTorch's `nn.MultiheadAttention` uses the
opposite convention for its masks: True there means "blocked".)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from attention.validation import check_causal_sizes, check_lengths


def causal_mask(
    num_queries: int, num_keys: int | None = None, *, device: torch.device | str | None = None
) -> torch.Tensor:
    """Mask that lets each query see only keys that are not in its future.

    With as many keys as queries, query i sees keys 0..i (a lower-triangular
    matrix). With more keys than queries, the queries are taken to be the
    *last* `num_queries` positions of a sequence of `num_keys` (as when
    generating with a cache of past keys), so the triangle is aligned to the
    lower right: query i sees keys j <= i + (num_keys - num_queries).

    Args:
        num_queries: Tq, the number of queries.
        num_keys: Tk, the number of keys; None means Tk = Tq. Must be >= Tq.
        device: where to create the mask.

    Returns:
        A bool tensor of shape `(Tq, Tk)`, True where the query may attend.

    Examples:
        >>> causal_mask(3).int()
        tensor([[1, 0, 0],
                [1, 1, 0],
                [1, 1, 1]], dtype=torch.int32)
        >>> causal_mask(2, 4).int()  # the 2 queries are positions 2 and 3 of 4
        tensor([[1, 1, 1, 0],
                [1, 1, 1, 1]], dtype=torch.int32)
    """
    num_queries, num_keys = check_causal_sizes(num_queries, num_keys)
    ones = torch.ones(num_queries, num_keys, dtype=torch.bool, device=device)  # (Tq, Tk)
    return torch.tril(ones, diagonal=num_keys - num_queries)  # keep j <= i + (Tk - Tq)


def padding_mask(
    lengths: Sequence[int] | torch.Tensor, max_len: int
) -> torch.Tensor:
    """Mask that hides the padding at the end of each sequence in a batch.

    Args:
        lengths: the true length of each sequence, a sequence of ints or a 1-D
            integer tensor of shape `(batch,)`; each in [0, max_len].
        max_len: the padded length, the number of keys Tk.

    Returns:
        A bool tensor of shape `(batch, 1, max_len)`, True at real tokens. The
        middle dim of size 1 broadcasts over the queries of scores
        `(batch, queries, keys)`.

    Examples:
        >>> padding_mask([3, 1], max_len=4).int()
        tensor([[[1, 1, 1, 0]],
        <BLANKLINE>
                [[1, 0, 0, 0]]], dtype=torch.int32)
    """
    if isinstance(lengths, torch.Tensor):
        if lengths.ndim != 1:
            raise ValueError(f"lengths must be 1-D (batch,), got shape {tuple(lengths.shape)}")
        if lengths.dtype == torch.bool or lengths.dtype.is_floating_point or lengths.is_complex():
            raise TypeError(f"lengths must be an integer tensor, got dtype {lengths.dtype}")
        check_lengths(lengths.tolist(), max_len)
        lengths_tensor = lengths
    else:
        lengths_tensor = torch.tensor(check_lengths(lengths, max_len), dtype=torch.long)
    positions = torch.arange(max_len, device=lengths_tensor.device)  # (max_len,)
    mask = positions < lengths_tensor[:, None]  # (batch, max_len)
    return mask[:, None, :]  # (batch, 1, max_len)

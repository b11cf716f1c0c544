"""Online softmax (Milakov & Gimelshein, 2018): the normaliser in one pass.

The safe softmax reads its input three times: once for the maximum m, once for
the sum l = sum_j exp(x_j - m), once more to write exp(x_i - m) / l. The online
softmax finds m and l together, in one pass. It keeps a running maximum m and
a running sum l of exp(x_j - m) over the entries read so far; when the next
block of entries brings a larger maximum m', the sum so far is rescaled by
exp(m - m') before the block's own terms are added:

    m' = max(m, max_j x_j)
    l' = l * exp(m - m') + sum_j exp(x_j - m')

A second pass writes the output. The same rescaling lets tiled attention
(`attention.fast.tiled_attention`) normalise weights it never holds all at once.

Entries may be -inf (they get weight 0); a row with no finite entry gets all
zero weights, not NaN, as in the package's `masked_softmax`.
"""

from __future__ import annotations

import torch

from attention.validation import check_dim, check_float_tensor, check_positive


def finite_max(running_max: torch.Tensor) -> torch.Tensor:
    """The running maximum with -inf (no finite entry seen yet) replaced by 0.

    Subtracting it keeps exp(x - m) finite: exp(-inf - 0) = 0 where
    exp(-inf - (-inf)) would be NaN.
    """
    return running_max.masked_fill(running_max == float("-inf"), 0.0)


def online_softmax_step(
    running_max: torch.Tensor, running_sum: torch.Tensor, block: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Take one block of entries into the running maximum and sum, along the last dim.

    Args:
        running_max: m, `(..., 1)`, the maximum so far (-inf before any entry).
        running_sum: l, `(..., 1)`, the sum of exp(x_j - m) so far.
        block: the next entries, `(..., n)`.

    Returns:
        `(new_max, new_sum, correction, exp_block)`: m' and l' `(..., 1)`; the
        factor exp(m - m') `(..., 1)` by which anything summed with the old
        maximum must be rescaled; and exp(block - m') `(..., n)`.

    Examples:
        >>> m, l = torch.tensor([[float("-inf")]]), torch.zeros(1, 1)
        >>> m, l, _, _ = online_softmax_step(m, l, torch.tensor([[0.0, 1.0]]))
        >>> m, l, correction, _ = online_softmax_step(m, l, torch.tensor([[3.0]]))
        >>> torch.allclose(l, torch.tensor([[0.0, 1.0, 3.0]]).sub(3.0).exp().sum()), correction
        (True, tensor([[0.1353]]))
    """
    new_max = torch.maximum(running_max, block.amax(dim=-1, keepdim=True))  # (..., 1)
    shift = finite_max(new_max)  # (..., 1)
    correction = torch.exp(running_max - shift)  # (..., 1), 0 while nothing was seen
    exp_block = torch.exp(block - shift)  # (..., n)
    new_sum = running_sum * correction + exp_block.sum(dim=-1, keepdim=True)  # (..., 1)
    return new_max, new_sum, correction, exp_block


def merge_softmax_states(
    max_a: torch.Tensor, sum_a: torch.Tensor, max_b: torch.Tensor, sum_b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Combine the (max, sum) states of two disjoint sets of entries into one.

    Both sums are brought to the common maximum: l = l_a exp(m_a - m) + l_b exp(m_b - m).
    The merge is associative, so the entries can be split anywhere and the
    parts reduced in any grouping (in parallel, say).

    Examples:
        >>> x = torch.tensor([1.0, 5.0, 2.0, 4.0])
        >>> def state(part): return part.max(), part.sub(part.max()).exp().sum()
        >>> m, l = merge_softmax_states(*state(x[:2]), *state(x[2:]))
        >>> m.item(), torch.allclose(l, x.sub(5.0).exp().sum())
        (5.0, True)
    """
    new_max = torch.maximum(max_a, max_b)
    shift = finite_max(new_max)
    return new_max, sum_a * torch.exp(max_a - shift) + sum_b * torch.exp(max_b - shift)


def online_softmax(x: torch.Tensor, dim: int = -1, *, block_size: int = 1) -> torch.Tensor:
    """softmax(x) along `dim`, its normaliser found in one pass over the entries.

    Pass 1 reads the entries `block_size` at a time (one at a time by default,
    as in the paper) and updates the running maximum and sum; pass 2 writes
    exp(x - m) / l.

    Args:
        x: real tensor of any shape.
        dim: the dim to normalise over.
        block_size: how many entries each step of pass 1 reads; a positive int.

    Returns:
        The weights, of the shape of `x`; equal to `torch.softmax(x, dim)`,
        except that a row with no finite entry is all zeros instead of NaN.

    Raises:
        TypeError: `x` is not a floating tensor, `dim` or `block_size` not an integer.
        ValueError: `dim` out of range, `block_size` <= 0.

    Examples:
        >>> x = torch.tensor([[1.0, 2.0, 3.0], [1e4, float("-inf"), -1e4]])
        >>> online_softmax(x)
        tensor([[0.0900, 0.2447, 0.6652],
                [1.0000, 0.0000, 0.0000]])
    """
    check_float_tensor("x", x)
    dim = check_dim("dim", dim, tuple(x.shape))
    block_size = check_positive("block_size", block_size)
    rows = x.movedim(dim, -1)  # (..., n): normalise along the last dim
    running_max = rows.new_full(rows.shape[:-1] + (1,), float("-inf"))  # (..., 1)
    running_sum = rows.new_zeros(rows.shape[:-1] + (1,))  # (..., 1)
    for start in range(0, rows.shape[-1], block_size):  # pass 1: m and l together
        block = rows[..., start : start + block_size]  # (..., block_size)
        running_max, running_sum, _, _ = online_softmax_step(running_max, running_sum, block)
    running_sum = running_sum.masked_fill(running_sum == 0, 1.0)  # no finite entry: 0 / 1
    weights = torch.exp(rows - finite_max(running_max)) / running_sum  # (..., n), pass 2
    return weights.movedim(-1, dim)

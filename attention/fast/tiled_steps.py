"""Tiled attention one tile at a time: the state after every step, for looking at.

`attention.fast.tiled_attention` runs the FlashAttention-2 loop and returns only
the output. `tiled_attention_steps` runs the same loop on one sequence and
records, after every tile of scores it processes, what the loop holds: the
running maximum m and sum l of every query row, and the rows of the output that
are finished. The book draws these states; the last one is the exact attention.

The loop: query blocks in order (outer loop), key blocks in order (inner loop).
For a query block, m = -inf, l = 0 and the unnormalised output acc = 0; each key
block's tile of scores S updates them with the online softmax
(`attention.fast.online_softmax.online_softmax_step`):

    m' = max(m, rowmax(S)),  l' = l exp(m - m') + rowsum(exp(S - m')),
    acc' = acc exp(m - m') + exp(S - m') V_block,

and after the last key block the block's output rows are acc / l. With
`causal=True`, key blocks entirely in the future of a query block are skipped,
as `tiled_attention` skips them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from attention.fast.online_softmax import online_softmax_step
from attention.validation import check_positive
from attention.versions.scaled_dot_product import check_query_key_value


@dataclass(frozen=True)
class TileStep:
    """The loop's state right after one tile of scores was processed.

    Attributes:
        query_block: `(start, end)` of the query rows of the tile.
        key_block: `(start, end)` of the key columns of the tile.
        running_max: m, `(Tq,)`; -inf for a row that has read no key yet.
        running_sum: l, `(Tq,)`; 0 for a row that has read no key yet.
        output: `(Tq, d_v)`; the finished rows hold their output, the others 0.
        rows_done: how many rows, from the first, are finished.
    """

    query_block: tuple[int, int]
    key_block: tuple[int, int]
    running_max: torch.Tensor
    running_sum: torch.Tensor
    output: torch.Tensor
    rows_done: int


def tiled_attention_steps(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    block_size: int,
    causal: bool = False,
    scale: float | None = None,
) -> list[TileStep]:
    """Run tiled attention on one sequence and return the state after each tile.

    Args:
        query: `(Tq, d)`.
        key: `(Tk, d)`.
        value: `(Tk, d_v)`.
        block_size: rows of a query block and of a key block; a positive int.
        causal: if True, query i sees keys j <= i + Tk - Tq (the lower-right
            alignment of `attention.causal_mask`) and future key blocks are skipped.
        scale: the factor of the scores; 1 / sqrt(d) by default.

    Returns:
        One `TileStep` per tile processed, in the loop's order. The last step's
        `output` is softmax(scale q k^T) v, with every row finished (a row that
        may see no key is 0).

    Raises:
        TypeError: the tensors are not floating tensors of one dtype, or
            `block_size` is not an integer.
        ValueError: the tensors are not 2-D, their shapes do not fit, or
            `block_size` <= 0.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> q, k, v = torch.randn(4, 3), torch.randn(6, 3), torch.randn(6, 2)
        >>> steps = tiled_attention_steps(q, k, v, block_size=2)
        >>> len(steps), steps[0].query_block, steps[0].key_block, steps[2].rows_done
        (6, (0, 2), (0, 2), 2)
        >>> exact = torch.softmax(q @ k.T / 3**0.5, dim=-1) @ v
        >>> torch.allclose(steps[-1].output, exact, atol=1e-6)
        True
    """
    check_query_key_value(query, key, value)
    if query.ndim != 2:
        raise ValueError(
            f"query, key and value must be 2-D (Tq, d), (Tk, d), (Tk, d_v): one sequence; "
            f"got shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
        )
    block_size = check_positive("block_size", block_size)
    num_queries, num_keys = query.shape[0], key.shape[0]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    offset = num_keys - num_queries  # causal: query i sees keys j <= i + offset
    running_max = query.new_full((num_queries, 1), float("-inf"))  # (Tq, 1), m
    running_sum = query.new_zeros((num_queries, 1))  # (Tq, 1), l
    output = query.new_zeros((num_queries, value.shape[-1]))  # (Tq, d_v)
    steps: list[TileStep] = []
    for q_start in range(0, num_queries, block_size):  # outer loop: query blocks
        q_end = min(q_start + block_size, num_queries)
        rows = slice(q_start, q_end)
        acc = query.new_zeros((q_end - q_start, value.shape[-1]))  # (bq, d_v)
        key_stop = num_keys if not causal else max(0, min(num_keys, q_end + offset))
        key_starts = list(range(0, key_stop, block_size))
        for k_start in key_starts:  # inner loop: key blocks
            k_end = min(k_start + block_size, num_keys)
            scores = (query[rows] * scale) @ key[k_start:k_end].T  # (bq, bk)
            if causal:
                allowed = torch.ones_like(scores, dtype=torch.bool).tril(q_start + offset - k_start)
                scores = scores.masked_fill(~allowed, float("-inf"))  # (bq, bk)
            new_max, new_sum, correction, exp_scores = online_softmax_step(
                running_max[rows], running_sum[rows], scores
            )  # (bq, 1) three times, (bq, bk)
            running_max[rows], running_sum[rows] = new_max, new_sum
            acc = acc * correction + exp_scores @ value[k_start:k_end]  # (bq, d_v)
            done = q_start
            if k_start == key_starts[-1]:  # the block's last tile: its rows are finished
                has_keys = new_sum > 0  # (bq, 1): False for a row that may see no key
                output[rows] = acc / new_sum.masked_fill(~has_keys, 1.0)  # (bq, d_v)
                done = q_end
            steps.append(TileStep((q_start, q_end), (k_start, k_end), running_max[:, 0].clone(),
                                  running_sum[:, 0].clone(), output.clone(), done))
    return steps

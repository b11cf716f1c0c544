"""Tiled attention: exact attention that never holds the (Tq, Tk) weights at once.

The loop order of FlashAttention-2 (Dao, 2023). The outer loop takes the
queries one block at a time; the inner loop takes the keys and values one
block at a time, and with the online softmax (`attention.fast.online_softmax`)
keeps, for every query of the block, the running maximum m of its scores, the
running sum l of exp(score - m), and an unnormalised output
acc = sum_j exp(score_j - m) v_j, all rescaled by exp(m_old - m_new) when the
maximum grows. Once every key block is read, output = acc / l. Memory holds
one `(block, block)` tile of scores at a time, not the whole `(Tq, Tk)` matrix.

Training needs the same saving: the backward pass keeps only the output and
the log-sum-exp L = m + log(l) of every query, and recomputes each tile of
weights as P = exp(S - L) when it needs it, so memory stays O(T), not O(T^2).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from attention.fast.online_softmax import online_softmax_step
from attention.validation import (
    broadcast_batch_shapes,
    check_bool,
    check_positive,
    check_query_key_value,
)
from attention.versions.scaled_dot_product import score_dtype


def score_tile(
    scaled_query: torch.Tensor, key: torch.Tensor, q_start: int, k_start: int, offset: int | None
) -> torch.Tensor:
    """Scores of a query block against a key block; future keys get -inf when causal.

    `offset` is Tk - Tq when causal (query i sees keys j <= i + offset), else None.
    """
    scores = scaled_query @ key.transpose(-2, -1)  # (..., bq, bk)
    if offset is None or k_start + key.shape[-2] - 1 <= q_start + offset:
        return scores  # no key of this block is in the future of any query of the block
    allowed = torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device)  # (bq, bk)
    allowed = allowed.tril(diagonal=q_start + offset - k_start)  # (bq, bk): j <= i + offset
    return scores.masked_fill(~allowed, float("-inf"))  # (..., bq, bk)


def key_stop(q_end: int, num_keys: int, offset: int | None) -> int:
    """One past the last key any query before `q_end` may see: later key blocks are skipped."""
    return num_keys if offset is None else max(0, min(num_keys, q_end + offset))


# In the shape comments, bq and bk are the sizes of a query block and of a key block.


def tiled_forward(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    offset: int | None, block_size: int, scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (output `(..., Tq, d_v)`, logsumexp `(..., Tq)`), one tile at a time."""
    num_queries, num_keys = query.shape[-2], key.shape[-2]
    output = query.new_empty(query.shape[:-1] + value.shape[-1:])  # (..., Tq, d_v)
    logsumexp = query.new_empty(query.shape[:-1])  # (..., Tq)
    for q_start in range(0, num_queries, block_size):  # outer loop: query blocks
        q_end = min(q_start + block_size, num_queries)
        scaled_query = query[..., q_start:q_end, :] * scale  # (..., bq, d)
        rows = scaled_query.shape[:-1]  # (..., bq)
        running_max = query.new_full(rows + (1,), float("-inf"))  # (..., bq, 1), m
        running_sum = query.new_zeros(rows + (1,))  # (..., bq, 1), l
        acc = query.new_zeros(rows + value.shape[-1:])  # (..., bq, d_v), unnormalised output
        for k_start in range(0, key_stop(q_end, num_keys, offset), block_size):  # inner loop
            k_end = min(k_start + block_size, num_keys)
            key_block = key[..., k_start:k_end, :]  # (..., bk, d)
            scores = score_tile(scaled_query, key_block, q_start, k_start, offset)  # (..., bq, bk)
            running_max, running_sum, correction, exp_scores = online_softmax_step(
                running_max, running_sum, scores
            )  # (..., bq, 1) three times, then (..., bq, bk)
            acc = acc * correction + exp_scores @ value[..., k_start:k_end, :]  # (..., bq, d_v)
        has_keys = running_sum > 0  # (..., bq, 1): False for a query that may see no key
        output[..., q_start:q_end, :] = acc / running_sum.masked_fill(~has_keys, 1.0)  # (..., bq, d_v)
        # L = m + log(l); +inf for a query with no key, so that exp(S - L) = 0 in the backward.
        block_logsumexp = running_max + torch.log(running_sum)  # (..., bq, 1)
        logsumexp[..., q_start:q_end] = block_logsumexp.masked_fill(~has_keys, float("inf"))[..., 0]
    return output, logsumexp


def tiled_backward(
    grad_output: torch.Tensor, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    output: torch.Tensor, logsumexp: torch.Tensor, offset: int | None, block_size: int, scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients for query, key and value, recomputing the weights one tile at a time.

    With S the scores, P = softmax(S) = exp(S - L) the weights and dO the output's
    gradient: dV = P^T dO, dP = dO V^T, dS = P * (dP - D) where D = rowsum(dO * O),
    dQ = scale * dS K and dK = scale * dS^T Q.
    """
    num_queries, num_keys = query.shape[-2], key.shape[-2]
    delta = (grad_output * output).sum(dim=-1)  # (..., Tq): D_i = sum_j P_ij dP_ij
    grad_query = torch.zeros(query.shape, dtype=query.dtype, device=query.device)  # (..., Tq, d)
    grad_key = torch.zeros(key.shape, dtype=key.dtype, device=key.device)  # (..., Tk, d)
    grad_value = torch.zeros(value.shape, dtype=value.dtype, device=value.device)  # (..., Tk, d_v)
    for k_start in range(0, num_keys, block_size):  # outer loop: key blocks
        k_end = min(k_start + block_size, num_keys)
        key_block = key[..., k_start:k_end, :]  # (..., bk, d)
        value_block = value[..., k_start:k_end, :]  # (..., bk, d_v)
        # Causal: the queries before k_start - offset see no key of this block; skip them.
        q_first = 0 if offset is None else min(num_queries, max(0, k_start - offset))
        for q_start in range(q_first, num_queries, block_size):  # inner loop: query blocks
            q_end = min(q_start + block_size, num_queries)
            scaled_query = query[..., q_start:q_end, :] * scale  # (..., bq, d)
            scores = score_tile(scaled_query, key_block, q_start, k_start, offset)  # (..., bq, bk)
            weights = torch.exp(scores - logsumexp[..., q_start:q_end, None])  # (..., bq, bk), P
            grad_out = grad_output[..., q_start:q_end, :]  # (..., bq, d_v), dO
            grad_value[..., k_start:k_end, :] += weights.transpose(-2, -1) @ grad_out  # (..., bk, d_v)
            grad_weights = grad_out @ value_block.transpose(-2, -1)  # (..., bq, bk), dP
            grad_scores = weights * (grad_weights - delta[..., q_start:q_end, None])  # (..., bq, bk), dS
            grad_query[..., q_start:q_end, :] += (grad_scores @ key_block) * scale  # (..., bq, d)
            grad_key[..., k_start:k_end, :] += grad_scores.transpose(-2, -1) @ scaled_query  # (..., bk, d)
    return grad_query, grad_key, grad_value


class TiledAttentionFunction(torch.autograd.Function):
    """Autograd for tiled attention: saves output and log-sum-exp, recomputes tiles."""

    @staticmethod
    def forward(
        ctx: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
        offset: int | None, block_size: int,
    ) -> torch.Tensor:
        scale = 1.0 / math.sqrt(query.shape[-1])
        output, logsumexp = tiled_forward(query, key, value, offset, block_size, scale)
        ctx.save_for_backward(query, key, value, output, logsumexp)
        ctx.offset, ctx.block_size, ctx.scale = offset, block_size, scale
        return output

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        query, key, value, output, logsumexp = ctx.saved_tensors
        grads = tiled_backward(
            grad_output, query, key, value, output, logsumexp, ctx.offset, ctx.block_size, ctx.scale
        )
        return (*grads, None, None)


def tiled_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    causal: bool = False, block_size: int = 128,
) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d)) V computed in `(block_size, block_size)` tiles.

    Equal to `scaled_dot_product_attention(query, key, value)[0]` (up to rounding)
    but it returns only the output: the weights are never all in memory at once.
    The batch dims `...` broadcast as in `torch.matmul`.

    Args:
        query: `(..., Tq, d)`.
        key: `(..., Tk, d)`.
        value: `(..., Tk, d_v)`.
        causal: if True, query i sees only keys j <= i + (Tk - Tq): the queries
            are the last Tq positions of the Tk keys, the lower-right alignment
            of `causal_mask`. With Tq > Tk the first Tq - Tk queries see no key.
            Key blocks wholly in the future of a query block are skipped.
        block_size: the number of queries, and of keys, in one tile; a positive int.
            The last block may be shorter.

    Returns:
        The output `(..., Tq, d_v)`; a query with no key to see (Tk = 0, or
        causal with Tq > Tk) gets zeros. float16 and bfloat16 inputs are
        computed in float32 and the output cast back, so scores do not overflow.

    Raises:
        ValueError: shapes that do not fit (named in the message), d = 0, block_size <= 0.
        TypeError: non-tensor or non-float inputs, mixed dtypes, a non-bool `causal`,
            a non-integer `block_size`.

    Examples:
        >>> from attention import scaled_dot_product_attention
        >>> _ = torch.manual_seed(0)
        >>> q, k, v = torch.randn(2, 10, 4), torch.randn(2, 10, 4), torch.randn(2, 10, 3)
        >>> output = tiled_attention(q, k, v, block_size=4)  # blocks of 4, 4 and 2
        >>> output.shape
        torch.Size([2, 10, 3])
        >>> torch.allclose(output, scaled_dot_product_attention(q, k, v)[0], atol=1e-6)
        True
    """
    check_query_key_value(query, key, value)
    causal = check_bool("causal", causal)
    block_size = check_positive("block_size", block_size)
    batch = broadcast_batch_shapes(
        query=query.shape[:-2], key=key.shape[:-2], value=value.shape[:-2]
    )
    dtype = query.dtype
    wide = score_dtype(dtype)  # float32 for half precision: no overflow
    query = query.to(wide).expand(batch + query.shape[-2:])  # (..., Tq, d), a view
    key = key.to(wide).expand(batch + key.shape[-2:])  # (..., Tk, d)
    value = value.to(wide).expand(batch + value.shape[-2:])  # (..., Tk, d_v)
    offset = key.shape[-2] - query.shape[-2] if causal else None
    return TiledAttentionFunction.apply(query, key, value, offset, block_size).to(dtype)

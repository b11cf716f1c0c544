"""Independent float64 references shared by the module tests."""

from __future__ import annotations

import math

import torch


def float64_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d_k)) v in float64, straight from the formula (no package code).

    Args: q `(..., Tq, d_k)`, k `(..., Tk, d_k)`, v `(..., Tk, d_v)`, mask bool, True = keep.
    Returns: `(output, weights)`.
    """
    q, k, v = q.double(), k.double(), v.double()
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.exp(scores - scores.amax(-1, keepdim=True))
    weights = weights / weights.sum(-1, keepdim=True)
    return weights @ v, weights

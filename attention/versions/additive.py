"""Additive attention (Bahdanau, Cho and Bengio; arXiv 2014, ICLR 2015).

Before dot products, attention scores came from a small feed-forward network:

    score(q, k) = w_v^T tanh(W_q q + W_k k)

Queries and keys may have different sizes, since both are projected to the
same hidden size first. The rest is as in dot-product attention: a (masked)
softmax over the keys, then a weighted average of the values.
"""

from __future__ import annotations

import torch
from torch import nn

from attention.validation import (
    check_attention_shapes,
    check_features,
    check_float_tensor,
    check_mask_tensor,
    check_positive,
    check_same_dtype,
)
from attention.versions.scaled_dot_product import weights_from_scores


class AdditiveAttention(nn.Module):
    """Bahdanau's additive attention: score(q, k) = w_v^T tanh(W_q q + W_k k).

    Args:
        query_size: the size of each query vector.
        key_size: the size of each key vector.
        hidden_size: the size both are projected to before the tanh.

    Members:
        w_q: `nn.Linear(query_size, hidden_size, bias=False)`.
        w_k: `nn.Linear(key_size, hidden_size, bias=False)`.
        w_v: `nn.Linear(hidden_size, 1, bias=False)`.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> attend = AdditiveAttention(query_size=4, key_size=6, hidden_size=8)
        >>> query, key, value = torch.randn(2, 3, 4), torch.randn(2, 5, 6), torch.randn(2, 5, 7)
        >>> output, weights = attend(query, key, value)
        >>> output.shape, weights.shape
        (torch.Size([2, 3, 7]), torch.Size([2, 3, 5]))
        >>> torch.allclose(weights.sum(dim=-1), torch.ones(2, 3))
        True
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int) -> None:
        super().__init__()
        self.query_size = check_positive("query_size", query_size)
        self.key_size = check_positive("key_size", key_size)
        self.hidden_size = check_positive("hidden_size", hidden_size)
        self.w_q = nn.Linear(self.query_size, self.hidden_size, bias=False)
        self.w_k = nn.Linear(self.key_size, self.hidden_size, bias=False)
        self.w_v = nn.Linear(self.hidden_size, 1, bias=False)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from each query to the keys and average the values.

        Args:
            query: `(batch, Tq, query_size)`.
            key: `(batch, Tk, key_size)`.
            value: `(batch, Tk, d_v)`.
            mask: bool, broadcastable to `(batch, Tq, Tk)`, True = may attend.

        Returns:
            `(output, weights)` of shapes `(batch, Tq, d_v)` and `(batch, Tq, Tk)`.
            A query with no key to attend to gets zero weights and output.

        Raises:
            TypeError: non-float inputs, a dtype other than the module's, a non-boolean mask.
            ValueError: sizes that do not fit the module or each other (named).
        """
        check_features("query", query, "query_size", self.query_size, self.w_q.weight)
        check_features("key", key, "key_size", self.key_size, self.w_q.weight)
        check_float_tensor("value", value)
        check_same_dtype(query=query, value=value)
        scores_shape = check_attention_shapes(
            tuple(query.shape), tuple(key.shape), tuple(value.shape), same_query_key_size=False
        )
        if mask is not None:
            check_mask_tensor(mask, scores_shape)

        projected_query = self.w_q(query).unsqueeze(-2)  # (batch, Tq, 1, hidden)
        projected_key = self.w_k(key).unsqueeze(-3)  # (batch, 1, Tk, hidden)
        features = torch.tanh(projected_query + projected_key)  # (batch, Tq, Tk, hidden)
        scores = self.w_v(features).squeeze(-1)  # (batch, Tq, Tk)
        weights = weights_from_scores(scores, mask, dim=-1)  # (batch, Tq, Tk)
        output = weights @ value  # (batch, Tq, Tk) @ (batch, Tk, d_v) -> (batch, Tq, d_v)
        return output, weights

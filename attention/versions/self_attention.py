"""Version 5 of attention: self-attention, queries, keys and values from one sequence.

Cross-attention (version 4) projects the input X into keys and values and takes
its queries from another sequence. Self-attention projects the queries from the
same X,

    Q = X W^Q,    K = X W^K,    V = X W^V,    output = softmax(Q K^T / sqrt(d_k)) V,

so every position of the sequence attends to every position of the same
sequence, itself included. This is one head; the output projection W^O comes
with multi-head attention. Masks follow the package convention: True = may attend.
"""

from __future__ import annotations

import torch
from torch import nn

from attention.validation import check_features, check_positive
from attention.versions.scaled_dot_product import scaled_dot_product_attention


class SelfAttention(nn.Module):
    """One head of self-attention: queries, keys and values all projected from `x`.

    Args:
        d_model: the size of each row of the input x.
        d_k: the size of each query and key; defaults to d_model.
        d_v: the size of each value, and so of each output; defaults to d_model.

    Members:
        w_q: `nn.Linear(d_model, d_k, bias=False)`; `w_q.weight` is (W^Q)^T.
        w_k: `nn.Linear(d_model, d_k, bias=False)`; `w_k.weight` is (W^K)^T.
        w_v: `nn.Linear(d_model, d_v, bias=False)`; `w_v.weight` is (W^V)^T.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> attend = SelfAttention(d_model=8, d_k=4, d_v=6)
        >>> x = torch.randn(2, 5, 8)                      # (batch, T, d_model)
        >>> output, weights = attend(x)
        >>> output.shape, weights.shape                   # (batch, T, d_v), (batch, T, T)
        (torch.Size([2, 5, 6]), torch.Size([2, 5, 5]))
        >>> sum(p.numel() for p in attend.parameters())   # 8 * 4 + 8 * 4 + 8 * 6
        112
    """

    def __init__(self, d_model: int, d_k: int | None = None, d_v: int | None = None) -> None:
        super().__init__()
        self.d_model = check_positive("d_model", d_model)
        self.d_k = self.d_model if d_k is None else check_positive("d_k", d_k)
        self.d_v = self.d_model if d_v is None else check_positive("d_v", d_v)
        self.w_q = nn.Linear(self.d_model, self.d_k, bias=False)
        self.w_k = nn.Linear(self.d_model, self.d_k, bias=False)
        self.w_v = nn.Linear(self.d_model, self.d_v, bias=False)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Let every position of `x` attend to every position of `x`.

        Args:
            x: `(batch, T, d_model)`.
            mask: bool, broadcastable to `(batch, T, T)`; True = may attend
                (e.g. `attention.causal_mask(T)` for a decoder).

        Returns:
            `(output, weights)`: output `(batch, T, d_v)`, weights `(batch, T, T)`.
            Leading batch dims other than one `batch` work too.

        Raises:
            ValueError: x is not `(..., T, d_model)`, or a mask that does not
                broadcast (shapes are named).
            TypeError: a non-tensor, non-float or wrong-dtype x, or a non-boolean mask.
        """
        check_features("x", x, "d_model", self.d_model, self.w_q.weight)
        query = self.w_q(x)  # (batch, T, d_model) -> (batch, T, d_k)
        key = self.w_k(x)  # (batch, T, d_model) -> (batch, T, d_k)
        value = self.w_v(x)  # (batch, T, d_model) -> (batch, T, d_v)
        # (batch, T, d_v), (batch, T, T)
        return scaled_dot_product_attention(query, key, value, mask)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, d_k={self.d_k}, d_v={self.d_v}"

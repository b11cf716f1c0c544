"""Version 4 of attention: cross-attention, keys and values projected from the input.

Versions 1 to 3 compare the queries with the raw input X and average the raw
rows of X: the input is both the keys and the values. Cross-attention gives each
role its own learned matrix,

    K = X W^K,    V = X W^V,    output = softmax(Q K^T / sqrt(d_k)) V,

so what makes an input row easy to find (its key) no longer has to be what is
taken from it (its value). The queries come from another sequence (in the
Transformer, the decoder asking about the encoder's output) and are used as
they are. Masks follow the package convention: True = may attend.
"""

from __future__ import annotations

import torch
from torch import nn

from attention.validation import check_features, check_positive
from attention.versions.scaled_dot_product import scaled_dot_product_attention


class CrossAttention(nn.Module):
    """Scaled dot-product attention with keys and values projected from the input.

    Args:
        query_size: d_k, the size of each query, and so of each key.
        input_size: the size of each row of the input X.
        value_size: d_v, the size of each value, and so of each output.

    Members:
        w_k: `nn.Linear(input_size, query_size, bias=False)`; `w_k.weight` is (W^K)^T.
        w_v: `nn.Linear(input_size, value_size, bias=False)`; `w_v.weight` is (W^V)^T.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> attend = CrossAttention(query_size=4, input_size=6, value_size=3)
        >>> query = torch.randn(2, 3, 4)                  # (batch, Tq, query_size)
        >>> inputs = torch.randn(2, 5, 6)                 # (batch, Tk, input_size)
        >>> output, weights = attend(query, inputs)
        >>> output.shape, weights.shape                   # (batch, Tq, d_v), (batch, Tq, Tk)
        (torch.Size([2, 3, 3]), torch.Size([2, 3, 5]))
        >>> sum(p.numel() for p in attend.parameters())   # 6 * 4 + 6 * 3
        42
    """

    def __init__(self, query_size: int, input_size: int, value_size: int) -> None:
        super().__init__()
        self.query_size = check_positive("query_size", query_size)
        self.input_size = check_positive("input_size", input_size)
        self.value_size = check_positive("value_size", value_size)
        self.w_k = nn.Linear(self.input_size, self.query_size, bias=False)
        self.w_v = nn.Linear(self.input_size, self.value_size, bias=False)

    def forward(
        self, query: torch.Tensor, inputs: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from each query to the rows of `inputs`.

        Args:
            query: `(batch, Tq, query_size)`, used as it is (not projected).
            inputs: `(batch, Tk, input_size)`, projected into keys and values.
            mask: bool, broadcastable to `(batch, Tq, Tk)`; True = may attend.

        Returns:
            `(output, weights)`: output `(batch, Tq, value_size)`, weights
            `(batch, Tq, Tk)`. Leading batch dims other than one `batch` work too,
            broadcast as in `attention.scaled_dot_product_attention`.

        Raises:
            ValueError: a feature size that does not fit the module, fewer than
                2 dims, or a mask that does not broadcast (shapes are named).
            TypeError: a non-tensor, non-float or wrong-dtype input, or a
                non-boolean mask.
        """
        check_features("query", query, "query_size", self.query_size, self.w_k.weight)
        check_features("inputs", inputs, "input_size", self.input_size, self.w_k.weight)
        keys = self.w_k(inputs)  # (batch, Tk, input_size) -> (batch, Tk, query_size)
        values = self.w_v(inputs)  # (batch, Tk, input_size) -> (batch, Tk, value_size)
        # (batch, Tq, value_size), (batch, Tq, Tk)
        return scaled_dot_product_attention(query, keys, values, mask)

    def extra_repr(self) -> str:
        return (
            f"query_size={self.query_size}, input_size={self.input_size}, "
            f"value_size={self.value_size}"
        )

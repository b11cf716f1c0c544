"""Multi-head attention (Vaswani et al., 2017), batch-first.

Instead of one attention over d_model-sized vectors, project queries, keys and
values, split each projection into `num_heads` slices of size
d_head = d_model / num_heads, run scaled dot-product attention on every slice
in parallel, then concatenate the heads and project back:

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_o,
    head_i = Attention(Q W_q_i, K W_k_i, V W_v_i)

Speed: with `need_weights=False` the heads run in PyTorch's fused
`scaled_dot_product_attention`, which never stores the weights; with weights
asked for, the explicit `scaled_dot_product_attention` of this package runs
(the scale folded into the queries). Self-attention (query is key is value)
projects with one stacked `(3 d_model, d_model)` matrix, as `nn.MultiheadAttention` does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attention._checks import check_attention_shapes, check_count
from attention.versions.scaled_dot_product import (
    check_float_tensor,
    check_torch_mask,
    scaled_dot_product_attention,
)


def fused_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    dropout_p: float,
) -> torch.Tensor:
    """PyTorch's fused attention, made to give zeros for a query with no allowed key.

    PyTorch's boolean `attn_mask` uses our convention (True = may attend), but
    a fully masked query may come out as NaN there. Such queries are allowed
    to see every key (a finite result) and their output is then set to 0.
    """
    if mask is None:
        return F.scaled_dot_product_attention(query, key, value, dropout_p=dropout_p)
    fully_masked = ~mask.any(dim=-1, keepdim=True)  # (..., Tq or 1, 1)
    output = F.scaled_dot_product_attention(
        query, key, value, attn_mask=mask | fully_masked, dropout_p=dropout_p
    )  # (batch, heads, Tq, d_head)
    return output.masked_fill(fully_masked, 0.0)


def check_model_inputs(
    d_model: int, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
) -> tuple[int, int, int]:
    """Check `(batch, T, d_model)` inputs; return (batch, Tq, Tk) or raise naming the shapes."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        check_float_tensor(name, x)
        if x.ndim != 3 or x.shape[-1] != d_model:
            raise ValueError(
                f"{name} must have shape (batch, positions, d_model={d_model}), "
                f"got {tuple(x.shape)}"
            )
    batch, num_queries, num_keys = check_attention_shapes(
        tuple(query.shape), tuple(key.shape), tuple(value.shape)
    )
    return batch, num_queries, num_keys


def mask_for_heads(
    mask: torch.Tensor | None, batch: int, num_heads: int, num_queries: int, num_keys: int
) -> torch.Tensor | None:
    """Check `mask` and return it broadcastable to `(batch, heads, Tq, Tk)`.

    A mask of 2 or 3 dims (`(Tq, Tk)`, `(batch, 1 or Tq, Tk)`) is shared by all
    heads; one of 4 dims, `(batch, heads, Tq, Tk)`, may differ between heads.
    """
    if mask is None:
        return None
    if isinstance(mask, torch.Tensor) and mask.ndim == 4:
        return check_torch_mask(mask, (batch, num_heads, num_queries, num_keys))
    check_torch_mask(mask, (batch, num_queries, num_keys))  # (Tq, Tk), (batch, 1 or Tq, Tk)
    return mask.unsqueeze(-3) if mask.ndim == 3 else mask  # (batch, 1, Tq or 1, Tk)


class MultiHeadAttention(nn.Module):
    """Multi-head attention on batch-first tensors `(batch, positions, d_model)`.

    Args:
        d_model: the size of every input and output vector.
        num_heads: the number of heads; must divide d_model.
        dropout: dropout probability on the attention weights (training only).
        bias: whether the four projections have biases.

    Members:
        w_q, w_k, w_v, w_o: `nn.Linear(d_model, d_model, bias=bias)`.

    Example:
        >>> from attention import causal_mask
        >>> _ = torch.manual_seed(0)
        >>> attend = MultiHeadAttention(d_model=8, num_heads=2)
        >>> x = torch.randn(3, 5, 8)                       # (batch, positions, d_model)
        >>> output, weights = attend(x, x, x, mask=causal_mask(5))
        >>> output.shape, weights.shape                    # weights: (batch, heads, Tq, Tk)
        (torch.Size([3, 5, 8]), torch.Size([3, 2, 5, 5]))
        >>> fast, no_weights = attend(x, x, x, mask=causal_mask(5), need_weights=False)
        >>> torch.allclose(fast, output, atol=1e-6), no_weights
        (True, None)
    """

    def __init__(
        self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True
    ) -> None:
        super().__init__()
        d_model = check_count("d_model", d_model)
        num_heads = check_count("num_heads", num_heads)
        if d_model == 0 or num_heads == 0:
            raise ValueError(
                "d_model and num_heads must be positive, "
                f"got d_model={d_model}, num_heads={num_heads}"
            )
        if d_model % num_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_head = d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, T, d_model)` -> `(batch, heads, T, d_head)`, a view when possible."""
        x = x.unflatten(-1, (self.num_heads, self.d_head))  # (batch, T, heads, d_head)
        return x.transpose(1, 2)  # (batch, heads, T, d_head)

    def combine_heads(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, heads, T, d_head)` -> `(batch, T, d_model)`, the heads concatenated."""
        x = x.transpose(1, 2)  # (batch, T, heads, d_head)
        return x.flatten(-2)  # (batch, T, d_model)

    def project(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The projections `(query W_q, key W_k, value W_v)`, each `(batch, T, d_model)`.

        For self-attention (query is key is value) the three weights are stacked
        into one `(3 d_model, d_model)` matrix, as `nn.MultiheadAttention` does:
        one matrix product instead of three, and one gradient for the input.
        """
        if query is key is value:
            projections = (self.w_q, self.w_k, self.w_v)
            weight = torch.cat([linear.weight for linear in projections])  # (3 d_model, d_model)
            bias = None
            if self.w_q.bias is not None:
                bias = torch.cat([linear.bias for linear in projections])  # (3 d_model,)
            q, k, v = F.linear(query, weight, bias).chunk(3, dim=-1)  # 3 x (batch, T, d_model)
            return q, k, v
        return self.w_q(query), self.w_k(key), self.w_v(value)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from every query to the keys, in every head.

        Args:
            query: `(batch, Tq, d_model)`.
            key: `(batch, Tk, d_model)`.
            value: `(batch, Tk, d_model)`.
            mask: bool, True = may attend; `(Tq, Tk)`, `(batch, 1, Tk)` or
                `(batch, Tq, Tk)` (shared by all heads), or `(batch, heads, Tq, Tk)`.
            need_weights: if False, skip building the weights and use PyTorch's
                fused `scaled_dot_product_attention` (faster, less memory).

        Returns:
            `(output, weights)`: output `(batch, Tq, d_model)`; weights
            `(batch, heads, Tq, Tk)` (after dropout), or None if not need_weights.
        """
        batch, num_queries, num_keys = check_model_inputs(self.d_model, query, key, value)
        mask = mask_for_heads(mask, batch, self.num_heads, num_queries, num_keys)
        q, k, v = self.project(query, key, value)  # each (batch, Tq or Tk, d_model)
        q, k, v = (self.split_heads(x) for x in (q, k, v))  # (batch, heads, T, d_head)
        if need_weights:
            heads, weights = scaled_dot_product_attention(q, k, v, mask, dropout=self.dropout)
        else:
            dropout_p = self.dropout.p if self.training else 0.0
            heads, weights = fused_attention(q, k, v, mask, dropout_p), None
        output = self.w_o(self.combine_heads(heads))  # (batch, Tq, d_model)
        return output, weights

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """A `MultiHeadAttention` computing what `module` computes, with copied weights.

        Ours is always batch-first: for a module built with `batch_first=False`,
        feed ours `(batch, T, d_model)` where the module takes `(T, batch, d_model)`.
        Remember too that `nn.MultiheadAttention`'s masks mean True = blocked,
        the opposite of ours; and it averages the weights over the heads unless
        called with `average_attn_weights=False`, while ours returns every head's.

        Raises:
            TypeError: `module` is not an `nn.MultiheadAttention`.
            ValueError: it uses kdim/vdim != embed_dim, add_bias_kv or add_zero_attn.
        """
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(
                f"from_torch takes an nn.MultiheadAttention, got {type(module).__name__}"
            )
        if module.kdim != module.embed_dim or module.vdim != module.embed_dim:
            raise ValueError(
                f"kdim={module.kdim} and vdim={module.vdim} must equal embed_dim={module.embed_dim}"
            )
        if module.bias_k is not None or module.bias_v is not None:
            raise ValueError("add_bias_kv=True is not supported")
        if module.add_zero_attn:
            raise ValueError("add_zero_attn=True is not supported")

        has_bias = module.in_proj_bias is not None
        ours = cls(module.embed_dim, module.num_heads, dropout=module.dropout, bias=has_bias)
        ours = ours.to(device=module.in_proj_weight.device, dtype=module.in_proj_weight.dtype)
        projections = (ours.w_q, ours.w_k, ours.w_v)
        with torch.no_grad():
            # in_proj_weight stacks W_q, W_k, W_v: (3 * d_model, d_model).
            for linear, weight in zip(projections, module.in_proj_weight.chunk(3)):
                linear.weight.copy_(weight)  # (d_model, d_model)
            ours.w_o.weight.copy_(module.out_proj.weight)
            if has_bias:
                for linear, bias in zip(projections, module.in_proj_bias.chunk(3)):
                    linear.bias.copy_(bias)  # (d_model,)
                ours.w_o.bias.copy_(module.out_proj.bias)
        return ours.train(module.training)

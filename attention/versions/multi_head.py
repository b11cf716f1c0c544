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

from attention.validation import (
    check_bool,
    check_divides,
    check_model_input,
    check_positive,
    check_probability,
    check_same_batch,
)
# fused_attention and mask_for_heads were defined here first: they still import from here.
from attention.versions.head_attention import attend_heads, fused_attention, mask_for_heads  # noqa: F401


class AttentionHeads(nn.Module):
    """What multi-head and grouped-query attention share: sizes, projections, head split.

    `num_kv_heads` key/value heads serve `num_heads` query heads; multi-head
    attention is the case num_kv_heads = num_heads.
    """

    stack_projections = True

    def __init__(
        self, d_model: int, num_heads: int, num_kv_heads: int, dropout: float, bias: bool
    ) -> None:
        super().__init__()
        d_model = check_positive("d_model", d_model)
        num_heads = check_positive("num_heads", num_heads)
        num_kv_heads = check_positive("num_kv_heads", num_kv_heads)
        check_divides("num_heads", num_heads, "d_model", d_model)
        check_divides("num_kv_heads", num_kv_heads, "num_heads", num_heads)
        self.d_model, self.num_heads, self.num_kv_heads = d_model, num_heads, num_kv_heads
        self.d_head = d_model // num_heads
        d_kv = num_kv_heads * self.d_head  # d_model for multi-head attention
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_kv, bias=bias)
        self.w_v = nn.Linear(d_model, d_kv, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(check_probability("dropout", dropout))

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, T, heads * d_head)` -> `(batch, heads, T, d_head)`, a view when possible.

        For query heads (heads = num_heads) or key/value heads (heads = num_kv_heads).
        """
        x = x.unflatten(-1, (-1, self.d_head))  # (batch, T, heads, d_head)
        return x.transpose(1, 2)  # (batch, heads, T, d_head)

    def combine_heads(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, heads, T, d_head)` -> `(batch, T, d_model)`, the heads concatenated."""
        x = x.transpose(1, 2)  # (batch, T, heads, d_head)
        return x.flatten(-2)  # (batch, T, d_model)

    def project(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The projections `(query W_q, key W_k, value W_v)`, each `(batch, T, features)`.

        For self-attention (query is key is value) the three weights are stacked
        into one matrix, as `nn.MultiheadAttention` does: one matrix product
        instead of three, and one gradient for the input. Classes that set
        `stack_projections = False` call w_q, w_k and w_v one by one, so that
        hooks on them see every call.
        """
        if self.stack_projections and query is key is value:
            projections = (self.w_q, self.w_k, self.w_v)
            sizes = [linear.out_features for linear in projections]
            weight = torch.cat([linear.weight for linear in projections])  # (sum(sizes), d_model)
            bias = None
            if self.w_q.bias is not None:
                bias = torch.cat([linear.bias for linear in projections])  # (sum(sizes),)
            q, k, v = F.linear(query, weight, bias).split(sizes, dim=-1)  # (batch, T, size) each
            return q, k, v
        return self.w_q(query), self.w_k(key), self.w_v(value)

    def check_inputs(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
    ) -> tuple[int, int, int]:
        """Check `(batch, T, d_model)` inputs of the module's dtype; return (batch, Tq, Tk)."""
        weight = self.w_q.weight
        for name, x in (("query", query), ("key", key), ("value", value)):
            check_model_input(name, x, "d_model", self.d_model, weight)
        batch = check_same_batch(query=query.shape, key=key.shape, value=value.shape)
        if key.shape[1] != value.shape[1]:
            raise ValueError(
                f"key has {key.shape[1]} positions but value has {value.shape[1]} "
                f"(key shape {tuple(key.shape)}, value shape {tuple(value.shape)})"
            )
        return batch, query.shape[1], key.shape[1]


class MultiHeadAttention(AttentionHeads):
    """Multi-head attention on batch-first tensors `(batch, positions, d_model)`.

    Args:
        d_model: the size of every input and output vector.
        num_heads: the number of heads; must divide d_model.
        dropout: dropout probability on the attention weights (training only).
        bias: whether the four projections have biases.

    Members:
        w_q, w_k, w_v, w_o: `nn.Linear(d_model, d_model, bias=bias)`.

    Examples:
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
        super().__init__(d_model, num_heads, num_heads, dropout, bias)

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

        Both paths (`need_weights` True or False) take the same inputs and give
        the same output (up to rounding).

        Args:
            query: `(batch, Tq, d_model)`.
            key: `(batch, Tk, d_model)`, the same batch size.
            value: `(batch, Tk, d_model)`.
            mask: bool, True = may attend; any shape that broadcasts to
                `(batch, Tq, Tk)` (`(Tk,)`, `(Tq, Tk)`, `(batch, 1, Tk)`, ...,
                shared by all heads), or 4 dims broadcasting to `(batch, heads, Tq, Tk)`.
                A query with no key to attend to gets a zero output.
            need_weights: if False, skip building the weights and use PyTorch's
                fused `scaled_dot_product_attention` (faster, less memory).

        Returns:
            `(output, weights)`: output `(batch, Tq, d_model)`; weights
            `(batch, heads, Tq, Tk)` (after dropout), or None if not need_weights.

        Raises:
            TypeError: a non-float input, one of another dtype than the module's
                weights, a non-boolean mask.
            ValueError: shapes that do not fit (named in the message), batch sizes
                that differ, a mask that does not broadcast.
        """
        batch, num_queries, num_keys = self.check_inputs(query, key, value)
        mask = mask_for_heads(mask, batch, self.num_heads, num_queries, num_keys)
        need_weights = check_bool("need_weights", need_weights)
        return self.attend(query, key, value, mask, need_weights)

    def attend(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
        mask: torch.Tensor | None, need_weights: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`forward` without its checks, for callers that checked (`mask` from `mask_for_heads`)."""
        q, k, v = self.project(query, key, value)  # each (batch, Tq or Tk, d_model)
        q, k, v = (self.split_heads(x) for x in (q, k, v))  # (batch, heads, T, d_head)
        heads, weights = attend_heads(
            q, k, v, mask, need_weights=need_weights, dropout=self.dropout
        )  # (batch, heads, Tq, d_head)
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

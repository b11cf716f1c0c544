"""The Transformer's encoder and decoder layers (Vaswani et al., 2017), batch-first.

An encoder layer is two sublayers, multi-head self-attention then a
position-wise feed-forward network. A decoder layer has three: masked
self-attention over the target so far, cross-attention from the target to the
encoder's output (the "memory"), and the feed-forward network. Every sublayer
is wrapped in a residual connection and a layer norm, in one of two orders:

* post-norm (the paper):  x = LayerNorm(x + Dropout(Sublayer(x)))
* pre-norm (most models since): x = x + Dropout(Sublayer(LayerNorm(x)))

Pre-norm leaves the residual path x -> x + ... free of normalisation, so the
gradient reaches early layers unscaled and deep stacks train without the
learning-rate warm-up that post-norm needs.

The layers compute what `torch.nn.TransformerEncoderLayer` and
`torch.nn.TransformerDecoderLayer` (batch_first=True, ReLU) compute; `from_torch`
copies their weights. Masks follow the package convention: True = may attend.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from attention.validation import (
    check_bool,
    check_model_input,
    check_positive,
    check_probability,
    check_same_batch,
)
from attention.versions.head_attention import mask_for_heads
from attention.versions.multi_head import MultiHeadAttention


class FeedForward(nn.Module):
    """The position-wise network `W_2 act(W_1 x + b_1) + b_2`, applied to every position alone.

    `(..., d_model)` -> `(..., d_model)`, through a hidden size d_ff. The
    activation is ReLU, as in the paper, unless another module is given (the
    decoder-only model of `attention.kv_decoding` uses GELU).
    """

    def __init__(
        self, d_model: int, d_ff: int, dropout: float = 0.0, *,
        activation: nn.Module | None = None, bias: bool = True,
    ) -> None:
        super().__init__()
        self.linear1 = nn.Linear(check_positive("d_model", d_model), check_positive("d_ff", d_ff), bias=bias)
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)
        self.activation = nn.ReLU() if activation is None else activation
        self.dropout = nn.Dropout(check_probability("dropout", dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(self.activation(self.linear1(x)))  # (batch, T, d_ff)
        return self.linear2(hidden)  # (batch, T, d_model)


def residual(
    x: torch.Tensor, norm: nn.Module, sublayer: Callable[[torch.Tensor], torch.Tensor],
    norm_first: bool, dropout: nn.Module | None = None,
) -> torch.Tensor:
    """A sublayer with its residual connection and layer norm, pre-norm or post-norm.

    pre-norm: x + Dropout(sublayer(norm(x))); post-norm: norm(x + Dropout(sublayer(x))).
    """
    drop = dropout if dropout is not None else (lambda h: h)
    if norm_first:
        return x + drop(sublayer(norm(x)))  # pre-norm
    return norm(x + drop(sublayer(x)))  # post-norm


def copy_layer_norm(mine: nn.LayerNorm, theirs: nn.LayerNorm) -> None:
    """Give `mine` the weight, bias and epsilon of `theirs`."""
    mine.load_state_dict(theirs.state_dict())
    mine.eps = theirs.eps


class _Sublayers(nn.Module):
    """What both layers share: sizes, the feed-forward sublayer, and the residual + norm rule.

    Each layer's `forward` checks its inputs, then `unchecked_forward` runs it: the
    stacks of `attention.transformer` check once for all their layers and call
    `unchecked_forward`. The attention weights are kept only once a call has succeeded.
    """

    def __init__(
        self, d_model: int, num_heads: int, d_ff: int, dropout: float, norm_first: bool,
        num_sublayers: int, eps: float = 1e-5, bias: bool = True,
    ) -> None:
        super().__init__()
        self.norm_first = check_bool("norm_first", norm_first)
        bias = check_bool("bias", bias)
        self.self_attention = MultiHeadAttention(d_model, num_heads, dropout=dropout, bias=bias)
        self.feed_forward = FeedForward(d_model, d_ff, dropout, bias=bias)
        self.norms = nn.ModuleList(
            nn.LayerNorm(d_model, eps=eps, bias=bias) for _ in range(num_sublayers)
        )
        self.dropout = nn.Dropout(dropout)  # on each sublayer's output, before the residual add
        self.weights: dict[str, torch.Tensor] = {}

    def residual(self, x: torch.Tensor, index: int, sublayer) -> torch.Tensor:
        """Apply sublayer `index` to x with its residual connection and layer norm."""
        return residual(x, self.norms[index], sublayer, self.norm_first, self.dropout)

    @classmethod
    def _copy_of(cls, layer: nn.Module, torch_class: type) -> _Sublayers:
        """A layer of ours with the weights of a batch-first, ReLU torch layer of `torch_class`."""
        if not isinstance(layer, torch_class):
            raise TypeError(f"expected nn.{torch_class.__name__}, got {type(layer).__name__}")
        if not layer.self_attn.batch_first:
            raise ValueError("from_torch needs a layer built with batch_first=True")
        if not (layer.activation is F.relu or isinstance(layer.activation, nn.ReLU)):
            raise ValueError(f"from_torch supports the ReLU activation only, got {layer.activation}")
        attn = layer.self_attn
        ours = cls(attn.embed_dim, attn.num_heads, layer.linear1.out_features,
                   dropout=layer.dropout.p, norm_first=layer.norm_first,
                   bias=layer.linear1.bias is not None)
        ours = ours.to(attn.in_proj_weight)  # the dtype and device first: copies keep every bit
        ours.self_attention = MultiHeadAttention.from_torch(attn)
        ours.feed_forward.linear1.load_state_dict(layer.linear1.state_dict())
        ours.feed_forward.linear2.load_state_dict(layer.linear2.state_dict())
        torch_norms = [layer.norm1, layer.norm2, getattr(layer, "norm3", None)]
        for mine, theirs in zip(ours.norms, torch_norms):  # norm3: decoder layers only
            copy_layer_norm(mine, theirs)
        return ours

    def _check_input(self, name: str, x: torch.Tensor) -> tuple[int, int]:
        """Check `(batch, T, d_model)` of the layer's dtype; return (batch, T)."""
        attention = self.self_attention
        check_model_input(name, x, "d_model", attention.d_model, attention.w_q.weight)
        return x.shape[0], x.shape[1]

    def _attend(
        self, name: str, module: MultiHeadAttention, query: torch.Tensor, memory: torch.Tensor,
        mask: torch.Tensor | None, need_weights: bool, found: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        output, weights = module.attend(query, memory, memory, mask, need_weights)
        if need_weights:
            found[name] = weights.detach()  # (batch, heads, Tq, Tk)
        return output


class EncoderLayer(_Sublayers):
    """Self-attention then feed-forward, each with a residual connection and layer norm.

    Args:
        d_model: the size of every position's vector.
        num_heads: heads of the self-attention; must divide d_model.
        d_ff: the hidden size of the feed-forward network (4 * d_model in the paper).
        dropout: dropout on attention weights, the feed-forward hidden layer and
            each sublayer's output (training only).
        norm_first: False for post-norm (the paper), True for pre-norm.
        bias: whether the linear layers and layer norms have biases (as in
            `nn.TransformerEncoderLayer`).

    Members:
        self_attention, feed_forward, norms (2 LayerNorms), and `weights`, a dict
        holding the `"self"` attention weights `(batch, heads, T, T)` of the last
        call made with `need_weights=True`.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> layer = EncoderLayer(d_model=8, num_heads=2, d_ff=32)
        >>> x = torch.randn(3, 5, 8)                          # (batch, positions, d_model)
        >>> layer(x).shape
        torch.Size([3, 5, 8])
    """

    def __init__(
        self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0,
        norm_first: bool = False, *, bias: bool = True,
    ) -> None:
        super().__init__(d_model, num_heads, d_ff, dropout, norm_first, num_sublayers=2, bias=bias)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, *, need_weights: bool = False
    ) -> torch.Tensor:
        """Encode `(batch, T, d_model)` -> `(batch, T, d_model)`.

        Args:
            x: the source positions.
            mask: bool, True = may attend, any shape `MultiHeadAttention` takes,
                e.g. a padding mask `(batch, 1, T)`.
            need_weights: keep the attention weights in `self.weights`.
        """
        batch, length = self._check_input("x", x)
        mask = mask_for_heads(mask, batch, self.self_attention.num_heads, length, length)
        return self.unchecked_forward(x, mask, check_bool("need_weights", need_weights))

    def unchecked_forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, need_weights: bool
    ) -> torch.Tensor:
        """`forward` without its checks, for callers that checked (`mask` from `mask_for_heads`)."""
        found: dict[str, torch.Tensor] = {}
        x = self.residual(
            x, 0, lambda h: self._attend("self", self.self_attention, h, h, mask, need_weights, found)
        )
        x = self.residual(x, 1, self.feed_forward)
        self.weights.update(found)
        return x

    @classmethod
    def from_torch(cls, layer: nn.TransformerEncoderLayer) -> EncoderLayer:
        """An `EncoderLayer` with the weights of a batch-first, ReLU `nn.TransformerEncoderLayer`.

        Layers built with `bias=False` are copied too.
        """
        return cls._copy_of(layer, nn.TransformerEncoderLayer).train(layer.training)


class DecoderLayer(_Sublayers):
    """Masked self-attention, cross-attention to the encoder's output, then feed-forward.

    Takes the same arguments as `EncoderLayer`. Members: self_attention,
    cross_attention, feed_forward, norms (3 LayerNorms), and `weights` with the
    `"self"` `(batch, heads, T, T)` and `"cross"` `(batch, heads, T, S)` attention
    weights of the last call made with `need_weights=True`.

    Examples:
        >>> from attention import causal_mask
        >>> _ = torch.manual_seed(0)
        >>> layer = DecoderLayer(d_model=8, num_heads=2, d_ff=32)
        >>> target, memory = torch.randn(3, 4, 8), torch.randn(3, 6, 8)
        >>> layer(target, memory, self_mask=causal_mask(4)).shape   # (batch, T, d_model)
        torch.Size([3, 4, 8])
    """

    def __init__(
        self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0,
        norm_first: bool = False, *, bias: bool = True,
    ) -> None:
        super().__init__(d_model, num_heads, d_ff, dropout, norm_first, num_sublayers=3, bias=bias)
        self.cross_attention = MultiHeadAttention(d_model, num_heads, dropout=dropout, bias=bias)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
    ) -> torch.Tensor:
        """Decode `(batch, T, d_model)` against `memory` `(batch, S, d_model)` -> `(batch, T, d_model)`.

        Args:
            x: the target positions.
            memory: the encoder's output.
            self_mask: bool, True = may attend, over `(T, T)`; a causal mask
                (and the target padding) for training with teacher forcing.
            memory_mask: bool over `(T, S)`, e.g. the source padding `(batch, 1, S)`.
            need_weights: keep the attention weights in `self.weights`.
        """
        self_mask, memory_mask = self._check_inputs(x, memory, self_mask, memory_mask)
        need_weights = check_bool("need_weights", need_weights)
        return self.unchecked_forward(x, memory, self_mask, memory_mask, need_weights)

    def _check_inputs(
        self, x: torch.Tensor, memory: torch.Tensor,
        self_mask: torch.Tensor | None, memory_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Check the inputs; return both masks as `mask_for_heads` gives them."""
        batch, length = self._check_input("x", x)
        _, memory_length = self._check_input("memory", memory)
        check_same_batch(x=x.shape, memory=memory.shape)
        heads = self.self_attention.num_heads
        return (mask_for_heads(self_mask, batch, heads, length, length, "self_mask"),
                mask_for_heads(memory_mask, batch, heads, length, memory_length, "memory_mask"))

    def unchecked_forward(
        self, x: torch.Tensor, memory: torch.Tensor, self_mask: torch.Tensor | None,
        memory_mask: torch.Tensor | None, need_weights: bool,
    ) -> torch.Tensor:
        """`forward` without its checks, for callers that checked (masks from `mask_for_heads`)."""
        found: dict[str, torch.Tensor] = {}
        x = self.residual(
            x, 0,
            lambda h: self._attend("self", self.self_attention, h, h, self_mask, need_weights, found),
        )
        x = self.residual(
            x, 1,
            lambda h: self._attend("cross", self.cross_attention, h, memory, memory_mask,
                                   need_weights, found),
        )
        x = self.residual(x, 2, self.feed_forward)
        self.weights.update(found)
        return x

    @classmethod
    def from_torch(cls, layer: nn.TransformerDecoderLayer) -> DecoderLayer:
        """A `DecoderLayer` with the weights of a batch-first, ReLU `nn.TransformerDecoderLayer`.

        Layers built with `bias=False` are copied too.
        """
        ours = cls._copy_of(layer, nn.TransformerDecoderLayer)
        ours.cross_attention = MultiHeadAttention.from_torch(layer.multihead_attn)
        return ours.train(layer.training)

"""The encoder-decoder stack of the Transformer, without embeddings.

N encoder layers turn the source into the "memory"; N decoder layers read the
target so far and that memory. Like `torch.nn.Transformer`, each stack ends
with a layer norm (needed with pre-norm, where the last layer's output is
otherwise never normalised; kept with post-norm for parity with PyTorch).
Token embeddings, positional encoding and the output projection belong to a
model built around this stack (see `attention.transformer.seq2seq`).
"""

from __future__ import annotations

import torch
from torch import nn

from attention.transformer.layers import DecoderLayer, EncoderLayer, copy_layer_norm
from attention.validation import (
    check_bool,
    check_count,
    check_divides,
    check_model_input,
    check_positive,
    check_same_batch,
)
from attention.versions.head_attention import mask_for_heads


class Transformer(nn.Module):
    """Encoder stack and decoder stack, batch-first, masks with True = may attend.

    Args:
        d_model: the size of every position's vector.
        num_heads: heads of every attention; must divide d_model.
        num_encoder_layers: the depth of the encoder stack (6 in the paper).
        num_decoder_layers: the depth of the decoder stack (6 in the paper).
        d_ff: the hidden size of the feed-forward networks.
        dropout: dropout probability (training only), as in `EncoderLayer`.
        norm_first: False for post-norm (the paper), True for pre-norm.

    Members:
        encoder_layers, decoder_layers: `nn.ModuleList`s of the layers.
        encoder_norm, decoder_norm: the final `nn.LayerNorm` of each stack.

    Examples:
        >>> from attention import causal_mask
        >>> _ = torch.manual_seed(0)
        >>> model = Transformer(d_model=8, num_heads=2, num_encoder_layers=2,
        ...                     num_decoder_layers=2, d_ff=16)
        >>> source, target = torch.randn(3, 6, 8), torch.randn(3, 4, 8)
        >>> model(source, target, target_mask=causal_mask(4)).shape  # (batch, T, d_model)
        torch.Size([3, 4, 8])
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        num_encoder_layers: int,
        num_decoder_layers: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
    ) -> None:
        super().__init__()
        num_encoder_layers = check_count("num_encoder_layers", num_encoder_layers)
        num_decoder_layers = check_count("num_decoder_layers", num_decoder_layers)
        args = (d_model, num_heads, d_ff, dropout, norm_first)
        self.num_heads = check_positive("num_heads", num_heads)
        check_divides("num_heads", self.num_heads, "d_model", check_positive("d_model", d_model))
        self.encoder_layers = nn.ModuleList(EncoderLayer(*args) for _ in range(num_encoder_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(*args) for _ in range(num_decoder_layers))
        self.encoder_norm = nn.LayerNorm(d_model)
        self.decoder_norm = nn.LayerNorm(d_model)

    def check_input(
        self, name: str, x: torch.Tensor, mask: torch.Tensor | None, num_keys: int | None = None,
        mask_name: str = "mask",
    ) -> tuple[torch.Tensor | None, int]:
        """Check `(batch, T, d_model)` and a mask over `(T, num_keys or T)`; return (mask, T).

        The mask comes back as `mask_for_heads` makes it, ready for `unchecked_encode`
        and `unchecked_decode`; errors call it `mask_name`.
        """
        norm = self.encoder_norm  # its size is d_model, its dtype the model's, even with no layers
        check_model_input(name, x, "d_model", norm.normalized_shape[0], norm.weight)
        batch, length = x.shape[0], x.shape[1]
        keys = length if num_keys is None else num_keys
        return mask_for_heads(mask, batch, self.num_heads, length, keys, mask_name), length

    def encode(
        self, source: torch.Tensor, source_mask: torch.Tensor | None = None,
        *, need_weights: bool = False,
    ) -> torch.Tensor:
        """`(batch, S, d_model)` -> memory `(batch, S, d_model)`; source_mask e.g. padding `(batch, 1, S)`."""
        source_mask, _ = self.check_input("source", source, source_mask, mask_name="source_mask")
        return self.unchecked_encode(source, source_mask, check_bool("need_weights", need_weights))

    def unchecked_encode(self, x: torch.Tensor, mask: torch.Tensor | None, need_weights: bool) -> torch.Tensor:
        """`encode` without its checks, for callers that checked (`mask` from `check_input`)."""
        for layer in self.encoder_layers:
            x = layer.unchecked_forward(x, mask, need_weights)  # (batch, S, d_model)
        return self.encoder_norm(x)

    def decode(
        self,
        target: torch.Tensor,
        memory: torch.Tensor,
        target_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
    ) -> torch.Tensor:
        """`(batch, T, d_model)` and memory `(batch, S, d_model)` -> `(batch, T, d_model)`."""
        target_mask, _ = self.check_input("target", target, target_mask, mask_name="target_mask")
        _, memory_length = self.check_input("memory", memory, None)
        check_same_batch(target=target.shape, memory=memory.shape)
        memory_mask, _ = self.check_input("target", target, memory_mask, memory_length, "memory_mask")
        return self.unchecked_decode(target, memory, target_mask, memory_mask,
                            check_bool("need_weights", need_weights))

    def unchecked_decode(
        self, x: torch.Tensor, memory: torch.Tensor, target_mask: torch.Tensor | None,
        memory_mask: torch.Tensor | None, need_weights: bool,
    ) -> torch.Tensor:
        """`decode` without its checks, for callers that checked (masks from `check_input`)."""
        for layer in self.decoder_layers:
            x = layer.unchecked_forward(x, memory, target_mask, memory_mask, need_weights)
        return self.decoder_norm(x)

    def forward(
        self,
        source: torch.Tensor,
        target: torch.Tensor,
        source_mask: torch.Tensor | None = None,
        target_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
    ) -> torch.Tensor:
        """Encode the source, then decode the target against it.

        Every input is checked before any layer runs.

        Args:
            source: `(batch, S, d_model)`, embedded source positions.
            target: `(batch, T, d_model)`, embedded target positions.
            source_mask: the encoder's self-attention mask, e.g. padding `(batch, 1, S)`.
            target_mask: the decoder's self-attention mask, e.g. `causal_mask(T)`.
            memory_mask: the cross-attention mask, e.g. the source padding `(batch, 1, S)`.
            need_weights: every layer keeps its attention weights in `layer.weights`.

        Returns:
            `(batch, T, d_model)`.
        """
        source_mask, source_length = self.check_input("source", source, source_mask, mask_name="source_mask")
        target_mask, _ = self.check_input("target", target, target_mask, mask_name="target_mask")
        memory_mask, _ = self.check_input("target", target, memory_mask, source_length, "memory_mask")
        check_same_batch(source=source.shape, target=target.shape)
        need_weights = check_bool("need_weights", need_weights)
        memory = self.unchecked_encode(source, source_mask, need_weights)
        return self.unchecked_decode(target, memory, target_mask, memory_mask, need_weights)

    @classmethod
    def from_torch(cls, model: nn.Transformer) -> Transformer:
        """A `Transformer` with the weights of a batch-first, ReLU `nn.Transformer`."""
        if not isinstance(model, nn.Transformer):
            raise TypeError(f"expected nn.Transformer, got {type(model).__name__}")
        first = model.encoder.layers[0]
        ours = cls(model.d_model, model.nhead, len(model.encoder.layers),
                   len(model.decoder.layers), first.linear1.out_features,
                   dropout=first.dropout.p, norm_first=first.norm_first)
        ours = ours.to(first.self_attn.in_proj_weight)  # dtype and device before copying
        ours.encoder_layers = nn.ModuleList(EncoderLayer.from_torch(x) for x in model.encoder.layers)
        ours.decoder_layers = nn.ModuleList(DecoderLayer.from_torch(x) for x in model.decoder.layers)
        copy_layer_norm(ours.encoder_norm, model.encoder.norm)
        copy_layer_norm(ours.decoder_norm, model.decoder.norm)
        return ours.train(model.training)

"""A complete sequence-to-sequence Transformer over tokens, and greedy decoding.

Around the encoder-decoder stack of `attention.transformer.stack` it adds what turns
token ids into vectors and vectors back into token scores:

    embed(tokens) = PositionalEncoding(Embedding(tokens) * sqrt(d_model))
    logits = Linear(Transformer(embed(source), embed(target_in)))

The paper multiplies the embeddings by sqrt(d_model). Its embedding matrix is
shared with the output projection, whose weights start with a standard
deviation of about 1 / sqrt(d_model); the scale brings the token vectors to
entries of size about 1, the size of the positional encoding's, so that
neither drowns the other.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from attention.transformer.positional_encoding import PositionalEncoding
from attention.transformer.stack import Transformer
from attention.validation import (
    check_bool,
    check_count,
    check_fits,
    check_integer,
    check_positive,
    check_same_batch,
    check_token_ids,
)
from attention.versions.masks import causal_mask


class Seq2SeqTransformer(nn.Module):
    """Token embeddings, positional encoding, the Transformer stack and the output projection.

    Args:
        source_vocab: the number of source token ids.
        target_vocab: the number of target token ids.
        d_model: the size of every position's vector.
        num_heads: heads of every attention; must divide d_model.
        num_encoder_layers: the depth of the encoder stack.
        num_decoder_layers: the depth of the decoder stack.
        d_ff: the hidden size of the feed-forward networks.
        max_len: the longest source or target sequence (the positional table).
        dropout: dropout probability (training only).
        norm_first: False for post-norm (the paper), True for pre-norm.
        pad_token: the id that pads sequences; padded positions are masked.
        share_embeddings: use one matrix for the source and target embeddings and
            the output projection, as the paper does (needs one shared vocabulary).

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> model = Seq2SeqTransformer(source_vocab=13, target_vocab=13, d_model=16,
        ...     num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=32, max_len=10)
        >>> source = torch.tensor([[5, 6, 7, 0]])         # (batch, S), 0 = padding
        >>> target_in = torch.tensor([[1, 7, 6]])         # (batch, T), 1 = start token
        >>> model(source, target_in).shape                # (batch, T, target_vocab)
        torch.Size([1, 3, 13])
    """

    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        d_model: int,
        num_heads: int,
        num_encoder_layers: int,
        num_decoder_layers: int,
        d_ff: int,
        max_len: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        pad_token: int = 0,
        share_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.d_model = check_positive("d_model", d_model)
        source_vocab = check_positive("source_vocab", source_vocab)
        target_vocab = check_positive("target_vocab", target_vocab)
        self.pad_token = check_count("pad_token", pad_token)
        if share_embeddings and source_vocab != target_vocab:
            raise ValueError(
                "share_embeddings needs one vocabulary, got "
                f"source_vocab={source_vocab} and target_vocab={target_vocab}"
            )
        self.source_embedding = nn.Embedding(source_vocab, d_model)
        self.target_embedding = nn.Embedding(target_vocab, d_model)
        self.positional_encoding = PositionalEncoding(d_model, max_len, dropout)
        self.transformer = Transformer(
            d_model, num_heads, num_encoder_layers, num_decoder_layers, d_ff, dropout, norm_first
        )
        self.output = nn.Linear(d_model, target_vocab)
        # Start the embeddings at the scale of tied weights, so that after the
        # sqrt(d_model) scale tokens and positions have entries of similar size.
        for embedding in (self.source_embedding, self.target_embedding):
            nn.init.normal_(embedding.weight, std=d_model**-0.5)
        if share_embeddings:
            self.target_embedding.weight = self.source_embedding.weight
            self.output.weight = self.source_embedding.weight

    def embed(self, tokens: torch.Tensor, embedding: nn.Embedding) -> torch.Tensor:
        """`(batch, T)` token ids -> `(batch, T, d_model)` vectors with positions added."""
        self._check_tokens("tokens", tokens, embedding)
        return self._embed(tokens, embedding)

    def _embed(self, tokens: torch.Tensor, embedding: nn.Embedding) -> torch.Tensor:
        return self.positional_encoding(embedding(tokens) * math.sqrt(self.d_model))

    def _check_tokens(self, name: str, tokens: torch.Tensor, embedding: nn.Embedding) -> None:
        """Raise unless `tokens` are `(batch, T)` int64 ids of the vocabulary, T <= max_len."""
        check_token_ids(name, tokens, embedding.num_embeddings)
        check_fits(name, tokens.shape[1], "max_len", self.positional_encoding.max_len)

    def source_mask(self, source: torch.Tensor) -> torch.Tensor:
        """True at real source tokens: `(batch, 1, S)`, for the encoder and the cross-attention."""
        return (source != self.pad_token)[:, None, :]

    def encode(self, source: torch.Tensor, *, need_weights: bool = False) -> torch.Tensor:
        """Source ids `(batch, S)` -> memory `(batch, S, d_model)`."""
        self._check_tokens("source", source, self.source_embedding)
        return self._encode(source, check_bool("need_weights", need_weights))

    def _encode(self, source: torch.Tensor, need_weights: bool) -> torch.Tensor:
        source_vectors = self._embed(source, self.source_embedding)  # (batch, S, d_model)
        mask = self.source_mask(source)[:, None]  # (batch, 1 head, 1, S)
        return self.transformer.unchecked_encode(source_vectors, mask, need_weights)

    def decode(
        self, target_in: torch.Tensor, memory: torch.Tensor, source: torch.Tensor,
        *, need_weights: bool = False,
    ) -> torch.Tensor:
        """Target ids so far `(batch, T)` and the memory -> next-token logits `(batch, T, vocab)`.

        Position t sees target positions 0..t only (a causal mask) and every
        real source position.
        """
        self._check_tokens("target_in", target_in, self.target_embedding)
        self._check_tokens("source", source, self.source_embedding)
        self.transformer.check_input("memory", memory, None)
        check_same_batch(target_in=target_in.shape, memory=memory.shape, source=source.shape)
        if memory.shape[1] != source.shape[1]:
            raise ValueError(
                f"memory has {memory.shape[1]} positions but source has {source.shape[1]} "
                f"(memory shape {tuple(memory.shape)}, source shape {tuple(source.shape)})"
            )
        return self._decode(target_in, memory, source, check_bool("need_weights", need_weights))

    def _decode(
        self, target_in: torch.Tensor, memory: torch.Tensor, source: torch.Tensor, need_weights: bool
    ) -> torch.Tensor:
        length = target_in.shape[1]
        target_mask = causal_mask(length, device=target_in.device)[None, None]  # (1, 1, T, T)
        memory_mask = self.source_mask(source)[:, None]  # (batch, 1 head, 1, S)
        target_vectors = self._embed(target_in, self.target_embedding)  # (batch, T, d_model)
        hidden = self.transformer.unchecked_decode(
            target_vectors, memory, target_mask, memory_mask, need_weights
        )  # (batch, T, d_model)
        return self.output(hidden)  # (batch, T, vocab)

    def forward(
        self, source: torch.Tensor, target_in: torch.Tensor, *, need_weights: bool = False
    ) -> torch.Tensor:
        """Teacher forcing: source `(batch, S)` and shifted target `(batch, T)` -> logits `(batch, T, vocab)`.

        The logits at position t predict target token t from the target tokens
        before it. With `need_weights=True` every layer of `self.transformer`
        keeps its attention weights in `layer.weights`. Every input is checked
        before any layer runs.
        """
        self._check_tokens("source", source, self.source_embedding)
        self._check_tokens("target_in", target_in, self.target_embedding)
        check_same_batch(source=source.shape, target_in=target_in.shape)
        need_weights = check_bool("need_weights", need_weights)
        memory = self._encode(source, need_weights)
        return self._decode(target_in, memory, source, need_weights)


@torch.no_grad()
def greedy_decode(
    model: Seq2SeqTransformer,
    source: torch.Tensor,
    start_token: int,
    end_token: int,
    max_len: int,
) -> torch.Tensor:
    """Generate each sequence one token at a time, always taking the most likely token.

    The source is encoded once; at every step the decoder reads the tokens
    generated so far and the most likely next token is appended. A sequence
    is finished at its end token; the rest of its row is padding.

    Args:
        model: a `Seq2SeqTransformer` (put in eval mode for deterministic output).
        source: `(batch, S)` token ids.
        start_token: the id the decoder starts from.
        end_token: the id that ends a sequence.
        max_len: the most tokens generated per sequence, end token included.

    Returns:
        `(batch, L)` generated ids, L <= max_len, without the start token; each
        row is its tokens, then the end token if it was reached, then padding.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> model = Seq2SeqTransformer(13, 13, d_model=16, num_heads=2, num_encoder_layers=1,
        ...                            num_decoder_layers=1, d_ff=32, max_len=10).eval()
        >>> source = torch.tensor([[5, 6, 7], [8, 9, 0]])     # (batch, S), 0 = padding
        >>> tokens = greedy_decode(model, source, start_token=1, end_token=2, max_len=4)
        >>> tokens.shape                                      # (batch, at most max_len)
        torch.Size([2, 4])
    """
    if not (hasattr(model, "encode") and hasattr(model, "decode") and hasattr(model, "pad_token")):
        raise TypeError(
            f"model must be a sequence-to-sequence model with encode, decode and pad_token "
            f"(a Seq2SeqTransformer), got {type(model).__name__}"
        )
    max_len = check_positive("max_len", max_len)
    for name, token in (("start_token", start_token), ("end_token", end_token)):
        check_integer(name, token)
    if isinstance(model, Seq2SeqTransformer):  # checked once here, then the unchecked steps
        model._check_tokens("source", source, model.source_embedding)
        vocab = model.target_embedding.num_embeddings
        for name, token in (("start_token", start_token), ("end_token", end_token)):
            if not 0 <= token < vocab:
                raise ValueError(f"{name} must lie in [0, {vocab}), got {token}")
        # The last step reads the start token and max_len - 1 generated ones.
        check_fits("the decoded sequence", max_len, "the model's max_len", model.positional_encoding.max_len)
        encode = lambda source: model._encode(source, need_weights=False)  # noqa: E731
        decode = lambda tokens, memory, source: model._decode(tokens, memory, source, need_weights=False)  # noqa: E731
    else:  # another model (the RNN encoder-decoder of chapter 3) checks in its own calls
        encode, decode = model.encode, model.decode
    batch = source.shape[0]
    memory = encode(source)  # (batch, S, d_model)
    tokens = torch.full((batch, 1), start_token, dtype=torch.long, device=source.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=source.device)
    for _ in range(max_len):
        logits = decode(tokens, memory, source)  # (batch, T, vocab)
        next_token = logits[:, -1].argmax(dim=-1)  # (batch,)
        next_token = next_token.masked_fill(finished, model.pad_token)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (batch, T + 1)
        finished |= next_token == end_token
        if finished.all():
            break
    return tokens[:, 1:]

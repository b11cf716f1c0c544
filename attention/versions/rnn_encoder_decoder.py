"""A recurrent encoder-decoder, with one fixed vector or with additive attention.

Before attention, a translation model read the source with a recurrent network
into one vector and wrote the translation from that vector alone (Sutskever et
al. 2014; Cho et al. 2014). Bahdanau, Cho and Bengio (arXiv 2014, ICLR 2015)
let the decoder look back at every encoder state instead:

    encoder:  k_j = GRU(k_{j-1}, x_j)                one annotation per source token
    fixed:    q_t = GRU(q_{t-1}, [y_{t-1}; s])       s = the summary, the same at every step
    attend:   q_t = GRU(q_{t-1}, [y_{t-1}; c_t])     c_t = sum_j alpha(q_{t-1}, k_j) k_j

with alpha the additive attention weights of `attention.AdditiveAttention`.
Everything else is shared: a bidirectional GRU encoder (annotations of size
2 * hidden_size), a first decoder state tanh(W s), logits from [q_t; c_t].
Sources are padded on the right with `pad_token`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attention.versions.additive import AdditiveAttention
from attention.validation import check_float_tensor, check_integer, check_positive, check_token_ids


def check_tokens(name: str, tokens: object, vocab_size: int) -> torch.Tensor:
    """Raise unless `tokens` is a `(batch, positions >= 1)` int64 tensor of ids in [0, vocab_size)."""
    return check_token_ids(name, tokens, vocab_size, min_positions=1)  # a recurrent network reads one at least


def source_lengths(source: torch.Tensor, pad_token: int) -> torch.Tensor:
    """The number of real tokens of each `(batch, S)` source, checked to be padded on the right."""
    check_tokens("source", source, vocab_size=torch.iinfo(torch.long).max)
    real = source != check_integer("pad_token", pad_token)  # (batch, S)
    lengths = real.sum(dim=1)  # (batch,)
    right_padded = torch.arange(source.shape[1], device=source.device) < lengths[:, None]
    if not torch.equal(real, right_padded):
        row = int((real != right_padded).any(dim=1).nonzero()[0])
        raise ValueError(f"source row {row} has a token after padding: pad on the right only")
    if (lengths == 0).any():
        row = int((lengths == 0).nonzero()[0])
        raise ValueError(f"source row {row} is all padding: every source needs a token")
    return lengths


class BidirectionalGRUEncoder(nn.Module):
    """Read a source forwards and backwards; annotation j is both readers' states at j.

    Args:
        vocab_size: the number of token ids.
        embedding_size: the size of a token's vector x_j.
        hidden_size: the state size of each reader; annotations have twice that.
        pad_token: the id that pads sources on the right; padding is never read.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> encoder = BidirectionalGRUEncoder(vocab_size=13, embedding_size=8, hidden_size=5)
        >>> annotations, summary = encoder(torch.tensor([[4, 5, 6], [7, 8, 0]]))
        >>> annotations.shape, summary.shape       # (batch, S, 2 hidden), (batch, 2 hidden)
        (torch.Size([2, 3, 10]), torch.Size([2, 10]))
        >>> annotations[1, 2].abs().max().item()   # padded positions are zeros
        0.0
    """

    def __init__(
        self, vocab_size: int, embedding_size: int, hidden_size: int, pad_token: int = 0
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size = check_positive("vocab_size", vocab_size)
        self.pad_token = pad_token = check_integer("pad_token", pad_token)
        if not 0 <= pad_token < vocab_size:
            raise ValueError(f"pad_token={pad_token} must be a token id in [0, vocab_size={vocab_size})")
        embedding_size = check_positive("embedding_size", embedding_size)
        hidden_size = check_positive("hidden_size", hidden_size)
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.gru = nn.GRU(embedding_size, hidden_size, batch_first=True, bidirectional=True)

    def forward(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source ids `(batch, S)` -> annotations `(batch, S, 2 hidden)` and summary `(batch, 2 hidden)`.

        The summary joins the forward reader's state after the last real token and
        the backward reader's state after the first: each has read the whole source.
        """
        check_tokens("source", source, self.vocab_size)
        lengths = source_lengths(source, self.pad_token)  # (batch,)
        # Packing makes each reader stop (or start) at the sequence's own last token.
        packed = pack_padded_sequence(
            self.embedding(source), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        states, last = self.gru(packed)  # last: (2 directions, batch, hidden)
        annotations, _ = pad_packed_sequence(states, batch_first=True, total_length=source.shape[1])
        return annotations, torch.cat([last[0], last[1]], dim=-1)


class GRUDecoder(nn.Module):
    """Write target tokens from the encoder's output, with one fixed context or with attention.

    Args:
        vocab_size: the number of token ids.
        embedding_size: the size of a token's vector y_t.
        hidden_size: the size of the decoder state q_t.
        context_size: the size of an annotation and of the summary.
        attention_size: the hidden size d_a of `AdditiveAttention`; None for the
            fixed-vector model, whose context is the summary at every step.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> decoder = GRUDecoder(13, embedding_size=8, hidden_size=6, context_size=10, attention_size=7)
        >>> annotations, summary = torch.randn(2, 4, 10), torch.randn(2, 10)
        >>> source_mask = torch.tensor([[True] * 4, [True, True, False, False]])
        >>> logits, weights = decoder(torch.tensor([[1, 5, 6]] * 2), annotations, summary, source_mask)
        >>> logits.shape, weights.shape            # (batch, T, vocab), (batch, T, S)
        (torch.Size([2, 3, 13]), torch.Size([2, 3, 4]))
        >>> weights[1, :, 2:].abs().max().item()   # no weight on padding
        0.0
    """

    def __init__(
        self, vocab_size: int, embedding_size: int, hidden_size: int, context_size: int,
        attention_size: int | None = None,
    ) -> None:
        super().__init__()
        vocab_size = check_positive("vocab_size", vocab_size)
        embedding_size = check_positive("embedding_size", embedding_size)
        hidden_size = check_positive("hidden_size", hidden_size)
        context_size = check_positive("context_size", context_size)
        if attention_size is not None:
            attention_size = check_positive("attention_size", attention_size)
        self.vocab_size, self.hidden_size, self.context_size = vocab_size, hidden_size, context_size
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.init_state = nn.Linear(context_size, hidden_size)  # q_0 = tanh(W s + b)
        self.cell = nn.GRUCell(embedding_size + context_size, hidden_size)
        self.output = nn.Linear(hidden_size + context_size, vocab_size)  # from [q_t; c_t]
        self.attention = (
            None if attention_size is None
            else AdditiveAttention(hidden_size, context_size, attention_size)
        )

    def _check(
        self, annotations: torch.Tensor, summary: torch.Tensor, source_mask: torch.Tensor
    ) -> None:
        """Raise unless the encoder's output and the mask fit this decoder and each other."""
        check_float_tensor("annotations", annotations)
        check_float_tensor("summary", summary)
        batch = annotations.shape[0] if annotations.ndim == 3 else -1
        if annotations.ndim != 3 or annotations.shape[2] != self.context_size:
            raise ValueError(
                f"annotations must be (batch, S, {self.context_size}), got {tuple(annotations.shape)}"
            )
        if tuple(summary.shape) != (batch, self.context_size):
            raise ValueError(f"summary must be ({batch}, {self.context_size}), got {tuple(summary.shape)}")
        if not isinstance(source_mask, torch.Tensor) or source_mask.dtype != torch.bool:
            raise TypeError(f"source_mask must be a bool tensor (True = real token), got {source_mask!r:.60}")
        if tuple(source_mask.shape) != tuple(annotations.shape[:2]):
            raise ValueError(
                f"source_mask must be (batch, S) = {tuple(annotations.shape[:2])}, got {tuple(source_mask.shape)}"
            )

    def start(self, summary: torch.Tensor) -> torch.Tensor:
        """The first state q_0 = tanh(W s + b): `(batch, context_size)` -> `(batch, hidden)`."""
        return torch.tanh(self.init_state(summary))

    def step(
        self, token: torch.Tensor, state: torch.Tensor, annotations: torch.Tensor,
        summary: torch.Tensor, source_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One step: previous token `(batch,)` and state `(batch, hidden)` -> logits, new state, weights.

        Returns `(logits (batch, vocab), state (batch, hidden), weights (batch, S))`;
        the weights are those of the query `state` (the previous one), None without attention.
        """
        self._check(annotations, summary, source_mask)
        check_tokens("token", token[:, None] if isinstance(token, torch.Tensor) else token,
                     self.vocab_size)
        check_float_tensor("state", state)
        if tuple(state.shape) != (annotations.shape[0], self.hidden_size):
            raise ValueError(
                f"state must be ({annotations.shape[0]}, {self.hidden_size}), got {tuple(state.shape)}"
            )
        return self._step(token, state, annotations, summary, source_mask)

    def _step(
        self, token: torch.Tensor, state: torch.Tensor, annotations: torch.Tensor,
        summary: torch.Tensor, source_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """`step` without the checks, for loops whose inputs were checked once."""
        if self.attention is None:
            context, weights = summary[:, None, :], None  # (batch, 1, context)
        else:
            # The previous state is the query; the annotations are the keys and the values.
            context, weights = self.attention(
                state[:, None, :], annotations, annotations, source_mask[:, None, :]
            )  # (batch, 1, context), (batch, 1, S)
            weights = weights[:, 0]
        context = context[:, 0]  # (batch, context)
        inputs = torch.cat([self.embedding(token), context], dim=-1)  # (batch, emb + ctx)
        state = self.cell(inputs, state)  # (batch, hidden)
        logits = self.output(torch.cat([state, context], dim=-1))  # (batch, vocab)
        return logits, state, weights

    def forward(
        self, target_in: torch.Tensor, annotations: torch.Tensor, summary: torch.Tensor,
        source_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: `(batch, T)` input tokens -> logits `(batch, T, vocab)`, weights `(batch, T, S)`.

        Args:
            target_in: the start token, then the target shifted right.
            annotations: `(batch, S, context_size)` from the encoder.
            summary: `(batch, context_size)` from the encoder.
            source_mask: `(batch, S)` bool, True at real source tokens.

        Returns:
            `(logits, weights)`; weights is None without attention.
        """
        check_tokens("target_in", target_in, self.vocab_size)
        self._check(annotations, summary, source_mask)
        if target_in.shape[0] != annotations.shape[0]:
            raise ValueError(
                f"target_in has batch size {target_in.shape[0]} but annotations have {annotations.shape[0]}"
            )
        state = self.start(summary)  # (batch, hidden)
        logits, weights = [], []
        for t in range(target_in.shape[1]):  # each state needs the one before it
            step_logits, state, step_weights = self._step(
                target_in[:, t], state, annotations, summary, source_mask
            )
            logits.append(step_logits)
            weights.append(step_weights)
        return torch.stack(logits, dim=1), (None if self.attention is None else torch.stack(weights, dim=1))


class RNNEncoderDecoder(nn.Module):
    """A bidirectional GRU encoder and a GRU decoder: fixed-vector, or with additive attention.

    Args:
        vocab_size: the number of token ids (source and target share them).
        embedding_size: the size of the token vectors.
        hidden_size: the state size of the decoder and of each encoder reader.
        attention_size: d_a of the additive attention; None for the fixed-vector model.
        pad_token: the id that pads sequences on the right.

    It has what `attention.training.train` and `sequence_accuracy` use: a call
    `model(source, target_in)` returning logits, `encode`, `decode` and `pad_token`.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> model = RNNEncoderDecoder(13, embedding_size=8, hidden_size=6, attention_size=7)
        >>> source = torch.tensor([[5, 6, 7], [8, 9, 0]])    # (batch, S), 0 = padding
        >>> model(source, torch.tensor([[1, 7], [1, 9]])).shape   # (batch, T, vocab)
        torch.Size([2, 2, 13])
        >>> tokens, weights = model.generate(source, start_token=1, end_token=2, max_len=4)
        >>> tokens.shape, weights.shape            # (batch, <= max_len), (batch, same, S)
        (torch.Size([2, 4]), torch.Size([2, 4, 3]))
    """

    def __init__(
        self, vocab_size: int, embedding_size: int, hidden_size: int,
        attention_size: int | None = None, pad_token: int = 0,
    ) -> None:
        super().__init__()
        self.pad_token = pad_token
        self.encoder = BidirectionalGRUEncoder(vocab_size, embedding_size, hidden_size, pad_token)
        self.decoder = GRUDecoder(vocab_size, embedding_size, hidden_size, 2 * hidden_size, attention_size)

    def encode(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source ids `(batch, S)` -> annotations `(batch, S, 2 hidden)` and summary `(batch, 2 hidden)`."""
        return self.encoder(source)

    def decode(
        self, target_in: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor], source: torch.Tensor
    ) -> torch.Tensor:
        """Tokens so far `(batch, T)`, the encoder's output, the source -> logits `(batch, T, vocab)`."""
        annotations, summary = memory
        return self.decoder(target_in, annotations, summary, source != self.pad_token)[0]

    def forward(self, source: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: source `(batch, S)`, shifted target `(batch, T)` -> logits `(batch, T, vocab)`."""
        check_tokens("source", source, self.encoder.vocab_size)
        check_tokens("target_in", target_in, self.decoder.vocab_size)
        if source.shape[0] != target_in.shape[0]:
            raise ValueError(f"source has batch size {source.shape[0]} but target_in has {target_in.shape[0]}")
        return self.decode(target_in, self.encode(source), source)

    @torch.no_grad()
    def generate(
        self, source: torch.Tensor, start_token: int, end_token: int, max_len: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Greedy decoding, one step per token, always taking the most likely token.

        Returns:
            `(tokens, weights)`: `(batch, L)` ids, L <= max_len, each row its tokens, then the
            end token if reached, then padding; and the attention weights of each generated
            token, `(batch, L, S)` (zero after the end), or None without attention.
        """
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len must be an integer >= 1, got {max_len!r}")
        annotations, summary = self.encode(source)
        source_mask = source != self.pad_token  # (batch, S)
        state = self.decoder.start(summary)  # (batch, hidden)
        token = torch.full((source.shape[0],), start_token, dtype=torch.long, device=source.device)
        finished = torch.zeros(source.shape[0], dtype=torch.bool, device=source.device)
        tokens, weights = [], []
        for _ in range(max_len):
            logits, state, step_weights = self.decoder._step(
                token, state, annotations, summary, source_mask
            )
            token = logits.argmax(dim=-1).masked_fill(finished, self.pad_token)  # (batch,)
            tokens.append(token)
            if step_weights is not None:
                weights.append(step_weights.masked_fill(finished[:, None], 0.0))
            finished = finished | (token == end_token)
            if finished.all():
                break
        return torch.stack(tokens, dim=1), (torch.stack(weights, dim=1) if weights else None)

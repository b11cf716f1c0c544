"""An encoder-only model trained by predicting hidden tokens (Devlin et al., 2019, "BERT").

The model is a stack of the Transformer's encoder layers with no causal mask:
every position attends to every real position, before and after it. Only
padding is hidden, by a padding mask. Such a model cannot be trained to
predict the next token (it would see it), so it is trained to fill in gaps:
some tokens of the input are replaced by a `[MASK]` token, and the model
predicts, at those positions only, the tokens that were there.

BERT picks 15% of the positions, and of those replaces 80% by `[MASK]`, 10%
by a random token and leaves 10% unchanged, so that the model cannot count
on seeing `[MASK]` wherever it must predict; `mask_tokens` does the same.

The toy data are palindromes: a digit string followed by its reverse. A
hidden digit can always be read back from its mirror position, which lies
after it in the first half, so a model that sees both sides can fill it in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attention.transformer.layers import EncoderLayer
from attention.validation import (
    check_count, check_generator, check_positive, check_probability, check_token_ids,
)

PAD, MASK = 0, 1  # token ids; digit d is d + NUM_SPECIAL
NUM_SPECIAL = 2
IGNORE = -100  # the target at positions with nothing to predict (cross_entropy's ignore_index)


def make_palindromes(
    count: int, generator: torch.Generator, *, min_half: int = 2, max_half: int = 4,
    num_digits: int = 10,
) -> torch.Tensor:
    """`count` palindromes `d_1 ... d_n d_n ... d_1`, n drawn from [min_half, max_half], padded.

    Args:
        count: the number of sequences.
        generator: the source of the lengths and digits (seed it).
        min_half: the fewest digits in a half.
        max_half: the most digits in a half; sequences are padded to 2 * max_half.
        num_digits: the number of distinct digits.

    Returns:
        int64 `(count, 2 * max_half)`: digit d is token d + 2, padding is 0.

    Examples:
        >>> make_palindromes(2, torch.Generator().manual_seed(0))
        tensor([[ 5,  2,  5, 11, 11,  5,  2,  5],
                [ 9,  5,  5,  9,  0,  0,  0,  0]])
    """
    count = check_count("count", count)
    check_generator(generator)
    min_half, max_half = check_positive("min_half", min_half), check_positive("max_half", max_half)
    if min_half > max_half:
        raise ValueError(f"need 1 <= min_half <= max_half, got {min_half} and {max_half}")
    num_digits = check_positive("num_digits", num_digits)
    halves = torch.randint(min_half, max_half + 1, (count,), generator=generator)  # (count,)
    digits = torch.randint(0, num_digits, (count, max_half), generator=generator) + NUM_SPECIAL
    length = 2 * max_half
    positions = torch.arange(length)  # (length,)
    # Position p < n reads digit p; position n <= p < 2n reads digit 2n - 1 - p.
    index = torch.where(positions < halves[:, None], positions, 2 * halves[:, None] - 1 - positions)
    tokens = digits.gather(1, index.clamp(0, max_half - 1))  # (count, length)
    return tokens.masked_fill(positions >= 2 * halves[:, None], PAD)


def mask_tokens(
    tokens: torch.Tensor, generator: torch.Generator, *, vocab_size: int,
    probability: float = 0.15, pad_token: int = PAD, mask_token: int = MASK,
    num_special: int = NUM_SPECIAL,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose positions to predict and corrupt them, as BERT does.

    Each real (non-padding) position is chosen with `probability`, and at least
    one per sequence. A chosen position becomes `mask_token` with chance 0.8,
    a random ordinary token with chance 0.1, and stays as it is with chance 0.1.

    Args:
        tokens: int64 `(batch, T)`.
        generator: the source of the choices.
        vocab_size: the number of token ids; ids below `num_special` are never drawn
            as random replacements.
        probability: the share of real positions to predict.

    Returns:
        `(inputs, targets)`, both `(batch, T)`: the corrupted tokens, and the
        original token at chosen positions, `IGNORE` (-100) elsewhere.

    Examples:
        >>> tokens = torch.tensor([[5, 6, 7, 8, 0, 0]])
        >>> inputs, targets = mask_tokens(tokens, torch.Generator().manual_seed(3), vocab_size=12)
        >>> inputs.tolist()      # positions 0, 1 and 3 picked: two masked (1), one made random
        [[1, 1, 7, 11, 0, 0]]
        >>> targets.tolist()     # what the model must predict there
        [[5, 6, -100, 8, -100, -100]]
    """
    num_special = check_count("num_special", num_special)
    vocab_size = check_count("vocab_size", vocab_size)
    if vocab_size <= num_special:
        raise ValueError(f"vocab_size={vocab_size} leaves no ordinary token above num_special={num_special}")
    check_token_ids("tokens", tokens, vocab_size)
    check_generator(generator)
    probability = check_probability("probability", probability)
    real = tokens != pad_token  # (batch, T)
    draw = torch.rand(tokens.shape, generator=generator)  # (batch, T)
    chosen = real & (draw < probability)
    # At least one chosen position per sequence with real tokens: the one with the smallest draw.
    first = draw.masked_fill(~real, 2.0).argmin(dim=1, keepdim=True)  # (batch, 1)
    chosen |= torch.zeros_like(chosen).scatter(1, first, True) & real
    action = torch.rand(tokens.shape, generator=generator)  # 80% mask, 10% random, 10% keep
    random_tokens = torch.randint(num_special, vocab_size, tokens.shape, generator=generator)
    inputs = torch.where(chosen & (action < 0.8), mask_token, tokens)
    inputs = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_tokens, inputs)
    targets = tokens.masked_fill(~chosen, IGNORE)
    return inputs, targets


class MaskedLanguageModel(nn.Module):
    """Token and learned position embeddings, encoder layers with a padding mask, a token head.

    Args:
        vocab_size: the number of token ids.
        d_model: the size of every position's vector.
        num_heads: heads of every self-attention; must divide d_model.
        d_ff: the hidden size of the feed-forward networks.
        num_layers: the number of encoder layers.
        max_len: the longest sequence (the table of position embeddings).
        pad_token: the id of padding, hidden from attention.

    Members:
        token_embedding, position_embedding, layers (pre-norm `EncoderLayer`s),
        norm, head. With `need_weights=True` every layer keeps its weights in
        `layer.weights["self"]`, `(batch, heads, T, T)`.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> model = MaskedLanguageModel(vocab_size=12, d_model=16, num_heads=2, d_ff=32,
        ...                             num_layers=1, max_len=8)
        >>> tokens = torch.tensor([[5, 1, 7, 0]])             # (batch, T), 1 = [MASK], 0 = pad
        >>> model(tokens).shape                               # (batch, T, vocab_size)
        torch.Size([1, 4, 12])
    """

    def __init__(
        self, vocab_size: int, d_model: int, num_heads: int, d_ff: int, num_layers: int,
        max_len: int, pad_token: int = PAD,
    ) -> None:
        super().__init__()
        self.vocab_size = check_positive("vocab_size", vocab_size)
        self.max_len = check_positive("max_len", max_len)
        self.pad_token = pad_token
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_len, d_model)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, num_heads, d_ff, norm_first=True)
            for _ in range(check_count("num_layers", num_layers))
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, tokens: torch.Tensor, *, need_weights: bool = False) -> torch.Tensor:
        """Token ids `(batch, T)` -> scores for the token at every position `(batch, T, vocab)`.

        Padding (`pad_token`) is hidden from every query, so the outputs at real
        positions do not depend on what the padded positions hold.
        """
        check_token_ids("tokens", tokens, self.vocab_size)
        length = tokens.shape[1]
        if length > self.max_len:
            raise ValueError(f"tokens has {length} positions, more than max_len={self.max_len}")
        mask = (tokens != self.pad_token)[:, None, :]  # (batch, 1, T): True at real keys
        x = self.token_embedding(tokens) + self.position_embedding.weight[:length]  # (batch, T, d)
        for layer in self.layers:
            x = layer(x, mask, need_weights=need_weights)  # (batch, T, d_model)
        return self.head(self.norm(x))  # (batch, T, vocab)


def masked_lm_loss(
    model: MaskedLanguageModel, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy at the chosen positions (targets != IGNORE) only."""
    if not isinstance(model, MaskedLanguageModel):
        raise TypeError(f"model must be a MaskedLanguageModel, got {type(model).__name__}")
    check_token_ids("inputs", inputs, model.vocab_size)
    if not isinstance(targets, torch.Tensor) or targets.dtype != torch.long:
        raise TypeError(f"targets must be an int64 torch.Tensor, got {getattr(targets, 'dtype', type(targets).__name__)}")
    if targets.shape != inputs.shape:
        raise ValueError(f"targets must have the inputs' shape {tuple(inputs.shape)}, got {tuple(targets.shape)}")
    logits = model(inputs)  # (batch, T, vocab)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)

"""Training a language model on a text, and measuring it: next-token cross-entropy.

A language model is trained to predict every token of a window of text from
the tokens before it: the input is `text[s : s + T]`, the target the same
window shifted by one, `text[s + 1 : s + T + 1]`, and the loss the mean
cross-entropy over the T positions. Training draws windows at random starts
from the training share of the text; the held-out loss is measured on the
whole held-out share, cut into consecutive windows, so it is the same number
every time for the same model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from attention.modern.corpus import CharTokenizer, book_text
from attention.validation import check_count, check_generator, check_module, check_positive
from attention.validation import check_positive_real, check_probability
from attention.transformer.training import Adam, warmup_then_decay


def book_tokens(heldout: float = 0.1) -> tuple[CharTokenizer, torch.Tensor, torch.Tensor]:
    """Part V's data: `book_text()` as character tokens, split into training and held-out text.

    The held-out share is the end of the text (a model never trains on it), so its
    loss says how well a model predicts text it has not seen.

    Args:
        heldout: the share of the text held out, in (0, 1).

    Returns:
        `(tokenizer, train_tokens, heldout_tokens)`: the tokenizer of the text's
        characters, then two 1-D int64 tensors that join into the whole text.

    Examples:
        >>> tokenizer, train, held = book_tokens()
        >>> tokenizer.decode(torch.cat([train, held]).numpy()) == book_text()
        True
    """
    heldout = check_probability("heldout", heldout)
    text = book_text()
    tokenizer = CharTokenizer(text)
    tokens = torch.from_numpy(tokenizer.encode(text))  # (N,) int64
    split = int((1 - heldout) * len(tokens))  # as int(0.9 * N) for the default
    if not 0 < split < len(tokens):
        raise ValueError(f"heldout={heldout} leaves no training or no held-out text of {len(tokens)} tokens")
    return tokenizer, tokens[:split], tokens[split:]


def _as_tokens(name: str, data: object) -> torch.Tensor:
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(data)
    if not isinstance(data, torch.Tensor) or data.dtype != torch.long:
        kind = data.dtype if isinstance(data, torch.Tensor) else type(data).__name__
        raise TypeError(f"{name} must be a 1-D int64 tensor or array of tokens, got {kind}")
    if data.ndim != 1:
        raise ValueError(f"{name} must be a 1-D int64 tensor or array of tokens, got shape {tuple(data.shape)}")
    return data


def _check_windows(
    data: object, batch_size: object, length: object, generator: object
) -> tuple[torch.Tensor, int, int]:
    """The checks of `random_windows`: `(data, batch_size, length)`."""
    data = _as_tokens("data", data)
    length = check_positive("length", length)  # an empty window or batch has no loss: its mean is NaN
    if len(data) < length + 1:
        raise ValueError(f"data has {len(data)} tokens, too few for windows of length {length} + 1")
    if generator is not None:
        check_generator(generator)
    return data, check_positive("batch_size", batch_size), length


def random_windows(
    data: torch.Tensor, batch_size: int, length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` windows of `length` tokens at random starts, and their next tokens.

    Returns:
        `(inputs, targets)`, each `(batch_size, length)`: targets[b, t] is the
        token that follows inputs[b, t] in the text.

    Examples:
        >>> data = torch.arange(100)
        >>> inputs, targets = random_windows(data, 2, 5, torch.Generator().manual_seed(0))
        >>> inputs.shape, torch.equal(targets, inputs + 1)
        (torch.Size([2, 5]), True)
    """
    data, batch_size, length = _check_windows(data, batch_size, length, generator)
    starts = torch.randint(len(data) - length, (batch_size,), generator=generator)  # (batch,)
    offsets = torch.arange(length + 1)  # (length + 1,)
    windows = data[starts[:, None] + offsets]  # (batch, length + 1)
    return windows[:, :-1], windows[:, 1:]


def consecutive_windows(data: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The text cut into consecutive windows of `length` tokens (the rest dropped), and targets.

    Examples:
        >>> inputs, targets = consecutive_windows(torch.arange(12), 5)
        >>> inputs.tolist(), targets[:, -1].tolist()
        ([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]], [5, 10])
    """
    data = _as_tokens("data", data)
    length = check_positive("length", length)
    count = (len(data) - 1) // length
    if count == 0:
        raise ValueError(f"data has {len(data)} tokens, too few for one window of length {length} + 1")
    inputs = data[: count * length].view(count, length)
    targets = data[1 : count * length + 1].view(count, length)
    return inputs, targets


@torch.no_grad()
def loss_by_position(
    model: torch.nn.Module, data: torch.Tensor, length: int, *,
    pattern: Callable | None = None, batch_size: int = 64,
) -> torch.Tensor:
    """The mean cross-entropy (nats) at each position of consecutive windows of `length`.

    Returns:
        `(length,)`: entry t is the loss of predicting token t + 1 of a window
        from tokens 0 to t, averaged over the windows.
    """
    check_module("model", model, "tokens -> logits")
    batch_size = check_positive("batch_size", batch_size)
    inputs, targets = consecutive_windows(data, length)  # (windows, length) each
    model.eval()  # after the checks: a failed call leaves the model's mode as it was
    total = torch.zeros(length, dtype=torch.float64)
    for start in range(0, len(inputs), batch_size):
        logits = model(inputs[start:start + batch_size], pattern=pattern)  # (batch, length, vocab)
        losses = F.cross_entropy(logits.transpose(1, 2), targets[start:start + batch_size],
                                 reduction="none")  # (batch, length)
        total += losses.sum(dim=0).double()
    return total / len(inputs)


def heldout_loss(model: torch.nn.Module, data: torch.Tensor, length: int, **options) -> float:
    """The mean next-token cross-entropy over consecutive windows of `length` tokens of `data`."""
    return loss_by_position(model, data, length, **options).mean().item()


@dataclass
class LanguageModelLog:
    """What `train_language_model` records: every step's training loss and learning
    rate, and the held-out loss at the steps listed in `eval_steps`."""

    losses: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    heldout_losses: list[float] = field(default_factory=list)


def train_language_model(
    model: torch.nn.Module, data: torch.Tensor, *, steps: int, batch_size: int, length: int,
    generator: torch.Generator, lr: float = 3e-3, warmup: int = 50,
    heldout: torch.Tensor | None = None, eval_every: int = 50,
) -> LanguageModelLog:
    """Train `model` in place to predict the next token of random windows of `data`.

    Adam (`attention.training.Adam`, betas (0.9, 0.98)) with the warm-up then
    1/sqrt(step) schedule of Chapter 13, peaking at `lr`.

    Args:
        model: a language model, `tokens (batch, T) -> logits (batch, T, vocab)`.
        data: the training tokens, `(N,)` int64.
        steps: the number of updates.
        batch_size: windows per update.
        length: tokens per window.
        generator: where the windows' starts come from (seeded: the same run every time).
        heldout: held-out tokens, measured every `eval_every` steps and at the end.

    Returns:
        The `LanguageModelLog`; the model is left in eval mode.

    Examples:
        >>> from attention.modern.gpt import GPT
        >>> _ = torch.manual_seed(0)
        >>> model = GPT(vocab_size=5, d_model=16, num_heads=2, num_layers=1, max_len=8)
        >>> data = torch.arange(400) % 5                       # 0 1 2 3 4 0 1 2 ...: easy
        >>> log = train_language_model(model, data, steps=60, batch_size=8, length=8,
        ...                            generator=torch.Generator().manual_seed(0), lr=1e-2, warmup=10)
        >>> log.losses[0] > 1.5, log.losses[-1] < 0.1
        (True, True)
    """
    # Every check before the first step: a failed call leaves the model as it was.
    check_module("model", model, "tokens -> logits")
    data, batch_size, length = _check_windows(data, batch_size, length, generator)
    steps, lr = check_count("steps", steps), check_positive_real("lr", lr)
    warmup, eval_every = check_positive("warmup", warmup), check_positive("eval_every", eval_every)
    if heldout is not None:
        heldout = _as_tokens("heldout", heldout)
        if len(heldout) < length + 1:
            raise ValueError(f"heldout has {len(heldout)} tokens, too few for one window "
                             f"of length {length} + 1")
    vocab_size = getattr(model, "vocab_size", None)  # a GPT's
    for name, tokens in (("data", data), ("heldout", heldout)):
        if isinstance(vocab_size, int) and tokens is not None and int(tokens.max()) >= vocab_size:
            raise ValueError(f"{name} holds token {int(tokens.max())}, outside the model's "
                             f"vocab_size={vocab_size}")
    optimizer = Adam(model.parameters(), betas=(0.9, 0.98), eps=1e-9)
    log = LanguageModelLog()
    for step in range(1, steps + 1):
        model.train()
        rate = warmup_then_decay(step, lr, warmup)
        inputs, targets = random_windows(data, batch_size, length, generator)
        logits = model(inputs)  # (batch, length, vocab)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step(rate)
        log.losses.append(loss.item())
        log.learning_rates.append(rate)
        if heldout is not None and (step % eval_every == 0 or step == steps):
            log.eval_steps.append(step)
            log.heldout_losses.append(heldout_loss(model, heldout, length))
    model.eval()
    return log

"""A small training loop for `Seq2SeqTransformer` on a `DigitTask`, and its accuracy.

Teacher forcing: the decoder reads the true target shifted right by one (the
start token first) and predicts every target token at once; the causal mask
keeps position t from reading the token it must predict. Training draws a
fresh batch from the task at each step, never from the held-out share.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from attention.transformer.seq2seq import Seq2SeqTransformer, greedy_decode
from attention.transformer.tasks import END, PAD, START, DigitTask, decoder_input
from attention.validation import (
    check_generator,
    check_count,
    check_module,
    check_positive,
    check_positive_real,
    check_probability,
    check_real,
    check_same_batch,
    check_token_ids,
)


class Adam:
    """Adam (Kingma and Ba, 2015), written out; the learning rate is given at each step.

    Each parameter keeps two running averages: `m` of its gradient and `v` of
    the gradient's square. The update is `-lr * m_hat / (sqrt(v_hat) + eps)`,
    where the hats undo the averages' bias towards their zero start. Dividing
    by `sqrt(v_hat)` gives every parameter a step of about `lr`, whatever the
    size of its gradient. It computes what `torch.optim.Adam` computes (up to
    rounding); it is written here because creating a `torch.optim` optimizer
    first imports `torch._dynamo`, which costs seconds.

    Args:
        parameters: the tensors to update (their `.grad` is read).
        betas: the decay of the two averages; the paper uses (0.9, 0.98).
        eps: added to the denominator, against division by zero.

    Examples:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> optimizer = Adam([w])
        >>> (w ** 2).sum().backward()
        >>> optimizer.step(lr=0.1)
        >>> w.detach()                # each entry moves by lr against its gradient's sign
        tensor([ 0.9000, -1.9000])
    """

    def __init__(
        self, parameters: Iterable[torch.Tensor], betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-9,
    ) -> None:
        if isinstance(parameters, torch.Tensor) or not isinstance(parameters, Iterable):
            raise TypeError(f"parameters must be an iterable of tensors, such as model.parameters(), "
                            f"got {type(parameters).__name__}")
        parameters = list(parameters)
        for i, p in enumerate(parameters):
            if not isinstance(p, torch.Tensor):
                raise TypeError(f"parameters[{i}] must be a torch.Tensor, got {type(p).__name__}")
        if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        beta1, beta2 = (check_real("betas", beta) for beta in betas)
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"betas must lie in [0, 1), got {tuple(betas)}")
        eps = check_positive_real("eps", eps)
        self.parameters = [p for p in parameters if p.requires_grad]
        self.betas = (beta1, beta2)
        self.eps = eps
        self.steps = 0
        self.m = [torch.zeros_like(p) for p in self.parameters]
        self.v = [torch.zeros_like(p) for p in self.parameters]

    def zero_grad(self) -> None:
        """Forget the gradients, before the next backward pass."""
        for p in self.parameters:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: float) -> None:
        """Update every parameter that has a gradient, with learning rate `lr` >= 0."""
        lr = check_real("lr", lr)
        if not (lr >= 0 and lr < float("inf")):
            raise ValueError(f"lr must be positive or 0, and finite, got {lr}")
        self.steps += 1
        beta1, beta2 = self.betas
        bias1 = 1 - beta1**self.steps  # the averages' bias towards 0
        bias2 = 1 - beta2**self.steps
        for p, m, v in zip(self.parameters, self.m, self.v):
            if p.grad is None:
                continue
            m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            denominator = (v / bias2).sqrt_().add_(self.eps)
            p.addcdiv_(m, denominator, value=-lr / bias1)


@dataclass
class TrainingLog:
    """What `train` records: the loss at every step, and the learning rate used."""

    losses: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)


def warmup_then_decay(step: int, peak: float, warmup: int) -> float:
    """The paper's learning-rate schedule, scaled to reach `peak` at step `warmup`.

    It rises linearly for `warmup` steps, then decays as 1 / sqrt(step):
    `peak * min(step / warmup, sqrt(warmup / step))`. (The paper writes the
    peak as `d_model^-0.5 * warmup^-0.5`.)
    """
    step = max(check_count("step", step), 1)  # step 0 counts as step 1
    peak = check_positive_real("peak", peak)
    warmup = check_positive("warmup", warmup)
    return peak * min(step / warmup, (warmup / step) ** 0.5)


def sequence_loss(
    model: Seq2SeqTransformer, source: torch.Tensor, target: torch.Tensor,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Mean cross-entropy of the target tokens under teacher forcing, padding ignored."""
    if not isinstance(target, torch.Tensor) or target.dtype != torch.long:
        kind = target.dtype if isinstance(target, torch.Tensor) else type(target).__name__
        raise TypeError(f"target must be an int64 torch.Tensor of token ids, got {kind}")
    decoder_input(target)  # checks (batch, positions)
    check_same_batch(source=tuple(source.shape), target=tuple(target.shape))
    label_smoothing = check_probability("label_smoothing", label_smoothing)
    logits = model(source, decoder_input(target))  # (batch, T, vocab)
    check_token_ids("target", target, logits.shape[-1])  # the model checked its inputs
    return F.cross_entropy(
        logits.flatten(0, 1), target.flatten(), ignore_index=PAD, label_smoothing=label_smoothing
    )


def train(
    model: Seq2SeqTransformer,
    task: DigitTask,
    steps: int,
    batch_size: int,
    generator: torch.Generator,
    *,
    lr: float = 1e-3,
    warmup: int = 100,
    label_smoothing: float = 0.0,
) -> TrainingLog:
    """Train with Adam (beta2 = 0.98, as in the paper) and the warm-up schedule.

    Args:
        model: the model, trained in place.
        task: where the batches come from (training share only).
        steps: the number of updates.
        batch_size: sequences per update.
        generator: the source of the batches, seeded for the same run every time.
        lr: the peak learning rate, reached after the warm-up.
        warmup: steps of linear warm-up.
        label_smoothing: spread this much of each target's probability over the vocabulary.

    Returns:
        The `TrainingLog` of the run.
    """
    check_module("model", model, "a sequence-to-sequence model")
    if not isinstance(task, DigitTask):
        raise TypeError(f"task must be a DigitTask, got {type(task).__name__}")
    check_generator(generator)
    steps = check_count("steps", steps)
    batch_size = check_positive("batch_size", batch_size)
    lr = check_positive_real("lr", lr)
    warmup = check_positive("warmup", warmup)
    label_smoothing = check_probability("label_smoothing", label_smoothing)
    optimizer = Adam(model.parameters(), betas=(0.9, 0.98), eps=1e-9)
    log = TrainingLog()
    model.train()
    for step in range(1, steps + 1):
        rate = warmup_then_decay(step, lr, warmup)
        source, target = task.sample(batch_size, generator)
        loss = sequence_loss(model, source, target, label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step(rate)
        log.losses.append(loss.item())
        log.learning_rates.append(rate)
    model.eval()
    return log


@torch.no_grad()
def sequence_accuracy(
    model: Seq2SeqTransformer, source: torch.Tensor, target: torch.Tensor
) -> float:
    """The share of sources whose greedy decoding equals the target exactly, end token included."""
    if not isinstance(target, torch.Tensor) or target.dtype != torch.long:
        kind = target.dtype if isinstance(target, torch.Tensor) else type(target).__name__
        raise TypeError(f"target must be an int64 torch.Tensor of token ids, got {kind}")
    decoder_input(target)  # checks (batch, positions)
    check_same_batch(source=tuple(source.shape), target=tuple(target.shape))
    model.eval()
    predicted = greedy_decode(model, source, START, END, max_len=target.shape[1])
    missing = target.shape[1] - predicted.shape[1]  # decoding may stop early
    predicted = F.pad(predicted, (0, missing), value=PAD)  # (batch, T)
    return (predicted == target).all(dim=1).float().mean().item()

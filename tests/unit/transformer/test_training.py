"""The training loop: a short run learns, the learning-rate schedule."""

from __future__ import annotations

import pytest
import torch

from attention.transformer.tasks import DigitTask
from attention.transformer.training import (
    sequence_accuracy,
    sequence_loss,
    train,
    warmup_then_decay,
)
from unit.helpers import small_model


@pytest.fixture
def one_thread():
    """Tiny models train faster on one thread, and the same way on every machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_a_short_training_run_brings_the_loss_down(one_thread):
    torch.manual_seed(0)
    task = DigitTask("reverse", min_len=3, max_len=3)
    model = small_model(task)
    source, target = task.sample(256, torch.Generator().manual_seed(1), held_out=True)
    with torch.no_grad():
        initial = sequence_loss(model, source, target).item()
    log = train(model, task, steps=150, batch_size=32, generator=torch.Generator().manual_seed(0),
                lr=5e-3, warmup=20)
    with torch.no_grad():
        final = sequence_loss(model, source, target).item()
    assert initial > 2.0  # about log(13): the control
    assert final < 0.25, final
    assert len(log.losses) == 150
    assert sequence_accuracy(model, source, target) > 0.9


def test_schedule_peaks_at_the_end_of_warmup():
    rates = [warmup_then_decay(step, 1e-3, 10) for step in range(1, 41)]
    assert max(rates) == rates[9] == pytest.approx(1e-3)
    assert rates[39] == pytest.approx(1e-3 * (10 / 40) ** 0.5)

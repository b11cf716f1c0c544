"""The digit tasks: answers, held-out sources, sampling, decoder inputs."""

from __future__ import annotations

import pytest
import torch

from attention.transformer.tasks import END, PAD, START, DigitTask, decoder_input


def test_reverse_and_sort_answers():
    task = DigitTask("reverse", min_len=1, max_len=4)
    source = torch.tensor([[3, 4, 5, 0], [9, 0, 0, 0]])  # digits 0 1 2 and 6
    assert task.answer(source).tolist() == [[5, 4, 3, END, PAD], [9, END, PAD, PAD, PAD]]
    sort = DigitTask("sort", min_len=1, max_len=4)
    assert sort.answer(torch.tensor([[7, 3, 5, 0]])).tolist() == [[3, 5, 7, END, PAD]]


def test_training_and_held_out_sources_never_meet():
    task = DigitTask("reverse", min_len=1, max_len=3)
    train_sources, _ = task.sample(4000, torch.Generator().manual_seed(0))
    test_sources, _ = task.sample(500, torch.Generator().manual_seed(1), held_out=True)
    seen = {tuple(row) for row in train_sources.tolist()}
    assert not seen & {tuple(row) for row in test_sources.tolist()}
    lengths = (test_sources != PAD).sum(dim=1)
    assert set(lengths.tolist()) == {1, 2, 3}  # every length is represented in the test share


def test_sampling_is_reproducible_and_in_range():
    task = DigitTask("sort", min_len=2, max_len=6)
    first = task.sample(64, torch.Generator().manual_seed(3))
    second = task.sample(64, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    lengths = (first[0] != PAD).sum(dim=1)
    assert lengths.min() >= 2 and lengths.max() <= 6
    assert first[0].shape == (64, 6) and first[1].shape == (64, 7)


def test_decoder_input_is_the_target_shifted_right():
    target = torch.tensor([[5, 4, END, PAD]])
    assert decoder_input(target).tolist() == [[START, 5, 4, END]]


def test_bad_task_settings_get_clear_errors():
    with pytest.raises(ValueError, match="kind"):
        DigitTask("shuffle")
    with pytest.raises(ValueError, match="min_len=5, max_len=3"):
        DigitTask(min_len=5, max_len=3)

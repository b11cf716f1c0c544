"""The token-level model and greedy decoding."""

from __future__ import annotations

import pytest
import torch

from attention import greedy_decode
from attention.transformer.tasks import END, PAD, START, DigitTask, decoder_input
from attention.versions.overview import count_parameters
from unit.helpers import small_model


def test_a_later_target_token_never_changes_earlier_logits():
    task = DigitTask(max_len=5)
    model = small_model(task)
    source, target = task.sample(4, torch.Generator().manual_seed(0))
    target_in = decoder_input(target)
    changed = target_in.clone()
    changed[:, 3] = 7
    before, after = model(source, target_in), model(source, changed)
    torch.testing.assert_close(after[:, :3], before[:, :3], atol=0, rtol=0)
    assert not torch.allclose(after[:, 3:], before[:, 3:])


def test_shared_embeddings_are_one_matrix():
    task = DigitTask(max_len=5)
    shared, separate = small_model(task, share_embeddings=True), small_model(task)
    assert shared.output.weight is shared.source_embedding.weight is shared.target_embedding.weight
    assert count_parameters(separate) - count_parameters(shared) == 2 * task.vocab_size * 16


def test_greedy_decoding_is_deterministic_and_stops():
    task = DigitTask(max_len=5)
    model = small_model(task)
    source, _ = task.sample(8, torch.Generator().manual_seed(0))
    first = greedy_decode(model, source, START, END, max_len=6)
    assert torch.equal(first, greedy_decode(model, source, START, END, max_len=6))
    assert first.shape[1] <= 6
    for row in first.tolist():  # after an end token: only padding
        if END in row:
            assert all(token == PAD for token in row[row.index(END) + 1 :])
    with torch.no_grad():  # force the end token: decoding stops after one step
        model.output.bias.fill_(-1e4)
        model.output.bias[END] = 1e4
    assert greedy_decode(model, source, START, END, max_len=6).tolist() == [[END]] * 8


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m: m(torch.zeros(1, 12, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long)),
         ValueError, "source has 12 positions but max_len=6"),
        (lambda m: m(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 9, dtype=torch.long)),
         ValueError, "target_in has 9 positions but max_len=6"),
        (lambda m: m(torch.full((1, 3), 20), torch.zeros(1, 2, dtype=torch.long)), ValueError,
         r"\[0, 13\)"),
        (lambda m: m(torch.zeros(1, 3), torch.zeros(1, 2, dtype=torch.long)), TypeError,
         "int64 torch.Tensor of token ids, got torch.float32"),
        (lambda m: m(torch.zeros(2, 3, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long)),
         ValueError, r"batch sizes differ: source shape \(2, 3\), target_in shape \(1, 2\)"),
        (lambda m: greedy_decode(m, torch.ones(1, 3, dtype=torch.long), START, END, 0), ValueError,
         "max_len must be positive, got 0"),
        (lambda m: greedy_decode(m, torch.ones(1, 3, dtype=torch.long), START, END, 7), ValueError,
         "has 7 positions but the model's max_len=6"),
        (lambda m: greedy_decode(m, torch.ones(1, 3, dtype=torch.long), 99, END, 3), ValueError,
         r"start_token must lie in \[0, 13\), got 99"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    model = small_model(DigitTask(max_len=5))
    with pytest.raises(error, match=message):
        call(model)



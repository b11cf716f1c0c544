"""The token-level model, greedy decoding, the digit tasks and the training loop."""

from __future__ import annotations

import pytest
import torch

from attention import Seq2SeqTransformer, greedy_decode
from attention.evolution import count_parameters
from attention.tasks import END, PAD, START, DigitTask, decoder_input
from attention.training import sequence_accuracy, sequence_loss, train, warmup_then_decay


def small_model(task: DigitTask, **options) -> Seq2SeqTransformer:
    torch.manual_seed(0)
    return Seq2SeqTransformer(task.vocab_size, task.vocab_size, d_model=16, num_heads=2,
                              num_encoder_layers=1, num_decoder_layers=1, d_ff=32,
                              max_len=task.max_len + 1, **options).eval()


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


@pytest.fixture
def one_thread():
    """Tiny models train faster on one thread, and the same way on every machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


def test_bad_task_settings_get_clear_errors():
    with pytest.raises(ValueError, match="kind"):
        DigitTask("shuffle")
    with pytest.raises(ValueError, match="min_len=5, max_len=3"):
        DigitTask(min_len=5, max_len=3)

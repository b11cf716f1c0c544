"""Tests for training and measuring a language model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hypothesis import given, settings
from hypothesis import strategies as st

from attention.modern.corpus import CharTokenizer, book_text
from attention.modern.gpt import GPT
from attention.modern.language_modeling import (
    book_tokens,
    consecutive_windows,
    heldout_loss,
    loss_by_position,
    random_windows,
    train_language_model,
)


def test_random_windows_are_pieces_of_the_text_and_their_next_tokens():
    data = torch.randint(50, (300,), generator=torch.Generator().manual_seed(0))
    inputs, targets = random_windows(data, 16, 10, torch.Generator().manual_seed(1))
    assert inputs.shape == targets.shape == (16, 10)
    text = data.tolist()
    for row, target in zip(inputs.tolist(), targets.tolist()):
        start = next(s for s in range(len(text) - 10) if text[s:s + 10] == row)
        assert target == text[start + 1:start + 11]
    again, _ = random_windows(data, 16, 10, torch.Generator().manual_seed(1))
    assert torch.equal(inputs, again)


def test_loss_by_position_is_the_cross_entropy_of_each_position():
    torch.manual_seed(0)
    model = GPT(7, 8, 2, 1, max_len=6).eval()
    data = torch.randint(7, (40,), generator=torch.Generator().manual_seed(2))
    losses = loss_by_position(model, data, 6, batch_size=2)  # several batches
    inputs, targets = consecutive_windows(data, 6)
    with torch.no_grad():
        expected = F.cross_entropy(model(inputs).transpose(1, 2), targets, reduction="none").mean(0)
    torch.testing.assert_close(losses, expected.double())
    assert heldout_loss(model, data, 6) == pytest.approx(expected.mean().item())


def test_training_is_the_same_every_run_and_lowers_the_loss():
    data = torch.tensor([0, 1, 2, 3, 2, 1] * 40)

    def run():
        torch.manual_seed(0)
        model = GPT(4, 16, 2, 1, max_len=8, positions="rope")
        log = train_language_model(model, data, steps=40, batch_size=8, length=8,
                                   generator=torch.Generator().manual_seed(0), lr=1e-2, warmup=5,
                                   heldout=data[:50], eval_every=20)
        return log

    first, second = run(), run()
    assert first.losses == second.losses
    assert first.eval_steps == [20, 40] and len(first.heldout_losses) == 2
    assert first.heldout_losses[-1] < 0.5 * first.losses[0]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"data has 5 tokens, too few for windows of length 5 \+ 1"):
        random_windows(torch.arange(5), 2, 5, torch.Generator())
    with pytest.raises(TypeError, match=r"data must be a 1-D int64 tensor or array of tokens, got torch.float32"):
        random_windows(torch.zeros(10), 2, 3, torch.Generator())
    with pytest.raises(ValueError, match=r"too few for one window of length 8 \+ 1"):
        consecutive_windows(torch.arange(8), 8)


def test_book_tokens_are_chapter_18s_lines_in_one_call():
    text = book_text()
    tokenizer = CharTokenizer(text)
    tokens = torch.from_numpy(tokenizer.encode(text))
    split = int(0.9 * len(tokens))
    got_tokenizer, train, heldout = book_tokens()
    assert got_tokenizer.vocabulary == tokenizer.vocabulary
    assert torch.equal(train, tokens[:split]) and torch.equal(heldout, tokens[split:])
    assert train.dtype == heldout.dtype == torch.long


@settings(max_examples=20, deadline=None)
@given(st.floats(0.001, 0.999))
def test_book_tokens_hold_out_the_end_of_the_text(heldout):
    tokenizer, train, held = book_tokens(heldout)
    assert tokenizer.decode(torch.cat([train, held]).numpy()) == book_text()  # nothing lost, in order
    assert abs(len(held) - heldout * (len(train) + len(held))) <= 1


@pytest.mark.parametrize("heldout, message", [
    (0.0, "heldout=0.0 leaves no training or no held-out text"),
    (1.0, "heldout=1.0 leaves no training or no held-out text"),
    (-0.1, "heldout must lie between 0 and 1, got -0.1"),
    (1.5, "heldout must lie between 0 and 1, got 1.5"),
    ("a tenth", "heldout"),
])
def test_book_tokens_name_a_bad_share(heldout, message):
    with pytest.raises((ValueError, TypeError), match=message):
        book_tokens(heldout)


def test_a_failed_call_leaves_the_model_as_it_was():
    """Every argument is checked before the model's mode or weights change."""
    model, data = GPT(10, 8, 2, 1, max_len=8).train(), torch.arange(40) % 10
    with pytest.raises(ValueError, match="batch_size must be positive"):
        loss_by_position(model, data, 4, batch_size=0)
    assert model.training
    model.eval()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    for bad in [{"heldout": torch.arange(3)}, {"lr": -1.0}, {"data": torch.arange(40)}]:
        options = {"data": data, "steps": 2, "batch_size": 2, "length": 4, "generator": torch.Generator(),
                   "heldout": data, "eval_every": 1} | bad
        with pytest.raises(ValueError):
            train_language_model(model, options.pop("data"), **options)
        assert not model.training
        assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())

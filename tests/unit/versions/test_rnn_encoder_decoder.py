"""Tests for the GRU encoder-decoder, with and without additive attention.

The references are written from the equations in float64, with no package code:
the GRU cell as PyTorch defines it (gates r, z, n), run over each sequence's real
tokens one position at a time, and Bahdanau's score w_v^T tanh(W_q q + W_k k).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import attention
from attention import BidirectionalGRUEncoder, GRUDecoder, RNNEncoderDecoder
from attention.transformer.tasks import END, PAD, START, DigitTask, decoder_input
from attention.transformer.training import sequence_accuracy, train

SETTINGS = settings(max_examples=20, deadline=None)
VOCAB = 13


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is faster, and a busy machine does not slow it down."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gru_cell_reference(x, h, w_ih, w_hh, b_ih, b_hh):
    """One GRU step from its equations: x (d_in,), h (hidden,) -> (hidden,)."""
    r_i, z_i, n_i = (w_ih @ x + b_ih).chunk(3)
    r_h, z_h, n_h = (w_hh @ h + b_hh).chunk(3)
    r = 1 / (1 + torch.exp(-(r_i + r_h)))
    z = 1 / (1 + torch.exp(-(z_i + z_h)))
    n = torch.tanh(n_i + r * n_h)
    return (1 - z) * n + z * h


def encoder_reference(encoder: BidirectionalGRUEncoder, tokens: list[int]):
    """Annotations (length, 2 hidden) and summary (2 hidden) of one unpadded source."""
    gru = encoder.gru
    x = [encoder.embedding.weight[t].double() for t in tokens]
    hidden = gru.hidden_size
    forward, backward = [], [None] * len(tokens)
    h = torch.zeros(hidden, dtype=torch.float64)
    for j in range(len(tokens)):
        h = gru_cell_reference(x[j], h, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
        forward.append(h)
    h = torch.zeros(hidden, dtype=torch.float64)
    for j in reversed(range(len(tokens))):
        h = gru_cell_reference(x[j], h, gru.weight_ih_l0_reverse, gru.weight_hh_l0_reverse,
                               gru.bias_ih_l0_reverse, gru.bias_hh_l0_reverse)
        backward[j] = h
    annotations = torch.stack([torch.cat([f, b]) for f, b in zip(forward, backward)])
    return annotations, torch.cat([forward[-1], backward[0]])


def decoder_reference(decoder: GRUDecoder, target_in: list[int], annotations, summary):
    """Logits (T, vocab) and weights (T, length) of one sequence; annotations of real tokens only."""
    cell = decoder.cell
    state = torch.tanh(decoder.init_state.weight @ summary + decoder.init_state.bias)
    logits, weights = [], []
    for token in target_in:
        if decoder.attention is None:
            context = summary
        else:
            a = decoder.attention
            scores = torch.stack([
                a.w_v.weight[0] @ torch.tanh(a.w_q.weight @ state + a.w_k.weight @ k) for k in annotations
            ])
            alpha = torch.exp(scores - scores.max())
            alpha = alpha / alpha.sum()
            weights.append(alpha)
            context = (alpha[:, None] * annotations).sum(0)
        x = torch.cat([decoder.embedding.weight[token], context])
        state = gru_cell_reference(x, state, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        logits.append(decoder.output.weight @ torch.cat([state, context]) + decoder.output.bias)
    return torch.stack(logits), (torch.stack(weights) if weights else None)


def padded_batch(lengths: list[int], generator: torch.Generator, width: int | None = None) -> torch.Tensor:
    """Random digit sources of the given lengths, padded on the right: (batch, width)."""
    width = width or max(lengths)
    source = torch.randint(3, VOCAB, (len(lengths), width), generator=generator)
    return source.masked_fill(torch.arange(width) >= torch.tensor(lengths)[:, None], PAD)


@st.composite
def model_case(draw: st.DrawFn) -> dict:
    lengths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    width = max(lengths) + draw(st.integers(0, 2))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    torch.manual_seed(draw(st.integers(0, 2**31)))
    attention_size = draw(st.sampled_from([None, 1, 5]))
    hidden, embedding = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    model = RNNEncoderDecoder(VOCAB, embedding, hidden, attention_size).double()
    target_in = torch.randint(0, VOCAB, (len(lengths), draw(st.integers(1, 5))), generator=generator)
    return dict(model=model, source=padded_batch(lengths, generator, width), lengths=lengths,
                target_in=target_in)


@SETTINGS
@given(model_case())
def test_matches_the_float64_equations_sequence_by_sequence(case):
    """Encoder and decoder against the GRU and attention equations, each sequence alone, unpadded."""
    model, source, target_in = case["model"], case["source"], case["target_in"]
    annotations, summary = model.encode(source)
    logits, weights = model.decoder(target_in, annotations, summary, source != PAD)
    for b, length in enumerate(case["lengths"]):
        expected_annotations, expected_summary = encoder_reference(model.encoder, source[b, :length].tolist())
        torch.testing.assert_close(annotations[b, :length], expected_annotations, rtol=0, atol=1e-12)
        torch.testing.assert_close(summary[b], expected_summary, rtol=0, atol=1e-12)
        expected_logits, expected_weights = decoder_reference(
            model.decoder, target_in[b].tolist(), expected_annotations, expected_summary
        )
        torch.testing.assert_close(logits[b], expected_logits, rtol=0, atol=1e-12)
        if weights is None:
            assert model.decoder.attention is None
        else:
            torch.testing.assert_close(weights[b, :, :length], expected_weights, rtol=0, atol=1e-12)


@SETTINGS
@given(model_case())
def test_padding_changes_nothing_for_the_real_positions(case):
    model, source, target_in = case["model"], case["source"], case["target_in"]
    annotations, summary = model.encode(source)
    logits, weights = model.decoder(target_in, annotations, summary, source != PAD)
    for b, length in enumerate(case["lengths"]):
        alone = source[b:b + 1, :length]  # the same source with no padding
        alone_annotations, alone_summary = model.encode(alone)
        torch.testing.assert_close(annotations[b:b + 1, :length], alone_annotations, rtol=0, atol=1e-13)
        torch.testing.assert_close(summary[b:b + 1], alone_summary, rtol=0, atol=1e-13)
        assert torch.all(annotations[b, length:] == 0)
        torch.testing.assert_close(logits[b:b + 1], model(alone, target_in[b:b + 1]), rtol=0, atol=1e-12)
        if weights is not None:
            assert torch.all(weights[b, :, length:] == 0)  # exactly zero on padding
            torch.testing.assert_close(weights[b].sum(-1), torch.ones(target_in.shape[1], dtype=torch.float64))


@pytest.mark.parametrize("attention_size", [None, 4])
def test_step_by_step_equals_the_teacher_forced_pass(attention_size):
    torch.manual_seed(3)
    model = RNNEncoderDecoder(VOCAB, 6, 5, attention_size).double()
    source = padded_batch([4, 2, 5], torch.Generator().manual_seed(0))
    target_in = torch.randint(0, VOCAB, (3, 6), generator=torch.Generator().manual_seed(1))
    annotations, summary = model.encode(source)
    logits, weights = model.decoder(target_in, annotations, summary, source != PAD)
    state = model.decoder.start(summary)
    for t in range(target_in.shape[1]):
        step_logits, state, step_weights = model.decoder.step(
            target_in[:, t], state, annotations, summary, source != PAD
        )
        torch.testing.assert_close(step_logits, logits[:, t], rtol=0, atol=1e-14)
        if attention_size is None:
            assert step_weights is None and weights is None
        else:
            torch.testing.assert_close(step_weights, weights[:, t], rtol=0, atol=1e-14)


def test_attention_weights_are_additive_attentions_on_the_same_states():
    torch.manual_seed(4)
    model = RNNEncoderDecoder(VOCAB, 6, 5, attention_size=7)
    source = padded_batch([4, 2], torch.Generator().manual_seed(2))
    annotations, summary = model.encode(source)
    mask = source != PAD
    state = model.decoder.start(summary)  # the query of the first step
    _, _, weights = model.decoder.step(torch.tensor([START, START]), state, annotations, summary, mask)
    _, expected = attention.AdditiveAttention.forward(
        model.decoder.attention, state[:, None], annotations, annotations, mask[:, None]
    )
    torch.testing.assert_close(weights, expected[:, 0], rtol=0, atol=0)
    assert model.decoder.attention.query_size == 5 and model.decoder.attention.key_size == 10


@pytest.mark.parametrize("attention_size", [None, 3])
def test_gradients_reach_every_parameter_and_gradcheck(attention_size):
    torch.manual_seed(5)
    model = RNNEncoderDecoder(VOCAB, 4, 3, attention_size).double()
    source = padded_batch([3, 1], torch.Generator().manual_seed(3))
    target = torch.tensor([[5, 6, 7, END], [8, END, PAD, PAD]])
    loss = torch.nn.functional.cross_entropy(
        model(source, decoder_input(target)).flatten(0, 1), target.flatten(), ignore_index=PAD
    )
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    annotations, summary = model.encode(source)
    annotations = annotations.detach().requires_grad_()
    summary = summary.detach().requires_grad_()

    def decode(a, s):
        return model.decoder(decoder_input(target), a, s, source != PAD)[0]

    assert torch.autograd.gradcheck(decode, (annotations, summary))


def test_generate_is_greedy_on_the_teacher_forced_logits():
    torch.manual_seed(6)
    model = RNNEncoderDecoder(VOCAB, 6, 8, attention_size=5).eval()
    source = padded_batch([5, 3, 1, 4], torch.Generator().manual_seed(4))
    tokens, weights = model.generate(source, START, END, max_len=7)
    logits = model(source, decoder_input(tokens))
    for b in range(len(source)):
        ended = (tokens[b] == END).nonzero()
        last = int(ended[0]) + 1 if len(ended) else tokens.shape[1]
        assert torch.equal(logits[b, :last].argmax(-1), tokens[b, :last])
        assert torch.all(tokens[b, last:] == PAD) and torch.all(weights[b, last:] == 0)
    assert weights.shape == (4, tokens.shape[1], 5)


def test_trains_with_the_package_loop_and_its_accuracy_agrees():
    torch.manual_seed(7)
    task = DigitTask("reverse", min_len=1, max_len=3)
    model = RNNEncoderDecoder(task.vocab_size, 8, 16, attention_size=8)
    log = train(model, task, 40, 32, torch.Generator().manual_seed(0), lr=0.02, warmup=5)
    assert sum(log.losses[-5:]) < sum(log.losses[:5]) / 2
    source, target = task.sample(50, torch.Generator().manual_seed(1), held_out=True)
    tokens, _ = model.generate(source, START, END, max_len=target.shape[1])
    tokens = torch.nn.functional.pad(tokens, (0, target.shape[1] - tokens.shape[1]), value=PAD)
    mine = (tokens == target).all(1).float().mean().item()
    assert sequence_accuracy(model, source, target) == pytest.approx(mine)


def test_fixed_vector_model_has_no_attention():
    model = RNNEncoderDecoder(VOCAB, 4, 3)
    assert model.decoder.attention is None
    tokens, weights = model.generate(torch.tensor([[4, 5]]), START, END, max_len=3)
    assert weights is None and tokens.shape[0] == 1


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: m(torch.tensor([[4.0, 5.0]]), torch.tensor([[1]])), TypeError,
         r"source must be an int64 torch\.Tensor of token ids, got torch\.float32"),
        (lambda m: m(torch.tensor([4, 5]), torch.tensor([[1]])), ValueError,
         r"source must have shape \(batch, positions >= 1\), got \(2,\)"),
        (lambda m: m(torch.tensor([[4, 13]]), torch.tensor([[1]])), ValueError,
         r"source ids must lie in \[0, 13\), got ids from 4 to 13"),
        (lambda m: m(torch.tensor([[4, 5], [0, 5]]), torch.tensor([[1], [1]])), ValueError,
         r"source row 1 has a token after padding"),
        (lambda m: m(torch.tensor([[4, 5], [0, 0]]), torch.tensor([[1], [1]])), ValueError,
         r"source row 1 is all padding"),
        (lambda m: m(torch.tensor([[4, 5]]), torch.tensor([[1], [1]])), ValueError,
         r"source has batch size 1 but target_in has 2"),
        (lambda m: m(torch.tensor([[4, 5]]), [[1]]), TypeError, r"target_in must be an int64 torch\.Tensor of token ids, got list"),
        (lambda m: m.decoder(torch.tensor([[1]]), torch.zeros(1, 2, 7), torch.zeros(1, 8),
                             torch.ones(1, 2, dtype=torch.bool)), ValueError,
         r"annotations must be \(batch, S, 8\), got \(1, 2, 7\)"),
        (lambda m: m.decoder(torch.tensor([[1]]), torch.zeros(1, 2, 8), torch.zeros(2, 8),
                             torch.ones(1, 2, dtype=torch.bool)), ValueError,
         r"summary must be \(1, 8\), got \(2, 8\)"),
        (lambda m: m.decoder(torch.tensor([[1]]), torch.zeros(1, 2, 8), torch.zeros(1, 8),
                             torch.ones(1, 2)), TypeError, r"source_mask must be a bool tensor"),
        (lambda m: m.decoder(torch.tensor([[1]]), torch.zeros(1, 2, 8), torch.zeros(1, 8),
                             torch.ones(1, 3, dtype=torch.bool)), ValueError,
         r"source_mask must be \(batch, S\) = \(1, 2\), got \(1, 3\)"),
        (lambda m: m.decoder(torch.tensor([[1]]), torch.zeros(1, 2, 8, dtype=torch.long), torch.zeros(1, 8),
                             torch.ones(1, 2, dtype=torch.bool)), TypeError,
         r"annotations must be floating point"),
        (lambda m: m.decoder.step(torch.tensor([1, 1]), torch.zeros(2, 5), torch.zeros(2, 3, 8),
                                  torch.zeros(2, 8), torch.ones(2, 3, dtype=torch.bool)), ValueError,
         r"state must be \(2, 4\), got \(2, 5\)"),
        (lambda m: m.decoder.step(torch.tensor([1.0, 1.0]), torch.zeros(2, 4), torch.zeros(2, 3, 8),
                                  torch.zeros(2, 8), torch.ones(2, 3, dtype=torch.bool)), TypeError,
         r"token must be an int64 torch\.Tensor of token ids, got torch\.float32"),
        (lambda m: m.generate(torch.tensor([[4, 5]]), START, END, max_len=0), ValueError,
         r"max_len must be an integer >= 1, got 0"),
    ],
)
def test_bad_input_is_named_and_changes_no_state(call, error, message):
    torch.manual_seed(8)
    model = RNNEncoderDecoder(VOCAB, 5, 4, attention_size=3)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    with pytest.raises(error, match=message):
        call(model)
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())
    assert all(parameter.grad is None for parameter in model.parameters())
    assert model.training


def test_exported_from_the_package():
    for name in ("BidirectionalGRUEncoder", "GRUDecoder", "RNNEncoderDecoder"):
        assert name in attention.__all__
        assert getattr(attention, name).__module__ == "attention.versions.rnn_encoder_decoder"

"""The encoder-only masked-token model, its corruption rule and its palindromes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import attention
from attention.transformer.encoder_models import (
    IGNORE,
    MASK,
    PAD,
    MaskedLanguageModel,
    make_palindromes,
    mask_tokens,
    masked_lm_loss,
)
from attention.transformer.layers import EncoderLayer


def small_model(**options) -> MaskedLanguageModel:
    torch.manual_seed(0)
    settings_ = {"vocab_size": 12, "d_model": 16, "num_heads": 2, "d_ff": 32, "num_layers": 2,
                 "max_len": 10}
    settings_.update(options)
    return MaskedLanguageModel(**settings_).eval()


# ---------------------------------------------------------------- palindromes


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), low=st.integers(1, 3), extra=st.integers(0, 2))
def test_palindromes_read_the_same_backwards(seed, low, extra):
    high = low + extra
    tokens = make_palindromes(50, torch.Generator().manual_seed(seed), min_half=low, max_half=high)
    assert tokens.shape == (50, 2 * high) and tokens.dtype == torch.long
    for row in tokens.tolist():
        n = sum(t != PAD for t in row)
        assert n % 2 == 0 and 2 * low <= n <= 2 * high
        assert all(t == PAD for t in row[n:])  # padding only at the end
        real = row[:n]
        assert real == real[::-1]
        assert all(2 <= t < 12 for t in real)


def test_palindromes_are_seeded_and_check_their_arguments():
    a = make_palindromes(20, torch.Generator().manual_seed(4))
    assert torch.equal(a, make_palindromes(20, torch.Generator().manual_seed(4)))
    with pytest.raises(ValueError, match="min_half <= max_half, got 3 and 2"):
        make_palindromes(5, torch.Generator(), min_half=3, max_half=2)
    with pytest.raises(TypeError, match="count must be an integer"):
        make_palindromes(2.5, torch.Generator())


# ---------------------------------------------------------------- masking


def test_mask_tokens_follows_the_bert_rule():
    tokens = make_palindromes(4000, torch.Generator().manual_seed(0))  # (4000, 8)
    inputs, targets = mask_tokens(tokens, torch.Generator().manual_seed(1), vocab_size=12)
    picked = targets != IGNORE
    real = tokens != PAD
    assert not (picked & ~real).any()  # padding is never picked
    assert picked.any(dim=1).all()  # at least one per sequence
    assert torch.equal(targets[picked], tokens[picked])
    assert torch.equal(inputs[~picked], tokens[~picked])  # the rest is untouched
    # About 15% of real tokens, plus the forced one where the draw picked none.
    share = picked.sum() / real.sum()
    assert 0.15 < share < 0.25
    masked = (inputs[picked] == MASK).float().mean()
    kept = (inputs[picked] == tokens[picked]).float().mean()
    assert abs(masked - 0.8) < 0.03
    assert 0.07 < kept < 0.16  # 10%, plus random draws that hit the same token
    assert (inputs[picked & (inputs != MASK)] >= 2).all()  # random tokens are ordinary ones


def test_probability_zero_picks_exactly_one_real_position():
    tokens = torch.tensor([[5, 6, 7, 0], [0, 0, 0, 0], [9, 0, 0, 0]])
    _, targets = mask_tokens(tokens, torch.Generator().manual_seed(0), vocab_size=12,
                             probability=0.0)
    assert (targets != IGNORE).sum(dim=1).tolist() == [1, 0, 1]
    assert targets[2, 0] == 9


def test_mask_tokens_errors():
    with pytest.raises(TypeError, match=r"tokens must be an int64 torch.Tensor of token ids, got torch.float32"):
        mask_tokens(torch.zeros(2, 3), torch.Generator(), vocab_size=12)
    with pytest.raises(ValueError, match="probability must lie between 0 and 1"):
        mask_tokens(torch.ones(2, 3, dtype=torch.long), torch.Generator(), vocab_size=12,
                    probability=1.5)


# ---------------------------------------------------------------- the model


def test_matches_torch_encoder_layers_assembled_by_hand():
    model = small_model()
    torch.manual_seed(1)
    theirs = [nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True,
                                         norm_first=True).eval() for _ in range(2)]
    model.layers = nn.ModuleList(EncoderLayer.from_torch(layer) for layer in theirs)
    tokens = torch.tensor([[5, 1, 7, 8, 0, 0], [3, 4, 0, 0, 0, 0]])
    x = model.token_embedding(tokens) + model.position_embedding(torch.arange(6))
    for layer in theirs:
        x = layer(x, src_key_padding_mask=tokens == PAD)
    expected = model.head(model.norm(x))
    with torch.no_grad():
        real = tokens != PAD
        torch.testing.assert_close(model(tokens)[real], expected[real], atol=1e-5, rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 6), extra=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_padding_changes_nothing_at_real_positions(length, extra, seed):
    model = small_model()
    tokens = torch.randint(2, 12, (1, length), generator=torch.Generator().manual_seed(seed))
    padded = F.pad(tokens, (0, extra), value=PAD)
    with torch.no_grad():
        torch.testing.assert_close(model(padded)[:, :length], model(tokens),
                                   atol=1e-5, rtol=1e-5)


def test_attention_is_bidirectional_and_never_reaches_padding():
    model = small_model()
    tokens = torch.tensor([[5, 6, 7, 8, 0, 0]])
    changed = tokens.clone()
    changed[0, 3] = 9  # the last real token
    with torch.no_grad():
        before = model(tokens, need_weights=True)
        weights = model.layers[0].weights["self"]  # (1, heads, 6, 6)
        after = model(changed)
    assert (weights[..., 4:] == 0).all()
    assert weights[..., :4].gt(0).all()
    # Unlike a causal model, the first position sees the change at the last one.
    assert not torch.allclose(before[0, 0], after[0, 0], atol=1e-4)


def test_loss_counts_the_picked_positions_only():
    model = small_model()
    tokens = torch.tensor([[5, 6, 7, 8, 0, 0], [3, 4, 4, 3, 0, 0]])
    inputs = tokens.clone()
    inputs[0, 1] = MASK
    targets = torch.full_like(tokens, IGNORE)
    targets[0, 1], targets[1, 3] = 6, 3
    logits = model(inputs).double()
    expected = -(logits[0, 1].log_softmax(-1)[6] + logits[1, 3].log_softmax(-1)[3]) / 2
    torch.testing.assert_close(masked_lm_loss(model, inputs, targets).double(), expected)


def test_gradients_are_finite_and_reach_every_parameter():
    model = small_model()
    tokens = make_palindromes(8, torch.Generator().manual_seed(0))
    inputs, targets = mask_tokens(tokens, torch.Generator().manual_seed(0), vocab_size=12)
    masked_lm_loss(model, inputs, targets).backward()
    for name, parameter in model.named_parameters():
        if name == "token_embedding.weight":  # only the rows of tokens that occur get gradient
            assert torch.isfinite(parameter.grad).all()
            continue
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_input_errors_name_the_argument():
    model = small_model()
    with pytest.raises(TypeError, match=r"tokens must be an int64 torch.Tensor of token ids"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="11 positions, more than max_len=10"):
        model(torch.ones(1, 11, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tokens ids must lie in \[0, 12\), got ids from 0 to 12"):
        model(torch.tensor([[0, 12]]))


def test_public_names():
    assert attention.MaskedLanguageModel is MaskedLanguageModel
    assert attention.mask_tokens is mask_tokens
    assert attention.make_palindromes is make_palindromes

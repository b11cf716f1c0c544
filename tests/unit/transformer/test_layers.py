"""Our encoder and decoder layers against PyTorch's, and the decoder's causality."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from attention import DecoderLayer, EncoderLayer, causal_mask, padding_mask
from unit.helpers import randomise

SETTINGS = settings(max_examples=20, deadline=None)


@st.composite
def layer_case(draw: st.DrawFn) -> dict:
    # d_model >= 2: a layer norm over one feature divides 0 by sqrt(eps), amplifying rounding.
    num_heads, d_head = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    d_model = num_heads * d_head
    batch, source_len, target_len = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    torch.manual_seed(draw(st.integers(0, 2**31)))
    lengths = draw(st.lists(st.integers(1, source_len), min_size=batch, max_size=batch))
    return dict(
        d_model=d_model, num_heads=num_heads, d_ff=draw(st.integers(1, 8)),
        norm_first=draw(st.booleans()),
        source=torch.randn(batch, source_len, d_model, dtype=torch.float64),
        target=torch.randn(batch, target_len, d_model, dtype=torch.float64),
        padding=padding_mask(lengths, source_len),  # (batch, 1, S), True = real token
    )


@SETTINGS
@given(layer_case())
def test_encoder_layer_equals_pytorch_with_padding(case):
    theirs = randomise(nn.TransformerEncoderLayer(
        case["d_model"], case["num_heads"], case["d_ff"], dropout=0.0,
        batch_first=True, norm_first=case["norm_first"]))
    ours = EncoderLayer.from_torch(theirs)
    expected = theirs(case["source"], src_key_padding_mask=~case["padding"][:, 0])
    torch.testing.assert_close(ours(case["source"], case["padding"]), expected, atol=1e-10, rtol=0)


@SETTINGS
@given(layer_case())
def test_decoder_layer_equals_pytorch_with_causal_and_padding_masks(case):
    theirs = randomise(nn.TransformerDecoderLayer(
        case["d_model"], case["num_heads"], case["d_ff"], dropout=0.0,
        batch_first=True, norm_first=case["norm_first"]))
    ours = DecoderLayer.from_torch(theirs)
    target_len = case["target"].shape[1]
    expected = theirs(case["target"], case["source"], tgt_mask=~causal_mask(target_len),
                      memory_key_padding_mask=~case["padding"][:, 0])
    actual = ours(case["target"], case["source"], self_mask=causal_mask(target_len),
                  memory_mask=case["padding"])
    torch.testing.assert_close(actual, expected, atol=1e-10, rtol=0)


def test_layers_keep_their_attention_weights_when_asked():
    torch.manual_seed(0)
    layer = DecoderLayer(8, 2, 16).eval()
    target, memory = torch.randn(3, 4, 8), torch.randn(3, 6, 8)
    layer(target, memory, causal_mask(4), need_weights=True)
    assert layer.weights["self"].shape == (3, 2, 4, 4)
    assert layer.weights["cross"].shape == (3, 2, 4, 6)
    assert torch.all(layer.weights["self"][..., 0, 1:] == 0)  # the first position sees itself only
    torch.testing.assert_close(layer.weights["cross"].sum(-1), torch.ones(3, 2, 4))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: EncoderLayer(8, 2, 16)(torch.zeros(1, 3, 6)), ValueError, r"d_model=8\), got \(1, 3, 6\)"),
        (lambda: DecoderLayer(8, 2, 16)(torch.zeros(1, 3, 8), torch.zeros(1, 3, 4)), ValueError,
         r"memory must have shape .* got \(1, 3, 4\)"),
        (lambda: DecoderLayer(8, 2, 16)(torch.zeros(2, 3, 8), torch.zeros(1, 3, 8)), ValueError,
         r"batch sizes differ: x shape \(2, 3, 8\), memory shape \(1, 3, 8\)"),
        (lambda: EncoderLayer(8, 3, 16), ValueError, "not divisible by num_heads=3"),
        (lambda: EncoderLayer.from_torch(nn.TransformerEncoderLayer(8, 2, 16)), ValueError, "batch_first"),
        (lambda: EncoderLayer.from_torch(nn.TransformerEncoderLayer(8, 2, 16, activation="gelu",
                                                                    batch_first=True)),
         ValueError, "ReLU"),
        (lambda: DecoderLayer.from_torch(nn.TransformerEncoderLayer(8, 2, 16)), TypeError,
         "TransformerDecoderLayer"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("norm_first", [False, True])
def test_layers_built_without_biases_are_copied_and_compute_what_torch_computes(norm_first):
    torch.manual_seed(0)
    theirs_encoder = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                                norm_first=norm_first, bias=False).eval()
    theirs_decoder = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                                norm_first=norm_first, bias=False).eval()
    encoder, decoder = EncoderLayer.from_torch(theirs_encoder), DecoderLayer.from_torch(theirs_decoder)
    assert all(not name.endswith("bias") for name, _ in encoder.named_parameters())
    x, memory = torch.randn(2, 5, 8), torch.randn(2, 4, 8)
    with torch.no_grad():
        torch.testing.assert_close(encoder(x), theirs_encoder(x))
        torch.testing.assert_close(decoder(x, memory), theirs_decoder(x, memory))

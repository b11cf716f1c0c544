"""Our encoder and decoder layers against PyTorch's, and the decoder's causality."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from attention import DecoderLayer, EncoderLayer, Transformer, causal_mask, padding_mask
from attention.evolution import count_parameters

SETTINGS = settings(max_examples=20, deadline=None)


def randomise(module: nn.Module) -> nn.Module:
    """float64, eval mode, and every parameter random (biases and norms start at 0 and 1)."""
    module = module.double().eval()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0.0, 0.3)
    return module


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


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.parametrize("norm_first", [False, True])
def test_stack_equals_pytorch_transformer_and_has_as_many_parameters(norm_first):
    torch.manual_seed(0)
    theirs = randomise(nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=3,
                                      dim_feedforward=16, dropout=0.0, batch_first=True,
                                      norm_first=norm_first))
    ours = Transformer(8, 2, 2, 3, 16, norm_first=norm_first)
    assert count_parameters(ours) == count_parameters(theirs)
    loaded = Transformer.from_torch(theirs)
    source, target = torch.randn(2, 5, 8, dtype=torch.float64), torch.randn(2, 4, 8, dtype=torch.float64)
    padding = padding_mask([5, 2], 5)
    expected = theirs(source, target, tgt_mask=~causal_mask(4), src_key_padding_mask=~padding[:, 0],
                      memory_key_padding_mask=~padding[:, 0])
    actual = loaded(source, target, source_mask=padding, target_mask=causal_mask(4), memory_mask=padding)
    torch.testing.assert_close(actual, expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("config", [(512, 8, 6, 6, 2048), (16, 4, 1, 2, 40)])
def test_parameter_count_matches_pytorch(config):
    d_model, heads, n_enc, n_dec, d_ff = config
    with torch.device("meta"):
        ours = Transformer(d_model, heads, n_enc, n_dec, d_ff)
        theirs = nn.Transformer(d_model, heads, n_enc, n_dec, d_ff, batch_first=True)
    assert count_parameters(ours) == count_parameters(theirs)


@SETTINGS
@given(position=st.integers(0, 5), norm_first=st.booleans(), seed=st.integers(0, 2**31))
def test_decoder_cannot_see_the_future(position, norm_first, seed):
    torch.manual_seed(seed)
    model = Transformer(8, 2, 1, 2, 16, norm_first=norm_first).double().eval()
    source, target = torch.randn(1, 4, 8, dtype=torch.float64), torch.randn(1, 6, 8, dtype=torch.float64)
    changed = target.clone()
    changed[0, position] = torch.randn(8, dtype=torch.float64)
    before = model(source, target, target_mask=causal_mask(6))
    after = model(source, changed, target_mask=causal_mask(6))
    torch.testing.assert_close(after[:, :position], before[:, :position], atol=0, rtol=0)
    assert not torch.allclose(after[:, position:], before[:, position:])  # the control


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

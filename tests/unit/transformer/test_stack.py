"""The encoder-decoder stack against PyTorch's nn.Transformer, and its causality."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from attention import Transformer, causal_mask, padding_mask
from attention.versions.overview import count_parameters
from unit.helpers import randomise

SETTINGS = settings(max_examples=20, deadline=None)


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


@pytest.mark.slow
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

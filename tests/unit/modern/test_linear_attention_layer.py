"""The linear-attention layer: a GPT of such layers decodes from a fixed-size state, and
the layer refuses what it cannot use."""

from __future__ import annotations

import pytest
import torch

import attention
from attention.modern.alibi import ALiBiPositions
from attention.modern.linear_attention_layer import (
    LinearAttentionPattern,
    LinearSelfAttention,
)


def test_gpt_with_linear_attention_decodes_with_a_fixed_state():
    torch.manual_seed(0)
    model = attention.GPT(vocab_size=11, d_model=16, num_heads=2, num_layers=2, max_len=20,
                          attention=lambda layer: LinearSelfAttention(16, 2),
                          pattern=LinearAttentionPattern()).eval()
    tokens = torch.randint(11, (2, 12))
    with torch.no_grad():
        full = model(tokens)
        caches = model.new_caches(2, 12)
        steps = torch.cat([model(tokens[:, t:t + 1], caches) for t in range(12)], dim=1)
    torch.testing.assert_close(steps, full, rtol=1e-5, atol=1e-5)
    prompt = tokens[:1, :3]
    assert torch.equal(model.generate(prompt, 8), model.generate(prompt, 8, use_cache=False))


def test_layer_refuses_a_score_bias_and_a_wrong_cache():
    layer = LinearSelfAttention(8, 2)
    with pytest.raises(ValueError, match="bias"):
        layer(torch.randn(1, 3, 8), torch.arange(3), scheme=ALiBiPositions(2))
    with pytest.raises(TypeError, match="LinearAttentionState"):
        layer(torch.randn(1, 3, 8), torch.arange(3), cache=object())

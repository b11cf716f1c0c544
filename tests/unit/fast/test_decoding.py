"""Tests for decoding with a KV cache: the tiny language model."""

from __future__ import annotations

import pytest
import torch

from attention.fast.decoding import TinyLanguageModel


def make_model(num_kv_heads: int = 2) -> TinyLanguageModel:
    torch.manual_seed(0)
    model = TinyLanguageModel(vocab_size=40, d_model=16, num_heads=4, num_kv_heads=num_kv_heads,
                              num_layers=2, max_len=24)
    return model.double().eval()


@pytest.mark.parametrize("num_kv_heads", [1, 2, 4])
def test_cached_decoding_gives_the_logits_of_full_decoding(num_kv_heads):
    """The prompt in one go, then one token at a time, equals the whole sequence at once."""
    model = make_model(num_kv_heads)
    tokens = torch.randint(40, (3, 12), generator=torch.Generator().manual_seed(1))  # (batch, T)
    with torch.no_grad():
        full = model(tokens)  # (batch, T, vocab)
        caches = model.new_caches(batch=3, capacity=12)
        steps = [model(tokens[:, :5], caches)] + [model(tokens[:, t:t + 1], caches) for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=0, atol=1e-10)
    assert all(len(cache) == 12 for cache in caches)


@pytest.mark.slow
@pytest.mark.parametrize("num_kv_heads", [1, 4])
def test_cached_generation_gives_the_tokens_of_full_generation(num_kv_heads):
    model = make_model(num_kv_heads)
    prompt = torch.randint(40, (2, 4), generator=torch.Generator().manual_seed(2))
    cached = model.generate(prompt, num_tokens=20)
    assert cached.shape == (2, 24) and torch.equal(cached[:, :4], prompt)
    assert torch.equal(cached, model.generate(prompt, num_tokens=20, use_cache=False))


def test_generation_refuses_what_it_cannot_position():
    model = make_model()
    with pytest.raises(ValueError, match=r"a prompt of 5 and 20 new tokens exceed max_len=24"):
        model.generate(torch.zeros(1, 5, dtype=torch.long), num_tokens=20)
    with pytest.raises(ValueError, match=r"prompt must have shape \(batch, positions >= 1\), got \(1, 0\)"):
        model.generate(torch.zeros(1, 0, dtype=torch.long), num_tokens=2)

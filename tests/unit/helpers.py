"""Helpers shared by the unit tests of several modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attention import Seq2SeqTransformer
from attention.transformer.tasks import DigitTask


def small_model(task: DigitTask, **options) -> Seq2SeqTransformer:
    torch.manual_seed(0)
    return Seq2SeqTransformer(task.vocab_size, task.vocab_size, d_model=16, num_heads=2,
                              num_encoder_layers=1, num_decoder_layers=1, d_ff=32,
                              max_len=task.max_len + 1, **options).eval()


def randomise(module: nn.Module) -> nn.Module:
    """float64, eval mode, and every parameter random (biases and norms start at 0 and 1)."""
    module = module.double().eval()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0.0, 0.3)
    return module


def snapshot(cache) -> dict:
    """Every attribute of a cache (tensors copied), to tell later whether a call changed it."""
    return {name: value.clone() if isinstance(value, torch.Tensor) else value for name, value in vars(cache).items()}


def unchanged(cache, before: dict) -> bool:
    """Whether `cache` is as its `snapshot` was."""
    now = snapshot(cache)
    return now.keys() == before.keys() and all(
        torch.equal(now[name], old) if isinstance(old, torch.Tensor) else now[name] == old
        for name, old in before.items())


def assert_a_failed_call_keeps_the_caches(model, tokens, capacity: int, failing_call, error, words: str,
                                          tolerance: float) -> None:
    """Fill `model`'s caches with the first 3 tokens; `failing_call(caches)` must raise `error`
    matching `words` and change no cache, which then decodes the rest as one full pass does."""
    with torch.no_grad():
        full = model(tokens)
        caches = model.new_caches(tokens.shape[0], capacity)
        model(tokens[:, :3], caches)
        before = [snapshot(cache) for cache in caches]
        with pytest.raises(error, match=words):
            failing_call(caches)
        assert all(unchanged(cache, old) for cache, old in zip(caches, before))
        rest = model(tokens[:, 3:], caches)
    torch.testing.assert_close(rest, full[:, 3:], rtol=tolerance, atol=tolerance)

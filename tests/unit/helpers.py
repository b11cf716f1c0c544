"""Helpers shared by the unit tests of several modules."""

from __future__ import annotations

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

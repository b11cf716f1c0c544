"""Inputs are checked once, at the door: a mask goes through the mask rule of
`attention.validation` once per mask the caller passed, however many layers,
heads or paths it then travels through."""

from __future__ import annotations

import pytest
import torch

from attention import (
    DecoderLayer,
    EncoderLayer,
    GroupedQueryAttention,
    MultiHeadAttention,
    Transformer,
    causal_mask,
    masked_softmax,
    scaled_dot_product_attention,
    validation,
)
from attention.fast.grouped_query import grouped_query_attention


@pytest.fixture
def mask_checks(monkeypatch):
    calls = []
    rule = validation.check_mask

    def counted(*args, **kwargs):
        calls.append(args)
        return rule(*args, **kwargs)

    for rules in (validation.arrays, validation.tensors):  # the rules that call the mask rule
        monkeypatch.setattr(rules, "check_mask", counted)
    return calls


x, memory = torch.randn(2, 3, 8), torch.randn(2, 4, 8)
keys = torch.ones(2, 1, 4, dtype=torch.bool)

CALLS = {
    "masked_softmax": (1, lambda: masked_softmax(torch.randn(3, 4), torch.ones(3, 4, dtype=torch.bool))),
    "scaled_dot_product_attention": (1, lambda: scaled_dot_product_attention(x, memory, memory, keys)),
    "grouped_query_attention": (1, lambda: grouped_query_attention(
        torch.randn(2, 4, 3, 2), torch.randn(2, 2, 4, 2), torch.randn(2, 2, 4, 2), keys[:, None])),
    "MultiHeadAttention, weights": (1, lambda: MultiHeadAttention(8, 2)(x, memory, memory, keys)),
    "MultiHeadAttention, fused": (1, lambda: MultiHeadAttention(8, 2)(x, memory, memory, keys, need_weights=False)),
    "GroupedQueryAttention with a cache": (1, lambda: GroupedQueryAttention(8, 4, 2)(
        x, x, x, causal_mask(3), causal=True, cache=GroupedQueryAttention(8, 4, 2).new_cache(2, 3))),
    "EncoderLayer": (1, lambda: EncoderLayer(8, 2, 16)(memory, keys, need_weights=True)),
    "DecoderLayer": (2, lambda: DecoderLayer(8, 2, 16)(x, memory, causal_mask(3), keys)),
    "Transformer, 3 layers each": (3, lambda: Transformer(8, 2, 3, 3, 16)(
        memory, x, source_mask=keys, target_mask=causal_mask(3), memory_mask=keys)),
}


@pytest.mark.parametrize("name", CALLS)
def test_each_mask_is_checked_once(name, mask_checks):
    expected, call = CALLS[name]
    call()
    assert len(mask_checks) == expected, f"{name}: {len(mask_checks)} mask checks for {expected} masks"

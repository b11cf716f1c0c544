"""attention: the code of the book *How attention evolved*.

Every function and module the chapters teach lives here, tested, so that what a
reader copies from a page is the code the tests cover.

The NumPy parts are imported at once. The PyTorch parts are imported the first
time one of their names is used (`attention.MultiHeadAttention`, or
`from attention import MultiHeadAttention`), so NumPy-only code does not pay the
second or two that importing torch costs.
"""

from __future__ import annotations

import importlib
from typing import Any

from attention.kernel_regression import (
    attention_pooling,
    average_pooling,
    gaussian_kernel_weights,
    make_regression_data,
    nadaraya_watson,
    squared_distances,
    target_function,
)
from attention.numpy_attention import (
    numpy_causal_mask,
    numpy_masked_softmax,
    numpy_padding_mask,
    numpy_scaled_dot_product_attention,
)
from attention.plotting import plot_attention_weights, use_book_style
from attention.softmax import (
    entropy,
    naive_softmax,
    softmax,
    softmax_jacobian,
    softmax_with_temperature,
)

# name -> the module that defines it; these modules import torch.
_TORCH_NAMES = {
    "AdditiveAttention": "attention.additive",
    "CrossAttention": "attention.cross_attention",
    "MultiHeadAttention": "attention.multi_head",
    "SelfAttention": "attention.self_attention",
    "causal_mask": "attention.masks",
    "padding_mask": "attention.masks",
    "masked_softmax": "attention.scaled_dot_product",
    "scaled_dot_product_attention": "attention.scaled_dot_product",
    # The Transformer (chapters 11 to 13)
    "PositionalEncoding": "attention.positional_encoding",
    "sinusoidal_encoding": "attention.positional_encoding",
    "EncoderLayer": "attention.transformer_layers",
    "DecoderLayer": "attention.transformer_layers",
    "Transformer": "attention.transformer",
    "Seq2SeqTransformer": "attention.seq2seq",
    "greedy_decode": "attention.seq2seq",
    # Making attention fast (chapters 15 to 17)
    "online_softmax": "attention.online_normalizer",
    "tiled_attention": "attention.tiling",
    "KVCache": "attention.kv_cache",
    "GroupedQueryAttention": "attention.grouped_query",
    # Attention in today's language models (Part V)
    "book_text": "attention.corpus",
    "CharTokenizer": "attention.corpus",
    "GPT": "attention.gpt",
    "CausalSelfAttention": "attention.gpt",
    "CausalPattern": "attention.gpt",
    "biased_attention": "attention.score_bias",
    "PositionScheme": "attention.position_schemes",
    "LearnedPositions": "attention.position_schemes",
    "SinusoidalPositions": "attention.position_schemes",
    "train_language_model": "attention.language_modeling",
    "apply_rotary": "attention.rotary",
    "RotaryPositions": "attention.rotary",
    "alibi_slopes": "attention.alibi",
    "alibi_bias": "attention.alibi",
    "ALiBiPositions": "attention.alibi",
    "sliding_window_mask": "attention.sliding_window",
    "receptive_field": "attention.sliding_window",
    "RollingKVCache": "attention.sliding_window",
    "SlidingWindowPattern": "attention.sliding_window",
    "local_global_mask": "attention.sparse_patterns",
    "bigbird_mask": "attention.sparse_patterns",
    "attention_flops": "attention.sparse_patterns",
    "linear_attention": "attention.linear_attention",
    "LinearAttentionState": "attention.linear_attention",
    "LinearSelfAttention": "attention.linear_attention_layer",
    "LinearAttentionPattern": "attention.linear_attention_layer",
    "MultiHeadLatentAttention": "attention.latent_attention",
    "LatentCache": "attention.latent_attention",
    "mla_cache_bytes": "attention.latent_attention",
}


def __getattr__(name: str) -> Any:
    if name not in _TORCH_NAMES:
        raise AttributeError(f"module 'attention' has no attribute {name!r}")
    value = getattr(importlib.import_module(_TORCH_NAMES[name]), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_TORCH_NAMES))


__all__ = [
    # NumPy
    "attention_pooling",
    "average_pooling",
    "entropy",
    "gaussian_kernel_weights",
    "make_regression_data",
    "nadaraya_watson",
    "naive_softmax",
    "numpy_causal_mask",
    "numpy_masked_softmax",
    "numpy_padding_mask",
    "numpy_scaled_dot_product_attention",
    "plot_attention_weights",
    "softmax",
    "softmax_jacobian",
    "softmax_with_temperature",
    "squared_distances",
    "target_function",
    "use_book_style",
    # PyTorch
    *_TORCH_NAMES,
]

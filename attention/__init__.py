"""attention: the code of the book *How attention evolved*.

Every function and module the chapters teach lives here, tested, so that what a
reader copies from a page is the code the tests cover.

The code is laid out like the book, a subpackage per part:
`attention.foundations` (Part I), `attention.versions` (Part II),
`attention.transformer.stack` (Part III), `attention.fast` (Part IV); `attention.book`
holds what serves the site (figure style, measuring, the chapter table). Every
public name is also here, at the top: `attention.MultiHeadAttention`.

The NumPy parts are imported at once. The PyTorch parts are imported the first
time one of their names is used (`attention.MultiHeadAttention`, or
`from attention import MultiHeadAttention`), so NumPy-only code does not pay the
second or two that importing torch costs. The modules' old, flat names
(`attention.fast.tiled_attention`, `attention.fast.cost`, ...) still import: see `attention._moved`.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from attention import _moved
from attention.book.plotting import plot_attention_weights, use_book_style
from attention.foundations.kernel_regression import (
    attention_pooling,
    average_pooling,
    gaussian_kernel_weights,
    make_regression_data,
    nadaraya_watson,
    squared_distances,
    target_function,
)
from attention.foundations.softmax import (
    entropy,
    naive_softmax,
    softmax,
    softmax_jacobian,
    softmax_with_temperature,
)
from attention.versions.numpy_attention import (
    numpy_causal_mask,
    numpy_masked_softmax,
    numpy_padding_mask,
    numpy_scaled_dot_product_attention,
)

# name -> the module that defines it; these modules import torch.
_TORCH_NAMES = {
    "AdditiveAttention": "attention.versions.additive",
    "CrossAttention": "attention.versions.cross_attention",
    "MultiHeadAttention": "attention.versions.multi_head",
    "SelfAttention": "attention.versions.self_attention",
    "causal_mask": "attention.versions.masks",
    "padding_mask": "attention.versions.masks",
    "masked_softmax": "attention.versions.scaled_dot_product",
    "scaled_dot_product_attention": "attention.versions.scaled_dot_product",
    # Where attention was born: a recurrent encoder-decoder (chapter 3)
    "BidirectionalGRUEncoder": "attention.versions.rnn_encoder_decoder",
    "GRUDecoder": "attention.versions.rnn_encoder_decoder",
    "RNNEncoderDecoder": "attention.versions.rnn_encoder_decoder",
    # The Transformer (chapters 11 to 13)
    "PositionalEncoding": "attention.transformer.positional_encoding",
    "sinusoidal_encoding": "attention.transformer.positional_encoding",
    "EncoderLayer": "attention.transformer.layers",
    "DecoderLayer": "attention.transformer.layers",
    "Transformer": "attention.transformer.stack",
    "Seq2SeqTransformer": "attention.transformer.seq2seq",
    "greedy_decode": "attention.transformer.seq2seq",
    # The three families (chapter 14)
    "MaskedLanguageModel": "attention.transformer.encoder_models",
    "make_palindromes": "attention.transformer.encoder_models",
    "mask_tokens": "attention.transformer.encoder_models",
    "VisionTransformer": "attention.transformer.vision_transformer",
    "patchify": "attention.transformer.vision_transformer",
    "make_shape_images": "attention.transformer.shape_images",
    # Making attention fast (chapters 15 to 17)
    "online_softmax": "attention.fast.online_softmax",
    "tiled_attention": "attention.fast.tiled_attention",
    "KVCache": "attention.fast.kv_cache",
    "GroupedQueryAttention": "attention.fast.grouped_query",
    # Attention in today's language models (Part V)
    "book_text": "attention.modern.corpus",
    "CharTokenizer": "attention.modern.corpus",
    "GPT": "attention.modern.gpt",
    "CausalSelfAttention": "attention.modern.causal_self_attention",
    "CausalPattern": "attention.modern.causal_pattern",
    "biased_attention": "attention.modern.score_bias",
    "PositionScheme": "attention.modern.position_schemes",
    "LearnedPositions": "attention.modern.position_schemes",
    "SinusoidalPositions": "attention.modern.position_schemes",
    "train_language_model": "attention.modern.language_modeling",
    "book_tokens": "attention.modern.language_modeling",
    "apply_rotary": "attention.modern.rotary",
    "RotaryPositions": "attention.modern.rotary",
    "alibi_slopes": "attention.modern.alibi",
    "alibi_bias": "attention.modern.alibi",
    "ALiBiPositions": "attention.modern.alibi",
    "sliding_window_mask": "attention.modern.sliding_window",
    "receptive_field": "attention.modern.sliding_window",
    "RollingKVCache": "attention.modern.sliding_window",
    "SlidingWindowPattern": "attention.modern.sliding_window",
    "local_global_mask": "attention.modern.sparse_patterns",
    "bigbird_mask": "attention.modern.sparse_patterns",
    "attention_flops": "attention.modern.sparse_patterns",
    "linear_attention": "attention.modern.linear_attention",
    "LinearAttentionState": "attention.modern.linear_attention",
    "LinearSelfAttention": "attention.modern.linear_attention_layer",
    "LinearAttentionPattern": "attention.modern.linear_attention_layer",
    "MultiHeadLatentAttention": "attention.modern.latent_attention",
    "LatentCache": "attention.modern.latent_attention",
    "mla_cache_bytes": "attention.modern.latent_attention",
}


_SUBPACKAGES = ("foundations", "versions", "transformer", "fast", "book")
_OLD_MODULES = tuple(old.removeprefix("attention.") for old in _moved.MOVED)


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        value = getattr(importlib.import_module(_TORCH_NAMES[name]), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    if name in _SUBPACKAGES or name in _OLD_MODULES:  # `attention.fast`, `attention.book.plotting`
        return importlib.import_module(f"attention.{name}")
    raise AttributeError(f"module 'attention' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_TORCH_NAMES) | set(_SUBPACKAGES))


class _Package(types.ModuleType):
    """The package, kept from having a function replaced by a module of the same name.

    Importing a submodule sets it as an attribute of its package: without this,
    `import attention.foundations.softmax` (the old module name) would make `attention.foundations.softmax`
    the module instead of the function.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in __all__:
            return
        super().__setattr__(name, value)


_moved.install()
sys.modules[__name__].__class__ = _Package


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

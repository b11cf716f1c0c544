"""attention: the code of the book *How attention evolved*.

Every function and module the chapters teach lives here, tested, so that what a
reader copies from a page is the code the tests cover.
"""

from attention.additive import AdditiveAttention
from attention.cross_attention import CrossAttention
from attention.kernel_regression import (
    attention_pooling,
    average_pooling,
    gaussian_kernel_weights,
    make_regression_data,
    nadaraya_watson,
    squared_distances,
    target_function,
)
from attention.masks import causal_mask, padding_mask
from attention.multi_head import MultiHeadAttention
from attention.numpy_attention import (
    numpy_causal_mask,
    numpy_masked_softmax,
    numpy_padding_mask,
    numpy_scaled_dot_product_attention,
)
from attention.plotting import plot_attention_weights, use_book_style
from attention.scaled_dot_product import masked_softmax, scaled_dot_product_attention
from attention.self_attention import SelfAttention
from attention.softmax import (
    entropy,
    naive_softmax,
    softmax,
    softmax_jacobian,
    softmax_with_temperature,
)

__all__ = [
    "attention_pooling",
    "average_pooling",
    "gaussian_kernel_weights",
    "make_regression_data",
    "nadaraya_watson",
    "plot_attention_weights",
    "squared_distances",
    "target_function",
    "use_book_style",
    "entropy",
    "naive_softmax",
    "softmax",
    "softmax_jacobian",
    "softmax_with_temperature",
    "AdditiveAttention",
    "CrossAttention",
    "MultiHeadAttention",
    "SelfAttention",
    "causal_mask",
    "masked_softmax",
    "numpy_causal_mask",
    "numpy_masked_softmax",
    "numpy_padding_mask",
    "numpy_scaled_dot_product_attention",
    "padding_mask",
    "scaled_dot_product_attention",
]

"""Every bad input gets a clear error: a ValueError or TypeError that names the argument.

One table of calls, over every public function and module of the package (the
names of `attention.__all__` and the public names of each module), each with
the error it must raise and a pattern its message must match. A last test
checks that the table leaves no public name out. Part V's rows are in
tests/unit/modern/bad_input_cases.py.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest
import torch
from torch import nn

import attention
from unit.modern import bad_input_cases as part_v
from attention import (
    AdditiveAttention,
    CrossAttention,
    DecoderLayer,
    EncoderLayer,
    GroupedQueryAttention,
    KVCache,
    MultiHeadAttention,
    PositionalEncoding,
    SelfAttention,
    Seq2SeqTransformer,
    Transformer,
    attention_pooling,
    average_pooling,
    causal_mask,
    entropy,
    gaussian_kernel_weights,
    greedy_decode,
    make_regression_data,
    masked_softmax,
    nadaraya_watson,
    naive_softmax,
    numpy_causal_mask,
    numpy_masked_softmax,
    numpy_padding_mask,
    numpy_scaled_dot_product_attention,
    online_softmax,
    padding_mask,
    plot_attention_weights,
    scaled_dot_product_attention,
    sinusoidal_encoding,
    softmax,
    softmax_jacobian,
    softmax_with_temperature,
    squared_distances,
    target_function,
    tiled_attention,
)
from attention.book.plotting import is_private_use
from attention.fast.cost import (
    additive_attention_cost,
    dot_product_attention_cost,
    kv_cache_bytes,
    matmul_flops,
    multi_head_attention_cost,
    projection_cost,
    softmax_flops,
)
from attention.fast.decoding import DecoderBlock, TinyLanguageModel
from attention.fast.grouped_query import grouped_query_attention
from attention.transformer.layers import FeedForward
from attention.transformer.positional_encoding import frequencies, offset_matrix
from attention.transformer.tasks import DigitTask, decoder_input
from attention.transformer.training import (
    Adam,
    sequence_accuracy,
    sequence_loss,
    train,
    warmup_then_decay,
)
from attention.fast.tiled_steps import tiled_attention_steps
from attention.transformer.encoder_models import MaskedLanguageModel, make_palindromes, mask_tokens, masked_lm_loss
from attention.transformer.shape_images import make_shape_images
from attention.transformer.vision_transformer import VisionTransformer, patchify
from attention.versions.rnn_encoder_decoder import (
    BidirectionalGRUEncoder,
    GRUDecoder,
    RNNEncoderDecoder,
    check_tokens,
    source_lengths,
)
from attention.versions.overview import (
    count_parameters,
    evolution_table,
    version_cost,
    version_module,
)

F32, F64 = torch.float32, torch.float64
LONG = torch.long


def t(*shape, dtype=F32):
    return torch.zeros(shape, dtype=dtype)


def ones_mask(*shape):
    return torch.ones(shape, dtype=torch.bool)


def a(*shape):
    return np.zeros(shape)


def grad_tensor(*shape):
    return torch.zeros(shape, requires_grad=True)


mha = MultiHeadAttention(12, 3)
gqa = GroupedQueryAttention(12, 4, 2)
additive = AdditiveAttention(4, 6, 8)
cross = CrossAttention(4, 6, 3)
self_attention = SelfAttention(8, 4, 6)
encoder_layer = EncoderLayer(8, 2, 16)
decoder_layer = DecoderLayer(8, 2, 16)
transformer = Transformer(8, 2, 1, 1, 16)
encoding = PositionalEncoding(8, 10)
seq2seq = Seq2SeqTransformer(13, 13, 8, 2, 1, 1, 16, max_len=6)
tiny = TinyLanguageModel(20, 8, 2, 1, 1, max_len=8)
task = DigitTask(max_len=4)


def ids(*shape):
    return torch.ones(shape, dtype=LONG)


gru_encoder = BidirectionalGRUEncoder(10, 4, 6)
gru_decoder = GRUDecoder(10, 4, 6, 12)
rnn = RNNEncoderDecoder(10, 4, 6)
vit = VisionTransformer(8, 4, 1, 3, 8, 2, 1, 16)
mlm = MaskedLanguageModel(12, 8, 2, 16, 1, 6)


def cache(dtype=F32):
    return KVCache(2, 2, 4, 3, dtype=dtype)


# (id, call, error, pattern of the message)
CASES = [
    # ---- softmax (NumPy)
    ("softmax/scalar", lambda: softmax(3.0), ValueError, "at least one axis"),
    ("softmax/axis", lambda: softmax([1.0, 2.0], axis=1), ValueError, r"axis=1 is out of range"),
    ("softmax/axis-float", lambda: softmax([1.0, 2.0], axis=0.5), TypeError, "axis must be an integer"),
    ("softmax/strings", lambda: softmax(["a"]), TypeError, "logits must hold real numbers"),
    ("softmax/nan", lambda: softmax([1.0, np.nan]), ValueError, "NaN or infinite logit"),
    ("softmax/grad-tensor", lambda: softmax(grad_tensor(3)), TypeError, "requires grad"),
    ("naive_softmax/axis", lambda: naive_softmax([1.0], axis=-2), ValueError, "axis=-2 is out of range"),
    ("temperature/zero", lambda: softmax_with_temperature([1.0], 0.0), ValueError, "temperature must be positive"),
    ("temperature/str", lambda: softmax_with_temperature([1.0], "1"), TypeError, "temperature must be a real number"),
    ("temperature/inf", lambda: softmax_with_temperature([1.0], np.inf), ValueError, "temperature must be positive and finite"),
    ("jacobian/matrix", lambda: softmax_jacobian(a(2, 2)), ValueError, r"one vector of logits, got shape \(2, 2\)"),
    ("entropy/axis", lambda: entropy([0.5, 0.5], axis=3), ValueError, "axis=3 is out of range"),
    ("entropy/grad-tensor", lambda: entropy(grad_tensor(2)), TypeError, "probabilities is a torch tensor that requires grad"),
    # ---- kernel regression (NumPy)
    ("pooling/rows", lambda: attention_pooling([[0.5, 0.6]], [1.0, 2.0]), ValueError, "sum to 1"),
    ("pooling/values", lambda: attention_pooling([[0.5, 0.5]], [1.0]), ValueError, "2 keys but 1 values"),
    ("pooling/grad-tensor", lambda: attention_pooling(grad_tensor(1, 1), [1.0]), TypeError, "weights is a torch tensor"),
    ("average/empty", lambda: average_pooling([], [1.0], [1.0]), ValueError, "queries is empty"),
    ("distances/features", lambda: squared_distances(a(2, 3), a(2, 2)), ValueError, "queries have 3 features but keys have 2"),
    ("gaussian/bandwidth", lambda: gaussian_kernel_weights([0.0], [1.0], 0.0), ValueError, "bandwidth must be positive"),
    ("gaussian/bandwidth-str", lambda: gaussian_kernel_weights([0.0], [1.0], "1"), TypeError, "bandwidth must be a real number"),
    ("nadaraya/values", lambda: nadaraya_watson([0.0], [1.0, 2.0], [1.0], 1.0), ValueError, "2 keys but 1 values"),
    ("nadaraya/nan", lambda: nadaraya_watson([np.nan], [1.0], [1.0], 1.0), ValueError, "queries contains NaN"),
    ("regression/points", lambda: make_regression_data(0), ValueError, "num_points must be positive"),
    ("regression/points-float", lambda: make_regression_data(2.5), TypeError, "num_points must be an integer"),
    ("regression/noise", lambda: make_regression_data(5, noise=-1.0), ValueError, "noise must be non-negative"),
    ("target/strings", lambda: target_function(["x"]), TypeError, "x must hold real numbers"),
    # ---- NumPy attention and masks
    ("numpy_causal/negative", lambda: numpy_causal_mask(-1), ValueError, "num_queries must be non-negative"),
    ("numpy_causal/bool", lambda: numpy_causal_mask(True), TypeError, "num_queries must be an integer"),
    ("numpy_causal/more-queries", lambda: numpy_causal_mask(3, 2), ValueError, "num_keys >= num_queries"),
    ("numpy_padding/2d", lambda: numpy_padding_mask([[1]], 2), ValueError, r"1-D \(batch,\)"),
    ("numpy_padding/long", lambda: numpy_padding_mask([3], 2), ValueError, r"lengths\[0\] = 3 is out of range"),
    ("numpy_padding/floats", lambda: numpy_padding_mask([1.5], 2), TypeError, "lengths must be integers"),
    ("numpy_masked_softmax/axis", lambda: numpy_masked_softmax(a(2, 3), axis=2), ValueError, "axis=2 is out of range"),
    ("numpy_masked_softmax/mask-shape", lambda: numpy_masked_softmax(a(2, 3), np.ones((3, 2), bool)), ValueError, r"mask of shape \(3, 2\) does not broadcast"),
    ("numpy_masked_softmax/mask-int", lambda: numpy_masked_softmax(a(2, 3), np.ones((2, 3))), TypeError, "mask must be boolean"),
    ("numpy_masked_softmax/nan", lambda: numpy_masked_softmax([[np.nan, 1.0]]), ValueError, "scores has a NaN"),
    ("numpy_masked_softmax/nan-allowed", lambda: numpy_masked_softmax([[np.nan, 1.0]], [[True, True]]), ValueError, "scores has a NaN"),
    ("numpy_masked_softmax/inf", lambda: numpy_masked_softmax([[np.inf, 1.0]], [[True, False]]), ValueError, r"scores has a NaN or infinite entry \(inf at index \(0, 0\)"),
    ("numpy_sdpa/d_k", lambda: numpy_scaled_dot_product_attention(a(2, 3), a(4, 2), a(4, 1)), ValueError, "query has d_k=3 but key has d_k=2"),
    ("numpy_sdpa/d_k-zero", lambda: numpy_scaled_dot_product_attention(a(2, 0), a(4, 0), a(4, 1)), ValueError, "d_k=0"),
    ("numpy_sdpa/values", lambda: numpy_scaled_dot_product_attention(a(2, 3), a(4, 3), a(5, 1)), ValueError, "key has 4 positions but value has 5"),
    ("numpy_sdpa/1d", lambda: numpy_scaled_dot_product_attention(a(3), a(4, 3), a(4, 1)), ValueError, "query must have at least 2 dims"),
    ("numpy_sdpa/batch", lambda: numpy_scaled_dot_product_attention(a(2, 2, 3), a(3, 4, 3), a(3, 4, 1)), ValueError, "batch dims do not broadcast"),
    ("numpy_sdpa/scale", lambda: numpy_scaled_dot_product_attention(a(2, 3), a(4, 3), a(4, 1), scale=0.0), ValueError, "scale must be positive"),
    ("numpy_sdpa/scale-bool", lambda: numpy_scaled_dot_product_attention(a(2, 3), a(4, 3), a(4, 1), scale=True), TypeError, "scale must be a real number"),
    ("numpy_sdpa/nan", lambda: numpy_scaled_dot_product_attention(np.full((1, 2), np.nan), a(3, 2), a(3, 1)), ValueError, "query has a NaN"),
    ("numpy_sdpa/nan-masked", lambda: numpy_scaled_dot_product_attention(np.full((1, 2), np.nan), a(3, 2), a(3, 1), np.ones((1, 3), bool)), ValueError, "query has a NaN"),
    ("numpy_sdpa/nan-value", lambda: numpy_scaled_dot_product_attention(a(1, 2), a(3, 2), np.full((3, 1), np.nan)), ValueError, "value has a NaN"),
    ("numpy_sdpa/grad-tensor", lambda: numpy_scaled_dot_product_attention(grad_tensor(2, 3), a(4, 3), a(4, 1)), TypeError, "query is a torch tensor that requires grad"),
    ("numpy_sdpa/complex", lambda: numpy_scaled_dot_product_attention(np.zeros((2, 3), complex), a(4, 3), a(4, 1)), TypeError, "query must hold real numbers"),
    # ---- PyTorch masks and softmax
    ("causal_mask/negative", lambda: causal_mask(-2), ValueError, "num_queries must be non-negative"),
    ("causal_mask/float", lambda: causal_mask(2.0), TypeError, "num_queries must be an integer"),
    ("causal_mask/more-queries", lambda: causal_mask(4, 3), ValueError, "num_keys >= num_queries"),
    ("padding_mask/float-tensor", lambda: padding_mask(torch.tensor([1.0]), 2), TypeError, "integer tensor"),
    ("padding_mask/long", lambda: padding_mask([5], 4), ValueError, r"lengths\[0\] = 5 is out of range"),
    ("padding_mask/max_len", lambda: padding_mask([1], -1), ValueError, "max_len must be non-negative"),
    ("padding_mask/int", lambda: padding_mask(3, 4), TypeError, "lengths must be a sequence of ints.*got int"),
    ("padding_mask/none", lambda: padding_mask(None, 4), TypeError, "lengths must be a sequence of ints.*got NoneType"),
    ("padding_mask/dict", lambda: padding_mask({1: 2}, 4), TypeError, "lengths must be a sequence of ints.*got dict"),
    ("padding_mask/str", lambda: padding_mask("ab", 4), TypeError, "lengths must be a sequence of ints.*got str"),
    ("masked_softmax/dim", lambda: masked_softmax(t(2, 3), dim=2), ValueError, r"dim=2 is out of range for shape \(2, 3\)"),
    ("masked_softmax/dim-float", lambda: masked_softmax(t(2, 3), dim=1.0), TypeError, "dim must be an integer"),
    ("masked_softmax/ints", lambda: masked_softmax(t(2, 3, dtype=LONG)), TypeError, "scores must be floating point"),
    ("masked_softmax/numpy", lambda: masked_softmax(a(2, 3)), TypeError, "scores must be a torch.Tensor"),
    ("masked_softmax/mask-shape", lambda: masked_softmax(t(2, 3), ones_mask(3, 3)), ValueError, r"mask of shape \(3, 3\) does not broadcast"),
    ("masked_softmax/mask-extra-dims", lambda: masked_softmax(t(2, 3), ones_mask(1, 2, 3)), ValueError, r"mask of shape \(1, 2, 3\)"),
    ("masked_softmax/mask-float", lambda: masked_softmax(t(2, 3), t(2, 3)), TypeError, "mask must be boolean"),
    ("online_softmax/dim", lambda: online_softmax(t(2, 3), dim=-3), ValueError, "dim=-3 is out of range"),
    ("online_softmax/block", lambda: online_softmax(t(2, 3), block_size=0), ValueError, "block_size must be positive"),
    ("online_softmax/block-float", lambda: online_softmax(t(2, 3), block_size=1.5), TypeError, "block_size must be an integer"),
    ("online_softmax/ints", lambda: online_softmax(t(3, dtype=LONG)), TypeError, "x must be floating point"),
    # ---- scaled dot-product attention
    ("sdpa/d_k", lambda: scaled_dot_product_attention(t(2, 3), t(4, 2), t(4, 1)), ValueError, "query has d_k=3 but key has d_k=2"),
    ("sdpa/d_k-zero", lambda: scaled_dot_product_attention(t(2, 0), t(4, 0), t(4, 1)), ValueError, "d_k=0"),
    ("sdpa/values", lambda: scaled_dot_product_attention(t(2, 3), t(4, 3), t(5, 1)), ValueError, "key has 4 positions but value has 5"),
    ("sdpa/dtypes", lambda: scaled_dot_product_attention(t(2, 3), t(4, 3, dtype=F64), t(4, 1)), TypeError, "share a dtype"),
    ("sdpa/numpy", lambda: scaled_dot_product_attention(a(2, 3), t(4, 3), t(4, 1)), TypeError, "query must be a torch.Tensor"),
    ("sdpa/dropout-float", lambda: scaled_dot_product_attention(t(2, 3), t(4, 3), t(4, 1), dropout=0.1), TypeError, r"dropout must be a module.*nn\.Dropout\(0\.1\)"),
    ("sdpa/scale", lambda: scaled_dot_product_attention(t(2, 3), t(4, 3), t(4, 1), scale=-1.0), ValueError, "scale must be positive"),
    ("sdpa/mask-shape", lambda: scaled_dot_product_attention(t(2, 3), t(4, 3), t(4, 1), ones_mask(2, 5)), ValueError, r"mask of shape \(2, 5\) does not broadcast to the scores of shape \(2, 4\)"),
    ("sdpa/mask-not-tensor", lambda: scaled_dot_product_attention(t(2, 3), t(4, 3), t(4, 1), [[True] * 4] * 2), TypeError, "mask must be a bool torch.Tensor"),
    ("tiled/d-zero", lambda: tiled_attention(t(2, 0), t(4, 0), t(4, 1)), ValueError, "d_k=0"),
    ("tiled/causal", lambda: tiled_attention(t(2, 3), t(4, 3), t(4, 1), causal=1), TypeError, "causal must be True or False"),
    ("tiled/block", lambda: tiled_attention(t(2, 3), t(4, 3), t(4, 1), block_size=0), ValueError, "block_size must be positive"),
    ("tiled/batch", lambda: tiled_attention(t(2, 2, 3), t(3, 4, 3), t(3, 4, 1)), ValueError, "batch dims do not broadcast"),
    # ---- grouped-query attention (function)
    ("gqa_fn/3d", lambda: grouped_query_attention(t(2, 5, 4), t(2, 7, 4), t(2, 7, 4)), ValueError, r"query must have shape \(batch, heads, positions, features\), got \(2, 5, 4\)"),
    ("gqa_fn/heads", lambda: grouped_query_attention(t(1, 6, 5, 4), t(1, 4, 7, 4), t(1, 4, 7, 4)), ValueError, r"query has 6 heads.*key's 4.*query shape \(1, 6, 5, 4\)"),
    ("gqa_fn/batch", lambda: grouped_query_attention(t(1, 4, 5, 4), t(2, 2, 7, 4), t(2, 2, 7, 4)), ValueError, r"batch sizes differ: query shape \(1, 4, 5, 4\)"),
    ("gqa_fn/d", lambda: grouped_query_attention(t(1, 4, 5, 4), t(1, 2, 7, 3), t(1, 2, 7, 4)), ValueError, r"same feature size.*key shape \(1, 2, 7, 3\)"),
    ("gqa_fn/values", lambda: grouped_query_attention(t(1, 4, 5, 4), t(1, 2, 7, 4), t(1, 2, 6, 4)), ValueError, r"same heads and positions.*value shape \(1, 2, 6, 4\)"),
    ("gqa_fn/mask", lambda: grouped_query_attention(t(1, 4, 5, 4), t(1, 2, 7, 4), t(1, 2, 7, 4), ones_mask(1, 4, 5, 6)), ValueError, r"mask of shape \(1, 4, 5, 6\) does not broadcast to the scores of shape \(1, 4, 5, 7\)"),
    ("gqa_fn/dtypes", lambda: grouped_query_attention(t(1, 4, 5, 4), t(1, 2, 7, 4, dtype=F64), t(1, 2, 7, 4)), TypeError, "share a dtype"),
    ("gqa_fn/dropout", lambda: grouped_query_attention(t(1, 4, 5, 4), t(1, 2, 7, 4), t(1, 2, 7, 4), dropout=0.1), TypeError, "dropout must be a module"),
    # ---- modules: construction
    ("mha/heads", lambda: MultiHeadAttention(12, 5), ValueError, "d_model=12 is not divisible by num_heads=5"),
    ("mha/zero", lambda: MultiHeadAttention(0, 1), ValueError, "d_model must be positive"),
    ("mha/float", lambda: MultiHeadAttention(12.0, 3), TypeError, "d_model must be an integer"),
    ("mha/dropout", lambda: MultiHeadAttention(12, 3, dropout=1.5), ValueError, "dropout must lie between 0 and 1"),
    ("gqa/kv-heads", lambda: GroupedQueryAttention(12, 4, 3), ValueError, "num_heads=4 is not divisible by num_kv_heads=3"),
    ("gqa/kv-zero", lambda: GroupedQueryAttention(12, 4, 0), ValueError, "num_kv_heads must be positive"),
    ("additive/negative", lambda: AdditiveAttention(-1, 3, 4), ValueError, "query_size must be positive, got -1"),
    ("additive/zero-hidden", lambda: AdditiveAttention(4, 3, 0), ValueError, "hidden_size must be positive, got 0"),
    ("additive/bool", lambda: AdditiveAttention(True, 3, 4), TypeError, "query_size must be an integer"),
    ("cross/zero", lambda: CrossAttention(4, 0, 3), ValueError, "input_size must be positive"),
    ("self/float", lambda: SelfAttention(8, d_k=2.0), TypeError, "d_k must be an integer"),
    ("encoder/heads", lambda: EncoderLayer(8, 3, 16), ValueError, "not divisible by num_heads=3"),
    ("encoder/norm_first", lambda: EncoderLayer(8, 2, 16, norm_first="yes"), TypeError, "norm_first must be True or False"),
    ("feed_forward/d_ff", lambda: FeedForward(8, 0), ValueError, "d_ff must be positive"),
    ("transformer/layers", lambda: Transformer(8, 2, -1, 1, 16), ValueError, "num_encoder_layers must be non-negative"),
    ("transformer/heads", lambda: Transformer(8, 3, 0, 0, 16), ValueError, "not divisible by num_heads=3"),
    ("encoding/odd", lambda: PositionalEncoding(7, 10), ValueError, "d_model must be even"),
    ("encoding/dropout", lambda: PositionalEncoding(8, 10, dropout=-0.1), ValueError, "dropout must lie between 0 and 1"),
    ("sinusoidal/dtype", lambda: sinusoidal_encoding(4, 8, dtype=torch.long), TypeError, "dtype must be a floating torch.dtype"),
    ("sinusoidal/base", lambda: sinusoidal_encoding(4, 8, base=0.0), ValueError, "base must be positive"),
    ("frequencies/odd", lambda: frequencies(5), ValueError, "d_model=5"),
    ("offset_matrix/str", lambda: offset_matrix("1", 4), TypeError, "offset must be a number"),
    ("seq2seq/share", lambda: Seq2SeqTransformer(13, 12, 8, 2, 1, 1, 16, 6, share_embeddings=True), ValueError, "share_embeddings needs one vocabulary"),
    ("seq2seq/vocab", lambda: Seq2SeqTransformer(0, 12, 8, 2, 1, 1, 16, 6), ValueError, "source_vocab must be positive"),
    ("kv_cache/capacity", lambda: KVCache(1, 2, 0, 3), ValueError, "capacity must be positive"),
    ("kv_cache/dtype", lambda: KVCache(1, 2, 4, 3, dtype=torch.int32), TypeError, "dtype must be a floating torch.dtype"),
    ("kv_cache_bytes/float", lambda: kv_cache_bytes(1, 2, 2, 4, 8, bytes_per_element=2.0), TypeError, "bytes_per_element must be an integer"),
    ("tiny/max_len", lambda: TinyLanguageModel(20, 8, 2, 1, 1, max_len=0), ValueError, "max_len must be positive"),
    ("tiny/heads", lambda: TinyLanguageModel(20, 8, 3, 1, 1, max_len=4), ValueError, "not divisible by num_heads=3"),
    ("decoder_block/kv", lambda: DecoderBlock(8, 2, 3), ValueError, "num_heads=2 is not divisible by num_kv_heads=3"),
    # ---- modules: calls
    ("mha/batch", lambda: mha(t(2, 3, 12), t(1, 4, 12), t(1, 4, 12)), ValueError, r"batch sizes differ: query shape \(2, 3, 12\), key shape \(1, 4, 12\)"),
    ("mha/batch-broadcast", lambda: mha(t(1, 3, 12), t(2, 4, 12), t(2, 4, 12)), ValueError, "batch sizes differ"),
    ("mha/d_model", lambda: mha(t(2, 3, 8), t(2, 4, 12), t(2, 4, 12)), ValueError, r"query must have shape \(batch, positions, d_model=12\), got \(2, 3, 8\)"),
    ("mha/float64", lambda: mha(t(2, 3, 12, dtype=F64), t(2, 4, 12, dtype=F64), t(2, 4, 12, dtype=F64)), TypeError, "query has dtype torch.float64 but the module's weights are torch.float32"),
    ("mha/values", lambda: mha(t(2, 3, 12), t(2, 4, 12), t(2, 5, 12)), ValueError, "key has 4 positions but value has 5"),
    ("mha/mask", lambda: mha(t(2, 3, 12), t(2, 4, 12), t(2, 4, 12), ones_mask(2, 1, 7)), ValueError, r"mask of shape \(2, 1, 7\) does not broadcast"),
    ("mha/mask-fast", lambda: mha(t(2, 3, 12), t(2, 4, 12), t(2, 4, 12), ones_mask(5), need_weights=False), ValueError, r"mask of shape \(5,\)"),
    ("mha/mask-heads", lambda: mha(t(2, 3, 12), t(2, 4, 12), t(2, 4, 12), ones_mask(2, 2, 3, 4)), ValueError, r"mask of shape \(2, 2, 3, 4\) does not broadcast to the scores of shape \(2, 3, 3, 4\)"),
    ("mha/need_weights", lambda: mha(t(2, 3, 12), t(2, 4, 12), t(2, 4, 12), need_weights="no"), TypeError, "need_weights must be True or False"),
    ("mha/from_torch", lambda: MultiHeadAttention.from_torch(nn.Linear(2, 2)), TypeError, "nn.MultiheadAttention"),
    ("gqa/mask", lambda: gqa(t(2, 3, 12), t(2, 3, 12), t(2, 3, 12), ones_mask(2, 1, 7)), ValueError, r"mask of shape \(2, 1, 7\) does not broadcast to the scores of shape \(2, 3, 3\)"),
    ("gqa/float64", lambda: gqa(t(2, 3, 12, dtype=F64), t(2, 3, 12, dtype=F64), t(2, 3, 12, dtype=F64)), TypeError, "query has dtype torch.float64"),
    ("gqa/cache-dtype", lambda: gqa(t(2, 1, 12), t(2, 1, 12), t(2, 1, 12), cache=cache(F64)), TypeError, "the cache holds torch.float64"),
    ("gqa/cache-type", lambda: gqa(t(2, 1, 12), t(2, 1, 12), t(2, 1, 12), cache="cache"), TypeError, "cache must be a KVCache"),
    ("gqa/cache-batch", lambda: gqa(t(1, 1, 12), t(1, 1, 12), t(1, 1, 12), cache=cache()), ValueError, r"key must have shape \(batch=2"),
    ("gqa/cache-full", lambda: gqa(t(2, 5, 12), t(2, 5, 12), t(2, 5, 12), cache=cache()), ValueError, "cannot append 5 positions"),
    ("gqa/causal", lambda: gqa(t(2, 3, 12), t(2, 2, 12), t(2, 2, 12), causal=True), ValueError, "num_keys >= num_queries"),
    ("gqa/causal-type", lambda: gqa(t(2, 3, 12), t(2, 3, 12), t(2, 3, 12), causal=None), TypeError, "causal must be True or False"),
    ("additive/float64", lambda: additive(t(2, 3, 4, dtype=F64), t(2, 5, 6, dtype=F64), t(2, 5, 7, dtype=F64)), TypeError, "query has dtype torch.float64"),
    ("additive/value-dtype", lambda: additive(t(2, 3, 4), t(2, 5, 6), t(2, 5, 7, dtype=F64)), TypeError, "share a dtype"),
    ("additive/mask", lambda: additive(t(2, 3, 4), t(2, 5, 6), t(2, 5, 7), ones_mask(2, 3, 4)), ValueError, "does not broadcast"),
    ("cross/float64", lambda: cross(t(2, 3, 4, dtype=F64), t(2, 5, 6, dtype=F64)), TypeError, "query has dtype torch.float64"),
    ("cross/size", lambda: cross(t(2, 3, 4), t(2, 5, 5)), ValueError, r"inputs must have shape \(\.\.\., positions, input_size=6\)"),
    ("self/mask", lambda: self_attention(t(2, 5, 8), ones_mask(4, 4)), ValueError, r"mask of shape \(4, 4\)"),
    ("encoder/x", lambda: encoder_layer(t(2, 3, 6)), ValueError, r"x must have shape \(batch, positions, d_model=8\)"),
    ("encoder/float64", lambda: encoder_layer(t(2, 3, 8, dtype=F64)), TypeError, "x has dtype torch.float64"),
    ("encoder/mask", lambda: encoder_layer(t(2, 3, 8), ones_mask(2, 1, 4)), ValueError, r"^mask of shape \(2, 1, 4\)"),
    ("encoder/from_torch-gelu", lambda: EncoderLayer.from_torch(nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True)), ValueError, "ReLU"),
    ("decoder/batch", lambda: decoder_layer(t(2, 3, 8), t(1, 4, 8)), ValueError, "batch sizes differ"),
    ("decoder/memory-mask", lambda: decoder_layer(t(2, 3, 8), t(2, 4, 8), memory_mask=ones_mask(2, 1, 3)), ValueError, r"^memory_mask of shape \(2, 1, 3\) does not broadcast to the scores of shape \(2, 3, 4\)"),
    ("decoder/self-mask", lambda: decoder_layer(t(2, 3, 8), t(2, 4, 8), self_mask=ones_mask(3, 4)), ValueError, r"^self_mask of shape \(3, 4\)"),
    ("transformer/target", lambda: transformer(t(2, 4, 8), t(2, 3, 6)), ValueError, r"target must have shape"),
    ("transformer/memory-mask", lambda: transformer(t(2, 4, 8), t(2, 3, 8), memory_mask=ones_mask(2, 1, 3)), ValueError, r"^memory_mask of shape \(2, 1, 3\)"),
    ("transformer/source-mask", lambda: transformer(t(2, 4, 8), t(2, 3, 8), source_mask=ones_mask(2, 1, 3)), ValueError, r"^source_mask of shape \(2, 1, 3\)"),
    ("transformer/target-mask", lambda: transformer(t(2, 4, 8), t(2, 3, 8), target_mask=ones_mask(4, 4)), ValueError, r"^target_mask of shape \(4, 4\)"),
    ("transformer/target-mask-dtype", lambda: transformer(t(2, 4, 8), t(2, 3, 8), target_mask=t(3, 3)), TypeError, r"^target_mask must be boolean"),
    ("transformer/decode-memory-mask", lambda: transformer.decode(t(2, 3, 8), t(2, 4, 8), memory_mask=ones_mask(5)), ValueError, r"^memory_mask of shape \(5,\)"),
    ("transformer/batch", lambda: transformer(t(2, 4, 8), t(1, 3, 8)), ValueError, "batch sizes differ"),
    ("transformer/decode-batch", lambda: transformer.decode(t(2, 3, 8), t(1, 4, 8)), ValueError, "batch sizes differ"),
    ("encoding/long", lambda: encoding(t(1, 11, 8)), ValueError, "x has 11 positions but max_len of the positional table=10"),
    ("encoding/ints", lambda: encoding(t(1, 3, 8, dtype=LONG)), TypeError, "x must be floating point"),
    ("seq2seq/ids", lambda: seq2seq(torch.full((1, 3), 13), torch.zeros(1, 2, dtype=LONG)), ValueError, r"source ids must lie in \[0, 13\)"),
    ("seq2seq/long-target", lambda: seq2seq(torch.zeros(1, 3, dtype=LONG), torch.zeros(1, 7, dtype=LONG)), ValueError, "target_in has 7 positions but max_len=6"),
    ("greedy/start", lambda: greedy_decode(seq2seq, torch.ones(1, 3, dtype=LONG), -1, 2, 3), ValueError, "start_token must lie in"),
    ("greedy/model", lambda: greedy_decode(nn.Linear(2, 2), torch.ones(1, 3, dtype=LONG), 1, 2, 3), TypeError, "model must be a sequence-to-sequence model"),
    ("tiny/too-long", lambda: tiny(torch.zeros(1, 9, dtype=LONG)), ValueError, "tokens has 9 positions but max_len=8"),
    ("tiny/ids", lambda: tiny(torch.full((1, 3), 20)), ValueError, r"tokens ids must lie in \[0, 20\)"),
    ("tiny/floats", lambda: tiny(t(1, 3)), TypeError, "tokens must be an int64 torch.Tensor"),
    ("tiny/caches", lambda: tiny(torch.zeros(1, 3, dtype=LONG), caches=[]), TypeError, "list of 1 KVCaches"),
    ("tiny/cache-room", lambda: tiny(torch.zeros(1, 3, dtype=LONG), caches=tiny.new_caches(1, 2)), ValueError, "cannot append 3 positions"),
    ("tiny/generate-long", lambda: tiny.generate(torch.zeros(1, 3, dtype=LONG), 6), ValueError, "exceed max_len=8"),
    ("tiny/generate-ids", lambda: tiny.generate(torch.full((1, 3), 99), 2), ValueError, "prompt ids must lie in"),
    ("kv_cache/append-dtype", lambda: cache().append(t(2, 2, 1, 3, dtype=F64), t(2, 2, 1, 3, dtype=F64)), TypeError, "key has dtype torch.float64 but the cache holds torch.float32"),
    ("kv_cache/append-shape", lambda: cache().append(t(2, 3, 1, 3), t(2, 3, 1, 3)), ValueError, r"key must have shape \(batch=2, kv_heads=2"),
    ("kv_cache/append-full", lambda: cache().append(t(2, 2, 5, 3), t(2, 2, 5, 3)), ValueError, "cannot append 5 positions to a KVCache holding 0 of its capacity 4"),
    # ---- costs and the overview of versions
    ("matmul_flops/bool", lambda: matmul_flops(True, 2, 3), TypeError, "m must be an integer, got True"),
    ("matmul_flops/float", lambda: matmul_flops(2.0, 2, 3), TypeError, "m must be an integer"),
    ("softmax_flops/zero", lambda: softmax_flops(0, 3), ValueError, "num_queries must be positive"),
    ("additive_cost/zero", lambda: additive_attention_cost(2, 3, 4, 0, 5, 6), ValueError, "key_size must be positive"),
    ("dot_cost/float", lambda: dot_product_attention_cost(2, 3, 4.0, 5), TypeError, "key_size must be an integer"),
    ("projection_cost/negative", lambda: projection_cost(-1, 2, 3), ValueError, "m must be positive"),
    ("mha_cost/heads", lambda: multi_head_attention_cost(2, 3, 10, 3), ValueError, "d_model=10 is not divisible by num_heads=3"),
    ("version_module/number", lambda: version_module(9), ValueError, "version number"),
    ("version_cost/sizes", lambda: version_cost(1, 0), ValueError, "seq_len must be positive, got 0"),
    ("evolution_table/heads", lambda: evolution_table(d=10, heads=3), ValueError, "not divisible"),
    ("count_parameters/type", lambda: count_parameters("module"), TypeError, "module"),
    # ---- tasks and training
    ("task/kind", lambda: DigitTask("shuffle"), ValueError, "kind must be 'reverse' or 'sort'"),
    ("task/lengths", lambda: DigitTask(min_len=3, max_len=2), ValueError, "min_len <= max_len"),
    ("task/held_out", lambda: DigitTask(held_out=1.0), ValueError, "held_out must lie in"),
    ("task/max_len", lambda: DigitTask(max_len="8"), TypeError, "max_len must be an integer"),
    ("decoder_input/1d", lambda: decoder_input(torch.tensor([1, 2])), ValueError, r"target must have shape \(batch, positions\)"),
    ("warmup/negative", lambda: warmup_then_decay(-1, 1e-3, 10), ValueError, "step must be non-negative"),
    ("warmup/peak", lambda: warmup_then_decay(1, 0.0, 10), ValueError, "peak must be positive"),
    ("warmup/warmup", lambda: warmup_then_decay(1, 1e-3, 0), ValueError, "warmup must be positive"),
    ("adam/betas", lambda: Adam([nn.Parameter(t(2))], betas=(1.5, 0.9)), ValueError, "betas must lie"),
    ("adam/betas-one", lambda: Adam([nn.Parameter(t(2))], betas=0.9), TypeError, r"betas must be a pair \(beta1, beta2\), got 0.9"),
    ("adam/betas-three", lambda: Adam([nn.Parameter(t(2))], betas=(0.9, 0.9, 0.9)), TypeError, "betas must be a pair"),
    ("adam/betas-str", lambda: Adam([nn.Parameter(t(2))], betas="ab"), TypeError, "betas must be a pair"),
    ("adam/one-tensor", lambda: Adam(nn.Parameter(t(2, 3))), TypeError, "parameters must be an iterable of tensors.*got Parameter"),
    ("adam/not-tensors", lambda: Adam([1.0]), TypeError, r"parameters\[0\] must be a torch.Tensor, got float"),
    ("adam/lr", lambda: Adam([nn.Parameter(t(2))]).step(lr=-1.0), ValueError, "lr must be positive or 0"),
    ("adam/eps", lambda: Adam([nn.Parameter(t(2))], eps=0.0), ValueError, "eps must be positive"),
    ("sequence_loss/target", lambda: sequence_loss(seq2seq, torch.zeros(2, 3, dtype=LONG), t(2, 4)), TypeError, "target must be an int64"),
    ("sequence_loss/batch", lambda: sequence_loss(seq2seq, torch.zeros(2, 3, dtype=LONG), torch.zeros(1, 4, dtype=LONG)), ValueError, "batch sizes differ"),
    ("train/steps", lambda: train(seq2seq, task, -1, 4, torch.Generator()), ValueError, "steps must be non-negative"),
    ("train/generator", lambda: train(seq2seq, task, 1, 4, 0), TypeError, "generator must be a torch.Generator"),
    ("train/model", lambda: train("model", task, 1, 4, torch.Generator()), TypeError, "model must be an nn.Module"),
    ("sequence_accuracy/batch", lambda: sequence_accuracy(seq2seq, torch.ones(2, 3, dtype=LONG), torch.ones(1, 3, dtype=LONG)), ValueError, "batch sizes differ"),
    # ---- plotting
    ("plot/3 labels", lambda: plot_attention_weights(a(2, 3), query_labels=["a"]), ValueError, "1 query labels for 2 query"),
    ("plot/empty", lambda: plot_attention_weights(a(0, 3)), ValueError, "must not be empty"),
    ("is_private_use/two characters", lambda: is_private_use("ab"), TypeError, "char must be one character"),
    # ---- the recurrent encoder-decoder (chapter 3)
    ("check_tokens/floats", lambda: check_tokens("source", t(2, 3), 10), TypeError, "source must be an int64 torch.Tensor of token ids"),
    ("check_tokens/1-D", lambda: check_tokens("source", ids(3), 10), ValueError, r"source must have shape \(batch, positions >= 1\)"),
    ("check_tokens/id", lambda: check_tokens("source", ids(1, 3) + 9, 10), ValueError, r"source ids must lie in \[0, 10\)"),
    ("source_lengths/floats", lambda: source_lengths(t(2, 3), 0), TypeError, "source must be an int64 torch.Tensor of token ids"),
    ("source_lengths/1-D", lambda: source_lengths(ids(3), 0), ValueError, r"source must have shape \(batch, positions >= 1\)"),
    ("source_lengths/pad", lambda: source_lengths(ids(2, 3), "x"), TypeError, "pad_token must be an integer"),
    ("source_lengths/left-padded", lambda: source_lengths(torch.tensor([[0, 3]]), 0), ValueError, "source row 0 has a token after padding"),
    ("gru_encoder/vocab", lambda: BidirectionalGRUEncoder(0, 4, 6), ValueError, "vocab_size must be positive, got 0"),
    ("gru_encoder/hidden", lambda: BidirectionalGRUEncoder(10, 4, -1), ValueError, "hidden_size must be positive, got -1"),
    ("gru_encoder/pad", lambda: BidirectionalGRUEncoder(10, 4, 6, pad_token=10), ValueError, r"pad_token=10 must be a token id in \[0, vocab_size=10\)"),
    ("gru_encoder/floats", lambda: gru_encoder(t(2, 5)), TypeError, "source must be an int64 torch.Tensor of token ids"),
    ("gru_encoder/all-padding", lambda: gru_encoder(ids(2, 5) * 0), ValueError, "source row 0 is all padding"),
    ("gru_decoder/context", lambda: GRUDecoder(10, 4, 6, 0), ValueError, "context_size must be positive, got 0"),
    ("gru_decoder/attention_size", lambda: GRUDecoder(10, 4, 6, 12, attention_size=0), ValueError, "attention_size must be positive, got 0"),
    ("gru_decoder/annotations", lambda: gru_decoder(ids(2, 3), t(2, 5, 11), t(2, 12), ones_mask(2, 5)), ValueError, r"annotations must be \(batch, S, 12\), got \(2, 5, 11\)"),
    ("gru_decoder/summary", lambda: gru_decoder(ids(2, 3), t(2, 5, 12), t(2, 7), ones_mask(2, 5)), ValueError, r"summary must be \(2, 12\), got \(2, 7\)"),
    ("gru_decoder/mask", lambda: gru_decoder(ids(2, 3), t(2, 5, 12), t(2, 12), ones_mask(2, 4)), ValueError, r"source_mask must be \(batch, S\) = \(2, 5\), got \(2, 4\)"),
    ("gru_decoder/float-mask", lambda: gru_decoder(ids(2, 3), t(2, 5, 12), t(2, 12), t(2, 5)), TypeError, "source_mask must be a bool tensor"),
    ("rnn/batch", lambda: rnn(ids(2, 5), ids(3, 4)), ValueError, "source has batch size 2 but target_in has 3"),
    ("rnn/floats", lambda: rnn(t(2, 5), ids(2, 4)), TypeError, "source must be an int64 torch.Tensor of token ids"),
    # ---- the encoder-only and vision families (chapter 14)
    ("patchify/divide", lambda: patchify(t(1, 1, 8, 8), 3), ValueError, "patch_size=3 must be positive and divide"),
    ("patchify/3-D", lambda: patchify(t(1, 8, 8), 4), ValueError, r"images must have shape \(batch, channels, height, width\)"),
    ("patchify/ints", lambda: patchify(t(1, 1, 8, 8, dtype=LONG), 4), TypeError, "images must be floating point"),
    ("vit/patch", lambda: VisionTransformer(8, 3, 1, 3, 8, 2, 1, 16), ValueError, "patch_size=3 must be positive and divide image_size=8"),
    ("vit/pool", lambda: VisionTransformer(8, 4, 1, 3, 8, 2, 1, 16, pool="max"), ValueError, "pool must be 'cls' or 'mean'"),
    ("vit/classes", lambda: VisionTransformer(8, 4, 1, 0, 8, 2, 1, 16), ValueError, "num_classes must be positive, got 0"),
    ("vit/positions", lambda: VisionTransformer(8, 4, 1, 3, 8, 2, 1, 16, positions="yes"), TypeError, "positions must be True or False"),
    ("vit/image", lambda: vit(t(1, 1, 12, 12)), ValueError, r"images must have shape \(batch, 1, 8, 8\), got \(1, 1, 12, 12\)"),
    ("vit/float64", lambda: vit(t(1, 1, 8, 8, dtype=F64)), TypeError, "images has dtype torch.float64 but the module's weights are torch.float32"),
    ("vit/patch_mask", lambda: vit(t(1, 1, 8, 8), ones_mask(1, 3)), ValueError, r"patch_mask must have shape \(batch=1, num_patches=4\)"),
    ("palindromes/generator", lambda: make_palindromes(3, 0), TypeError, "generator must be a torch.Generator, got int"),
    ("palindromes/halves", lambda: make_palindromes(3, torch.Generator(), min_half=5, max_half=4), ValueError, "need 1 <= min_half <= max_half"),
    ("palindromes/digits", lambda: make_palindromes(3, torch.Generator(), num_digits=0), ValueError, "num_digits must be positive, got 0"),
    ("mask_tokens/floats", lambda: mask_tokens(t(2, 3), torch.Generator(), vocab_size=12), TypeError, "tokens must be an int64 torch.Tensor"),
    ("mask_tokens/vocab", lambda: mask_tokens(ids(2, 3), torch.Generator(), vocab_size=2), ValueError, "vocab_size=2 leaves no ordinary token above num_special=2"),
    ("mask_tokens/generator", lambda: mask_tokens(ids(2, 3), None, vocab_size=12), TypeError, "generator must be a torch.Generator, got NoneType"),
    ("mask_tokens/probability", lambda: mask_tokens(ids(2, 3), torch.Generator(), vocab_size=12, probability=1.5), ValueError, "probability must lie between 0 and 1"),
    ("mlm/max_len", lambda: MaskedLanguageModel(12, 8, 2, 16, 1, 0), ValueError, "max_len must be positive, got 0"),
    ("mlm/long", lambda: mlm(ids(2, 7)), ValueError, "tokens has 7 positions, more than max_len=6"),
    ("mlm/floats", lambda: mlm(t(2, 3)), TypeError, "tokens must be an int64 torch.Tensor"),
    ("masked_lm_loss/model", lambda: masked_lm_loss("model", ids(2, 3), ids(2, 3)), TypeError, "model must be a MaskedLanguageModel, got str"),
    ("masked_lm_loss/shape", lambda: masked_lm_loss(mlm, ids(2, 3), ids(2, 4)), ValueError, r"targets must have the inputs' shape \(2, 3\), got \(2, 4\)"),
    ("masked_lm_loss/floats", lambda: masked_lm_loss(mlm, ids(2, 3), t(2, 3)), TypeError, "targets must be an int64 torch.Tensor, got torch.float32"),
    ("shape_images/generator", lambda: make_shape_images(3, 7), TypeError, "generator must be a torch.Generator, got int"),
    ("shape_images/size", lambda: make_shape_images(3, torch.Generator(), image_size=2), ValueError, "image_size must be at least 8"),
    ("shape_images/noise", lambda: make_shape_images(3, torch.Generator(), noise="a"), TypeError, "noise must be a real number"),
    # ---- FlashAttention's steps, for the figures (chapter 16)
    ("tiled_steps/block", lambda: tiled_attention_steps(t(4, 2), t(4, 2), t(4, 2), block_size=0), ValueError, "block_size must be positive, got 0"),
    ("tiled_steps/d_k", lambda: tiled_attention_steps(t(4, 2), t(4, 3), t(4, 2), block_size=2), ValueError, "query has d_k=2 but key has d_k=3"),
    ("tiled_steps/batched", lambda: tiled_attention_steps(t(1, 4, 2), t(1, 4, 2), t(1, 4, 2), block_size=2), ValueError, "must be 2-D"),
    ("tiled_steps/lists", lambda: tiled_attention_steps([[0.0]], [[0.0]], [[0.0]], block_size=2), TypeError, "query must be a torch.Tensor, got list"),
]


ALL_CASES = CASES + part_v.CASES


@pytest.mark.parametrize(("call", "error", "pattern"), [c[1:] for c in ALL_CASES], ids=[c[0] for c in ALL_CASES])
def test_bad_input_raises_a_clear_error(call, error, pattern):
    with pytest.raises((ValueError, TypeError)) as raised:
        call()
    assert type(raised.value) in (error,) or isinstance(raised.value, error), (
        f"raised {type(raised.value).__name__}: {raised.value}"
    )
    assert raised.match(pattern)


def test_the_case_ids_are_unique():
    ids = [c[0] for c in ALL_CASES]
    assert len(ids) == len(set(ids))


# Public names that take no input a reader could get wrong, or that are the inner
# steps of a checked function (they trust their caller, as attention.validation says).
NOT_IN_THE_TABLE = {
    # data classes and results
    "Cost", "Version", "EvolutionRow", "TrainingLog", "Figure", "TileStep",
    # inner steps, called only after their caller has checked the inputs
    "attend", "weights_from_scores", "attend_heads", "mask_for_heads", "fused_attention", "finite_max",
    "online_softmax_step", "merge_softmax_states", "TiledAttentionFunction", "residual",
    "copy_layer_norm", "score_tile", "key_stop", "tiled_forward", "tiled_backward", "score_dtype",
    # the base class of MultiHeadAttention and GroupedQueryAttention, whose cases check its arguments
    "AttentionHeads",
    # the book's own tooling (benchmarks, figures, prose numbers), not the library
    "format_table", "multi_head_figures", "explicit_core_figures", "tiled_figures",
    "decoding_figure", "run_benchmark", "main", "median_times", "peak_memory",
    "describe_machine", "figure_to_svg", "use_book_style", "tex_sci",
}


# The modules of the book's attention (Part V's are in part_v.MODULES).
MODULES = part_v.MODULES + [
    "foundations.softmax", "foundations.kernel_regression",
    "versions.additive", "versions.scaled_dot_product", "versions.numpy_attention",
    "versions.masks", "versions.cross_attention", "versions.self_attention",
    "versions.head_attention", "versions.multi_head", "versions.overview", "versions.rnn_encoder_decoder",
    "transformer.positional_encoding", "transformer.layers", "transformer.stack",
    "transformer.seq2seq", "transformer.tasks", "transformer.training",
    "transformer.encoder_models", "transformer.vision_transformer", "transformer.shape_images",
    "fast.cost", "fast.online_softmax", "fast.tiled_attention", "fast.kv_cache",
    "fast.grouped_query", "fast.decoding", "fast.tiled_steps", "book.plotting",
]


def public_names() -> set[str]:
    names = set()
    for name in MODULES:
        module = importlib.import_module(f"attention.{name}")
        names |= {
            n for n, value in vars(module).items()
            if not n.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module.__name__
        }
    defined_in = {n: getattr(attention, n).__module__.removeprefix("attention.") for n in attention.__all__}
    names |= {n for n, module in defined_in.items() if module in MODULES}
    return names


def test_every_public_name_has_a_bad_input_case():
    covered = {c[0].split("/")[0] for c in ALL_CASES}
    aliases = part_v.ALIASES | {  # case prefixes that stand for a public name
        "numpy_causal": "numpy_causal_mask", "numpy_padding": "numpy_padding_mask",
        "numpy_sdpa": "numpy_scaled_dot_product_attention", "sdpa": "scaled_dot_product_attention",
        "tiled": "tiled_attention", "gqa_fn": "grouped_query_attention", "gqa": "GroupedQueryAttention",
        "mha": "MultiHeadAttention", "additive": "AdditiveAttention", "cross": "CrossAttention",
        "self": "SelfAttention", "encoder": "EncoderLayer", "decoder": "DecoderLayer",
        "transformer": "Transformer", "encoding": "PositionalEncoding", "sinusoidal": "sinusoidal_encoding",
        "seq2seq": "Seq2SeqTransformer", "greedy": "greedy_decode", "kv_cache": "KVCache",
        "tiny": "TinyLanguageModel", "decoder_block": "DecoderBlock", "feed_forward": "FeedForward",
        "additive_cost": "additive_attention_cost", "dot_cost": "dot_product_attention_cost",
        "mha_cost": "multi_head_attention_cost", "task": "DigitTask", "warmup": "warmup_then_decay",
        "adam": "Adam", "plot": "plot_attention_weights", "temperature": "softmax_with_temperature",
        "jacobian": "softmax_jacobian", "pooling": "attention_pooling", "average": "average_pooling",
        "distances": "squared_distances", "gaussian": "gaussian_kernel_weights",
        "nadaraya": "nadaraya_watson", "regression": "make_regression_data", "target": "target_function",
        "gru_encoder": "BidirectionalGRUEncoder", "gru_decoder": "GRUDecoder", "rnn": "RNNEncoderDecoder",
        "vit": "VisionTransformer", "palindromes": "make_palindromes", "mlm": "MaskedLanguageModel",
        "shape_images": "make_shape_images", "tiled_steps": "tiled_attention_steps",
    }
    covered = {aliases.get(prefix, prefix) for prefix in covered}
    missing = public_names() - covered - NOT_IN_THE_TABLE - part_v.NOT_IN_THE_TABLE
    assert not missing, f"public names without a bad-input case: {sorted(missing)}"

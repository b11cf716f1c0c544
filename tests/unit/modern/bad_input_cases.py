"""Part V's rows of the bad-input table (tests/unit/test_bad_inputs.py runs them).

Each case is `(id, call, error type, pattern its message must match)`; the id starts with
the public name it calls (or an alias listed in ALIASES).
"""

from __future__ import annotations

from pathlib import Path

import torch

from attention.fast.kv_cache import KVCache
from attention.modern.alibi import ALiBiPositions, alibi_bias, alibi_slopes
from attention.modern.corpus import CharTokenizer, build_text, prose_of_chapter
from attention.modern.causal_pattern import CausalPattern, cached_positions, check_pattern
from attention.modern.causal_self_attention import CausalSelfAttention
from attention.modern.gpt import GPT, GPTBlock
from attention.modern.language_modeling import (
    book_tokens,
    consecutive_windows,
    heldout_loss,
    loss_by_position,
    random_windows,
    train_language_model,
)
from attention.modern.latent_attention import (
    LatentCache,
    MultiHeadLatentAttention,
    mla_cache_bytes,
)
from attention.modern.linear_attention import (
    LinearAttentionState,
    elu_feature_map,
    linear_attention,
    linear_attention_cost,
    linear_attention_recurrent,
)
from attention.modern.linear_attention_layer import (
    LinearAttentionPattern,
    LinearSelfAttention,
)
from attention.modern.position_schemes import (
    LearnedPositions,
    SinusoidalPositions,
    check_input_positions,
    check_positions,
    make_position_scheme,
)
from attention.modern.rotary import RotaryPositions, apply_rotary, rotary_frequencies
from attention.modern.score_bias import biased_attention, check_mask_and_bias
from attention.modern.sliding_window import (
    RollingKVCache,
    SlidingWindowPattern,
    receptive_field,
    sliding_window_mask,
)
from attention.modern.sparse_patterns import (
    attention_flops,
    bigbird_mask,
    local_global_mask,
)

# The modules of Part V, whose public names each need a case (or a place in NOT_IN_THE_TABLE).
MODULES: list[str] = [
    "modern.alibi", "modern.causal_pattern", "modern.causal_self_attention", "modern.corpus", "modern.gpt", "modern.language_modeling",
    "modern.latent_attention", "modern.linear_attention", "modern.linear_attention_layer",
    "modern.position_schemes", "modern.rotary", "modern.score_bias", "modern.sliding_window",
    "modern.sparse_patterns",
]

# Case-id prefixes that stand for a public name.
ALIASES: dict[str, str] = {
    "alibi": "ALiBiPositions", "tokenizer": "CharTokenizer", "causal_pattern": "CausalPattern",
    "causal_self": "CausalSelfAttention", "gpt_block": "GPTBlock", "gpt": "GPT",
    "train_lm": "train_language_model", "latent_cache": "LatentCache", "mla": "MultiHeadLatentAttention",
    "linear_state": "LinearAttentionState", "linear_self": "LinearSelfAttention",
    "linear_pattern": "LinearAttentionPattern", "learned": "LearnedPositions",
    "sinusoidal_scheme": "SinusoidalPositions", "rotary": "RotaryPositions",
    "rolling_cache": "RollingKVCache", "window_pattern": "SlidingWindowPattern",
}

# Public names of these modules that take no input a reader could get wrong, or that are
# the inner steps of a checked function.
NOT_IN_THE_TABLE: set[str] = {
    "book_text",  # takes no arguments
    "LanguageModelLog",  # a data class, what train_language_model records
    "PositionScheme",  # the base of the schemes: no arguments, and methods that return their input
    "attend_with_bias",  # the inner step of biased_attention, called after its checks
}

F32, F64, LONG = torch.float32, torch.float64, torch.long


def t(*shape, dtype=F32):
    return torch.zeros(shape, dtype=dtype)


def ids(*shape, value=0):
    return torch.full(shape, value, dtype=LONG)


def pos(n):
    return torch.arange(n)


def ones_mask(*shape):
    return torch.ones(shape, dtype=torch.bool)


def gen():
    return torch.Generator().manual_seed(0)


def lm():  # a fresh model for the training cases, so that no case can change another's
    return GPT(10, 8, 2, 1, max_len=8)


# Shared fixtures: small, built once; a failed call changes none of them.
tokenizer = CharTokenizer("abc")
gpt = lm()
layer = CausalSelfAttention(8, 2, 1)  # d_head 4
block = GPTBlock(8, 16, CausalSelfAttention(8, 2, 2))
data = torch.arange(40) % 10  # tokens of a 10-token vocabulary
mla = MultiHeadLatentAttention(8, 2, 4, 3, 2)
linear_layer = LinearSelfAttention(8, 2)
learned = LearnedPositions(4, 8)
sinusoidal = SinusoidalPositions(8)
q, kv = t(1, 2, 3, 8), t(1, 1, 4, 8)  # (batch, heads, Tq, d_head), (batch, kv_heads, Tk, d_head)


def train_small(**options):
    arguments = {"steps": 1, "batch_size": 2, "length": 4, "generator": gen()} | options
    return train_language_model(arguments.pop("model", lm()), arguments.pop("data", data), **arguments)


CASES: list[tuple] = [
    # ---- alibi
    ("alibi_slopes/zero", lambda: alibi_slopes(0), ValueError, "num_heads must be positive, got 0"),
    ("alibi_slopes/float", lambda: alibi_slopes(2.0), TypeError, "num_heads must be an integer"),
    ("alibi_bias/list-slopes", lambda: alibi_bias([0.5], pos(3), pos(3)), TypeError, "slopes must be a torch.Tensor, got list"),
    ("alibi_bias/int-slopes", lambda: alibi_bias(torch.tensor([1]), pos(3), pos(3)), TypeError, "slopes must be floating point"),
    ("alibi_bias/2d-slopes", lambda: alibi_bias(t(2, 2), pos(2), pos(2)), ValueError, r"slopes must be a 1-D tensor \(heads,\)"),
    ("alibi_bias/float-positions", lambda: alibi_bias(t(2), torch.arange(3.0), pos(3)), TypeError, "query_positions must be a 1-D integer tensor"),
    ("alibi/heads", lambda: ALiBiPositions(0), ValueError, "num_heads must be positive, got 0"),
    ("alibi/bias-list", lambda: ALiBiPositions(2).bias([0, 1], pos(2)), TypeError, "query_positions must be a torch.Tensor of positions, got list"),
    # ---- corpus
    ("prose_of_chapter/none", lambda: prose_of_chapter(None), TypeError, r"source must be the text of a chapter \(a str\), got NoneType"),
    ("prose_of_chapter/path", lambda: prose_of_chapter(Path("01_softmax.py")), TypeError, r"source must be the text of a chapter \(a str\)"),
    ("build_text/one-path", lambda: build_text("01_softmax.py"), TypeError, "paths must be an iterable of paths.*got str"),
    ("build_text/none", lambda: build_text(None), TypeError, "paths must be an iterable of paths.*got NoneType"),
    ("tokenizer/empty", lambda: CharTokenizer(""), ValueError, "text must be a non-empty str"),
    ("tokenizer/int", lambda: CharTokenizer(12), TypeError, "text must be a non-empty str, got int"),
    ("tokenizer/encode-int", lambda: tokenizer.encode(12), TypeError, "text must be a str, got int"),
    ("tokenizer/encode-unknown", lambda: tokenizer.encode("abd"), ValueError, "character 'd' is not in the vocabulary"),
    ("tokenizer/decode-int", lambda: tokenizer.decode(1), TypeError, "tokens must be a sequence of ints, got int"),
    ("tokenizer/decode-str", lambda: tokenizer.decode("ab"), TypeError, "tokens must be a sequence of ints, got str"),
    ("tokenizer/decode-floats", lambda: tokenizer.decode([1.5]), TypeError, r"tokens\[0\] must be an integer, got 1.5"),
    ("tokenizer/decode-2d", lambda: tokenizer.decode(torch.tensor([[0, 1]])), ValueError, r"tokens must be 1-D \(positions,\), got shape \(1, 2\)"),
    ("tokenizer/decode-outside", lambda: tokenizer.decode([0, 3]), ValueError, "token 3 is outside the vocabulary of 3"),
    # ---- gpt: patterns, caches, the attention layer and the block
    ("cached_positions/none", lambda: cached_positions(None), TypeError, "cache must be a KVCache or a cache with positions and num_seen, got NoneType"),
    ("causal_pattern/ints", lambda: CausalPattern()(3, 4), TypeError, "query_positions must be a torch.Tensor of positions, got int"),
    ("causal_pattern/float", lambda: CausalPattern()(torch.arange(3.0), pos(3)), TypeError, "query_positions must be a 1-D integer tensor"),
    ("causal_pattern/capacity", lambda: CausalPattern().new_cache(1, 2, 4, 0, F32, None), ValueError, "capacity must be positive, got 0"),
    ("check_pattern/str", lambda: check_pattern("causal"), TypeError, "pattern must be a function .* got 'causal'"),
    ("check_pattern/class", lambda: check_pattern(CausalPattern), TypeError, r"such as CausalPattern\(\), or None"),
    ("causal_self/heads", lambda: CausalSelfAttention(8, 3, 3), ValueError, "d_model=8 is not divisible by num_heads=3"),
    ("causal_self/kv-heads", lambda: CausalSelfAttention(8, 4, 3), ValueError, "num_heads=4 is not divisible by num_kv_heads=3"),
    ("causal_self/d_model", lambda: layer(t(1, 3, 6), pos(3)), ValueError, r"x must have shape \(batch, positions, d_model=8\), got \(1, 3, 6\)"),
    ("causal_self/float64", lambda: layer(t(1, 3, 8, dtype=F64), pos(3)), TypeError, "x has dtype torch.float64 but the module's weights are torch.float32"),
    ("causal_self/positions", lambda: layer(t(1, 3, 8), pos(4)), ValueError, "positions has 4 entries for the 3 positions of x"),
    ("causal_self/positions-list", lambda: layer(t(1, 3, 8), [0, 1, 2]), TypeError, "positions must be a torch.Tensor"),
    ("causal_self/scheme-str", lambda: layer(t(1, 3, 8), pos(3), scheme="rope"), TypeError, "scheme must be a PositionScheme, got str"),
    ("causal_self/cache-str", lambda: layer(t(1, 3, 8), pos(3), cache="cache"), TypeError, r"cache must be a KVCache or RollingKVCache \(made by the pattern's new_cache\), got str"),
    ("causal_self/cache-latent", lambda: layer(t(1, 3, 8), pos(3), cache=LatentCache(1, 4, 3, 2)), TypeError, "cache must be a KVCache or RollingKVCache .* got LatentCache"),
    ("causal_self/cache-dtype", lambda: layer(t(1, 3, 8), pos(3), cache=KVCache(1, 1, 8, 4, dtype=F64)), TypeError, "cache holds torch.float64 but the module's weights are torch.float32"),
    ("causal_self/cache-full", lambda: layer(t(1, 3, 8), pos(3), cache=KVCache(1, 1, 2, 4)), ValueError, "cannot append 3 positions to cache, a KVCache holding 0 of its capacity 2"),
    ("causal_self/check_cache", lambda: layer.check_cache(KVCache(1, 2, 8, 4), 1, 1), ValueError, r"cache holds batch=1, kv_heads=2, d_head=4; this call needs batch=1, kv_heads=1, d_head=4"),
    ("causal_self/cache-batch", lambda: layer(t(1, 3, 8), pos(3), cache=KVCache(2, 1, 8, 4)), ValueError, r"cache holds batch=2, kv_heads=1, d_head=4; this call needs batch=1"),
    ("causal_self/pattern-str", lambda: layer(t(1, 3, 8), pos(3), pattern="causal"), TypeError, "pattern must be a function"),
    ("causal_self/pattern-float", lambda: layer(t(1, 3, 8), pos(3), pattern=lambda q, k: torch.ones(3, 3)), TypeError, "mask must be boolean"),
    ("causal_self/pattern-shape", lambda: layer(t(1, 3, 8), pos(3), pattern=lambda q, k: ones_mask(3, 4)), ValueError, r"mask of shape \(3, 4\) does not broadcast to the scores of shape \(1, 2, 3, 3\)"),
    ("causal_self/need_weights", lambda: layer(t(1, 3, 8), pos(3), need_weights="yes"), TypeError, "need_weights must be True or False"),
    ("gpt_block/attention-str", lambda: GPTBlock(8, 16, "attention"), TypeError, r"attention must be an nn.Module \(one layer's attention\), got str"),
    ("gpt_block/d_ff", lambda: GPTBlock(8, 0, CausalSelfAttention(8, 2, 2)), ValueError, "d_ff must be positive, got 0"),
    ("gpt_block/x", lambda: block(t(1, 3, 6), pos(3)), ValueError, r"x must have shape \(batch, positions, d_model=8\), got \(1, 3, 6\)"),
    ("gpt_block/float64", lambda: block(t(1, 3, 8, dtype=F64), pos(3)), TypeError, "x has dtype torch.float64"),
    # ---- gpt: the model
    ("gpt/vocab", lambda: GPT(0, 8, 2, 1, max_len=8), ValueError, "vocab_size must be positive, got 0"),
    ("gpt/heads", lambda: GPT(10, 8, 0, 1, max_len=8), ValueError, "num_heads must be positive, got 0"),
    ("gpt/d_model-float", lambda: GPT(10, 8.0, 2, 1, max_len=8), TypeError, "d_model must be an integer, got 8.0"),
    ("gpt/divides", lambda: GPT(10, 10, 4, 1, positions="rope"), ValueError, "d_model=10 is not divisible by num_heads=4"),
    ("gpt/positions", lambda: GPT(10, 8, 2, 1, positions="relative"), ValueError, "positions must be 'none', 'learned'"),
    ("gpt/max_len", lambda: GPT(10, 8, 2, 1), ValueError, "learned positions need max_len"),
    ("gpt/pattern-str", lambda: GPT(10, 8, 2, 1, max_len=8, pattern="causal"), TypeError, "pattern must be a function"),
    ("gpt/attention-str", lambda: GPT(10, 8, 2, 1, max_len=8, attention="mla"), TypeError, "attention must be a function layer index -> module, got str"),
    ("gpt/attention-makes-str", lambda: GPT(10, 8, 2, 1, max_len=8, attention=lambda layer: "mla"), TypeError, r"attention must be an nn.Module \(one layer's attention\), got str"),
    ("gpt/tokens-float", lambda: gpt(t(1, 3)), TypeError, "tokens must be an int64 torch.Tensor of token ids, got torch.float32"),
    ("gpt/tokens-1d", lambda: gpt(pos(3)), ValueError, r"tokens must have shape \(batch, positions\), got \(3,\)"),
    ("gpt/tokens-ids", lambda: gpt(ids(1, 3, value=10)), ValueError, r"tokens ids must lie in \[0, 10\)"),
    ("gpt/caches-kind", lambda: gpt(ids(1, 3), "caches"), TypeError, r"caches must be a list of 1 caches \(one per block\), got str"),
    ("gpt/caches-batch", lambda: gpt(ids(2, 3), gpt.new_caches(1, 8)), ValueError, r"caches\[0\] holds batch=1"),
    ("gpt/too-long", lambda: gpt(ids(1, 9)), ValueError, "position 8 has no learned vector: max_len=8"),
    ("gpt/caches-count", lambda: gpt(ids(1, 3), []), ValueError, "caches has 0 caches, the model 1 blocks"),
    ("gpt/pattern-call", lambda: gpt(ids(1, 2), pattern="causal"), TypeError, "pattern must be a function"),
    ("gpt/new_caches-batch", lambda: gpt.new_caches(0, 4), ValueError, "batch must be positive, got 0"),
    ("gpt/new_caches-pattern", lambda: gpt.new_caches(1, 4, pattern=lambda q, k: q[:, None] >= k), TypeError, r"has no new_cache\(\.\.\.\) to make the caches"),
    ("gpt/generate-list", lambda: gpt.generate([[1, 2]], 2), TypeError, "prompt must be an int64 torch.Tensor of token ids, got list"),
    ("gpt/generate-float", lambda: gpt.generate(t(1, 2), 2), TypeError, "prompt must be an int64 torch.Tensor of token ids, got torch.float32"),
    ("gpt/generate-empty", lambda: gpt.generate(ids(1, 0), 2), ValueError, r"prompt must have shape \(batch, positions >= 1\)"),
    ("gpt/generate-ids", lambda: gpt.generate(ids(1, 2, value=10), 2), ValueError, r"prompt ids must lie in \[0, 10\)"),
    ("gpt/generate-count", lambda: gpt.generate(ids(1, 2), 2.0), TypeError, "num_tokens must be an integer"),
    ("gpt/generate-temperature", lambda: gpt.generate(ids(1, 2), 2, temperature=-1.0), ValueError, "temperature must be >= 0"),
    ("gpt/generate-temperature-str", lambda: gpt.generate(ids(1, 2), 2, temperature="1"), TypeError, "temperature must be a real number"),
    ("gpt/generate-generator", lambda: gpt.generate(ids(1, 2), 2, temperature=1.0, generator=0), TypeError, "generator must be a torch.Generator"),
    ("gpt/generate-too-long", lambda: gpt.generate(ids(1, 6), 3), ValueError, "a prompt of 6 and 3 new tokens exceed the 8 positions"),
    # ---- language_modeling
    ("book_tokens/zero", lambda: book_tokens(0.0), ValueError, "heldout=0.0 leaves no training or no held-out text"),
    ("book_tokens/str", lambda: book_tokens("0.1"), TypeError, "heldout must be a real number"),
    ("random_windows/float", lambda: random_windows(t(10), 2, 3, gen()), TypeError, "data must be a 1-D int64 tensor or array of tokens, got torch.float32"),
    ("random_windows/2d", lambda: random_windows(ids(2, 10), 2, 3, gen()), ValueError, r"data must be a 1-D int64 tensor or array of tokens, got shape \(2, 10\)"),
    ("random_windows/short", lambda: random_windows(pos(5), 2, 5, gen()), ValueError, r"data has 5 tokens, too few for windows of length 5 \+ 1"),
    ("random_windows/batch-zero", lambda: random_windows(data, 0, 4, gen()), ValueError, "batch_size must be positive, got 0"),
    ("random_windows/length-zero", lambda: random_windows(data, 2, 0, gen()), ValueError, "length must be positive, got 0"),
    ("random_windows/generator", lambda: random_windows(data, 2, 4, 0), TypeError, "generator must be a torch.Generator, got int"),
    ("consecutive_windows/length-zero", lambda: consecutive_windows(data, 0), ValueError, "length must be positive, got 0"),
    ("consecutive_windows/short", lambda: consecutive_windows(pos(8), 8), ValueError, r"too few for one window of length 8 \+ 1"),
    ("loss_by_position/model", lambda: loss_by_position("model", data, 4), TypeError, "model must be an nn.Module"),
    ("loss_by_position/batch", lambda: loss_by_position(gpt, data, 4, batch_size=0), ValueError, "batch_size must be positive, got 0"),
    ("heldout_loss/length", lambda: heldout_loss(gpt, data, 0), ValueError, "length must be positive, got 0"),
    ("train_lm/model", lambda: train_small(model="model"), TypeError, "model must be an nn.Module"),
    ("train_lm/data", lambda: train_small(data=[1, 2, 3]), TypeError, "data must be a 1-D int64 tensor or array of tokens, got list"),
    ("train_lm/lr", lambda: train_small(lr=-1.0), ValueError, "lr must be positive and finite, got -1.0"),
    ("train_lm/warmup", lambda: train_small(warmup=0), ValueError, "warmup must be positive, got 0"),
    ("train_lm/batch-zero", lambda: train_small(batch_size=0), ValueError, "batch_size must be positive, got 0"),
    ("train_lm/eval_every", lambda: train_small(heldout=data, eval_every=0), ValueError, "eval_every must be positive, got 0"),
    ("train_lm/heldout-short", lambda: train_small(heldout=pos(3)), ValueError, r"heldout has 3 tokens, too few for one window of length 4 \+ 1"),
    ("train_lm/vocab", lambda: train_small(data=pos(40)), ValueError, "data holds token 39, outside the model's vocab_size=10"),
    # ---- latent_attention
    ("mla_cache_bytes/float", lambda: mla_cache_bytes(1, 2, 8.0, 4, 10), TypeError, "d_c must be an integer, got 8.0"),
    ("mla_cache_bytes/negative", lambda: mla_cache_bytes(1, -1, 5, 2, 10), ValueError, "num_layers must be non-negative"),
    ("latent_cache/capacity", lambda: LatentCache(1, 0, 3, 2), ValueError, "capacity must be positive, got 0"),
    ("latent_cache/dtype", lambda: LatentCache(1, 4, 3, 2, dtype=LONG), TypeError, "dtype must be a floating torch.dtype"),
    ("latent_cache/append-shape", lambda: LatentCache(1, 4, 3, 2).append(t(1, 1, 4), t(1, 1, 2)), ValueError, r"latents must have shape \(batch=1, new positions, 3\), got \(1, 1, 4\)"),
    ("latent_cache/append-dtype", lambda: LatentCache(1, 4, 3, 2).append(t(1, 1, 3, dtype=F64), t(1, 1, 2, dtype=F64)), TypeError, "latents has dtype torch.float64 but the cache holds torch.float32"),
    ("latent_cache/append-full", lambda: LatentCache(1, 2, 3, 2).append(t(1, 3, 3), t(1, 3, 2)), ValueError, "cannot append 3 positions to a LatentCache holding 0 of its capacity 2"),
    ("mla/heads", lambda: MultiHeadLatentAttention(8, 0, 4, 3), ValueError, "num_heads must be positive"),
    ("mla/d_r-odd", lambda: MultiHeadLatentAttention(8, 2, 4, 3, d_r=3), ValueError, "d_r is rotated in pairs"),
    ("mla/rope_base", lambda: MultiHeadLatentAttention(8, 2, 4, 3, 2, rope_base=0.0), ValueError, "rope_base must be positive and finite"),
    ("mla/x", lambda: mla(t(1, 3, 7)), ValueError, r"x must have shape \(batch, positions, d_model=8\), got \(1, 3, 7\)"),
    ("mla/float64", lambda: mla(t(1, 3, 8, dtype=F64)), TypeError, "x has dtype torch.float64 but the module's weights are torch.float32"),
    ("mla/positions", lambda: mla(t(1, 3, 8), pos(2)), ValueError, "positions has 2 entries for the 3 positions of x"),
    ("mla/cache-kind", lambda: mla(t(1, 3, 8), cache=KVCache(1, 2, 4, 4)), TypeError, "cache must be a LatentCache .* got KVCache"),
    ("mla/cache-dtype", lambda: mla(t(1, 3, 8), cache=LatentCache(1, 4, 3, 2, dtype=F64)), TypeError, "cache holds torch.float64 but the module's weights are torch.float32"),
    ("mla/cache-full", lambda: mla(t(1, 3, 8), cache=mla.new_cache(1, 2)), ValueError, "cannot append 3 positions to cache"),
    ("mla/pattern-float", lambda: mla(t(1, 3, 8), pattern=lambda q, k: torch.ones(3, 3)), TypeError, "mask must be boolean"),
    ("mla/pattern-str", lambda: mla(t(1, 3, 8), pattern="causal"), TypeError, "pattern must be a function"),
    ("mla/check_cache", lambda: mla.check_cache(None, 1, 1), TypeError, "cache must be a LatentCache .* got NoneType"),
    # ---- linear_attention
    ("elu_feature_map/list", lambda: elu_feature_map([1.0]), TypeError, "x must be a torch.Tensor, got list"),
    ("elu_feature_map/ints", lambda: elu_feature_map(torch.ones(2, dtype=LONG)), TypeError, "x must be floating point"),
    ("linear_attention/q-k", lambda: linear_attention(t(4, 3), t(5, 3), t(5, 2)), ValueError, r"q and k must have the same shape \(\.\.\., T, d_k\), got q \(4, 3\) and k \(5, 3\)"),
    ("linear_attention/v", lambda: linear_attention(t(4, 3), t(4, 3), t(3, 2)), ValueError, r"v must have shape .* got \(3, 2\)"),
    ("linear_attention/1d", lambda: linear_attention(t(3), t(3), t(3)), ValueError, r"q must have shape \(\.\.\., T, features\)"),
    ("linear_attention/dtypes", lambda: linear_attention(t(4, 3), t(4, 3, dtype=F64), t(4, 2)), TypeError, "q, k and v must have one dtype"),
    ("linear_attention/chunk", lambda: linear_attention(t(2, 2), t(2, 2), t(2, 2), chunk_size=0), ValueError, "chunk_size must be at least 1"),
    ("linear_attention/eps-zero", lambda: linear_attention(t(2, 3) - 100, t(2, 3) - 100, t(2, 3), eps=0.0), ValueError, "eps must be positive and finite, got 0.0"),
    ("linear_attention/eps-str", lambda: linear_attention(t(2, 3), t(2, 3), t(2, 3), eps="1e-6"), TypeError, "eps must be a real number"),
    ("linear_attention/feature_map", lambda: linear_attention(t(2, 3), t(2, 3), t(2, 3), feature_map=None), TypeError, "feature_map must be a function"),
    ("linear_state/batch_shape-int", lambda: LinearAttentionState(3, 2, 2), TypeError, r"batch_shape must be a tuple of sizes such as \(batch, heads\), got 3"),
    ("linear_state/d_k", lambda: LinearAttentionState((2,), 0, 2), ValueError, "d_k must be positive, got 0"),
    ("linear_state/dtype", lambda: LinearAttentionState((2,), 2, 2, dtype=LONG), TypeError, "dtype must be a floating torch.dtype"),
    ("linear_state/eps", lambda: LinearAttentionState((2,), 2, 2, eps=-1.0), ValueError, "eps must be positive and finite"),
    ("linear_state/step-shape", lambda: LinearAttentionState((2,), 3, 4).step(t(2, 3), t(2, 3), t(2, 5)), ValueError, r"v must have shape \(2, 4\) \(batch_shape, d_v\), got \(2, 5\)"),
    ("linear_state/step-dtype", lambda: LinearAttentionState((2,), 3, 4).step(t(2, 3), t(2, 3, dtype=F64), t(2, 4)), TypeError, "k has dtype torch.float64, the state torch.float32"),
    ("linear_attention_recurrent/d_k", lambda: linear_attention_recurrent(t(2, 3), t(2, 4), t(2, 3)), ValueError, "q and k must have the same shape"),
    ("linear_attention_recurrent/eps", lambda: linear_attention_recurrent(t(2, 3), t(2, 3), t(2, 3), eps=0.0), ValueError, "eps must be positive and finite"),
    ("linear_attention_cost/zero", lambda: linear_attention_cost(0, 2, 2), ValueError, "num_positions must be positive, got 0"),
    ("linear_attention_cost/bool", lambda: linear_attention_cost(True, 2, 2), TypeError, "num_positions must be an integer, got True"),
    ("linear_attention_cost/float", lambda: linear_attention_cost(2, 2.0, 2), TypeError, "d_k must be an integer, got 2.0"),
    # ---- linear_attention_layer
    ("linear_self/heads", lambda: LinearSelfAttention(8, 3), ValueError, "d_model=8 is not divisible by num_heads=3"),
    ("linear_self/x", lambda: linear_layer(t(1, 3, 6), pos(3)), ValueError, r"x must have shape \(batch, positions, d_model=8\), got \(1, 3, 6\)"),
    ("linear_self/2d", lambda: linear_layer(t(3, 8), pos(3)), ValueError, r"x must have shape \(batch, positions, d_model=8\), got \(3, 8\)"),
    ("linear_self/float64", lambda: linear_layer(t(1, 3, 8, dtype=F64), pos(3)), TypeError, "x has dtype torch.float64"),
    ("linear_self/positions", lambda: linear_layer(t(1, 3, 8), pos(4)), ValueError, "positions has 4 entries for the 3 positions of x"),
    ("linear_self/positions-list", lambda: linear_layer(t(1, 3, 8), [0, 1, 2]), TypeError, "positions must be a torch.Tensor"),
    ("linear_self/scheme-str", lambda: linear_layer(t(1, 3, 8), pos(3), scheme="rope"), TypeError, "scheme must be a PositionScheme, got str"),
    ("linear_self/cache-kv", lambda: linear_layer(t(1, 3, 8), pos(3), cache=KVCache(1, 2, 8, 4)), TypeError, "cache must be a LinearAttentionState, got KVCache"),
    ("linear_self/cache-batch", lambda: linear_layer(t(1, 3, 8), pos(3), cache=LinearAttentionPattern().new_cache(2, 2, 4, 8, F32, None)), ValueError, r"cache holds a state of shape \(2, 2, 4, 4\); this call needs \(1, 2, 4, 4\)"),
    ("linear_self/cache-dtype", lambda: linear_layer(t(1, 3, 8), pos(3), cache=LinearAttentionPattern().new_cache(1, 2, 4, 8, F64, None)), TypeError, "cache holds torch.float64 but the module's weights are torch.float32"),
    ("linear_self/alibi", lambda: linear_layer(t(1, 3, 8), pos(3), scheme=ALiBiPositions(2)), ValueError, "linear attention forms no scores"),
    ("linear_self/cache", lambda: linear_layer(t(1, 3, 8), pos(3), cache=object()), TypeError, "cache must be a LinearAttentionState, got object"),
    ("linear_pattern/dtype", lambda: LinearAttentionPattern().new_cache(1, 2, 4, 8, LONG, None), TypeError, "dtype must be a floating torch.dtype"),
    ("linear_pattern/positions", lambda: LinearAttentionPattern()(3, 4), TypeError, "query_positions must be a torch.Tensor"),
    # ---- position_schemes
    ("check_positions/list", lambda: check_positions("positions", [0, 1]), TypeError, "positions must be a torch.Tensor of positions, got list"),
    ("check_positions/2d", lambda: check_positions("positions", ids(2, 3)), ValueError, r"1-D integer tensor \(T,\), got shape \(2, 3\)"),
    ("check_positions/negative", lambda: check_positions("positions", torch.tensor([0, -2])), ValueError, "positions must be non-negative, got -2"),
    ("learned/max_len", lambda: LearnedPositions(0, 8), ValueError, "max_len must be positive, got 0"),
    ("learned/d_model", lambda: LearnedPositions(4, 0), ValueError, "d_model must be positive, got 0"),
    ("check_input_positions/x", lambda: check_input_positions(t(1, 3, 6), pos(3), 8), ValueError, r"x must have shape \(batch, positions, d_model=8\), got \(1, 3, 6\)"),
    ("check_input_positions/dtype", lambda: check_input_positions(t(1, 3, 8, dtype=F64), pos(3), 8, t(8)), TypeError, "x has dtype torch.float64 but the module's weights are torch.float32"),
    ("check_input_positions/count", lambda: check_input_positions(t(1, 3, 8), pos(2), 8), ValueError, "positions has 2 entries for the 3 positions of x"),
    ("learned/x", lambda: learned.embed(t(1, 3, 6), pos(3)), ValueError, r"x must have shape \(batch, positions, d_model=8\), got \(1, 3, 6\)"),
    ("learned/positions", lambda: learned.embed(t(1, 3, 8), pos(2)), ValueError, "positions has 2 entries for the 3 positions of x"),
    ("learned/float64", lambda: learned.embed(t(1, 3, 8, dtype=F64), pos(3)), TypeError, "x has dtype torch.float64 but the module's weights are torch.float32"),
    ("learned/ints", lambda: learned.embed(t(1, 3, 8, dtype=LONG), pos(3)), TypeError, "x must be floating point"),
    ("learned/too-far", lambda: learned.embed(t(1, 1, 8), torch.tensor([4])), ValueError, "position 4 has no learned vector: max_len=4"),
    ("sinusoidal_scheme/odd", lambda: SinusoidalPositions(7), ValueError, "d_model must be even and positive, got d_model=7"),
    ("sinusoidal_scheme/base", lambda: SinusoidalPositions(8, base=0.0), ValueError, "base must be positive and finite, got 0.0"),
    ("sinusoidal_scheme/scale", lambda: SinusoidalPositions(8, scale="0.02"), TypeError, "scale must be a real number"),
    ("sinusoidal_scheme/x", lambda: sinusoidal.embed(t(1, 3, 6), pos(3)), ValueError, r"x must have shape \(batch, positions, d_model=8\), got \(1, 3, 6\)"),
    ("sinusoidal_scheme/ints", lambda: sinusoidal.embed(t(1, 3, 8, dtype=LONG), pos(3)), TypeError, "x must be floating point"),
    ("make_position_scheme/name", lambda: make_position_scheme("relative", d_model=8, num_heads=2, max_len=8), ValueError, "positions must be 'none', 'learned'.* got 'relative'"),
    ("make_position_scheme/heads", lambda: make_position_scheme("rope", d_model=8, num_heads=0, max_len=None), ValueError, "num_heads must be positive, got 0"),
    ("make_position_scheme/divides", lambda: make_position_scheme("rope", d_model=10, num_heads=4, max_len=None), ValueError, "d_model=10 is not divisible by num_heads=4"),
    ("make_position_scheme/learned", lambda: make_position_scheme("learned", d_model=8, num_heads=2, max_len=None), ValueError, "learned positions need max_len"),
    # ---- rotary
    ("rotary_frequencies/odd", lambda: rotary_frequencies(5), ValueError, "d_head must be even and positive, got 5"),
    ("rotary_frequencies/base", lambda: rotary_frequencies(4, base=0.0), ValueError, "base must be positive and finite, got 0.0"),
    ("rotary_frequencies/base-str", lambda: rotary_frequencies(4, base="1e4"), TypeError, "base must be a real number"),
    ("apply_rotary/positions", lambda: apply_rotary(t(2, 4), pos(3)), ValueError, r"T = len\(positions\) = 3, got \(2, 4\)"),
    ("apply_rotary/ints", lambda: apply_rotary(t(2, 4, dtype=LONG), pos(2)), TypeError, "x must be floating point"),
    ("apply_rotary/float-positions", lambda: apply_rotary(t(2, 4), torch.tensor([0.0, 1.0])), TypeError, "positions must be a 1-D integer tensor"),
    ("apply_rotary/odd", lambda: apply_rotary(t(2, 5), pos(2)), ValueError, "d_head must be even and positive, got 5"),
    ("apply_rotary/base", lambda: apply_rotary(t(2, 4), pos(2), base=-1.0), ValueError, "base must be positive and finite, got -1.0"),
    ("rotary/d_head", lambda: RotaryPositions(3), ValueError, "d_head must be even and positive, got 3"),
    ("rotary/base", lambda: RotaryPositions(4, base=0.0), ValueError, "base must be positive and finite"),
    ("rotary/rotate-size", lambda: RotaryPositions(4).rotate(t(1, 2, 3, 6), pos(3)), ValueError, r"x must have shape \(\.\.\., T, d_head=4\), got \(1, 2, 3, 6\)"),
    # ---- score_bias
    ("biased_attention/3d", lambda: biased_attention(t(2, 3, 8), kv, kv), ValueError, r"query must have shape \(batch, heads, positions, d_head\), got \(2, 3, 8\)"),
    ("biased_attention/heads", lambda: biased_attention(t(1, 4, 3, 8), t(1, 3, 4, 8), t(1, 3, 4, 8)), ValueError, "query has 4 heads, which must be a multiple of the key's 3"),
    ("biased_attention/values", lambda: biased_attention(q, kv, t(1, 1, 5, 8)), ValueError, "key has 4 positions but value has 5"),
    ("biased_attention/d_head", lambda: biased_attention(q, t(1, 1, 4, 4), kv), ValueError, r"query has d_k=8 but key has d_k=4 \(query shape \(1, 2, 3, 8\), key shape \(1, 1, 4, 4\)\)"),
    ("biased_attention/batch", lambda: biased_attention(q, t(2, 1, 4, 8), t(2, 1, 4, 8)), ValueError, r"batch sizes differ: query shape \(1, 2, 3, 8\), key shape \(2, 1, 4, 8\)"),
    ("biased_attention/dtypes", lambda: biased_attention(q, t(1, 1, 4, 8, dtype=F64), t(1, 1, 4, 8, dtype=F64)), TypeError, "query, key, value must share a dtype"),
    ("biased_attention/ints", lambda: biased_attention(q, kv, kv.long()), TypeError, "value must be floating point"),
    ("biased_attention/mask-float", lambda: biased_attention(q, kv, kv, torch.ones(3, 4), need_weights=False), TypeError, "mask must be boolean"),
    ("biased_attention/mask-shape", lambda: biased_attention(q, kv, kv, ones_mask(3, 5), need_weights=False), ValueError, r"mask of shape \(3, 5\) does not broadcast to the scores of shape \(1, 2, 3, 4\)"),
    ("biased_attention/mask-list", lambda: biased_attention(q, kv, kv, [True] * 4, need_weights=False), TypeError, "mask must be a bool torch.Tensor, got list"),
    ("biased_attention/bias-shape", lambda: biased_attention(q, kv, kv, bias=t(3, 5)), ValueError, r"bias of shape \(3, 5\) does not broadcast to the scores of shape \(1, 2, 3, 4\)"),
    ("biased_attention/bias-extra-dims", lambda: biased_attention(q, kv, kv, bias=t(2, 1, 2, 3, 4)), ValueError, r"bias of shape \(2, 1, 2, 3, 4\) does not broadcast"),
    ("biased_attention/bias-bool", lambda: biased_attention(q, kv, kv, bias=ones_mask(3, 4)), TypeError, "bias must be floating point"),
    ("biased_attention/bias-list", lambda: biased_attention(q, kv, kv, bias=[0.0] * 4), TypeError, "bias must be a torch.Tensor, got list"),
    ("biased_attention/need_weights", lambda: biased_attention(q, kv, kv, need_weights="no"), TypeError, "need_weights must be True or False"),
    ("check_mask_and_bias/mask-ints", lambda: check_mask_and_bias(ids(3, 4), None, (1, 2, 3, 4)), TypeError, "mask must be boolean"),
    ("check_mask_and_bias/bias-shape", lambda: check_mask_and_bias(None, t(4, 3), (1, 2, 3, 4)), ValueError, r"bias of shape \(4, 3\) does not broadcast"),
    # ---- sliding_window
    ("sliding_window_mask/window", lambda: sliding_window_mask(pos(3), pos(3), 0), ValueError, "window must be at least 1"),
    ("sliding_window_mask/sinks", lambda: sliding_window_mask(pos(3), pos(3), 2, num_sinks=-1), ValueError, "num_sinks must be non-negative"),
    ("sliding_window_mask/float", lambda: sliding_window_mask(torch.arange(3.0), pos(3), 2), TypeError, "query_positions must be a 1-D integer tensor"),
    ("receptive_field/window", lambda: receptive_field(0, 2), ValueError, "window must be at least 1"),
    ("receptive_field/layers", lambda: receptive_field(4, 1.5), TypeError, "num_layers must be an integer"),
    ("rolling_cache/window", lambda: RollingKVCache(1, 2, 3, window=0), ValueError, "window must be at least 1"),
    ("rolling_cache/d_head", lambda: RollingKVCache(1, 2, 0, window=3), ValueError, "d_head must be positive, got 0"),
    ("rolling_cache/dtype", lambda: RollingKVCache(1, 2, 3, window=3, dtype=LONG), TypeError, "dtype must be a floating torch.dtype"),
    ("rolling_cache/append-shape", lambda: RollingKVCache(1, 2, 3, window=3).append(t(1, 2, 1, 4), t(1, 2, 1, 4)), ValueError, r"key must have shape \(batch=1, kv_heads=2, new positions, d_head=3\), got \(1, 2, 1, 4\)"),
    ("rolling_cache/append-positions", lambda: RollingKVCache(1, 2, 3, window=3).append(t(1, 2, 2, 3), t(1, 2, 1, 3)), ValueError, "key has 2 positions but value has 1"),
    ("rolling_cache/append-dtype", lambda: RollingKVCache(1, 2, 3, window=3).append(t(1, 2, 1, 3, dtype=F64), t(1, 2, 1, 3, dtype=F64)), TypeError, "key has dtype torch.float64 but the cache holds torch.float32"),
    ("window_pattern/window", lambda: SlidingWindowPattern(0), ValueError, "window must be at least 1"),
    ("window_pattern/positions", lambda: SlidingWindowPattern(2)([0, 1], pos(2)), TypeError, "query_positions must be a torch.Tensor"),
    ("window_pattern/new_cache", lambda: SlidingWindowPattern(2).new_cache(0, 2, 3, 4, F32, None), ValueError, "batch must be positive, got 0"),
    # ---- sparse_patterns
    ("local_global_mask/global-int", lambda: local_global_mask(5, 2, 3), TypeError, "global_positions must be a list of positions, got 3"),
    ("local_global_mask/global-float", lambda: local_global_mask(5, 2, [1.5]), TypeError, r"global_positions\[0\] must be an integer, got 1.5"),
    ("local_global_mask/global-outside", lambda: local_global_mask(5, 2, [5]), ValueError, r"global position 5 is outside 0..4"),
    ("local_global_mask/window", lambda: local_global_mask(5, -1), ValueError, "window must be non-negative"),
    ("bigbird_mask/generator", lambda: bigbird_mask(8, 2, 1, 2, 0), TypeError, "generator must be a torch.Generator, got int"),
    ("bigbird_mask/random", lambda: bigbird_mask(8, 2, 1, -1, gen()), ValueError, "num_random must be non-negative"),
    ("attention_flops/float-mask", lambda: attention_flops(torch.ones(2, 2), 4), TypeError, "mask must be a bool tensor"),
    ("attention_flops/d_head", lambda: attention_flops(ones_mask(2, 2), 2.0), TypeError, "d_head must be an integer"),
]

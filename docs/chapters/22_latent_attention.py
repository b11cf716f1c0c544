# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Compressing the cache: multi-head latent attention
#
# A decoder keeps the keys and values of every token it has seen
# ([Chapter 17](17_kv_cache_and_grouped_query_attention.py)), and for a long text
# that cache, not the weights, fills the accelerator's memory. Multi-query and
# grouped-query attention shrink it by letting heads *share* keys and values, which
# costs some quality. DeepSeek-V2
# ([DeepSeek-AI, 2024](../reference/references.md#deepseek2024)) shrinks it another
# way: every head keeps its own keys and values, but all of them are computed from
# one small vector per token, a *latent*, and only the latent is cached. This
# chapter builds multi-head latent attention (MLA) from the package's
# `attention.modern.latent_attention`: the low-rank compression, the separate rotary key
# that RoPE forces on it, the matrix-absorption trick that lets a decoder attend
# to the latents directly, and what it all saves, in bytes, at the sizes of real
# models. Then it puts MLA into the small language model of
# [Chapter 18](18_a_small_language_model.py) and measures what the smaller cache costs.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown

import attention
from attention.versions.overview import count_parameters
from attention.fast.cost import kv_cache_bytes
from attention.modern.latent_attention import LatentCache, MultiHeadLatentAttention, mla_cache_bytes
from attention.book.plotting import COLORS, use_book_style
from attention.modern.rotary import apply_rotary

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: one thread, the same numbers every build

# %% [markdown]
# ## A latent instead of keys and values
#
# In multi-head attention head $i$ projects the input $x_t$ of position $t$ to its
# key and value with $W^K_i$ and $W^V_i$, and the cache keeps $2 h\, d_{\text{head}}$
# numbers per token and layer. MLA puts a bottleneck in front of those projections.
# First a *down-projection* to a latent of size $d_c$, much smaller than
# $h\, d_{\text{head}}$, then one *up-projection* per head:
#
# $$
# c^{KV}_t = x_t W^{DKV}, \qquad k_{t,i} = c^{KV}_t W^{UK}_i, \qquad
# v_{t,i} = c^{KV}_t W^{UV}_i .
# $$
#
# Only $c^{KV}_t$ is cached: $d_c$ numbers per token and layer. The keys and values
# are a low-rank function of the input, rank at most $d_c$ for all heads together,
# which is a restriction; the paper reports that a model trained this way does at
# least as well as one with full multi-head attention, which in its own comparisons
# beat grouped-query and multi-query attention. Here is a small MLA layer with the package's
# `MultiHeadLatentAttention`, its projections and its cache:

# %%
d_model, heads, d_head, d_c, d_r = 64, 4, 16, 16, 8
mla = MultiHeadLatentAttention(d_model, heads, d_head, d_c, d_r)
for name, layer in mla.named_children():
    print(f"{name:5}: {layer.in_features:3} -> {layer.out_features:3}")
x = torch.randn(2, 10, d_model)  # (batch, T, d_model)
cache = mla.new_cache(batch=2, capacity=10)
with torch.no_grad():
    out, _ = mla(x, cache=cache)
print("output", tuple(out.shape), "| cached latents", tuple(cache.latents.shape),
      "and rotary keys", tuple(cache.rope_keys.shape))

# %% tags=["remove-input"]
mha_numbers = 2 * heads * d_head
Markdown(
    f"Per token, this layer caches $d_c + d_r = {d_c} + {d_r} = {d_c + d_r}$ "
    f"numbers where multi-head attention with the same {heads} heads of "
    f"{d_head} would cache $2 h\\, d_{{\\text{{head}}}} = {mha_numbers}$, "
    f"{mha_numbers / (d_c + d_r):.1f} times more. The second part of the cache, "
    f"the $d_r$ numbers of a rotary key, is the subject of the next section."
)

# %% [markdown]
# ## Why RoPE needs a key of its own
#
# The point of caching $c^{KV}_t$ would be lost if a decoder had to up-project
# every cached latent to keys at every step: that is $h\, d_{\text{head}}\, d_c$
# multiply-adds per cached token per step. The way out is algebra. The score of
# query $q_{t,i}$ and key $k_{j,i}$ is
#
# $$
# q_{t,i} \cdot k_{j,i} = q_{t,i} \left(c^{KV}_j W^{UK}_i\right)^\top
# = \left(q_{t,i} (W^{UK}_i)^\top\right) \cdot c^{KV}_j ,
# $$
#
# so the query can be mapped once into latent space and scored against the cached
# latents themselves. Now add RoPE ([Chapter 19](19_relative_positions.py)): the key
# is rotated by its position, $k_{j,i} R_j$, and the rotation $R_j$ sits between
# $W^{UK}_i$ and the query. It depends on $j$, so no single matrix can be folded into
# the query for all keys. The cell below rotates up-projected keys and tries to
# absorb $W^{UK}_i$ anyway, with the rotation of position 0:

# %%
q = torch.randn(d_head, dtype=torch.float64)  # one head's query, at position 5
w_uk = torch.randn(d_c, d_head, dtype=torch.float64)  # c W^UK: (d_c) -> (d_head)
latents = torch.randn(4, d_c, dtype=torch.float64)  # four cached latents
positions = torch.tensor([0, 1, 2, 3])
q_rotated = apply_rotary(q[None], torch.tensor([5]))[0]
true_scores = apply_rotary(latents @ w_uk, positions) @ q_rotated  # rotate the keys
absorbed_scores = latents @ (w_uk @ q_rotated)  # one folded matrix for all keys
print("scores with rotated keys:", true_scores.numpy().round(3))
print("folded, as if unrotated: ", absorbed_scores.numpy().round(3))

# %% [markdown]
# They agree for the key at position 0 only. DeepSeek-V2's answer is to *decouple*
# the positions from the content. The content part of the score uses the
# unrotated, compressed keys above. A second, small part carries the positions: a
# rotary query $q^R_{t,i}$ of size $d_r$ per head and one rotary key $k^R_t$ of size
# $d_r$ shared by all heads, both rotated by RoPE,
#
# $$
# q^R_{t,i} = x_t W^{QR}_i\, R_t, \qquad k^R_t = x_t W^{KR} R_t, \qquad
# \text{score}_{t,j,i} = \frac{q_{t,i} \cdot k_{j,i} + q^R_{t,i} \cdot k^R_j}
# {\sqrt{d_{\text{head}} + d_r}} .
# $$
#
# The rotary key is computed from the input, not from the latent, and cached
# beside it already rotated: $d_r$ more numbers per token, for all heads at once.
# The content part can be absorbed; the rotary part is small and needs no
# absorbing. Scores then depend on the positions through their offset only, as
# with RoPE itself: moving every position by 100 leaves the weights unchanged.

# %%
with torch.no_grad():
    _, near = mla(x, torch.arange(10), need_weights=True)
    _, far = mla(x, torch.arange(100, 110), need_weights=True)
print("largest change of a weight after shifting every position by 100:",
      (near - far).abs().max().item())

# %% [markdown]
# ## Attending to the latents: the absorbed form
#
# With the positions moved out of the way, both up-projections can be folded into
# neighbouring matrices. On the query side, $W^Q_i (W^{UK}_i)^\top$ maps the input
# straight to a query in latent space, $d_{\text{model}} \times d_c$ per head. On
# the output side, the weighted sum of values is
# $\sum_j \alpha_{tj} c^{KV}_j W^{UV}_i$: the weights can average the latents first,
# and $W^{UV}_i$ and head $i$'s block of $W^O$ multiply into one $d_c \times
# d_{\text{model}}$ matrix. A decoder then never forms a key or a value: each head
# scores the cached latents and rotary keys and averages the latents.
# `MultiHeadLatentAttention` has both paths, `absorbed=False` (up-project the
# latents) and `absorbed=True`; `absorbed_weights()` returns the folded matrices.
# In float64 they agree to rounding, and decoding one token at a time with the
# latent cache gives the outputs of the whole sequence at once:

# %%
mla64 = MultiHeadLatentAttention(d_model, heads, d_head, d_c, d_r).double()
x64 = torch.randn(1, 12, d_model, dtype=torch.float64)
with torch.no_grad():
    plain, _ = mla64(x64)
    absorbed, _ = mla64(x64, absorbed=True)
    cache = mla64.new_cache(batch=1, capacity=12)
    steps = torch.cat([mla64(x64[:, t:t + 1], cache=cache, absorbed=True)[0]
                       for t in range(12)], dim=1)
q_absorb, out_absorb = mla64.absorbed_weights()
print("folded matrices:", tuple(q_absorb.shape), tuple(out_absorb.shape))
print("plain vs absorbed:", (plain - absorbed).abs().max().item())
print("cached decoding vs whole sequence:", (steps - plain).abs().max().item())

# %% [markdown]
# Folding is not free. The folded query matrix is $d_{\text{model}} \times d_c$
# per head where $W^Q_i$ was $d_{\text{model}} \times d_{\text{head}}$, and each
# score is a dot product of $d_c + d_r$ numbers instead of $d_{\text{head}} + d_r$.
# Per decoded token and cached position, the absorbed form does about
# $2 h (d_c + d_r) + 2 h\, d_c$ FLOPs for scores and the weighted sum; the plain
# form first up-projects the cached latent to keys and values,
# $2 \cdot 2\, d_c\, h\, d_{\text{head}}$ FLOPs, and then does the usual
# $2 h (d_{\text{head}} + d_r) + 2 h\, d_{\text{head}}$. At DeepSeek-V2's sizes:

# %%
V2 = dict(layers=60, heads=128, d_head=128, d_c=512, d_r=64, d_model=5120)
absorbed_flops = 2 * V2["heads"] * (V2["d_c"] + V2["d_r"]) + 2 * V2["heads"] * V2["d_c"]
plain_flops = (2 * 2 * V2["d_c"] * V2["heads"] * V2["d_head"]
               + 2 * V2["heads"] * (V2["d_head"] + V2["d_r"])
               + 2 * V2["heads"] * V2["d_head"])
print(f"per cached position and layer: absorbed {absorbed_flops:,} FLOPs, "
      f"plain {plain_flops:,} FLOPs")

# %% tags=["remove-input"]
Markdown(
    f"The plain form spends {plain_flops / absorbed_flops:.0f} times more work per "
    f"cached position, almost all of it recomputing keys and values that the "
    f"absorbed form never needs. In training every position is new, its key and "
    f"value are computed once whichever form runs, and the plain form's scores run "
    f"over $d_{{\\text{{head}}}} + d_r$ numbers instead of $d_c + d_r$: the plain "
    f"form suits training, the absorbed one decoding, with the same weights."
)

# %% [markdown]
# ## What it saves, at real sizes
#
# Per token and layer, the caches hold (in numbers, before multiplying by
# $n_{\text{bytes}}$):
#
# * multi-head attention: $2 h\, d_{\text{head}}$;
# * grouped-query attention with $h_{\text{kv}}$ key/value heads:
#   $2 h_{\text{kv}}\, d_{\text{head}}$; multi-query attention, $h_{\text{kv}} = 1$:
#   $2 d_{\text{head}}$ ([Shazeer, 2019](../reference/references.md#shazeer2019);
#   [Ainslie et al., 2023](../reference/references.md#ainslie2023));
# * multi-head latent attention: $d_c + d_r$, whatever the number of heads.
#
# DeepSeek-V2 has 60 layers of 128 heads of size 128, $d_c = 512$ and $d_r = 64$.
# The table sets its cache beside the same shape with multi-head, grouped-query
# (8 key/value heads) and multi-query attention, and beside Llama 2 7B (32 layers
# of 32 heads of 128, multi-head) and Llama 2 70B (80 layers, 64 query heads and
# 8 key/value heads of 128) ([Touvron et al., 2023](../reference/references.md#touvron2023)),
# all in 16-bit numbers, computed with `attention.fast.cost.kv_cache_bytes` and
# `mla_cache_bytes`:

# %%
tokens = 32 * 1024  # one sequence of 32k tokens
layouts = {  # name: bytes per token, all layers, 2 bytes per number
    "DeepSeek-V2 shape, MHA": kv_cache_bytes(1, 60, 128, 128, 1, 2),
    "DeepSeek-V2 shape, GQA (8)": kv_cache_bytes(1, 60, 8, 128, 1, 2),
    "DeepSeek-V2 shape, MQA": kv_cache_bytes(1, 60, 1, 128, 1, 2),
    "DeepSeek-V2, MLA": mla_cache_bytes(1, 60, V2["d_c"], V2["d_r"], 1, 2),
    "Llama 2 7B, MHA": kv_cache_bytes(1, 32, 32, 128, 1, 2),
    "Llama 2 70B, GQA (8)": kv_cache_bytes(1, 80, 8, 128, 1, 2),
}

# %% tags=["remove-input"]
mla_bytes = layouts["DeepSeek-V2, MLA"]
lines = ["| attention | per token | per token and layer | 32k tokens |",
         "|---|---:|---:|---:|"]
for name, per_token in layouts.items():
    layers = 80 if "70B" in name else 32 if "7B" in name else 60
    lines.append(f"| {name} | {per_token / 1024:,.1f} KiB | "
                 f"{per_token // layers // 2:,} numbers | "
                 f"{per_token * tokens / 2**30:,.2f} GiB |")
Markdown(
    f"**Table 22.1.** Cache per token of one sequence, all layers, 16-bit numbers; "
    f"per token and layer in numbers; and for a sequence of {tokens:,} tokens.\n\n"
    + "\n".join(lines)
)

# %% tags=["fold"]
fig, ax = plt.subplots(figsize=(6.4, 3.0), layout="constrained")
names = list(layouts)
values = [layouts[n] / 1024 for n in names]
colors = [COLORS[1] if "MLA" in n else COLORS[0] if "DeepSeek" in n else COLORS[2]
          for n in names]
ax.barh(names[::-1], values[::-1], color=colors[::-1])
ax.set(xscale="log", xlabel="KiB of cache per token, all layers (log scale)")
for y, value in enumerate(values[::-1]):
    ax.text(value * 1.1, y, f"{value:,.1f}".removesuffix(".0"),
            va="center", fontsize=8)
ax.set_xlim(right=max(values) * 4)
ax.minorticks_off()
plt.show()

# %% tags=["remove-input"]
mha = layouts["DeepSeek-V2 shape, MHA"]
groups = (V2["d_c"] + V2["d_r"]) / (2 * V2["d_head"])
Markdown(
    f"**Figure 22.1.** The same numbers as Table 22.1, on a logarithmic scale. "
    f"With DeepSeek-V2's shape, multi-head attention would cache "
    f"{mha / 2**20:.2f} MiB per token; MLA caches {mla_bytes / 1024:.1f} KiB, "
    f"{mha / mla_bytes:.0f} times less, and less than Llama 2 7B's "
    f"{layouts['Llama 2 7B, MHA'] / 1024:.0f} KiB although the model has "
    f"{V2['heads'] // 32} times as many heads per layer. In numbers, MLA's "
    f"$d_c + d_r = {V2['d_c'] + V2['d_r']}$ per layer is what grouped-query "
    f"attention would cache with {groups:.2f} key/value heads, yet each of the "
    f"{V2['heads']} heads keeps keys and values of its own. Only multi-query "
    f"attention caches less ({layouts['DeepSeek-V2 shape, MQA'] / 1024:.0f} KiB), "
    f"with a single key and value for all heads."
)

# %% [markdown]
# What MLA pays instead is parameters and work: the up-projections and the rotary
# projections are extra matrices, and a decoder's per-head scores run over $d_c$
# numbers. DeepSeek-V2 also compresses its queries the same way (a second latent,
# which saves activation memory in training, not cache, and from which it computes
# the rotary queries; without it they come from $x_t$, as here) and normalises the
# latents; neither changes the cache.
#
# ## MLA in the small language model
#
# Part V changes one thing at a time in the model of
# [Chapter 18](18_a_small_language_model.py) and measures what it changes. Here the
# thing is the attention. `MultiHeadLatentAttention` fits `attention.GPT`'s
# `attention` option as it is: it is called with the normalised input and its
# positions and returns its output and weights, like the model's own
# `CausalSelfAttention`. What differs is the cache. The pattern makes a `KVCache`
# for ordinary attention layers, but it cannot make one of latents, so an MLA layer
# makes its own (`new_cache`), and `model.new_caches` asks it for a `LatentCache`.
#
# Two models are trained, the same in everything but the attention layers: 2 blocks,
# $d_{\text{model}} = 48$, 4 heads of 12. One has multi-head attention; the other
# has MLA with a latent of $d_c = 16$, a third of $d_{\text{model}}$, and a rotary
# part of $d_r = 6$, half a head (DeepSeek-V2 has $d_r = d_{\text{head}} / 2$ too).
#
# The positions need a choice, to keep the comparison fair. An MLA layer carries
# its positions in its decoupled rotary part and ignores the model's position
# scheme, so the MLA model is built with `positions="none"`: the rotary part is the
# only place order enters. Chapter 18's learned position vectors would give the
# other model a different way to know positions, a table of vectors that it has to
# learn. The multi-head model gets RoPE instead ([Chapter 19](19_relative_positions.py)),
# applied to every head's queries and keys, so both know positions only through
# rotations inside the scores.
#
# Both train as Chapter 18's model did: the same text and held-out tenth, the same
# seed for the initial weights and for the windows, batches of 32 windows of 32
# characters, the same learning rate and warm-up. They train for 100 steps instead of
# 300, so that two trainings fit in the time a page may take to build.

# %%
tokenizer, train_tokens, heldout_tokens = attention.book_tokens()  # chapter 18's split

gpt_config = dict(d_model=48, num_heads=4, num_layers=2)
lm_d_head, lm_d_c, lm_d_r = 12, 16, 6  # 4 heads of 12 = 48; latent 16; rotary part 6


def latent_layer(layer):
    """One block's attention: MLA with the latent and rotary sizes above."""
    return MultiHeadLatentAttention(gpt_config["d_model"], gpt_config["num_heads"],
                                    lm_d_head, lm_d_c, lm_d_r)


variants = {  # name: the options of attention.GPT that differ
    "multi-head": dict(positions="rope"),
    "MLA": dict(positions="none", attention=latent_layer),
}
steps, batch_size, length = 100, 32, 32
lms, logs = {}, {}
for name, options in variants.items():
    torch.manual_seed(0)  # the initial weights, as in Chapter 18
    lms[name] = attention.GPT(len(tokenizer), **gpt_config, **options)
    logs[name] = attention.train_language_model(
        lms[name], train_tokens, steps=steps, batch_size=batch_size, length=length,
        generator=torch.Generator().manual_seed(0), lr=1e-2, warmup=30,
        heldout=heldout_tokens, eval_every=steps)
    print(f"{name:>10}: held-out loss {logs[name].heldout_losses[-1]:.3f} nats")

# %% [markdown]
# The caches each model makes for decoding tell what it keeps per token. Their
# sizes are measured on the caches themselves, from `new_caches`, and checked
# against the formulas of `kv_cache_bytes` and `mla_cache_bytes`:

# %%
capacity, num_layers = 32, gpt_config["num_layers"]
cache_numbers = {}  # name: numbers cached per token and layer
for name, lm in lms.items():
    caches = lm.new_caches(batch=1, capacity=capacity)
    held = sum(c.nbytes() if isinstance(c, LatentCache) else c.keys.nbytes + c.values.nbytes
               for c in caches)  # bytes, all layers
    cache_numbers[name] = held // (capacity * num_layers * 4)  # 4 bytes per float32
    print(f"{name:>10}: {type(caches[0]).__name__}, {held:,} bytes for {capacity} tokens")
assert cache_numbers["multi-head"] * capacity * num_layers * 4 == kv_cache_bytes(
    1, num_layers, gpt_config["num_heads"], lm_d_head, capacity, 4)
assert cache_numbers["MLA"] * capacity * num_layers * 4 == mla_cache_bytes(
    1, num_layers, lm_d_c, lm_d_r, capacity, 4)

# %% tags=["remove-input"]
lm_loss = {name: log.heldout_losses[-1] for name, log in logs.items()}
lm_params = {name: count_parameters(lm) for name, lm in lms.items()}
attention_params = {name: sum(count_parameters(b.attention) for b in lm.blocks)
                    for name, lm in lms.items()}
rows = ["| attention | parameters (in attention) | cached per token, layer | held-out loss |",
        "|---|---:|---:|---:|"]
for name in lms:
    rows.append(f"| {name} | {lm_params[name]:,} ({attention_params[name]:,}) | "
                f"{cache_numbers[name]} numbers | {lm_loss[name]:.3f} nats |")
Markdown(
    f"**Table 22.2.** Chapter 18's model with multi-head attention (and RoPE) and "
    f"with MLA ($d_c = {lm_d_c}$, $d_r = {lm_d_r}$), each trained for {steps} steps "
    f"from the same seed: its parameters, those of its attention layers, the "
    f"numbers its decoding cache keeps per token and layer, and its loss on the "
    f"held-out text.\n\n" + "\n".join(rows)
)

# %% tags=["remove-input"]
loss_gap = lm_loss["MLA"] - lm_loss["multi-head"]
cache_ratio = cache_numbers["multi-head"] / cache_numbers["MLA"]
fewer = attention_params["multi-head"] - attention_params["MLA"]
mha_layer, mla_layer = lms["multi-head"].blocks[0].attention, lms["MLA"].blocks[0].attention
key_value = count_parameters(mha_layer.w_k) + count_parameters(mha_layer.w_v)
latent_path = sum(count_parameters(m) for m in (mla_layer.w_dkv, mla_layer.w_uk, mla_layer.w_uv))
rotary_path = count_parameters(mla_layer.w_qr) + count_parameters(mla_layer.w_kr)
Markdown(
    f"The MLA model caches {cache_numbers['MLA']} numbers per token and layer, "
    f"$d_c + d_r = {lm_d_c} + {lm_d_r}$, where the multi-head model caches "
    f"$2 h\\, d_{{\\text{{head}}}} = {cache_numbers['multi-head']}$: "
    f"{cache_ratio:.1f} times less. Its attention layers have {abs(fewer):,} "
    f"{'fewer' if fewer >= 0 else 'more'} parameters: per layer, the projections "
    f"down to the latent and up from it ($W^{{DKV}}$, $W^{{UK}}$, $W^{{UV}}$) have "
    f"{latent_path:,} where the key and value projections have {key_value:,}, and "
    f"the rotary projections add {rotary_path:,}. On the held-out text the MLA model "
    f"ends {abs(loss_gap):.3f} nats {'above' if loss_gap > 0 else 'below'} the "
    f"multi-head model, {lm_loss['MLA']:.3f} against {lm_loss['multi-head']:.3f}; "
    f"the content keys of its {gpt_config['num_heads']} heads together have rank "
    f"at most {lm_d_c}, where they could have rank {gpt_config['d_model']}. This is one "
    f"short run of each model from one seed, and the loss of so short a training "
    f"also moves with the seed, so the gap is what this run measured, not a settled "
    f"price of the latent. DeepSeek-V2's finding, that MLA does as well as "
    f"multi-head attention, is about much larger models trained far longer."
)

# %% [markdown]
# Decoding is where the latent cache is used. `generate` makes one `LatentCache`
# per block and runs only the newest character at each step; without the cache it
# runs the whole text every step. Greedy decoding from Chapter 18's prompt writes the
# same characters both ways:

# %%
prompt = torch.from_numpy(tokenizer.encode("The attention ")).view(1, -1)  # (1, P)
num_new = length - prompt.shape[1]
for name, lm in lms.items():
    cached = lm.generate(prompt, num_new)  # (1, P + num_new): with the caches
    uncached = lm.generate(prompt, num_new, use_cache=False)
    print(f"{name:>10}: {tokenizer.decode(cached[0])!r}, "
          f"the same without the cache: {torch.equal(cached, uncached)}")

# %% [markdown]
# ## Summary
#
# * MLA caches one latent $c^{KV}_t = x_t W^{DKV}$ of size $d_c$ per token and
#   layer; each head up-projects it to its own key and value with $W^{UK}_i$ and
#   $W^{UV}_i$.
# * RoPE's rotation would sit between the query and $W^{UK}_i$, so positions get a
#   decoupled part: a rotary query per head and one rotary key $k^R_t$ of size
#   $d_r$, shared by all heads and cached beside the latent.
# * The absorbed form folds $W^{UK}_i$ into the query and $W^{UV}_i$ into $W^O$, so a
#   decoder attends to the cached latents directly, with the same outputs as
#   up-projecting them (checked here in float64, with the cache and without).
# * At DeepSeek-V2's sizes MLA caches less per token than grouped-query attention
#   with 8 key/value heads (Table 22.1), while every head keeps keys and values of
#   its own.
# * In the small language model of Chapter 18, MLA layers take the place of
#   multi-head attention through `attention.GPT`'s `attention` option and make their
#   own `LatentCache`s for decoding, and greedy decoding with those caches writes the
#   same text as decoding without them. Trained the same way, the MLA model caches
#   $d_c + d_r$ numbers per token and layer instead of $2 h\, d_{\text{head}}$;
#   Table 22.2 sets its held-out loss beside the multi-head model's, from one short
#   run of each.
#
# ## Exercises
#
# 1. Count the parameters of `mla` by hand from $d_{\text{model}}$, $h$,
#    $d_{\text{head}}$, $d_c$ and $d_r$, and compare with multi-head attention of the
#    same heads (four $d_{\text{model}} \times d_{\text{model}}$ matrices, no biases).
# 2. For a model with $d_{\text{head}} = 128$ and $d_r = 64$, which $d_c$ makes MLA
#    cache exactly as much as grouped-query attention with 8 key/value heads? Check
#    with `mla_cache_bytes` and `kv_cache_bytes`.
# 3. Decode 8 positions with the absorbed path and 8 with the plain path, each from
#    its own cache filled by the same 4-token prompt, and check that the outputs
#    agree. Which of the two caches would you rather keep?
# 4. The MLA model of Table 22.2 has $d_c = 16$ and $d_r = 6$. Which $d_c$ would
#    make it cache as many numbers per token and layer as the multi-head model, and
#    which as much as multi-query attention with one key/value head of 12? Check the
#    first with the cache of an MLA layer of that size. Does the model of Table 22.2
#    cache more or less than multi-query attention would?

# %% tags=["solution"]
# Exercise 1: MLA's parameters against multi-head attention's.
by_hand = (d_model * heads * d_head + d_model * heads * d_r  # W^Q, W^QR
           + d_model * d_c + d_model * d_r  # W^DKV, W^KR
           + 2 * d_c * heads * d_head + heads * d_head * d_model)  # W^UK, W^UV, W^O
print(by_hand, count_parameters(mla), "multi-head:", 4 * d_model * d_model)

# %% tags=["solution"]
# Exercise 2: the d_c that matches 8 key/value heads.
d_c_match = 2 * 8 * 128 - 64
print(d_c_match, mla_cache_bytes(1, 1, d_c_match, 64, 1, 2) == kv_cache_bytes(1, 1, 8, 128, 1, 2))

# %% tags=["solution"]
# Exercise 3: both paths decode the same; the caches are the same latents.
x_ = torch.randn(1, 12, d_model, dtype=torch.float64)
outputs = {}
with torch.no_grad():
    for absorbed_ in (False, True):
        cache_ = mla64.new_cache(1, 12)
        mla64(x_[:, :4], cache=cache_, absorbed=absorbed_)
        outputs[absorbed_] = torch.cat([mla64(x_[:, t:t + 1], cache=cache_, absorbed=absorbed_)[0]
                                        for t in range(4, 12)], dim=1)
print("largest difference:", (outputs[False] - outputs[True]).abs().max().item())


# %% tags=["solution"]
# Exercise 4: the latents that cache as much as multi-head and multi-query attention.
mha_match = 2 * gpt_config["num_heads"] * lm_d_head - lm_d_r  # d_c + d_r = 2 h d_head
mqa_match = 2 * lm_d_head - lm_d_r  # d_c + d_r = 2 d_head
wide = MultiHeadLatentAttention(gpt_config["d_model"], gpt_config["num_heads"], lm_d_head,
                                mha_match, lm_d_r).new_cache(batch=1, capacity=1)
print("d_c for multi-head:", mha_match, "| its cache holds",
      wide.latents.numel() + wide.rope_keys.numel(), "numbers, the multi-head model's",
      cache_numbers["multi-head"])
print("d_c for multi-query:", mqa_match, "| ours, d_c =", lm_d_c, "caches",
      "less" if lm_d_c < mqa_match else "more", "than multi-query attention")

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
# # Decoding with a KV cache; multi-query and grouped-query attention
#
# A language model writes text one token at a time, and each new token needs a
# forward pass. Done naively, as in the greedy decoding of
# [Chapter 13](13_training_a_transformer.py#greedy-decoding), every pass runs the
# whole text written so far through the model again, although only the newest
# position has anything new to say. This chapter removes that waste with a *KV
# cache*: each layer keeps the keys and values of the positions it has already
# seen, and each step runs only the newest token. We check that the cached decoder
# writes exactly the same tokens, count the work it saves and measure the time, and
# meet a trap on the way: with fewer queries than keys, the causal mask has to be
# aligned to the lower right, which is not what PyTorch's `is_causal=True` does.
# The cache has a price, memory, and it grows with every token. The last part of
# the chapter, and of the book, shows how *multi-query* and *grouped-query
# attention* shrink it by letting several query heads share one head of keys and
# values.

# %%
import os
import platform
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from torch.nn.attention.bias import causal_lower_right

import attention
from attention.fast.grouped_query import grouped_query_attention
from attention.fast.cost import kv_cache_bytes
from attention.fast.decoding import TinyLanguageModel
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # one token at a time is tiny work: one thread
torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## Generating one token at a time
#
# The model of this chapter is a *decoder-only* language model, the shape of the
# GPT family: no encoder, only a stack of causal self-attention blocks that reads a
# sequence of tokens and gives, at every position, logits for the token that
# follows. `attention.fast.decoding.TinyLanguageModel` is a small one: token and
# position embeddings, two pre-norm blocks (causal attention, then an MLP, each with
# a residual connection), a final layer norm and a projection onto the vocabulary.
# Its weights are random, so what it writes is nonsense, but it computes exactly
# what a trained model computes, which is all that matters for speed and memory.
# For now every head has its own keys and values (`num_kv_heads=num_heads`); the
# second half of the chapter changes that.
#
# Greedy decoding feeds the model the prompt, takes the most likely next token,
# appends it, and runs the model again on the longer sequence:

# %%
vocab_size, d_model, num_heads, num_layers = 1000, 256, 8, 2
prompt_length, num_new = 16, 128  # a prompt of 16 tokens, 128 more to write
model = TinyLanguageModel(vocab_size, d_model, num_heads,
                          num_kv_heads=num_heads, num_layers=num_layers,
                          max_len=prompt_length + num_new).eval()
prompt = torch.randint(vocab_size, (1, prompt_length))  # (batch, P)

# Keep the keys that the second block computes at every step.
layer_1_keys = []
hook = model.blocks[1].attention.w_k.register_forward_hook(
    lambda module, inputs, output: layer_1_keys.append(output))

tokens = prompt  # (batch, P)
with torch.no_grad():
    for step in range(3):
        logits = model(tokens)  # (batch, T, vocab): every position, again
        next_token = logits[:, -1].argmax(dim=-1, keepdim=True)  # (batch, 1)
        print(f"step {step}: runs {tokens.shape[1]} positions, keeps the "
              f"logits of the last one -> token {next_token.item()}")
        tokens = torch.cat([tokens, next_token], dim=1)  # (batch, T + 1)
hook.remove()
uncached_first = tokens[0, prompt_length:].tolist()

same_keys = (layer_1_keys[2][:, :prompt_length]
             - layer_1_keys[0]).abs().max().item()
print(f"block 1's keys of the {prompt_length} prompt positions, step 2 "
      f"vs step 0: max |difference| = {same_keys:.1e}")

# %% [markdown]
# Every step repeats almost all of the previous step's work. The model is causal:
# the vector at position $i$, in every block, depends only on the tokens at
# positions $0, \dots, i$, so appending a token changes nothing at the earlier
# positions. The printout checks it on the keys of the *second* block, whose input
# has already been through one attention layer: the prompt's keys computed at
# step 2 are the ones computed at step 0 (the printed difference is at most
# float32 rounding). Of all that a step computes at the
# old positions, the next position needs only one thing: the keys and values that
# its query attends to in each block. They can be computed once and kept.
#
# ## A cache for keys and values
#
# `attention.KVCache` holds the keys and values of one attention layer for the
# positions seen so far. It allocates buffers for `capacity` positions up front,
# of shape `(batch, kv_heads, capacity, d_head)`, and `append(k, v)` writes the new
# positions into the next free slots and returns views of all the filled ones. It
# does not grow with `torch.cat`, which would copy the whole past at every step;
# an append copies only the new positions. When the buffers are full it refuses,
# with an error that names the sizes, rather than grow or overwrite:

# %%
cache = attention.KVCache(batch=1, num_kv_heads=2, capacity=4, d_head=3)
prompt_kv = torch.randn(1, 2, 3, 3)  # (batch, kv_heads, 3 positions, d_head)
token_kv = torch.randn(1, 2, 1, 3)  # (batch, kv_heads, 1 position, d_head)
for new_kv in (prompt_kv, token_kv, token_kv):
    try:
        keys, values = cache.append(new_kv, new_kv)  # (values = keys here)
        print(cache, "-> keys", tuple(keys.shape))
    except ValueError as error:
        print("ValueError:", error)

# %% [markdown]
# The model's attention layers know what to do with a cache. Given one, the
# attention module projects only the positions it is given into queries, keys and
# values, appends the new keys and values to the cache, and lets the new queries
# attend to everything the cache holds. `model.new_caches(batch, capacity)` makes
# one cache per block, and `model(tokens, caches)` runs `tokens` as the positions
# that follow the cached ones (their position embeddings start at `len(cache)`).
# Decoding then has two phases: the first step runs the whole prompt and fills the
# caches (the *prefill*); every later step runs one token.

# %%
caches = model.new_caches(batch=1, capacity=prompt_length + num_new)
new = prompt  # the first step runs the whole prompt: the prefill
cached_first = []
with torch.no_grad():
    for step in range(3):
        logits = model(new, caches)  # (batch, new positions, vocab)
        next_token = logits[:, -1].argmax(dim=-1, keepdim=True)  # (batch, 1)
        print(f"step {step}: runs {new.shape[1]:2d} position(s), cache now "
              f"holds {len(caches[0])} -> token {next_token.item()}")
        cached_first.append(next_token.item())
        new = next_token  # the next step runs only this token
print("the same three tokens as without the cache:",
      cached_first == uncached_first)

# %% [markdown]
# ## The same tokens, either way
#
# Three tokens prove little. `model.generate(prompt, num_tokens, use_cache=...)`
# runs the two loops above to the end. To compare them step by step, here they are
# once more, written to keep each step's logits (and its time, for later):

# %%
def greedy_steps(model, prompt, num_tokens, use_cache):
    """Greedy decoding as `model.generate` does it, keeping each step's
    logits for the next token and the seconds the step took."""
    capacity = prompt.shape[1] + num_tokens
    caches = model.new_caches(len(prompt), capacity) if use_cache else None
    tokens = new = prompt  # (batch, P)
    step_logits, seconds = [], []
    with torch.no_grad():
        for _ in range(num_tokens):
            start = time.perf_counter()
            logits = model(new if use_cache else tokens, caches)[:, -1]
            next_token = logits.argmax(dim=-1, keepdim=True)  # (batch, 1)
            seconds.append(time.perf_counter() - start)
            step_logits.append(logits)  # (batch, vocab)
            tokens = torch.cat([tokens, next_token], dim=1)
            new = next_token
    return tokens, torch.stack(step_logits, dim=1), seconds


fast_tokens, fast_logits, _ = greedy_steps(model, prompt, num_new, True)
slow_tokens, slow_logits, _ = greedy_steps(model, prompt, num_new, False)
# fast_tokens, slow_tokens: (batch, P + N); the logits: (batch, N, vocab)
logit_diff = (fast_logits - slow_logits).abs().max().item()
print("identical tokens:", torch.equal(fast_tokens, slow_tokens))
print("identical to model.generate:",
      torch.equal(fast_tokens, model.generate(prompt, num_new)))
print(f"max |logit difference| over all steps: {logit_diff:.1e}")

# %% tags=["remove-input"]
top2 = slow_logits.topk(2, dim=-1).values  # (batch, N, 2)
smallest_gap = (top2[..., 0] - top2[..., 1]).min().item()
identical = torch.equal(fast_tokens, slow_tokens)
agreement = (f"All {num_new} tokens are the same" if identical
             else "The tokens differ")
if logit_diff == 0:
    rounding = "The logits are even bit for bit the same here"
else:
    rounding = (
        f"The logits are not bit for bit the same: they differ by up to "
        f"{logit_diff:.0e}, because a cached step multiplies a single row by "
        f"the weight matrices where the uncached step multiplies many, and the "
        f"float32 sums are then added up in a different order"
    )
Markdown(
    f"{agreement}. {rounding}. Rounding differences could flip an argmax only "
    f"where the best and the second-best logits are that close; here the "
    f"smallest gap between them, over all {num_new} steps, is "
    f"{smallest_gap:.1e}. (With a trained model and long outputs, a near-tie "
    f"can happen now and then, and the two ways of decoding then go apart from "
    f"that token on. Neither is wrong; both are rounding.)"
)

# %% [markdown]
# ## What the cache saves
#
# Count the matrix-multiplication FLOPs of one forward pass that runs $T_q$ new
# positions, whose queries attend to $T_k$ keys (the cached positions and the new
# ones), with the conventions of [Chapter 15](15_what_attention_costs.py): an
# $(d_1 \times d_2)(d_2 \times d_3)$ product costs $2 d_1 d_2 d_3$. Per block, the four attention
# projections cost $8 T_q d_{\text{model}}^2$ (with every head its own keys and
# values), the MLP, which widens to $4 d_{\text{model}}$ and back,
# $16 T_q d_{\text{model}}^2$, and the attention itself $4 T_q T_k d_{\text{model}}$: the
# scores and the weighted sum, summed over the heads. The final projection onto the
# vocabulary costs $2 T_q\, d_{\text{model}} n_{\text{vocab}}$; the model computes logits at every
# position it runs, although decoding uses only the last.
#
# Without a cache, step $t$ runs all $T_q = T_k = T_p + t$ positions; with one, the
# prefill runs the $T_p$ prompt positions and every later step $T_q = 1$ position
# against $T_k = T_p + t$ keys:

# %%
def step_flops(num_new, num_keys, num_kv_heads=num_heads):
    """Matmul FLOPs of one forward pass of `model` (batch 1) on `num_new`
    positions whose queries attend to `num_keys` keys."""
    d_head = d_model // num_heads
    kv_size = num_kv_heads * d_head  # the size of the keys of one position
    projections = 2 * num_new * d_model * (2 * d_model + 2 * kv_size)
    mlp = 2 * 2 * num_new * d_model * (4 * d_model)
    attend = 2 * 2 * num_new * num_keys * d_model  # scores, weighted sum
    unembed = 2 * num_new * d_model * vocab_size
    return num_layers * (projections + mlp + attend) + unembed


P = prompt_length
flops_uncached = [step_flops(P + t, P + t) for t in range(num_new)]
flops_cached = [step_flops(P, P)] + [step_flops(1, P + t)
                                     for t in range(1, num_new)]

steps = np.arange(num_new)
fig, ax = plt.subplots(figsize=(6.4, 3.0), layout="constrained")
ax.plot(steps, np.array(flops_uncached) / 1e6, label="recompute the prefix")
ax.plot(steps, np.array(flops_cached) / 1e6, label="KV cache")
ax.set(yscale="log", xlabel="step (the token being written)",
       ylabel="MFLOPs per step (log scale)")
ax.set_yticks([3, 10, 30, 100, 300], ["3", "10", "30", "100", "300"])
ax.minorticks_off()
ax.legend()
plt.show()

# %% tags=["remove-input"]
ratio_flops = sum(flops_uncached) / sum(flops_cached)
Markdown(
    f"**Figure 17.1.** The matrix-multiplication work of each of the {num_new} "
    f"steps of greedy decoding, counted with `step_flops`, with a prompt of "
    f"{P} tokens. Recomputing, each step costs more than the one before "
    f"({flops_uncached[0] / 1e6:.0f} MFLOPs at the first step, "
    f"{flops_uncached[-1] / 1e6:.0f} at the last). With the cache, the prefill "
    f"costs what the first uncached step costs, and every later step about "
    f"{flops_cached[1] / 1e6:.1f} MFLOPs: its only growing term, attention to "
    f"the cached keys, is small next to the projections of one position."
)

# %% tags=["remove-input"]
Markdown(
    f"Summed over the {num_new} steps, recomputing does {ratio_flops:.0f} times "
    f"the work. The gap widens with the length $T$ of the output: without the "
    f"cache, step $t$ costs in proportion to $t$ (projections, MLP, logits) plus "
    f"$t^2$ (attention), so the whole generation costs in proportion to $T^2$ "
    f"plus $T^3$; with the cache, a step costs a constant plus a term in $t$, "
    f"and the generation $T$ plus $T^2$. The package's benchmark, "
    f"`python -m attention.book.benchmark`, measures the same model writing 256 "
    f"tokens."
)

# %% [markdown]
# Try it yourself. The next cell decodes the first 12 tokens once more with the caches,
# step by step, and records what each step runs, how many positions the caches hold
# after it and the token it writes; the work of each step, with and without the cache, is
# `step_flops`. The figure under it shows the step the slider picks.

# %%
import altair as alt
from attention.book.interactive import interactive_figure

n_show = 12
caches_demo = model.new_caches(batch=1, capacity=P + n_show)
new, frames = prompt, []
with torch.no_grad():
    for s in range(n_show):
        start = len(caches_demo[0])  # positions cached before this step
        next_token = model(new, caches_demo)[:, -1].argmax(dim=-1, keepdim=True)  # (batch, 1)
        assert next_token.item() == slow_tokens[0, P + s].item()  # as when recomputing
        held = len(caches_demo[0])
        frames.append({
            "step": s,  # the slider's value picks this frame
            # per position: 0 not there yet, 1 read from the cache, 2 computed this step
            "cached": [1 if i < start else 2 if i < held else 0 for i in range(P + n_show)],
            "recompute": [2 if i < held else 0 for i in range(P + n_show)],
            "readout": f"step {s}: the cache holds {held} · {flops_cached[s] / 1e6:.3g} against "
                       f"{flops_uncached[s] / 1e6:.3g} MFLOPs · writes {next_token.item()}",
        })
        new = next_token  # the next step runs only this token

# %% tags=["fold"]
slider = alt.param(name="step", value=0, bind=alt.binding_range(
    min=0, max=n_show - 1, step=1, name="step "))
picked = alt.Chart().transform_filter("datum.step == step")
kinds = ["not there yet", "read from the cache", "computed this step"]
strip = picked.transform_fold(["cached", "recompute"], as_=["loop", "state"]).transform_calculate(
    position=str(list(range(P + n_show)))).transform_flatten(["position", "state"]).transform_calculate(
    loop="datum.loop == 'cached' ? 'KV cache' : 'recompute'",
    kind=f"{kinds}[datum.state]").mark_rect(stroke="currentColor", strokeOpacity=0.2).encode(
    x=alt.X("position:O", title="position (its keys and values, in every block)",
            axis=alt.Axis(values=list(range(0, P + n_show, 4)), labelAngle=0)),
    y=alt.Y("loop:N", title=None, sort=["KV cache", "recompute"]),
    color=alt.Color("kind:N", scale=alt.Scale(domain=kinds, range=["transparent", *COLORS[:2]]),
                    legend=alt.Legend(orient="bottom", title=None, values=kinds[1:])))
readout = picked.mark_text(align="left", x=0, y=-12, fontSize=12).encode(text="readout:N")
interactive_figure(
    alt.layer(strip, readout, data=alt.Data(values=frames)).add_params(slider)
    .properties(width=336, height=44, autosize=alt.AutoSizeParams(type="pad")),
    "Decoding step by step, with the KV cache and by recomputing: which positions each "
    "step computes and which it reads from the cache.",
)

# %% [markdown]
# **Interactive figure 17.1.** Step 0 is the prefill: both loops compute the 16 prompt
# positions. Move the slider: with the cache, each later step computes one position
# (orange) and reads every earlier one from the cache (blue), which grows by one
# position per step; recomputing, each step computes every position again. The readout
# gives the work of the step, with the cache and without, as in Figure 17.1, and the token
# it writes, the same both ways (the cell above checks it).

# %% [markdown]
# ## The time it saves, measured
#
# FLOPs are not seconds. We time every step of both loops, three times each, the
# two taking turns so that a busy moment of the machine falls on both, and keep
# each step's median. The times below were measured when this page was built; they
# change from machine to machine and from one build to the next.

# %% tags=["measured"]
rounds = {True: [], False: []}  # use_cache -> one list of step times per run
for _ in range(3):
    for use_cache in (True, False):
        seconds = greedy_steps(model, prompt, num_new, use_cache)[2]
        rounds[use_cache].append(seconds)
step_ms = {c: 1e3 * np.median(r, axis=0) for c, r in rounds.items()}  # (N,)
total_s = {c: float(np.median(np.sum(r, axis=1))) for c, r in rounds.items()}

machine = (f"{platform.processor() or platform.machine()} "
           f"({os.cpu_count()} CPUs), {platform.system()}, "
           f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
fig, ax = plt.subplots(figsize=(6.4, 3.0), layout="constrained")
ax.plot(steps, step_ms[False], label="recompute the prefix")
ax.plot(steps, step_ms[True], label="KV cache")
ax.set(xlabel="step (the token being written)",
       ylabel="milliseconds per step", ylim=(0, None))
ax.legend()
plt.show()

# %% tags=["remove-input", "measured"]
speedup = total_s[False] / total_s[True]


def early_late(ms):
    """Median step time (ms) of steps 1 to 16, and of the last 16 steps."""
    return f"{np.median(ms[1:17]):.1f} ms to {np.median(ms[-16:]):.1f} ms"


Markdown(
    f"**Figure 17.2.** The time of each step of greedy decoding, median of three "
    f"runs, measured on {machine}. From the first steps to the last ones "
    f"(medians of 16 steps each), the time of an uncached step went from "
    f"{early_late(step_ms[False])}, that of a cached step from "
    f"{early_late(step_ms[True])}. The first cached step is the prefill of "
    f"the {P}-token prompt."
)

# %% tags=["remove-input", "measured"]
if speedup < 1:
    verdict = "On this machine the cache did not pay off."
elif speedup < ratio_flops:
    verdict = (
        "That is less than the FLOP count promises. A cached step does so "
        "little arithmetic that its time goes mostly to what FLOPs do not "
        "count: Python, and the fixed cost of each of the few dozen small "
        "operations of a forward pass. The count is a better guide for big "
        "models, whose steps are dominated by arithmetic and memory traffic."
    )
else:
    verdict = (
        "That is even more than the FLOP count promises: the long uncached "
        "passes also move more memory than they compute."
    )
Markdown(
    f"Writing {num_new} tokens took {total_s[True]:.2f} s with the cache and "
    f"{total_s[False]:.2f} s without, a speed-up of {speedup:.1f}, where the "
    f"FLOP count gives {ratio_flops:.0f}. {verdict}"
)

# %% [markdown]
# ## Fewer queries than keys: which causal mask?
#
# With a cache, the queries of a step are the *last* positions of the sequence,
# and the keys are all of them. For one new token, the usual case, the query is
# the newest position and may see every key: it needs no mask at all. Several new
# positions in one step need one. That happens when a prompt is fed in chunks,
# when a user's next message is appended to a conversation whose cache is kept,
# and in *speculative decoding*
# ([Leviathan et al., 2023](../reference/references.md#leviathan2023)), where a small model drafts a few tokens and the
# big model checks them all in a single pass. With $T_q$ new positions and $T_k$
# keys, query $i$ is position $T_k - T_q + i$ and may see keys
# $j \le i + T_k - T_q$: the triangle of the causal mask of
# [Chapter 9](09_masks.py#the-causal-mask), aligned to the lower right.
# `attention.causal_mask(Tq, Tk)` builds that. PyTorch's
# `F.scaled_dot_product_attention(..., is_causal=True)` does not: its
# documentation defines the mask as `torch.ones(L, S).tril(diagonal=0)`, aligned
# to the upper left, as if the queries were the *first* positions.

# %%
Tq, Tk = 2, 5
print("lower right, attention.causal_mask(2, 5): right for a cache")
print(attention.causal_mask(Tq, Tk).long())
print("upper left, what is_causal=True uses:")
print(torch.ones(Tq, Tk, dtype=torch.bool).tril().long())

# %% [markdown]
# The two agree when $T_q = T_k$, which is why the difference goes unnoticed in
# training. To see what it does with a cache, take one head's queries, keys and
# values for 5 positions, attend from all of them at once under the ordinary causal
# mask, and take that as the reference. Then do what a cached step does: only the
# last 2 queries, against all 5 keys.

# %%
q, k, v = torch.randn(3, 1, 1, Tk, 16).unbind(0)  # (batch, heads, T, d_head)
reference, _ = attention.scaled_dot_product_attention(
    q, k, v, attention.causal_mask(Tk))  # (batch, heads, Tk, d_head)
last = q[:, :, -Tq:]  # the 2 newest queries: (batch, heads, Tq, d_head)
lower_right, _ = attention.scaled_dot_product_attention(
    last, k, v, attention.causal_mask(Tq, Tk))
torch_bias = F.scaled_dot_product_attention(
    last, k, v, attn_mask=causal_lower_right(Tq, Tk))
upper_left = F.scaled_dot_product_attention(last, k, v, is_causal=True)
for name, output in [("causal_mask(2, 5)", lower_right),
                     ("causal_lower_right(2, 5)", torch_bias),
                     ("is_causal=True", upper_left)]:
    error = (output - reference[:, :, -Tq:]).abs().max().item()
    print(f"{name:>24}: max |difference from reference| = {error:.1e}")

# %% [markdown]
# PyTorch has the right mask too: `torch.nn.attention.bias.causal_lower_right`
# makes an object that `F.scaled_dot_product_attention` takes as its `attn_mask`.
# With a single new query, `is_causal=True` goes wrong in the worst way. The upper
# left triangle of a $1 \times T_k$ matrix is its first entry only, so the newest
# token sees nothing but the first one:

# %%
newest = q[:, :, -1:]  # (batch, heads, 1, d_head)
no_mask = F.scaled_dot_product_attention(newest, k, v)
wrong = F.scaled_dot_product_attention(newest, k, v, is_causal=True)
print("no mask vs reference:   max |difference| =",
      f"{(no_mask - reference[:, :, -1:]).abs().max().item():.1e}")
print("is_causal=True vs key 0's value: max |difference| =",
      f"{(wrong - v[:, :, :1]).abs().max().item():.1e}")

# %% [markdown]
# The attention module of this chapter's model takes `causal=True` and builds
# `causal_mask(Tq, Tk)` over the cached and new keys, so the model can run any
# number of new positions against its cache. Feed it a 12-token prefix and then
# the next 4 tokens in one step; the 4 logits must be those of a single pass over
# all 16 tokens:

# %%
text = fast_tokens[:, :16]  # (batch, 16): the prompt
chunk_caches = model.new_caches(batch=1, capacity=16)
with torch.no_grad():
    model(text[:, :12], chunk_caches)  # prefill: 12 positions
    chunk = model(text[:, 12:], chunk_caches)  # 4 at once: (1, 4, vocab)
    whole = model(text)  # (1, 16, vocab): no cache
error = (chunk - whole[:, 12:]).abs().max().item()
print(f"4 positions against a cache of 12: max |difference| = {error:.1e}")

# %% [markdown]
# ## How big the cache gets
#
# Each layer caches a key and a value for every position, of $d_{\text{head}}$
# numbers for each of its key/value heads. A whole model with $N$ layers, $h_{\text{kv}}$
# key/value heads and $n_{\text{bytes}}$ bytes per number caches, per position of each sequence,
#
# $$
# 2 \cdot N \cdot h_{\text{kv}} \cdot d_{\text{head}} \cdot n_{\text{bytes}} \ \text{bytes},
# $$
#
# and `kv_cache_bytes(batch, num_layers, num_kv_heads, d_head, num_positions,
# bytes_per_element)` multiplies it out. Our little model's caches hold little. A
# model of a realistic size holds a lot. Take the shape of a 7-billion-parameter
# model such as Llama 2 7B
# ([Touvron et al., 2023](../reference/references.md#touvron2023)): 32 layers, 32 heads of size 128
# ($d_{\text{model}} = 4096$), an MLP of width 11008 with three weight matrices, a
# vocabulary of 32000 tokens, all in float16 (2 bytes per number). Its own sizes
# give the weights' bytes; `kv_cache_bytes` gives the cache's, with all 32
# key/value heads (multi-head attention) and, anticipating the next section, with 8
# and with 1:

# %%
layers, heads, d_head, d_ff, vocab = 32, 32, 128, 11008, 32000
d = heads * d_head
weight_bytes = 2 * (layers * (4 * d * d + 3 * d * d_ff) + 2 * vocab * d)
kinds = {"multi-head": 32, "grouped-query": 8, "multi-query": 1}


def cache_gib(num_kv_heads, batch, positions):
    size = kv_cache_bytes(batch, layers, num_kv_heads, d_head, positions,
                          bytes_per_element=2)
    return size / 2**30


cases = [(1, 4096), (8, 32768)]  # (batch, positions per sequence)
rows = [(name, g, kv_cache_bytes(1, layers, g, d_head, 1, 2),
         [cache_gib(g, batch, n) for batch, n in cases])
        for name, g in kinds.items()]

# %% tags=["remove-input"]
header = ("| attention | per token | "
          + " | ".join(f"{b} × {n // 1024}k" for b, n in cases)
          + " |\n|---|---:|" + "---:|" * len(cases))
body = "\n".join(
    f"| {name} | {per_token / 2**10:,.0f} KiB | "
    + " | ".join(f"{x:,.2f} GiB" if x < 1 else f"{x:,.0f} GiB" for x in sizes)
    + " |"
    for name, g, per_token, sizes in rows)
Markdown(
    f"**Table 17.1.** The KV cache of a model of Llama 2 7B's shape, in float16, "
    f"with multi-head attention ({kinds['multi-head']} key/value heads), "
    f"grouped-query attention ({kinds['grouped-query']}) and multi-query "
    f"attention ({kinds['multi-query']}): per token, and for batches of "
    f"sequences (sequences × tokens per sequence; 1k = 1024). The model's "
    f"weights take {weight_bytes / 2**30:.1f} GiB.\n\n" + header + "\n" + body
)

# %%
context = 2 ** np.arange(10, 18)  # 1k to 128k positions
fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
for (name, g), marker in zip(kinds.items(), "os^"):
    ax.plot(context, [cache_gib(g, 1, int(n)) for n in context], marker,
            linestyle="-", label=rf"{name}, $h_{{\mathrm{{kv}}}} = {g}$")
ax.axhline(weight_bytes / 2**30, color=COLORS[3], linestyle="--",
           linewidth=1.5, label="the weights")
ax.set(xscale="log", yscale="log", xlabel="positions in the cache",
       ylabel="GiB (log scale)")
ax.set_xticks(context, [f"{n // 1024}k" for n in context])
ax.set_yticks([0.1, 1, 10, 100], ["0.1", "1", "10", "100"])
ax.minorticks_off()
ax.legend(fontsize=8)
plt.show()

# %% tags=["remove-input"]
crossing = weight_bytes / kv_cache_bytes(1, layers, 32, d_head, 1, 2)
Markdown(
    f"**Figure 17.3.** The KV cache of one sequence for the 7B shape of Table "
    f"16.1, against the number of positions it holds (both axes logarithmic), "
    f"and the size of the weights (dashed). With multi-head attention, the cache "
    f"of a single sequence outgrows the weights at about "
    f"{round(crossing, -2):,.0f} positions; with one key/value head it stays "
    f"{kinds['multi-head']} times smaller at every length."
)

# %% tags=["remove-input"]
mha_row = rows[0][3]
Markdown(
    f"A cache grows with every token of every sequence being decoded. With "
    f"multi-head attention, one sequence of 4k tokens needs {mha_row[0]:.0f} GiB "
    f"of cache, and a batch of 8 sequences of 32k tokens {mha_row[1]:.0f} GiB, "
    f"more memory than most accelerators have, for a model whose weights "
    f"take {weight_bytes / 2**30:.1f} GiB. Memory is not the only cost. At every "
    f"step, each layer reads its whole cache to attend the new query to it, so "
    f"the bytes of the cache are also bytes moved at every token written."
)

# %% [markdown]
# ## Sharing keys and values: multi-query and grouped-query attention
#
# Multi-head attention gives each of its $h$ query heads its own head of keys and
# values. *Multi-query attention*
# ([Shazeer, 2019](../reference/references.md#shazeer2019)) keeps the $h$ query
# heads but only **one** head of keys and one of values, shared by all of them.
# *Grouped-query attention*
# ([Ainslie et al., 2023](../reference/references.md#ainslie2023)) sits in
# between: $h_{\text{kv}}$ key/value heads, each shared by a group of $h/h_{\text{kv}}$ query heads.
# Query head $i$ uses key/value head $j(i) = \lfloor i / (h/h_{\text{kv}}) \rfloor$:
#
# $$
# \text{head}_i = \operatorname{softmax}\!\left(
# \frac{Q_i K_{j(i)}^\top}{\sqrt{d_{\text{head}}}}\right) V_{j(i)},
# \qquad i = 0, \dots, h - 1.
# $$
#
# $h_{\text{kv}} = h$ is multi-head attention and $h_{\text{kv}} = 1$ multi-query attention. The queries
# keep all their heads, so each head still has its own way of weighing the
# positions; only what the keys and values can say is shared.

# %% tags=["remove-input"]
# A diagram: which query heads share which key/value head, for h = 8.
from matplotlib.collections import LineCollection

fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.0), layout="constrained")
for ax, (title, g) in zip(axes, [(r"multi-head, $h_{\mathrm{kv}} = 8$", 8),
                                 (r"grouped-query, $h_{\mathrm{kv}} = 2$", 2),
                                 (r"multi-query, $h_{\mathrm{kv}} = 1$", 1)]):
    group = 8 // g
    kv_x = [(j + 0.5) * 8 / g - 0.5 for j in range(g)]
    colors = COLORS[:g] if g < 8 else [COLORS[0]] * g  # one per group
    head_colors = [colors[i // group] for i in range(8)]
    ax.add_collection(LineCollection(
        [[(i, 1), (kv_x[i // group], 0)] for i in range(8)],
        colors=head_colors, linewidths=1.2, alpha=0.8))
    ax.scatter(range(8), [1] * 8, s=90, marker="s", color=head_colors,
               zorder=3)
    ax.scatter(kv_x, [0] * g, s=150, marker="o", color=colors, zorder=3)
    ax.set_title(title, fontsize=10)
    ax.set(xlim=(-0.7, 7.7), ylim=(-0.35, 1.35))
    ax.set_xticks([])
    ax.set_yticks([0, 1], ["key/value\nheads", "query\nheads"])
    ax.tick_params(length=0, labelsize=8)
    ax.grid(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
for ax in axes[1:]:
    ax.set_yticklabels([])
plt.show()

# %% [markdown]
# **Figure 17.4.** Eight query heads (squares) and the key/value heads (circles)
# they read, for three choices of $h_{\text{kv}}$. Each line joins a query head to the one
# key/value head it attends with; in the grouped panels the colors mark the
# groups. With $h_{\text{kv}} = 8$ every
# query head has its own; with $h_{\text{kv}} = 2$, heads 0 to 3 share one and heads 4 to 7
# the other; with $h_{\text{kv}} = 1$ all eight share one.
#
# `attention.GroupedQueryAttention(d_model, num_heads, num_kv_heads)` is the
# module. Its key and value projections map $d_{\text{model}}$ to
# $h_{\text{kv}} \cdot d_{\text{head}}$ numbers instead of $d_{\text{model}}$, so it has fewer
# parameters; the query and output projections are unchanged:

# %%
parameters = {}
for g in (8, 4, 2, 1):
    module = attention.GroupedQueryAttention(d_model=512, num_heads=8,
                                             num_kv_heads=g)
    parameters[g] = sum(p.numel() for p in module.parameters())
    print(f"{g} key/value head(s): w_k {tuple(module.w_k.weight.shape)}, "
          f"{parameters[g]:,} parameters")

# %% tags=["remove-input"]
Markdown(
    f"Multi-query attention saves {1 - parameters[1] / parameters[8]:.0%} of the "
    f"attention layer's parameters, grouped-query attention with 2 groups "
    f"{1 - parameters[2] / parameters[8]:.0%}. A model that switches would "
    f"usually give the parameters back elsewhere, for instance in a wider MLP, "
    f"to keep its size. The saving that matters is not in the weights but in "
    f"the cache, which shrinks by $h/h_{{\\text{{kv}}}}$: for the 7B shape of Table 17.1, from "
    f"{rows[0][2] // 2**10} KiB per token to {rows[1][2] // 2**10} KiB with 8 "
    f"groups and {rows[2][2] // 2**10} KiB with one key/value head."
)

# %% [markdown]
# ### Attention with shared keys, computed three ways
#
# The function `grouped_query_attention(q, k, v, mask)` takes queries of shape
# `(batch, h, Tq, d_head)` and keys and values with $h_{\text{kv}}$ heads,
# `(batch, g, Tk, d_head)`. The obvious way to compute it copies each key/value
# head $h/h_{\text{kv}}$ times, `k.repeat_interleave(h // g, dim=1)`, and runs ordinary
# multi-head attention; PyTorch's fused kernel does the same job when asked with
# `enable_gqa=True`. All three must agree:

# %%
h, g, T = 8, 2, 6
q = torch.randn(2, h, T, 32)  # (batch, heads, T, d_head)
k = torch.randn(2, g, T, 32)  # (batch, kv_heads, T, d_head)
v = torch.randn(2, g, T, 32)  # (batch, kv_heads, T, d_head)
causal = attention.causal_mask(T)  # (T, T)

ours, weights = grouped_query_attention(q, k, v, causal)
# ours: (batch, heads, T, d_head), weights: (batch, heads, T, T)
fused = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                       enable_gqa=True)
copied, _ = attention.scaled_dot_product_attention(
    q, k.repeat_interleave(h // g, dim=1),  # (batch, heads, T, d_head)
    v.repeat_interleave(h // g, dim=1), causal)
print("vs enable_gqa=True:      max |difference| =",
      f"{(ours - fused).abs().max().item():.1e}")
print("vs copied key/value heads: max |difference| =",
      f"{(ours - copied).abs().max().item():.1e}")

# %% [markdown]
# (Here $T_q = T_k$, so `is_causal=True` is the right mask.) The copies in the
# third way give back, in the attention's working memory, the savings that sharing
# made in the cache. The package's function makes none. Query head $i$ of group
# $j$ is head $j \cdot h/h_{\text{kv}} + i$, so a reshape of the queries from
# `(batch, h, Tq, d_head)` to `(batch, g, (h/g) Tq, d_head)`, which moves no data,
# stacks the queries of each group as extra rows of one matrix. Each group then
# attends to its own key/value head with one matrix product, as if it were one
# head with $h/h_{\text{kv}}$ times as many queries.
#
# Sharing pays twice in decoding. A cached step attends one query per head to all
# $T_k$ cached positions: query head $i$ reads $2 T_k d_{\text{head}}$ cached numbers
# and does about $4 T_k d_{\text{head}}$ FLOPs with them, 2 FLOPs per number read.
# Accelerators can do hundreds of FLOPs in the time it takes to read one number
# from memory, so such a step waits on memory, and its time follows the bytes of
# the cache. With $h_{\text{kv}}$ key/value heads, every number read serves $h/h_{\text{kv}}$ query heads:
# $h/h_{\text{kv}}$ times fewer bytes to read, for the same FLOPs. That was Shazeer's argument
# for multi-query attention.
#
# ### The model with fewer key/value heads
#
# The model's `num_kv_heads` is the same switch, and its caches shrink in
# proportion:

# %%
for g in (8, 2, 1):
    gqa_model = TinyLanguageModel(vocab_size, d_model, num_heads, g,
                                  num_layers, max_len=P + num_new)
    held = sum(c.keys.nbytes + c.values.nbytes
               for c in gqa_model.new_caches(1, P + num_new))
    formula = kv_cache_bytes(1, num_layers, g, d_model // num_heads,
                             P + num_new)
    print(f"{g} key/value head(s): caches hold {held:,} bytes "
          f"(kv_cache_bytes: {formula:,})")

# %% [markdown]
# What sharing costs is quality: a model with fewer key/value heads can say less in
# its keys and values. Shazeer (2019) found multi-query attention a little worse
# than multi-head attention. Ainslie et al. (2023) found grouped-query attention
# with 8 groups close to multi-head attention in quality and close to multi-query
# attention in speed, which is why models such as Llama 2 70B and Mistral 7B
# ([Jiang et al., 2023](../reference/references.md#jiang2023)) use
# it. They also showed how to convert a trained multi-head model instead of
# training a new one: replace the key (and value) projection of each group by the
# mean of its heads' projections, then continue training for a small fraction
# (about 5%) of the original training steps, which they call *uptraining*. The
# third exercise does the first half.
#
# ## Summary
#
# - A causal decoder's keys and values at old positions never change. A *KV cache*
#   keeps them, one `attention.KVCache` per layer: buffers of fixed capacity, filled
#   in place by `append`, which raises an error past the capacity.
# - With a cache, decoding runs the prompt once (the prefill) and then one token
#   per step, whose query attends to all cached keys. It writes the same tokens as
#   recomputing the prefix at every step; the logits differ by float32 rounding.
# - Without a cache, writing $T$ tokens costs in proportion to $T^2 + T^3$; with
#   one, $T + T^2$. How much time that saves depends on the machine and the model
#   size, and is measured here.
# - A single new query needs no mask; several new positions need the causal mask
#   aligned to the lower right, `attention.causal_mask(Tq, Tk)` or PyTorch's
#   `causal_lower_right`. `is_causal=True` aligns it to the upper left, which is
#   wrong whenever $T_q < T_k$.
# - The cache holds $2 \cdot N \cdot h_{\text{kv}} \cdot d_{\text{head}}$ numbers per token
#   (`kv_cache_bytes`); for models of realistic size, long sequences and large
#   batches, it outgrows the weights.
# - Multi-query ($h_{\text{kv}} = 1$) and grouped-query attention ($1 < h_{\text{kv}} < h$) share each
#   key/value head among $h/h_{\text{kv}}$ query heads: the cache and the bytes read per step
#   shrink by $h/h_{\text{kv}}$. `grouped_query_attention` computes it without copying the
#   keys, and equals `F.scaled_dot_product_attention(..., enable_gqa=True)`.

# %% [markdown]
# ## Exercises
#
# 1. A model of Llama 2 70B's shape has 80 layers, 64 query heads of size 128 and
#    8 key/value heads. How big is its float16 KV cache for one sequence of 4096
#    tokens? How big would it be with multi-head attention, and how many tokens of
#    cache fit in 40 GiB either way?

# %% tags=["solution"]
# Exercise 1: 80 layers, 8 key/value heads of 128 numbers, float16.
sizes = dict(num_layers=80, d_head=128, bytes_per_element=2)
for kv_heads in (8, 64):
    size = kv_cache_bytes(1, num_kv_heads=kv_heads, num_positions=4096,
                          **sizes)
    per_token = kv_cache_bytes(1, num_kv_heads=kv_heads, num_positions=1,
                               **sizes)
    print(f"{kv_heads} key/value heads: {size / 2**30:.2f} GiB for 4096 "
          f"tokens; {40 * 2**30 // per_token:,} tokens fit in 40 GiB")

# %% [markdown]
# 2. Decode a batch: generate 20 tokens for 4 different prompts of 8 tokens at
#    once with `model.generate`, and check that every row is what generating from
#    that prompt alone gives.

# %% tags=["solution"]
# Exercise 2: a batch of 4 prompts decodes as each prompt would alone.
prompts = torch.randint(vocab_size, (4, 8))  # (batch, P)
together = model.generate(prompts, 20)  # (4, 28)
alone = torch.cat([model.generate(p[None], 20) for p in prompts])
print("every row as when decoded alone:", torch.equal(together, alone))

# %% [markdown]
# 3. Convert multi-head attention to grouped-query attention: build a
#    `GroupedQueryAttention(64, 8, 8)` and a `GroupedQueryAttention(64, 8, 2)`,
#    copy the query and output projections, and set each group's key and value
#    projections (weights and biases) to the mean of its four heads'. How far are
#    the outputs apart? Then make the four heads of each group identical in the
#    multi-head module first, and compare again.

# %% tags=["solution"]
# Exercise 3: mean-pool the key and value heads of each group.
kv_names = ["w_k.weight", "w_k.bias", "w_v.weight", "w_v.bias"]


def mean_pool_heads(mha, num_kv_heads):
    """A GroupedQueryAttention with mha's weights, each group's key and
    value heads replaced by their mean."""
    state = mha.state_dict()
    for name in kv_names:  # rows: heads * d_head -> (kv_heads, group, d_head)
        heads = state[name].unflatten(0, (num_kv_heads, -1, mha.d_head))
        state[name] = heads.mean(dim=1).flatten(0, 1)
    gqa = attention.GroupedQueryAttention(mha.d_model, mha.num_heads,
                                          num_kv_heads)
    gqa.load_state_dict(state)
    return gqa


mha = attention.GroupedQueryAttention(64, 8, 8)
x = torch.randn(1, 10, 64)  # (batch, T, d_model)
with torch.no_grad():
    for heads_in_groups in ("random", "identical"):
        target = mha(x, x, x, causal=True)[0]  # (batch, T, d_model)
        pooled = mean_pool_heads(mha, 2)(x, x, x, causal=True)[0]
        error = ((pooled - target).norm() / target.norm()).item()
        print(f"{heads_in_groups} heads in each group: "
              f"relative error {error:.2g}")
        for name in kv_names:  # make the 4 heads of each group the same
            p = mha.get_parameter(name).unflatten(0, (2, 4, -1))  # a view
            p.copy_(p[:, :1].clone().expand_as(p))
# Random heads have nothing in common, so their mean is a different head:
# that is why the converted model needs some training ("uptraining").

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
# # Long contexts: sliding windows and attention sinks
#
# Full causal attention makes every new token look at every token before it. The
# work of a forward pass grows with the square of the length
# ([Chapter 15](15_what_attention_costs.py)), and the KV cache of a decoder grows
# with every token it writes ([Chapter 17](17_kv_cache_and_grouped_query_attention.py)).
# This chapter restricts what each query may see. A *sliding window* lets a query
# see only the last $w$ positions: its cost grows linearly, its cache stops growing,
# and information still travels further through the layers than one window. We
# build the window as a mask and as a rolling cache of fixed size and check that the
# two compute the same thing, work out how far information can travel, run the
# rotary model of [Chapter 19](19_relative_positions.py) through a window on texts
# longer than it was trained on, and measure on it what happens when the first
# tokens leave the window, the case in which large models are known to break
# (*attention sinks*). Last, sparse patterns that add a few global or random keys to
# the window, and what they cost.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown

import attention
from attention.fast.cost import kv_cache_bytes
from attention.modern.language_modeling import loss_by_position
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: one thread, the same numbers every build

# %% [markdown]
# ## A window as a mask
#
# With a window of $w$, the query at position $i$ sees the keys $j$ with
# $i - w < j \le i$: itself and the $w - 1$ positions before it
# ([Chapter 9](09_masks.py) met this mask). Longformer
# ([Beltagy, Peters and Cohan, 2020](../reference/references.md#beltagy2020)) used it for
# long documents, and Mistral 7B
# ([Jiang et al., 2023](../reference/references.md#jiang2023)) in a decoder, with
# $w = 4096$. `attention.sliding_window_mask` builds it from the positions of the
# queries and of the keys, so that the same function serves a whole sequence and a
# decoder's newest token; `attention.SlidingWindowPattern(w)` hands it to
# `attention.GPT`. The tests check attention under this mask against PyTorch's
# `F.scaled_dot_product_attention` given the same boolean mask.

# %%
window = 4
positions = torch.arange(12)
band = attention.sliding_window_mask(positions, positions, window)  # (T, T)
print(band.int())
print(f"entries: {int(band.sum())} of the causal mask's "
      f"{int(torch.ones(12, 12).tril().sum())}")

# %% [markdown]
# Every row has at most $w$ entries, so the scores cost $T w$ instead of about
# $T^2 / 2$. That saving needs a kernel that skips the masked part (FlashAttention's
# tiles can, [Chapter 16](16_online_softmax_and_flash_attention.py)); a dense kernel
# given the mask still computes every score and throws most away.
#
# ## A rolling cache
#
# When decoding, the saving is in memory. The newest query never needs a key more
# than $w - 1$ positions back, and neither will any later one, so the cache can
# forget it. `attention.RollingKVCache` is a buffer of $w - 1$ slots: position $p$
# goes to slot $p \bmod (w - 1)$, over the key that just left the window. The slots
# are then out of order, which does not matter: attention is a weighted sum over a
# set of keys, and what it needs to know about their order, the mask and the
# position scheme get from the positions the cache keeps beside them
# (`cache.positions`). With RoPE the keys are stored already turned by their
# positions.

# %%
cache = attention.RollingKVCache(batch=1, num_kv_heads=1, d_head=2, window=window)
for p in range(7):
    key = torch.full((1, 1, 1, 2), float(p))  # (batch, kv_heads, 1, d_head): its position
    keys, _ = cache.append(key, key)  # the held keys, then the new one
    print(f"position {p}: attends to {keys[0, 0, :, 0].int().tolist()}, "
          f"slots now hold {cache.positions.tolist()}")

# %% [markdown]
# A model built with `pattern=attention.SlidingWindowPattern(w)` makes such caches in
# `new_caches`, so `generate` decodes with them. Decoding one token at a time with
# rolling caches must give what the full pass under the window mask gives; the tests
# check it for every position scheme and for prompts fed in chunks of any size.
# Here, with random weights, a long generation:

# %%
torch.manual_seed(0)
windowed = attention.GPT(50, 32, 4, 2, positions="rope",
                         pattern=attention.SlidingWindowPattern(8)).eval()
prompt = torch.randint(50, (1, 4))  # (batch, P)
fast = windowed.generate(prompt, 300)  # (1, 304), rolling caches of 7 slots
slow = windowed.generate(prompt, 300, use_cache=False)  # full passes, masked
caches = windowed.new_caches(1, capacity=304)
with torch.no_grad():
    windowed(fast, caches)
print("same tokens:", torch.equal(fast, slow))
print("cache slots per layer:", caches[0].keys.shape[2], "for", caches[0].num_seen,
      "positions")

# %% tags=["remove-input"]
full_bytes = kv_cache_bytes(1, 32, 8, 128, 32_768, bytes_per_element=2)
window_bytes = kv_cache_bytes(1, 32, 8, 128, 4_096, bytes_per_element=2)
Markdown(
    f"The same tokens, from a cache of {caches[0].keys.shape[2]} slots per layer "
    f"however long the text. For a model of Mistral 7B's shape (32 layers, 8 "
    f"key/value heads of 128, 16-bit numbers), a full cache for 32,768 tokens takes "
    f"{full_bytes / 2**30:.0f} GiB per sequence; a rolling one for a window of 4,096 "
    f"takes {window_bytes / 2**30:.1f} GiB, at any length."
)

# %% [markdown]
# ## How far information travels
#
# A window does not cut the model off from the rest of the text. In the first
# layer, position $i$ mixes positions $i - w + 1$ to $i$. In the second, it mixes the
# first layer's outputs at those positions, each of which already reached $w - 1$
# further back. Each layer adds $w - 1$ positions: after $N$ layers the last
# position can depend on $(w - 1) N + 1$ tokens, its *receptive field*. As a matrix
# product: the boolean mask says which positions one layer reads; its $N$-th power,
# which ones $N$ layers read.

# %%
window, T = 4, 16
positions = torch.arange(T)
one_layer = attention.sliding_window_mask(positions, positions, window).int()  # (T, T)
reach = [one_layer]
for layer in range(2, 4):
    reach.append(((reach[-1] @ one_layer) > 0).int())  # layers read through layers
for layers, r in enumerate(reach, start=1):
    print(f"{layers} layer(s): the last position reads {int(r[-1].sum())} tokens; "
          f"formula {attention.receptive_field(window, layers)}")

fig, ax = plt.subplots(figsize=(6.4, 1.8), layout="constrained")
ax.imshow(torch.stack([r[-1] for r in reach]).numpy()
          + torch.stack([one_layer[-1]] * 3).numpy(), cmap="Blues", vmin=0, vmax=2.5,
          aspect="auto")
ax.set(xlabel="position of a token", ylabel="layers",
       yticks=[0, 1, 2], yticklabels=["1", "2", "3"])
ax.set_xticks(range(T))
plt.show()

# %% tags=["remove-input"]
Markdown(
    f"**Figure 20.1.** Which tokens can reach the last position ({T - 1}) through "
    f"1, 2 and 3 layers of sliding-window attention with $w = {window}$. Dark: its "
    f"own window, read directly; light: reached through other positions' windows in "
    f"earlier layers. Each layer adds $w - 1 = {window - 1}$ positions."
)

# %% [markdown]
# Can reach is not must reach: every step passes through a softmax, and whether
# anything from 9 tokens back survives two layers depends on the weights. But what is
# out of reach is out of reach exactly: changing a token outside the receptive field
# leaves the output bit for bit the same. The tests check this with `hypothesis` on
# random models, windows, depths and positions, with a control that changes the
# oldest token inside the field and must change the output. Once here:

# %%
torch.manual_seed(0)
model_w = attention.GPT(50, 32, 4, 2, positions="rope",
                        pattern=attention.SlidingWindowPattern(window)).eval()
field = attention.receptive_field(window, 2)
tokens = torch.randint(50, (1, T))  # (1, T)
with torch.no_grad():
    base = model_w(tokens)[0, -1]  # the logits of the last position
    for back in (field, field - 1):  # just outside, then just inside
        changed = tokens.clone()
        changed[0, T - 1 - back] = (changed[0, T - 1 - back] + 1) % 50
        same = torch.equal(model_w(changed)[0, -1], base)
        print(f"token {back} back changed: last logits identical = {same}")

# %% tags=["remove-input"]
Markdown(
    f"Mistral 7B has a window of 4,096 and 32 layers: a receptive field of "
    f"{attention.receptive_field(4096, 32):,} tokens, although no layer reads "
    f"more than 4,096 of them."
)

# %% [markdown]
# ## A window lets a model read past its training length
#
# [Chapter 19](19_relative_positions.py) found that its RoPE model fails on
# positions beyond the 32 it was trained on: new offsets give its heads scores they
# never learned to handle. A window keeps every offset below $w$. We train that
# model again (same data, seed and steps; it was trained with full causal
# attention) and read the held-out text in windows of 256 characters, once with
# full attention and once through a sliding window of 8, which the model never
# trained with:

# %%
tokenizer, train_tokens, heldout_tokens = attention.book_tokens()  # chapter 18's split

torch.manual_seed(0)
model = attention.GPT(len(tokenizer), d_model=32, num_heads=4, num_layers=2,
                      positions="rope")
attention.train_language_model(
    model, train_tokens, steps=200, batch_size=32, length=32,
    generator=torch.Generator().manual_seed(0), lr=1e-2, warmup=30)

read_length, w = 256, 8
patterns = {"full attention": None,
            f"window {w}": attention.SlidingWindowPattern(w),
            f"window {w} + 4 sinks": attention.SlidingWindowPattern(w, num_sinks=4)}
long_losses = {name: loss_by_position(model, heldout_tokens, read_length,
                                      pattern=pattern)
               for name, pattern in patterns.items()}

smooth = 8
fig, ax = plt.subplots(figsize=(6.4, 3.0), layout="constrained")
for (name, losses), color, style in zip(long_losses.items(), COLORS, ("-", "-", ":")):
    averaged = losses.view(-1, smooth).mean(-1).numpy()
    ax.plot(np.arange(read_length // smooth) * smooth + smooth / 2, averaged,
            style, marker="o", markersize=3, color=color, label=name)
ax.axvline(32, color=COLORS[3], linestyle="--", linewidth=1.2, label="training length")
ax.set(xscale="log", xlabel="position in the window (log scale)",
       ylabel="held-out loss (nats)")
ax.set_xticks([4, 8, 16, 32, 64, 128, 256], ["4", "8", "16", "32", "64", "128", "256"])
ax.minorticks_off()
ax.legend()
plt.show()

# %% tags=["remove-input"]
def late(name):
    return long_losses[name][128:].mean().item()


def early(name):
    return long_losses[name][:32].mean().item()


names = list(patterns)
Markdown(
    f"**Figure 20.2.** The held-out loss of the RoPE model at each position of "
    f"{read_length}-character windows (averages over 8 positions), with full "
    f"attention and through sliding windows of {w}, without and with the first 4 "
    f"positions kept as sinks. Over positions 128 to 255: "
    f"{', '.join(f'{n} {late(n):.2f}' for n in names)}; over the first 32, where "
    f"full attention is what the model trained on: "
    f"{', '.join(f'{n} {early(n):.2f}' for n in names)}."
)

# %% tags=["remove-input"]
window_cost = early(names[1]) - early(names[0])
if abs(window_cost) < 0.005:
    cost = "costs nothing measurable"
else:
    cost = f"changes the loss by {window_cost:+.2f} nats"
Markdown(
    f"Through the window, the loss stays flat at any length: every offset the model "
    f"sees is one it trained on. Within the training length the window {cost}: "
    f"the model gets little from characters more than {w - 1} back directly, and "
    f"keeps a receptive field of {attention.receptive_field(w, 2)} tokens through "
    f"its two layers. Keeping the first 4 positions as well, *sinks* in the sense "
    f"of the next section, hurts past the training length: they sit at offsets "
    f"beyond 31 from the late queries, the very offsets the model cannot read."
)

# %% [markdown]
# ## Attention sinks
#
# Large language models turned out to put a surprising share of their attention on
# the first tokens of the text, whatever those tokens are
# ([Xiao et al., 2023](../reference/references.md#xiao2023)). The explanation given: a
# head's weights must sum to one, so a head with nothing useful to read in a given
# context still has to put its weight somewhere, and training teaches it a place
# every query can see, the start. Evict those tokens, as a plain sliding window
# does once the text is longer than the window, and the heads lose their dumping
# ground: in the paper, the perplexity of models such as Llama 2 shoots up as soon
# as the first tokens leave the cache. Keeping the first four as *sinks*, beside the
# window (StreamingLLM), brought it back to about what recomputing the window from
# scratch for every new token gives, at a fraction of the cost. Their cache
# also renumbers positions within the cache, so that a sink is never further from a
# query than the cache is long, which avoids the problem of the figure above.
# `attention.SlidingWindowPattern(w, num_sinks)` and `RollingKVCache` keep sinks
# (without renumbering).
#
# Does our model have sinks? We measure the weight each head gives the first
# position of a window, for the queries far enough in to have a choice, against
# what even weights would give it; then the loss within the training length with a
# window of 8 that drops the first tokens, with 4 sinks kept, and with a window of
# 12 instead (the same number of keys, spent on recent characters).

# %%
sample = heldout_tokens[:32].view(1, -1)  # one window of the training length
with torch.no_grad():
    model(sample, need_weights=True)
queries = torch.arange(8, 32)  # queries with at least 8 keys
first_key = torch.stack([w_[0, :, 8:, 0].mean(-1) for w_ in model.weights])  # (blocks, heads)
even = (1.0 / (queries + 1)).mean().item()
print("weight on the first position, per block and head:")
print(first_key.numpy().round(3), f"(even weights: {even:.3f})")

within = {
    "full attention": None,
    "window 8": attention.SlidingWindowPattern(8),
    "window 8 + 4 sinks": attention.SlidingWindowPattern(8, num_sinks=4),
    "window 12": attention.SlidingWindowPattern(12),
}
within_losses = {}  # the mean loss over positions 12 to 31
for name, pattern in within.items():
    losses = loss_by_position(model, heldout_tokens, 32, pattern=pattern)
    within_losses[name] = losses[12:].mean().item()
    print(f"{name:>19}: loss over positions 12 to 31 {within_losses[name]:.3f}")

# %% tags=["remove-input"]
most = first_key.max().item()
drop_cost = within_losses["window 8"] - within_losses["full attention"]
sink_gain = within_losses["window 8"] - within_losses["window 8 + 4 sinks"]
if most < 3 * even and abs(drop_cost) < 0.02 and abs(sink_gain) < 0.02:
    verdict = (
        f"Our model has no sink: no head gives the first position more than "
        f"{most:.0%} of its weight, where even weights would give {even:.0%}; "
        f"dropping the first tokens from the window changes its loss by "
        f"{drop_cost:+.3f} nats, and keeping 4 sinks by {-sink_gain:+.3f}. That is a "
        f"measured negative: sinks are a property of trained models, not of "
        f"attention, and ours, trained for seconds on short windows, has not grown "
        f"one.")
else:
    verdict = (
        f"The largest weight a head gives the first position is {most:.0%}, where "
        f"even weights would give {even:.0%}; dropping the first tokens changes the "
        f"loss by {drop_cost:+.3f} nats, and keeping 4 sinks by {-sink_gain:+.3f}.")
Markdown(verdict + " Exercise 3 shows what evicting a sink does when a head has one.")

# %% [markdown]
# ## Sparse patterns: local, global, random
#
# A window lets information travel $w - 1$ positions per layer. Sparse patterns add
# a few keys per query to shorten the paths. Longformer makes a few chosen positions
# *global*: they attend to every position and every position attends to them, so
# any two tokens are two steps apart. BigBird
# ([Zaheer et al., 2020](../reference/references.md#zaheer2020)) adds, for every query,
# a few keys drawn at random; the Sparse Transformer
# ([Child et al., 2019](../reference/references.md#child2019)) used fixed strided
# patterns. As masks, all of them run in ordinary attention, and their cost is the
# number of entries they keep (`attention.attention_flops` counts 4 FLOPs per
# feature and entry, Chapter 15's count). These are bidirectional, the encoder's
# kind:

# %%
T = 32
masks = {
    "dense": torch.ones(T, T, dtype=torch.bool),
    "window 3": attention.local_global_mask(T, window=3),
    "window 3 + 2 global": attention.local_global_mask(T, window=3, global_positions=[0, 1]),
    "BigBird (+ 2 random)": attention.bigbird_mask(T, window=3, num_global=2, num_random=2,
                                                   generator=torch.Generator().manual_seed(0)),
}
fig, axes = plt.subplots(1, 4, figsize=(7.2, 2.2), layout="constrained")
for ax, (name, mask) in zip(axes, masks.items()):
    ax.imshow(mask.numpy(), cmap="Blues", vmin=0, vmax=1.3)
    ax.set(title=f"{name}\n{int(mask.sum())} entries", xticks=[], yticks=[])
axes[0].set(xlabel="key", ylabel="query")
plt.show()

# %% [markdown]
# **Figure 20.3.** Four patterns for 32 positions, each with the number of
# query-key pairs it scores. Local windows are bands; global positions add full
# rows and columns; BigBird's random keys are scattered dots, different for every
# query.

# %%
lengths = [128, 256, 512, 1024, 2048]
d_head = 64
flops = {name: [] for name in ("dense", "window 3 + 2 global", "BigBird (+ 2 random)")}
for n in lengths:
    flops["dense"].append(4 * d_head * n * n)  # every pair
    flops["window 3 + 2 global"].append(attention.attention_flops(
        attention.local_global_mask(n, 3, [0, 1]), d_head))
    flops["BigBird (+ 2 random)"].append(attention.attention_flops(
        attention.bigbird_mask(n, 3, 2, 2, torch.Generator().manual_seed(0)), d_head))
fig, ax = plt.subplots(figsize=(6.4, 2.8), layout="constrained")
for (name, values), color in zip(flops.items(), COLORS):
    ax.plot(lengths, np.array(values) / 1e6, "o-", color=color, label=name)
ax.set(xscale="log", yscale="log", xlabel="sequence length T",
       ylabel="MFLOPs, one head")
ax.set_xticks(lengths, [str(n) for n in lengths])
ax.minorticks_off()
ax.legend()
plt.show()

# %% tags=["remove-input"]
ratio = flops["dense"][-1] / flops["BigBird (+ 2 random)"][-1]
Markdown(
    f"**Figure 20.4.** The attention FLOPs of one head ($d_{{\\text{{head}}}} = "
    f"{d_head}$) for dense attention and two sparse patterns, counted from their "
    f"masks. Dense grows with $T^2$, the sparse ones with $T$; at $T = "
    f"{lengths[-1]}$ BigBird's pattern costs {ratio:.0f} times less. The global "
    f"rows and columns grow with $T$ too, so a few global positions are affordable "
    f"at any length."
)

# %% [markdown]
# ## Summary
#
# * A sliding window of $w$ lets query $i$ see keys $i - w < j \le i$. Its scores
#   cost $T w$ instead of $T^2 / 2$ (with a kernel that skips the rest), and its
#   decoder needs only a rolling cache of $w - 1$ slots per layer, whatever the
#   length: `attention.SlidingWindowPattern`, `attention.RollingKVCache`.
# * Information still travels: after $N$ layers the receptive field is
#   $(w - 1) N + 1$ tokens, and a token beyond it has exactly no effect.
# * A window keeps every offset small, so a rotary model read through one stays at
#   its trained loss at any length, where full attention failed.
# * Large models dump attention on the first tokens (sinks), and break when a
#   window evicts them; keeping a few sinks repairs it. Our small model has no
#   sink, and dropping the first tokens costs it nothing.
# * Sparse patterns add global and random keys to a window, at a cost linear in
#   the length.
#
# ## Exercises
#
# 1. Compute the receptive field of a stack whose layers alternate between a
#    window of 4 and full causal attention. What does a single full layer do to
#    the boolean matrix product of the figure?
# 2. Feed a prompt of 20 tokens to `windowed` (window 8) in chunks of 3 with
#    `new_caches`, and check that the logits equal those of one full pass. How many
#    keys does the cache return to the last chunk?
# 3. Make a sink by hand: in a single query's scores over 40 keys, give key 0 a
#    score 4 above all others, and compare the output of attention over all keys
#    with that over the last 8 keys only, and over the last 8 plus key 0.

# %% tags=["solution"]
# Exercise 1: a full causal layer reads everything before it.
full_layer = torch.ones(T, T).tril().int()
stack = [one_layer[:16, :16] if i % 2 == 0 else full_layer[:16, :16] for i in range(3)]
reach_mixed = stack[0]
for layer in stack[1:]:
    reach_mixed = ((reach_mixed @ layer) > 0).int()
print("last position reads", int(reach_mixed[-1].sum()), "of 16 tokens")

# %% tags=["solution"]
# Exercise 2: chunked decoding with rolling caches.
prompt20 = torch.randint(50, (1, 20))
caches = windowed.new_caches(1, capacity=20)
with torch.no_grad():
    chunks = []
    for start in range(0, 20, 3):
        chunk = prompt20[:, start:start + 3]
        held = len(caches[0])
        chunks.append(windowed(chunk, caches))
    print("same logits:", torch.allclose(torch.cat(chunks, 1), windowed(prompt20),
                                         atol=1e-5))
print("the last chunk saw", held, "held keys plus its own",
      prompt20.shape[1] - 18)

# %% tags=["solution"]
# Exercise 3: what evicting a sink does.
scores = torch.randn(1, 40, dtype=torch.float64)
scores[0, 0] = scores.max() + 4  # key 0 takes most of the weight
values = torch.randn(40, 16, dtype=torch.float64)
def attend(keep):
    w_ = torch.softmax(scores[:, keep], dim=-1)
    return w_ @ values[keep]
full = attend(torch.arange(40))
recent = attend(torch.arange(32, 40))
with_sink = attend(torch.cat([torch.tensor([0]), torch.arange(32, 40)]))
print(f"weight on the sink: {torch.softmax(scores, -1)[0, 0]:.2f}")
print(f"distance to full attention: window only {(recent - full).norm():.2f}, "
      f"window + sink {(with_sink - full).norm():.2f}")

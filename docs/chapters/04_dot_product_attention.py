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
# # Version 1: dot-product attention
#
# Additive attention scores a query against a key with a small neural network. The next
# version throws the network away and scores with the plainest comparison of two vectors
# there is, their dot product. This chapter shows what that means geometrically (length
# times cosine: vectors that point the same way score high), how it turns all the scores
# into one matrix product, what it gives up (queries and keys must now have the same
# size) and what it gains: fewer operations, which we count, and less time, which we
# measure. It ends with the problem that the dot product brings along, which the next
# chapter fixes.

# %%
import platform
import statistics
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown

import attention
from attention.fast.cost import additive_attention_cost, dot_product_attention_cost
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: extra threads would only cost time
np.set_printoptions(precision=3, suppress=True)
torch.set_printoptions(precision=3)

# %% [markdown]
# ## From a network to a dot product
#
# Bahdanau et al.'s paper appeared on arXiv in 2014 and at ICLR in 2015. A few months
# later, in 2015, [Luong, Pham and Manning](../reference/references.md#luong2015) compared
# several score functions for attention in translation. The simplest of them, which they
# called *dot*, has no parameters at all:
#
# $$
# a(q, k) = q^\top k = \sum_{i=1}^{d} q_i\, k_i .
# $$
#
# (They also tried *general*, $q^\top W k$ with a learned matrix $W$, and *concat*, a
# version of the additive score of [Chapter 3](03_additive_attention.py), and reported
# that their concat version did not perform well.) Where additive attention needed a
# (queries, keys, hidden) tensor to score every pair, dot products of every query with
# every key are the entries of one matrix product. Stack the $n_q$ queries as the rows of
# $Q$ and the $n_k$ keys as the rows of $K$; then $S = Q K^\top$ holds all the scores, and
# attention pooling ([Chapter 2](02_queries_keys_values.py)) with a softmax over each row
# ([Chapter 1](01_softmax.py)) is
#
# $$
# \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\left(Q K^\top\right) V .
# $$
#
# The package computes it with `attention.scaled_dot_product_attention`. The "scaled" in
# its name is the subject of the next chapter; `scale=1.0` switches it off and gives
# exactly the formula above. Here it is on the shapes of Chapter 3's example, three
# queries and five keys, now all of size 6, next to the three lines it stands for:

# %%
query = torch.randn(1, 3, 6)  # (batch, queries, d)
key = torch.randn(1, 5, 6)  # (batch, keys, d)
value = torch.randn(1, 5, 7)  # (batch, keys, value_size)

output, weights = attention.scaled_dot_product_attention(
    query, key, value, scale=1.0
)  # (1, 3, 7) and (1, 3, 5)

scores = query @ key.transpose(-2, -1)  # (1, 3, 6) @ (1, 6, 5) -> (1, 3, 5)
by_hand = torch.softmax(scores, dim=-1)  # (1, 3, 5): each row sums to 1
print("weights:", tuple(weights.shape), " output:", tuple(output.shape))
print("weights, max |package - by hand|:",
      (weights - by_hand).abs().max().item())
print("output,  max |package - by hand|:",
      (output - by_hand @ value).abs().max().item())

# %% [markdown]
# ## What the dot product measures
#
# Write $\theta$ for the angle between $q$ and $k$. Then
#
# $$
# q \cdot k = \lVert q \rVert\, \lVert k \rVert \cos \theta .
# $$
#
# For keys of a given length, the score is largest for the key that points the same way
# as the query ($\cos\theta = 1$), zero for a key at right angles to it, and most negative
# for a key pointing the opposite way. So the dot product is a similarity: aligned vectors
# score high. But it is not *only* a similarity of direction. Length multiplies in, so a
# long key that is roughly aligned can beat a short key that is aligned exactly. In two
# dimensions we can draw it: one query and six keys, each labelled with its score.

# %%
q2 = np.array([2.0, 0.0])  # the query: length 2, pointing right
key_angles = np.radians([0, 45, 60, 90, 135, 180])
key_lengths = np.array([1.0, 1.0, 2.5, 1.0, 1.5, 1.0])
directions = np.stack([np.cos(key_angles), np.sin(key_angles)], axis=1)
keys2 = key_lengths[:, None] * directions  # (6 keys, 2)
_, weights2 = attention.scaled_dot_product_attention(
    torch.tensor(q2[None]), torch.tensor(keys2), torch.tensor(keys2), scale=1.0
)  # weights2: (1 query, 6 keys)
scores2 = keys2 @ q2  # (6,)
key_names = [f"$k_{i + 1}$" for i in range(len(keys2))]

# %% tags=["fold"]
fig, (ax_arrows, ax_bars) = plt.subplots(
    1, 2, figsize=(8, 3.4), layout="constrained"
)
arrow = dict(angles="xy", scale_units="xy", scale=1, width=0.012)
# The query first: k_1 lies along it and is drawn on top.
ax_arrows.quiver(0, 0, *q2, color=COLORS[1], **arrow)
ax_arrows.annotate("$q$", q2, xytext=(4, -14), textcoords="offset points",
                   color=COLORS[1])
ax_arrows.quiver(np.zeros(6), np.zeros(6), keys2[:, 0], keys2[:, 1],
                 color=COLORS[0], **arrow)
for name, tip, score in zip(key_names, keys2, scores2):
    ax_arrows.annotate(f"{name}: {score:.2f}", tip, xytext=(2, 7),
                       textcoords="offset points", fontsize=9,
                       ha="right" if tip[0] < -0.1 else "left")
ax_arrows.set(xlim=(-2.2, 2.8), ylim=(-0.4, 2.6), aspect="equal",
              xlabel="first component", ylabel="second component")
ax_bars.bar(np.arange(6), weights2[0].numpy())
ax_bars.set_xticks(np.arange(6), key_names)
ax_bars.set(xlabel="key", ylabel="attention weight of $q$")
plt.show()

# %% tags=["remove-input"]
Markdown(
    f"**Figure 4.1.** Left: a query $q$ (orange) of length 2 and six keys (blue), each "
    f"labelled with its score $q \\cdot k$. The key pointing the same way as the query, "
    f"$k_1$, scores {scores2[0]:.2f}; the one at right angles, $k_4$, scores 0; the one "
    f"pointing the opposite way, $k_6$, scores {scores2[5]:.2f}. But $k_3$, at 60° and of "
    f"length 2.5, scores {scores2[2]:.2f}, more than the exactly aligned $k_1$, because "
    f"$\\cos 60° = 1/2$ is made up for by its length. Right: the softmax of the six scores. "
    f"$k_3$ takes {weights2[0, 2]:.2f} of the weight and $k_1$ {weights2[0, 0]:.2f}; the keys "
    f"pointing away from the query get almost nothing."
)

# %% [markdown]
# ## A heatmap of dot-product weights
#
# To see the similarity at work on words, give six words hand-made vectors whose entries
# are features: *is an animal*, *feline*, *canine*, *young*, *a vehicle*, *large*. With
# entries of 0 and 1, the dot product of two words simply counts the features they
# share. Each word is a query and each word is a key (attention of a sequence to itself,
# which [Chapter 8](08_self_attention.py) is about).

# %%
words = ["cat", "kitten", "dog", "puppy", "car", "truck"]
#                        animal feline canine young vehicle large
word_vectors = torch.tensor([[1, 1, 0, 0, 0, 0],   # cat
                             [1, 1, 0, 1, 0, 0],   # kitten
                             [1, 0, 1, 0, 0, 0],   # dog
                             [1, 0, 1, 1, 0, 0],   # puppy
                             [0, 0, 0, 0, 1, 0],   # car
                             [0, 0, 0, 0, 1, 1]],  # truck
                            dtype=torch.float32)  # (words, features)
_, word_weights = attention.scaled_dot_product_attention(
    word_vectors, word_vectors, word_vectors, scale=1.0
)  # (queries, keys) = (6, 6)
print("scores = shared features:")
print((word_vectors @ word_vectors.T).int().numpy())
fig = attention.plot_attention_weights(
    word_weights, words, words, annotate=True, cell_size=0.55
)
plt.show()

# %% tags=["remove-input"]
w = word_weights
Markdown(
    f"**Figure 4.2.** Dot-product attention weights of six words over the same six words. "
    f"Each word attends mostly to words that share its features: the cats to the cats, the "
    f"dogs to the dogs, the vehicles to the vehicles. Two things are less obvious. *cat* "
    f"gives *kitten* as much weight as itself ({w[0, 1]:.2f} each): they share both of *cat*'s "
    f"features, and *kitten*'s extra feature adds nothing to a dot product with a query "
    f"that lacks it. And *car* still gives each animal {w[4, 0]:.2f}, with which it shares "
    f"nothing: a score of 0 is not a weight of 0, since softmax turns it into $e^0 = 1$ "
    f"before normalising."
)

# %% tags=["remove-input"]
Markdown(
    f"The first point is the length effect of Figure 4.1 again: a key with more features is "
    f"a longer vector and scores higher with every query that shares any of them. *kitten*, "
    f"the longer vector, gives itself {w[1, 1]:.2f} and *cat* only {w[1, 0]:.2f}, while "
    f"*cat* cannot prefer itself to *kitten*. Whether that is a flaw depends on what the "
    f"vectors mean, and in a trained model their lengths are learned too. But it is a "
    f"reminder that $q \\cdot k$ is a similarity only up to the lengths of the vectors; the "
    f"second exercise removes the lengths."
)

# %% [markdown]
# ## What it gives up: queries and keys of the same size
#
# A dot product pairs the $i$-th entry of the query with the $i$-th entry of the key, so
# both must have the same number of entries. The toy alignment of Chapter 3, with French
# queries of size 4 and English keys of size 6, cannot be written with a dot product. The
# package says so, naming both shapes, before any arithmetic happens:

# %%
french_vectors = torch.randn(1, 6, 4)  # (batch, queries, 4), as in Chapter 3
english_vectors = torch.randn(1, 5, 6)  # (batch, keys, 6), as in Chapter 3
try:
    attention.scaled_dot_product_attention(
        french_vectors, english_vectors, english_vectors, scale=1.0
    )
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# The way out is to bring the learned weights back, but only as a projection: map the
# queries into the keys' space with a matrix $W$ of shape $d_k \times d_q$, then take dot
# products, $(W q) \cdot k = q^\top W^\top k$. That is Luong et al.'s *general* score (they
# write the matrix the other way round, as $q^\top W k$), and it keeps the one matrix
# product for all the scores:

# %%
project = torch.nn.Linear(4, 6, bias=False)  # W: (key_size, query_size)
projected = project(french_vectors)  # (batch, queries, 6)
_, general_weights = attention.scaled_dot_product_attention(
    projected, english_vectors, english_vectors, scale=1.0
)
print("weights:", tuple(general_weights.shape))
print("parameters of W:", project.weight.numel())

# %% [markdown]
# Learned projections of the queries and keys into a shared space return for good in
# [Chapter 10](10_multi_head_attention.py), where multi-head attention projects both.
#
# ## What it gains: the cost, counted
#
# The package's `attention.fast.cost` counts the floating-point operations (FLOPs) of one
# forward pass. A matrix product of a $(d_1, d_2)$ and a $(d_2, d_3)$ matrix costs $2 d_1 d_2 d_3$ (a
# multiply and an add per term); an element-wise operation costs one per element, and a
# softmax five per score (the row's maximum, subtracting it, the exponential, the sum and
# the division). For
# $n_q$ queries of size $d_q$, $n_k$ keys of size $d_k$, values of size $d_v$ and hidden
# size $d_a$, additive attention spends
#
# $$
# \underbrace{2 n_q d_q d_a + 2 n_k d_k d_a}_{\text{project } q \text{ and } k}
# + \underbrace{2 n_q n_k d_a}_{\text{add, tanh}}
# + \underbrace{2 n_q n_k d_a}_{w_v}
# + \underbrace{5 n_q n_k}_{\text{softmax}}
# + \underbrace{2 n_q n_k d_v}_{\text{pool}}
# $$
#
# and dot-product attention
#
# $$
# \underbrace{2 n_q n_k d_k}_{Q K^\top} + \underbrace{5 n_q n_k}_{\text{softmax}}
# + \underbrace{2 n_q n_k d_v}_{\text{pool}} .
# $$
#
# Take every size equal, $n_q = n_k = T$ and $d_q = d_k = d_v = d_a = d$. Additive attention
# costs $4Td^2 + 6T^2 d + 5T^2$ and dot-product attention $4T^2 d + 5T^2$. Here they are
# for $d = 64$, a common size, and sequence lengths $T$ from 16 to 4096:

# %%
d = 64
lengths = [16, 64, 256, 1024, 4096]
print(f"{'T':>6} {'additive FLOPs':>16} {'dot-product FLOPs':>18} {'ratio':>6}")
for n in lengths:
    additive = additive_attention_cost(n, n, d, d, d, d).total
    dot = dot_product_attention_cost(n, n, d, d).total
    print(f"{n:>6} {additive:>16,} {dot:>18,} {additive / dot:>6.2f}")

# %% [markdown]
# And for a sequence of 512 positions, with the size $d$ growing:

# %%
n = 512
print(f"{'d':>6} {'additive FLOPs':>16} {'dot-product FLOPs':>18} {'ratio':>6}")
for size in [16, 64, 256, 1024, 4096]:
    additive = additive_attention_cost(n, n, size, size, size, size).total
    dot = dot_product_attention_cost(n, n, size, size).total
    print(f"{size:>6} {additive:>16,} {dot:>18,} {additive / dot:>6.2f}")

# %% tags=["remove-input"]
long_ratio = additive_attention_cost(4096, 4096, d, d, d, d).total / dot_product_attention_cost(4096, 4096, d, d).total
limit = (6 * d + 5) / (4 * d + 5)
Markdown(
    f"Both grow with $T^2$: every query meets every key in either version. The ratio falls "
    f"as $T$ grows, towards $(6d + 5)/(4d + 5) = {limit:.3f}$ for $d = {d}$ (it is "
    f"{long_ratio:.3f} at $T = 4096$), and rises with $d$, where the $4Td^2$ of the "
    f"projections takes over. Counted in FLOPs, then, dropping the network saves a third "
    f"or more, not orders of magnitude. The count leaves out two things that may matter more. "
    f"Additive attention writes a (queries, keys, hidden) tensor to memory and reads it "
    f"back, $d_a$ times as many numbers as the (queries, keys) scores, which are all that "
    f"dot-product attention ever stores: for $T = 4096$ and $d_a = {d}$ that is "
    f"{4096 * 4096 * d * 4 / 2**30:.0f} GiB against {4096 * 4096 * 4 / 2**20:.0f} MiB in "
    f"float32. And a tanh counts as one FLOP here, like an addition, but takes several "
    f"times as long to compute. A matrix product, on the other hand, is among the most "
    f"carefully optimised routines in any numerical library. So we measure."
)

# %% [markdown]
# ## What it gains: the cost, measured
#
# We time `attention.AdditiveAttention` (all sizes 64) against
# `attention.scaled_dot_product_attention` with `scale=1.0` on the same queries, keys
# and values, for sequence lengths from 16 to 256. Each call is run once to warm up, then
# timed five times with `time.perf_counter`, and we keep the median, which a single slow
# run cannot move much. Everything runs on one thread (set at the top of the chapter),
# and `inference_mode` turns off the bookkeeping for gradients.

# %% tags=["measured"]
def median_seconds(function, *args, repeats: int = 5, **kwargs) -> float:
    """Median time of `function(*args, **kwargs)` over `repeats` runs, in s."""
    function(*args, **kwargs)  # warm up: the first call may allocate memory
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


additive_attention = attention.AdditiveAttention(d, d, d)
timed_lengths = [16, 32, 64, 128, 256]
additive_ms, dot_ms = [], []
with torch.inference_mode():
    for n in timed_lengths:
        q, k, v = torch.randn(3, 1, n, d).unbind(0)  # each (batch, n, d)
        additive_ms.append(1e3 * median_seconds(additive_attention, q, k, v))
        dot_ms.append(1e3 * median_seconds(
            attention.scaled_dot_product_attention, q, k, v, scale=1.0
        ))

processor = platform.processor() or platform.machine()
machine = f"{processor}, {platform.system()}, PyTorch {torch.__version__}"
print(f"measured on {machine}, one thread; median of 5 runs")
print(f"{'':>5} {'additive':>9} {'dot':>7} {'ratio':>9} {'ratio':>8}")
print(f"{'T':>5} {'ms':>9} {'ms':>7} {'measured':>9} {'counted':>8}")
for n, slow, fast in zip(timed_lengths, additive_ms, dot_ms):
    counted = (additive_attention_cost(n, n, d, d, d, d).total
               / dot_product_attention_cost(n, n, d, d).total)
    ratio = slow / fast
    print(f"{n:>5} {slow:>9.3f} {fast:>7.3f} {ratio:>9.1f} {counted:>8.2f}")

# %% tags=["measured", "fold"]
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
ax.plot(timed_lengths, additive_ms, "o-", label="additive")
ax.plot(timed_lengths, dot_ms, "s-", label="dot product")
ax.set(xscale="log", yscale="log", ylabel="milliseconds (log scale)",
       xlabel="sequence length $T$ (queries and keys)")
ax.set_xticks(timed_lengths, [str(n) for n in timed_lengths])
ax.minorticks_off()
ax.legend()
plt.show()

# %% tags=["remove-input"]
Markdown(
    f"**Figure 4.3.** The median time of one forward pass of each version, sizes "
    f"$d = d_a = {d}$, measured when this page was built, on {machine}, one thread. These "
    f"times (and the measured ratios in the table above), like every measured time in "
    f"this book (chapters 6, 13, 15, 16 and 17 measure others), change from machine to "
    f"machine and from build to build: they depend on the processor, on the PyTorch "
    f"version and on whatever else the machine was doing. The counted ratios do not."
)

# %% tags=["remove-input"]
measured_ratio = additive_ms[-1] / dot_ms[-1]
measured_text = f"{measured_ratio:.0f}" if measured_ratio >= 10 else f"{measured_ratio:.1f}"
counted_ratio = (additive_attention_cost(256, 256, d, d, d, d).total
                 / dot_product_attention_cost(256, 256, d, d).total)
if measured_ratio > 2 * counted_ratio:
    verdict = (
        "far more than the count. The difference is what the count leaves out: the memory "
        "traffic of the hidden tensor, the price of a tanh, and the head start of a matrix "
        "product."
    )
elif measured_ratio > counted_ratio:
    verdict = "somewhat more than the count."
else:
    verdict = "no more than the count: on this machine the extra memory traffic did not show."
Markdown(
    f"On this machine, at $T = {timed_lengths[-1]}$, additive attention took "
    f"{additive_ms[-1]:.2f} ms and dot-product attention {dot_ms[-1]:.3f} ms, a ratio of "
    f"{measured_text} where the FLOP count gives {counted_ratio:.2f}: {verdict} "
    f"[Vaswani et al. (2017)](../reference/references.md#vaswani2017) gave the same reasons for building the Transformer on dot "
    f"products: though similar in theoretical complexity, they are much faster and more "
    f"space-efficient in practice, since they can be computed with highly optimised matrix "
    f"multiplication code."
)

# %% [markdown]
# ## What goes wrong as $d$ grows
#
# The dot product has a weakness that the additive score does not. Additive attention's
# score is bounded whatever the sizes of its inputs: each of the $d_a$ tanh units lies in
# $(-1, 1)$, so $|a(q, k)| \le \sum_i |(w_v)_i|$. A dot product is a sum of $d$ terms, and
# it grows with $d$. If the entries of $q$ and $k$ are independent with mean 0 and variance
# 1, each term $q_i k_i$ has variance 1, and the variance of a sum of independent terms
# adds up:
#
# $$
# \operatorname{Var}(q \cdot k) = \sum_{i=1}^{d} \operatorname{Var}(q_i k_i) = d,
# \qquad \text{so the scores spread like } \sqrt{d} .
# $$
#
# [Chapter 1](01_softmax.py) showed what a wide spread does to a softmax: it piles all the
# weight on one item. We check both effects with 200 random queries against 64 random keys
# for sizes $d$ from 4 to 1024. The last column is the share of queries that put more
# than 0.99 of their weight on a single key.

# %%
print(f"{'d':>5} {'std of scores':>14} {'sqrt(d)':>8} "
      f"{'mean largest weight':>20} {'one key > 0.99':>15}")
for size in [4, 16, 64, 256, 1024]:
    queries = torch.randn(200, size)  # (queries, d)
    keys = torch.randn(64, size)  # (keys, d)
    _, random_weights = attention.scaled_dot_product_attention(
        queries, keys, keys, scale=1.0
    )  # (queries, keys)
    largest = random_weights.max(dim=-1).values  # (queries,)
    score_std = (queries @ keys.T).std().item()
    one_key = (largest > 0.99).float().mean().item()
    print(f"{size:>5} {score_std:>14.2f} {size**0.5:>8.2f} "
          f"{largest.mean().item():>20.3f} {one_key:>15.0%}")

# %% [markdown]
# The spread of the scores follows $\sqrt{d}$, and as it grows the softmax sharpens
# towards a single winner. The keys here are random, so no key deserves to win; at large
# $d$ one wins anyway, because the gaps between random scores have grown with $\sqrt{d}$.
# Worse, as [Chapter 1](01_softmax.py) measured, a saturated softmax passes almost no
# gradient back to the scores, so a model whose weights start out like this can barely
# learn to change them. Vaswani et al. (2017) noted that additive attention does better
# than unscaled dot-product attention when $d$ is large, and suspected exactly this cause.
# Their fix costs one multiplication and is the subject of
# [Chapter 5](05_scaled_dot_product_attention.py): divide the scores by $\sqrt{d}$.
#
# ## Summary

# %% tags=["remove-input"]
Markdown(
    f"""
- **Dot-product attention** (Luong, Pham and Manning, 2015) scores with $a(q, k) = q^\\top k$:
  no parameters, and all scores in one matrix product, $\\operatorname{{softmax}}(Q K^\\top) V$.
- Geometrically $q \\cdot k = \\lVert q \\rVert \\lVert k \\rVert \\cos\\theta$: aligned
  vectors score high, but length counts too, so a long key can beat a better aligned one.
- It gives up **different sizes**: queries and keys must both have size $d$. A learned
  projection (Luong's *general* score) brings the freedom back.
- It gains **cost**. Counted in FLOPs, additive attention costs about
  {limit:.2f} times as much for long sequences ($d = {d}$), more for short ones. It also
  stores a (queries, keys, hidden) tensor and computes a tanh for every entry, which the
  count leaves out: measured on the machine that built this page, at
  $T = {timed_lengths[-1]}$, it took {measured_text} times as long.
- Its scores spread like $\\sqrt{{d}}$, which saturates the softmax as $d$ grows; the next
  chapter scales them.
"""
)

# %% [markdown]
# ## Exercises
#
# 1. **The general score.** For Chapter 3's sizes (queries of size 4, keys of size 6),
#    compare the number of parameters of Luong's general score $q^\top W^\top k$ with that
#    of `attention.AdditiveAttention(4, 6, hidden_size=8)`. Then show that the general
#    score is still a dot product: $q^\top W^\top k = (W q) \cdot k = q \cdot (W^\top k)$,
#    so $W$ may be applied to the keys instead. Check that both give the same weights.

# %% tags=["solution"]
# Exercise 1: W has d_k * d_q parameters; additive attention d_a (d_q + d_k + 1).
W = project.weight  # (key_size, query_size) = (6, 4)
additive_small = attention.AdditiveAttention(4, 6, hidden_size=8)
print("general score:", W.numel())
print("additive:     ", sum(p.numel() for p in additive_small.parameters()))
with torch.no_grad():
    _, on_queries = attention.scaled_dot_product_attention(  # (W q) . k
        french_vectors @ W.T, english_vectors, english_vectors, scale=1.0
    )
    _, on_keys = attention.scaled_dot_product_attention(  # q . (W^T k)
        french_vectors, english_vectors @ W, english_vectors, scale=1.0
    )
print(f"max difference: {(on_queries - on_keys).abs().max().item():.1e}")

# %% [markdown]
# 2. **Cosine similarity.** Divide every word vector of Figure 4.2 by its length before
#    taking dot products, so that the score is $\cos\theta$. Does *cat* now prefer itself
#    to *kitten*? Between which two values can the scores lie, and what does that mean for
#    how sharp the weights can get?

# %% tags=["solution"]
# Exercise 2: cosine similarity removes the lengths.
unit = word_vectors / word_vectors.norm(dim=-1, keepdim=True)  # (words, 6)
_, cosine_weights = attention.scaled_dot_product_attention(
    unit, unit, unit, scale=1.0
)
print("cat over [cat, kitten]:", cosine_weights[0, :2].numpy())
# Now cat scores 1 with itself and 2 / sqrt(6) with kitten: it prefers itself.
# Cosines lie in [-1, 1], so two scores differ by at most 2, and two weights
# by a factor of at most e^2: the weights can never get sharp. That is why
# attention with cosine scores needs a learned scale (a temperature).
print("largest possible weight ratio:", np.exp(2).round(2))

# %% [markdown]
# 3. **The limit of the ratio.** Show from the two formulas that with all sizes equal to
#    $d$ the ratio of additive to dot-product FLOPs tends to $(6d + 5)/(4d + 5)$ as $T$
#    grows, and check it with `attention.fast.cost` at $T = 2^{16}$ for $d = 64$. Up to which
#    $T$ is the ratio at least 2 when $d = 64$?

# %% tags=["solution"]
# Exercise 3: with all sizes d the ratio is (4d^2 + 6nd + 5n) / (4nd + 5n),
# which tends to (6d + 5) / (4d + 5) as n grows.
def cost_ratio(n: int, size: int = 64) -> float:
    return (additive_attention_cost(n, n, size, size, size, size).total
            / dot_product_attention_cost(n, n, size, size).total)


print(f"n = 2^16: {cost_ratio(2**16):.5f}")
print(f"limit:    {(6 * 64 + 5) / (4 * 64 + 5):.5f}")
# The ratio falls as n grows; it is 2 or more for short sequences only.
short = [n for n in range(1, 1025) if cost_ratio(n) >= 2]
print("ratio >= 2 for n up to", max(short))

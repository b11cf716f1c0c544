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
# # Linear attention: the RNN returns
#
# Attention was invented to escape a bottleneck. The encoder–decoder networks that
# first translated well, the ones [Chapter 3](03_additive_attention.py) starts from,
# read the whole source sentence into one vector of fixed size and wrote the
# translation from it; attention let the decoder look back at every source word
# instead. That freedom has a price, paid in every chapter of Part IV: each query
# compares itself with every key, so the work grows as $T^2$, and a decoder keeps a
# cache that grows with every token. *Linear attention* removes the $T^2$ by
# changing one thing, the softmax, and in doing so brings back a state of fixed
# size: a Transformer that, decoding, is a recurrent network. This chapter derives
# it from the kernel view of [Chapter 2](02_queries_keys_values.py), checks its
# parallel and recurrent forms against each other, measures its cost against
# softmax attention, and measures what it loses: the ability to recall one item
# exactly from many.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from torch import nn

import attention
from attention.fast.cost import dot_product_attention_cost
from attention.modern.causal_self_attention import CausalSelfAttention
from attention.modern.linear_attention import (
    LinearAttentionState,
    elu_feature_map,
    linear_attention,
    linear_attention_cost,
)
from attention.modern.linear_attention_layer import LinearAttentionPattern, LinearSelfAttention
from attention.book.measure import median_times
from attention.book.plotting import COLORS, use_book_style
from attention.transformer.training import Adam, warmup_then_decay

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: one thread, the same numbers every build

# %% [markdown]
# ## Attention is a kernel smoother
#
# [Chapter 2](02_queries_keys_values.py) met attention as Nadaraya–Watson kernel
# regression: the output for a query is an average of the values, each weighted by
# a kernel $\kappa$ of the query and its key, divided by the sum of the weights.
# Softmax attention is that average with the kernel
# $\kappa(q, k) = e^{q \cdot k / \sqrt{d_k}}$:
#
# $$
# o_i = \frac{\sum_j \kappa(q_i, k_j)\, v_j}{\sum_l \kappa(q_i, k_l)} .
# $$
#
# Nothing in the average needs the exponential. Suppose instead the kernel is a
# dot product of *features*, $\kappa(q, k) = \phi(q) \cdot \phi(k)$, for some map
# $\phi$ from $d_k$ numbers to $d_k$ non-negative ones. Then $\phi(q_i)$ can be taken
# out of both sums ([Katharopoulos et al., 2020](../reference/references.md#katharopoulos2020)):
#
# $$
# o_i = \frac{\phi(q_i) \sum_j \phi(k_j)^\top v_j}{\phi(q_i) \cdot \sum_l \phi(k_l)} .
# $$
#
# The two sums, a $d_k \times d_v$ matrix and a vector of $d_k$, no longer depend
# on the query: they are computed once, in time proportional to $T$, and every
# query then costs $O(d_k d_v)$, whatever the number of keys. Softmax attention
# forms the $T \times T$ matrix $Q K^\top$ first and multiplies by $V$ second; linear
# attention multiplies $\phi(K)^\top V$ first. Matrix products are associative, so
# the order is free, but the exponential between the two products forbids the
# regrouping: that is all the softmax was costing. The feature map of the paper is
#
# $$
# \phi(x) = \operatorname{elu}(x) + 1 ,
# $$
#
# applied to each entry: $x + 1$ for $x > 0$ and $e^x$ below, positive everywhere,
# so that every weight is positive and the denominator never vanishes.
# `attention.modern.linear_attention(q, k, v, causal=False)` computes the regrouped form;
# written the quadratic way, with the $T \times T$ kernel matrix, it gives the same
# numbers:

# %%
T, d_k, d_v = 6, 4, 3
q, k, v = torch.randn(T, d_k), torch.randn(T, d_k), torch.randn(T, d_v)
kernel = elu_feature_map(q) @ elu_feature_map(k).T  # (T, T): phi(q_i) . phi(k_j)
quadratic = (kernel / kernel.sum(-1, keepdim=True)) @ v  # weights, then values
regrouped = linear_attention(q, k, v, causal=False)  # phi(K)^T V first
print("weights of query 0:", (kernel / kernel.sum(-1, keepdim=True))[0])
print("largest difference:", (quadratic - regrouped).abs().max().item())

# %% [markdown]
# The weights are still non-negative and still add to one for each query: linear
# attention is attention pooling, with a different kernel. What changes is how
# sharp that kernel can be, which we come back to at the end.
#
# ## Causal: a running sum, and a recurrent network
#
# A decoder's query $i$ sees the keys $j \le i$ only. Both sums then run over
# $j \le i$ and grow by one term per position, so they can be carried along as a
# state. Write $\mathcal{S}_t$ for the sum of $\phi(k_j)^\top v_j$ and $\zeta_t$
# for the sum of $\phi(k_j)$ over the first $t$ positions:
#
# $$
# \mathcal{S}_t = \mathcal{S}_{t-1} + \phi(k_t)^\top v_t, \qquad
# \zeta_t = \zeta_{t-1} + \phi(k_t), \qquad
# o_t = \frac{\phi(q_t)\, \mathcal{S}_t}{\phi(q_t) \cdot \zeta_t} .
# $$
#
# This is a recurrent network: a state of fixed size, $d_k \times d_v$ plus $d_k$
# numbers per head, updated by each token and read by each query. Generating one
# token costs the same at position 10 and at position 10 million, and the memory
# never grows, where the KV cache of [Chapter 17](17_kv_cache_and_grouped_query_attention.py)
# grows by a key and a value per token. `attention.modern.linear_attention.LinearAttentionState`
# is the recurrence, one `step` per token; `linear_attention` computes the same
# outputs for a whole sequence at once. Here both run on 200 positions of 4 heads,
# in float64:

# %%
T, heads, d_head = 200, 4, 16
q, k, v = (torch.randn(1, heads, T, d_head, dtype=torch.float64) for _ in range(3))
state = LinearAttentionState((1, heads), d_head, d_head, dtype=torch.float64)
steps = torch.stack([state.step(q[:, :, t], k[:, :, t], v[:, :, t])
                     for t in range(T)], dim=2)  # (1, heads, T, d_head)
parallel = linear_attention(q, k, v, causal=True)  # (1, heads, T, d_head)
print("recurrent and parallel forms differ by at most",
      (steps - parallel).abs().max().item())
print(f"state after {state.num_seen} tokens: {state.nbytes():,} bytes")

# %% tags=["remove-input"]
kv_bytes = 2 * heads * T * d_head * 8  # keys and values of every position, float64
crossing = next(n for n in range(1, T) if 2 * n * d_head >= d_head * d_head + d_head)
Markdown(
    f"The state holds {state.nbytes():,} bytes after {state.num_seen} tokens and "
    f"would hold as many after a million; the keys and values of those "
    f"{T} positions would already take {kv_bytes:,} bytes, "
    f"{kv_bytes / state.nbytes():.1f} times more, and grow without end. The "
    f"state's size is set by $d_{{\\text{{head}}}}$ alone, "
    f"$d_{{\\text{{head}}}}^2 + d_{{\\text{{head}}}}$ numbers per head; the keys "
    f"and values, $2 d_{{\\text{{head}}}}$ numbers per position and head, are the "
    f"larger from {crossing} positions on."
)

# %% [markdown]
# For training, a token-by-token loop would waste the parallel hardware that made
# Transformers win over recurrent networks. `linear_attention` cuts the sequence
# into chunks of $C$ positions (64 by default): within a chunk it uses the masked
# quadratic form, a $C \times C$ matrix, and between chunks it carries the state.
# The chunks' products are small, so the work per position stays constant, and the
# outputs are those of the recurrence (the tests check both against a float64
# formula, for random sizes and chunk lengths).
#
# So the loop has closed. [Bahdanau, Cho and Bengio](../reference/references.md#bahdanau2015)
# added attention to an encoder–decoder of recurrent networks
# ([Sutskever, Vinyals and Le, 2014](../reference/references.md#sutskever2014)) because
# one fixed-size vector could not hold a long sentence; the Transformer then dropped
# the recurrence altogether. Linear attention keeps the Transformer's layers and its
# parallel training, and hands decoding back to a fixed-size state. Whether that
# state can hold what attention could is the question of the last section.
#
# ## What it costs: linear in $T$
#
# Counted, softmax attention over $T$ positions costs $4 T^2 d$ FLOPs in its two
# matrix products (`attention.fast.cost.dot_product_attention_cost`), linear attention
# $4 T d_k d_v$ and a little more (`linear_attention_cost`): for $T$ above about
# $d$, linear attention does less. Measured on this machine, one head of $d = 64$,
# causal in both cases, softmax attention by PyTorch's fused
# `F.scaled_dot_product_attention`:

# %% tags=["measured", "fold"]
d = 64
lengths = [128, 256, 512, 1024, 2048, 4096]
softmax_times, linear_times = [], []
for T in lengths:
    q, k, v = (torch.randn(1, 1, T, d) for _ in range(3))  # (batch, heads, T, d)
    softmax_time, linear_time = median_times([
        lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        lambda: linear_attention(q, k, v, causal=True)], repeats=3)
    softmax_times.append(softmax_time)
    linear_times.append(linear_time)
softmax_flops = [dot_product_attention_cost(T, T, d, d, scaled=True).total
                 for T in lengths]
linear_flops = [linear_attention_cost(T, d, d).total for T in lengths]

fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.2), layout="constrained")
for ax, (soft, lin), label in ((left, (softmax_times, linear_times), "seconds"),
                               (right, (softmax_flops, linear_flops), "FLOPs")):
    ax.plot(lengths, soft, "o-", color=COLORS[0], label="softmax attention")
    ax.plot(lengths, lin, "s-", color=COLORS[1], label="linear attention")
    ax.set(xscale="log", yscale="log", xlabel="sequence length $T$ (log scale)",
           ylabel=f"{label} (log scale)")
    ax.minorticks_off()
    ax.set_xticks(lengths, [str(T) for T in lengths], fontsize=8)
left.set_title("measured", fontsize=10)
right.set_title("counted", fontsize=10)
left.legend()
plt.show()

# %% tags=["remove-input", "measured"]
slope = lambda y: np.polyfit(np.log(lengths[2:]), np.log(y[2:]), 1)[0]
Markdown(
    f"**Figure 21.1.** Time (left, measured on the machine that built this page, so "
    f"it changes from build to build) and FLOPs (right, counted) of causal attention "
    f"over $T$ positions, one head of size {d}, both axes logarithmic. The counted "
    f"lines have slopes 2 and 1. Measured from $T = {lengths[2]}$ on, softmax "
    f"attention's time grows with slope {slope(softmax_times):.1f} and linear "
    f"attention's with slope {slope(linear_times):.1f}; at $T = {lengths[-1]}$ "
    f"linear attention took {linear_times[-1] * 1e3:.1f} ms against "
    f"{softmax_times[-1] * 1e3:.1f} ms. At short lengths the fused softmax kernel "
    f"wins: linear attention's chunks are a Python loop, and its $d \\times d$ state "
    f"costs as much as a $T \\times T$ matrix when $T$ is near $d$."
)

# %% [markdown]
# ## What it loses: exact recall
#
# The state is a $d_k \times d_v$ matrix, whatever the length of the text. Each
# token adds the outer product $\phi(k_t)^\top v_t$ to it, and a query reads it back
# with $\phi(q_t)\, \mathcal{S}_t$: an associative memory, the sum of all the
# key–value pairs written so far. Reading back one value exactly needs the query's
# features to be orthogonal to every other key's features, and in $d_k$ dimensions
# at most $d_k$ vectors are orthogonal. Softmax attention has no such limit: its
# kernel $e^{q \cdot k}$ is a dot product of infinitely many features, and it can
# make one key's weight as large as it likes against all others.
#
# The limit shows before any training. Take $T$ random keys of size $d_k = 16$ and
# the matrix of kernel values between them. For linear attention it is
# $\phi(K)\, \phi(K)^\top$, whose rank cannot exceed 16; the exponential kernel's has
# full rank. Each key used as a query gives its own value a share of the weight,
# and that share is the weight on the right answer:

# %%
d_k = 16
pair_counts = [2, 4, 8, 16, 32, 64, 128]
weight_on_own = {"softmax": [], "linear": []}
ranks = {}
for n in pair_counts:
    keys = torch.randn(n, d_k, dtype=torch.float64)
    kernels = {"softmax": torch.exp(keys @ keys.T / d_k ** 0.5),
               "linear": elu_feature_map(keys) @ elu_feature_map(keys).T}
    for name, kernel in kernels.items():  # (n, n): row i, the weights of query k_i
        weights = kernel / kernel.sum(-1, keepdim=True)
        weight_on_own[name].append(weights.diagonal().mean().item())
        ranks[name, n] = torch.linalg.matrix_rank(kernel).item()
print("rank of the kernel matrix of 64 keys:",
      {name: ranks[name, 64] for name in kernels})

# %% tags=["fold"]
fig, ax = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
for i, (name, shares) in enumerate(weight_on_own.items()):
    ax.plot(pair_counts, shares, "os"[i] + "-", color=COLORS[i],
            label=f"{name} attention")
ax.plot(pair_counts, 1 / np.array(pair_counts), ":", color=COLORS[2],
        label="even weights, 1 / pairs")
ax.axvline(d_k, color=COLORS[3], linestyle="--", linewidth=1, label="$d_k$")
ax.set(xscale="log", yscale="log", xlabel="key–value pairs stored (log scale)",
       ylabel="weight on the right value")
ax.minorticks_off()
ax.set_xticks(pair_counts, [str(n) for n in pair_counts])
ax.legend()
plt.show()

# %% tags=["remove-input"]
i64 = pair_counts.index(64)
Markdown(
    f"**Figure 21.2.** Random keys of size $d_k = {d_k}$, each used as the query: "
    f"the mean weight that attention gives the key's own value, with the softmax "
    f"kernel and with linear attention's $\\phi(q) \\cdot \\phi(k)$. With 64 pairs "
    f"softmax attention still puts {weight_on_own['softmax'][i64]:.0%} of the "
    f"weight on the right value; linear attention puts "
    f"{weight_on_own['linear'][i64]:.1%} there, close to the "
    f"{1 / 64:.1%} of even weights. Its kernel matrix has rank "
    f"{ranks['linear', 64]} where the exponential's has {ranks['softmax', 64]}."
)

# %% [markdown]
# Untrained random keys are the worst case: a trained model could learn keys and a
# feature map that separate better. So we train. The task is *associative recall*:
# the input is a list of key–value pairs (64 possible keys, 16 possible values,
# each pair one position whose vector is its key's embedding plus its value's),
# then a query position with one of the keys; the answer is that key's value. A
# model that attends to the right pair solves it exactly, however long the list.
# Two models, identical except for their attention layer, one head of size 32:
# the package's `CausalSelfAttention` (softmax) and `LinearSelfAttention`. Each
# trains for 150 steps of 32 lists, of 2 to 32 pairs each, with the Adam optimiser
# and schedule of [Chapter 13](13_training_a_transformer.py), from the same seed.

# %%
num_keys, num_values, d_model = 64, 16, 32


def recall_batch(batch, num_pairs, generator):
    """Lists of distinct keys with random values, a query key, and its value."""
    keys = torch.rand(batch, num_keys, generator=generator).argsort(-1)[:, :num_pairs]
    values = torch.randint(num_values, (batch, num_pairs), generator=generator)
    asked = torch.randint(num_pairs, (batch,), generator=generator)
    rows = torch.arange(batch)
    return keys, values, keys[rows, asked], values[rows, asked]


class RecallModel(nn.Module):
    """Embed each pair and the query, one attention layer, read the value off the query."""

    def __init__(self, layer):
        super().__init__()
        self.key_embedding = nn.Embedding(num_keys, d_model)
        self.value_embedding = nn.Embedding(num_values, d_model)
        self.query_marker = nn.Parameter(torch.zeros(d_model))
        self.attend, self.readout = layer, nn.Linear(d_model, num_values)

    def forward(self, keys, values, query):
        pairs = self.key_embedding(keys) + self.value_embedding(values)
        asked = self.key_embedding(query) + self.query_marker
        x = torch.cat([pairs, asked[:, None]], dim=1)  # (batch, pairs + 1, d_model)
        out, _ = self.attend(x, torch.arange(x.shape[1]))
        return self.readout(out[:, -1])  # (batch, num_values): the query's output


def train_recall(layer, steps=150, batch=32):
    torch.manual_seed(0)
    model = RecallModel(layer)
    optimizer, generator = Adam(model.parameters()), torch.Generator().manual_seed(1)
    for step in range(1, steps + 1):
        num_pairs = int(torch.randint(2, 33, (1,), generator=generator))
        keys, values, query, answer = recall_batch(batch, num_pairs, generator)
        loss = F.cross_entropy(model(keys, values, query), answer)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step(warmup_then_decay(step, 1e-2, 20))
    return model.eval()


models = {"softmax": train_recall(CausalSelfAttention(d_model, 1, 1)),
          "linear": train_recall(LinearSelfAttention(d_model, 1))}
test_pairs = [2, 4, 8, 16, 24, 32, 48]
accuracy = {name: [] for name in models}
for num_pairs in test_pairs:
    keys, values, query, answer = recall_batch(
        1000, num_pairs, torch.Generator().manual_seed(99))  # held-out lists
    for name, model in models.items():
        with torch.no_grad():
            guess = model(keys, values, query).argmax(-1)
        accuracy[name].append((guess == answer).float().mean().item())

# %% tags=["fold"]
fig, ax = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
for i, (name, values_) in enumerate(accuracy.items()):
    ax.plot(test_pairs, values_, "os"[i] + "-", color=COLORS[i],
            label=f"{name} attention")
ax.axhline(1 / num_values, color=COLORS[2], linestyle=":",
           label="guessing, 1 / 16")
ax.axvspan(32, 48, color=COLORS[3], alpha=0.12, label="longer than in training")
ax.set(xlabel="key–value pairs in the list", ylabel="accuracy (held out)",
       ylim=(0, 1.05))
ax.legend(loc="center right")
plt.show()

# %% tags=["remove-input"]
soft, lin = accuracy["softmax"], accuracy["linear"]
i16 = test_pairs.index(16)
Markdown(
    f"**Figure 21.3.** Associative recall on 1000 held-out lists per length: the "
    f"share of queries answered with the right value. Trained with the same "
    f"budget, the softmax model answers {min(soft):.0%} or more at every length, "
    f"including lists longer than any it trained on. The linear model answers "
    f"{lin[0]:.0%} of the lists of {test_pairs[0]} pairs, {lin[i16]:.0%} at "
    f"{test_pairs[i16]} pairs (its head has $d_k = {d_model}$) and "
    f"{lin[-1]:.0%} at {test_pairs[-1]}, where guessing gives "
    f"{1 / num_values:.0%}. Part of the gap on short lists is slower learning; "
    f"the fall with the length of the list is the fixed-size state filling up."
)

# %% [markdown]
# This is the trade linear attention makes, and the reason the language models of
# the previous chapters still use softmax attention: recalling a name, a number or
# a line of code from far back is the kind of exact lookup a fixed-size state does
# badly. Later work on recurrent models with linear-attention-like states gives the
# state ways to forget (a decay on $\mathcal{S}_t$) and to overwrite, and larger
# states, or mixes a few softmax layers in; the trade between a fixed state and
# exact recall remains.
#
# ## Inside the language model
#
# `LinearSelfAttention` takes the place of the attention layers of `attention.GPT`,
# and `LinearAttentionPattern` makes each layer's decoding cache a
# `LinearAttentionState`. The model of [Chapter 18](18_a_small_language_model.py),
# made linear, decodes with caches whose size does not depend on how much text
# they are allowed to hold:

# %%
config = dict(d_model=48, num_heads=4, num_layers=2, max_len=4096)
linear_gpt = attention.GPT(60, **config, pattern=LinearAttentionPattern(),
                           attention=lambda layer: LinearSelfAttention(48, 4))
softmax_gpt = attention.GPT(60, **config)
for capacity in (32, 4096):
    linear_bytes = sum(c.nbytes() for c in linear_gpt.new_caches(1, capacity))
    softmax_bytes = sum(c.keys.nbytes + c.values.nbytes
                        for c in softmax_gpt.new_caches(1, capacity))
    print(f"room for {capacity:5} tokens: linear {linear_bytes:9,} bytes, "
          f"softmax (KV cache) {softmax_bytes:10,} bytes")
prompt = torch.tensor([[1, 2, 3]])
print("greedy decoding, with states and without:",
      torch.equal(linear_gpt.generate(prompt, 20),
                  linear_gpt.generate(prompt, 20, use_cache=False)))

# %% [markdown]
# ## Summary
#
# * Softmax attention is a kernel smoother with the kernel $e^{q \cdot k / \sqrt{d_k}}$.
#   With a kernel that is a dot product of features, $\phi(q) \cdot \phi(k)$, the
#   sums over keys can be computed once: $\phi(K)^\top V$ before the query, and the
#   cost grows as $T$ instead of $T^2$. The paper's $\phi$ is $\operatorname{elu}(x) + 1$.
# * Causal linear attention is a recurrence with a state of fixed size,
#   $\mathcal{S}_t = \mathcal{S}_{t-1} + \phi(k_t)^\top v_t$ and
#   $\zeta_t = \zeta_{t-1} + \phi(k_t)$: decoding is a recurrent network again, with
#   no cache that grows. Training runs it in chunks, quadratic inside, recurrent
#   between them, with the same outputs.
# * The price is recall: the state is a sum of $d_k \times d_v$ outer products,
#   which cannot keep many associations apart. Untrained, the weight on the right
#   value falls to that of even weights; trained with the same budget as a softmax
#   model, a linear model recalls far less as the lists grow.
# * The pattern of the book's history repeats: the fixed-size state attention
#   escaped in 2015 comes back wherever memory and time per token matter more than
#   exact recall.
#
# ## Exercises
#
# 1. Show that with $\phi(x) = x$ (no feature map) the weights of linear attention
#    can be negative and the denominator zero: find $q$ and two keys for which
#    $\phi(q) \cdot \phi(k_1) + \phi(q) \cdot \phi(k_2) = 0$, and run
#    `linear_attention` with `feature_map=lambda x: x` on them.
# 2. A model of Llama 2 7B's shape has 32 layers of 32 heads of size 128. In
#    float16, how many bytes does one sequence's KV cache take at 4096 tokens, and
#    how many would the states of linear attention take (one per head and layer)?
#    From what length on is the KV cache the larger?
# 3. Repeat the experiment of Figure 21.2 with $d_k = 64$. Does a wider head put
#    much more weight on the right value? What do the features $\operatorname{elu}(x) + 1$
#    of random keys, all positive, have in common that makes them hard to tell apart?

# %% tags=["solution"]
# Exercise 1: without a positive feature map, weights can cancel.
q_ = torch.tensor([[1.0, 0.0]])
k_ = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
print("kernel values:", (q_ @ k_.T).tolist())  # 1 and -1: they sum to 0
v_ = torch.tensor([[1.0], [2.0]])
out = linear_attention(q_.expand(2, 2), k_, v_, causal=False, feature_map=lambda x: x)
print("outputs, divided by (almost) zero:", out.flatten().tolist())

# %% tags=["solution"]
# Exercise 2: a growing cache against a fixed state, at a real model's sizes.
from attention.fast.cost import kv_cache_bytes

layers, heads_, d_head_ = 32, 32, 128
state_bytes = layers * heads_ * (d_head_ * d_head_ + d_head_) * 2  # float16
cache_bytes = kv_cache_bytes(1, layers, heads_, d_head_, 4096, bytes_per_element=2)
per_token = kv_cache_bytes(1, layers, heads_, d_head_, 1, bytes_per_element=2)
print(f"KV cache at 4096 tokens: {cache_bytes / 2**20:,.0f} MiB; "
      f"linear states: {state_bytes / 2**20:,.1f} MiB at any length")
print("the KV cache is larger from", -(-state_bytes // per_token), "tokens on")

# %% tags=["solution"]
# Exercise 3: a wider head helps little: positive features all share a large
# common part (their mean), so every key's features point roughly the same way.
for n in (16, 64, 256):
    keys = torch.randn(n, 64, dtype=torch.float64)
    kernel = elu_feature_map(keys) @ elu_feature_map(keys).T
    share = (kernel / kernel.sum(-1, keepdim=True)).diagonal().mean().item()
    print(f"{n:4} pairs: weight on the right value {share:.3f}, even weights {1 / n:.3f}")

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
# # The evolution at a glance
#
# Part II follows one idea through seven versions, from the attention that first
# helped neural networks translate to the multi-head attention inside every
# Transformer. Each version changes one thing about the one before and keeps the
# rest. This page lays the seven side by side: what each adds, how many parameters it
# learns, and how much it computes. The seven steps follow the account of a
# [PyImageSearch tutorial (2022)](../reference/references.md#pyimagesearch2022), numbered
# 0 to 6 as there; some retellings of it number them 1 to 7.

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown

from attention.fast.cost import projection_cost
from attention.versions.overview import VERSIONS, evolution_table, version_cost
from attention.book.chapters import VERSION_CHAPTERS
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)

# %% [markdown]
# ## The path
#
# Every version computes the same thing: scores between queries and keys, a softmax
# that turns each query's scores into weights, and a weighted average of the values
# ([Chapter 2](02_queries_keys_values.py)). What evolves is where the scores come
# from and where the queries, keys and values come from.
#
# - **Version 0**, additive attention ([Bahdanau, Cho and Bengio, 2014](../reference/references.md#bahdanau2015)),
#   scores a query against a key with a small learned network,
#   $w_v^\top \tanh(W_q q + W_k k)$.
# - **Version 1** replaces the network by the dot product $q \cdot k$
#   ([Luong, Pham and Manning, 2015](../reference/references.md#luong2015)): nothing to learn, and one matrix
#   product for all keys.
# - **Version 2**, the attention of the Transformer
#   ([Vaswani et al., 2017](../reference/references.md#vaswani2017)), divides the dot
#   product by $\sqrt{d}$, so that the scores keep a spread of about 1 whatever the size
#   $d$ of the vectors, and the softmax does not saturate.
# - **Version 3** asks many queries at once: a matrix of queries, one softmax per
#   row.
# - **Version 4**, cross-attention: the queries come from one sequence and attend
#   over another, the input $X$, which stops being used as it is: its rows become
#   keys and values through two learned projections, $K = X W^K$ and $V = X W^V$.
# - **Version 5**, self-attention: the queries come from the same sequence as the
#   keys and values, $Q = X W^Q$, so every position attends to every position of its
#   own sequence.
# - **Version 6**, multi-head attention, cuts the projections into several heads that
#   attend separately, and mixes their results with an output projection $W^O$.
#
# What separates cross- from self-attention is where the queries come from, not
# whether they are projected. Version 4 uses its queries as they are only to change
# one thing at a time; the cross-attention inside a Transformer's decoder projects its
# queries with a $W^Q$ of its own, exactly as self-attention does.
#
# Masks are not a version of their own: any of the seven can be told which keys each
# query may attend to. [Masks](09_masks.py) has a chapter of its own, just before
# version 6.
#
# ## The table
#
# The table is computed from the book's package when this page is built
# (`attention.versions.overview.evolution_table`). The parameters are counted on the
# package's own modules (`AdditiveAttention`, `CrossAttention`, `SelfAttention`,
# `MultiHeadAttention`; versions 1 to 3 are a function with nothing to learn), and
# the FLOPs come from the formulas of `attention.fast.cost`, which the package's tests
# check against PyTorch's FLOP counter.

# %%
d, hidden, heads, seq_len = 64, 64, 8, 128  # the reference sizes
rows = evolution_table(d=d, seq_len=seq_len, hidden=hidden, heads=heads)

# %% tags=["remove-input"]
lines = [
    "| version | what it adds | parameters | FLOPs |",
    "|---|---|---:|---:|",
]
for row in rows:
    v = row.version
    lines.append(
        f"| [{v.number}: {v.name}]({VERSION_CHAPTERS[v.number]}) | {v.adds} "
        f"| {row.parameters:,} | {row.cost.total:,} |"
    )
Markdown(
    f"**Table 1.** The seven versions on one sequence of $T = {seq_len}$ input vectors of "
    f"size $d = {d}$ (additive attention's hidden size $d_a = {hidden}$, multi-head attention's "
    f"$h = {heads}$ heads of size {d // heads}). Versions 0 to 2 attend from one query; from "
    f"version 3 on there is one query per position. FLOPs count one forward pass, "
    f"biases left out.\n\n" + "\n".join(lines)
)

# %% tags=["remove-input"]
r = rows
core = r[3].cost.total
one_projection = projection_cost(seq_len, d, d).total  # (T, d) @ (d, d)
key_projection = projection_cost(seq_len, d, hidden).total  # version 0's W_k K
per_query_additive = r[0].cost.total - key_projection  # the keys' projection shared
Markdown(
    f"Read down the parameters column and the story is one of *adding* learned "
    f"matrices. Version 0 learns {r[0].parameters:,} numbers; the dot product of "
    f"versions 1 to 3 learns none; cross-attention adds two $d \\times d$ projections "
    f"({r[4].parameters:,} numbers), self-attention a third ({r[5].parameters:,}), and "
    f"multi-head attention the output projection and four bias vectors "
    f"({r[6].parameters:,}, the same for any number of heads). "
    f"The FLOPs column tells a second story. For a single query, version 0's count "
    f"includes projecting all {seq_len} keys, $W_k k$, which is "
    f"{key_projection / r[0].cost.total:.0%} of it: charged to one query, the additive "
    f"network costs {r[0].cost.total / r[1].cost.total:.0f} times the dot product of "
    f"version 1. But the projected keys do not depend on the query, and "
    f"[Chapter 3](03_additive_attention.py) computes them once and reuses them for every "
    f"query (every step of the decoder). Compared like with like, per query with the "
    f"keys' projection shared, version 0 costs {per_query_additive / r[1].cost.total:.1f} "
    f"times version 1: the tanh network scores every query–key pair through a "
    f"$d_a$-sized hidden layer, where the dot product needs one multiply-add per "
    f"feature. The other gain of the dot product is that the scores of all queries "
    f"and keys are one matrix product, with no (queries, keys, $d_a$) tensor to build. "
    f"Going from one "
    f"query to {seq_len} (version 3) multiplies the work by about "
    f"{core / r[2].cost.total:.0f}. After that, each learned $d \\times d$ projection "
    f"adds {one_projection / core:.0%} of version 3's work at this length: "
    f"self-attention, with three, does {r[5].cost.total / core:.2f} times the work of "
    f"version 3, and multi-head attention, with four, {r[6].cost.total / core:.2f} times."
)

# %% [markdown]
# ## How the cost grows with the length
#
# The projections cost time proportional to the length $T$ of the sequence, the
# attention itself (a $T \times T$ matrix of scores) time proportional to $T^2$.
# Which one dominates depends on the length:

# %%
lengths = np.unique(np.logspace(0, 13, 40, base=2).astype(int))  # 1 to 8192
styles = ["-", "-", "--", "-", "-", "--", ":"]
fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
for v, style in zip(VERSIONS, styles):
    flops = [version_cost(v.number, int(t), d, hidden, heads).total
             for t in lengths]
    ax.plot(lengths, flops, style, color=COLORS[v.number % len(COLORS)],
            label=f"{v.number}: {v.name}")
ax.set(xscale="log", yscale="log", xlabel="sequence length $T$ (log scale)",
       ylabel="FLOPs per sequence (log scale)")
ax.minorticks_off()
ax.legend(loc="upper left", ncols=2)
plt.show()

# %% tags=["remove-input"]
t_grid = np.arange(1, 4096)
projections = 4 * 2 * t_grid * d * d  # W_Q, W_K, W_V, W_O: 2 T d^2 FLOPs each
attend = np.array([version_cost(6, int(t), d=d, heads=heads).matmul for t in t_grid]) - projections
crossover = int(t_grid[np.argmax(attend >= projections)])
Markdown(
    f"**Figure 1.** FLOPs of one forward pass against the length of the sequence, "
    f"with $d = {d}$, both axes logarithmic. Versions 0 to 2 (one query) grow like $T$: "
    f"straight lines of slope 1, additive attention above the dot products, whose "
    f"lines coincide. From version 3 on every position asks a query, and the curves "
    f"bend up to slope 2, the $T^2$ of the score matrix. Versions 4 to 6 start higher, "
    f"where their projections dominate, and join version 3 as $T$ grows."
)

# %% tags=["remove-input"]
Markdown(
    f"For multi-head attention with $d = {d}$, the $T \\times T$ part (scores and "
    f"weighted sum, $4 T^2 d$ FLOPs) overtakes the four projections ($8 T d^2$) at "
    f"$T = {crossover}$, that is at $T = 2d$. Past that length, and modern models read "
    f"many thousands of tokens, attention's cost is the cost of its score matrix, which "
    f"is what later work on efficient attention attacks."
)

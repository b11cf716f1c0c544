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
# # Version 3: many queries
#
# Versions 0 to 2 are usually described with a single query vector: one question,
# attended over a set of keys, one output. Version 3 asks many questions at once. The
# queries are stacked into a matrix, and the whole computation becomes two matrix
# products with a row-wise softmax between them. The book's code has quietly done this
# since [Chapter 2](02_queries_keys_values.py#shapes-a-worked-example), because it is
# how attention is always implemented; this chapter makes the step explicit. Nothing
# about the attention of a single query changes; what changes is how the work is
# organized, and that turns out to be what makes attention fast. This chapter writes version 3 down with its shapes, checks that
# it equals a loop over the queries (and how much faster it is), adds batch dimensions,
# states the shape rules in one table, and reads the book's NumPy and PyTorch
# implementations side by side, checked against PyTorch's own.

# %%
import ast
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from matplotlib.patches import Rectangle

import attention
from attention.fast.cost import dot_product_attention_cost
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # the tensors here are small: one thread is the fastest
np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## What changes from version 2
#
# In [version 2](05_scaled_dot_product_attention.py) a single query $q$ of size $d_k$
# was scored against $T_k$ keys, the rows of $K$ (shape $T_k \times d_k$); a softmax turned
# the $T_k$ scores into weights, and the weights averaged the rows of $V$
# (shape $T_k \times d_v$):
#
# $$
# \text{output} = \operatorname{softmax}\!\left(\frac{q K^\top}{\sqrt{d_k}}\right) V
# \qquad (1 \times d_k)\,(d_k \times T_k) \to (1 \times T_k), \quad
# (1 \times T_k)\,(T_k \times d_v) \to (1 \times d_v).
# $$
#
# In a real model there is a query for every position that needs an answer: every word
# of the sentence being translated, every token of the text being read. Version 3 stacks
# $T_q$ queries as the rows of a matrix $Q$ (shape $T_q \times d_k$) and writes the same
# computation for all of them at once:
#
# $$
# S = \frac{Q K^\top}{\sqrt{d_k}} \quad (T_q \times T_k), \qquad
# A = \operatorname{softmax}_{\text{row}}(S) \quad (T_q \times T_k), \qquad
# O = A V \quad (T_q \times d_v).
# $$
#
# Entry $S_{ij} = q_i \cdot k_j / \sqrt{d_k}$ is the score of query $i$ for key $j$. The
# softmax runs along each row, over the keys, so row $i$ of $A$ is exactly the weight
# vector that version 2 computes for query $i$ alone, and row $i$ of $O$ is its output.
# This is the formula of the [Transformer paper](../reference/references.md#vaswani2017),
# $\operatorname{Attention}(Q, K, V) = \operatorname{softmax}(Q K^\top / \sqrt{d_k})\, V$.
#
# ## A small example with words
#
# To see the weight matrix mean something, we make up a tiny vocabulary of five words and
# give each word a vector of size $d_k = 8$. The five vectors are orthogonal, so that
# different words have a dot product of 0, and have length $\sqrt{8}$, so that the
# components have variance 1 on average, as [Chapter 5](05_scaled_dot_product_attention.py)
# assumed. The keys are the six words of "the cat sat on the mat". The four queries are
# built to look for something: one points in the direction of *cat*, one of *sat*, one
# between *on* and *mat*, one towards *the*. (In a
# trained model, learned projections make the queries and keys; [Chapter 7](07_cross_attention.py)
# adds them. Here we write them by hand so that we know what the answer should be.) The
# values are random vectors of size $d_v = 4$.

# %%
d_k, d_v = 8, 4
vocabulary = ["the", "cat", "sat", "on", "mat"]
# Five orthonormal columns (d_k, 5), scaled to length sqrt(d_k): one per word.
orthonormal, _ = np.linalg.qr(rng.normal(size=(d_k, len(vocabulary))))
embedding = dict(zip(vocabulary, np.sqrt(d_k) * orthonormal.T))  # word -> (d_k,)
tokens = ["the", "cat", "sat", "on", "the", "mat"]
questions = ["who?", "did what?", "where?", "which 'the'?"]

K = np.stack([embedding[t] for t in tokens])  # (Tk=6, d_k=8)
V = rng.normal(size=(len(tokens), d_v))  # (Tk=6, d_v=4)
Q = 1.5 * np.stack([  # (Tq=4, d_k=8): one row per question
    embedding["cat"],
    embedding["sat"],
    (embedding["on"] + embedding["mat"]) / np.sqrt(2),
    embedding["the"],
])
output, weights = attention.numpy_scaled_dot_product_attention(Q, K, V)
print("Q", Q.shape, " K", K.shape, " V", V.shape)
print("weights", weights.shape, " row sums", weights.sum(axis=-1))
print("output ", output.shape)

# %% [markdown]
# Before computing anything large it helps to see the shapes as blocks. The figure draws
# each matrix of the example to scale, one square per entry.

# %% tags=["fold"]
ink = plt.rcParams["text.color"]  # the book's ink: the page's text colour


def block(ax, x, y, rows, cols, color, label):
    """Draw a rows x cols matrix, top-left corner at (x, y), labelled below."""
    ax.add_patch(Rectangle((x, y - rows), cols, rows, facecolor=color, alpha=0.35,
                           edgecolor=ink, linewidth=1.2))
    for r in range(1, rows):
        ax.plot([x, x + cols], [y - r, y - r], color=ink, lw=0.3, alpha=0.4)
    for c in range(1, cols):
        ax.plot([x + c, x + c], [y, y - rows], color=ink, lw=0.3, alpha=0.4)
    ax.text(x + cols / 2, y - rows - 0.5, label, ha="center", va="top")


def sign(ax, x, y, text):
    ax.text(x, y, text, ha="center", va="center", fontsize=14)


Tq, Tk = Q.shape[0], K.shape[0]

fig, ax = plt.subplots(figsize=(8, 5))
# Row 1, centered on the line y = 0: S = Q K^T / sqrt(d_k).
block(ax, 0, Tq / 2, Tq, d_k, COLORS[0], f"Q\n{Tq} × {d_k}")
sign(ax, d_k + 1, 0, "×")
block(ax, d_k + 2, d_k / 2, d_k, Tk, COLORS[1], f"Kᵀ\n{d_k} × {Tk}")
sign(ax, d_k + Tk + 3.5, 0, "=")
x_s = d_k + Tk + 5
block(ax, x_s, Tq / 2, Tq, Tk, COLORS[2], f"S = QKᵀ / √dₖ\n{Tq} × {Tk}")
# Row 2, centered on the line y = y2: O = softmax(S) V.
y2 = -(d_k / 2 + Tk / 2 + 3.5)
x_a = x_s - (Tk + d_v + 5)  # row 2 ends where row 1 ends
block(ax, x_a, y2 + Tq / 2, Tq, Tk, COLORS[2], f"A = softmax(S)\n{Tq} × {Tk}")
sign(ax, x_a + Tk + 1, y2, "×")
block(ax, x_a + Tk + 2, y2 + Tk / 2, Tk, d_v, COLORS[3], f"V\n{Tk} × {d_v}")
sign(ax, x_a + Tk + d_v + 3.5, y2, "=")
block(ax, x_s, y2 + Tq / 2, Tq, d_v, COLORS[4], f"O = AV\n{Tq} × {d_v}")
arrow = dict(arrowstyle="->", color=ink, lw=1)
ax.annotate("", xy=(x_a + Tk / 2, y2 + Tq / 2 + 0.3),  # from S down to A
            xytext=(x_s + Tk / 2, -Tq / 2 - 2.4), arrowprops=arrow)
ax.text(x_s - 0.5, -Tq / 2 - 4.7, "softmax of\neach row", ha="left", va="center")
ax.set(xlim=(-0.5, x_s + Tk + 0.5), ylim=(y2 - Tk / 2 - 2.4, d_k / 2 + 0.3))
ax.set_aspect("equal")
ax.axis("off")
plt.show()

# %% tags=["remove-input"]
Markdown(
    f"**Figure 6.1.** The shapes of version 3 for the example, one square per number. Top: "
    f"{Tq} queries of size {d_k} times the transposed keys give a {Tq} × {Tk} matrix of "
    f"scores, one row per query and one column per key; the inner size $d_k = {d_k}$ "
    f"disappears in the product. Bottom: the softmax of each row gives the weights, and the "
    f"weights times the {Tk} values of size {d_v} give one output of size {d_v} per query; "
    f"this time the inner size that disappears is the number of keys."
)

# %% [markdown]
# Now the weights themselves, drawn with `attention.plot_attention_weights`: one row per
# query, one column per key.

# %%
fig = attention.plot_attention_weights(
    weights, questions, tokens, annotate=True, cell_size=0.55
)
plt.show()

# %% tags=["remove-input"]
where = weights[2]
Markdown(
    f"**Figure 6.2.** The {Tq} × {Tk} weight matrix of the example. Each row sums to 1. "
    f"\"who?\" puts {weights[0, 1]:.2f} of its weight on *cat*, \"did what?\" "
    f"{weights[1, 2]:.2f} on *sat*, and \"where?\" splits between *on* ({where[3]:.2f}) and "
    f"*mat* ({where[5]:.2f}). Every other key keeps a small weight, never exactly 0 (at "
    f"least {weights.min():.3f} here): softmax gives every score a share. The last query "
    f"cannot tell the two *the*s apart: they have "
    f"the same key, so they get exactly the same weight ({weights[3, 0]:.3f} and "
    f"{weights[3, 4]:.3f}). Nothing in the computation knows where a key sits in the "
    f"sentence; keys that are equal are interchangeable."
)

# %% [markdown]
# ## One matrix product instead of a loop
#
# Version 2 already answers any number of queries if we call it once per query. Version 3
# must give the same numbers, only all at once. Here is the loop, written with the
# NumPy implementation, against one call with the whole query matrix:

# %%
rows = []
for i in range(Q.shape[0]):  # one query at a time, as version 2 would
    q_i = Q[i : i + 1]  # (1, d_k): query i, as a one-row matrix
    out_i, _ = attention.numpy_scaled_dot_product_attention(q_i, K, V)  # (1, d_v)
    rows.append(out_i)
output_loop = np.concatenate(rows)  # (Tq, d_v)
print(f"max |loop - matrix| = {np.abs(output_loop - output).max():.1e}")

# %% [markdown]
# The two agree to rounding error. They also do exactly the same arithmetic: every
# FLOP formula of `attention.fast.cost` grows in proportion to the number of queries, so the
# cost of $T_q$ queries at once is $T_q$ times the cost of one. The difference is in how
# fast the computer does it. A loop in Python pays a fixed overhead on every call (checks,
# dispatch, small allocations), and a matrix product of a single row cannot use the
# hardware well; one large product pays the overhead once and runs through an optimized
# kernel that keeps the numbers in cache. We time both with PyTorch on 256 queries and
# 256 keys of size 64, best of three runs.

# %% tags=["measured"]
T_time, d_time = 256, 64
Qt = torch.randn(T_time, d_time)  # (Tq, d_k)
Kt = torch.randn(T_time, d_time)  # (Tk, d_k)
Vt = torch.randn(T_time, d_time)  # (Tk, d_v)


def loop_over_queries():
    rows = [
        attention.scaled_dot_product_attention(Qt[i : i + 1], Kt, Vt)[0]
        for i in range(T_time)
    ]  # T_time outputs of shape (1, d_v)
    return torch.cat(rows)  # (Tq, d_v)


def all_queries_at_once():
    return attention.scaled_dot_product_attention(Qt, Kt, Vt)[0]  # (Tq, d_v)


def best_time(function, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


t_loop, t_matrix = best_time(loop_over_queries), best_time(all_queries_at_once)
print(f"loop over {T_time} queries: {1e3 * t_loop:7.2f} ms")
print(f"one matrix product:      {1e3 * t_matrix:7.2f} ms")
gap32 = (loop_over_queries() - all_queries_at_once()).abs().max().item()
print(f"max |loop - matrix| (float32): {gap32:.1e}")

# %% tags=["remove-input"]
one = dot_product_attention_cost(1, T_time, d_time, d_time, scaled=True)
many = dot_product_attention_cost(T_time, T_time, d_time, d_time, scaled=True)
Markdown(
    f"On the machine that built this page the matrix version was about "
    f"{t_loop / t_matrix:.0f} times faster (the exact factor depends on the machine). The "
    f"work is identical: {one.total:,} FLOPs per query, {many.total:,} for all {T_time}, "
    f"exactly {many.total // one.total} times as much. In float32 the two results differ "
    f"in the last digits only, because the sums inside the products are added up in a "
    f"different order. On a GPU the gap grows further: thousands of arithmetic units need "
    f"one large product to keep them busy."
)

# %% [markdown]
# ## Batches
#
# A model rarely handles one sequence at a time either. A batch of sequences adds a
# leading dimension: queries of shape `(batch, Tq, d_k)`, keys `(batch, Tk, d_k)`, values
# `(batch, Tk, d_v)`. Nothing needs rewriting, because `@` (NumPy's `np.matmul`, PyTorch's
# `torch.matmul`) already handles it: on arrays with more than two dimensions it treats
# the last two as matrices and every dimension in front as a batch dimension, and
# multiplies matching matrices pairwise. In the code, the keys are transposed with
# `swapaxes(-2, -1)` (`transpose(-2, -1)` in PyTorch), which swaps the last two
# dimensions only, whatever stands in front.

# %%
Qb = torch.randn(2, 3, 8)  # (batch, Tq, d_k)
Kb = torch.randn(2, 5, 8)  # (batch, Tk, d_k)
Vb = torch.randn(2, 5, 4)  # (batch, Tk, d_v)
out_b, w_b = attention.scaled_dot_product_attention(Qb, Kb, Vb)
print("output", tuple(out_b.shape), " weights", tuple(w_b.shape))
for b in range(2):  # each sequence of the batch on its own gives the same result
    out_one, _ = attention.scaled_dot_product_attention(Qb[b], Kb[b], Vb[b])
    diff = (out_b[b] - out_one).abs().max().item()
    print(f"sequence {b}: max |batched - alone| = {diff:.1e} (float32 rounding)")

# %% [markdown]
# The batch dimensions do not have to match exactly: they *broadcast*, with NumPy's
# rules. Line the shapes up from the right; two sizes are compatible if they are equal or
# one of them is 1 (or missing), and the result takes the larger size. Two uses come up
# all the time. **One key set shared by several query sets**: keys of shape `(Tk, d_k)`,
# with no batch dimension, serve queries of shape `(4, Tq, d_k)`. **Extra batch
# dimensions**: multi-head attention ([Chapter 10](10_multi_head_attention.py)) works on
# tensors of shape `(batch, heads, T, d)`, and a mask or a key set with size 1 in the
# heads dimension is shared by all heads.

# %%
Q_sets = torch.randn(4, 3, 8)  # (sets, Tq, d_k): four sets of queries
K_shared = torch.randn(5, 8)  # (Tk, d_k): one set of keys for all of them
V_shared = torch.randn(5, 4)  # (Tk, d_v)
out_s, w_s = attention.scaled_dot_product_attention(Q_sets, K_shared, V_shared)
print("shared keys:  output", tuple(out_s.shape), " weights", tuple(w_s.shape))

Q_heads = torch.randn(2, 4, 3, 8)  # (batch, heads, Tq, d_k)
K_heads = torch.randn(2, 1, 5, 8)  # (batch, 1, Tk, d_k): shared by the 4 heads
V_heads = torch.randn(2, 4, 5, 6)  # (batch, heads, Tk, d_v)
out_h, w_h = attention.scaled_dot_product_attention(Q_heads, K_heads, V_heads)
print("heads:        output", tuple(out_h.shape), " weights", tuple(w_h.shape))
# What matmul does underneath, in PyTorch and in NumPy:
print("torch: (2, 4, 3, 8) @ (2, 1, 8, 5) ->",
      tuple((Q_heads @ K_heads.transpose(-2, -1)).shape))
print("numpy: (4, 3, 8) @ (8, 5) ->", (Q_sets.numpy() @ K_shared.numpy().T).shape)

# %% [markdown]
# ## The shape rules
#
# Everything above fits in one table. The middle column is the rule, the right one the
# "heads" example just computed.

# %% tags=["remove-input"]
def shape(t) -> str:
    return "(" + ", ".join(str(n) for n in t.shape) + ")"


Markdown(
    f"""
| tensor | shape | example |
| --- | --- | --- |
| query | `(..., Tq, d_k)` | `{shape(Q_heads)}` |
| key | `(..., Tk, d_k)` | `{shape(K_heads)}` |
| value | `(..., Tk, d_v)` | `{shape(V_heads)}` |
| weights | `(..., Tq, Tk)` | `{shape(w_h)}` |
| output | `(..., Tq, d_v)` | `{shape(out_h)}` |

- Query and key have the **same size** $d_k$: a dot product needs two vectors of equal
  length.
- Keys and values come in pairs: the **same count** $T_k$.
- The value size $d_v$ is **free**; it is the size of the output. So is the number of
  queries $T_q$: one output per query.
- The batch dimensions `...` **broadcast** against each other, as in `matmul`; the
  weights carry those of the query and the key, the output those of all three.
"""
)

# %% [markdown]
# These are the rules of [Chapter 2](02_queries_keys_values.py#shapes-a-worked-example)
# with batch dimensions added. The package checks all of them before it multiplies
# anything, in the NumPy and the PyTorch version alike, and its errors name the shapes
# involved. Here are two violations: keys of size 6 for queries of size 8, and five keys
# with four values.

# %%
query = torch.randn(2, 3, 8)  # (batch, Tq, d_k=8)
key_6 = torch.randn(2, 5, 6)  # (batch, Tk, 6): the wrong d_k
key = torch.randn(2, 5, 8)  # (batch, Tk=5, d_k)
value_4 = torch.randn(2, 4, 4)  # (batch, 4, d_v): four values for five keys
for key_, value_ in [(key_6, torch.randn(2, 5, 4)), (key, value_4)]:
    try:
        attention.scaled_dot_product_attention(query, key_, value_)
    except ValueError as error:
        print("ValueError:", error)

# %% [markdown]
# Plain `torch.matmul` fails on the first one too, but in the middle of the computation
# and in terms of its own arguments, not of queries and keys:

# %%
try:
    query @ key_6.transpose(-2, -1)  # (2, 3, 8) @ (2, 6, 5)
except RuntimeError as error:
    print("RuntimeError:", error)

# %% [markdown]
# What no shape check can catch is a computation with the right shapes and the wrong
# meaning. `Q @ K` instead of `Q @ K.T` runs without complaint whenever $T_k$ happens to
# equal $d_k$, and a softmax along the query axis instead of the key axis always runs,
# giving weights whose *columns* sum to 1. Comparing with an independent
# implementation, such as PyTorch's own in the next section, is how such bugs are found.
#
# ## NumPy and PyTorch, side by side
#
# The book has two implementations of the same function:
# `attention.numpy_scaled_dot_product_attention` for NumPy arrays and
# `attention.scaled_dot_product_attention` for PyTorch tensors. Here is the body of each,
# read from the package (the docstrings and the type hints are left out):

# %%
def body_of(function) -> str:
    """A function's code after its docstring, under a one-line signature."""
    source = inspect.getsource(function)
    definition = ast.parse(source).body[0]
    lines = source.splitlines()
    body = lines[definition.body[1].lineno - 1 :]  # after the docstring
    signature = inspect.signature(function)  # without the type hints:
    bare = [p.replace(annotation=p.empty)
            for p in signature.parameters.values()]
    signature = signature.replace(parameters=bare,
                                  return_annotation=signature.empty)
    return "\n".join([f"def {function.__name__}{signature}:"] + body)


print(body_of(attention.numpy_scaled_dot_product_attention))
print()
print(body_of(attention.scaled_dot_product_attention))

# %% [markdown]
# The three lines that do the work are the same in both: the scores (the queries times
# the scale, times the transposed keys), a masked softmax along the last dimension, and
# the product with the values. The differences are around them:
#
# - **Transposing the keys.** NumPy's `np.swapaxes(key, -2, -1)` and PyTorch's
#   `key.transpose(-2, -1)` both swap the last two dimensions only. (NumPy versions in
#   circulation often write `K.transpose(0, 2, 1)`, which works for three dimensions and for no
#   other number; the version here accepts any number of batch dimensions.)
# - **Input checks.** The NumPy version accepts anything array-like and turns integers
#   into floats; the PyTorch version insists on floating-point tensors of one dtype, since
#   PyTorch would otherwise fail later, in the middle of the computation. Both call the
#   same shape checks, from `attention.validation`, so they raise the same errors.
# - **Dropout.** Only the PyTorch version takes a `dropout` module for the weights: it is
#   a training-time regularizer, and training happens in PyTorch.
# - **Masks.** Both take an optional boolean mask, where True means "may attend".
#   [Chapter 9](09_masks.py) is about masks; some widely copied code uses the opposite
#   convention, True for "masked", and that chapter shows how to convert.
#
# Do they compute the same numbers? We run both on the same random float64 inputs with
# two batch dimensions, and compare the PyTorch version with PyTorch's own fused
# `torch.nn.functional.scaled_dot_product_attention` as well, which uses the same
# default scale $1/\sqrt{d_k}$ but returns only the output.

# %%
q64 = rng.normal(size=(2, 4, 5, 16))  # (batch, heads, Tq, d_k)
k64 = rng.normal(size=(2, 4, 7, 16))  # (batch, heads, Tk, d_k)
v64 = rng.normal(size=(2, 4, 7, 3))  # (batch, heads, Tk, d_v)
out_np, w_np = attention.numpy_scaled_dot_product_attention(q64, k64, v64)
q_t, k_t, v_t = (torch.from_numpy(a) for a in (q64, k64, v64))
out_pt, w_pt = attention.scaled_dot_product_attention(q_t, k_t, v_t)
out_fused = F.scaled_dot_product_attention(q_t, k_t, v_t)
print("output", out_np.shape, " weights", w_np.shape)
differences = {
    "numpy - torch|, output ": np.abs(out_np - out_pt.numpy()).max(),
    "numpy - torch|, weights": np.abs(w_np - w_pt.numpy()).max(),
    "torch - F.sdpa|, output": (out_pt - out_fused).abs().max().item(),
}
for name, difference in differences.items():
    print(f"max |{name}: {difference:.1e}")

gaps = {}
for dtype in (torch.float32, torch.float64):  # and the same on the word example
    args = [torch.as_tensor(a, dtype=dtype) for a in (Q, K, V)]
    ours, _ = attention.scaled_dot_product_attention(*args)
    fused = F.scaled_dot_product_attention(*args)
    gaps[dtype] = (ours - fused).abs().max().item()
    print(f"words, {dtype}: max |ours - F.sdpa| = {gaps[dtype]:.1e}")

# %% tags=["remove-input"]
gap64 = max(np.abs(out_np - out_pt.numpy()).max(), np.abs(w_np - w_pt.numpy()).max(), gaps[torch.float64])
Markdown(
    f"The differences are rounding errors: at most {gap64:.1e} in float64 and "
    f"{gaps[torch.float32]:.1e} in float32, against the spacing of numbers near 1 of "
    f"{torch.finfo(torch.float64).eps:.1e} and {torch.finfo(torch.float32).eps:.1e} in the two "
    f"types."
)

# %% [markdown]
# PyTorch's fused function is what a
# model would call in practice: it can pick a memory-efficient kernel that never stores
# the whole $T_q \times T_k$ weight matrix. The book's versions return the weights,
# because the weights are what the chapters look at.
#
# ## Summary
#
# - Version 3 stacks $T_q$ queries into a matrix:
#   $O = \operatorname{softmax}(Q K^\top / \sqrt{d_k})\, V$, with scores and weights of
#   shape $T_q \times T_k$, a softmax along each row, and outputs of shape
#   $T_q \times d_v$. Row $i$ is exactly version 2 for query $i$.
# - A loop over the queries gives the same numbers with the same FLOPs, but one matrix
#   product is much faster, because it pays the per-call overhead once and uses the
#   hardware fully.
# - Leading batch dimensions come for free: `matmul` multiplies the last two dimensions
#   and broadcasts the rest, which lets one key set serve many query sets and gives
#   multi-head attention its `(batch, heads, T, d)` layout.
# - Shapes: query `(..., Tq, d_k)`, key `(..., Tk, d_k)`, value `(..., Tk, d_v)`, weights
#   `(..., Tq, Tk)`, output `(..., Tq, d_v)`; the package checks the rules and names the
#   shapes when one is broken.
# - The NumPy and PyTorch implementations agree with each other and with
#   `torch.nn.functional.scaled_dot_product_attention` to rounding error.
#
# ## Exercises
#
# 1. **Predict the shapes.** Queries of shape `(2, 1, 3, 8)`, keys `(4, 5, 8)` and values
#    `(4, 5, 2)`: what are the shapes of the weights and the output? Check with both
#    implementations. Then change the keys to `(3, 5, 8)` and explain the error.

# %% tags=["solution"]
# Exercise 1: the batch dims (2, 1) and (4,) broadcast to (2, 4), so the
# weights are (2, 4, 3, 5) and the output (2, 4, 3, 2).
q1 = rng.normal(size=(2, 1, 3, 8))
k1 = rng.normal(size=(4, 5, 8))
v1 = rng.normal(size=(4, 5, 2))
out1, w1 = attention.numpy_scaled_dot_product_attention(q1, k1, v1)
out1_t, w1_t = attention.scaled_dot_product_attention(
    *(torch.from_numpy(a) for a in (q1, k1, v1))
)
print("numpy: weights", w1.shape, " output", out1.shape)
print("torch: weights", tuple(w1_t.shape), " output", tuple(out1_t.shape))
# With keys (3, 5, 8), the batch dims (2, 1) and (3,) would broadcast to
# (2, 3), but the values' (4,) fits neither.
k1_bad = rng.normal(size=(3, 5, 8))
try:
    attention.numpy_scaled_dot_product_attention(q1, k1_bad, v1)
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# 2. **Order.** Show numerically that permuting the rows of $Q$ permutes the rows of the
#    output in the same way, and that permuting the rows of $K$ and $V$ together leaves
#    the output unchanged. What does the second fact say about word order?

# %% tags=["solution"]
# Exercise 2: each output row depends only on its own query (so permuting
# the queries permutes the outputs), and a weighted sum over the keys does
# not depend on their order.
perm_q = rng.permutation(Q.shape[0])
perm_k = rng.permutation(K.shape[0])
out_pq, _ = attention.numpy_scaled_dot_product_attention(Q[perm_q], K, V)
out_pk, _ = attention.numpy_scaled_dot_product_attention(Q, K[perm_k], V[perm_k])
print(f"queries permuted: max gap = {np.abs(output[perm_q] - out_pq).max():.1e}")
print(f"keys permuted:    max gap = {np.abs(output - out_pk).max():.1e}")
# Attention treats the keys as a set: shuffle the words of a sentence and
# every output stays the same. Models that care about word order must put
# position information into the vectors themselves.

# %% [markdown]
# 3. **einsum.** Write version 3 for `(batch, heads, T, d)` arrays with `np.einsum`,
#    without `@`, and compare it with `attention.numpy_scaled_dot_product_attention`.

# %% tags=["solution"]
# Exercise 3: the two products as sums over named indices.
def einsum_attention(q, k, v):
    scores = np.einsum("bhqd,bhkd->bhqk", q, k)  # (batch, heads, Tq, Tk)
    w = attention.softmax(scores / np.sqrt(q.shape[-1]), axis=-1)  # same shape
    return np.einsum("bhqk,bhkv->bhqv", w, v)  # (batch, heads, Tq, d_v)


gap = np.abs(einsum_attention(q64, k64, v64) - out_np).max()
print(f"max |einsum - package| = {gap:.1e}")

# %% [markdown]
# 4. **Memory.** The weights have $T_q \times T_k$ entries per head and per sequence.
#    How many bytes do they take in float32 for a batch of 8 sequences of 4096 tokens
#    attending to themselves, with 16 heads?

# %% tags=["solution"]
# Exercise 4: 8 sequences x 16 heads x 4096 x 4096 weights x 4 bytes each.
n_bytes = 8 * 16 * 4096 * 4096 * 4
print(f"{n_bytes:,} bytes = {n_bytes / 2**30:.0f} GiB, for one layer")
# The weight matrix grows with the square of the sequence length, which is
# why fused kernels (like those behind F.scaled_dot_product_attention) can
# compute attention without storing it.

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
# # Online softmax and FlashAttention
#
# Exact attention does not need the $T \times T$ matrix of weights, whose memory
# grows with the square of the sequence length, as
# [Chapter 15](15_what_attention_costs.py) measured. This chapter shows how to get rid
# of it without approximating anything. It starts with the
# softmax itself: the *online softmax* of
# [Milakov and Gimelshein (2018)](../reference/references.md#milakov2018) finds the
# maximum and the normaliser of a row in one pass, and partial results for pieces of a
# row can be merged in any order. Carried over to attention, the same rescaling lets us
# compute the output one block of keys at a time, which is the idea of FlashAttention
# ([Dao et al., 2022](../reference/references.md#dao2022);
# [Dao, 2023](../reference/references.md#dao2023)). We follow the package's
# `attention.tiled_attention`, a plain-PyTorch version with the loop order of
# FlashAttention-2, check that it equals exact attention, see how its backward pass
# recomputes the weights instead of storing them so that training memory grows only
# linearly in $T$, and measure memory and time. Saving memory does not by itself
# save time: our loop in plain PyTorch pays an overhead for every tile. Explaining why a fused kernel is
# nevertheless fast is explaining what FlashAttention is really about, memory
# traffic.

# %%
import math
import os
import platform

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from torch.overrides import TorchFunctionMode

import attention
from attention import online_softmax, tiled_attention
from attention.book.measure import median_times, peak_memory
from attention.fast.cost import dot_product_attention_cost, matmul_flops
from attention.fast.online_softmax import merge_softmax_states, online_softmax_step
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # one thread: steadier timings on a shared machine
torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## The matrix we would rather not store
#
# Attention computes, for every query $i$, scores $s_{ij} = q_i \cdot k_j / \sqrt{d}$
# against every key $j$, turns each row of scores into weights with a softmax, and
# averages the values with those weights:
#
# $$
# o_i = \sum_{j=1}^{T} A_{ij}\, v_j, \qquad
# A_{ij} = \frac{e^{s_{ij}}}{\sum_{j'} e^{s_{ij'}}} .
# $$
#
# The package's `scaled_dot_product_attention`, the explicit version, writes this as
# three steps on whole matrices: the scores $S = Q K^\top / \sqrt{d}$, the weights
# $A = \operatorname{softmax}(S)$ row by row, the output $O = A V$. $S$ and $A$ are
# $T \times T$, the inputs and the output only $T \times d$.

# %% tags=["remove-input"]
long_T, heads_demo, d_demo = 32_768, 32, 128
per_head = long_T**2 * 4
Markdown(
    f"For one head and a sequence of {long_T:,} tokens, $A$ in float32 takes "
    f"{per_head / 2**30:.0f} GiB, while $Q$, $K$, $V$ and $O$ with $d = {d_demo}$ take "
    f"{4 * long_T * d_demo * 4 / 2**20:.0f} MiB together. A layer with {heads_demo} heads "
    f"would need {heads_demo * per_head / 2**30:.0f} GiB for its weights alone. Yet every "
    f"row of $A$ is used exactly once, to average the values for one query, and then "
    f"thrown away. If the output could be built up while the row is being computed, a "
    f"piece at a time, the matrix would never have to exist. The obstacle is the "
    f"softmax: its denominator needs the whole row before any weight is known."
)

# %% [markdown]
# ## Softmax reads its input three times
#
# [Chapter 1](01_softmax.py#computing-softmax-without-overflow) computed the softmax
# safely by subtracting the largest score first. For a row $z_1, \dots, z_n$ that
# takes three passes over the row, each needing the result of the one before:
#
# 1. the maximum, $m = \max_j z_j$;
# 2. the normaliser, $\ell = \sum_j e^{z_j - m}$;
# 3. the weights, $\alpha_i = e^{z_i - m} / \ell$.
#
# In attention, the row is a row of scores, and every pass over it means either
# keeping the row in memory or computing it again. Passes 1 and 2 are the problem:
# pass 2 cannot start until pass 1 has seen every entry.
#
# ## One pass: the online softmax
#
# Suppose we have read the first $j - 1$ entries and kept two numbers: their maximum
# $m_{j-1}$ and the sum $\ell_{j-1} = \sum_{i < j} e^{z_i - m_{j-1}}$, taken relative to
# *that* maximum. Entry $z_j$ arrives. The new maximum is
# $m_j = \max(m_{j-1}, z_j)$, and the old sum is relative to the wrong maximum; but
# multiplying it by $e^{m_{j-1} - m_j}$ moves it to the new one, because
# $e^{z_i - m_{j-1}} e^{m_{j-1} - m_j} = e^{z_i - m_j}$. So
#
# $$
# m_j = \max(m_{j-1}, z_j), \qquad
# \ell_j = \ell_{j-1}\, e^{m_{j-1} - m_j} + e^{z_j - m_j},
# $$
#
# starting from $m_0 = -\infty$ and $\ell_0 = 0$. After the last entry, $m_n$ and
# $\ell_n$ are exactly the $m$ and $\ell$ of passes 1 and 2, found in one pass. Every
# exponent is at most 0, so nothing overflows, as in the safe softmax; the correction
# factor $e^{m_{j-1} - m_j}$ is 1 when the maximum does not move and smaller than 1
# when it grows. Reading a block of entries at a time works the same way, with the
# block's largest entry in the max and its terms summed.
#
# `attention.fast.online_softmax.online_softmax_step` does one such step. Let us follow it
# along a short row, one entry at a time:

# %%
x = torch.tensor([1.0, 3.0, 2.0, 6.0, 5.0, 0.5], dtype=torch.float64)
m = torch.tensor([-math.inf], dtype=torch.float64)  # m_0
l = torch.zeros(1, dtype=torch.float64)  # l_0
corrections = []
print(" j   z_j   m_j   exp(m_(j-1) - m_j)   l_j")
for j, x_j in enumerate(x, start=1):
    m, l, correction, _ = online_softmax_step(m, l, x_j.reshape(1))
    corrections.append(correction.item())
    print(f"{j:2}  {x_j.item():4g}  {m.item():4g}  {correction.item():19.4f}"
          f"  {l.item():.4f}")
exact_l = torch.exp(x - x.max()).sum()
print(f"one pass:   m = {m.item():g}, l = {l.item():.12f}")
print(f"two passes: m = {x.max().item():g}, l = {exact_l.item():.12f}")

# %% tags=["remove-input"]
jumps = [j for j, c in enumerate(corrections, start=1) if 0 < c < 1]
Markdown(
    f"The correction is 0 at the first step (there is nothing to correct: "
    f"$e^{{-\\infty}} = 0$), 1 whenever the entry is not a new maximum, and below 1 at "
    f"steps {', '.join(map(str, jumps[:-1]))} and {jumps[-1]}, where the maximum grows "
    f"and the sum so far shrinks to the new scale. The final $\\ell$ agrees with the "
    + ("two-pass value exactly." if l.item() == exact_l.item() else
       f"two-pass value to {abs(l.item() - exact_l.item()):.0e}.")
)

# %% [markdown]
# A third pass, $\alpha_i = e^{z_i - m} / \ell$, still writes the weights; for attention we
# will see that even that pass can go. `attention.online_softmax` puts the two passes
# together (reading `block_size` entries per step). It should agree with
# `torch.softmax`, including on rows that would overflow a naive softmax and rows with
# masked (`-inf`) entries:

# %%
rows = torch.randn(200, 300)  # (rows, entries), float32
hidden = torch.rand(200, 300) < 0.5  # hide about half the entries
cases = {
    "standard normal": rows,
    "times 1000": rows * 1000,  # a naive exp would overflow
    "plus 10000": rows + 10_000,
    "half -inf": rows.masked_fill(hidden, -math.inf),
}
errors = {}
for name, case in cases.items():
    for block in (1, 64):
        mine = online_softmax(case, block_size=block)
        errors[name, block] = (mine - torch.softmax(case, -1)).abs().max()
        print(f"{name:16} block {block:2}: max |difference| = "
              f"{errors[name, block]:.1e}")

# %% tags=["remove-input"]
worst = max(e.item() for e in errors.values())
Markdown(
    f"The largest difference over all cases is {worst:.0e}, rounding error in float32 "
    f"(whose resolution near 1 is {torch.finfo(torch.float32).eps:.1e}). The rescaling "
    f"costs one extra exponential and multiplication per step; what it buys is that "
    f"the maximum and the sum no longer need two separate sweeps."
)

# %% [markdown]
# ## Merging partial results
#
# The state $(m, \ell)$ summarises any set of entries. Two states from two *disjoint*
# sets $\mathcal{A}$ and $\mathcal{B}$ combine by bringing both sums to the larger maximum:
#
# $$
# m = \max(m_{\mathcal{A}}, m_{\mathcal{B}}), \qquad
# \ell = \ell_{\mathcal{A}}\, e^{m_{\mathcal{A}} - m} + \ell_{\mathcal{B}}\, e^{m_{\mathcal{B}} - m}.
# $$
#
# The one-entry step above is the special case where $\mathcal{B}$ is a single entry with
# $m_{\mathcal{B}} = z_j$ and $\ell_{\mathcal{B}} = 1$. The merge is associative and commutative, like the sum
# and the maximum it is built from, so a row can be cut into pieces anywhere, the
# pieces summarised independently (on different cores, say) and the summaries merged
# in any grouping. `merge_softmax_states` does the merge:

# %%
x = torch.randn(12, dtype=torch.float64) * 3


def state(part: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(maximum, sum of exp(entry - maximum)) of a piece of a row."""
    top = part.max()
    return top, torch.exp(part - top).sum()


a, b, c = state(x[:5]), state(x[5:9]), state(x[9:])
groupings = {
    "(A B) C": merge_softmax_states(*merge_softmax_states(*a, *b), *c),
    "A (B C)": merge_softmax_states(*a, *merge_softmax_states(*b, *c)),
    "(C A) B": merge_softmax_states(*merge_softmax_states(*c, *a), *b),
    "whole row": state(x),
}
for name, (m, l) in groupings.items():
    print(f"{name:9}: m = {m.item():.6f}, l = {l.item():.15f}")

# %% [markdown]
# The same maximum and, up to the last digit or two of float64, the same sum, in
# every grouping. This is the property everything below rests on: a row of scores can
# be processed in blocks, in whatever order suits the hardware.
#
# ## Attention with a running output
#
# Now take one query and its row of scores $s_1, \dots, s_T$. We want
# $o = \sum_j e^{s_j - m} v_j / \ell$. Keep, next to $m$ and $\ell$, an *unnormalised*
# output $\tilde o$, the sum of $e^{s_j - m} v_j$ over the keys read so far. It is a sum
# relative to the current maximum, exactly like $\ell$, so it is corrected by the same
# factor when the maximum grows:
#
# $$
# \tilde o_j = \tilde o_{j-1}\, e^{m_{j-1} - m_j} + e^{s_j - m_j}\, v_j ,
# \qquad
# o = \frac{\tilde o_T}{\ell_T} .
# $$
#
# One division at the end, by the final $\ell$, turns the sum into the weighted
# average. No weight $\alpha_j$ is ever written down, so the third pass of the softmax is
# gone too: each score is computed, used for $m$, $\ell$ and $\tilde o$, and dropped.
#
# Doing this for one key at a time would be slow. With many queries and many keys,
# we take a block of $B_q$ queries and a block of $B_k$ keys at once: the scores of the
# block pair are a $B_q \times B_k$ *tile*, computed with one matrix product; the
# block's maxima update the $B_q$ running maxima; the tile of $e^{s - m}$ times the
# block of values updates the $B_q \times d$ accumulator. Here is the forward pass of
# `attention.tiled_attention`, read from the package: `tiled_forward` and the two small
# helpers it calls for the causal mask, `key_stop` and `score_tile`. Under a causal
# mask, `offset` is $T_k - T_q$ (query $i$ may see key $j$ when $j \le i +$ `offset`);
# without a mask it is `None`.

# %% tags=["remove-input"]
import inspect  # noqa: E402

import attention.fast.tiled_attention as tiled_module  # noqa: E402

import ast  # noqa: E402


def listing(function) -> str:
    """A function's source without its docstring, long lines' comments cut."""
    source = inspect.getsource(function)
    docstring = ast.parse(source).body[0].body[0]  # the first statement
    lines = source.splitlines()
    lines = lines[: docstring.lineno - 1] + lines[docstring.end_lineno :]
    for i, line in enumerate(lines):
        code = line.lstrip()
        if len(line) > 79 and "  #" in code and not code.startswith("#"):
            lines[i] = line[: line.rindex("  #")]  # keep the listing narrow
    return "\n".join(lines)


functions = (tiled_module.key_stop, tiled_module.score_tile, tiled_module.tiled_forward)
Markdown("```python\n" + "\n\n".join(listing(f) for f in functions) + "\n```")

# %% [markdown]
# The outer loop takes the queries one block at a time and starts each block with
# $m = -\infty$, $\ell = 0$, $\tilde o = 0$; the inner loop sweeps the key blocks, and
# under a causal mask it stops at `key_stop`, past which every key is in the future of
# every query of the block. `score_tile` computes a tile of scores and, only for a
# tile that straddles the diagonal, sets the scores of future keys to $-\infty$ (the
# lower triangle kept by `tril` is the keys $j \le i +$ `offset`, shifted by the tile's
# corner); `online_softmax_step` returns the correction and the tile's exponentials; after the
# last key block, the accumulator is divided by $\ell$ (guarded for a query that may
# see no key at all). Memory holds one tile of scores at a time, plus the running
# state of one query block: $B_q \times B_k + B_q (d + 2)$ numbers, whatever $T$ is.
# Besides the output, the loop keeps one number per query, the *log-sum-exp*
# $L = m + \log \ell$, for the backward pass below.
#
# ## Causal attention skips whole tiles
#
# With a causal mask, query $i$ sees only keys $j \le i$. A key block that lies
# entirely in the future of a query block contributes nothing, and the inner loop
# stops before it. Only the tiles that straddle the diagonal need the mask; tiles
# entirely below it are computed as they are. When there are fewer queries than keys,
# as when new tokens attend to a cached prefix, the queries are the *last* $T_q$
# positions (the lower-right alignment of `attention.causal_mask`), and the diagonal
# shifts right by $T_k - T_q$.

# %% tags=["remove-input"]
from matplotlib.patches import Patch  # noqa: E402


def tile_kinds(num_queries: int, num_keys: int, block: int):
    """Each causal tile as (q0, q1, k0, k1, kind): 'full', 'masked' or 'skipped'."""
    offset = num_keys - num_queries  # query i sees keys j <= i + offset
    tiles = []
    for q0 in range(0, num_queries, block):
        q1 = min(q0 + block, num_queries)
        for k0 in range(0, num_keys, block):
            k1 = min(k0 + block, num_keys)
            if k0 >= q1 + offset:
                kind = "skipped"  # every key is after every query of the block
            elif k1 - 1 > q0 + offset:
                kind = "masked"  # straddles the diagonal
            else:
                kind = "full"
            tiles.append((q0, q1, k0, k1, kind))
    return tiles


from matplotlib.colors import to_rgba  # noqa: E402

ink = plt.rcParams["axes.edgecolor"]
fills = {"full": to_rgba(COLORS[0], 0.55), "masked": to_rgba(COLORS[1], 0.55),
         "skipped": (0.0, 0.0, 0.0, 0.0)}
labels = {"full": "computed", "masked": "computed, masked", "skipped": "skipped"}
block_demo, cell = 128, 8  # one image pixel per 8 positions: blocks are multiples
panels = [(600, 600), (300, 600)]
fig, axes = plt.subplots(1, 2, figsize=(7.2, 4.0), layout="constrained")
for ax, (tq, tk) in zip(axes, panels):
    picture = np.zeros((tq // cell, tk // cell, 4))  # one pixel per 8 x 8 scores
    for q0, q1, k0, k1, kind in tile_kinds(tq, tk, block_demo):
        picture[q0 // cell:q1 // cell, k0 // cell:k1 // cell] = fills[kind]
    ax.imshow(picture, extent=(0, tk, tq, 0), interpolation="nearest")
    edges_k = [*range(0, tk, block_demo), tk]
    edges_q = [*range(0, tq, block_demo), tq]
    ax.vlines(edges_k, 0, tq, color=ink, linewidth=0.8, alpha=0.6)
    ax.hlines(edges_q, 0, tk, color=ink, linewidth=0.8, alpha=0.6)
    ax.plot([tk - tq, tk], [0, tq], color=COLORS[3], linewidth=1.5)
    ax.set(xlim=(0, tk), ylim=(tq, 0), xlabel="key position",
           ylabel="query position", title=f"$T_q$ = {tq}, $T_k$ = {tk}")
    ax.set_xticks(range(0, tk + 1, 200))
    ax.set_yticks(range(0, tq + 1, 100 if tq < tk else 200))
    ax.grid(False)
handles = [Patch(facecolor=fills[kind], edgecolor=ink, linewidth=0.8,
                 label=labels[kind]) for kind in fills]
fig.legend(handles=handles, loc="outside lower center", ncols=3)
plt.show()

# %% tags=["remove-input"]
tiles = tile_kinds(600, 600, block_demo)
count = {kind: sum(t[4] == kind for t in tiles) for kind in ("full", "masked", "skipped")}
computed_entries = sum((q1 - q0) * (k1 - k0) for q0, q1, k0, k1, kind in tiles if kind != "skipped")
needed = 600 * 601 // 2
Markdown(
    f"**Figure 16.1.** The tiles of causal attention with blocks of {block_demo}, one "
    f"rectangle per (query block, key block) pair; the line is the causal boundary, "
    f"keys to its right are in the queries' future. Left: $T_q = T_k = 600$, so the "
    f"last blocks are {600 % block_demo} long. Of the {len(tiles)} tiles, "
    f"{count['full']} are computed as they are, {count['masked']} on the diagonal need "
    f"the mask and {count['skipped']} are never computed. Right: {panels[1][0]} new "
    f"queries against {panels[1][1]} keys; the queries are the last "
    f"{panels[1][0]} positions, so they see most of the keys."
)

# %% tags=["remove-input"]
Markdown(
    f"Skipping tiles is where causal attention saves half its work. In the left panel, "
    f"the computed tiles hold {computed_entries:,} scores, against {needed:,} that the "
    f"mask allows and {600 * 600:,} in the full matrix: the waste is in the masked "
    f"tiles on the diagonal, and it shrinks with smaller blocks (an exercise counts "
    f"it)."
)

# %% [markdown]
# Is the result exact? The tiled output should equal the explicit one up to rounding,
# with and without the causal mask, in float32 and float64, when the last block is
# shorter than the others, and with fewer queries than keys:

# %%
def max_error(tq: int, tk: int, dtype: torch.dtype, causal: bool) -> float:
    """Largest |tiled - explicit| over a batch of 2 sequences and 4 heads."""
    q = torch.randn(2, 4, tq, 32, dtype=dtype)  # (batch, heads, Tq, d)
    k = torch.randn(2, 4, tk, 32, dtype=dtype)  # (batch, heads, Tk, d)
    v = torch.randn(2, 4, tk, 32, dtype=dtype)  # (batch, heads, Tk, d)
    mask = attention.causal_mask(tq, tk) if causal else None  # (Tq, Tk)
    expected, _ = attention.scaled_dot_product_attention(q, k, v, mask)
    got = tiled_attention(q, k, v, causal=causal, block_size=64)
    return (got - expected).abs().max().item()


exactness = {}
for tq, tk in [(300, 300), (200, 300)]:  # 300 = 4 blocks of 64 + 44
    for causal in (False, True):
        for dtype in (torch.float32, torch.float64):
            exactness[tq, tk, causal, dtype] = max_error(tq, tk, dtype, causal)
            print(f"Tq={tq}, Tk={tk}, causal={causal!s:5}, {str(dtype):13}: "
                  f"{exactness[tq, tk, causal, dtype]:.1e}")

# %% tags=["remove-input"]
worst32 = max(e for key, e in exactness.items() if key[3] == torch.float32)
worst64 = max(e for key, e in exactness.items() if key[3] == torch.float64)
Markdown(
    f"At most {worst32:.0e} in float32 and {worst64:.0e} in float64: the two compute "
    f"the same numbers in a different order, and the differences are the rounding of "
    f"each dtype. Tiled attention is exact attention, not an approximation of it."
)

# %% [markdown]
# Try it yourself: the loop, one tile at a time. `tiled_attention_steps` (in
# `attention.fast.tiled_steps`) runs the same loop on one sequence and returns its state
# after every tile: the running maximum $m$ and sum $\ell$ of every query row, and the
# rows of the output finished so far. The next cell runs it on 12 queries and 12 keys in
# blocks of 4, nine tiles, and checks the last state against the explicit attention; the
# figure under it shows the step the slider picks.

# %%
import altair as alt
from attention.book.interactive import interactive_figure
from attention.fast.tiled_steps import tiled_attention_steps

T_demo, B_demo = 12, 4
gen = torch.Generator().manual_seed(16)
q_demo, k_demo, v_demo = (torch.randn(T_demo, 4, generator=gen, dtype=torch.float64)
                          for _ in range(3))  # (T, d) each
steps = tiled_attention_steps(q_demo, k_demo, v_demo, block_size=B_demo)
exact_demo, _ = attention.scaled_dot_product_attention(q_demo, k_demo, v_demo)  # (T, d_v)
last_error = (steps[-1].output - exact_demo).abs().max().item()
print(f"{len(steps)} steps; last output vs explicit attention: {last_error:.1e}")

scores_demo = q_demo @ k_demo.T / 2  # (T, T): the scores, scale 1/sqrt(4), to draw
read_at = torch.zeros(T_demo, T_demo, dtype=torch.int64)  # the step that reads each score
for i, s in enumerate(steps, start=1):
    read_at[slice(*s.query_block), slice(*s.key_block)] = i
frames = []
for i, s in enumerate(steps, start=1):
    done = s.rows_done
    frames.append({
        "step": i,  # the slider's value picks this frame
        "tile": [*s.query_block, *s.key_block],
        "m": [None if math.isinf(a) else round(a, 2) for a in s.running_max.tolist()],
        "l": [None if a == 0 else round(a, 2) for a in s.running_sum.tolist()],
        "out": [round(a, 2) if r < done else None
                for r, row in enumerate(s.output.tolist()) for a in row],
        "readout": f"step {i} of {len(steps)}: rows {s.query_block[0]}-{s.query_block[1] - 1} × "
                   f"keys {s.key_block[0]}-{s.key_block[1] - 1} · {done} output rows done"
                   + (f" · max |output − exact| = {last_error:.0e}" if i == len(steps) else ""),
    })

# %% tags=["fold"]
slider = alt.param(name="step", value=5, bind=alt.binding_range(
    min=1, max=len(steps), step=1, name="step "))
picked = alt.Chart().transform_filter("datum.step == step")
y_row = alt.Y("row:Q", scale=alt.Scale(domain=[0, T_demo], reverse=True), title="query row",
              axis=alt.Axis(values=list(range(0, T_demo + 1, B_demo))))  # grid: the tiles
no_y = alt.Y("row:Q", scale=alt.Scale(domain=[0, T_demo], reverse=True), axis=None)
cells = alt.Chart(alt.Data(values=[{
    "cell": list(range(T_demo * T_demo)),
    "score": [round(a, 2) for a in scores_demo.flatten().tolist()],
    "read_at": read_at.flatten().tolist(),
}])).transform_flatten(["cell", "score", "read_at"]).transform_calculate(
    row=f"floor(datum.cell / {T_demo})", col=f"datum.cell % {T_demo}",
    row2="datum.row + 1", col2="datum.col + 1")
x_col = alt.X("col:Q", scale=alt.Scale(domain=[0, T_demo]), title="key",
              axis=alt.Axis(values=list(range(0, T_demo + 1, B_demo))))
read = cells.transform_filter("datum.read_at <= step").mark_rect().encode(
    x=x_col, x2="col2:Q", y=y_row, y2="row2:Q",
    color=alt.Color("score:Q", scale=alt.Scale(scheme="viridis"), legend=None),
    tooltip=["row:Q", "col:Q", "score:Q"])
current = picked.transform_calculate(q0="datum.tile[0]", q1="datum.tile[1]", k0="datum.tile[2]",
                                     k1="datum.tile[3]").mark_rect(
    fill=None, stroke=COLORS[1], strokeWidth=3).encode(x="k0:Q", x2="k1:Q", y="q0:Q", y2="q1:Q")
grid = alt.layer(read, current, title="scores read").properties(width=168, height=168)

rows = picked.transform_calculate(row=str([r + 0.5 for r in range(T_demo)])).transform_flatten(
    ["row", "m", "l"])
state = alt.layer(*[
    rows.transform_calculate(text=f"datum.{f} == null ? '–' : format(datum.{f}, '.2f')").mark_text(
        fontSize=10).encode(y=no_y, x=alt.value(x0), text="text:N")
    for f, x0 in (("m", 18), ("l", 56))
], title="m      ℓ").properties(width=74, height=168)
out_cells = picked.transform_calculate(cell=str(list(range(T_demo * 4)))).transform_flatten(
    ["cell", "out"]).transform_filter("datum.out != null").transform_calculate(
    row="floor(datum.cell / 4)", row2="datum.row + 1", col="datum.cell % 4", col2="datum.col + 1")
output_panel = out_cells.mark_rect().encode(
    x=alt.X("col:Q", scale=alt.Scale(domain=[0, 4]), title="d_v", axis=alt.Axis(values=[0, 4])),
    x2="col2:Q", y=no_y, y2="row2:Q",
    color=alt.Color("out:Q", scale=alt.Scale(scheme="viridis", domain=[-1.5, 1.5]), legend=None),
    tooltip=["row:Q", "col:Q", "out:Q"]).properties(width=56, height=168, title="output")
readout = picked.mark_text(align="left", x=0, y=8, fontSize=12).encode(
    text="readout:N").properties(width=330, height=16)
interactive_figure(
    alt.vconcat(readout, alt.hconcat(grid, state, output_panel, spacing=6),
                data=alt.Data(values=frames)).add_params(slider)
    .resolve_scale(color="independent")
    .properties(autosize=alt.AutoSizeParams(type="pad")),
    "Tiled attention after the step the slider picks: the tiles of scores read so far and "
    "the current one, the running maximum and sum of every query row, and the finished "
    "rows of the output.",
)

# %% [markdown]
# **Interactive figure 16.1.** Step through the nine tiles. The outlined square is the
# tile the step processes, the coloured cells every score read so far (the others are
# never stored together). The middle columns are each row's running maximum $m$ and sum
# $\ell$: they appear when a row's first tile is read, and change at each tile of the same
# row block, $\ell$ shrinking whenever a larger maximum rescales it. A block's four rows
# of output appear only after its last tile, when the accumulator is divided by $\ell$. At
# the last step every row is there, and the readout gives its largest difference from
# the explicit attention.

# %% [markdown]
# ## Training: recompute instead of store
#
# The forward pass is only half of training. To compute gradients, PyTorch's autograd
# keeps, for every operation, the tensors its backward rule will need. For the
# explicit version, the softmax's backward needs its output $A$, and so does the
# product $A V$. A `torch.autograd.graph.saved_tensors_hooks` context shows what is
# kept: its first function is called with every tensor autograd saves.

# %%
def saved_for_backward(fn) -> dict[int, tuple]:
    """What autograd keeps for the backward of fn(): {address: shape}."""
    saved = {}

    def keep(tensor):
        saved[tensor.untyped_storage().data_ptr()] = tuple(tensor.shape)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        fn()
    return saved


T_small, d_small = 1024, 64
q, k, v = (torch.randn(T_small, d_small, requires_grad=True) for _ in range(3))
explicit_saved = saved_for_backward(
    lambda: attention.scaled_dot_product_attention(q, k, v)
)
tiled_saved = saved_for_backward(lambda: tiled_attention(q, k, v))
for name, saved in [("explicit", explicit_saved), ("tiled", tiled_saved)]:
    floats = sum(math.prod(shape) for shape in saved.values())
    shapes = sorted(saved.values())
    print(f"{name:8} keeps {shapes}: {floats * 4 / 2**20:.2f} MiB")

# %% tags=["remove-input"]
explicit_mib = sum(math.prod(s) for s in explicit_saved.values()) * 4 / 2**20
tiled_mib = sum(math.prod(s) for s in tiled_saved.values()) * 4 / 2**20
Markdown(
    f"The explicit version keeps the $T \\times T$ weights (besides the scaled queries, "
    f"the keys and the values): {explicit_mib:.2f} MiB at $T = {T_small}$, a size that "
    f"quadruples every time $T$ doubles. `TiledAttentionFunction`, the "
    f"`torch.autograd.Function` behind `tiled_attention`, keeps the inputs, the output "
    f"and the log-sum-exp $L$, one number per query: {tiled_mib:.2f} MiB, all of it "
    f"linear in $T$. Its backward rebuilds each tile of weights when it needs it."
)

# %% [markdown]
# How can the backward do without $A$? Write $dO$ for the gradient of the loss with
# respect to the output (what arrives from above), and likewise $dA$, $dS$, $dV$, and
# so on. From $O = A V$,
#
# $$
# dV = A^\top dO, \qquad dA = dO\, V^\top .
# $$
#
# Through the softmax of each row, with the Jacobian
# $\operatorname{diag}(\alpha) - \alpha \alpha^\top$ of
# [Chapter 1](01_softmax.py#the-gradient-of-softmax),
#
# $$
# dS_{ij} = A_{ij} \Big( dA_{ij} - \sum_{j'} A_{ij'}\, dA_{ij'} \Big)
#         = A_{ij} \left( dA_{ij} - D_i \right),
# \qquad
# D_i = \sum_{j'} A_{ij'}\, (dO_i \cdot v_{j'}) = dO_i \cdot O_i ,
# $$
#
# and finally $dQ = dS\, K / \sqrt{d}$ and $dK = dS^\top Q / \sqrt{d}$. Every formula
# is local to a tile except the row sum in $D_i$, and the last step of its derivation
# removes that obstacle: $D_i$ is the dot product of two rows of $T \times d$ matrices,
# computed once before the loop. Each tile of $A$ comes back from the saved
# log-sum-exp as $A_{ij} = e^{s_{ij} - L_i}$, one matrix product and one exponential,
# without any maximum or sum. The backward loops over key blocks on the outside
# (each key block's $dK$ and $dV$ are finished in one sweep) and query blocks inside,
# adding each tile's share to $dQ$.
#
# The price is one extra matrix product, the recomputed $S = Q K^\top$:

# %% tags=["remove-input"]
product = matmul_flops(T_small, d_small, T_small)  # one T x d by d x T product
forward, standard_backward, recomputing_backward = 2, 4, 5
Markdown(
    f"the forward pass does 2 products of $2 T^2 d$ FLOPs each ($S$ and $A V$), the "
    f"standard backward {standard_backward} ($dV$, $dA$, $dQ$, $dK$), the recomputing "
    f"one {recomputing_backward}. A training step then costs "
    f"{(forward + recomputing_backward) / (forward + standard_backward):.2f} times the "
    f"matrix FLOPs (at $T = {T_small}$, $d = {d_small}$: "
    f"{(forward + recomputing_backward) * product / 1e9:.2f} against "
    f"{(forward + standard_backward) * product / 1e9:.2f} GFLOPs per head), in exchange "
    f"for never storing or reading back a $T \\times T$ matrix."
)

# %% [markdown]
# The gradients should match the explicit version's, which autograd derives on its
# own:

# %%
q, k, v, grad = torch.randn(4, 2, 300, 32, dtype=torch.float64).unbind(0)
gradients = {}
for name in ("explicit", "tiled"):
    inputs = [t.clone().requires_grad_() for t in (q, k, v)]
    if name == "explicit":
        mask = attention.causal_mask(300)
        out = attention.scaled_dot_product_attention(*inputs, mask)[0]
    else:
        out = tiled_attention(*inputs, causal=True, block_size=64)
    gradients[name] = torch.autograd.grad(out, inputs, grad)  # dQ, dK, dV
for label, mine, theirs in zip("QKV", *gradients.values()):
    difference = (mine - theirs).abs().max()
    print(f"d{label}: max |explicit - tiled| = {difference:.1e}")

# %% [markdown]
# ## Memory, measured
#
# Now the memory of a whole call. `attention.book.measure.peak_memory` records every
# allocation and release of PyTorch's CPU allocator while a function runs and returns
# the largest amount held at once. We measure it for one head ($d = 64$) at growing
# $T$, for the forward pass alone (under `torch.no_grad`, as in inference) and for a
# forward and backward pass (as in training), for three implementations: the
# explicit one, our tiled one, and PyTorch's fused kernel
# `torch.nn.functional.scaled_dot_product_attention`, which on the CPU is also a
# tiled algorithm with an online softmax, written in C++.

# %% tags=["measured"]
def explicit(q, k, v):
    return attention.scaled_dot_product_attention(q, k, v)[0]


def tiled(q, k, v):
    return tiled_attention(q, k, v, block_size=128)


methods = {"explicit": explicit, "tiled (ours)": tiled,
           "fused (PyTorch)": F.scaled_dot_product_attention}


def inference(attend, q, k, v):
    def run():
        with torch.no_grad():
            attend(q, k, v)
    return run


def training(attend, q, k, v, grad):
    def run():
        inputs = [t.detach().requires_grad_() for t in (q, k, v)]
        torch.autograd.grad(attend(*inputs), inputs, grad)
    return run


lengths = [256, 512, 1024, 2048]
memory = {(name, mode): [] for name in methods for mode in ("fwd", "fwd+bwd")}
for T in lengths:
    # each (batch, heads, T, d): the fused kernel wants 4 dimensions
    q, k, v, grad = torch.randn(4, 1, 1, T, 64).unbind(0)
    for name, attend in methods.items():
        memory[name, "fwd"].append(peak_memory(inference(attend, q, k, v)))
        memory[name, "fwd+bwd"].append(
            peak_memory(training(attend, q, k, v, grad)))

machine = (f"{platform.machine()}, {os.cpu_count()} logical CPUs, "
           f"{platform.system()}, torch {torch.__version__}, "
           f"{torch.get_num_threads()} thread")

# %% tags=["remove-input", "measured"]
plain = plt.FuncFormatter(lambda y, _: f"{y:g}")  # 0.5, 1, 10: not 10^0
guide = dict(color=plt.rcParams["axes.edgecolor"], alpha=0.5, linewidth=1,
             linestyle="--")
Ts = np.array(lengths)
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained",
                         sharey=True)
for ax, mode in zip(axes, ("fwd", "fwd+bwd")):
    for name in methods:
        ax.plot(Ts, np.array(memory[name, mode]) / 2**20, "o-", label=name)
    square = memory["explicit", mode][0] / 2**20 * (Ts / Ts[0]) ** 2
    linear = memory["tiled (ours)", mode][-1] / 2**20 * Ts / Ts[-1]
    ax.plot(Ts, square, **guide, label="slope 2: $\\propto T^2$")
    ax.plot(Ts, linear, **guide, dashes=(1, 2), label="slope 1: $\\propto T$")
    ax.set(xscale="log", yscale="log", xlabel="sequence length T",
           title="forward" if mode == "fwd" else "forward and backward")
    ax.set_xticks(lengths, [str(T) for T in lengths])
    ax.minorticks_off()
    ax.yaxis.set_major_formatter(plain)
axes[0].set_ylabel("peak memory, MiB (log scale)")
axes[0].legend()
plt.show()

# %% tags=["remove-input", "measured"]
ratio = {mode: memory["explicit", mode][-1] / memory["tiled (ours)", mode][-1]
         for mode in ("fwd", "fwd+bwd")}
growth = {(name, mode): memory[name, mode][-1] / memory[name, mode][-2]
          for name in methods for mode in ("fwd", "fwd+bwd")}
Markdown(
    f"**Figure 16.2.** Peak memory of one attention call for one head with $d = 64$, "
    f"forward only (left) and forward and backward (right), on logarithmic axes, "
    f"measured when this page was built ({machine}). On such axes a line of slope 2 "
    f"grows as $T^2$ and one of slope 1 as $T$ (the dashed guides). The explicit "
    f"version's line is steep: from $T = {lengths[-2]}$ to ${lengths[-1]}$ its peak grew "
    f"{growth['explicit', 'fwd']:.1f}-fold in the forward pass and "
    f"{growth['explicit', 'fwd+bwd']:.1f}-fold in training. Ours grew "
    f"{growth['tiled (ours)', 'fwd']:.1f}-fold and "
    f"{growth['tiled (ours)', 'fwd+bwd']:.1f}-fold: a few tiles of fixed size plus "
    f"tensors of size $T \\times d$, which double at most. At $T = {lengths[-1]}$ the "
    f"explicit version needed {ratio['fwd']:.0f} times as much memory as ours for the "
    f"forward pass and {ratio['fwd+bwd']:.0f} times as much for training. PyTorch's "
    f"fused kernel's peak grew {growth['fused (PyTorch)', 'fwd']:.1f}-fold and "
    f"{growth['fused (PyTorch)', 'fwd+bwd']:.1f}-fold over the same step."
)

# %% [markdown]
# The byte counts of a given PyTorch version are deterministic, but they may change
# from one version to the next; the growth rates do not.
#
# ## Time, measured: memory traffic
#
# Memory was the easy part. Time is where the plain-PyTorch loop shows its limits. We
# time the forward pass of the three versions, interleaved so that they share the
# machine's slow moments (`attention.book.measure.median_times` runs each function once
# per round and keeps each one's median). Like every measurement on this page, the
# times depend on the machine, the PyTorch version and what else the machine was
# doing while the page was built.

# %% tags=["measured"]
times = {name: [] for name in methods}
for T in lengths:
    q, k, v = torch.randn(3, 1, 1, T, 64).unbind(0)  # (batch, heads, T, d)
    runs = [inference(attend, q, k, v) for attend in methods.values()]
    for name, seconds in zip(methods, median_times(runs, repeats=5)):
        times[name].append(seconds)
    print(f"T = {T:4}: " + ", ".join(
        f"{name} {times[name][-1] * 1e3:.1f} ms" for name in methods))

# %% tags=["remove-input", "measured"]
fig, ax = plt.subplots(figsize=(5.2, 3.4), layout="constrained")
for name in methods:
    ax.plot(lengths, np.array(times[name]) * 1e3, "o-", label=name)
ax.set(xscale="log", yscale="log", xlabel="sequence length T",
       ylabel="forward time, ms (log scale)")
ax.set_xticks(lengths, [str(T) for T in lengths])
ax.minorticks_off()
ax.yaxis.set_major_formatter(plain)
ax.legend()
plt.show()

# %% tags=["remove-input", "measured"]
t_explicit, t_tiled, t_fused = (times[name][-1] for name in methods)


def compare(a: float, b: float) -> str:
    """'3.1 times slower than' or '1.4 times faster than' (a against b)."""
    if a >= b:
        return f"{a / b:.1f} times slower than"
    return f"{b / a:.1f} times faster than"


Markdown(
    f"**Figure 16.3.** Median time of one forward pass, one head, $d = 64$, measured "
    f"when this page was built, on the same machine. At $T = {lengths[-1]}$: explicit "
    f"{t_explicit * 1e3:.1f} ms, our tiled loop {t_tiled * 1e3:.1f} ms "
    f"({compare(t_tiled, t_explicit)} the explicit version), PyTorch's fused kernel "
    f"{t_fused * 1e3:.1f} ms ({compare(t_fused, t_explicit)} the explicit version)."
)

# %% [markdown]
# All three do the same matrix products, within a few per cent. So why the spread?
#
# **Our tiled loop pays for being Python.** Every line of the inner loop is a separate
# PyTorch call, and each call costs some microseconds of work that is not arithmetic:
# Python's interpreter, PyTorch's dispatcher, a new output tensor. A
# `torch.overrides.TorchFunctionMode` sees every call made through PyTorch's Python
# API, so it can count them:

# %%
class CountCalls(TorchFunctionMode):
    """Counts the PyTorch functions and methods called inside the context."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


q, k, v = torch.randn(3, 1, 1, lengths[-1], 64).unbind(0)  # (1, 1, T, d)
calls = {}
for name, attend in methods.items():
    with torch.no_grad(), CountCalls() as counter:
        attend(q, k, v)
    calls[name] = counter.calls
    print(f"{name:16} {calls[name]:5} PyTorch calls at T = {lengths[-1]}")

# %% tags=["remove-input"]
num_tiles = math.ceil(lengths[-1] / 128) ** 2
Markdown(
    f"At $T = {lengths[-1]}$ with blocks of 128 there are {num_tiles} tiles, and our "
    f"loop makes {calls['tiled (ours)']:,} calls, about "
    f"{calls['tiled (ours)'] / num_tiles:.0f} per tile, where the explicit version "
    f"makes {calls['explicit']} calls on whole matrices and the fused kernel one. Each "
    f"of our small matrix products is also too small to run at the speed of a large "
    f"one. A bigger block means fewer calls, but more memory per tile."
)

# %% [markdown]
# **The fused kernel saves memory traffic.** A processor computes much faster than it
# can fetch data from main memory, so an algorithm that touches every number only once
# or twice spends its time waiting for memory, not computing. The explicit version
# writes $S$ to memory, reads it back to compute the softmax, writes $A$, and reads
# $A$ back for the product with $V$: four trips through memory for each of the $T^2$
# numbers, against a handful for each of the $4 T d$ numbers of $Q$, $K$, $V$ and $O$.
# A fused kernel runs the whole tile loop in one compiled function. A tile of scores
# ($128 \times 128$ float32 numbers are 64 KiB) stays in a fast memory close to the
# processor, the *cache* of a CPU or the on-chip *SRAM* of a GPU, and is never written
# to main memory at all. What still travels is $Q$, read once, $K$ and $V$, read once
# per query block, and $O$, written once.
#
# We can count this traffic. The model below counts float32 numbers moved to and from
# main memory by one head's forward pass, ignoring caches of every kind except the
# tile's fast memory:

# %%
def bytes_moved(T: int, d: int, block: int | None = None) -> int:
    """Main-memory traffic of one head's forward pass, float32 (a model).

    block=None: explicit (Q, K read; S written, read; A written, read;
    V read; O written). Otherwise tiled with query blocks of `block`:
    Q read once, K and V once per query block, O written once.
    """
    if block is None:
        numbers = 4 * T * d + 4 * T * T
    else:
        numbers = 2 * T * d + 2 * T * d * math.ceil(T / block)
    return 4 * numbers


traffic = []
for T in [512, 2048, 8192, 32768]:
    flops = dot_product_attention_cost(T, T, 64, 64, scaled=True).total
    traffic.append((T, flops, bytes_moved(T, 64), bytes_moved(T, 64, 128)))

# %% tags=["remove-input"]
table = ("| $T$ | FLOPs | explicit: bytes (FLOPs per byte) "
         "| tiled: bytes (FLOPs per byte) |\n|---:|---:|---:|---:|\n")
table += "\n".join(
    f"| {T:,} | {fl:.2e} | {ex / 2**20:,.0f} MiB ({fl / ex:.0f}) "
    f"| {ti / 2**20:,.1f} MiB ({fl / ti:.0f}) |"
    for T, fl, ex, ti in traffic
)
Markdown(
    "**Table 16.1.** FLOPs (`attention.fast.cost.dot_product_attention_cost`) and "
    "main-memory traffic (the model `bytes_moved`) of one head's forward pass with "
    "$d = 64$, explicit and tiled with query blocks of 128, and the FLOPs per byte "
    "moved; the FLOPs are the same for "
    "both.\n\n" + table
)

# %% tags=["remove-input"]
T_last, fl_last, ex_last, ti_last = traffic[-1]
Markdown(
    f"Both kinds of traffic grow as $T^2$: the tiled version re-reads $K$ and $V$ once "
    f"for each of the $T / B_q$ query blocks, $2 T^2 d / B_q$ numbers, against "
    f"$4 T^2$ for the explicit version's trips with $S$ and $A$. The ratio of the "
    f"two tends to $2 B_q / d$, here {2 * 128 // 64} (at $T$ = {T_last:,}: "
    f"{ex_last / ti_last:.2f}), and it grows with the block size, that is with the "
    f"size of the fast memory; Dao et al. (2022) prove this kind of bound for "
    f"FlashAttention and show that no exact algorithm can do asymptotically better "
    f"for every size of fast memory. The FLOPs per byte are what decide the time: "
    f"the tiled version does about {fl_last / ti_last:.0f} FLOPs for every byte it "
    f"moves, the explicit one about {fl_last / ex_last:.0f}. The matrix units of a "
    f"current GPU can do a hundred FLOPs or more in the time it takes to move one "
    f"byte from its main memory (its HBM), so at {fl_last / ex_last:.0f} FLOPs per "
    f"byte the explicit version keeps its "
    f"arithmetic units mostly idle, waiting for memory; the more arithmetic per byte, "
    f"the closer a kernel gets to the hardware's peak. The same FLOPs, fewer bytes: "
    f"that is FlashAttention's point, and why it is faster, not only leaner, although "
    f"it does more arithmetic than the explicit version (the rescaling in the forward "
    f"pass, the recomputed $S$ in the backward pass)."
)

# %% tags=["remove-input", "measured"]
def l2_cache_bytes() -> int | None:
    """The L2 cache of CPU 0 in bytes, where Linux reports it."""
    base = "/sys/devices/system/cpu/cpu0/cache/"
    try:
        for index in sorted(os.listdir(base)):
            with open(f"{base}{index}/level") as level, open(f"{base}{index}/size") as size:
                if level.read().strip() == "2":
                    text = size.read().strip()
                    units = {"K": 2**10, "M": 2**20}
                    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
    except (OSError, ValueError):
        return None
    return None


matrix_bytes, tile_bytes = lengths[-1] ** 2 * 4, 128 * 128 * 4
l2 = l2_cache_bytes()
if l2:
    fits = "fits in it" if tile_bytes <= l2 else "does not fit in it either"
    cache_text = (f", {matrix_bytes / l2:.0f} times the {l2 // 2**10:,} KiB L2 cache of a "
                  f"core of this machine, while a tile of {tile_bytes // 2**10} KiB {fits}")
else:
    cache_text = f", while a tile is {tile_bytes // 2**10} KiB"
if t_fused < t_explicit:
    gpu = ("On a GPU, where the gap between on-chip and main memory is wider, fused "
           "kernels gain more.")
else:
    gpu = ("Here the explicit version's large matrix products made up for its traffic; "
           "on a GPU, where the gap between on-chip and main memory is wider, fused "
           "kernels are the faster ones.")
Markdown(
    f"On the CPU of this page's build the picture is the same in miniature. At "
    f"$T = {lengths[-1]}$ one head's $S$ is {matrix_bytes / 2**20:.0f} MiB{cache_text}. "
    f"PyTorch's fused CPU kernel was {compare(t_fused, t_explicit)} the explicit "
    f"version here. {gpu} Our tiled loop keeps its tiles in cache as well, but pays the "
    f"Python overhead above for each of them: it shows the algorithm and its memory, "
    f"and leaves the speed to a compiled kernel."
)

# %% [markdown]
# ## From FlashAttention to FlashAttention-2
#
# FlashAttention (Dao et al., 2022) put the tiling, the online softmax and the
# recomputing backward into one GPU kernel. Its loop ran over key blocks on the
# outside and query blocks on the inside, so the running output and statistics of
# every query block were read from and written back to GPU memory once per key block.
# FlashAttention-2 (Dao, 2023) made three changes, all visible in the package's loop:
#
# - **Queries outside, keys inside.** Each query block's state ($m$, $\ell$, $\tilde o$)
#   lives in fast memory for the whole inner loop and its output is written once.
#   Different query blocks are independent, so they can run in parallel on different
#   parts of the GPU, which matters when the batch and the number of heads are small
#   and the sequence long.
# - **Fewer operations that are not matrix products.** The accumulator stays
#   unnormalised until the end, one division per query instead of one per step, and
#   only $L = m + \log \ell$ is saved for the backward pass instead of $m$ and $\ell$.
#   On a GPU, matrix products run on special units many times faster than everything
#   else, so the other operations cost more than their FLOP count suggests.
# - **Better division of work inside a block** among the groups of threads (warps) of
#   the GPU, so that they need to exchange fewer partial results through shared
#   memory.
#
# The backward pass keeps the other order, keys outside, so that each key block's
# gradients are finished in one sweep, as in the package. An earlier paper,
# [Rabe and Staats (2021)](../reference/references.md#rabe2021), had shown the memory
# half of the result, exact attention without the $T \times T$ matrix, by processing
# keys in chunks with the same kind of rescaling.
#
# ## Summary
#
# - The softmax of a row needs its maximum and its normaliser. The **online softmax**
#   finds both in one pass: $m_j = \max(m_{j-1}, z_j)$,
#   $\ell_j = \ell_{j-1} e^{m_{j-1} - m_j} + e^{z_j - m_j}$. States of disjoint pieces
#   merge, in any order, by bringing both sums to the larger maximum.
# - The attention output is a sum relative to the current maximum too: keep an
#   unnormalised accumulator, rescale it by the same correction factor, divide by
#   $\ell$ once at the end. The weights are never stored.
# - `attention.tiled_attention` does this with $B \times B$ tiles, query blocks
#   outside and key blocks inside (FlashAttention-2's order), skipping the tiles a
#   causal mask rules out. It equals exact attention up to rounding.
# - Its `torch.autograd.Function` saves only the inputs, the output and the
#   log-sum-exp $L$, and rebuilds each tile of weights in the backward pass as
#   $e^{S - L}$, with $dS = A \odot (dA - D)$ and $D = \operatorname{rowsum}(dO \odot O)$.
#   Memory is linear in $T$ for training too, at the price of one extra matrix product.
# - Plain-PyTorch tiling is slow: thousands of small calls. A fused kernel keeps each
#   tile in fast memory and moves several times fewer bytes for the same FLOPs; that,
#   not fewer FLOPs, is why FlashAttention is fast.
#
# [Chapter 17](17_kv_cache_and_grouped_query_attention.py) turns to generation, where
# one new query at a time attends to a growing set of keys.
#
# ## Exercises
#
# 1. The state $(m, \ell)$ holds the same information as one number, the log-sum-exp
#    $L = m + \log \ell$. Show on random pieces of a row that merging two states is
#    `torch.logaddexp` of their $L$, and that merging all pieces gives
#    `torch.logsumexp` of the row.

# %% tags=["solution"]
# Exercise 1: merging states is logaddexp on L = m + log(l).
row = torch.randn(20, dtype=torch.float64) * 5
pieces = [row[:7], row[7:15], row[15:]]
states = [(p.max(), torch.exp(p - p.max()).sum()) for p in pieces]
m, l = states[0]
big_l = torch.log(l) + m  # L of the first piece
for m_next, l_next in states[1:]:
    m, l = merge_softmax_states(m, l, m_next, l_next)
    big_l = torch.logaddexp(big_l, m_next + torch.log(l_next))
print("merged states, m + log l:", (m + torch.log(l)).item())
print("logaddexp of the pieces: ", big_l.item())
print("torch.logsumexp(row):    ", torch.logsumexp(row, 0).item())

# %% [markdown]
# 2. For causal attention with $T = 4096$, count the tiles that are computed, masked
#    and skipped for block sizes 32 to 512, and the fraction of the computed scores
#    that the mask throws away. What does it tend to as the blocks shrink, and what
#    does the total number of tiles do?

# %% tags=["solution"]
# Exercise 2: tiles of causal attention at T = 4096, by block size.
T = 4096
for block in [32, 64, 128, 256, 512]:
    kinds = {"full": 0, "masked": 0, "skipped": 0}
    computed = 0
    for q0 in range(0, T, block):
        q1 = min(q0 + block, T)
        for k0 in range(0, T, block):
            k1 = min(k0 + block, T)
            if k0 >= q1:
                kinds["skipped"] += 1
                continue
            kinds["masked" if k1 - 1 > q0 else "full"] += 1
            computed += (q1 - q0) * (k1 - k0)
    wasted = 1 - (T * (T + 1) // 2) / computed
    print(f"block {block:3}: {kinds}, masked-out share of computed scores "
          f"{wasted:.3f}")
# The waste is about block / (T + block): it goes to 0 as blocks shrink, but
# the number of tiles, and with it the overhead per tile, grows as 1 / block^2.

# %% [markdown]
# 3. Check the gradient of `tiled_attention` with `torch.autograd.gradcheck` in
#    float64, causal, with 5 queries, 7 keys and blocks of 3, and confirm that
#    `TiledAttentionFunction` saves no tensor with a $T_q \times T_k$ shape.

# %% tags=["solution"]
# Exercise 3: gradcheck compares the backward with finite differences.
q = torch.randn(1, 5, 4, dtype=torch.float64, requires_grad=True)
k = torch.randn(1, 7, 4, dtype=torch.float64, requires_grad=True)
v = torch.randn(1, 7, 3, dtype=torch.float64, requires_grad=True)
print("gradcheck:", torch.autograd.gradcheck(
    lambda q, k, v: tiled_attention(q, k, v, causal=True, block_size=3),
    (q, k, v),
))
out = tiled_attention(q, k, v, causal=True, block_size=3)
print("grad_fn:", type(out.grad_fn).__name__)
print("saved:", [tuple(t.shape) for t in out.grad_fn.saved_tensors])

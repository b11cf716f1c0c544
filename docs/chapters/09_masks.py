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
# # Masks
#
# Every version of attention so far lets each query look at every key. Real models
# need to forbid some of those looks. When sentences of different lengths share a
# batch, the short ones are filled up with padding, and no query should attend to
# padding. When a decoder learns to predict the next word, position $i$ must not see
# the words after it. A *mask* says, for every query and key, whether the query may
# attend to that key. This chapter builds the two masks every Transformer uses,
# combines them, asks what number to put in place of a masked score (widely copied
# code disagrees, and some of its choices break in half precision), fixes one
# convention for what `True` means, converts the other conventions to it, and ends
# with dropout on the attention weights. Masks are not a new version of attention:
# they work with every version, from
# [additive attention](03_additive_attention.py) to the
# [self-attention of Chapter 8](08_self_attention.py) and the multi-head attention of
# the next chapter.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from matplotlib.patches import Patch
from torch import nn

import attention
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## One convention: True means "may attend"
#
# A mask $M$ has one entry per query–key pair, like the scores $s_{ij}$. In this book
# and in its package it is a boolean tensor in which **`True` means "query $i$ may
# attend to key $j$"**, the convention of PyTorch's
# `torch.nn.functional.scaled_dot_product_attention`. The masked softmax gives a
# forbidden key exactly zero weight and renormalizes over the allowed ones:
#
# $$
# \alpha_{ij} = \frac{M_{ij}\, e^{s_{ij}}}{\sum_{l} M_{il}\, e^{s_{il}}},
# \qquad M_{ij} \in \{0, 1\}.
# $$
#
# In code, this is a softmax after every forbidden score has been replaced by
# $-\infty$, since $e^{-\infty} = 0$. One case needs care: a query with *no* allowed
# key, where the formula reads $0/0$. The package defines its weights to be all zero
# (and its output, a sum with zero weights, to be the zero vector); a section below
# shows why that is better than what the usual recipes do.
#
# The mask does not need the full shape of the scores `(batch, queries, keys)`: it
# only needs to *broadcast* to it, as in NumPy. A mask that is the same for every
# query has a 1 in the queries dimension; a mask that is the same for every sequence
# of the batch has no batch dimension at all. Both kinds follow.
#
# ## Padding: batches of sequences of different lengths
#
# A batch is one tensor, so its sequences must have one length. Here are three
# sentences of 6, 3 and 2 tokens; the two short ones are padded to 6 with a `<pad>`
# token, and each token is looked up in a small table of random 8-dimensional
# embeddings.

# %%
sentences = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["a", "dog", "ran"],
    ["hi", "there"],
]
lengths = [len(s) for s in sentences]
max_len = max(lengths)
tokens = [s + ["<pad>"] * (max_len - len(s)) for s in sentences]
vocabulary = sorted({t for row in tokens for t in row})
embedding_table = torch.randn(len(vocabulary), 8)  # (vocabulary, d)
ids = torch.tensor([[vocabulary.index(t) for t in row] for row in tokens])
x = embedding_table[ids]  # (batch, T, d) = (3, 6, 8)

pad = attention.padding_mask(lengths, max_len)  # (batch, 1, T): True = real
print("x:", tuple(x.shape), " mask:", tuple(pad.shape), pad.dtype)
print(pad.long())

# %% [markdown]
# `attention.padding_mask(lengths, max_len)` compares the positions $0, 1, \dots$
# with each sequence's length. Its middle dimension of size 1 is the queries
# dimension: every query of a sequence sees the same keys, so the mask broadcasts
# over the queries. Drawn as a picture, with the token in each cell:

# %% tags=["fold"]
# Plotting glue: draw a boolean mask as filled (True) and empty (False) cells.
def draw_mask(ax, mask, xlabels=None, ylabels=None, texts=None):
    """A boolean matrix as filled (True) and empty (False) cells."""
    mask = np.asarray(mask, dtype=bool)
    rgba = np.zeros(mask.shape + (4,))
    rgba[mask] = plt.matplotlib.colors.to_rgba(COLORS[0], alpha=0.6)
    ax.imshow(rgba, aspect="equal")
    ax.grid(False)
    rows, cols = mask.shape
    ink = plt.rcParams["axes.edgecolor"]
    ax.hlines(np.arange(rows + 1) - 0.5, -0.5, cols - 0.5, color=ink, lw=0.5, alpha=0.3)
    ax.vlines(np.arange(cols + 1) - 0.5, -0.5, rows - 0.5, color=ink, lw=0.5, alpha=0.3)
    if texts is not None:
        for (i, j), _ in np.ndenumerate(mask):
            ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=8)
    ax.set_xticks(range(mask.shape[1]), xlabels)
    ax.set_yticks(range(mask.shape[0]), ylabels)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)


legend_cells = [Patch(color=COLORS[0], alpha=0.6, label="True: may attend"),
                Patch(fill=False, edgecolor=plt.rcParams["axes.edgecolor"],
                      alpha=0.4, label="False: masked")]

# %%
fig, ax = plt.subplots(figsize=(6.4, 1.9), layout="constrained")
draw_mask(ax, pad[:, 0, :], xlabels=range(max_len),
          ylabels=range(len(lengths)), texts=tokens)
ax.set_xlabel("key position")
ax.set_ylabel("sequence")
ax.legend(handles=legend_cells, loc="upper left", bbox_to_anchor=(1.01, 1.0))
plt.show()

# %% [markdown]
# **Figure 9.1.** The padding mask of the batch, one row per sequence (of lengths 6, 3
# and 2), the token of each position written in its cell. Filled cells are `True`: real tokens, which
# queries may attend to. The `<pad>` cells are `False`.
#
# Now self-attention over the padded batch, with the embeddings as queries, keys and
# values (no projections, to keep the example small), once with the mask and once
# without.

# %%
sdpa = attention.scaled_dot_product_attention  # a short name for this page
out, weights = sdpa(x, x, x, mask=pad)  # (3, 6, 8), (3, 6, 6)
out_nomask, _ = sdpa(x, x, x)

hidden = ~pad.expand_as(weights)  # (3, 6, 6): True where a key is padding
print("weights on padded keys, all exactly 0:",
      bool((weights[hidden] == 0).all()))
print('sequence 1, "a dog ran" + 3 pads (rows: queries, columns: keys):')
print(weights[1])
print("row sums:", weights[1].sum(dim=-1))

short = x[1:2, :3]  # (1, 3, d): sequence 1 without its padding
alone, _ = sdpa(short, short, short)

# %% tags=["remove-input"]
diff_masked = (out[1, :3] - alone[0]).abs().max().item()
diff_unmasked = (out_nomask[1, :3] - alone[0]).abs().max().item()
same_as_alone = ("exactly equal to" if diff_masked == 0
                 else f"within {diff_masked:.0e} (rounding error) of")
leak_nomask = attention.scaled_dot_product_attention(x, x, x)[1][1, :3, 3:].sum(-1).max().item()
Markdown(
    f"Every weight on a padded key is exactly 0, not merely small, and each row still "
    f"sums to 1 over the real keys. The test that matters is whether padding changes the "
    f"real tokens' outputs. Run sequence 1, \"a dog ran\", on its own, unpadded: its "
    f"outputs are {same_as_alone} those of the masked batch. Without the mask they differ "
    f"by up to {diff_unmasked:.2f}, because "
    f"its queries then spend up to {leak_nomask:.0%} of their weight on the three "
    f"`<pad>` positions. The mask makes padding invisible."
)

# %% [markdown]
# The padded *queries* (rows 3 to 5 of sequence 1) still attend to the real tokens
# and produce outputs. Nothing stops them, and nothing needs to: those outputs
# belong to positions that do not exist, and a model ignores them (the loss skips
# padded positions). A mask over keys is what keeps padding out of the real
# positions' outputs.

# %% [markdown]
# ## The causal mask
#
# A decoder generates a sentence one token at a time, each from the tokens before
# it. In training it sees the whole target sentence at once, so that all positions
# are trained in parallel, and without a mask position $i$ could simply read the token
# it is supposed to predict from position $i + 1$. The *causal* (or *subsequent*)
# mask forbids that: query $i$ may attend to key $j$ only if $j \le i$.
# `attention.causal_mask(T)` builds it, a lower-triangular `(T, T)` matrix:

# %%
causal = attention.causal_mask(5)  # (Tq, Tk) = (5, 5)
print(causal.long())

# %% [markdown]
# The widely copied `subsequent_mask` of the Annotated Transformer
# ([Rush, 2018](../reference/references.md#rush2018)) builds the same matrix the other way around, from the
# strictly upper triangle of ones (`np.triu(..., k=1)`, "the future"), keeping what
# is not in it. Tutorials that retell it often show the result with `imshow` and call
# the yellow cells, the ones, the masked positions; but the attention function they
# pair it with masks where the mask is 0, so the ones are the positions that are
# *kept*. The picture, read with the right convention, is this:

# %%
size = 8
fig, ax = plt.subplots(figsize=(3.6, 3.4), layout="constrained")
draw_mask(ax, attention.causal_mask(size),
          xlabels=range(size), ylabels=range(size))
ax.set_xlabel("key position")
ax.set_ylabel("query position")
plt.show()

# %% [markdown]
# **Figure 9.2.** The causal mask for 8 positions. Row $i$ is query $i$; the filled
# cells (`True`) are the keys it may attend to: itself and everything before it. Everything
# above the diagonal, the future, is masked. Query 0 sees only itself; query 7 sees
# all 8 positions.
#
# When there are fewer queries than keys, as when a model generates the next tokens
# after a prompt whose keys it has already computed, the queries are the *last*
# positions of the sequence. `causal_mask(num_queries, num_keys)` aligns the triangle
# to the lower right: the last query sees every key.

# %%
print(attention.causal_mask(2, 5).long())  # queries are positions 3 and 4 of 5

# %% [markdown]
# ## Combining masks
#
# A decoder reading a padded batch needs both masks: no future, and no padding. A
# key is allowed only if both masks allow it, so the masks combine with a logical
# *and*, `&`. Broadcasting does the rest: the padding mask `(batch, 1, T)` and the
# causal mask `(T, T)` give `(batch, T, T)`, one query-by-key mask per sequence.

# %%
both = pad & attention.causal_mask(max_len)  # (3, 1, 6) & (6, 6)
print("padding", tuple(pad.shape), "& causal", (max_len, max_len),
      "->", tuple(both.shape))
out_both, weights_both = sdpa(x, x, x, mask=both)  # weights: (3, 6, 6)

fig = attention.plot_attention_weights(
    weights_both, titles=[f"sequence {b}" for b in range(len(lengths))],
    columns=3, cell_size=0.28,
)
for ax in fig.axes[:3]:
    ax.set_xlabel("key position")
fig.axes[0].set_ylabel("query position")
plt.show()

# %% [markdown]
# **Figure 9.3.** Causal attention over the padded batch. In every sequence the
# weights form a lower triangle (no query looks ahead), and in the shorter sequences
# the columns of the padding are empty as well, for every query, the padded queries
# in the bottom rows included. Query 0 can only attend to itself, so its weight there
# is 1, the brightest cell of each panel.
#
# The combined mask never leaves a query with nothing to attend to here: key 0 is a
# real token and is in every query's past. Masks can, though, hide every key from a
# query: an empty sequence in a batch, a sliding window that falls into the padding,
# or, as a later section shows, a mask built the wrong way round. That case is where
# the fill value matters.
#
# ## What number goes in place of a masked score?
#
# Before the softmax, each masked score is replaced by a very negative number, so
# that its exponential is 0. Which number? The Annotated Transformer
# ([Rush, 2018](../reference/references.md#rush2018)) and much code derived from it use $-10^{9}$; other
# widely copied code uses $-10^{6}$ (the [*Dive into Deep Learning*](../reference/references.md#zhang2023)
# textbook) or
# $-9 \times 10^{15}$ (a popular graph-attention implementation); PyTorch's own
# functions mask with $-\infty$ inside, though, as a later cell shows, they do not all
# return what Table 9.2 predicts for $-\infty$.
# Another common choice is the most negative finite number of the dtype,
# `torch.finfo(dtype).min`. For a query with at least one allowed key they all give
# the masked keys weight 0. They differ in two ways: whether the number survives in
# the dtype of the scores, and what happens to a query whose keys are *all* masked.
# Models are often trained in 16-bit floats (`float16`, or `bfloat16`, which has
# float32's range with fewer digits), so we check three dtypes.

# %%
dtypes = [torch.float32, torch.float16, torch.bfloat16]
fills = {"-1e9": -1e9, "-1e6": -1e6, "-9e15": -9e15,
         "-inf": float("-inf"), "finfo.min": None}
scores4 = torch.tensor([2.0, 1.0, 0.5, -1.0])  # one query, four keys
every_key_masked = torch.zeros(4, dtype=torch.bool)


def stored_as(fill, dtype):
    """The fill value once it is a number of this dtype."""
    fill = torch.finfo(dtype).min if fill is None else fill
    return torch.tensor(fill, dtype=torch.float64).to(dtype).item()


def masked_fill_works(fill, dtype):
    fill = torch.finfo(dtype).min if fill is None else fill
    try:
        scores4.to(dtype).masked_fill(~every_key_masked, fill)
        return True
    except RuntimeError:  # "value cannot be converted to type c10::Half..."
        return False


def fully_masked_weights(fill, dtype):
    """softmax of a row of scores that are all masked (all `fill`)."""
    row = torch.full((4,), stored_as(fill, dtype), dtype=dtype)  # (keys,)
    return torch.softmax(row, dim=-1)


# A query that may see its first two keys: is every masked weight exactly 0?
keep_two = torch.tensor([True, True, False, False])
zero = all(
    torch.softmax(torch.where(keep_two, scores4.to(dt), stored_as(f, dt)), -1)
    [2:].eq(0).all()
    for dt in dtypes for f in fills.values()
)
print("two keys allowed, masked weights exactly 0 for every fill and dtype:",
      zero)


# %% tags=["remove-input"]
def describe_value(v):
    return "−inf" if v == float("-inf") else f"{v:.6g}".replace("-", "−")


def describe_weights(w):
    if torch.isnan(w).any():
        return "NaN"
    if torch.allclose(w, torch.full_like(w, w[0].item())) and w[0] > 0:
        return f"uniform, {w[0].item():g} each"
    return ", ".join(f"{v:g}" for v in w.tolist())


names = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}
header = "| fill value | " + " | ".join(names[d] for d in dtypes) + " |\n|---|" + "---|" * len(dtypes)
value_rows = []
for label, fill in fills.items():
    cells = []
    for dtype in dtypes:
        cell = describe_value(stored_as(fill, dtype))
        if not masked_fill_works(fill, dtype):
            cell += " (`masked_fill` raises)"
        cells.append(cell)
    value_rows.append(f"| `{label}` | " + " | ".join(cells) + " |")
Markdown(
    "**Table 9.1.** What each fill value becomes in each dtype.\n\n"
    + header + "\n" + "\n".join(value_rows)
)

# %% tags=["remove-input"]
weight_rows = []
for label, fill in fills.items():
    cells = [describe_weights(fully_masked_weights(fill, d)) for d in dtypes]
    weight_rows.append(f"| `{label}` | " + " | ".join(cells) + " |")
ours = [attention.masked_softmax(scores4.to(d), every_key_masked) for d in dtypes]
weight_rows.append("| `attention.masked_softmax` | "
                   + " | ".join(", ".join(f"{v:g}" for v in w.float().tolist()) for w in ours) + " |")
Markdown(
    "**Table 9.2.** The weights of a query whose four keys are all masked.\n\n"
    + header + "\n" + "\n".join(weight_rows)
)

# %% tags=["remove-input"]
f16 = torch.finfo(torch.float16)
Markdown(
    f"Table 9.1 shows the first problem. The largest float16 is {f16.max:g}, so "
    f"$-10^{{9}}$, $-10^{{6}}$ and $-9 \\times 10^{{15}}$ all round to $-\\infty$ in "
    f"float16, and PyTorch's `masked_fill` refuses to write them into a float16 tensor "
    f"at all (\"value cannot be converted to type c10::Half without overflow\"): code "
    f"that masks with `-1e9` stops working the day the model moves to half precision. "
    f"bfloat16 keeps them finite, though rounded: $-10^{{9}}$ is stored as "
    f"{stored_as(-1e9, torch.bfloat16):.0f}."
)

# %% [markdown]
# Table 9.2 shows the second, worse problem. When every key of a query is masked,
# every score in its row is the same fill value, and the softmax of equal numbers is
# uniform. With any *finite* fill, that query silently gives each masked key a
# quarter of its weight: it attends to padding, or to the future, as if there were
# no mask, and nothing in the output says so. With $-\infty$ the softmax computes
# $e^{-\infty - (-\infty)}$, which is NaN, and one NaN spreads through every later
# layer and into the gradients. The finite fills hide the problem; $-\infty$ turns it
# into a crash. In float16 the three large fills are no help either: the moment they
# reach a float16 tensor (by a cast, since `masked_fill` refuses them) they *are*
# $-\infty$, and a fully masked query gets NaN.
#
# What does PyTorch itself return for such a query? Its two attention functions do not
# agree. We give each the same query with no allowed key, next to a query that may
# see every key:

# %%
q_pt = torch.randn(1, 2, 4)  # (batch, Tq, d): two queries
k_pt = torch.randn(1, 3, 4)  # (batch, Tk, d): three keys, also the values
allowed = torch.tensor([[True, True, True],  # query 0 sees every key
                        [False, False, False]])  # query 1 sees none
fused = F.scaled_dot_product_attention(q_pt, k_pt, k_pt,
                                       attn_mask=allowed)
mha_pt = nn.MultiheadAttention(embed_dim=4, num_heads=1, batch_first=True)
masked = ~allowed  # nn.MultiheadAttention: True = masked
mha_default, _ = mha_pt(q_pt, k_pt, k_pt, attn_mask=masked)
mha_no_weights, _ = mha_pt(q_pt, k_pt, k_pt, attn_mask=masked,
                           need_weights=False)
results = {"F.scaled_dot_product_attention": fused,
           "nn.MultiheadAttention": mha_default,
           "nn.MultiheadAttention, need_weights=False": mha_no_weights}
for name, result in results.items():
    row = ", ".join(f"{v:.3f}" for v in result[0, 1].tolist())
    print(f"{name:<42} query 1: [{row}]")

# %% tags=["remove-input"]
def what(result):
    row = result[0, 1]
    if torch.isnan(row).all():
        return "NaN"
    return "zeros" if torch.equal(row, torch.zeros_like(row)) else "numbers"


Markdown(
    f"In torch {torch.__version__}, which built this page, "
    f"`F.scaled_dot_product_attention` returns **{what(fused)}** for the query that may "
    f"see no key, while `nn.MultiheadAttention` returns **{what(mha_default)}** for it "
    f"with its default `need_weights=True`, which computes the weights with a softmax "
    f"over $-\\infty$ scores as in Table 9.2. With `need_weights=False` the module "
    f"hands the work to the fused function and returns **{what(mha_no_weights)}**. So "
    f"the answer depends on the function, on an argument that seems to be about "
    f"something else, and on the version of PyTorch: code that may meet a fully masked "
    f"query should decide the answer itself."
)

# %% [markdown]
# ## A query with nothing to attend to
#
# The package decides what the answer should be: a query with no allowed key gets
# all-zero weights, so its output is the zero vector, and its gradient is zero rather
# than NaN. `attention.masked_softmax` fills masked scores with $-\infty$ (so that
# masked weights are exactly 0 whenever a row has an allowed key), and rows with no
# allowed key are set to zero before and after the softmax. The last row of Table 9.2
# is this function in all three dtypes. In attention:

# %%
q = torch.randn(3, 4, requires_grad=True)  # (Tq, d): 3 queries
k, v = torch.randn(5, 4), torch.randn(5, 2)  # (Tk, d), (Tk, d_v): 5 keys
mask = torch.tensor([[True, True, False, False, False],
                     [False, False, False, False, False],  # sees nothing
                     [True, True, True, True, True]])  # (Tq, Tk)
out_q, weights_q = attention.scaled_dot_product_attention(q, k, v, mask=mask)
out_q.sum().backward()
print("weights:\n", weights_q.detach())
print("output:\n", out_q.detach())
print("gradient of query 1:", q.grad[1])

# %% [markdown]
# Try it yourself. The next cell runs `attention.scaled_dot_product_attention` on
# batches of three sequences of random vectors, padded to 6 positions: the first always
# of length 6, the other two of every length from 0 to 6, without and with the causal
# mask. The sequences of a batch do not interact, so each one's weights depend only on
# its own length and the mask, and 14 batches give every combination; the code checks
# that on one. The figure under it shows the weights of the batch the controls pick.

# %%
import altair as alt
from attention.book.interactive import interactive_figure

x_batch = torch.randn(3, max_len, 8, generator=torch.Generator().manual_seed(9))  # (3, 6, d)


def batch_weights(length_1: int, length_2: int, use_causal: bool) -> torch.Tensor:
    """The weights (3, 6, 6) of self-attention over the batch, padded to lengths 6, length_1, length_2."""
    mask_b = attention.padding_mask([max_len, length_1, length_2], max_len)  # (3, 1, 6)
    if use_causal:
        mask_b = mask_b & attention.causal_mask(max_len)  # (3, 6, 6)
    return sdpa(x_batch, x_batch, x_batch, mask=mask_b)[1]


table = []  # one entry per (sequence, length, causal): its weights and row sums
for use_causal in (False, True):
    for length in range(max_len + 1):
        w_b = batch_weights(length, length, use_causal)  # (3, 6, 6)
        for b in (0, 1, 2) if length == max_len else (1, 2):
            table.append({
                "key": f"{b}:{length}:{str(use_causal).lower()}",  # e.g. "1:3:true"
                "w": [round(float(a), 2) for a in w_b[b].flatten()],
                "s": [round(float(a), 2) for a in w_b[b].sum(dim=-1)],  # 1, or 0 if no key
            })
print("sequence 1 alone decides its weights:",
      torch.equal(batch_weights(3, 0, True)[1], batch_weights(3, 6, True)[1]))

frames = []
for length_1 in range(max_len + 1):
    for length_2 in range(max_len + 1):
        for use_causal in (False, True):
            blind = int((batch_weights(length_1, length_2, use_causal).sum(-1) == 0).sum())
            frames.append({
                "length_1": length_1, "length_2": length_2,  # the controls' values
                "causal": use_causal,
                "readout": f"lengths 6, {length_1}, {length_2}{', causal' if use_causal else ''}"
                           f" · {blind} queries see no key",
            })

# %% tags=["fold"]
controls = [
    alt.param(name="length_1", value=3, bind=alt.binding_range(
        min=0, max=max_len, step=1, name="length of sequence 1 ")),
    alt.param(name="length_2", value=0, bind=alt.binding_range(
        min=0, max=max_len, step=1, name="length of sequence 2 ")),
    alt.param(name="causal", value=False, bind=alt.binding_checkbox(name="causal mask ")),
]
picked = alt.Chart().transform_filter(
    "datum.length_1 == length_1 && datum.length_2 == length_2 && datum.causal == causal")
axis_q = alt.Y("query:O", title="query position")


def panel(b: int) -> alt.LayerChart:
    """Sequence b's weights, and the sum of each row of them."""
    length = "6" if b == 0 else f"datum.length_{b}"
    entry = picked.transform_calculate(  # the `table` entry of sequence b: "1:3:true"
        entry=f"'{b}:' + {length} + ':' + datum.causal").transform_lookup(
        lookup="entry", from_=alt.LookupData(
        alt.NamedData(name="mask_table"), key="key", fields=["w", "s"]))
    heat = entry.transform_calculate(cell=str(list(range(max_len * max_len)))).transform_flatten(
        ["cell", "w"]).transform_calculate(
        query="floor(datum.cell / 6)", key="datum.cell % 6").mark_rect().encode(
        x=alt.X("key:O", title="key position", axis=alt.Axis(labelAngle=0)),
        y=axis_q if b == 0 else alt.Y("query:O", axis=None),
        color=alt.Color("w:Q", scale=alt.Scale(scheme="viridis", domain=[0, 1]),
                        title="weight", legend=alt.Legend(orient="bottom", direction="horizontal")),
        tooltip=["query:O", "key:O", alt.Tooltip("w:Q", title="weight")])
    sums = entry.transform_calculate(query=str(list(range(max_len)))).transform_flatten(
        ["query", "s"]).transform_calculate(label="'Σ ' + format(datum.s, '.0f')").mark_text(
        align="left", dx=4, fontSize=10).encode(
        y=axis_q if b == 0 else alt.Y("query:O", axis=None), x=alt.value(84), text="label:N",
        opacity=alt.condition("datum.s == 0", alt.value(1), alt.value(0.45)))
    return alt.layer(heat, sums, title=f"sequence {b}").properties(width=84, height=84)


readout = picked.mark_text(align="left", x=0, y=8, fontSize=13).encode(
    text="readout:N").properties(width=330, height=16)
interactive_figure(
    alt.vconcat(readout, alt.hconcat(*[panel(b) for b in range(3)], spacing=28),
                data=alt.Data(values=frames)).add_params(*controls)
    .properties(autosize=alt.AutoSizeParams(type="pad"), datasets={"mask_table": table}),
    "Attention weights of a padded batch of three sequences for the lengths and the causal "
    "mask the controls set; each row's sum is written to its right.",
)

# %% [markdown]
# **Interactive figure 9.1.** Set the lengths of sequences 1 and 2 and switch the causal
# mask on and off. Padded keys (columns at and after a sequence's length) get weight 0 in
# every row, and the causal mask empties the upper triangle. Set a length to 0: that
# sequence has no real key at all, each of its queries has nothing to attend to, and
# `masked_softmax` gives it all-zero weights, a dark row whose sum, on the right, reads
# Σ 0 instead of Σ 1.

# %% [markdown]
# Zero is a sensible answer for "I was allowed to look at nothing", and a zero
# output is easy to spot, unlike a plausible-looking average of padding.
#
# ## A mask that hides everything
#
# A demonstration found in tutorials that retell the Annotated Transformer runs its
# attention function on a batch of two sequences of four tokens with the mask
# `torch.zeros(2, 4, 4)`, and the function masks the scores where `mask == 0`. But every entry of that mask is 0, so
# *every* score is masked: each query is in the fully masked case of Table 9.2.
# Here it is in a few lines:

# %%
xs = torch.randn(2, 4, 8)  # (batch, T, d)
scores_demo = xs @ xs.transpose(-2, -1) / 8**0.5  # (2, 4, 4)
mask_demo = torch.zeros(2, 4, 4)
scores_demo = scores_demo.masked_fill(mask_demo == 0, -1e9)  # masks everything
weights_demo = torch.softmax(scores_demo, dim=-1)
print(weights_demo[0])

# %% [markdown]
# Every weight is exactly $1/4$, whatever the inputs: the example shows a
# mask-free average of all four values and nothing about attention. Under the
# Annotated Transformer's convention (1 = keep), the mask it meant is
# `torch.ones(2, 4, 4)`, or a causal one from `subsequent_mask`. In this book's
# convention:

# %%
_, weights_fixed = attention.scaled_dot_product_attention(
    xs, xs, xs, mask=attention.causal_mask(4)
)
print(weights_fixed[0])

# %% [markdown]
# The same demonstration wraps the mask in `Variable(...)`, as the 2018 Annotated
# Transformer did. That wrapper has been
# deprecated since PyTorch 0.4 (2018), when tensors started to track gradients
# themselves; it now returns the tensor unchanged, so drop it.
#
# ## Converting the other conventions
#
# Widely copied code and PyTorch disagree on what a mask entry means. Each converts to the
# book's convention in one operation:
#
# | where | mask | means | to True = may attend |
# |---|---|---|---|
# | this book; `F.scaled_dot_product_attention` (bool mask) | bool | `True` = may attend | as is |
# | the Annotated Transformer (`masked_fill(mask == 0, ...)`) | 0/1 integers or floats | 1 = keep | `mask == 1` (or `mask.bool()`) |
# | other common code (`masked_fill(mask, ...)`) | bool | `True` = masked | `~mask` |
# | `nn.MultiheadAttention` (`attn_mask`, `key_padding_mask`) | bool | `True` = masked | `~mask` |
#
# `nn.MultiheadAttention` takes its two masks separately: `attn_mask` of shape
# `(Tq, Tk)` and `key_padding_mask` of shape `(batch, Tk)`, without the middle
# dimension our padding mask has. (Both PyTorch functions also accept a float mask,
# which is *added* to the scores: 0 to keep, $-\infty$ to mask.) To check the
# conversions, we compare our function with PyTorch's on the padded batch with the
# causal mask. `F.scaled_dot_product_attention` takes our mask as it is;
# `nn.MultiheadAttention` is turned into plain attention by setting its projections
# to the identity, and takes the inverted masks.

# %%
torch_out = F.scaled_dot_product_attention(x, x, x, attn_mask=both)

mha = nn.MultiheadAttention(embed_dim=8, num_heads=1, bias=False,
                            batch_first=True)
with torch.no_grad():  # identity projections: plain attention
    mha.in_proj_weight.copy_(torch.eye(8).repeat(3, 1))  # W_q, W_k, W_v
    mha.out_proj.weight.copy_(torch.eye(8))
mha_out, mha_weights = mha(
    x, x, x,
    key_padding_mask=~pad[:, 0, :],  # (batch, Tk), True = masked
    attn_mask=~attention.causal_mask(max_len),  # (Tq, Tk), True = masked
)
masked_convention = ~both  # a "True = masked" mask: converts back with ~
keep_convention = both.long()  # a 0/1 mask (1 = keep): converts back with == 1
ours_from_masked, _ = sdpa(x, x, x, mask=~masked_convention)
ours_from_keep, _ = sdpa(x, x, x, mask=keep_convention == 1)

for name, other in [("F.scaled_dot_product_attention", torch_out),
                    ("nn.MultiheadAttention", mha_out),
                    ("from a True = masked mask", ours_from_masked),
                    ("from a 0/1 mask", ours_from_keep)]:
    difference = (out_both - other).abs().max().item()
    print(f"max |ours - {name}| = {difference:.1e}")
difference = (weights_both - mha_weights).abs().max().item()
print(f"max |weights - nn.MultiheadAttention's| = {difference:.1e}")

# %% [markdown]
# All agree to rounding error. Passing a mask in the wrong convention, on the other
# hand, raises no error at all: it silently attends to exactly the keys it should
# not. That is why the convention is written in every docstring of the package.
#
# ## Dropout on the attention weights
#
# The Transformer ([Vaswani et al., 2017](../reference/references.md#vaswani2017)) also regularizes attention
# with *dropout* ([Srivastava et al., 2014](../reference/references.md#srivastava2014)) on the weights: during
# training each weight is set to 0 with probability $p_{\text{drop}}$, and the surviving weights
# are multiplied by $1/(1-p_{\text{drop}})$ so that each weight keeps its expected value. A query
# then cannot rely on any single key always being there. The Annotated Transformer's
# attention function takes a dropout module, and so does
# `attention.scaled_dot_product_attention`: pass an `nn.Dropout` as `dropout=`.

# %%
dropout = nn.Dropout(p=0.5)
q5 = x[0]  # (T, d): the six tokens of sequence 0
causal6 = attention.causal_mask(6)
_, plain_weights = sdpa(q5, q5, q5, mask=causal6)  # no dropout

dropout.train()  # training mode: drop
torch.manual_seed(1)
_, train_weights = sdpa(q5, q5, q5, mask=causal6, dropout=dropout)
dropout.eval()  # evaluation mode: dropout does nothing
_, eval_weights = sdpa(q5, q5, q5, mask=causal6, dropout=dropout)
print("without dropout:\n", plain_weights)
print("training mode:\n", train_weights)
print("row sums, training mode:", train_weights.sum(dim=-1))
print("row sums, eval mode:    ", eval_weights.sum(dim=-1))

fig = attention.plot_attention_weights(
    train_weights, tokens[0], tokens[0]
)
plt.show()

# %% tags=["remove-input"]
kept = (train_weights > 0) & causal6
ratio = (train_weights[kept] / plain_weights[kept])
scaled_by = ("exactly twice" if bool(ratio.eq(2).all())
             else f"{ratio.min().item():.6f} to {ratio.max().item():.6f} times")
Markdown(
    f"**Figure 9.4.** The causal attention of sequence 0 in training mode, with "
    f"dropout $p_{{\\text{{drop}}}} = 0.5$ (eval mode gives the first panel of Figure 9.3). Dropout has "
    f"zeroed "
    f"{int((~kept & causal6).sum())} of the {int(causal6.sum())} allowed weights "
    f"(compare the two printed matrices) and multiplied each of the others by "
    f"$1/(1 - 0.5)$: every survivor is {scaled_by} its eval-mode value, so the color "
    f"scale now reaches {train_weights.max().item():.2f}."
)

# %% tags=["remove-input"]
sums = train_weights.sum(dim=-1)
Markdown(
    f"After dropout the rows no longer sum to 1: here the sums range from "
    f"{sums.min().item():.2f} to {sums.max().item():.2f}. The weights are no longer a "
    f"probability distribution, only right on average. In evaluation mode (`.eval()`, "
    f"which a model passes down to all its modules) dropout is the identity: the "
    f"largest difference between the eval-mode weights and weights computed without "
    f"any dropout is {(eval_weights - plain_weights).abs().max().item():g}. Always call "
    f"`model.eval()` before using a model, or its attention stays random."
)

# %% [markdown]
# ## Summary
#
# - A mask says which keys each query may attend to. In this book and its package it
#   is boolean with **True = may attend**, as in
#   `F.scaled_dot_product_attention`, and it broadcasts against the scores
#   `(batch, queries, keys)`.
# - `attention.padding_mask(lengths, max_len)`, of shape `(batch, 1, max_len)`, hides
#   the padding of short sequences; padded keys get weight exactly 0 and the real
#   tokens' outputs are the same as without padding.
# - `attention.causal_mask(Tq, Tk)` lets query $i$ see only keys $j \le i$
#   (aligned to the lower right when there are more keys than queries). Masks combine
#   with `&`, by broadcasting.
# - Fill values like $-10^9$ overflow to $-\infty$ in float16, where `masked_fill`
#   refuses them. A query whose keys are all masked gets uniform weights over the
#   masked keys with any finite fill, and NaN with $-\infty$. PyTorch's two attention
#   functions disagree on it; the package gives it zero weights and a zero output.
# - An all-zeros mask under the "1 = keep" convention masks every key, so every weight is $1/T$: check
#   what a mask means before using it. Other conventions convert with `== 1` or `~`.
# - Dropout on the weights zeroes some of them in training and scales the rest by
#   $1/(1-p_{\text{drop}})$; the rows stop summing to 1. In eval mode it does nothing.

# %% [markdown]
# ## Exercises
#
# 1. A *prefix language model* lets the first $T_p$ positions (a prompt) see each
#    other in both directions, while the positions after the prompt are causal. Build
#    this mask for $T = 6$, $T_p = 3$ from `attention.causal_mask` and one more boolean
#    tensor, and check which keys queries 1 and 4 may attend to.

# %% tags=["solution"]
# Exercise 1: causal, OR "both positions are in the prompt".
T, P = 6, 3
in_prompt = torch.arange(T) < P  # (T,)
both_in_prompt = in_prompt[:, None] & in_prompt[None, :]  # (T, T)
prefix = attention.causal_mask(T) | both_in_prompt  # (T, T)
print(prefix.long())
print("query 1 sees keys", prefix[1].nonzero().flatten().tolist())  # prompt
print("query 4 sees keys", prefix[4].nonzero().flatten().tolist())  # its past

# %% [markdown]
# 2. A *sliding-window* causal mask lets query $i$ see only keys
#    $i - w < j \le i$. Build it for $T = 8$, $w = 3$ by combining two masks, and
#    count the allowed keys of each query.

# %% tags=["solution"]
# Exercise 2: causal AND "not more than w - 1 positions back".
T, w = 8, 3
i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
window = attention.causal_mask(T) & (j > i - w)  # (T, T)
print(window.long())
print("allowed keys per query:", window.sum(dim=-1).tolist())

# %% [markdown]
# 3. Dropout keeps each weight's expected value. Check it: average the weights of
#    Figure 9.4 over 2000 draws of dropout in training mode and compare the average
#    with the eval-mode weights.

# %% tags=["solution"]
# Exercise 3: the mean of many dropped-out weight matrices.
dropout.train()
draws = dropout(plain_weights.expand(2000, -1, -1))  # (2000, T, T)
error = (draws.mean(dim=0) - plain_weights).abs().max().item()
print(f"max |mean of draws - eval weights| = {error:.3f}")
print(f"mean allowed weight: {plain_weights[causal6].mean().item():.3f}")

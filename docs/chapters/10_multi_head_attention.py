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
# # Version 6: multi-head attention
#
# Version 5, [self-attention](08_self_attention.py), projects the input into queries,
# keys and values and runs one attention over them. Version 6, the multi-head
# attention of the Transformer ([Vaswani et al., 2017](../reference/references.md#vaswani2017)), runs several
# attentions side by
# side, each on its own slice of the projections, and then combines their results
# with one more learned matrix. This chapter shows why several small heads can do
# what one big head cannot, takes the computation apart shape by shape, counts its
# cost and parameters (which, perhaps surprisingly, do not grow with the number of
# heads), and checks the package's `attention.MultiHeadAttention` against PyTorch's
# `nn.MultiheadAttention`, masks included, using the conventions of
# [Chapter 9](09_masks.py).

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown
from torch import nn

import attention
from attention.fast.cost import multi_head_attention_cost
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: one thread is the fastest
torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## What changes from version 5
#
# Self-attention with model size $d_{\text{model}}$ computes
# $\operatorname{softmax}(Q K^\top / \sqrt{d_{\text{model}}})\, V$ with
# $Q = X W^Q$, $K = X W^K$, $V = X W^V$: one softmax per query, so one way of
# distributing each query's attention. Multi-head attention with $h$ heads cuts the
# projected vectors into $h$ slices of size $d_{\text{head}} = d_{\text{model}} / h$
# and attends in each slice separately:
#
# $$
# \text{head}_i = \operatorname{softmax}\!\left(\frac{Q_i K_i^\top}{\sqrt{d_{\text{head}}}}\right) V_i,
# \qquad Q_i = X W^Q_i,\ K_i = X W^K_i,\ V_i = X W^V_i,
# $$
#
# where $W^Q_i$ is the $i$-th block of $d_{\text{head}}$ columns of $W^Q$ (and the same
# for $K$ and $V$). The heads' outputs, each of size $d_{\text{head}}$, are concatenated
# back to size $d_{\text{model}}$ and mixed by an output projection $W^O$:
#
# $$
# \operatorname{MultiHead}(X) = \operatorname{Concat}(\text{head}_1, \dots, \text{head}_h)\, W^O,
# $$
#
# where $W^Q$, $W^K$, $W^V$ and $W^O$ are all $d_{\text{model}} \times d_{\text{model}}$
# matrices.
#
# The queries, keys and values may come from different sequences, as in
# cross-attention, or all from one, as in self-attention; the module takes `query`,
# `key` and `value` inputs separately and does not care.
#
# ## Why several heads
#
# A head's softmax gives each query one probability distribution over the keys. If
# a word needs two pieces of information from two different places, say the word
# before it and the word after it, one head can only put half its weight on each, and
# its output is the *average* of the two values: the two pieces arrive blended into
# one vector. Two heads can each put all their weight on one place, and the
# concatenation carries both values, intact, side by side. Each head has its own
# projections, so each can compare queries and keys by a different criterion.
#
# To see this without training anything, we set the weights by hand. Each of six
# tokens is a vector of size 12: a one-hot code of its position (6 numbers) followed by
# a random vector for the word (6 numbers; both "the" get the same one). Head 0's
# queries ask for the *previous* position, head 1's for the *next* one; both heads'
# keys are the position codes and both heads' values are the word vectors. (The first
# token has no previous word and the last has no next one: they look at themselves.)

# %%
tokens = ["the", "cat", "sat", "on", "the", "mat"]
T, d_model = len(tokens), 12
words = {w: torch.randn(6) for w in dict.fromkeys(tokens)}  # one per word
word_vectors = torch.stack([words[w] for w in tokens])  # (T, 6)
x = torch.cat([torch.eye(T), word_vectors], dim=1)[None]  # (1, T, 12)

c = 40.0  # match strength: large, so each softmax is nearly one-hot
before = [max(t - 1, 0) for t in range(T)]  # the position before t (or t)
after = [min(t + 1, T - 1) for t in range(T)]  # the position after t (or t)
previous_pos = torch.eye(T)[before].T  # column t: one-hot code of before[t]
next_pos = torch.eye(T)[after].T  # column t: one-hot code of after[t]

two_heads = attention.MultiHeadAttention(d_model, num_heads=2, bias=False)
one_head = attention.MultiHeadAttention(d_model, num_heads=1, bias=False)
with torch.no_grad():
    for module in (two_heads, one_head):
        for linear in (module.w_q, module.w_k, module.w_v):
            linear.weight.zero_()
        module.w_o.weight.copy_(torch.eye(d_model))  # W_O: just concatenate
    # nn.Linear stores W^T, shape (out, in): rows 0-5 are head 0's features,
    # rows 6-11 head 1's; columns 0-5 read the position, 6-11 the word.
    q_w, k_w = two_heads.w_q.weight, two_heads.w_k.weight
    v_w = two_heads.w_v.weight
    q_w[:6, :6] = c * previous_pos  # head 0 asks: "where is position t - 1?"
    q_w[6:, :6] = c * next_pos  # head 1 asks: "where is position t + 1?"
    k_w[:6, :6] = k_w[6:, :6] = torch.eye(6)  # both heads' keys: positions
    v_w[:6, 6:] = v_w[6:, 6:] = torch.eye(6)  # both heads' values: words
    # One head of size 12 asking for both neighbors at once.
    one_head.w_q.weight[:6, :6] = c * (previous_pos + next_pos)
    one_head.w_k.weight[:6, :6] = torch.eye(6)
    one_head.w_v.weight[:6, 6:] = torch.eye(6)

out_two, w_two = two_heads(x, x, x)  # (1, T, 12), (1, 2, T, T)
out_one, w_one = one_head(x, x, x)  # (1, T, 12), (1, 1, T, T)

fig = attention.plot_attention_weights(
    torch.cat([w_one[0], w_two[0]]), tokens, tokens,
    titles=["one head: both neighbors", "head 0: previous word",
            "head 1: next word"],
    columns=3, cell_size=0.3,
)
plt.show()

# %% tags=["remove-input"]
word_matrix = torch.stack([words[w] for w in tokens])  # (T, 6)
prev_words = word_matrix[[max(t - 1, 0) for t in range(T)]]
next_words = word_matrix[[min(t + 1, T - 1) for t in range(T)]]
err_two = max((out_two[0, :, :6] - prev_words).abs().max().item(),
              (out_two[0, :, 6:] - next_words).abs().max().item())
err_one = (out_one[0, :, :6] - (prev_words + next_words) / 2).abs().max().item()
middle = w_one[0, 0, 2]
Markdown(
    f"**Figure 10.1.** Attention weights, one row per query token, one column per key "
    f"token. Left: a single head asked for both neighbors splits each query's weight, "
    f"{middle[1].item():.2f} on the word before and {middle[3].item():.2f} on the word "
    f"after (row \"sat\"). Middle and right: the two heads of one multi-head layer, each "
    f"putting all but at most {1 - w_two.amax(-1).min().item():.0e} of every query's "
    f"weight on one neighbor."
)

# %% tags=["remove-input"]
Markdown(
    f"The outputs show the difference. The two-head output holds the previous word's "
    f"vector in its first six numbers and the next word's in its last six, each to "
    f"within {err_two:.0e}. The one-head output is the average of the two vectors (to "
    f"within {err_one:.0e}), and an average does not say what was averaged: many pairs of "
    f"words have the same mean. A model could still learn to separate the two with one "
    f"head, but only by giving up what the softmax is good at, picking. Studies of "
    f"trained Transformers ([Clark et al., 2019](../reference/references.md#clark2019); "
    f"[Voita et al., 2019](../reference/references.md#voita2019)) found heads that "
    f"attend to the previous token, to the object of a verb, or to the noun a "
    f"determiner belongs to, each head with its own job. The same idea is often put "
    f"in other words: each head works on its own part of every word's features, and "
    f"the relations between queries, keys and values are decoupled further."
)

# %% [markdown]
# ## Splitting into heads, shape by shape
#
# The heads are not separate modules. The package's `MultiHeadAttention` holds four
# `nn.Linear(d_model, d_model)` layers, `w_q`, `w_k`, `w_v` and `w_o`, and cuts the
# projected tensors into heads with a reshape. Take a batch of 2 sequences of 5
# positions, $d_{\text{model}} = 12$ and $h = 3$ heads, so $d_{\text{head}} = 4$. To
# see where every number goes, the "projected queries" are the numbers 0 to 119 in
# order.

# %%
mha = attention.MultiHeadAttention(d_model=12, num_heads=3)
projected = torch.arange(2 * 5 * 12.0).reshape(2, 5, 12)  # (batch, T, d)
step = projected.unflatten(-1, (3, 4))  # (batch, T, heads, d_head)
heads = mha.split_heads(projected)  # (batch, heads, T, d_head)
print("projected      ", tuple(projected.shape), "(batch, T, d_model)")
print("unflatten      ", tuple(step.shape), "(batch, T, heads, d_head)")
print("transpose(1, 2)", tuple(heads.shape), "(batch, heads, T, d_head)")
print("position 0 of sequence 0:", projected[0, 0].tolist())
for h in range(3):
    print(f"  head {h} gets", heads[0, h, 0].tolist())

# %% [markdown]
# Splitting the last dimension into `(heads, d_head)` gives head 0 features 0 to 3 of
# every position, head 1 features 4 to 7, head 2 features 8 to 11. The transpose then
# moves the heads dimension before the positions, so that each head is a
# `(T, d_head)` matrix and `scaled_dot_product_attention`, which works on the last two
# dimensions and treats all the others as batch dimensions, attends in all heads of
# all sequences at once. `combine_heads` undoes both steps:

# %%
back = mha.combine_heads(heads)  # (batch, T, d_model) again
print("combine_heads:", tuple(back.shape),
      " equal to the input:", torch.equal(back, projected))
print("heads tensor contiguous in memory:", heads.is_contiguous())

# %% tags=["fold"]
fig, axes = plt.subplots(1, 4, figsize=(8.0, 2.3), layout="constrained",
                         gridspec_kw={"width_ratios": [12, 4, 4, 4]})
grid = projected[0].numpy()  # (T, d_model) of sequence 0
shade = np.zeros(grid.shape + (4,))
for h in range(3):
    shade[:, 4 * h:4 * h + 4] = plt.matplotlib.colors.to_rgba(COLORS[h], 0.45)
panels = [(axes[0], grid, shade, "(T, d_model) = (5, 12)", "feature")]
panels += [(axes[1 + h], grid[:, 4 * h:4 * h + 4], shade[:, 4 * h:4 * h + 4],
            f"head {h}: (5, 4)", "head feature") for h in range(3)]
for ax, values, colors, title, xlabel in panels:
    ax.imshow(colors, aspect="equal")
    ax.grid(False)
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(5))
    ax.set_xlabel(xlabel)
    ax.tick_params(labelsize=7, length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
axes[0].set_ylabel("position")
plt.show()

# %% [markdown]
# **Figure 10.2.** Left: one sequence of the projected tensor, 5 positions by 12
# features, colored by the head each feature goes to. Right: what `split_heads` makes of
# it, one 5-by-4 matrix per head (sequence 0 of the tensor of shape `(2, 3, 5, 4)`). Every
# head sees every position, but only its own 4 features of each.
#
# After the transpose the tensor is no longer stored in order in memory, so `.view`
# cannot flatten it back; a widely copied implementation, the Annotated Transformer
# ([Rush, 2018](../reference/references.md#rush2018)), calls `.contiguous()` first to
# make a copy, then `.view(batch, -1, d_model)`. The package's `combine_heads` uses
# `flatten`, which copies only when it has to. The Annotated Transformer also builds
# the four linear layers as four deep copies of one layer (its `clones` helper), so
# the four start as identical copies; its `make_model` then draws every weight matrix
# afresh (Glorot's initialization), which makes them differ, while the four bias
# vectors stay identical copies. The package builds four layers, each with its own
# initialization.
#
# A head's slice of the projected queries is exactly what a separate, smaller
# projection $W^Q_i$ would give: the rows of `w_q.weight` belong to the heads in
# blocks of $d_{\text{head}}$, so one big matrix product computes all heads'
# projections at once. (The first exercise checks it.)
#
# With masks, the heads share the mask of the sequence: a mask of shape
# `(batch, Tq, Tk)` or `(batch, 1, Tk)` gets a heads dimension of size 1 inserted,
# `(batch, 1, Tq, Tk)`, and broadcasts over the heads; the Annotated Transformer does
# the same with `mask.unsqueeze(1)`. Dropout, if the module is built with
# `MultiHeadAttention(d_model, num_heads, dropout=p)`, acts on the weights of every
# head during training, as in [Chapter 9](09_masks.py#dropout-on-the-attention-weights).
# The whole forward pass, with its shapes:
#
# | step | code | shape |
# |---|---|---|
# | inputs | `query`, `key`, `value` | `(batch, Tq, d_model)`, `(batch, Tk, d_model)` |
# | project | `w_q(query)`, `w_k(key)`, `w_v(value)` | `(batch, Tq or Tk, d_model)` |
# | split | `split_heads` | `(batch, heads, Tq or Tk, d_head)` |
# | attend | `scaled_dot_product_attention` | weights `(batch, heads, Tq, Tk)`, output `(batch, heads, Tq, d_head)` |
# | concatenate | `combine_heads` | `(batch, Tq, d_model)` |
# | mix | `w_o` | `(batch, Tq, d_model)` |

# %% [markdown]
# Try it yourself. The next cell sends a ten-word sentence through a multi-head layer of
# four heads with random (untrained) weights, and takes the layer apart: each head's
# weights, and each head's part of the output. Because `w_o` is linear, the output of a
# query is the sum of one vector per head, head $i$'s output times its own block of
# columns of $W^O$ (plus the bias); the length of that vector, as a fraction of the four
# lengths, is the head's share of the query's output.

# %%
import altair as alt
from attention.book.interactive import interactive_figure

sentence = "the cat sat on the mat because it was tired".split()
gen = torch.Generator().manual_seed(10)
# Word vectors of standard deviation 3: with smaller ones the untrained heads' scores
# would be so close together that every head spread its weight almost evenly.
vocab = {w: 3 * torch.randn(16, generator=gen) for w in dict.fromkeys(sentence)}
x_s = torch.stack([vocab[w] for w in sentence])[None]  # (1, T, 16)
four_heads = attention.MultiHeadAttention(d_model=16, num_heads=4)
with torch.no_grad():
    out_s, w_s = four_heads(x_s, x_s, x_s)  # (1, T, 16), (1, 4, T, T)
    v_heads = four_heads.split_heads(four_heads.w_v(x_s))  # (1, 4, T, 4)
    per_head = w_s @ v_heads  # (1, 4, T, d_head): each head's output
    w_o_blocks = four_heads.w_o.weight.T.unflatten(0, (4, 4))  # (heads, d_head, d_model)
    parts = torch.einsum("bhtd,hdm->bhtm", per_head, w_o_blocks)  # (1, 4, T, 16)
    rebuilt = parts.sum(dim=1) + four_heads.w_o.bias  # (1, T, 16)
print("output = sum of the heads' parts + bias:", torch.allclose(rebuilt, out_s, atol=1e-6))
lengths_s = parts[0].norm(dim=-1)  # (4, T)
share = lengths_s / lengths_s.sum(dim=0)  # (4, T): each column sums to 1

frames = []
for h in range(4):
    focus = w_s[0, h].max(dim=-1).values  # (T,): each query's largest weight
    frames.append({
        "head": f"head {h}",  # the menu's value picks this frame
        "weight": [round(float(a), 3) for a in w_s[0, h].flatten()],
        "share": [round(float(a), 3) for a in share[h]],
        "readout": f"head {h} · mean share of the output {share[h].mean():.2f} · "
                   f"mean largest weight {focus.mean():.2f}",
    })

# %% tags=["fold"]
n_s = len(sentence)
pick = alt.param(name="head", value="head 0", bind=alt.binding_select(
    options=[f"head {h}" for h in range(4)], name="head "))
picked = alt.Chart().transform_filter("datum.head == head")
labels = [f"{i} {w}" for i, w in enumerate(sentence)]  # unique names for repeated words
y_query = alt.Y("query:N", sort=labels, title="query")
heat = picked.transform_calculate(cell=str(list(range(n_s * n_s)))).transform_flatten(
    ["cell", "weight"]).transform_calculate(
    query=f"{labels}[floor(datum.cell / {n_s})]", key=f"{labels}[datum.cell % {n_s}]").mark_rect().encode(
    x=alt.X("key:N", sort=labels, title="key"), y=y_query,
    color=alt.Color("weight:Q", scale=alt.Scale(scheme="viridis", domain=[0, 1]),
                    legend=alt.Legend(orient="bottom", title="weight")),
    tooltip=["query:N", "key:N", "weight:Q"]).properties(width=200, height=200)
shares = picked.transform_calculate(query=str(labels)).transform_flatten(
    ["query", "share"]).mark_bar().encode(
    x=alt.X("share:Q", scale=alt.Scale(domain=[0, 1]), title="share of the output",
            axis=alt.Axis(values=[0, 0.25, 0.5, 1])),
    y=alt.Y("query:N", sort=labels, axis=None),
    tooltip=["query:N", "share:Q"]).properties(width=90, height=200)
quarter = alt.Chart(alt.Data(values=[{"share": 0.25}])).mark_rule(
    strokeDash=[4, 3], opacity=0.6).encode(x="share:Q")
readout = picked.mark_text(align="left", x=0, y=8, fontSize=13).encode(
    text="readout:N").properties(width=330, height=16)
interactive_figure(
    alt.vconcat(readout, alt.hconcat(heat, alt.layer(shares, quarter), spacing=8),
                data=alt.Data(values=frames)).add_params(pick)
    .properties(autosize=alt.AutoSizeParams(type="pad")),
    "For the head the menu picks: its attention weights over a ten-word sentence, and "
    "its share of each word's output.",
)

# %% [markdown]
# **Interactive figure 10.1.** Pick a head from the menu (or focus it and use the arrow
# keys). The heatmap is that head's weights, one row per query word; the bars are the
# head's share of each word's output, against the dashed line at $1/4$, an even split
# between the four heads. The weights are random, so the heads have no job yet, but they
# already differ: each spreads its weight its own way, and the share of a head changes
# from word to word. The two rows of "the" are the same in every head: no position
# information enters this layer, so equal words ask equal questions.

# %% [markdown]
# ## The cost: as much as one head of full width
#
# More heads sound more expensive, but the heads are slices, not copies. The four
# projections cost the same whatever $h$ is. In the attention itself, each of the $h$
# heads computes a $T_q \times T_k$ score matrix from vectors of size $d_{\text{model}}/h$,
# so all heads together do $h \cdot 2 T_q T_k (d_{\text{model}}/h) = 2 T_q T_k
# d_{\text{model}}$ FLOPs for the scores, exactly as one head of full width. Only the
# softmax, one per head, grows with $h$. `attention.fast.cost.multi_head_attention_cost`
# counts it, and the parameters come from the module itself, for a model the size of
# the original Transformer's ($d_{\text{model}} = 512$) on 128 positions:

# %%
T_ref, d_ref = 128, 512
rows = []
for h in [1, 2, 4, 8, 16, 64]:
    cost = multi_head_attention_cost(T_ref, T_ref, d_ref, h)
    module = attention.MultiHeadAttention(d_ref, h)
    params = sum(p.numel() for p in module.parameters())
    rows.append((h, d_ref // h, params, cost))

# %% tags=["remove-input"]
table = ("| $h \\times d_{\\text{head}}$ | parameters | matmul FLOPs "
         "| element-wise | weights |\n")
table += "|---:|---:|---:|---:|---:|\n"
table += "\n".join(f"| {h} × {dh} | {p:,} | {c.matmul:,} | {c.elementwise:,} "
                   f"| {h * T_ref**2:,} |" for h, dh, p, c in rows)
Markdown(f"**Table 10.1.** Multi-head attention with $d_{{\\text{{model}}}} = {d_ref}$ "
         f"on $T = {T_ref}$ positions, by number of heads: parameters, FLOPs of the "
         f"matrix products and of the element-wise work, and the number of attention "
         f"weights one sequence produces, $h T^2$.\n\n" + table)

# %% tags=["remove-input"]
p_formula = 4 * d_ref**2 + 4 * d_ref
growth = rows[-1][3].total / rows[0][3].total - 1
scale_flops = T_ref * d_ref  # the queries times 1/sqrt(d_head): T d, any h
softmax_per_head = rows[0][3].elementwise - scale_flops  # one head: the rest is softmax
weights_mib = {h: 4 * h * T_ref**2 / 2**20 for h, *_ in rows}  # float32, one sequence
assert all(c.elementwise == h * softmax_per_head + scale_flops for h, _, _, c in rows)
Markdown(
    f"The parameters are the same for every head count: four $d_{{\\text{{model}}}} "
    f"\\times d_{{\\text{{model}}}}$ weight matrices and four bias vectors, "
    f"$4 d_{{\\text{{model}}}}^2 + 4 d_{{\\text{{model}}}}$, here {p_formula:,}. So are the "
    f"matrix-multiplication FLOPs. Of the element-wise work, the scaling of the queries "
    f"costs $T d_{{\\text{{model}}}} = {scale_flops:,}$ FLOPs in every row, whatever $h$ "
    f"is; it is the softmax ({softmax_per_head:,} FLOPs per head, "
    f"{softmax_per_head // T_ref**2} per score) that grows "
    f"with the number of heads. Even at {rows[-1][0]} heads the total is only "
    f"{growth:.1%} more than with one. So for parameters and FLOPs, choosing the number "
    f"of heads is choosing how to slice a fixed budget, not how much to spend. Not for "
    f"memory: every head keeps its own $T \\times T$ weights, so a batch holds weights of "
    f"shape `(batch, h, T, T)`, $h$ times as many as one head. For one sequence of "
    f"{T_ref} positions in float32 that is {weights_mib[1]:.3f} MiB with one head and "
    f"{weights_mib[rows[-1][0]]:.0f} MiB with {rows[-1][0]} "
    f"([Chapter 15](15_what_attention_costs.py) measures what that costs). (The "
    f"package's tests check the FLOP formulas against PyTorch's own FLOP counter, "
    f"`torch.utils.flop_counter.FlopCounterMode`, run on the module.)"
)

# %% [markdown]
# ## Checking against PyTorch
#
# PyTorch ships multi-head attention as `nn.MultiheadAttention`. It stores $W^Q$,
# $W^K$ and $W^V$ stacked in one `in_proj_weight` of shape
# `(3 d_model, d_model)`, and its output projection as `out_proj`.
# `attention.MultiHeadAttention.from_torch` copies them into the package's four
# layers. The outputs should then agree, masks included, as long as the masks are
# converted: in `nn.MultiheadAttention`, `True` means *masked*, the opposite of this
# book's convention, so both masks are inverted with `~`. We use a padded batch
# (lengths 5 and 3) with a causal mask, and ask PyTorch for every head's weights
# (`average_attn_weights=False`; by default it averages them over the heads).

# %%
theirs = nn.MultiheadAttention(embed_dim=16, num_heads=4, batch_first=True)
theirs.eval()
ours = attention.MultiHeadAttention.from_torch(theirs)

batch_x = torch.randn(2, 5, 16)  # (batch, T, d_model)
pad = attention.padding_mask([5, 3], max_len=5)  # (batch, 1, T), True = real
causal = attention.causal_mask(5)  # (T, T), True = may attend
mask = pad & causal  # (batch, T, T)

out_ours, w_ours = ours(batch_x, batch_x, batch_x, mask=mask)
# w_ours, like w_theirs: (batch, heads, T, T)
out_theirs, w_theirs = theirs(
    batch_x, batch_x, batch_x,
    key_padding_mask=~pad[:, 0, :],  # (batch, T), True = masked
    attn_mask=~causal,  # (T, T), True = masked
    average_attn_weights=False,
)
output_diff = (out_ours - out_theirs).abs().max().item()
weights_diff = (w_ours - w_theirs).abs().max().item()
print(f"max |output difference| : {output_diff:.1e}")
print(f"max |weights difference|: {weights_diff:.1e}")

# %% tags=["remove-input"]
largest = max((out_ours - out_theirs).abs().max().item(), (w_ours - w_theirs).abs().max().item())
agreement = ("agree exactly, to the last bit"
             if largest == 0 else f"agree to within {largest:.0e}, rounding error in float32")
Markdown(
    f"Outputs and weights {agreement}. Forgetting the inversion is another matter: "
    f"it gives each query exactly the keys it should not see, and raises no error."
)

# %%
wrong, _ = ours(batch_x, batch_x, batch_x, mask=~mask)  # True = masked, as is
wrong_diff = (wrong - out_theirs).abs().max().item()
print(f"max |output difference| with an unconverted mask: {wrong_diff:.2f}")

# %% [markdown]
# ## Skipping the weights: the fused kernel
#
# Most of the time a model needs only the output, not the weights. With
# `need_weights=False`, `MultiHeadAttention` returns `None` for the weights and calls
# PyTorch's `torch.nn.functional.scaled_dot_product_attention`, a fused kernel that
# computes the softmax and the weighted sum without keeping the full
# `(batch, heads, Tq, Tk)` weight tensor (on a GPU, [FlashAttention](../reference/references.md#dao2022)-style kernels
# process it in tiles). Its boolean mask uses this book's convention, so the mask is
# passed as it is.

# %%
out_fast, no_weights = ours(batch_x, batch_x, batch_x, mask=mask,
                            need_weights=False)
fused_diff = (out_fast - out_ours).abs().max().item()
print("weights:", no_weights)
print(f"max |fused - with weights|: {fused_diff:.1e}")

# %% tags=["remove-input"]
batch_big, heads_big, T_big = 8, 32, 8192
gigabytes = batch_big * heads_big * T_big**2 * 2 / 1e9
Markdown(
    f"Same output, to rounding. The saving matters at scale: the weights of a batch of "
    f"{batch_big} sequences of {T_big:,} tokens with {heads_big} heads, in float16, "
    f"would take {gigabytes:.0f} GB, more than the memory of most GPUs, for one layer."
)

# %% [markdown]
# ## Summary
#
# - Multi-head attention (version 6) projects queries, keys and values with
#   $d_{\text{model}} \times d_{\text{model}}$ matrices, cuts each into $h$ heads of
#   size $d_{\text{model}}/h$, attends in every head separately, concatenates the
#   heads and mixes them with $W^O$.
# - One softmax gives one distribution per query; with several heads a query can
#   take several things from several places at once, and each head compares
#   queries and keys by its own learned criterion.
# - Splitting is a reshape and a transpose, `(batch, T, d_model)` to
#   `(batch, heads, T, d_head)`; combining undoes it. The attention function treats
#   the heads as one more batch dimension, and masks broadcast over them.
# - Parameters, $4 d_{\text{model}}^2 + 4 d_{\text{model}}$, and matrix-multiplication
#   FLOPs do not depend on the number of heads; only the small softmax work grows.
# - `MultiHeadAttention.from_torch` reproduces `nn.MultiheadAttention`, whose masks
#   mean True = masked: invert them. `need_weights=False` uses PyTorch's fused kernel
#   and gives the same output.

# %% [markdown]
# ## Exercises
#
# 1. Check that head 1's queries, the slice `split_heads(w_q(x))[:, 1]`, are what a
#    separate projection with rows $d_{\text{head}}$ to $2 d_{\text{head}} - 1$ of
#    `w_q.weight` (and the same slice of the bias) gives.

# %% tags=["solution"]
# Exercise 1: head 1 uses rows d_head .. 2 d_head - 1 of w_q.weight (W_q^T).
x1 = torch.randn(2, 5, 12)  # (batch, T, d_model)
dh = mha.d_head
rows_1 = slice(dh, 2 * dh)
separate = x1 @ mha.w_q.weight[rows_1].T + mha.w_q.bias[rows_1]  # (2, 5, 4)
sliced = mha.split_heads(mha.w_q(x1))[:, 1]  # (batch, T, d_head)
print(f"max |difference|: {(separate - sliced).abs().max().item():.1e}")

# %% [markdown]
# 2. Each head's score matrix $Q_i K_i^\top$ is $T \times T$ but is built from vectors of
#    size $d_{\text{head}}$, so its rank is at most $d_{\text{head}}$. For random inputs
#    with $T = 32$ and $d_{\text{model}} = 64$, compute the rank of head 0's score
#    matrix for 1, 4, 16 and 64 heads. What do many heads give up?

# %% tags=["solution"]
# Exercise 2: the rank of one head's scores is at most d_head.
x2 = torch.randn(1, 32, 64)
for h in [1, 4, 16, 64]:
    m = attention.MultiHeadAttention(64, h)
    q0 = m.split_heads(m.w_q(x2))[0, 0]  # (T, d_head)
    k0 = m.split_heads(m.w_k(x2))[0, 0]  # (T, d_head)
    rank = torch.linalg.matrix_rank(q0 @ k0.T).item()
    print(f"{h:2d} heads: d_head = {64 // h:2d}, "
          f"rank of head 0's 32 x 32 scores = {rank}")
# With d_head = 1 a head's scores are an outer product: every query ranks
# the keys in the same order (or reversed). Many tiny heads trade expressive
# heads for more of them.

# %% [markdown]
# 3. *Multi-query attention* keeps $h$ query heads but only one key head and one value
#    head, shared by all of them, which shrinks what a generating model must cache.
#    Count its parameters for $d_{\text{model}} = 512$, $h = 8$ (without biases), and run
#    it with `attention.scaled_dot_product_attention`, letting a key tensor of shape
#    `(batch, 1, T, d_head)` broadcast against queries of shape
#    `(batch, heads, T, d_head)`.

# %% tags=["solution"]
# Exercise 3: multi-query attention, with one shared key head and value head.
d, h = 512, 8
d_head = d // h
mha_params = 4 * d * d
mqa_params = d * d + 2 * d * d_head + d * d  # W_Q; one-head W_K, W_V; W_O
print(f"parameters: multi-head {mha_params:,}, multi-query {mqa_params:,}")

batch, T = 2, 6
sizes = (d, d_head, d_head, d)
w_q, w_k, w_v, w_o = (nn.Linear(d, n, bias=False) for n in sizes)
x3 = torch.randn(batch, T, d)
q = w_q(x3).unflatten(-1, (h, d_head)).transpose(1, 2)  # (batch, h, T, dh)
k = w_k(x3)[:, None]  # (batch, 1, T, d_head): one head, shared
v = w_v(x3)[:, None]  # (batch, 1, T, d_head)
heads_out, weights = attention.scaled_dot_product_attention(
    q, k, v, attention.causal_mask(T)
)  # (batch, heads, T, d_head), (batch, heads, T, T)
out = w_o(heads_out.transpose(1, 2).flatten(-2))  # (batch, T, d)
print("weights:", tuple(weights.shape), " output:", tuple(out.shape))

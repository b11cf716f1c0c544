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
# # Version 4: cross-attention
#
# Up to version 3, attention compared its queries with the raw input and averaged the
# raw input: one matrix $X$ did two jobs, being searched and being returned. Version 4
# gives each job its own learned matrix. The input is *projected* into keys,
# $K = X W^K$, which decide where the queries look, and into values, $V = X W^V$,
# which decide what they take away, while the queries come from a different sequence:
# that is what makes it *cross*-attention. This is the attention a Transformer's decoder uses to read the source sentence. This
# chapter writes it down, checks the shapes, builds a small example where the raw input
# cannot do both jobs and two projections can, and counts what the projections cost.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown

import attention
from attention.versions.overview import count_parameters
from attention.fast.cost import dot_product_attention_cost, projection_cost
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: extra threads cost more than they save
torch.set_printoptions(precision=3, sci_mode=False)

# %% [markdown]
# ## What changes
#
# In [version 3](06_many_queries.py) a matrix of queries $Q$ attends over an input
# $X$ with the scaled dot product of
# [Chapter 5](05_scaled_dot_product_attention.py):
#
# $$\operatorname{Attention}(Q, X) = \operatorname{softmax}\!\left(\frac{Q X^\top}{\sqrt{d}}\right) X .$$
#
# The same $X$ appears twice. On the left it is what the queries are compared with:
# it plays the keys. On the right it is what gets averaged: it plays the values. So a
# row of the input is found by its features and hands back those very features.
#
# Cross-attention keeps the formula and changes only what the queries meet. Two
# learned matrices turn the input into keys and into values:
#
# $$K = X W^K, \qquad V = X W^V, \qquad
# \operatorname{CrossAttention}(Q, X) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .$$
#
# With $T_q$ queries of size $d_k$ and an input of $T_k$ rows of size $d_x$:
#
# $$\underbrace{X}_{T_k \times d_x}\,\underbrace{W^K}_{d_x \times d_k} = \underbrace{K}_{T_k \times d_k},
# \qquad
# \underbrace{X}_{T_k \times d_x}\,\underbrace{W^V}_{d_x \times d_v} = \underbrace{V}_{T_k \times d_v},
# \qquad
# \underbrace{\operatorname{softmax}\!\left(Q K^\top / \sqrt{d_k}\right)}_{T_q \times T_k}\,\underbrace{V}_{T_k \times d_v}
# = \underbrace{O}_{T_q \times d_v}.$$
#
# Three things follow. Keys and values still come in pairs, one of each per input
# row, because both are computed from the same row. The input's size $d_x$ no longer
# has to equal the query's size: $W^K$ maps the input into the queries' space, where
# the dot product is defined. And the output's size $d_v$ is chosen freely by $W^V$.
# The queries themselves are used as they are.
#
# ## Where the queries come from
#
# The name says that the queries and the input come from two different sequences.
# The classic case is translation. A Transformer's encoder reads the source sentence
# and turns each of its words into a vector; the decoder writes the translation one
# word at a time. Each decoder layer has, besides its own attention over the words
# written so far, a sub-layer that attends over the encoder's output: this is the
# *encoder–decoder attention* of the original Transformer
# ([Vaswani et al., 2017](../reference/references.md#vaswani2017)). The decoder position that
# is about to write a word asks the question (the query), and the source sentence
# supplies the keys and the values. A decoder position asking "which source word
# tells me what to write next?" is cross-attention.
#
# In the Transformer the decoder's queries also pass through a learned matrix; that
# step comes with [self-attention](08_self_attention.py) and
# [multi-head attention](10_multi_head_attention.py). Here the queries stay raw, so
# that the one change of this chapter stands alone.

# %% [markdown]
# ## The module
#
# `attention.CrossAttention(query_size, input_size, value_size)` holds the two
# matrices as bias-free linear layers, `w_k` and `w_v`, and calls
# `attention.scaled_dot_product_attention` of Chapter 5 with the projected keys and
# values. Its `forward(query, inputs, mask=None)` returns the output and the weights,
# like every attention function in the book, and takes the book's boolean mask, True
# meaning "may attend". Here is a batch of two: three decoder positions with queries
# of size 4, attending over a source of five rows of size 6, taking values of size 3.

# %%
cross = attention.CrossAttention(query_size=4, input_size=6, value_size=3)
query = torch.randn(2, 3, 4)  # (batch, Tq, query_size): from the decoder
inputs = torch.randn(2, 5, 6)  # (batch, Tk, input_size): the encoder's output
output, weights = cross(query, inputs)
print(cross)
print("w_k.weight:", tuple(cross.w_k.weight.shape))  # W_K^T: (d_k, d_x)
print("w_v.weight:", tuple(cross.w_v.weight.shape))  # W_V^T: (d_v, d_x)
print("keys:   ", tuple(cross.w_k(inputs).shape))  # (batch, Tk, query_size)
print("values: ", tuple(cross.w_v(inputs).shape))  # (batch, Tk, value_size)
print("weights:", tuple(weights.shape))  # (batch, Tq, Tk)
print("output: ", tuple(output.shape))  # (batch, Tq, value_size)
print("row sums of the weights:", weights.sum(-1).detach().numpy().round(3))

# %% [markdown]
# A `nn.Linear(n_in, n_out)` stores its matrix as `(n_out, n_in)` and computes
# $x W^\top$, so `w_k.weight` is $(W^K)^\top$; keep that in mind when setting the
# matrices by hand, as we do next. Version 3 could not even run on these tensors: its
# queries of size 4 cannot be dotted with input rows of size 6.

# %%
try:
    attention.scaled_dot_product_attention(query, inputs, inputs)  # version 3
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# ## Why keys and values should differ
#
# What makes an item easy to find need not be what we want from it. A library
# catalog is searched by title and subject, but what you carry home is the book. In
# version 3 the input is both the catalog card and the book. Here is a small case
# where that breaks, and where two projections repair it.
#
# A decoder is translating *the cats saw a mouse* into German, *die Katzen sahen eine
# Maus*. English *saw* is the same for one cat and for many; German is not: one cat
# *sah*, several cats *sahen*. So when the decoder is about to write the verb, it
# needs a fact that the source verb does not carry: whether the *subject* is plural.
#
# We give each source word six hand-made features: its role in the sentence
# (determiner, subject, verb or object), whether it is plural, and whether it is
# animate. A trained encoder would produce such information spread over hundreds of
# learned features; six named ones let us read every number. To let version 3 run
# at all, the three decoder positions get queries in the same six coordinates: each
# says which role it is writing, times 10 so that the softmax is sharp.

# %%
features = ["determiner", "subject", "verb", "object", "plural", "animate"]
plural, animate = features.index("plural"), features.index("animate")
source = ["the", "cats", "saw", "a", "mouse"]
X = torch.tensor([
    # det subj verb  obj  plur anim
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # the
    [0.0, 1.0, 0.0, 0.0, 1.0, 1.0],  # cats
    [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],  # saw
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # a
    [0.0, 0.0, 0.0, 1.0, 0.0, 1.0],  # mouse
])  # (Tk=5, d_x=6)
targets = ["Katzen (subject)", "sahen (verb)", "Maus (object)"]
Q = 10.0 * torch.eye(6)[[1, 2, 3]]  # (Tq=3, 6): the roles being written
print(Q)

# %% [markdown]
# **Version 3** compares each query with the raw rows of $X$ and averages them. The
# score of a query with a source word counts the features the two share, so each
# decoder position finds the source word *that looks like itself*: the subject finds
# the subject, the object the object, and the verb finds the verb.

# %%
out_v3, w_v3 = attention.scaled_dot_product_attention(Q, X, X)  # K = V = X
print("weights:\n", w_v3)  # (Tq=3, Tk=5)
print("output, all six features:\n", out_v3)  # (Tq=3, d_x=6)

# %% tags=["remove-input"]
verb = targets.index("sahen (verb)")
Markdown(
    f"The verb position puts {w_v3[verb, source.index('saw')]:.3f} of its weight on "
    f"*saw*, and what it gets back is *saw*'s own features: a plural value of "
    f"{out_v3[verb, plural]:.3f}. The decoder would write the singular *sah*. The "
    f"query cannot be blamed, since it comes from the decoder as it is. The trouble "
    f"is that with raw keys a query can only find what resembles it, and with raw "
    f"values it takes back the same features it matched on."
)

# %% [markdown]
# **Version 4** learns $W^K$ and $W^V$; here we write them by hand. $W^K$ is a
# small dictionary from "what a word is" to "who is looking for it". The subject
# feature is sent to the subject coordinate *and* to the verb coordinate, because a
# German verb agrees with its subject; the object feature goes to the object
# coordinate; everything else maps to zero. $W^V$ hands over only the two facts a
# decoder needs here, plural and animate.

# %%
W_K = torch.zeros(6, 6)  # (d_x, d_k): input feature -> query coordinate
W_K[1, 1] = 1.0  # a subject is found by the subject position...
W_K[1, 2] = 1.0  # ...and by the verb position, which must agree with it
W_K[3, 3] = 1.0  # an object is found by the object position
W_V = torch.zeros(6, 2)  # (d_x, d_v): keep only "plural" and "animate"
W_V[plural, 0] = 1.0
W_V[animate, 1] = 1.0

agreement = attention.CrossAttention(query_size=6, input_size=6, value_size=2)
with torch.no_grad():  # nn.Linear stores the transposes
    agreement.w_k.weight.copy_(W_K.T)
    agreement.w_v.weight.copy_(W_V.T)
out_v4, w_v4 = agreement(Q[None], X[None])  # batch of one
out_v4, w_v4 = out_v4[0].detach(), w_v4[0].detach()  # (3, 2), (3, 5)
print("keys K = X W^K:\n", X @ W_K)
print("weights:\n", w_v4)
print("output (plural, animate):\n", out_v4)

# %%
fig = attention.plot_attention_weights(
    torch.stack([w_v3, w_v4]),
    query_labels=targets,
    key_labels=source,
    titles=["version 3: keys = values = $X$", "version 4: keys = $XW^K$"],
    annotate=True,
    columns=2,
    cell_size=0.55,
)
plt.show()

# %% tags=["remove-input"]
Markdown(
    f"**Figure 7.1.** Each row is a German word being written, each column a word "
    f"of the English source. With raw keys (left) every position attends to the "
    f"source word of its own role; the verb row lights up *saw*. With the projected "
    f"keys (right) the verb row moves to *cats* ({w_v4[verb, source.index('cats')]:.3f}"
    f" of its weight), the subject of the sentence, while the other two rows stay "
    f"where they were. Only $W^K$ changed what the rows look at."
)

# %% [markdown]
# Now what each position takes away. Version 3 returns all six features of what it
# found; version 4 returns two. The chart compares the two features both versions
# return with what each German word needs: the number and animacy of the noun it
# agrees with (for the verb, the subject).

# %%
needed = X[[1, 1, 4]][:, [plural, animate]]  # cats, cats, mouse
v3_taken = out_v3[:, [plural, animate]]  # (3, 2): two of the six features

# %% tags=["fold"]
fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.0), layout="constrained",
                         sharey=True)
positions = np.arange(len(targets))
for ax, f, name in zip(axes, [0, 1], ["plural", "animate"]):
    ax.bar(positions - 0.2, v3_taken[:, f], width=0.38,
           label="version 3 (raw $X$)")
    ax.bar(positions + 0.2, out_v4[:, f], width=0.38,
           label="version 4 ($XW^V$)")
    ax.plot(positions, needed[:, f], "_", markersize=30, markeredgewidth=2.5,
            color=COLORS[3], label="what the word needs")
    ax.set_xticks(positions, [t.split()[0] for t in targets])
    ax.set_title(f"feature: {name}")
    ax.set_xlabel("German word being written")
axes[0].set_ylabel("value returned")
axes[0].set_ylim(-0.05, 1.15)  # room for the markers at 0
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center",
           ncols=3)
plt.show()

# %% tags=["remove-input"]
Markdown(
    f"**Figure 7.2.** The plural and animate features of each output. For *Katzen* "
    f"and *Maus* both versions return what is needed. For *sahen* version 3 returns "
    f"the features of *saw*, plural {v3_taken[verb, 0]:.3f} and animate "
    f"{v3_taken[verb, 1]:.3f}; version 4 returns those of *cats*, plural "
    f"{out_v4[verb, 0]:.3f} and animate {out_v4[verb, 1]:.3f}, and the decoder can "
    f"write the plural form."
)

# %% [markdown]
# The two matrices do separate jobs, and each can be changed without touching the
# other. Replace $W^V$ with any other matrix and the weights do not move, because
# they depend only on the queries and the keys; only what is handed over changes:

# %%
with torch.no_grad():
    before = agreement(Q[None], X[None])[1]
    agreement.w_v.weight.normal_()  # a different, random W_V
    after = agreement(Q[None], X[None])[1]
    agreement.w_v.weight.copy_(W_V.T)  # put it back
print("largest change of any weight:", (after - before).abs().max().item())

# %% [markdown]
# This is what is meant when the projections are said to *decouple* the input: one
# projection is responsible for building the attention weights, the other for
# building the output, and each can be as good at its job as learning makes it.
# A trained model finds its $W^K$ and $W^V$ by gradient descent instead of by hand,
# and its features are not one-hot, but the division of labor is the same.
#
# ## What the projections cost
#
# The projections are the first learned parameters of attention since version 0,
# whose small network had its own (see [Chapter 3](03_additive_attention.py)).
# $W^K$ has $d_x \cdot d_k$ entries and $W^V$ has $d_x \cdot d_v$.

# %% tags=["remove-input"]
d_model = 512
big = attention.CrossAttention(d_model, d_model, d_model)
t_q, t_k = 20, 30  # a 20-word translation of a 30-word sentence
project_k = projection_cost(t_k, d_model, d_model)  # X W_K
project = project_k + projection_cost(t_k, d_model, d_model)  # + X W_V
core = dot_product_attention_cost(t_q, t_k, d_model, d_model, scaled=True)
Markdown(
    f"The agreement example has $6 \\cdot 6 + 6 \\cdot 2 = {count_parameters(agreement)}$ "
    f"parameters. At the size of the original Transformer, $d_x = d_k = d_v = "
    f"{d_model}$, the two matrices hold {count_parameters(big):,} parameters, whatever the "
    f"lengths of the sentences: the same matrices project every source word. "
    f"Computing them is a matrix product per source word. For a "
    f"{t_q}-word translation of a {t_k}-word sentence, the projections cost "
    f"{project.total / 1e6:.1f} million floating-point operations "
    f"(`attention.fast.cost.projection_cost`), the scores, softmax and weighted sum "
    f"{core.total / 1e6:.2f} million. The projections cost about $4 T_k d^2$ and the "
    f"attention about $4 T_q T_k d$, a ratio of $T_q / d$: the attention itself "
    f"takes over only when there are more than about {d_model} queries."
)

# %% [markdown]
# ## Summary
#
# - Version 4 projects the input into keys and values with learned matrices,
#   $K = X W^K$ and $V = X W^V$, and attends with
#   $\operatorname{softmax}(Q K^\top / \sqrt{d_k})\, V$. The queries come from another
#   sequence; that is what makes it *cross*-attention. Here they are used as they are,
#   to change one thing at a time; a Transformer's cross-attention projects them too.
# - In a Transformer this is the decoder's *encoder–decoder attention*: a decoder
#   position asks, the encoded source sentence answers.
# - Shapes: queries $T_q \times d_k$, input $T_k \times d_x$, $W^K$ is $d_x \times d_k$,
#   $W^V$ is $d_x \times d_v$, weights $T_q \times T_k$, output $T_q \times d_v$. The
#   input's size no longer has to equal the queries'.
# - Keys decide *where* a query looks, values decide *what* it takes. With raw keys
#   a query can only find rows that resemble it, and with raw values it takes back
#   the features it matched on. In the agreement example the German verb finds the
#   English subject and takes its number only after the input is projected.
# - The projections have $d_x (d_k + d_v)$ parameters, independent of the sequence
#   lengths, and cost a matrix product per input row.
#
# Next, [version 5](08_self_attention.py) takes the queries from the same sequence as
# the keys and values, and projects all three.

# %% [markdown]
# ## Exercises
#
# 1. **Where the matrices could live.** For one layer, $W^K$ could be moved into the
#    query and $W^V$ after the average: check numerically, with random matrices, that
#    $\operatorname{softmax}\big(q (X W^K)^\top / \sqrt{d_k}\big)\, X W^V$ equals version 3
#    run with the query $q (W^K)^\top$ on the raw $X$, followed by $W^V$. (Use
#    `scale=` to keep the same $1/\sqrt{d_k}$.) Why does the model still learn them
#    inside the attention layer?

# %% tags=["solution"]
# Exercise 1: Where the matrices could live.
d_x, d_k, d_v = 6, 4, 3
X1 = torch.randn(5, d_x, dtype=torch.float64)
q1 = torch.randn(2, d_k, dtype=torch.float64)
W_K1 = torch.randn(d_x, d_k, dtype=torch.float64)
W_V1 = torch.randn(d_x, d_v, dtype=torch.float64)
inside, _ = attention.scaled_dot_product_attention(q1, X1 @ W_K1, X1 @ W_V1)
raw, _ = attention.scaled_dot_product_attention(
    q1 @ W_K1.T, X1, X1, scale=d_k**-0.5  # version 3, same 1/sqrt(d_k)
)
outside = raw @ W_V1
print(f"largest difference: {(inside - outside).abs().max().item():.1e}")
# q . (x W_K) = (q W_K^T) . x, and a weighted average commutes with a linear map,
# so for one layer it is bookkeeping where the matrices sit. Inside the layer,
# K and V are computed once per source word and shared by every query, the input
# and the queries may have different sizes, and the layer owns the question of
# how two sequences with differently-meant features are compared.

# %% [markdown]
# 2. **Padding.** Batch the agreement example with a second source sentence,
#    *a cat saw the mice* (five words too), and with a third that is only *cats saw*,
#    padded with three zero rows. Pass `attention.padding_mask` as the mask. Check that
#    the padded rows get zero weight and that the third sentence's output is the same
#    as when it is run alone without padding.

# %% tags=["solution"]
# Exercise 2: Padding.
mice = torch.tensor([
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # a
    [0.0, 1.0, 0.0, 0.0, 0.0, 1.0],  # cat
    [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],  # saw
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # the
    [0.0, 0.0, 0.0, 1.0, 1.0, 1.0],  # mice
])
short = X[[1, 2]]  # "cats saw": a subject and a verb, no object
padded = torch.cat([short, torch.zeros(3, 6)])  # (5, 6)
batch = torch.stack([X, mice, padded])  # (3, Tk=5, 6)
mask = attention.padding_mask([5, 5, 2], max_len=5)  # (3, 1, 5)
with torch.no_grad():
    out_b, w_b = agreement(Q.expand(3, 3, 6), batch, mask)
    out_short, _ = agreement(Q[None], short[None])
print("weights on padding:", w_b[2, :, 2:].abs().max().item())
print("same as unpadded:", torch.allclose(out_b[2], out_short[0]))
print(f"verb's plural: cats {out_b[0, 1, 0].item():.3f}, "
      f"cat {out_b[1, 1, 0].item():.3f}")
# The object position of "cats saw" finds no object: all its keys score 0,
# so it spreads its weight evenly over the two real words.

# %% [markdown]
# 3. **Two questions, one query.** The verb position would also like the verb itself,
#    to know *which* verb to write. Add `W_K[2, 2] = 1.0` so that the verb position
#    finds both *saw* and *cats*, and look at its weights and its output. What has
#    happened to the number it needs, and why can one set of weights not answer two
#    questions at once?

# %% tags=["solution"]
# Exercise 3: Two questions, one query.
W_K3 = W_K.clone()
W_K3[2, 2] = 1.0  # the verb is now found by the verb position too
with torch.no_grad():
    agreement.w_k.weight.copy_(W_K3.T)
    out3, w3 = agreement(Q[None], X[None])
    agreement.w_k.weight.copy_(W_K.T)  # restore
print("verb position's weights:", w3[0, 1])
print("verb position's output (plural, animate):", out3[0, 1])
# The weights split about evenly between "saw" and "cats", and the output is
# their average: plural about 0.5, neither singular nor plural. A softmax over
# one set of scores gives one weighted average. Asking two questions needs two
# sets of queries and keys, which is what multi-head attention provides
# (Chapter 10).

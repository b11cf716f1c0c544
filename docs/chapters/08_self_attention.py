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
# # Version 5: self-attention
#
# Cross-attention takes its queries from one sequence and its keys and values from
# another. Version 5 takes all three from the same sequence: the queries are a third
# projection of the input, $Q = X W^Q$, beside $K = X W^K$ and $V = X W^V$. Every position of a sequence now asks a question of every
# position of the same sequence, itself included, and its output is a mix of what
# the whole sequence offers. This is self-attention, the core of the
# [Transformer](../reference/references.md#vaswani2017).
# This chapter writes it down, looks at the weights of a small sentence, explains why
# the queries must be projected rather than taken from $X$ directly, and shows the
# property that shapes the rest of the Transformer: without extra information,
# self-attention cannot see the order of the words.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown

import attention
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: extra threads cost more than they save
torch.set_printoptions(precision=3, sci_mode=False)

# %% [markdown]
# ## What changes
#
# In [version 4](07_cross_attention.py) the keys and values were projections of an
# input $X$, and the queries came from elsewhere. If the queries come from the same
# $X$ as well, through a projection of their own, all three roles come from one
# sequence. That, where the queries come from, is the difference between cross- and
# self-attention; a Transformer's cross-attention projects its queries too:
#
# $$Q = X W^Q, \qquad K = X W^K, \qquad V = X W^V, \qquad
# \operatorname{SelfAttention}(X) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .$$
#
# For a sequence of $T$ vectors of size $d_{\text{model}}$:
#
# $$\underbrace{X}_{T \times d_{\text{model}}}\,\underbrace{W^Q, W^K}_{d_{\text{model}} \times d_k}
# \to \underbrace{Q, K}_{T \times d_k},
# \qquad
# \underbrace{X}_{T \times d_{\text{model}}}\,\underbrace{W^V}_{d_{\text{model}} \times d_v}
# \to \underbrace{V}_{T \times d_v},
# \qquad
# \underbrace{\operatorname{softmax}\!\left(Q K^\top / \sqrt{d_k}\right)}_{T \times T}\,\underbrace{V}_{T \times d_v}
# = \underbrace{O}_{T \times d_v}.$$
#
# The weight matrix is square: $T$ queries, one per position, over $T$ keys, one per
# position. Row $i$ says how much position $i$ draws from each position of its own
# sequence, and output row $i$ is a new vector for position $i$, built from its
# context. Put briefly, what cross-attention looked for outside, self-attention looks
# for inside: the search that cross-attention ran over another sequence now runs over
# the sequence itself, to build a richer representation of each of its elements.
#
# In the Transformer, every encoder layer starts with self-attention over the source
# sentence. Every decoder layer starts with self-attention over the words written
# so far, with a mask that stops a position from looking at later ones (the subject
# of [Chapter 9](09_masks.py)), and then runs the cross-attention of Chapter 7 over
# the encoder's output. Multi-head attention, in
# [Chapter 10](10_multi_head_attention.py), runs several self-attentions side by side
# and adds an output projection; this chapter has one head and no output projection.
#
# ## The module
#
# `attention.SelfAttention(d_model, d_k=None, d_v=None)` holds the three matrices as
# bias-free linear layers `w_q`, `w_k` and `w_v` ($d_k$ and $d_v$ default to
# $d_{\text{model}}$), and its `forward(x, mask=None)` returns the output and the
# weights. Here is a batch of two sequences of six vectors of size 8, with queries
# and keys of size 4 and values of size 4:

# %%
attend = attention.SelfAttention(d_model=8, d_k=4, d_v=4)
x = torch.randn(2, 6, 8)  # (batch, T, d_model)
output, weights = attend(x)
print(attend)
print("queries:", tuple(attend.w_q(x).shape))  # (batch, T, d_k)
print("keys:   ", tuple(attend.w_k(x).shape))  # (batch, T, d_k)
print("values: ", tuple(attend.w_v(x).shape))  # (batch, T, d_v)
print("weights:", tuple(weights.shape))  # (batch, T, T)
print("output: ", tuple(output.shape))  # (batch, T, d_v)

# %% tags=["remove-input"]
n_params = sum(p.numel() for p in attend.parameters())
Markdown(
    f"The three matrices hold $8 \\cdot 4 + 8 \\cdot 4 + 8 \\cdot 4 = {n_params}$ "
    f"parameters; in general $d_{{\\text{{model}}}}(2 d_k + d_v)$, one matrix more "
    f"than cross-attention, and again independent of the sequence length. With a "
    f"causal mask the same call gives a decoder's masked self-attention: "
    f"`attend(x, mask=attention.causal_mask(6))`."
)

# %% [markdown]
# ## A sentence attending to itself
#
# Take the sentence *the cat sat on the mat*. Each word gets an embedding: here a
# random vector of size 8 per word of a small vocabulary, the same vector wherever
# the word occurs, as an embedding table gives. A freshly built layer starts with
# small weights, and its attention is then almost uniform; to get a map with some
# contrast, we draw the three matrices with a larger spread. Nothing is trained,
# so the pattern has no linguistic meaning: what matters is its structure.

# %%
vocabulary = ["the", "cat", "sat", "on", "mat", "dog", "bites", "man"]
embedding = {word: torch.randn(8) for word in vocabulary}  # one vector per word


def embed(sentence: str) -> torch.Tensor:
    """The embeddings of the words of `sentence`: (1, T, 8), a batch of one."""
    return torch.stack([embedding[word] for word in sentence.split()])[None]


layer = attention.SelfAttention(d_model=8)  # d_k = d_v = 8
with torch.no_grad():
    for matrix in layer.parameters():
        torch.nn.init.normal_(matrix, std=0.5)

words = "the cat sat on the mat".split()
X = embed("the cat sat on the mat")  # (1, T=6, 8)
with torch.no_grad():
    out, w = layer(X)  # (1, 6, 8), (1, 6, 6)
    # no projections at all: Q = K = V = X
    raw_out, raw_w = attention.scaled_dot_product_attention(X, X, X)
print("row sums:", w[0].sum(-1))

# %%
fig = attention.plot_attention_weights(
    torch.stack([raw_w[0], w[0]]),
    query_labels=words,
    key_labels=words,
    titles=["no projections: $Q = K = V = X$", "$Q = XW^Q$, $K = XW^K$"],
    annotate=True,
    columns=2,
)
plt.show()

# %% tags=["remove-input"]
diag_raw = raw_w[0].diagonal().mean().item()
diag_proj = w[0].diagonal().mean().item()
same_rows = (w[0, 0] - w[0, 4]).abs().max().item()
same_cols = (w[0, :, 0] - w[0, :, 4]).abs().max().item()
same_out = (out[0, 0] - out[0, 4]).abs().max().item()
Markdown(
    f"**Figure 8.1.** Self-attention weights of *the cat sat on the mat*: row $i$ is "
    f"word $i$ asking, column $j$ is word $j$ answering. Left, without projections, "
    f"the diagonal is bright: each word attends mostly to itself (on average "
    f"{diag_raw:.2f} of its weight). Right, with the projections, much of the "
    f"weight moves off the diagonal (which averages {diag_proj:.2f}). In both maps "
    f"the two rows "
    f"of *the* are the same, and so are the two columns of *the*."
)

# %% tags=["remove-input"]
i_the, i_cat = words.index("the"), words.index("cat")
largest_same = max(same_rows, same_cols, same_out)
Markdown(
    f"Two things to read off the map. First, the rows sum to 1, one distribution "
    f"per word, and the map is not symmetric: *the* puts {w[0, i_the, i_cat]:.3f} of "
    f"its weight on *cat*, while *cat* puts only {w[0, i_cat, i_the]:.1e} on *the*, "
    f"because the first weight compares the query of *the* with the key of *cat*, "
    f"and the second the query of *cat* with the key of *the*. Second, the two "
    f"occurrences of *the* behave identically: their rows, their columns and their "
    f"output vectors are equal (the largest difference is {largest_same:g}). The "
    f"first *the* opens the sentence and the second precedes *mat*, but the layer "
    f"only sees two copies of one vector. We come back to this."
)

# %% [markdown]
# ## Why project the queries
#
# The queries, keys and values come from the same input, but that does not mean
# $Q = K = V$. The left panel shows why. Without projections
# the score of word $i$ with word $j$ is $x_i \cdot x_j$, and a vector's dot product
# with itself, $\lVert x_i \rVert^2$, tends to beat its dot product with any other
# vector. By the Cauchy–Schwarz inequality,
# $x_i \cdot x_j \le \lVert x_i \rVert \lVert x_j \rVert$, with equality only when
# the two point the same way; so when the vectors have similar lengths, a word's
# score with itself is the largest in its row. Such a layer mostly tells every
# word about itself.
#
# With projections the score is
#
# $$q_i \cdot k_j = x_i W^Q (W^K)^\top x_j^\top ,$$
#
# a learned comparison. The matrix $W^Q (W^K)^\top$ need not be symmetric, nor favor
# the diagonal, so a word can look for words unlike itself: a verb for its subject,
# a pronoun for the noun it stands for. The counts below, over random sentences,
# show how strong the pull of the diagonal is without projections.

# %%
sentences = torch.randn(500, 6, 8)  # 500 random "sentences" of 6 words
with torch.no_grad():
    _, w_none = attention.scaled_dot_product_attention(
        sentences, sentences, sentences
    )  # Q = K = V = X
    _, w_proj = layer(sentences)
itself = torch.arange(6)
self_first_none = (w_none.argmax(-1) == itself).float().mean().item()
self_first_proj = (w_proj.argmax(-1) == itself).float().mean().item()
print(f"attending most to themselves, no projections: {self_first_none:.1%}")
print(f"attending most to themselves, projections:    {self_first_proj:.1%}")

# %% tags=["remove-input"]
Markdown(
    f"Without projections, {self_first_none:.0%} of the words put their largest "
    f"weight on themselves. With the random projections of our layer, "
    f"{self_first_proj:.0%} do, not far from the $1/6 \\approx 17\\%$ of a "
    f"random choice among six words. Training decides where each word looks; $W^Q$ "
    f"and $W^K$ make it possible for that to be anywhere."
)

# %% [markdown]
# ## Word order is invisible
#
# Back to the two copies of *the*. Nothing in self-attention tells it *where* a word
# is. Shuffle the words of a sentence, and each word still computes the same query,
# key and value, meets the same set of keys, and ends up with the same output, now in
# its new place. In symbols, with a permutation matrix $\Pi$ (the identity matrix with
# its rows shuffled), $\Pi X$ is $X$ with its rows shuffled, and
#
# $$\operatorname{softmax}\!\left(\frac{(\Pi X W^Q)(\Pi X W^K)^\top}{\sqrt{d_k}}\right) \Pi X W^V
# = \Pi \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) \Pi^\top \Pi V
# = \Pi \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .$$
#
# The scores become $\Pi (Q K^\top) \Pi^\top$: the same matrix with its rows and columns
# shuffled the same way. A row-wise softmax does not care about the order of a row's
# entries, and $\Pi^\top \Pi = I$ because a permutation is undone by its transpose. So
# shuffling the input rows shuffles the output rows and nothing else changes.
# Self-attention is **permutation-equivariant**. Let's check it on the sentence.

# %%
order = [5, 2, 0, 4, 1, 3]  # a shuffle of the 6 positions
shuffled_words = [words[i] for i in order]
with torch.no_grad():
    out_shuffled, w_shuffled = layer(X[:, order])  # the shuffled sentence
print(" ".join(shuffled_words))
out_diff = (out_shuffled - out[:, order]).abs().max().item()
w_diff = (w_shuffled - w[:, order][:, :, order]).abs().max().item()
print(f"outputs vs the shuffled outputs: {out_diff:.1e}")
print(f"weights vs the weights with rows and columns shuffled: {w_diff:.1e}")

# %%
fig = attention.plot_attention_weights(
    torch.stack([w[0], w_shuffled[0]]),
    titles=[" ".join(words), " ".join(shuffled_words)],
    columns=2,
)
for ax, labels in zip(fig.axes[:2], [words, shuffled_words]):
    ax.set_xticks(range(6), labels, rotation=90)
    ax.set_yticks(range(6), labels)
plt.show()

# %% tags=["remove-input"]
Markdown(
    f"**Figure 8.2.** Self-attention weights of the sentence (left) and of its "
    f"words shuffled (right). Every cell of the right map is a cell of the left map, "
    f"moved to the row and column of its two words: for instance the weight of "
    f"*cat* on *sat* is {w[0, 1, 2]:.3f} on the left and "
    f"{w_shuffled[0, order.index(1), order.index(2)]:.3f} on the right. The maps "
    f"differ only in the order of their labels; their entries agree up to rounding "
    f"(the largest difference is "
    f"{(w_shuffled - w[:, order][:, :, order]).abs().max().item():.1e})."
)

# %% [markdown]
# The consequence is stark. *Dog bites man* and *man bites dog* contain the same
# three words, so they are the same set of input vectors in two orders, and
# self-attention gives the same set of output vectors. Each word gets the same new
# vector in both sentences (up to rounding), though in one the dog is the biter and
# in the other the one bitten.

# %%
with torch.no_grad():
    out_a, _ = layer(embed("dog bites man"))  # (1, 3, 8)
    out_b, _ = layer(embed("man bites dog"))
    out_c, _ = layer(embed("dog bites cat"))
for i, word in enumerate(["dog", "bites", "man"]):
    j = ["man", "bites", "dog"].index(word)
    print(f"{word:>5}: largest difference between the two sentences "
          f"{(out_a[0, i] - out_b[0, j]).abs().max().item():.1e}")
print(f"  dog in 'dog bites man' vs 'dog bites cat': "
      f"{(out_a[0, 0] - out_c[0, 0]).abs().max().item():.2f}")

# %% [markdown]
# The last line is the other half of the story: change a *word* of the context and
# *dog*'s output does change. Self-attention is sensitive to which words surround a
# word, which is what makes it useful, but blind to where they stand. For language,
# where order carries meaning, that is a serious gap, and the Transformer closes it
# by adding information about each position to the word embeddings before the first
# layer: [positional encoding](11_positional_encoding.py), the subject of Chapter 11.
# (A causal mask breaks the symmetry too, as the first exercise shows, but only for
# decoders.)
#
# ## The cost of a square
#
# The weights are a $T \times T$ matrix, so their number grows with the square of the
# sequence length, while the three projections grow only linearly with it.

# %% tags=["remove-input"]
long_t = 4096
n_weights = long_t * long_t
Markdown(
    f"At $T = {long_t}$ one self-attention computes ${n_weights / 1e6:.1f}$ million "
    f"weights per sequence, {n_weights * 4 / 2**20:.0f} MiB in 32-bit floats, for "
    f"each head and each layer. This square is what Part IV of the book is about: "
    f"computing exact attention without ever holding it in memory."
)

# %% [markdown]
# ## Summary
#
# - Version 5 projects queries, keys and values from the same sequence:
#   $Q = X W^Q$, $K = X W^K$, $V = X W^V$, and every position attends to every
#   position of its own sequence with
#   $\operatorname{softmax}(Q K^\top / \sqrt{d_k})\, V$.
# - Shapes: $X$ is $T \times d_{\text{model}}$, the weights are $T \times T$, the output
#   $T \times d_v$. The three matrices have $d_{\text{model}}(2 d_k + d_v)$ parameters.
# - The same input does not mean $Q = K = V$: without projections each word attends
#   mostly to itself. With them, the score $x_i W^Q (W^K)^\top x_j^\top$ is a learned,
#   asymmetric comparison.
# - In the Transformer, the encoder uses self-attention, the decoder uses masked
#   self-attention followed by cross-attention over the encoder's output.
# - Self-attention is permutation-equivariant: shuffling the input rows shuffles the
#   output rows, and the weights' rows and columns, in the same way. *Dog bites man*
#   and *man bites dog* give the same output vectors; word order is lost, which is why
#   the Transformer adds positional information to its inputs
#   ([positional encoding](11_positional_encoding.py)).
# - The $T \times T$ weights grow with the square of the sequence length.

# %% [markdown]
# ## Exercises
#
# 1. **The causal mask and order.** Run `layer` on *the cat sat on the mat* with
#    `attention.causal_mask(6)`. Check that the first word's output is just its own
#    value, $x_1 W^V$. Then shuffle the words as in Figure 8.2: is the output still
#    the shuffled output? Why not?

# %% tags=["solution"]
# Exercise 1: The causal mask and order.
causal = attention.causal_mask(6)  # (6, 6), True = may attend
with torch.no_grad():
    out_m, w_m = layer(X, causal)
    out_ms, _ = layer(X[:, order], causal)
    first_value = layer.w_v(X[0, 0])  # x_1 W_V
print("first word's weights:", w_m[0, 0])
own_gap = (out_m[0, 0] - first_value).abs().max().item()
print(f"first output - own value: {own_gap:.1e}")
print(f"vs shuffled output: {(out_ms - out_m[:, order]).abs().max().item():.3f}")
# The mask is tied to positions, not to words: after the shuffle a word sees
# a different set of words (those now before it), so its output changes.
# A causal mask gives each position a different view of the sequence: a
# decoder gets some sense of order from it, an encoder (no mask) gets none.

# %% [markdown]
# 2. **Tied queries and keys.** Make $W^Q = W^K$ (copy `w_k`'s weight into `w_q`).
#    How often does a word now attend most to itself, over the 500 random sentences?
#    Show that the scores are then symmetric, and explain with Cauchy–Schwarz why the
#    diagonal is favored again.

# %% tags=["solution"]
# Exercise 2: Tied queries and keys.
tied = attention.SelfAttention(d_model=8)
tied.load_state_dict(layer.state_dict())
with torch.no_grad():
    tied.w_q.weight.copy_(tied.w_k.weight)
    _, w_tied = tied(sentences)
    q_tied = tied.w_q(sentences)
scores = q_tied @ q_tied.transpose(-2, -1)  # Q K^T with K = Q
print("symmetric:", torch.allclose(scores, scores.transpose(-2, -1)))
self_first_tied = (w_tied.argmax(-1) == itself).float().mean().item()
print(f"attending most to itself: {self_first_tied:.1%}")
# With W_Q = W_K = W the score of i and j is (x_i W) . (x_j W): a dot product
# of two projected vectors. Cauchy-Schwarz again: it is at most
# |x_i W| |x_j W|, so a word's own score |x_i W|^2 wins unless another word's
# projection is longer and points nearly the same way.

# %% [markdown]
# 3. **Positions by hand.** Give each position a vector of its own: append to each
#    word's embedding a one-hot vector of its position (three extra features for
#    three-word sentences). Build a `SelfAttention(11)` and show that *dog* now gets
#    different outputs in *dog bites man* and *man bites dog*.

# %% tags=["solution"]
# Exercise 3: Positions by hand.
def embed_with_positions(sentence: str) -> torch.Tensor:
    """(1, 3, 11): each word's embedding followed by a one-hot of its position."""
    x = embed(sentence)[0]  # (3, 8)
    return torch.cat([x, torch.eye(3)], dim=-1)[None]  # (1, 3, 11)


positional = attention.SelfAttention(d_model=11)
with torch.no_grad():
    for matrix in positional.parameters():
        torch.nn.init.normal_(matrix, std=0.5)
    dog_first = positional(embed_with_positions("dog bites man"))[0][0, 0]
    dog_last = positional(embed_with_positions("man bites dog"))[0][0, 2]
print(f"dog, two sentences: {(dog_first - dog_last).abs().max().item():.3f}")
# The inputs now differ (the position features), so the outputs do too:
# "dog" at position 1 and "dog" at position 3 are different vectors.

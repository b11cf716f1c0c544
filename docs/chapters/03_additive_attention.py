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
# # Version 0: additive attention
#
# The first attention mechanism of the neural-network era did not compare a query with
# a key by a fixed rule. It handed the pair to a small feed-forward network and let the
# network say how well they matched. This chapter takes that network apart: the formula
# and the shape of each of its three weights, why it could compare a query and a key of
# *different* sizes (which is why it came first), how it scores every query against every
# key at once by broadcasting to a three-dimensional tensor, how many parameters it has,
# and how its scores plug into the attention pooling of
# [Chapter 2](02_queries_keys_values.py). We then train one on a toy word-alignment task
# and look at its weights before and after. The chapter ends with what the network costs,
# which is what the next version of attention set out to fix.

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
np.set_printoptions(precision=4, suppress=True)
torch.set_printoptions(precision=4)

# %% [markdown]
# ## The score is a small network
#
# In 2015 [Bahdanau, Cho and Bengio](../reference/references.md#bahdanau2015) added attention to a neural
# machine-translation model.
# An encoder reads the source sentence and leaves one vector per source word, which they
# called an *annotation*; a decoder then writes the translation one word at a time. Before
# writing each word the decoder asks which source words matter now. Its current state is
# the **query** $q$, the annotations are the **keys** $k_1, \dots, k_n$ (and, as we will
# see, also the values), and the question "how well does key $k$ fit query $q$?" is
# answered by a learned score function, which they called the *alignment model*:
#
# $$
# a(q, k) = w_v^\top \tanh\left(W_q\, q + W_k\, k\right).
# $$
#
# Read it from the inside out. For a query of size $d_q$, a key of size $d_k$ and a
# chosen *hidden size* $d_a$:
#
# - $W_q$, a $d_a \times d_q$ matrix, maps the query to a vector of size $d_a$;
# - $W_k$, a $d_a \times d_k$ matrix, maps the key to a vector of size $d_a$;
# - the two projections are **added** (hence *additive* attention), and $\tanh$ squashes
#   each of the $d_a$ sums into $(-1, 1)$;
# - $w_v$, a vector of size $d_a$, reads the $d_a$ numbers out into one score.
#
# This is a feed-forward network with one hidden layer of $d_a$ tanh units and one output.
# Adding $W_q q$ and $W_k k$ is the same as multiplying the concatenation $[q; k]$ by the
# matrix $[W_q \; W_k]$, so it is an ordinary one-hidden-layer network applied to the
# pair, and its score is whatever the training data make it. Nothing in it says what
# "similar" means; the network learns it.
#
# ## Why it came first: keys and queries of different sizes
#
# The score never multiplies a query entry with a key entry. Each vector is first
# projected into the shared hidden space of size $d_a$, and only there do they meet. So
# $d_q$ and $d_k$ are free to differ, and in Bahdanau's model they did: the keys came from
# a bidirectional encoder, a forward and a backward reader whose states were concatenated,
# so a key was twice the size of the decoder's state. A dot product, the score of
# [Chapter 2](02_queries_keys_values.py)'s worked example, could not even have been
# written down for that pair without first adding a projection; the additive score
# simply has one built in.
#
# The package's `attention.AdditiveAttention` is this score, followed by the softmax and
# the weighted average of the values. Here it is with queries of size 4, keys of size 6
# and a hidden size of 8. Its three weights are `nn.Linear` layers without bias; PyTorch
# stores a layer's matrix as (outputs, inputs), so `w_q.weight` *is* $W_q$, of shape
# $d_a \times d_q$.

# %%
query_size, key_size, hidden_size = 4, 6, 8
attend = attention.AdditiveAttention(query_size, key_size, hidden_size)
print("W_q:", tuple(attend.w_q.weight.shape), "  (hidden, query_size)")
print("W_k:", tuple(attend.w_k.weight.shape), "  (hidden, key_size)")
print("w_v:", tuple(attend.w_v.weight.shape), "     (1, hidden): w_v as a row")

num_parameters = sum(p.numel() for p in attend.parameters())
print("parameters:", num_parameters)

# %% tags=["remove-input"]
# Bahdanau et al.'s sizes: decoder state n = 1000, annotations 2n = 2000, hidden n' = 1000.
bahdanau = attention.AdditiveAttention(query_size=1000, key_size=2000, hidden_size=1000)
bahdanau_parameters = sum(p.numel() for p in bahdanau.parameters())
Markdown(
    f"The count is $d_a\\,(d_q + d_k + 1) = {hidden_size} \\times ({query_size} + {key_size} + 1) "
    f"= {hidden_size * (query_size + key_size + 1)}$, the {num_parameters} the module reports: "
    f"$d_a\\, d_q$ for $W_q$, $d_a\\, d_k$ for $W_k$ and $d_a$ for $w_v$. It does not depend on how "
    f"many queries or keys there are: the same small network scores every pair. With the "
    f"sizes of Bahdanau et al.'s translation model (a decoder state of 1000, annotations of "
    f"2000, a hidden size of 1000) the same module has {bahdanau_parameters:,} parameters."
)

# %% [markdown]
# ## Every query against every key: a broadcast
#
# One score is a few matrix-vector products. A model needs the scores of every query
# against every key, and computing them pair by pair in a Python loop would be slow. The
# module does all of them at once, and it is worth doing once by hand with its own
# weights. Take a batch of one, three queries of size 4, five keys of size 6, and values
# of size 7 (the value size is free, as in Chapter 2):

# %%
query = torch.randn(1, 3, query_size)  # (batch, queries, query_size)
key = torch.randn(1, 5, key_size)  # (batch, keys, key_size)
value = torch.randn(1, 5, 7)  # (batch, keys, value_size)

with torch.no_grad():
    projected_query = attend.w_q(query)  # (batch, queries, hidden) = (1, 3, 8)
    projected_key = attend.w_k(key)  # (batch, keys, hidden) = (1, 5, 8)
    # (1, 3, 1, 8) + (1, 1, 5, 8) -> (1, 3, 5, 8): every query meets every key
    pairs = projected_query[:, :, None, :] + projected_key[:, None, :, :]
    features = torch.tanh(pairs)  # (batch, queries, keys, hidden)
    scores = attend.w_v(features).squeeze(-1)  # (batch, queries, keys)

print("projected queries:", tuple(projected_query.shape))
print("projected keys:   ", tuple(projected_key.shape))
print("features:         ", tuple(features.shape))
print("scores:           ", tuple(scores.shape))

# %% [markdown]
# Each query is projected once and each key is projected once, not once per pair. The
# pairing happens in the addition: a tensor of shape (queries, 1, hidden) plus one of
# shape (1, keys, hidden) broadcasts to (queries, keys, hidden), where entry $(i, j)$ is
# $W_q q_i + W_k k_j$. The tanh acts on every entry, and $w_v$ turns the last axis into one
# number, leaving a (queries, keys) matrix of scores. (Bahdanau et al. made the same point
# in their paper: $W_k k_j$ does not depend on the query, so it can be computed once per
# sentence and reused for every word the decoder writes.)
#
# The formula, for one pair, must give the same number as the broadcast. Query 1 against
# key 2:

# %%
with torch.no_grad():
    q, k = query[0, 1], key[0, 2]  # (query_size,) and (key_size,)
    W_q, W_k, w_v = attend.w_q.weight, attend.w_k.weight, attend.w_v.weight[0]
    one_score = w_v @ torch.tanh(W_q @ q + W_k @ k)  # (hidden,) @ (hidden,)
print(f"by the formula:     {one_score.item():.6f}")
print(f"from the broadcast: {scores[0, 1, 2].item():.6f}")

# %% [markdown]
# ## Into attention pooling
#
# From here on nothing is new. The scores of one query are turned into weights by a
# softmax over the keys, the function of [Chapter 1](01_softmax.py), and the output is the
# weighted average of the values, the attention pooling of
# [Chapter 2](02_queries_keys_values.py):
#
# $$
# \alpha(q, k_i) = \operatorname{softmax}_i\big(a(q, k_i)\big), \qquad
# f(q) = \sum_{i=1}^{n} \alpha(q, k_i)\, v_i .
# $$
#
# Nadaraya–Watson regression in Chapter 2 used the same two steps with a score fixed in
# advance (a negative squared distance) and one number to tune, the bandwidth. Additive
# attention keeps the steps and swaps in a score with $d_a(d_q + d_k + 1)$ learned
# parameters. The module's output is exactly the softmax of our scores, pooled with the
# package's NumPy `attention.attention_pooling`:

# %%
with torch.no_grad():
    output, weights = attend(query, key, value)  # (1, 3, 7) and (1, 3, 5)
by_hand = attention.attention_pooling(
    torch.softmax(scores[0], dim=-1).numpy(), value[0].numpy()
)  # (3, 5) @ (5, 7) -> (3, 7)
print("weights:", tuple(weights.shape), " sums:", weights.sum(-1)[0].numpy())
print("output: ", tuple(output.shape))
print("max |module - by hand|:", np.abs(output[0].numpy() - by_hand).max())

# %% [markdown]
# The weights have one row per query and one column per key, whatever the sizes of the
# vectors: three queries and five keys give a $3 \times 5$ matrix, and the output has the
# size of a value. The number of queries and the number of keys are free as well. In
# translation they are the lengths of the two sentences, which rarely agree.
#
# ## Learning what "similar" means
#
# A freshly made module has random weights, so its scores mean nothing yet. To watch one
# learn, we set it a toy version of Bahdanau's alignment problem. The keys are five
# English words, the queries six French words of their translation:
#
# > the black cat drinks milk → le chat noir boit du lait
#
# Each word is a random vector, size 6 for the English words and size 4 for the French
# ones. They stand in for what an encoder and a decoder would produce, and they are two
# different spaces of two different sizes. We train only the attention's parameters, so
# that each French word puts its weight on the English word it translates (both *du*
# and *lait* on *milk*), by minimising minus the log of that weight with plain gradient
# descent. Word order differs between the languages: *black cat* becomes *chat noir*.

# %%
english = ["the", "black", "cat", "drinks", "milk"]
french = ["le", "chat", "noir", "boit", "du", "lait"]
aligned_to = torch.tensor([0, 2, 1, 3, 4, 4])  # English word of each French one

english_vectors = torch.randn(1, len(english), 6)  # keys, values: (1, keys, 6)
french_vectors = torch.randn(1, len(french), 4)  # queries: (1, queries, 4)
aligner = attention.AdditiveAttention(query_size=4, key_size=6, hidden_size=8)


def alignment_weights() -> torch.Tensor:
    """The (queries, keys) weights of the aligner on the toy sentence pair."""
    _, weights = aligner(french_vectors, english_vectors, english_vectors)
    return weights[0]  # (queries, keys)


with torch.no_grad():
    weights_before = alignment_weights()

steps, learning_rate = 100, 2.0
losses = []
for step in range(steps):  # plain gradient descent
    weights = alignment_weights()
    loss = -weights[torch.arange(len(french)), aligned_to].log().mean()
    aligner.zero_grad()
    loss.backward()
    with torch.no_grad():
        for parameter in aligner.parameters():
            parameter -= learning_rate * parameter.grad
    losses.append(loss.item())

with torch.no_grad():
    weights_after = alignment_weights()

fig = attention.plot_attention_weights(
    torch.stack([weights_before, weights_after]),  # (2 panels, queries, keys)
    query_labels=french,
    key_labels=english,
    titles=["before training", f"after {steps} steps"],
    vmax=1.0,
)
fig.axes[0].set_ylabel("French word (query)")
for ax in fig.axes[:2]:
    ax.set_xlabel("English word (key)")
plt.show()

# %% tags=["remove-input"]
on_target_before = weights_before[torch.arange(len(french)), aligned_to]
on_target_after = weights_after[torch.arange(len(french)), aligned_to]
Markdown(
    f"**Figure 3.1.** Additive attention weights of six French words (rows, the queries, "
    f"of size 4) over five English words (columns, the keys, of size 6), on one colour "
    f"scale from 0 to 1. Before training (left) the rows are almost alike and not far from "
    f"uniform: the weight on the right word ranges from {on_target_before.min():.2f} to "
    f"{on_target_before.max():.2f}, against $1/5 = 0.2$ for a uniform row. After {steps} "
    f"steps of gradient descent (right) each French word puts at least "
    f"{on_target_after.min():.3f} of its weight on its translation; the loss fell from "
    f"{losses[0]:.2f} to {losses[-1]:.4f}. "
    f"The bright cells leave the diagonal where the word order changes, at *chat noir*."
)

# %% [markdown]
# Two things to take from the figure. First, the network compared vectors of sizes 4 and
# 6 without complaint, and learned a notion of "matches" between two spaces that had
# nothing in common to begin with. Second, the weights are free to cross: *noir* looks
# back at the second English word and *chat* at the third. A translation model has to
# reorder like this all the time, and Bahdanau et al.'s figures of learned weights show it,
# for instance on *European Economic Area*, which French writes as *zone économique
# européenne*.
#
# Be clear about what the toy shows and what it does not. We handed the network the right
# alignment as its training target, so it learned a lookup table. In Bahdanau et al.'s
# model no one supplies an alignment: the attention weights are trained only because they
# help predict the translation, and the alignments in their figures emerged on their own.
# There, too, the annotations serve as the keys *and* the values, as in our code, where
# `english_vectors` is passed twice. The weighted average of the annotations, the output
# of attention pooling, is what they called the *context vector*: what the decoder reads
# before writing its next word.
#
# ## Why the tanh
#
# Take the nonlinearity away and the score falls apart into two terms:
#
# $$
# w_v^\top (W_q\, q + W_k\, k) = \underbrace{(w_v^\top W_q)\, q}_{\text{same for every key}}
# + (w_v^\top W_k)\, k .
# $$
#
# The first term is the same for every key of a given query, and softmax ignores anything
# added to all the scores alike (Chapter 1: only differences matter). What is left,
# $(w_v^\top W_k)\, k$, does not involve the query at all, so every query would get the
# *same* weights. The tanh is what makes the query and the key interact: because
# $\tanh(W_q q + W_k k) \ne \tanh(W_q q) + \tanh(W_k k)$, how much key $k$ contributes depends on the
# query it is added to. The first exercise checks this numerically.
#
# ## What it costs
#
# The parameters are few; the work is not. The broadcast builds a tensor with one entry
# per query, per key, per hidden unit, and applies a tanh to every entry.

# %% tags=["remove-input"]
def gib(entries: int) -> float:
    """Gibibytes of float32 entries."""
    return entries * 4 / 2**30


sentence = 50 * 50 * 1000  # two sentences of 50 words, hidden size 1000
document = 1000 * 1000 * 1000  # 1000 queries and 1000 keys, hidden size 1000
Markdown(
    f"For two sentences of 50 words and Bahdanau et al.'s hidden size of 1000, the "
    f"(queries, keys, hidden) tensor holds {sentence:,} numbers, "
    f"{gib(sentence) * 1024:.1f} MiB in float32, for a single sentence pair; with a batch "
    f"of 80 pairs, the batch size of their experiments, that is "
    f"{gib(80 * sentence):.2f} GiB. Make the sequences 1000 positions long, which is "
    f"modest today, and one pair alone needs {gib(document):.1f} GiB. The tensor grows with "
    f"the product of the two lengths *and* the hidden size, and every entry passes through "
    f"a tanh."
)

# %% [markdown]
# [Chapter 4](04_dot_product_attention.py) replaces the whole network with a dot product:
# no parameters, no hidden tensor, one matrix product for all the scores. It counts and
# measures what that saves, and what it gives up.
#
# ## Summary
#
# - **Additive attention** (Bahdanau, Cho and Bengio, 2015) scores a query against a key
#   with a one-hidden-layer network: $a(q, k) = w_v^\top \tanh(W_q q + W_k k)$.
# - **Shapes:** $W_q$ is $d_a \times d_q$, $W_k$ is $d_a \times d_k$, $w_v$ has $d_a$ entries;
#   $d_a(d_q + d_k + 1)$ parameters in all, whatever the number of queries and keys.
# - Queries and keys meet only after both are projected to the hidden size, so **their
#   sizes may differ**: the reason it could serve a bidirectional encoder directly, and
#   why it came first.
# - All scores at once: project each query and each key once, **broadcast** the sum to
#   a (queries, keys, hidden) tensor, tanh, and read out with $w_v$.
# - Then the usual steps: **softmax** over the keys (Chapter 1) and **attention
#   pooling** of the values (Chapter 2).
# - The tanh makes query and key interact; without it every query gets the same weights.
# - The cost is the hidden tensor: its size is the product of the number of queries, the
#   number of keys and the hidden size.

# %% [markdown]
# ## Exercises
#
# 1. **Without the tanh.** Using the weights of `attend` from this chapter, compute the
#    scores of three queries against five keys with the tanh left out, turn them into
#    weights with a softmax, and show that the three rows of weights are the same.
# 2. **Padding.** Sentences in a batch have different lengths, so the shorter ones are
#    padded. Make a batch of two "sentences" of 5 and 3 keys (padded to 5) with two
#    queries each, and call `attend` with `mask=attention.padding_mask([5, 3], max_len=5)`.
#    Check that the padded keys get weight exactly 0 and that every row still sums to 1.
# 3. **A network on the concatenation.** Show that the score is a one-hidden-layer
#    network on $[q; k]$: build an `nn.Linear(query_size + key_size, hidden_size, bias=False)`
#    whose weight is `torch.cat([W_q, W_k], dim=1)`, apply it to the concatenation of a
#    query and a key, then tanh and $w_v$, and compare with the score from the broadcast.

# %% tags=["solution"]
# Exercise 1: without the tanh, the query's term is the same for every key.
with torch.no_grad():
    linear_pairs = projected_query[:, :, None, :] + projected_key[:, None, :, :]
    linear_scores = attend.w_v(linear_pairs).squeeze(-1)  # (1, 3, 5), no tanh
    linear_weights = torch.softmax(linear_scores, dim=-1)[0]  # (3, 5)
print(linear_weights)
spread = (linear_weights - linear_weights[0]).abs().max().item()
print("largest difference between rows:", spread)

# %% tags=["solution"]
# Exercise 2: padded keys get exactly zero weight.
batch_query = torch.randn(2, 2, query_size)  # (batch, queries, query_size)
batch_key = torch.randn(2, 5, key_size)  # (batch, keys, key_size)
batch_value = torch.randn(2, 5, 7)  # (batch, keys, value_size)
mask = attention.padding_mask([5, 3], max_len=5)  # (batch, 1, keys)
with torch.no_grad():
    _, padded_weights = attend(batch_query, batch_key, batch_value, mask=mask)
print(padded_weights)
print("weight on padding:", padded_weights[1, :, 3:].abs().max().item())
print("row sums:", padded_weights.sum(dim=-1))

# %% tags=["solution"]
# Exercise 3: one linear layer on [q; k] is W_q q + W_k k.
concat_layer = torch.nn.Linear(query_size + key_size, hidden_size, bias=False)
with torch.no_grad():
    # (hidden, query_size + key_size)
    concat_layer.weight.copy_(torch.cat([W_q, W_k], dim=1))
    pair = torch.cat([query[0, 1], key[0, 2]])  # (query_size + key_size,)
    concat_score = w_v @ torch.tanh(concat_layer(pair))
print(f"on the concatenation: {concat_score.item():.6f}")
print(f"from the broadcast:   {scores[0, 1, 2].item():.6f}")

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
# Attention was invented to rescue a model that was failing. In 2014 the best neural
# translation systems read a sentence with a recurrent network, squeezed it into one
# vector of fixed size, and wrote the translation from that vector alone; the longer the
# sentence, the worse the translation. This chapter starts there. We build such a model,
# train it on a task whose difficulty grows with length, and watch it fail; then we let
# its decoder look back at every word of the source, with weights from a small network,
# and watch the failure go away. That small network is *additive attention*, version 0
# of the attention this book follows to the Transformer. We look at the alignment it
# learns, at why the Transformer later threw the recurrent network away and kept the
# attention, and then we take the network apart: its formula and the shape of each
# weight, how it scores every query against every key at once by broadcasting, how many
# parameters it has, how it plugs into the attention pooling of
# [Chapter 2](02_queries_keys_values.py), and what it costs.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown

import attention
from attention.book.plotting import COLORS, use_book_style
from attention.transformer.tasks import END, PAD, START, DigitTask
from attention.transformer.training import train

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: extra threads cost more than they save
np.set_printoptions(precision=4, suppress=True)
torch.set_printoptions(precision=4)

# %% [markdown]
# ## Before attention: the whole sentence in one vector
#
# In 2014 two groups showed that one neural network could translate on its own
# ([Sutskever, Vinyals and Le](../reference/references.md#sutskever2014);
# [Cho et al.](../reference/references.md#cho2014)). Both used an *encoder–decoder*. The
# encoder is a recurrent network: it reads the source one token at a time and keeps a
# state vector, updated at every token from the previous state and the token's embedding
# $x_j$. Call the state after token $j$ by the letter $k_j$ (the reason for the letter comes
# in a moment):
#
# $$
# k_j = \operatorname{GRU}(k_{j-1}, x_j), \qquad j = 1, \dots, T_s .
# $$
#
# GRU, the *gated recurrent unit* that Cho et al. introduced, is one choice of update:
# learned gates decide, entry by entry, how much of the old state to keep and how much to
# overwrite. After the last token, $k_{T_s}$ has read the whole source. The decoder is a
# second recurrent network that starts from that vector and writes the target one token
# at a time; its state $q_t$ after writing $t - 1$ tokens reads the embedding $y_{t-1}$ of
# the last token written, and, in Cho et al.'s version, the source summary again at every
# step:
#
# $$
# q_t = \operatorname{GRU}\big(q_{t-1}, [y_{t-1}; k_{T_s}]\big),
# $$
#
# and a linear layer turns $[q_t; k_{T_s}]$ into the scores of the next token. Everything
# the decoder will ever know about the source has to pass through $k_{T_s}$, a vector of
# the same size for a sentence of five words and for one of fifty.
# [Cho et al. (2014b)](../reference/references.md#cho2014b) measured what that costs:
# the translations of such models got much worse as sentences got longer. Sutskever et al.
# found that reading the source *backwards* helped, because it put the first source words
# close to the first target words, a hint that the distance information has to travel
# matters.
#
# [Bahdanau, Cho and Bengio](../reference/references.md#bahdanau2015) (posted in 2014,
# published at ICLR 2015) blamed the fixed-size vector and removed it. Their decoder
# keeps every encoder state, one *annotation* $k_j$ per source token, and before each
# step it computes a fresh summary: a weighted average of all the annotations, with
# weights that depend on where the decoder is:
#
# $$
# q_t = \operatorname{GRU}\big(q_{t-1}, [y_{t-1}; f(q_{t-1})]\big), \qquad
# f(q_{t-1}) = \sum_{j=1}^{T_s} \alpha(q_{t-1}, k_j)\, k_j .
# $$
#
# This is the attention pooling of [Chapter 2](02_queries_keys_values.py): the decoder's
# previous state is the query, the annotations are the keys and also the values, and the
# weights $\alpha$ are a softmax of scores from a small network. The only change to the
# model is that $k_{T_s}$, the same at every step, became $f(q_{t-1})$, different at every
# step.
#
# ## Seeing the bottleneck: reversing strings of digits
#
# Bahdanau et al. showed the effect on English-to-French translation, with models of a
# thousand units, each trained for about five days. We can show it on a CPU in seconds with a task whose
# difficulty grows with length: reverse a string of digits
# (`attention.tasks.DigitTask`, which [Chapter 13](13_training_a_transformer.py) uses
# too). A string of 12 digits carries twelve times the information of one, and a
# model that reverses it must hold all of it until it writes the first digit.

# %%
task = DigitTask("reverse", min_len=2, max_len=12)
examples, answers = task.sample(3, torch.Generator().manual_seed(0))
for s, t in zip(examples, answers):
    print(f"{task.to_text(s):>24}  ->  {task.to_text(t)}")

# %% [markdown]
# The package's `attention.RNNEncoderDecoder` is the model above, in two variants that
# differ only in the decoder's context. Its encoder reads the source in both directions,
# as Bahdanau et al.'s did, and an annotation joins the two readers' states at one
# position; the fixed vector joins each reader's last state. With `attention_size=None`
# the decoder gets that fixed vector at every step; with an `attention_size` it gets the
# attention pooling of the annotations, scored by the package's `AdditiveAttention`. Both
# start from the same seed and get the same training: 200 steps of Adam on batches of 32
# strings of 2 to 12 digits, with `attention.training.train`.

# %%
sizes = dict(vocab_size=task.vocab_size, embedding_size=16, hidden_size=32)
torch.manual_seed(0)
fixed = attention.RNNEncoderDecoder(**sizes)  # one vector for the whole source
torch.manual_seed(0)
attentive = attention.RNNEncoderDecoder(**sizes, attention_size=16)  # version 0
models = {"fixed vector": fixed, "attention": attentive}
for name, model in models.items():
    count = sum(p.numel() for p in model.parameters())
    print(f"{name:>12}: {count:,} parameters")

steps, batch_size = 200, 32
logs = {}  # name -> the TrainingLog of its run
for name, model in models.items():
    batches = torch.Generator().manual_seed(0)  # the same batches for both
    logs[name] = train(model, task, steps, batch_size, batches, lr=0.01, warmup=50)

# %% [markdown]
# We test on strings the models never saw in training (the task keeps a held-out share
# apart), and count a string as right only if every digit and the end token are right.

# %%
held_out = torch.Generator().manual_seed(1)
test_source, test_target = task.sample(3000, held_out, held_out=True)
test_lengths = (test_source != PAD).sum(dim=1)  # (examples,)
lengths = np.arange(task.min_len, task.max_len + 1)
width = test_target.shape[1]  # 13: up to 12 digits and the end token

generated = {}  # name -> (tokens, weights): (examples, 13), (examples, 13, 12)
accuracy = {}  # name -> the share reversed exactly, for each length
for name, model in models.items():
    tokens, weights = model.generate(test_source, START, END, max_len=width)
    tokens = F.pad(tokens, (0, width - tokens.shape[1]), value=PAD)
    generated[name] = tokens, weights
    correct = (tokens == test_target).all(dim=1).float()  # (examples,)
    accuracy[name] = np.array(
        [correct[test_lengths == n].mean().item() for n in lengths]
    )

fig, ax = plt.subplots(figsize=(6, 3.4))
for (name, values), marker in zip(accuracy.items(), ["o", "s"]):
    ax.plot(lengths, values, marker=marker, label=name)
ax.set_xlabel("source length (digits)")
ax.set_ylabel("strings reversed exactly")
ax.set_ylim(-0.03, 1.03)
ax.set_xticks(lengths)
ax.legend()
plt.show()

# %% tags=["remove-input"]
fixed_acc, attentive_acc = accuracy["fixed vector"], accuracy["attention"]
half = lengths[np.argmax(fixed_acc < 0.5)]
Markdown(
    f"**Figure 3.1.** Share of held-out digit strings reversed exactly, by length, for two "
    f"GRU encoder–decoders trained alike. The fixed-vector model reverses "
    f"{fixed_acc[0]:.0%} of the {lengths[0]}-digit strings, fewer than half from {half} "
    f"digits on, and {fixed_acc[-1]:.0%} of the {lengths[-1]}-digit ones. With attention the "
    f"model still gets {attentive_acc[-1]:.0%} of the longest strings right. Bahdanau et "
    f"al.'s Figure 2 has the same shape, in translation quality against sentence length."
)

# %% tags=["remove-input"]
Markdown(
    f"The two models have the same encoder, the same decoder and the same training; the "
    f"attentive one has {sum(p.numel() for p in attentive.parameters()) - sum(p.numel() for p in fixed.parameters()):,} "
    f"more parameters, those of its attention. At the end of training the fixed-vector model's "
    f"loss was still {logs['fixed vector'].losses[-1]:.2f}, the attentive one's "
    f"{logs['attention'].losses[-1]:.3f}. More units and longer training would help the "
    f"fixed model, but its summary would still have one size for every string: here it "
    f"holds {2 * sizes['hidden_size']} numbers whether the string has 2 digits or 12, "
    f"while what it must carry grows with the length. The "
    f"attentive decoder has no such limit. It does not need to remember the digits at all, "
    f"only where it is, because it can look each digit up when it needs it."
)

# %% [markdown]
# ## The alignment
#
# Which annotations does the attentive decoder look at? `generate` returns, with each
# token it writes, the weights of the step that wrote it: one row per output token, one
# column per source digit. Bahdanau et al. drew these weights for sentence pairs (their
# Figure 3) and called them an *alignment*. Here they are for one 12-digit test string:

# %%
example = int((test_lengths == 12).nonzero()[0])  # the first 12-digit string
tokens, weights = generated["attention"]
source_digits = task.to_text(test_source[example]).split()
written = task.to_text(tokens[example]).split()  # the digits it wrote, <end>
fig = attention.plot_attention_weights(
    weights[example, :len(written), :len(source_digits)],  # (written, source)
    query_labels=written, key_labels=source_digits, vmax=1.0,
)
fig.axes[0].set_xlabel("source digit (key)")
fig.axes[0].set_ylabel("digit written (query step)")
plt.show()

# %% tags=["remove-input"]
all_weights = generated["attention"][1]  # (examples, 13, 12)
on_mirror, near_mirror = [], []
for b in range(len(test_source)):
    n = int(test_lengths[b])
    positions = torch.arange(n)
    mirror = n - 1 - positions  # the source position each written digit copies
    on_mirror.append(all_weights[b, positions, mirror])
    padded = F.pad(all_weights[b, :n, :n], (1, 1))  # one zero column at each side
    near_mirror.append(sum(padded[positions, mirror + 1 + offset] for offset in (-1, 0, 1)))
on_mirror, near_mirror = torch.cat(on_mirror), torch.cat(near_mirror)
Markdown(
    f"**Figure 3.2.** The attention weights of the attentive model while it reverses "
    f"the string `{task.to_text(test_source[example])}`: row $t$ holds the weights "
    f"$\\alpha(q_{{t-1}}, k_j)$ over the source digits $j$ of the step that wrote output "
    f"token $t$. The bright cells run along the anti-diagonal: to write its $t$-th digit, the "
    f"decoder looks at the $t$-th digit from the end. Over all {len(test_source):,} test "
    f"strings, a written digit puts on average {on_mirror.mean():.2f} of its weight on the "
    f"digit it copies, and {near_mirror.mean():.2f} on it and its two neighbours together. "
    f"No one told the model where to look: it was trained only to predict the next digit."
)

# %% [markdown]
# Attention, then, did more than fix long sentences: it made the model show its work.
# The weights are an alignment between the output and the input, learned without ever
# being supplied, which is where the name *alignment model* for the score comes from.
#
# Bahdanau et al. were not the first to let a network weigh the positions of a sequence
# softly. [Graves (2013)](../reference/references.md#graves2013), generating handwriting
# from text, gave his network a *soft window* over the characters of the text: a mixture
# of Gaussian bumps over the character positions, whose centres the network learned to
# move forward as it wrote. Those weights depend on position only. Bahdanau et al.'s
# weights come from comparing the decoder's state with the *content* of every annotation,
# and this content-based form is the one the rest of the book follows to the Transformer.
#
# ## Why the Transformer dropped the recurrence
#
# The attentive model still has two recurrent networks, and they set its pace. The
# encoder reads the source one token after another: state $k_j$ needs $k_{j-1}$. The
# decoder is worse: even in training, when teacher forcing hands it every target token in
# advance, it must run step by step, because the query of step $t$ is the state that step
# $t - 1$ produced (`GRUDecoder.forward` is a Python loop). On hardware that does
# thousands of multiplications at once, sequential steps waste most of it. Three years
# later, [Vaswani et al.](../reference/references.md#vaswani2017) kept attention and dropped
# the recurrence: in *self-attention* ([Chapter 8](08_self_attention.py)) every position of a sequence attends to
# every other position directly, all at once. Their Table 1 compares one layer of each
# kind for a sequence of $T$ positions and vectors of size $d$ (and a convolution's kernel
# width $w$), counting the work, the operations that must run one after another, and the
# longest path a signal travels between two positions, up to constant factors. Here it is
# with numbers.

# %% tags=["remove-input"]
def layer_costs(T: int, d: int, w: int = 3) -> dict[str, tuple[int, int, int]]:
    """Vaswani et al.'s Table 1 (work, sequential steps, longest path), up to constants."""
    dilated_depth = int(np.ceil(np.log(T) / np.log(w)))
    return {
        "self-attention": (T * T * d, 1, 1),
        "recurrent": (T * d * d, T, T),
        "dilated convolution": (w * T * d * d, 1, dilated_depth),
    }


ours = dict(T=int(lengths[-1]), d=sizes["hidden_size"])
theirs = dict(T=50, d=1000)
formulas = {  # work, sequential steps, longest path
    "self-attention": ("T^2 d", "", ""),
    "recurrent": ("T d^2", "T", "T"),
    "dilated convolution": ("w T d^2", "", "\\lceil \\log_w T \\rceil"),
}
small, large = layer_costs(**ours), layer_costs(**theirs)


def cell(formula: str, value: int) -> str:
    """A table cell: the formula and its value, or the value alone."""
    in_math = f"{value:,}".replace(",", "{,}")  # TeX spaces a bare comma
    return f"${formula} = {in_math}$" if formula else f"{value:,}"


rows = ["| layer | work per layer | sequential steps | longest path |",
        "| --- | --- | --- | --- |"]
for name, values in small.items():
    rows.append(f"| {name} | " + " | ".join(map(cell, formulas[name], values)) + " |")
ratio = large["recurrent"][0] / large["self-attention"][0]
Markdown(
    f"For our sizes, $T = {ours['T']}$ digits and $d = {ours['d']}$, with a kernel "
    f"width $w = 3$:\n\n"
    + "\n".join(rows)
    + f"\n\nFor a sentence of {theirs['T']} words and vectors of {theirs['d']}, as in "
    f"Bahdanau et al.'s model, a recurrent layer does {ratio:.0f} times the work of a "
    f"self-attention layer ({large['recurrent'][0]:,} against {large['self-attention'][0]:,}), "
    f"in {theirs['T']} steps that must run in order instead of one, and a signal from the "
    f"first word reaches the last through {theirs['T']} state updates instead of one (a "
    f"stack of dilated convolutions needs {large['dilated convolution'][2]} layers). "
    f"Self-attention's work grows with $T^2$, so it is the cheaper layer as long as "
    f"$T < d$, which held for the sentences of 2017; "
    f"[Chapter 15](15_what_attention_costs.py) looks at what happens when it stops holding."
)

# %% [markdown]
# The path length is the bottleneck of Figure 3.1 seen from another side. In the
# fixed-vector model the first source digit reaches the decoder only through every state
# update after it; attention gives each decoder step a path of length one to every
# annotation, and self-attention gives the same short path to every pair of positions in
# a layer. The rest of the book follows that one idea from version 0 to the Transformer.
# The first step is to look closely at the small network that computed the weights of
# Figure 3.2.

# %% [markdown]
# ## The score is a small network
#
# In the model we just trained, as in Bahdanau et al.'s, the encoder leaves one
# annotation per source token, and before writing each token the decoder asks which
# source tokens matter now. Its state is the **query** $q$, the annotations are the
# **keys** $k_1, \dots, k_n$ (and also the values), and the question "how well does key
# $k$ fit query $q$?" is answered by a learned score function, which Bahdanau et al.
# called the *alignment model*:
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
# ## Keys and queries of different sizes
#
# The score never multiplies a query entry with a key entry. Each vector is first
# projected into the shared hidden space of size $d_a$, and only there do they meet. So
# $d_q$ and $d_k$ are free to differ, and in Bahdanau's model they did: the keys came from
# a bidirectional encoder, a forward and a backward reader whose states were concatenated,
# so a key was twice the size of the decoder's state. Our `attentive` model is built the
# same way, with annotations twice the size of its decoder state. A plain dot
# product, the score of [Chapter 2](02_queries_keys_values.py)'s worked example, cannot
# compare vectors of different sizes; the additive score has the projections built in.
#
# This is a property of the score, not a known reason for choosing it. The paper says
# only that the alignment model is a feed-forward network trained with the rest of the
# model. Other scores handle unequal sizes too: the *general* score of
# [Luong, Pham and Manning (2015)](../reference/references.md#luong2015), a bilinear form
# with one learned matrix between the query and the key, does
# ([Chapter 4](04_dot_product_attention.py)).
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
# sentence and reused for every word the decoder writes. The package's `GRUDecoder` calls
# `AdditiveAttention` at every step and so recomputes it, which keeps the code short.)
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

# %%
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
    f"**Figure 3.3.** Additive attention weights of six French words (rows, the queries, "
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
# model, as in our digit reverser of Figure 3.2, no one supplies an alignment: the
# attention weights are trained only because they help predict the output, and the
# alignments emerge on their own.
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
# - Before attention, an **encoder–decoder** read the source with a recurrent network into
#   one vector of fixed size and wrote the output from it (Sutskever et al.; Cho et al.,
#   2014). Its accuracy **falls with the length** of the source (Figure 3.1).
# - Bahdanau, Cho and Bengio (arXiv 2014, ICLR 2015) let the decoder take, at every step,
#   a **weighted average of all the encoder states**, with its previous state as the
#   query: the accuracy holds, and the weights show a learned **alignment** (Figure 3.2).
# - Recurrence runs one position after another and connects distant positions through
#   many steps; self-attention (Vaswani et al., 2017) does one step, with a path of
#   length one between any two positions, at a work of $T^2 d$ per layer.
# - **Additive attention** scores a query against a key
#   with a one-hidden-layer network: $a(q, k) = w_v^\top \tanh(W_q q + W_k k)$.
# - **Shapes:** $W_q$ is $d_a \times d_q$, $W_k$ is $d_a \times d_k$, $w_v$ has $d_a$ entries;
#   $d_a(d_q + d_k + 1)$ parameters in all, whatever the number of queries and keys.
# - Queries and keys meet only after both are projected to the hidden size, so **their
#   sizes may differ**, as they do with a bidirectional encoder (Luong's general score
#   allows it too).
# - All scores at once: project each query and each key once, **broadcast** the sum to
#   a (queries, keys, hidden) tensor, tanh, and read out with $w_v$.
# - Then the usual steps: **softmax** over the keys (Chapter 1) and **attention
#   pooling** of the values (Chapter 2).
# - The tanh makes query and key interact; without it every query gets the same weights.
# - The cost is the hidden tensor: its size is the product of the number of queries, the
#   number of keys and the hidden size.

# %% [markdown]
# ## Exercises

# %% [markdown]
# 1. **Which digits are lost.** For the 12-digit test strings, compute the share of
#    correct digits at each output position, for `fixed` and for `attentive`. Which
#    digits does the fixed-vector model get wrong: the first ones it writes, or the last?
#    Why?

# %% tags=["solution"]
# Exercise 1: accuracy by output position on the 12-digit strings.
long = test_lengths == 12  # (examples,)
for name, (tokens, _) in generated.items():
    right = tokens[long, :12] == test_target[long, :12]  # (long examples, 12)
    by_position = right.float().mean(dim=0)  # (12,)
    print(f"{name:>12}:", " ".join(f"{a:.2f}" for a in by_position.tolist()))
# The fixed model gets the first digits it writes right most often, and does
# worse at every later position. The first digits it writes are the last ones
# of the source, which the forward reader read just before the summary was
# taken; every later digit has been kept longer, through more updates of the
# encoder's state and then of the decoder's own. The attentive model looks each
# digit up when it writes it, and its accuracy falls far less from the first
# position to the last.

# %% [markdown]
# 2. **Where self-attention costs more.** The Transformer's base model has $d = 512$.
#    Compute the work of one self-attention layer ($T^2 d$) and of one recurrent layer
#    ($T d^2$) for $T$ = 64, 512 and 4096 positions, and their ratio. At which length do
#    they cost the same?

# %% tags=["solution"]
# Exercise 2: T^2 d against T d^2, for d = 512.
d_base = 512
for T_len in (64, 512, 4096):
    self_attention, recurrent = T_len**2 * d_base, T_len * d_base**2
    print(f"T = {T_len:>4}: self-attention {self_attention:>13,}"
          f"  recurrent {recurrent:>13,}  ratio {self_attention / recurrent:.3g}")
# The ratio is T / d: equal cost at T = d = 512, self-attention cheaper below,
# dearer above. It still runs in one step instead of T (Chapter 15 counts what
# long sequences cost).

# %% [markdown]
# 3. **Without the tanh.** Using the weights of `attend` from this chapter, compute the
#    scores of three queries against five keys with the tanh left out, turn them into
#    weights with a softmax, and show that the three rows of weights are the same.

# %% tags=["solution"]
# Exercise 3: without the tanh, the query's term is the same for every key.
with torch.no_grad():
    linear_pairs = projected_query[:, :, None, :] + projected_key[:, None, :, :]
    linear_scores = attend.w_v(linear_pairs).squeeze(-1)  # (1, 3, 5), no tanh
    linear_weights = torch.softmax(linear_scores, dim=-1)[0]  # (3, 5)
print(linear_weights.numpy())
spread = (linear_weights - linear_weights[0]).abs().max().item()
print(f"largest difference between rows: {spread:.1e}")

# %% [markdown]
# 4. **Padding.** Sentences in a batch have different lengths, so the shorter ones are
#    padded. Make a batch of two "sentences" of 5 and 3 keys (padded to 5) with two
#    queries each, and call `attend` with `mask=attention.padding_mask([5, 3], max_len=5)`.
#    Check that the padded keys get weight exactly 0 and that every row still sums to 1.

# %% tags=["solution"]
# Exercise 4: padded keys get exactly zero weight.
batch_query = torch.randn(2, 2, query_size)  # (batch, queries, query_size)
batch_key = torch.randn(2, 5, key_size)  # (batch, keys, key_size)
batch_value = torch.randn(2, 5, 7)  # (batch, keys, value_size)
mask = attention.padding_mask([5, 3], max_len=5)  # (batch, 1, keys)
with torch.no_grad():
    _, padded_weights = attend(batch_query, batch_key, batch_value, mask=mask)
print(padded_weights.numpy())
print("weight on padding:", padded_weights[1, :, 3:].abs().max().item())
print("row sums:", padded_weights.sum(dim=-1).numpy())

# %% [markdown]
# 5. **A network on the concatenation.** Show that the score is a one-hidden-layer
#    network on $[q; k]$: build an `nn.Linear(query_size + key_size, hidden_size, bias=False)`
#    whose weight is `torch.cat([W_q, W_k], dim=1)`, apply it to the concatenation of a
#    query and a key, then tanh and $w_v$, and compare with the score from the broadcast.

# %% tags=["solution"]
# Exercise 5: one linear layer on [q; k] is W_q q + W_k k.
concat_layer = torch.nn.Linear(query_size + key_size, hidden_size, bias=False)
with torch.no_grad():
    # (hidden, query_size + key_size)
    concat_layer.weight.copy_(torch.cat([W_q, W_k], dim=1))
    pair = torch.cat([query[0, 1], key[0, 2]])  # (query_size + key_size,)
    concat_score = w_v @ torch.tanh(concat_layer(pair))
print(f"on the concatenation: {concat_score.item():.6f}")
print(f"from the broadcast:   {scores[0, 1, 2].item():.6f}")

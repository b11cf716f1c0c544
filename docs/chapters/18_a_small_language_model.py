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
# # A small decoder-only language model
#
# The language models people use today, the GPT family, LLaMA, Mistral and the
# rest, are *decoder-only*: no encoder and no cross-attention, only a stack of
# causal self-attention blocks trained to predict the next token of a text.
# [Chapter 17](17_kv_cache_and_grouped_query_attention.py) decoded with such a model
# but left its weights random. This chapter trains one, on the prose of this book,
# while the page is built: a character-level model small enough to learn in a few
# seconds on one CPU core. We look at its loss on text it has not seen, at what it
# writes, and at what its heads attend to. The model, `attention.GPT`, is the
# workhorse of Part V: each of the following chapters changes one thing in it (how
# it knows positions, which keys it may see, what it caches) and measures what that
# changes.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown

import attention
from attention.versions.overview import count_parameters
from attention.modern.language_modeling import heldout_loss
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: one thread, the same numbers every build

# %% [markdown]
# ## The text: this book
#
# A language model learns from text, and we have some at hand: the chapters of this
# book. `attention.book_text()` returns the prose of chapters 1 to 13, read once
# from their Markdown cells and saved with the package, so training needs no
# download. Code, mathematics and lists were left out (a sentence with a formula is
# dropped whole), so what remains is plain English about attention.
#
# The model reads characters, not words: every distinct character is one token, and
# `attention.CharTokenizer` numbers them. A vocabulary of characters is tiny, and
# any text can be written with it; the price is long sequences, since a word takes
# several tokens. We keep the last tenth of the text apart, *held out*: the model
# never trains on it, so its loss there says how well it predicts text it has not
# seen. (The next chapters get the same three things in one call,
# `tokenizer, train_tokens, heldout_tokens = attention.book_tokens()`.)

# %%
text = attention.book_text()
tokenizer = attention.CharTokenizer(text)
tokens = torch.from_numpy(tokenizer.encode(text))  # (N,) int64
split = int(0.9 * len(tokens))
train_tokens, heldout_tokens = tokens[:split], tokens[split:]
print(f"{len(text):,} characters, {len(tokenizer)} distinct: "
      f"{tokenizer.vocabulary!r}")
print(f"training: {len(train_tokens):,} tokens, held out: "
      f"{len(heldout_tokens):,}")
print("the held-out text begins:", repr(text[split:split + 120]))

# %% [markdown]
# ## The model
#
# `attention.GPT` is what [Chapter 12](12_transformer_architecture.py) called a
# decoder, without the cross-attention, in the arrangement most language models
# have used since GPT-2 ([Radford et al., 2019](../reference/references.md#radford2019)):
#
# * each token becomes a row of the embedding matrix $E$, and a learned vector for
#   its position, $\mathrm{PE}_p$, is added to it;
# * $N$ blocks follow, each *pre-norm*: with $x$ the vector of one position,
#   $x' = x + \operatorname{Attn}(\operatorname{LN}(x))$, then
#   $x'' = x' + \operatorname{FFN}(\operatorname{LN}(x'))$, where the attention is
#   causal self-attention over the positions so far and the feed-forward network
#   is that of Chapter 12;
# * a final layer norm, and the logits $\text{logit}_i = r \cdot E_i$ of every token
#   $i$, with $r$ the last block's output at that position: the output matrix is
#   the embedding matrix itself, *tied*
#   ([Press and Wolf, 2017](../reference/references.md#press2017)).
#
# The attention layers are the package's `GroupedQueryAttention` of Chapter 17
# (here with a key/value head per query head, which is plain multi-head attention),
# extended to take positions:
# `attention.modern.causal_self_attention.CausalSelfAttention`. Ours is tiny:

# %%
config = dict(d_model=48, num_heads=4, num_layers=2, max_len=32)
torch.manual_seed(0)  # the initial weights
model = attention.GPT(len(tokenizer), **config)
parts = {
    "token embedding (tied)": count_parameters(model.token_embedding),
    "position embedding": count_parameters(model.positions),
    "attention (2 blocks)": sum(count_parameters(b.attention) for b in model.blocks),
    "feed-forward (2 blocks)": sum(count_parameters(b.mlp) for b in model.blocks),
    "layer norms": count_parameters(model) - sum(
        count_parameters(m) for m in (model.token_embedding, model.positions))
    - sum(count_parameters(b.attention) + count_parameters(b.mlp)
          for b in model.blocks),
}
for name, count in parts.items():
    print(f"{name:>24}: {count:6,}")
print(f"{'total':>24}: {count_parameters(model):6,}")

# %% tags=["remove-input"]
Markdown(
    f"About {count_parameters(model) / 1e3:.0f} thousand parameters, where GPT-2's "
    f"smallest model has 124 million. The model reads at most "
    f"{config['max_len']} characters at a time: that is how many positions have a "
    f"learned vector. Every position of its input is a query of the causal "
    f"self-attention, so one forward pass predicts the next character at all "
    f"{config['max_len']} positions at once."
)

# %% [markdown]
# ## What it learns: the next token
#
# Training shows the model a window of the text and asks, at every position, for a
# probability distribution over the next character. The loss is the cross-entropy:
# minus the log of the probability given to the character that really comes next,
# averaged over the positions. The causal mask is what makes this honest: position
# $t$ may not attend to position $t + 1$, whose token is the answer. In nats, a model
# that knows nothing and spreads its probability evenly scores
# $\mathcal{L} = \ln n_{\text{vocab}}$. Two simple models give the scale of what
# is good: the *unigram* model predicts each character by how often it occurs in the
# training text, ignoring the context; the *bigram* model by how often it follows
# the character before it. Both are counted from the training share and scored on
# the held-out share:

# %%
counts = np.ones((len(tokenizer), len(tokenizer)))  # add-one smoothing
np.add.at(counts, (train_tokens[:-1].numpy(), train_tokens[1:].numpy()), 1)
unigram = counts.sum(axis=0) / counts.sum()  # P(next)
bigram = counts / counts.sum(axis=1, keepdims=True)  # P(next | previous)
previous, following = heldout_tokens[:-1].numpy(), heldout_tokens[1:].numpy()
unigram_loss = -np.log(unigram[following]).mean()
bigram_loss = -np.log(bigram[previous, following]).mean()
with torch.no_grad():
    initial_loss = heldout_loss(model, heldout_tokens, config["max_len"])
print(f"uniform guess: {np.log(len(tokenizer)):.2f} nats")
print(f"unigram: {unigram_loss:.2f}, bigram: {bigram_loss:.2f} nats")
print(f"the untrained model: {initial_loss:.2f} nats")

# %% [markdown]
# ## Training
#
# Each step draws 32 windows of 32 characters at random places of the training text
# (`attention.modern.language_modeling.random_windows`), computes the loss at all their
# positions, and takes one step of the Adam optimiser of
# [Chapter 13](13_training_a_transformer.py#the-learning-rate-schedule), with its
# warm-up schedule. Every 50 steps, `train_language_model` measures the loss on the
# whole held-out text. The windows come from a seeded generator and the model runs on
# one thread, so every build trains the same model.

# %%
steps, batch_size, length = 300, 32, config["max_len"]
start = time.perf_counter()
log = attention.train_language_model(
    model, train_tokens, steps=steps, batch_size=batch_size, length=length,
    generator=torch.Generator().manual_seed(0), lr=1e-2, warmup=30,
    heldout=heldout_tokens, eval_every=50)
seconds = time.perf_counter() - start

# %% tags=["remove-input", "measured"]
Markdown(
    f"Training took {seconds:.1f} seconds on the machine that built this page (the "
    f"one number here that changes from build to build): {steps} steps of "
    f"{batch_size * length:,} characters, "
    f"{steps * batch_size * length / len(train_tokens):.1f} passes over the "
    f"training text."
)

# %%
window = 20
losses = np.array(log.losses)
running = np.convolve(losses, np.ones(window) / window, mode="valid")
fig, ax = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
ax.plot(np.arange(1, steps + 1), losses, color=COLORS[0], alpha=0.3, linewidth=1)
ax.plot(np.arange(window, steps + 1), running, color=COLORS[0],
        label=f"training (mean of {window} batches)")
ax.plot(log.eval_steps, log.heldout_losses, "o-", color=COLORS[1],
        label="held out")
for level, name, style in ((unigram_loss, "unigram", ":"),
                           (bigram_loss, "bigram", "--")):
    ax.axhline(level, color=COLORS[2], linestyle=style, linewidth=1.2,
               label=f"{name} model (held out)")
ax.set(xlabel="training step", ylabel="cross-entropy (nats)", ylim=(1.5, 4.6))
ax.legend()
plt.show()

# %% tags=["remove-input"]
final_heldout = log.heldout_losses[-1]
final_train = float(np.mean(log.losses[-window:]))
Markdown(
    f"**Figure 18.1.** The loss of every training batch (faint), its running mean, "
    f"and the loss on the held-out text every 50 steps. The model starts at "
    f"{log.losses[0]:.2f} nats, about $\\ln n_{{\\text{{vocab}}}}$; it passes the "
    f"unigram model ({unigram_loss:.2f}) within the first "
    f"{log.eval_steps[int(np.argmax(np.array(log.heldout_losses) < unigram_loss))]} "
    f"steps and ends at {final_heldout:.2f} on held-out text, "
    f"{bigram_loss - final_heldout:.2f} below the bigram model. The training loss "
    f"({final_train:.2f} at the end) stays close to the held-out one: in "
    f"{steps * batch_size * length / len(train_tokens):.0f} passes over the text, "
    f"the model has not started to learn it by heart."
)

# %% [markdown]
# ## What it writes
#
# To write, the model is given a prompt and extends it one character at a time,
# with the KV cache of Chapter 17 (`model.generate`). *Greedy* decoding takes the
# most likely character every time; *sampling* draws it from the predicted
# distribution, sharpened by a temperature below 1 (Chapter 1), from a seeded
# generator, so that this page shows the same text on every build. The prompt is
# at most 32 characters minus what we ask for, since the model has no position
# beyond 32.

# %%
prompt = torch.from_numpy(tokenizer.encode("The attention ")).view(1, -1)  # (1, P)
num_new = config["max_len"] - prompt.shape[1]
greedy = model.generate(prompt, num_new)  # (1, P + num_new)
sampled = [model.generate(prompt, num_new, temperature=0.8,
                          generator=torch.Generator().manual_seed(seed))
           for seed in range(4)]
print("greedy:  ", repr(tokenizer.decode(greedy[0])))
for i, s in enumerate(sampled):
    print(f"sample {i}:", repr(tokenizer.decode(s[0])))
print("cached and uncached greedy decoding agree:",
      torch.equal(greedy, model.generate(prompt, num_new, use_cache=False)))

# %% tags=["remove-input"]
words = set(text.split())
written = " ".join(tokenizer.decode(s[0, prompt.shape[1]:]) for s in sampled).split()
real = sum(w.strip(".,;:()") in words for w in written)
Markdown(
    f"It is not English, but it is not noise either. The model has learned the "
    f"shape of the text: words of a few letters separated by single spaces, "
    f"frequent short words, letters in orders that English allows. Of the "
    f"{len(written)} space-separated pieces in the four samples, {real} are words "
    f"that occur in the book. Greedy decoding shows the weakness of always taking "
    f"the most likely character: a small model's likeliest continuation is a "
    f"frequent word, and from there the likeliest next one again, so it falls into "
    f"loops. Sampling escapes them. A loss of {final_heldout:.2f} nats per "
    f"character is a perplexity of $e^{{{final_heldout:.2f}}} = "
    f"{np.exp(final_heldout):.1f}$: the model is, on average, as unsure as if it "
    f"chose among {np.exp(final_heldout):.0f} equally likely characters. Models "
    f"that write fluent text are a million times bigger and train on a million "
    f"times more text; what they do inside each block is what this one does."
)

# %% [markdown]
# ## What it attends to
#
# `model(tokens, need_weights=True)` keeps each block's attention weights in
# `model.weights`, one tensor of shape `(batch, heads, queries, keys)` per block.
# Here they are for one short sentence, every head of both blocks:

# %%
sentence = "The query sees every key."
sentence_tokens = torch.from_numpy(tokenizer.encode(sentence)).view(1, -1)
with torch.no_grad():
    model(sentence_tokens, need_weights=True)
maps = torch.cat(model.weights)  # (blocks, heads, T, T)
labels = [c if c != " " else "␣" for c in sentence]
fig = attention.plot_attention_weights(
    maps.flatten(0, 1), labels, labels, cell_size=0.07, columns=4,
    titles=[f"block {b}, head {h}" for b in range(2) for h in range(4)])
for i, ax in enumerate(fig.axes[:-1]):  # characters on the outer panels only
    ax.tick_params(labelsize=5, length=0)
    if i < 4:
        ax.set(xticks=[], xlabel="")
    if i % 4:
        ax.set(yticks=[], ylabel="")
plt.show()

# %% tags=["remove-input"]
T = maps.shape[-1]
offsets = torch.arange(T)[:, None] - torch.arange(T)[None, :]  # (T, T): i - j
mean_distance = (maps * offsets).sum(-1).mean(-1)  # (blocks, heads)
on_previous = maps.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)  # (blocks, heads)
late = torch.arange(8, T)  # queries with at least 8 keys to choose from
on_first = maps[..., 8:, 0].mean(-1)  # (blocks, heads): weight on the first key
uniform_first = (1.0 / (late + 1)).mean().item()  # the same, for even weights
b, h = divmod(int(on_previous.argmax()), 4)
fb, fh = divmod(int(on_first.argmax()), 4)
if on_first[fb, fh] > 3 * uniform_first:
    first = (
        f"Block {fb}, head {fh} gives the first character of the window "
        f"{on_first[fb, fh]:.0%} of the weight of every query from position 8 "
        f"on, {on_first[fb, fh] / uniform_first:.0f} times what even weights "
        f"would give it, although it is nothing special in the text; "
        f"[Chapter 20](20_long_contexts.py) comes back to such heads.")
else:
    first = (
        f"No head singles out the first character: the most it gets from the "
        f"queries from position 8 on is {on_first[fb, fh]:.0%} (block {fb}, "
        f"head {fh}), where even weights would give it {uniform_first:.0%}. "
        f"[Chapter 20](20_long_contexts.py) looks for such heads again.")
Markdown(
    f"**Figure 18.2.** The attention weights of every head of the trained model on "
    f"a short sentence (␣ marks a space): row $i$ is query $i$, its weights over "
    f"the keys $j \\le i$. The heads differ. Block {b}, head {h} puts on average "
    f"{on_previous[b, h]:.0%} of each query's weight on the previous character, "
    f"what a bigram model would look at. Others spread their weight over the last "
    f"few characters (mean distances back, per head, from "
    f"{mean_distance.min():.1f} to {mean_distance.max():.1f} positions). {first}"
)

# %% [markdown]
# ## The model, varied
#
# Everything the following chapters change is an argument of `attention.GPT`:
#
# * `positions`: `"learned"` (as here), `"sinusoidal"` (Chapter 11), `"rope"` or
#   `"alibi"` (Chapter 19), `"none"`, or any `attention.PositionScheme`: an object
#   that may add vectors to the embeddings, rotate queries and keys, or add a bias
#   to the scores;
# * `pattern`: which keys each query sees, a function of their positions, which
#   also makes the caches for decoding (Chapter 20's sliding windows);
# * `num_kv_heads`: grouped-query attention (Chapter 17);
# * `attention`: a function that builds each layer's attention module, for a
#   different kind of attention altogether.
#
# The next chapter begins with the first of these: the model above cannot read a
# 33rd character, because it has no vector for position 32. How to give a model
# positions that work at any length?
#
# ## Summary
#
# * A decoder-only language model is a stack of causal self-attention blocks
#   trained to predict the next token at every position of a window at once; the
#   causal mask keeps each position from seeing its answer.
# * `attention.GPT` has token embeddings, a position scheme, pre-norm blocks of the
#   package's attention and feed-forward layers, and an output matrix tied to the
#   embedding. Trained for a few seconds on this book's prose, a model of a few
#   tens of thousands of parameters passes the unigram and bigram models on text
#   it has never seen.
# * Held-out loss measures prediction on unseen text; compare it with simple
#   baselines and with $\ln n_{\text{vocab}}$ to know what a number means.
# * It writes word-like text with sampling and loops with greedy decoding; its
#   heads specialise, some on the previous character, some on a wider span, some
#   on the first position.
#
# ## Exercises
#
# 1. Count the parameters of `model` by hand from $n_{\text{vocab}}$,
#    $d_{\text{model}}$, the maximum length and $N$, and check your count against
#    `count_parameters(model)`. How many more would untied embeddings cost?
# 2. Check that the trained model is causal: change the last character of a
#    window and show that the logits at every earlier position stay exactly the
#    same.
# 3. Sample from the trained model at temperatures 0.5, 1 and 2 (same seed) and
#    measure the mean entropy of its predicted distributions along each sample.
#    How does the temperature change the entropy, and the text?

# %% tags=["solution"]
# Exercise 1: the parameters, counted by hand.
V, d, L, N = len(tokenizer), config["d_model"], config["max_len"], 2
per_block = (4 * (d * d + d)            # w_q, w_k, w_v, w_o with biases
             + (d * 4 * d + 4 * d) + (4 * d * d + d)  # the feed-forward network
             + 2 * 2 * d)               # two layer norms, scale and shift
by_hand = V * d + L * d + N * per_block + 2 * d  # + the final layer norm
print(by_hand, count_parameters(model), "untied would add", V * d)

# %% tags=["solution"]
# Exercise 2: a later character changes no earlier logit.
window_tokens = heldout_tokens[:length].view(1, -1).clone()
changed = window_tokens.clone()
changed[0, -1] = (changed[0, -1] + 1) % len(tokenizer)
with torch.no_grad():
    same = torch.equal(model(window_tokens)[:, :-1], model(changed)[:, :-1])
print("earlier logits unchanged:", same)

# %% tags=["solution"]
# Exercise 3: temperature and entropy.
for temperature in (0.5, 1.0, 2.0):
    sample = model.generate(prompt, num_new, temperature=temperature,
                            generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(sample)[0] / temperature  # (T, vocab)
    entropy = -(F.softmax(logits, -1) * F.log_softmax(logits, -1)).sum(-1)
    print(f"T = {temperature}: mean entropy {entropy.mean():.2f} nats,",
          repr(tokenizer.decode(sample[0])))

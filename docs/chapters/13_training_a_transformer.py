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
# # Training a small Transformer
#
# The last chapters built every part of the Transformer: attention with masks
# ([Chapter 9](09_masks.py)), several heads ([Chapter 10](10_multi_head_attention.py)),
# positions ([Chapter 11](11_positional_encoding.py)) and the encoder-decoder stack
# ([Chapter 12](12_transformer_architecture.py)). This chapter trains one, from random
# weights, while the page is built. The task is small enough to learn in seconds on
# one CPU core and exact enough to grade without doubt: reverse a string of digits.
# On the way it covers what training a sequence-to-sequence model takes beyond the
# architecture: how the data is split so that the test means something, teacher
# forcing and why it needs the causal mask, the loss with label smoothing, the
# warm-up learning-rate schedule, and greedy decoding. At the end we open the trained
# model and look at its attention weights, which show, in the cross-attention, the
# algorithm it found.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown

import attention
from attention.versions.overview import count_parameters
from attention.book.plotting import COLORS, use_book_style
from attention.transformer.seq2seq import Seq2SeqTransformer, greedy_decode
from attention.transformer.tasks import END, PAD, START, DigitTask, decoder_input
from attention.transformer.training import (sequence_accuracy, sequence_loss, train,
                                warmup_then_decay)

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # fast for small tensors; the same numbers every build

# %% [markdown]
# ## The task: reverse a string of digits
#
# A source is a string of 2 to 8 random digits; its target is the same digits in
# reverse order, followed by an end token. `attention.transformer.tasks.DigitTask` generates as
# many pairs as we ask for. Tokens are small integers: 0 is padding, 1 is the start
# token, 2 the end token, and each digit is its value plus 3, so the vocabulary has 13 tokens.
# Sources are padded to 8 positions, targets to 9 (one more, for the end token).

# %%
task = DigitTask("reverse", min_len=2, max_len=8)
source, target = task.sample(4, torch.Generator().manual_seed(0))
# source: (4, 8), target: (4, 9)
print("source ids:", source[0].tolist())
print("target ids:", target[0].tolist())
print()
for s, t in zip(source, target):
    print(f"{task.to_text(s):>16}  ->  {task.to_text(t)}")

# %% [markdown]
# Reversal is a good first task because the answer needs *every* part of the model.
# Target position $i$ must copy source position $T_s - 1 - i$, where $T_s$ is the
# source's length: the model has to find out the length, count positions from both
# ends, and fetch the right digit from the source, which only cross-attention can
# do. And there is one right answer, so a prediction is either entirely right or
# wrong.
#
# ### A test set the model never trains on
#
# A model can do well on the examples it trained on by remembering them. The
# question that matters is whether it reverses sequences it has never seen. So the
# possible sources are split once and for all: a fixed hash of each source's digits
# puts about a tenth of them in a *held-out* share. `task.sample(...)` draws from the
# training share, `task.sample(..., held_out=True)` from the held-out share, and a
# held-out source can never appear in a training batch, whatever the seed or the
# number of steps.

# %%
def all_sources(length: int) -> torch.Tensor:
    """Every source of `length` digits, padded: (10**length, max_len)."""
    digits = torch.cartesian_prod(*[torch.arange(10)] * length)
    digits = digits.reshape(-1, length)  # (10**length, length)
    return F.pad(digits + 3, (0, task.max_len - length), value=PAD)


held_out_by_length = {n: task.is_held_out(all_sources(n)) for n in (1, 2, 3, 4)}
steps, batch_size = 250, 128  # the training run, below
train_batch, _ = task.sample(10_000, torch.Generator().manual_seed(0))
print("held-out sources in 10,000 training draws:",
      int(task.is_held_out(train_batch).sum()))

# %% tags=["remove-input"]
possible = sum(10**n for n in range(task.min_len, task.max_len + 1))
n2 = len(held_out_by_length[2])
held2 = int(held_out_by_length[2].sum())
lengths_seen = task.max_len - task.min_len + 1
held1 = int(held_out_by_length[1].sum())
lone = held_out_by_length[1].nonzero().flatten().tolist()  # the digits held out
count_word = {1: "one", 2: "two", 3: "three"}.get(held1, str(held1))
per_source = steps * batch_size / lengths_seen / (n2 - held2)
Markdown(
    f"Why a split by hash, rather than simply testing on fresh random samples? There "
    f"are {possible:,} possible sources, and training will see at most "
    f"{steps * batch_size:,} of them, so most fresh samples would be new anyway. But "
    f"not the short ones. There are only {n2} sources of length 2, the hash holds out "
    f"{held2} of them, and with lengths drawn uniformly from "
    f"{task.min_len} to {task.max_len} training shows each of the other {n2 - held2} "
    f"about {per_source:.0f} times. A model could learn those by heart, and a test "
    f"set drawn from the same pool would reward it. Held out by hash, the short test "
    f"sequences show whether the model reverses them by rule. (Of the 1,000 sources "
    f"of length 3, {int(held_out_by_length[3].sum())} are held out; of the 10,000 of "
    f"length 4, {int(held_out_by_length[4].sum()):,}.) Sources of a single digit are "
    f"left out of the task altogether. There are only ten, the hash would hold out "
    f"{count_word} of them (the digit {', '.join(map(str, lone))} alone), and whether "
    f"the model copies one lone digit it never saw alone says little about reversal."
)

# %% [markdown]
# ## The model
#
# The model is `Seq2SeqTransformer` from [Chapter 12](12_transformer_architecture.py):
# token embeddings scaled by $\sqrt{d_{\text{model}}}$ plus the sinusoidal positional
# encoding, two encoder layers and two decoder layers (post-norm, as in the paper),
# and a linear layer that turns each decoder output into 13 scores, one per token.
# It is tiny by the paper's standards, where $d_{\text{model}} = 512$, but reversal
# needs little capacity. No dropout (the paper uses 0.1): dropout fights
# overfitting by making training noisier, which also makes it slower, and we can
# afford only a few hundred steps. The held-out test below shows whether we needed
# it.

# %%
config = dict(d_model=32, num_heads=4, num_encoder_layers=2,
              num_decoder_layers=2, d_ff=64, max_len=16)
torch.manual_seed(0)  # the initial weights
model = Seq2SeqTransformer(task.vocab_size, task.vocab_size, **config)
parts = {
    "embeddings": count_parameters(model.source_embedding)
    + count_parameters(model.target_embedding),
    "encoder layers": count_parameters(model.transformer.encoder_layers),
    "decoder layers": count_parameters(model.transformer.decoder_layers),
    "final norms": count_parameters(model.transformer.encoder_norm)
    + count_parameters(model.transformer.decoder_norm),
    "output layer": count_parameters(model.output),
}
for name, count in parts.items():
    print(f"{name:>15}: {count:6,}")
print(f"{'total':>15}: {count_parameters(model):6,}")

# %% tags=["remove-input"]
cross = count_parameters(model.transformer.decoder_layers[0].cross_attention)
Markdown(
    f"The decoder layers hold more than the encoder layers because each has a second "
    f"attention, the cross-attention over the encoder's output "
    f"({cross:,} parameters per layer). The positional encoding has no parameters: it "
    f"is a fixed table."
)

# %% [markdown]
# ## Teacher forcing and the causal mask
#
# At prediction time the decoder writes the answer one token at a time, each step
# reading the tokens it wrote before. Training that way would need 9 forward passes
# per batch, one per target position, each depending on the last. *Teacher forcing*
# ([Williams and Zipser, 1989](../reference/references.md#williams1989)) trains all positions in one pass: the decoder is given the *true* target, shifted
# right by one position behind a start token, and at every position it predicts the
# next target token. `decoder_input(target)` makes the shifted copy:

# %%
example_target = target[:1]  # (1, 9)
example_input = decoder_input(example_target)  # (1, 9): start, target[:-1]
print("decoder reads:   ", example_input[0].tolist())
print("must predict:    ", example_target[0].tolist())

names = {PAD: "pad", START: "start", END: "end"}


def token_name(t: int) -> str:
    """A token id as a short label: a digit, or start, end, pad."""
    return names.get(t, str(t - 3))


# %% tags=["remove-input"]
reads = [token_name(t) for t in example_input[0].tolist()]
wants = [token_name(t) for t in example_target[0].tolist()]
rows = "\n".join(f"| {i} | {r} | {w} |" for i, (r, w) in enumerate(zip(reads, wants)))
Markdown(
    f"For the source {task.to_text(source[0])}, position by position:\n\n"
    "| position $t$ | decoder reads | must predict |\n|---:|:---:|:---:|\n" + rows
)

# %% [markdown]
# Position $t$ reads target token $t - 1$ and must predict target token $t$. Now the
# danger is plain: the token to predict at position $t$ is what the decoder *reads*
# at position $t + 1$. Without a mask, decoder self-attention would let position $t$
# attend to position $t + 1$ and copy the answer; the model would learn nothing that
# works at prediction time, where position $t + 1$ does not exist yet. The
# [causal mask](09_masks.py#the-causal-mask) stops this: in decoder self-attention,
# position $t$ may attend only to positions $0, \dots, t$. `Seq2SeqTransformer.decode`
# applies it on every call. The source needs no such mask, since the whole source is
# known from the start; only its padding is hidden from the encoder and from the
# cross-attention. The last of the exercises checks that the mask works: changing a
# later target token does not change any earlier prediction.
#
# ## The loss
#
# The decoder's output at each position is a vector of 13 scores (*logits*), and the
# softmax of the scores is its predicted distribution over the next token. The loss
# is the cross-entropy: minus the log of the probability the model gives the right
# token, averaged over all target positions of the batch, except padding.
# `sequence_loss` passes `ignore_index=PAD` to PyTorch's `cross_entropy`, so padded
# positions neither count in the average nor produce gradients. The end token does
# count: the model must learn where to stop.
#
# We also use *label smoothing* ([Szegedy et al., 2016](../reference/references.md#szegedy2016)), as the
# Transformer paper ([Vaswani et al., 2017](../reference/references.md#vaswani2017)) does. Instead of the one-hot target,
# the loss compares the prediction with a target that gives $1 - \varepsilon_{\text{ls}}$ to the
# right token and spreads $\varepsilon_{\text{ls}}$ evenly over all $n_{\text{vocab}}$ tokens (PyTorch's
# convention; the right token gets $1 - \varepsilon_{\text{ls}} + \varepsilon_{\text{ls}} / n_{\text{vocab}}$ in all):
#
# $$
# \mathcal{L} = -\sum_{i=1}^{n_{\text{vocab}}} y_i \log \hat y_i, \qquad
# y_i = (1 - \varepsilon_{\text{ls}})\,[i = \text{right token}] + \frac{\varepsilon_{\text{ls}}}{n_{\text{vocab}}},
# $$
#
# where $\hat y_i$ is the probability the model predicts for token $i$ and $y_i$ the
# smoothed target.
#
# The model can no longer drive the loss to zero by making one score ever larger
# than the others: past a certain confidence, more confidence costs loss. The loss
# is smallest when $\hat y = y$, at the entropy of $y$. That keeps the model from
# becoming extremely sure of the training examples, which tends to help on examples
# it has not seen. Vaswani et al. ([2017](../reference/references.md#vaswani2017)) report
# that smoothing made their model's perplexity worse, since the model learns to be less
# sure, but improved its accuracy and its BLEU score. This page trains one model, with
# one seed, so it cannot measure the effect here.

# %%
smoothing = 0.1
V = task.vocab_size
smoothed = torch.full((V,), smoothing / V)
smoothed[0] += 1 - smoothing  # the right token (any one will do)
loss_floor = -(smoothed * smoothed.log()).sum().item()  # its entropy
with torch.no_grad():
    initial_loss = sequence_loss(model, source, target, smoothing).item()

# %% tags=["remove-input"]
Markdown(
    f"With $\\varepsilon_{{\\text{{ls}}}} = {smoothing}$ and $n_{{\\text{{vocab}}}} = {V}$ the lowest possible loss is "
    f"{loss_floor:.3f}, not 0. The untrained model scores {initial_loss:.2f} on the "
    f"four examples above. A uniform guess, $1/{V}$ for every token, would score "
    f"$\\ln {V} = {np.log(V):.2f}$ (with or without smoothing, since the target "
    f"sums to 1); random weights do a little worse, because they are confidently "
    f"wrong here and there."
)

# %% [markdown]
# ## The learning-rate schedule
#
# The optimizer is Adam ([Kingma and Ba, 2015](../reference/references.md#kingma2015))
# with the paper's settings ($\beta_1 = 0.9$, $\beta_2 = 0.98$), written out in
# `attention.transformer.training.Adam`. Adam keeps, for every parameter, a running average
# $\bar g$ of its gradient $g$ and $\overline{g^2}$ of the gradient's square, and moves
# the parameter by the learning rate times $\bar g / \sqrt{\overline{g^2}}$. The ratio is about $\pm 1$ when the gradient
# keeps its sign and smaller when it flips back and forth, so each step moves each
# parameter by at most about the learning rate, whatever the size of its gradient.
#
# The learning rate changes during training. It rises linearly for the first
# `warmup` steps, then decays as one over the square root of the step:
#
# $$
# \text{lr}(\text{step}) = \text{peak} \cdot \min\!\left(\frac{\text{step}}{\text{warmup}},\ \sqrt{\frac{\text{warmup}}{\text{step}}}\right).
# $$
#
# Why start small? At the first steps Adam's averages are built from a handful of
# gradients and are poor estimates, and in a post-norm Transformer large early
# steps can push the layers into a regime they do not recover from
# ([Xiong et al., 2020](../reference/references.md#xiong2020)). The paper warms up for
# 4,000 of its 100,000 steps; our short run warms up for a larger share of its steps
# (the numbers are in the training cell below). The slow decay afterwards
# lets the steps shrink as the model settles. (The paper writes the peak as
# $d_{\text{model}}^{-1/2}\,\text{warmup}^{-1/2}$; `warmup_then_decay` takes the
# peak directly.)

# %%
peak, warmup = 3e-3, 50
schedule = [warmup_then_decay(s, peak, warmup) for s in range(1, steps + 1)]

fig, ax = plt.subplots(figsize=(6.4, 2.4))
ax.plot(range(1, steps + 1), schedule)
ax.axvline(warmup, color=COLORS[1], linestyle="--", linewidth=1.2,
           label=f"end of warm-up (step {warmup})")
ax.set_xlabel("training step")
ax.set_ylabel("learning rate")
ax.legend()
plt.show()

# %% tags=["remove-input"]
Markdown(
    f"**Figure 13.1.** The learning rate at each of the {steps} training steps: a linear "
    f"rise to the peak of {peak:g} at step {warmup}, then a decay as $1/\\sqrt{{\\text{{step}}}}$, "
    f"down to {schedule[-1]:.2g} at the last step."
)

# %% [markdown]
# ## Training
#
# Each step draws a fresh batch of 128 sources from the training share, computes the
# loss with teacher forcing and label smoothing, and takes one Adam step. There are
# no epochs: the task can make as much data as we want. `train` records the loss and
# learning rate of every step. The batches come from a seeded generator, the initial
# weights from the seed set above and the model runs on one thread, so every build
# of this page trains exactly the same model.

# %%
start = time.perf_counter()
log = train(model, task, steps, batch_size, torch.Generator().manual_seed(0),
            lr=peak, warmup=warmup, label_smoothing=smoothing)
seconds = time.perf_counter() - start

# %% tags=["remove-input", "measured"]
final_loss = float(np.mean(log.losses[-20:]))
Markdown(
    f"Training took {seconds:.1f} seconds on the machine that built this page (the "
    f"one number on the page that changes from build to build). The loss fell from "
    f"{log.losses[0]:.2f} at the first step to {final_loss:.3f} on average over the "
    f"last 20 steps, {final_loss - loss_floor:.3f} above the floor of {loss_floor:.3f} "
    f"that label smoothing sets."
)

# %%
losses = np.array(log.losses)
window = 20
smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
fig, ax = plt.subplots(figsize=(6.4, 3.0))
ax.plot(np.arange(1, steps + 1), losses, color=COLORS[0], alpha=0.35,
        linewidth=1, label="loss of each batch")
ax.plot(np.arange(window, steps + 1), smooth, color=COLORS[0],
        label=f"mean of the last {window} batches")
ax.axhline(loss_floor, color=COLORS[1], linestyle="--", linewidth=1.2,
           label="lowest possible (label smoothing)")
ax.set_yscale("log")
ax.set_yticks([0.6, 1, 2], ["0.6", "1", "2"])
ax.yaxis.set_minor_formatter(plt.NullFormatter())
ax.set_xlabel("training step")
ax.set_ylabel("cross-entropy (log scale)")
ax.legend()
plt.show()

# %% tags=["remove-input"]
close = window + int(np.argmax(smooth < loss_floor + 0.05))  # first such step
Markdown(
    f"**Figure 13.2.** The training loss at every step (faint) and its running mean "
    f"(solid), on a logarithmic scale, with the smallest loss label smoothing allows "
    f"(dashed). The loss falls steeply around the end of the warm-up; from step "
    f"{close} on, the running mean is within 0.05 of the floor, and the rest is a "
    f"slow approach: the model is right on nearly every token and only adjusts how "
    f"sure it is."
)

# %% [markdown]
# ## Greedy decoding
#
# At prediction time there is no target to read. The model writes its answer the way
# the decoder was trained to read it: start from the start token alone, run the
# decoder, take the most likely next token, append it to the decoder's input, and
# repeat until the model writes the end token (or a length limit is reached). The
# encoder runs only once, since the source does not change. This is *greedy*
# decoding, `attention.transformer.seq2seq.greedy_decode`. Here are its steps on one held-out
# source, with the probability the model gives each chosen token:

# %%
held_source, held_target = task.sample(1000, torch.Generator().manual_seed(1),
                                       held_out=True)  # (1000, 8), (1000, 9)
lengths = (held_source != PAD).sum(dim=1)  # (1000,)
demo = held_source[lengths == 7][:1]  # (1, 8): a held-out source, 7 digits

with torch.no_grad():
    memory = model.encode(demo)  # (1, 8, d_model): computed once
    written = torch.tensor([[START]])  # (1, 1)
    chosen = []  # the probability of each token written
    while written[0, -1] != END and written.shape[1] <= task.max_len + 1:
        logits = model.decode(written, memory, demo)  # (1, written, vocab)
        probs = logits[0, -1].softmax(dim=-1)  # (vocab,): the next token
        best = probs.argmax()
        print(f"reads {task.to_text(written[0]) or '(start)':<16} -> writes "
              f"{token_name(int(best)):>3}  (p = {probs[best]:.3f})")
        written = torch.cat([written, best.view(1, 1)], dim=1)
        chosen.append(float(probs[best]))

print("greedy_decode gives the same:", torch.equal(
    greedy_decode(model, demo, START, END, max_len=task.max_len + 1)[0],
    written[0, 1:]))

# %% tags=["remove-input"]
Markdown(
    f"The model gives each token it writes a probability between {min(chosen):.3f} "
    f"and {max(chosen):.3f}, never close to 1: label smoothing trained it towards "
    f"$1 - \\varepsilon_{{\\text{{ls}}}} + \\varepsilon_{{\\text{{ls}}}} / n_{{\\text{{vocab}}}} = {float(smoothed[0]):.3f}$ for the right "
    f"token. Greedy decoding uses only which token ranks first, and for that a "
    f"probability of 0.9 is as good as 1."
)

# %% [markdown]
# Greedy decoding commits to one token per step and never revisits it. For
# reversal, where each step has one right answer, that is all we need. For tasks
# such as translation, where an early word that looks best may lead to a worse
# sentence, *beam search* keeps the few most probable partial outputs at each step
# and picks the best complete one at the end; the early neural translation models
# decoded that way ([Sutskever, Vinyals and Le, 2014](../reference/references.md#sutskever2014)).
#
# ## How well did it learn?
#
# The test: greedy decoding on 1,000 sources drawn from the held-out share (short
# sources come up several times in such a draw, so we keep each one once), graded
# whole: a sequence counts as right only if every digit and the end token are right.
# For comparison, the same on sources from the training share.

# %%
test_source = held_source.unique(dim=0)  # distinct held-out sources
test_target = task.answer(test_source)
held_out_accuracy = sequence_accuracy(model, test_source, test_target)

seen_source, _ = task.sample(300, torch.Generator().manual_seed(2))
seen_source = seen_source.unique(dim=0)
training_accuracy = sequence_accuracy(model, seen_source,
                                      task.answer(seen_source))

T = task.max_len + 1  # target positions
wrong = []  # the indices of the mistakes, to show some
if held_out_accuracy < 1:
    predicted = greedy_decode(model, test_source, START, END, max_len=T)
    predicted = F.pad(predicted, (0, T - predicted.shape[1]), value=PAD)
    right = (predicted == test_target).all(dim=1)  # (sources,)
    wrong = (~right).nonzero().flatten().tolist()
examples = torch.cat([test_source[wrong[:3]],
                      held_source[: 5 - len(wrong[:3])]])
decoded = greedy_decode(model, examples, START, END, max_len=T)
for s, out in zip(examples, decoded):  # mistakes first, then the first draws
    answer = task.to_text(out)
    expected = task.to_text(task.answer(s[None])[0])
    mark = "ok   " if answer == expected else "WRONG"
    print(f"{mark} {task.to_text(s):>16}  ->  {answer}")

# %% tags=["remove-input"]
if len(wrong) == 0:
    mistakes = "It made no mistake, so the examples above are all correct ones."
else:
    mistakes = (f"The examples above start with the first of its {len(wrong)} "
                f"mistake{'s' if len(wrong) > 1 else ''}.")
Markdown(
    f"On {len(test_source)} distinct held-out sources the model reverses "
    f"{held_out_accuracy:.1%} exactly, against {training_accuracy:.1%} on "
    f"{len(seen_source)} distinct sources from the training share. {mistakes} "
    f"The model has not memorized a table: it reverses sequences it never saw, "
    f"after training on {steps * batch_size:,} examples drawn from more than "
    f"{possible // 10**6} million possible sources."
)

# %% [markdown]
# ## What the trained model attends to
#
# With `need_weights=True`, every attention layer of the model keeps its weights of
# the last call, one `(batch, heads, queries, keys)` tensor per attention. We run
# the model once, with teacher forcing, on the held-out source of 7 digits decoded
# above (padded to 8, so one source position is padding), and look at the three kinds
# of attention in turn. The decoder reads the start token and the 7 reversed digits;
# its 8 positions predict the 7 digits and the end token.

# %%
demo_target = task.answer(demo)[:, :8]  # (1, 8): 7 digits and the end token
demo_input = decoder_input(demo_target)  # (1, 8): start and 7 digits
with torch.no_grad():
    model(demo, demo_input, need_weights=True)
stack = model.transformer
# One (heads, queries, keys) tensor per layer, for our one example:
encoder = [layer.weights["self"][0] for layer in stack.encoder_layers]
decoder_self = [layer.weights["self"][0] for layer in stack.decoder_layers]
decoder_cross = [layer.weights["cross"][0] for layer in stack.decoder_layers]
print("encoder self-attention:", tuple(encoder[0].shape))
print("cross-attention:       ", tuple(decoder_cross[0].shape))

source_labels = [token_name(t) for t in demo[0].tolist()]
input_labels = [token_name(t) for t in demo_input[0].tolist()]

# %%
layer_means = [w.mean(dim=0) for w in decoder_cross]  # 2 x (queries, keys)
fig = attention.plot_attention_weights(
    torch.stack(layer_means), input_labels, source_labels,
    titles=["layer 1, mean of heads", "layer 2, mean of heads"],
    cell_size=0.3,
)
plt.show()

# %% [markdown]
# **Figure 13.3.** Cross-attention of the trained model on one held-out source,
# averaged over the four heads of each decoder layer: one row per decoder position
# (labelled by the token it reads), one column per source position (labelled by its
# token; the last one is padding). In layer 2, look for the bright anti-diagonal:
# the decoder position that must write the $i$-th digit from the end of the source
# looks at the $i$-th source position from the end. In layer 1, the first row looks
# at the last digit. The padding column is dark in both.

# %% tags=["remove-input"]
length = int((demo != PAD).sum())  # 7 real source tokens
t = torch.arange(length)
on_diagonal = decoder_cross[-1][:, t, length - 1 - t]  # (heads, 7)
best_head = int(on_diagonal.mean(dim=1).argmax())
means = layer_means[-1][t, length - 1 - t]  # (7,) mean of heads, last layer
first = layer_means[0][0]  # (keys,): layer 1, the query reading the start token
Markdown(
    f"In the last layer, averaged over its heads, the decoder positions that write a "
    f"digit put between {means.min():.0%} and {means.max():.0%} of their weight on "
    f"the one source position that holds it; its most faithful head, head "
    f"{best_head}, puts {on_diagonal[best_head].mean():.0%} there on average. This "
    f"is the reversal, done by attention: the query at decoder position $t$ asks for "
    f"source position $T_s - 1 - t$, and the value found there carries the digit to "
    f"write. To ask that, the query must know $T_s$, and the first layer shows one "
    f"place where the model finds it. The query that reads the start token, and "
    f"must write the *last* source digit, puts {first[length - 1]:.0%} of its "
    f"weight on the last real source position: the model has learned where the "
    f"digits end. The later rows of layer 1 spread their weight more widely; what "
    f"they compute is harder to read, as is usual for the inner layers of a "
    f"trained network."
)

# %%
self_means = [encoder[-1].mean(dim=0), decoder_self[-1].mean(dim=0)]
fig = attention.plot_attention_weights(
    torch.stack(self_means), cell_size=0.3,  # 2 x (T, T)
    titles=["encoder layer 2, mean of heads", "decoder layer 2, mean of heads"],
)
for ax, labels in zip(fig.axes, [source_labels, input_labels]):
    ax.set_xticks(range(8), labels, rotation=90)  # tokens as tick labels
    ax.set_yticks(range(8), labels)
plt.show()

# %% [markdown]
# **Figure 13.4.** Self-attention in the last encoder layer and the last decoder
# layer, on the same example, averaged over the four heads. Left: the encoder, over
# the source tokens. The padding column is empty, since the padding mask hides it
# from every query; the padded position's own row is not empty, because it is a
# query like any other, but its output is never used. Right: the decoder, over the
# tokens it reads. Everything above the diagonal is exactly zero: that is the causal
# mask, and position $t$ sees only positions $0$ to $t$. The first row has all its
# weight on the start token, the only position it may see.

# %% [markdown]
# Try it yourself. The next cell takes four held-out sources of different lengths, runs
# the trained model on each with teacher forcing to keep the cross-attention weights of
# every layer and head, and decodes each greedily to record what the model writes. No
# training happens here: it is the model trained above. The figure under it shows the
# source, layer and head the controls pick.

# %%
import altair as alt
from attention.book.interactive import interactive_figure

picks = [int((lengths == n).nonzero()[0]) for n in (4, 5, 6, 7)]  # one source per length
sources = held_source[picks]  # (4, 8)
targets = task.answer(sources)[:, :8]  # (4, 8): digits, end token, padding
with torch.no_grad():
    model(sources, decoder_input(targets), need_weights=True)
    cross_weights = torch.stack([layer.weights["cross"] for layer in stack.decoder_layers],
                                dim=1)  # (sources, layers, heads, queries, keys)
    written_all = greedy_decode(model, sources, START, END, max_len=T)  # (sources, <= T)

frames = []
for s, src in enumerate(sources):
    source_text = task.to_text(src)
    answer_text = task.to_text(written_all[s])
    verdict = "right" if answer_text == task.to_text(task.answer(src[None])[0]) else "wrong"
    for layer in (1, 2):
        for h in range(config["num_heads"]):
            frames.append({
                "source": source_text, "layer": layer, "head": h,  # the controls' values
                "keys": [token_name(t) for t in src.tolist()],
                "reads": [token_name(t) for t in decoder_input(targets[s:s + 1])[0].tolist()],
                "weight": [round(float(a), 2) for a in cross_weights[s, layer - 1, h].flatten()],
                "readout": f"writes {answer_text} ({verdict}) · layer {layer}, head {h}",
            })

# %% tags=["fold"]
controls = [
    alt.param(name="source", value=task.to_text(sources[-1]), bind=alt.binding_select(
        options=[task.to_text(src) for src in sources], name="test source ")),
    alt.param(name="layer", value=2, bind=alt.binding_range(min=1, max=2, step=1, name="layer ")),
    alt.param(name="head", value=0, bind=alt.binding_range(
        min=0, max=config["num_heads"] - 1, step=1, name="head ")),
]
picked = alt.Chart().transform_filter(
    "datum.source == source && datum.layer == layer && datum.head == head")
positions = str(list(range(8)))
heat = picked.transform_calculate(cell=str(list(range(64)))).transform_flatten(
    ["cell", "weight"]).transform_calculate(
    query="floor(datum.cell / 8)", key="datum.cell % 8").mark_rect().encode(
    x=alt.X("key:O", title="source token", axis=alt.Axis(labels=False, ticks=False, titlePadding=20)),
    y=alt.Y("query:O", title="token the decoder reads",
            axis=alt.Axis(labels=False, ticks=False, titlePadding=40)),
    color=alt.Color("weight:Q", scale=alt.Scale(scheme="viridis", domain=[0, 1]),
                    legend=alt.Legend(orient="right", title="weight")),
    tooltip=["query:O", "key:O", "weight:Q"])
key_names = picked.transform_calculate(key=positions).transform_flatten(
    ["key", "keys"]).mark_text(baseline="top", dy=4, fontSize=11).encode(
    x="key:O", y=alt.value(240), text="keys:N")
read_names = picked.transform_calculate(query=positions).transform_flatten(
    ["query", "reads"]).mark_text(align="right", dx=-6, fontSize=11).encode(
    y="query:O", x=alt.value(0), text="reads:N")
readout = picked.mark_text(align="left", x=0, y=-14, fontSize=13).encode(text="readout:N")
interactive_figure(
    alt.layer(heat, key_names, read_names, readout, data=alt.Data(values=frames))
    .add_params(*controls).properties(width=240, height=240,
                                      autosize=alt.AutoSizeParams(type="pad")),
    "Cross-attention weights of the trained model for the test source, layer and head the "
    "controls pick, and what the model writes for that input.",
)

# %% tags=["remove-input"]
n_real = (sources != PAD).sum(dim=1)  # (sources,)
share_on = torch.stack([torch.stack([
    cross_weights[s, :, :, t, n - 1 - t] for t in range(n)]).mean(dim=0)
    for s, n in enumerate(n_real.tolist())])  # (sources, layers, heads): mean weight on the digit
Markdown(
    f"**Interactive figure 13.1.** Pick a test source, a decoder layer and a head. Each row "
    f"is a decoder position, labelled by the token it reads; each column a source position, "
    f"labelled by its token. The readout says what the model writes for that input, by "
    f"greedy decoding. In layer 2 every head draws the anti-diagonal of Figure 13.3: over "
    f"the four sources, a head puts between {share_on[:, 1].min():.0%} and "
    f"{share_on[:, 1].max():.0%} of a digit-writing row's weight, on average, on the source "
    f"position that holds the digit to write, and the diagonal moves with the length of the "
    f"source. In layer 1 the heads put only {share_on[:, 0].min():.0%} to "
    f"{share_on[:, 0].max():.0%} there. The padding columns are dark in every head."
)

# %% [markdown]
# ## Summary
#
# - A synthetic task with a known answer, here reversing digit strings, makes a
#   Transformer trainable in seconds and gradeable exactly. A fixed hash keeps a
#   share of all possible sources out of training, so the test measures
#   generalization, not memory; the short sources are where this matters most.
# - *Teacher forcing* feeds the decoder the true target shifted right by one behind a
#   start token, and trains every position in one pass. It only works with the
#   causal mask, without which position $t$ could read the token it must predict.
# - The loss is the cross-entropy of each target token, with padding ignored and the
#   end token included. Label smoothing replaces the one-hot target by a slightly
#   spread one, which puts a floor under the loss and keeps the model from
#   over-confidence.
# - Adam with the paper's schedule: a linear warm-up, then a $1/\sqrt{\text{step}}$
#   decay.
# - Greedy decoding writes one token at a time, always the most likely, and stops at
#   the end token; beam search keeps several candidates instead.
# - The trained model's cross-attention shows the algorithm: an anti-diagonal from
#   each output position to the source position it copies. Decoder self-attention is
#   lower-triangular by construction, and no real position attends to padding.

# %% [markdown]
# ## Exercises
#
# 1. **Your own sequence.** Reverse a digit string of your choice with the trained
#    model (make the token ids by hand, pad to 8). Then try a string of 9 or 10
#    digits, longer than any the model saw. What happens, and why might it?

# %% tags=["solution"]
# Exercise 1: Your own sequence.
def reverse_digits(text: str) -> str:
    """Greedy-decode the trained model on a string of digits, e.g. '3141'."""
    ids = torch.tensor([[3 + int(c) for c in text]])  # (1, length)
    ids = F.pad(ids, (0, max(0, task.max_len - ids.shape[1])), value=PAD)
    out = greedy_decode(model, ids, START, END, max_len=ids.shape[1] + 1)
    return task.to_text(out[0])


for text in ["31415926", "2718", "123456789", "9876543210"]:
    right = " ".join(text[::-1]) + " <end>"
    print(f"{text:>10} -> {reverse_digits(text)}   (right: {right})")
# Beyond 8 digits the model meets source positions it never saw and must write
# target positions it never wrote. The positional encodings of positions 8 and
# beyond exist (the table has 16 rows) and change smoothly from one position to
# the next, so a 9-digit string may still come out right; but nothing in training
# asked for it, and the further past 8, the less the model has to go on.

# %% [markdown]
# 2. **The mask at work.** Take one source and its decoder input, and compute the
#    teacher-forced logits. Change the decoder input at position 5 and compute them
#    again. Which positions' logits change? Which must not?

# %% tags=["solution"]
# Exercise 2: The mask at work.
src, tgt = source[:1], target[:1]  # (1, 8), (1, 9)
dec_in = decoder_input(tgt)  # (1, 9)
changed = dec_in.clone()
changed[0, 5] = 3 + (int(changed[0, 5]) - 2) % 10  # the next digit, mod 10
with torch.no_grad():
    before, after = model(src, dec_in), model(src, changed)  # (1, 9, vocab)
differs = (before - after).abs().amax(dim=-1)[0]  # (9,): per position
print("largest change of the logits, per position:")
print([f"{d:.1e}" for d in differs.tolist()])
print("positions 0-4 unchanged:", torch.equal(before[0, :5], after[0, :5]))
# Positions 0 to 4 cannot see position 5: the causal mask hides it, so their logits
# are bit-for-bit the same. Positions 5 and later see the new token and change.

# %% [markdown]
# 3. **Sorting instead.** Make `DigitTask("sort")` and print a few pairs. Show that
#    shuffling a source's digits never changes its target. For sorting, what would
#    the cross-attention of a trained model have to look like, and why can it not be
#    a fixed pattern of positions like the anti-diagonal? (Training the same model on
#    sorting, with the code of this page, takes about as long as reversal.)

# %% tags=["solution"]
# Exercise 3: Sorting instead.
sort_task = DigitTask("sort", min_len=2, max_len=8)
s, t = sort_task.sample(3, torch.Generator().manual_seed(0))
for a, b in zip(s, t):
    print(f"{sort_task.to_text(a):>16}  ->  {sort_task.to_text(b)}")
many, _ = sort_task.sample(500, torch.Generator().manual_seed(1))
shuffler = torch.Generator().manual_seed(2)
shuffled = many.clone()
for row in shuffled:  # shuffle each source's digits; padding stays last
    n = int((row != PAD).sum())
    row[:n] = row[:n][torch.randperm(n, generator=shuffler)]
print("targets unchanged by shuffling:",
      torch.equal(sort_task.answer(many), sort_task.answer(shuffled)))
# The k-th output digit is the k-th smallest digit of the source, wherever it
# sits. So the cross-attention must find it by content, not by position: a query
# that asks "the smallest digit not yet written", with keys that encode each
# source digit's value. Where a source has repeated digits, the weight spreads
# over all copies of the wanted digit, which is harmless: they carry the same value.

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
# # Three families: encoder-only, decoder-only, encoder-decoder
#
# The Transformer of 2017 translates: an encoder reads the source sentence and a
# decoder writes the translation. Most Transformers since keep only one of the two
# halves. *Encoder-only* models such as BERT read a whole text at once and are
# trained to fill in hidden words; *decoder-only* models such as GPT read from left
# to right and are trained to predict the next word; *encoder-decoder* models such
# as T5 and Whisper keep both halves, joined by cross-attention. This chapter sets
# the three side by side: which attention blocks each one stacks, which masks those
# blocks use, and what one training step asks the model to predict. We train a small
# encoder-only and a small decoder-only model on the same data while the page is
# built, and see what the mask lets each of them learn. Then we leave text behind:
# an image cut into patches is a sequence too, and the encoder, unchanged, becomes a
# Vision Transformer. The chapter ends with cross-attention outside translation,
# where it lets text steer an image generator or lets a language model look at
# pictures.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown

import attention
from attention.transformer.encoder_models import (MASK, PAD, MaskedLanguageModel,
                                      make_palindromes, mask_tokens,
                                      masked_lm_loss)
from attention.fast.decoding import TinyLanguageModel
from attention.book.plotting import COLORS, use_book_style
from attention.transformer.shape_images import SHAPE_NAMES, make_shape_images
from attention.transformer.training import Adam
from attention.transformer.vision_transformer import VisionTransformer, patchify

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # small models: one thread is fastest, and the same every build

# %% [markdown]
# ## One layer, three wirings
#
# All three families are built from the layers of
# [Chapter 12](12_transformer_architecture.py): self-attention, cross-attention and
# the feed-forward network, each with its residual connection and layer norm. What
# differs is which of them a model stacks, and the mask each attention uses.
#
# | family | attention blocks | masks | one training step predicts | examples |
# |---|---|---|---|---|
# | encoder-only | self-attention | padding | the hidden tokens, from both sides | BERT |
# | decoder-only | self-attention | causal | every next token, from the left | GPT |
# | encoder-decoder | encoder self-attention, decoder self-attention, cross-attention | padding; causal; source padding | every next target token, from the left and the whole source | the 2017 Transformer, T5, Whisper |
#
# The encoder-only family was made popular by BERT
# ([Devlin et al., 2019](../reference/references.md#devlin2019)), the decoder-only
# family by GPT ([Radford et al., 2018](../reference/references.md#radford2018);
# [2019](../reference/references.md#radford2019)); T5
# ([Raffel et al., 2020](../reference/references.md#raffel2020)) kept the full
# encoder-decoder of [Vaswani et al. (2017)](../reference/references.md#vaswani2017)
# and cast every text task, from translation to classification, as writing an
# answer text from an input text.

# %% tags=["remove-input"]
from matplotlib.patches import Rectangle


def box(ax, x, y, text, color, width=0.8, height=0.11):
    """A box centred at (x, y), tinted with `color`, with its text."""
    ax.add_patch(Rectangle((x - width / 2, y - height / 2), width, height,
                           facecolor=color, edgecolor="none", alpha=0.3))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5)


def arrow(ax, start, end):
    """An arrow in the text colour from start to end."""
    ax.annotate("", xy=end, xytext=start, arrowprops={
        "arrowstyle": "->", "color": plt.rcParams["text.color"], "linewidth": 1.0})


def stack(ax, x, blocks, bottom, top):
    """Input, a repeated layer of `blocks` (text, colour) in a frame, and an output head."""
    y = 0.08
    box(ax, x, y, bottom, COLORS[5])
    ys = [0.3 + 0.14 * k for k in range(len(blocks))]
    frame = Rectangle((x - 0.46, ys[0] - 0.1), 0.92, ys[-1] - ys[0] + 0.2, fill=False,
                      edgecolor=plt.rcParams["text.color"], linewidth=0.8, linestyle="--")
    ax.add_patch(frame)
    ax.text(x - 0.45, ys[-1] + 0.105, "× N", fontsize=8.5, va="bottom")
    arrow(ax, (x, y + 0.055), (x, ys[0] - 0.055))
    for k, (text, color) in enumerate(blocks):
        box(ax, x, ys[k], text, color)
        if k:
            arrow(ax, (x, ys[k - 1] + 0.055), (x, ys[k] - 0.055))
    top_y = ys[-1] + 0.2
    arrow(ax, (x, ys[-1] + 0.055), (x, top_y - 0.055))
    box(ax, x, top_y, top, COLORS[4])
    return ys


fig, axes = plt.subplots(1, 3, figsize=(7.6, 3.4),
                         gridspec_kw={"width_ratios": [1, 1, 2]})
for ax in axes:
    ax.set_axis_off()
    ax.set_ylim(0, 0.95)
attend, cross_color, ff = COLORS[0], COLORS[1], COLORS[2]
axes[0].set_xlim(0, 1)
axes[0].set_title("encoder-only (BERT)", fontsize=10)
stack(axes[0], 0.5, [("self-attention\npadding mask", attend), ("feed-forward", ff)],
      "tokens, some hidden", "hidden tokens")
axes[1].set_xlim(0, 1)
axes[1].set_title("decoder-only (GPT)", fontsize=10)
stack(axes[1], 0.5, [("self-attention\ncausal mask", attend), ("feed-forward", ff)],
      "tokens so far", "next token")
ax = axes[2]
ax.set_xlim(0, 2.3)
ax.set_title("encoder-decoder (Transformer, T5)", fontsize=10)
enc = stack(ax, 0.5, [("self-attention\npadding mask", attend), ("feed-forward", ff)],
            "source tokens", "memory")
dec = stack(ax, 1.8, [("self-attention\ncausal mask", attend),
                      ("cross-attention\nsource padding", cross_color),
                      ("feed-forward", ff)], "target so far", "next target token")
ax.annotate("", xy=(1.4, dec[1]), xytext=(0.9, enc[-1] + 0.2),
            arrowprops={"arrowstyle": "->", "color": cross_color, "linewidth": 1.5,
                        "connectionstyle": "arc3,rad=-0.25"})
ax.text(1.05, enc[-1] + 0.28, "keys,\nvalues", fontsize=8, ha="center",
        va="bottom", color=cross_color)
plt.show()

# %% [markdown]
# **Figure 14.1.** The three families as stacks of the same parts. Each dashed frame
# is one layer, repeated $N$ times. Blue: self-attention, with the mask it uses;
# orange: cross-attention, whose keys and values come from the encoder's output (the
# *memory*); green: the feed-forward network. The encoder-only and the decoder-only
# stacks have the same blocks and differ only in their mask and in what the head
# on top predicts.
#
# ## The masks of each family
#
# A mask $M$ says which keys each query may see: $M_{ij} = 1$ if query $i$ may
# attend to key $j$ ([Chapter 9](09_masks.py)). Three rules cover all three
# families. The *padding mask* hides the padding that makes sequences of a batch
# equally long: $M_{ij} = 1$ if key $j$ is a real token, for every query $i$. The
# *causal mask* hides the future: $M_{ij} = 1$ if $j \le i$. Cross-attention uses
# the padding mask of the *source*: a query of the target may see every real source
# token, before or after its own position, since the whole source is known before the
# first target token is written. `attention.padding_mask` and
# `attention.causal_mask` build them; both use the book's convention, True = may
# attend, and broadcast against the scores `(batch, queries, keys)`.

# %%
source = ["ich", "mag", "grünen", "Tee", "pad", "pad"]  # 4 tokens, padded to 6
target = ["start", "I", "like", "green", "tea"]  # what the decoder reads
S, T = len(source), len(target)
source_padding = attention.padding_mask([4], max_len=S)  # (1, 1, S)
masks = {
    "encoder self-attention": source_padding[0].expand(S, S),  # (S, S)
    "decoder self-attention": attention.causal_mask(T),  # (T, T)
    "cross-attention": source_padding[0].expand(T, S),  # (T, S)
}
for name, mask in masks.items():
    print(f"{name:>22}: {tuple(mask.shape)}, {int(mask.sum())} of "
          f"{mask.numel()} pairs may attend")

# %% tags=["fold"]
fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.8), layout="constrained",
                         gridspec_kw={"width_ratios": [S, T, S]})
labels = [(source, source), (target, target), (target, source)]  # (rows, columns)
for ax, (name, mask), (rows, cols) in zip(axes, masks.items(), labels):
    ax.imshow(mask.float(), cmap="viridis", vmin=0, vmax=1, interpolation="none")
    ax.grid(False)
    ax.set_title(name, fontsize=9.5)
    ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel("keys")
axes[0].set_ylabel("queries")
plt.show()

# %% [markdown]
# **Figure 14.2.** The masks of a German-to-English pair, as in the original
# Transformer: yellow = may attend, purple = hidden. Left: the encoder's
# self-attention sees every real source token, in both directions; only the two
# padding columns are hidden. Middle: the decoder's self-attention is causal, a
# lower triangle. Right: cross-attention lets every target position see every real
# source word, including words further along than itself ("Tee" for "like"). An
# encoder-only model uses the left mask alone, a decoder-only model the middle one.
#
# A decoder-only model needs no padding mask when the padding is at the end: the
# causal mask already keeps every real token from seeing the positions after it,
# padding included. Its loss simply ignores the positions whose target is padding.
#
# ## Encoder-only: fill in the blanks
#
# An encoder sees the whole sequence, so it cannot be trained to predict the next
# token: that token is in plain view. BERT is trained instead to restore tokens that
# were hidden. It picks 15% of the positions; of those it replaces 80% by a special
# `[MASK]` token, 10% by a random token, and leaves 10% unchanged, so that the model
# cannot assume a token is right wherever it sees no `[MASK]`. The loss is the
# cross-entropy at the picked positions only,
#
# $$
# \mathcal{L} = -\frac{1}{|\text{picked}|} \sum_{t \in \text{picked}}
# \log \Pr(\text{token}_t \mid \text{the corrupted sequence}),
# $$
#
# and each prediction may use context on both sides of $t$.
#
# Our data show what the two sides are worth. A sequence is a *palindrome*: a
# string of 2 to 4 random digits followed by its reverse, padded to 8 positions. A
# hidden digit in the first half cannot be guessed from the digits before it, which
# are random; it is written again at its mirror position, *after* it. So filling
# it in needs attention to the right. `make_palindromes` makes the sequences and
# `mask_tokens` corrupts them the BERT way; the target is -100 (ignored) wherever
# nothing is to be predicted.

# %%
generator = torch.Generator().manual_seed(0)
vocab_size = 12  # padding, [MASK], 10 digits
tokens = make_palindromes(3, generator)  # (3, 8)
inputs, targets = mask_tokens(tokens, generator, vocab_size=vocab_size)


def show(ids):
    """Token ids as text: digits, '_' for padding, 'M' for [MASK]."""
    names = {PAD: "_", MASK: "M", -100: "."}
    return " ".join(names.get(t, str(t - 2)) for t in ids.tolist())


for row in range(3):
    print(f"{show(tokens[row])}   ->   {show(inputs[row])}"
          f"   targets: {show(targets[row])}")

# %% [markdown]
# The model, `MaskedLanguageModel`, is the encoder half of the Transformer with a
# head that scores every token at every position: token embeddings plus learned
# position embeddings, two `attention.EncoderLayer`s (pre-norm), a final layer norm
# and a linear head. Its only mask is the padding mask, computed from the input.
# The training loop is the one of [Chapter 13](13_training_a_transformer.py), with
# the written-out Adam of `attention.training` and a short linear warm-up; each
# step draws a fresh batch and hides fresh positions.

# %%
def warmup(step, peak=5e-3, steps=30):
    """Linear warm-up to `peak` over `steps`, then constant."""
    return peak * min(1.0, step / steps)


torch.manual_seed(0)  # the initial weights
encoder_model = MaskedLanguageModel(vocab_size, d_model=32, num_heads=4,
                                    d_ff=64, num_layers=2, max_len=8)
optimizer = Adam(encoder_model.parameters())
train_steps, batch_size = 150, 64
picked, real_tokens = 0, 0  # how many tokens the steps graded
for step in range(1, train_steps + 1):
    tokens = make_palindromes(batch_size, generator)  # (batch, 8)
    inputs, targets = mask_tokens(tokens, generator, vocab_size=vocab_size)
    loss = masked_lm_loss(encoder_model, inputs, targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step(warmup(step))
    picked += int((targets != -100).sum())
    real_tokens += int((tokens != PAD).sum())
encoder_model.eval()
print(f"loss after {train_steps} steps: {loss.item():.3f}")

# %% [markdown]
# To test it, we take palindromes of the full length 8 that the model has not seen,
# hide one position at a time, and count how often the model's most likely token
# at that position is the one that was there.

# %%
test_tokens = make_palindromes(1000, torch.Generator().manual_seed(1),
                               min_half=4)  # (1000, 8), all of length 8
encoder_accuracy = []
with torch.no_grad():
    for t in range(8):
        hidden = test_tokens.clone()
        hidden[:, t] = MASK  # hide position t
        guess = encoder_model(hidden)[:, t].argmax(dim=-1)  # (1000,)
        encoder_accuracy.append((guess == test_tokens[:, t]).float().mean().item())
print("accuracy per hidden position:", [f"{a:.0%}" for a in encoder_accuracy])

# %% tags=["remove-input"]
Markdown(
    f"After {train_steps} steps of {batch_size} sequences, the encoder restores a "
    f"hidden digit at least {min(encoder_accuracy):.0%} of the time at every "
    f"position, the first half included; chance is 10%. Training graded only the "
    f"picked positions: {picked:,} of the {real_tokens:,} real tokens its batches "
    f"held ({picked / real_tokens:.0%}, more than 15% because `mask_tokens` picks "
    f"at least one position in every sequence, and ours are short). That is the "
    f"price of the masked-token objective: most of each sequence is context, not "
    f"target."
)

# %% [markdown]
# Where does the model look? We hide the second digit of one palindrome and ask the
# encoder for its attention weights (`need_weights=True` keeps them in each layer's
# `weights`).

# %%
example = torch.tensor([[9, 4, 7, 11, 11, 7, 4, 9]])  # 7 2 5 9 9 5 2 7
example_hidden = example.clone()
example_hidden[0, 1] = MASK
with torch.no_grad():
    scores = encoder_model(example_hidden, need_weights=True)  # (1, 8, vocab)
layer_weights = [layer.weights["self"][0].mean(dim=0)  # (8, 8), mean of heads
                 for layer in encoder_model.layers]
token_labels = show(example_hidden[0]).split()
fig = attention.plot_attention_weights(
    layer_weights[0], token_labels, token_labels,
    titles=["layer 1, mean of heads"], cell_size=0.3)
plt.show()

# %% [markdown]
# **Figure 14.3.** Self-attention in the first layer of the trained encoder, on the
# palindrome 7 2 5 9 9 5 2 7 with its second digit hidden (M), averaged over the
# layer's four heads; one row per query position, one column per key. Look at the
# row of M: the query at position 1 puts most of its weight on position 6, its
# mirror, to the *right* of it, where the hidden digit is written again. The other
# rows draw the same anti-diagonal: every position looks across to its twin.

# %% tags=["remove-input"]
guess = int(scores[0, 1].argmax()) - 2
verdict = "the right one" if guess == 2 else "not the right one, 2"
Markdown(
    f"The hidden query gives its mirror position {layer_weights[0][1, 6]:.0%} of "
    f"its weight in layer 1 and {layer_weights[1][1, 6]:.0%} in layer 2 (an even "
    f"spread over 8 keys would give 12.5%), and the model fills in the digit "
    f"{guess}, {verdict}."
)

# %% [markdown]
# ## Decoder-only: predict the next token
#
# A decoder-only model reads its input through the causal mask, so position $t$
# sees tokens $0$ to $t$ only. That makes next-token prediction a fair task, and a
# thrifty one: one forward pass over a sequence of length $T$ gives $T - 1$
# predictions at once, every position predicting its successor, and every position
# is graded,
#
# $$
# \mathcal{L} = -\frac{1}{T - 1} \sum_{t=1}^{T-1}
# \log \Pr(\text{token}_t \mid \text{token}_0, \dots, \text{token}_{t-1}).
# $$
#
# The same model writes text: predict a token, append it, predict again. That is
# the loop that the KV cache of
# [Chapter 17](17_kv_cache_and_grouped_query_attention.py) makes cheap. We train
# `TinyLanguageModel` from `attention.kv_decoding`, a pre-norm stack of causal
# self-attention blocks with learned positions, of the same size as our encoder, on
# the same palindromes. The input is the sequence without its last token, the
# target the sequence without its first; padding targets are ignored.

# %%
torch.manual_seed(0)
decoder_model = TinyLanguageModel(vocab_size, d_model=32, num_heads=4,
                                  num_kv_heads=4, num_layers=2, max_len=8)
optimizer = Adam(decoder_model.parameters())
graded = 0  # how many tokens the steps graded
for step in range(1, train_steps + 1):
    tokens = make_palindromes(batch_size, generator)  # (batch, 8)
    logits = decoder_model(tokens[:, :-1])  # (batch, 7, vocab)
    loss = F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten(),
                           ignore_index=PAD)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step(warmup(step))
    graded += int((tokens[:, 1:] != PAD).sum())
decoder_model.eval()
with torch.no_grad():
    next_guess = decoder_model(test_tokens[:, :-1]).argmax(dim=-1)  # (1000, 7)
decoder_accuracy = (next_guess == test_tokens[:, 1:]).float().mean(dim=0)
print("accuracy per predicted position:",
      [f"{a:.0%}" for a in decoder_accuracy.tolist()])

# %%
fig, ax = plt.subplots(figsize=(6.4, 2.6))
positions = np.arange(8)
ax.bar(positions - 0.2, encoder_accuracy, width=0.4,
       label="encoder-only: the hidden token")
ax.bar(positions[1:] + 0.2, decoder_accuracy, width=0.4,
       label="decoder-only: the token from those before it")
ax.axhline(0.1, color=COLORS[3], linestyle="--", linewidth=1.2, label="chance")
ax.set_xlabel("position in a palindrome of 8 digits")
ax.set_ylabel("accuracy")
ax.set_ylim(0, 1.05)
ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.02))
plt.show()

# %% [markdown]
# **Figure 14.4.** The two models on the same held-out palindromes of 8 digits, one
# bar per position $t$. Blue: the encoder-only model restores a hidden digit
# anywhere. Orange: the decoder-only model predicts the digit at $t$ from the digits
# before it. Position 0 has no orange bar, since nothing comes before it. In the
# first half the decoder is near chance: the next digit is random and the mirror
# that would reveal it lies ahead, out of its sight. In the second half each digit
# repeats one it has already seen, and its accuracy climbs far above chance.

# %% tags=["remove-input"]
first_half = decoder_accuracy[:3].mean().item()  # positions 1 to 3
second_half = decoder_accuracy[4:].mean().item()  # positions 5 to 7
Markdown(
    f"On positions 1 to 3 the decoder is right {first_half:.0%} of the time, about "
    f"chance; on positions 5 to 7 it is right {second_half:.0%} of the time. "
    f"Position 4 is the middle: to predict it, the decoder must first work out "
    f"from the digits so far that the palindrome turns there "
    f"({decoder_accuracy[3]:.0%}). In exchange, each "
    f"step graded every real next token, {graded:,} in all, against the "
    f"encoder's {picked:,}. Neither model is better: the encoder-only model "
    f"understands a text it is given, the decoder-only model can write one."
)

# %% [markdown]
# Writing is the decoder's strength. Given the first half of a palindrome and its
# turning point, `generate` completes it one token at a time, with a KV cache:

# %%
prompt = torch.tensor([[5, 10, 3, 8, 8]])  # digits 3 8 1 6 6
written = decoder_model.generate(prompt, num_tokens=3)  # (1, 8)
print(show(prompt[0]), "->", show(written[0]))
print("same without the cache:",
      torch.equal(written, decoder_model.generate(prompt, 3, use_cache=False)))

# %% [markdown]
# ## Encoder-decoder: both, joined by cross-attention
#
# The encoder-decoder keeps both stacks. The encoder reads the source with the
# padding mask, as an encoder-only model does; the decoder writes the target with
# the causal mask, as a decoder-only model does; and each decoder layer has a third
# block, cross-attention, whose queries come from the target and whose keys and
# values come from the encoder's output. A training step predicts every target
# token from the target tokens before it and the whole source,
#
# $$
# \mathcal{L} = -\frac{1}{T} \sum_{t=0}^{T-1}
# \log \Pr(\text{target}_t \mid \text{target}_0, \dots, \text{target}_{t-1},\ \text{source}).
# $$
#
# [Chapter 13](13_training_a_transformer.py) trained one, `Seq2SeqTransformer`, to
# reverse digit strings. Here we only open an untrained one and check that its
# three kinds of attention use the three masks of Figure 14.2.

# %%
torch.manual_seed(0)
seq2seq = attention.Seq2SeqTransformer(
    source_vocab=12, target_vocab=12, d_model=16, num_heads=2,
    num_encoder_layers=1, num_decoder_layers=1, d_ff=32, max_len=8).eval()
source_ids = torch.tensor([[5, 6, 7, 8, 0, 0]])  # (1, S): 4 tokens, 2 padding
target_in = torch.tensor([[1, 8, 7, 6, 5]])  # (1, T): start token, then target
with torch.no_grad():
    seq2seq(source_ids, target_in, need_weights=True)  # (1, T, 12) logits
encoder_layer = seq2seq.transformer.encoder_layers[0]
decoder_layer = seq2seq.transformer.decoder_layers[0]
found = [encoder_layer.weights["self"],  # (1, heads, S, S)
         decoder_layer.weights["self"],  # (1, heads, T, T)
         decoder_layer.weights["cross"]]  # (1, heads, T, S)
for (name, mask), weights in zip(masks.items(), found):
    follows = torch.equal(weights > 0, mask.expand_as(weights))
    print(f"{name:>22}: weights zero exactly where the mask hides: {follows}")

# %% [markdown]
# The encoder-decoder pays for the source twice over in parameters (a second stack,
# and a cross-attention block in every decoder layer), and gets a clean division of
# labour: a source that is read in full, in both directions, and an output written
# from left to right. That suits tasks whose input is given and whose output is
# different in kind or in length: translation, summarising, or turning speech into
# text, as Whisper does ([Radford et al., 2023](../reference/references.md#radford2023)):
# its encoder reads a spectrogram of the audio, and its decoder writes the
# transcript, attending to the audio through cross-attention.
#
# ## Images are sequences too: a small Vision Transformer
#
# Nothing in an encoder layer knows that its inputs are words. The Vision
# Transformer (ViT) of [Dosovitskiy et al. (2021)](../reference/references.md#dosovitskiy2021)
# feeds it an image: the image is cut into square patches of $P \times P$ pixels,
# each patch is flattened to a vector of $P^2$ numbers (times the colour channels)
# and projected to $d_{\text{model}}$ by one learned matrix $W_{\text{patch}}$
# shared by all patches, and a learned position embedding is added to each, as BERT
# does for tokens. An image of $16 \times 16$ pixels in patches of $P = 4$ becomes
# a sequence of $n_{\text{patch}} = (16 / P)^2 = 16$ "words". In front of them the
# ViT puts one more learned vector, the *class token*; after the encoder layers,
# the class token's output, which has gathered from every patch through attention,
# is what a linear head turns into class scores. The mask is no mask at all: every
# patch may see every other. (The paper's images are $224 \times 224$ pixels in
# patches of 16, hence its title, *An image is worth 16x16 words*.)
#
# `patchify` cuts the patches, row by row:

# %%
images, labels = make_shape_images(4, torch.Generator().manual_seed(3))
patches = patchify(images, patch_size=4)  # (4, 16, 16): batch, patches, pixels
print("images", tuple(images.shape), "-> patches", tuple(patches.shape))
print("patch 5 is rows 4-7, columns 4-7:",
      torch.equal(patches[0, 5], images[0, 0, 4:8, 4:8].flatten()))

# %% [markdown]
# Our images are made in code by `make_shape_images`: grey $16 \times 16$ images,
# each with one shape drawn at a random place and size, in noise. The class is the
# shape: a horizontal bar, a vertical bar, a diagonal line or a hollow square. A
# shape spans several patches, and no single patch tells the classes apart.

# %%
train_images, train_labels = make_shape_images(
    600, torch.Generator().manual_seed(1))  # (600, 1, 16, 16), (600,)
test_images, test_labels = make_shape_images(
    400, torch.Generator().manual_seed(2))
shown = [int((test_labels == k).nonzero()[0]) for k in range(4)]  # one per class

fig, axes = plt.subplots(1, 4, figsize=(6.4, 1.9), layout="constrained")
for ax, index in zip(axes, shown):
    ax.imshow(test_images[index, 0], cmap="viridis", interpolation="none")
    ax.set_title(SHAPE_NAMES[int(test_labels[index])], fontsize=9)
    borders = [3.5, 7.5, 11.5]  # between pixels: the patch borders
    ax.set_xticks(borders, [])
    ax.set_yticks(borders, [])
    ax.tick_params(length=0)
    ax.grid(True, alpha=0.6)
plt.show()

# %% [markdown]
# **Figure 14.5.** One test image of each class, with grid lines every 4 pixels: the
# borders of the 16 patches the model reads. Each shape is drawn 1 or 2 pixels
# thick on Gaussian noise and crosses two to four patches.
#
# The model is `VisionTransformer`, built from the same `attention.EncoderLayer`
# as the encoder above: patch embedding, class token, learned positions, two
# pre-norm encoder layers, a head. We train it with the same loop, on random
# batches of the 600 training images.

# %%
torch.manual_seed(0)
vit = VisionTransformer(image_size=16, patch_size=4, channels=1, num_classes=4,
                        d_model=32, num_heads=4, num_layers=2, d_ff=64)
optimizer = Adam(vit.parameters())
picker = torch.Generator().manual_seed(0)  # which images each step sees
vit_steps = 150
for step in range(1, vit_steps + 1):
    batch = torch.randint(0, len(train_images), (32,), generator=picker)
    loss = F.cross_entropy(vit(train_images[batch]), train_labels[batch])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step(warmup(step))
vit.eval()
with torch.no_grad():
    predicted = vit(test_images, need_weights=True).argmax(dim=-1)  # (400,)
vit_accuracy = (predicted == test_labels).float().mean().item()
print(f"test accuracy: {vit_accuracy:.1%}")

# %% tags=["remove-input"]
Markdown(
    f"After {vit_steps} steps of 32 images, about "
    f"{vit_steps * 32 // len(train_images)} passes over the training set, the ViT "
    f"names the shape of {vit_accuracy:.1%} of the {len(test_images)} test images "
    f"it never saw ({len(SHAPE_NAMES)} classes, chance 25%)."
)

# %% [markdown]
# To see what the class token reads, we take its row of the last layer's attention
# weights, the weights it gives to the 16 patches, averaged over the heads, and lay
# it back on the $4 \times 4$ grid of patches.

# %%
last = vit.layers[-1].weights["self"]  # (400, heads, 17, 17): class token first
class_reads = last[:, :, 0, 1:].mean(dim=1)  # (400, 16): class token -> patches
grids = class_reads.reshape(-1, 4, 4)  # (400, 4, 4), the patches' places

fig, axes = plt.subplots(1, 4, figsize=(6.4, 2.0), layout="constrained")
for ax, index in zip(axes, shown):  # the images of Figure 14.5
    right = int(predicted[index]) == int(test_labels[index])
    guess = SHAPE_NAMES[int(predicted[index])]
    ax.set_title("predicted correctly" if right else f"predicted: {guess}", fontsize=8)
    ax.imshow(test_images[index, 0], cmap="gray", interpolation="none")
    heat = ax.imshow(grids[index], cmap="viridis", alpha=0.65, vmin=0,
                     extent=(-0.5, 15.5, 15.5, -0.5), interpolation="none")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
fig.colorbar(heat, ax=axes, shrink=0.8, label="weight")
plt.show()

# %% [markdown]
# **Figure 14.6.** What the class token attends to, on the four test images of
# Figure 14.5 (in grey), with the model's prediction: the class token's attention
# over the 16 patches in the last layer (mean of the heads) is laid over each
# image, brighter for more weight. The weight collects on patches the shape passes
# through; the patches of mere noise get little.

# %% tags=["remove-input"]
# The share of the class token's weight on patches that hold part of the shape,
# against the share of such patches (what a uniform spread would give).
clean, _ = make_shape_images(400, torch.Generator().manual_seed(2), noise=0.0)
on_shape = patchify(clean, 4).amax(dim=-1) > 0  # (400, 16): patch holds the shape
weight_on_shape = (class_reads * on_shape).sum(dim=1).mean().item()
share_on_shape = on_shape.float().mean().item()
Markdown(
    f"Over all {len(test_images)} test images, the class token puts "
    f"{weight_on_shape:.0%} of its last-layer weight on the patches that the shape "
    f"touches, which are {share_on_shape:.0%} of the patches: attention has learned "
    f"to read where the shape is, wherever that is in the image."
)

# %% [markdown]
# Two details of the ViT matter more than they seem. Without the position
# embeddings, self-attention sees the patches as a set, not a grid: permuting the
# patches permutes the outputs, and the class token's output does not change at
# all (the last exercise checks it). And the class token is a convention, not a
# necessity: the head may read the mean of the patches' outputs instead
# (`VisionTransformer(..., pool="mean")`), which Dosovitskiy et al. found to work
# about as well once the learning rate was tuned for it.
#
# ## Cross-attention beyond translation
#
# Cross-attention lets one sequence read another, and nothing requires the two to be
# of one kind. The queries may come from an image being generated and the keys and
# values from a text: in the latent diffusion model behind Stable Diffusion
# ([Rombach et al., 2022](../reference/references.md#rombach2022)), the network that
# removes noise from a compressed image has cross-attention layers whose queries
# are positions of that image and whose keys and values are the outputs of a text
# encoder, so the prompt steers every denoising step. Flamingo
# ([Alayrac et al., 2022](../reference/references.md#alayrac2022)) goes the other
# way: it inserts cross-attention layers into a pretrained, frozen decoder-only
# language model, whose text positions then attend to features of images, and the
# model answers questions about pictures. Whisper, above, attends from text to
# audio. In each case the block is the one of [Chapter 7](07_cross_attention.py):
# queries from the sequence being written, keys and values from the conditioning
# one, with a padding mask over the latter.

# %%
cross = attention.MultiHeadAttention(d_model=32, num_heads=4)
image_positions = torch.randn(1, 64, 32)  # (batch, 8 x 8 image latents, d_model)
text_states = torch.randn(1, 7, 32)  # (batch, text tokens, d_model)
text_mask = attention.padding_mask([5], max_len=7)  # (1, 1, 7): 2 padding tokens
steered, weights = cross(image_positions, text_states, text_states, text_mask)
print("output:", tuple(steered.shape), " weights:", tuple(weights.shape))
print("weight on text padding:", weights[..., 5:].abs().max().item())

# %% [markdown]
# The output has one vector per image position, each a mix of the text's values:
# the text changes the image without becoming part of its sequence.
#
# ## Summary
#
# - **Encoder-only** (BERT): self-attention with a padding mask only, so every
#   position sees the whole text. Trained to restore hidden tokens (15% of them),
#   using both sides; good at reading, with no way to write left to right.
# - **Decoder-only** (GPT): self-attention with the causal mask. Trained to predict
#   every next token, every position graded in one pass; it writes text by
#   predicting and appending, which the KV cache makes cheap. It cannot use what
#   comes after a position.
# - **Encoder-decoder** (the 2017 Transformer, T5, Whisper): a padding-masked
#   encoder, a causal decoder, and cross-attention from the decoder to the
#   encoder's output under the source's padding mask.
# - The families differ in their masks and their training targets far more than in
#   their layers: the same `EncoderLayer` serves BERT-style text models and the
#   Vision Transformer, which reads an image as a sequence of patches and
#   classifies it from a class token.
# - Cross-attention connects any two sequences: text to an image generator, images
#   to a language model, audio to a transcript.

# %% [markdown]
# ## Exercises
#
# 1. **Both copies hidden.** Hide position 1 *and* its mirror, position 6, in the
#    test palindromes, and measure the encoder's accuracy at position 1. Explain the
#    number.
# 2. **Which outputs a change can reach.** Change the last digit of a test
#    palindrome and compare both models' scores before and after, position by
#    position. Which positions change for the decoder-only model, and which for the
#    encoder-only one? Why?
# 3. **A ViT without positions.** Build an untrained
#    `VisionTransformer(..., positions=False)` and an image. Shuffle the image's
#    patches (a permutation of the 16 patches, moved back into an image) and compare
#    the class scores of the two images. Do the same with `positions=True`.

# %% tags=["solution"]
# Exercise 1: hide a digit and its mirror.
both = test_tokens.clone()
both[:, 1] = MASK
both[:, 6] = MASK
with torch.no_grad():
    guess = encoder_model(both)[:, 1].argmax(dim=-1)  # (1000,)
print(f"accuracy at position 1: {(guess == test_tokens[:, 1]).float().mean():.0%}")
# The digit at position 1 is random and written nowhere else: with both copies
# hidden, no context reveals it, and the model is left at about chance (10%).

# %% tags=["solution"]
# Exercise 2: change the last digit and see which outputs move.
original = test_tokens[:1]  # (1, 8)
changed = original.clone()
changed[0, 7] = 2 + (int(changed[0, 7]) - 2 + 1) % 10  # the next digit
with torch.no_grad():
    enc_diff = (encoder_model(original) - encoder_model(changed)).abs()
    dec_diff = (decoder_model(original) - decoder_model(changed)).abs()
print("encoder-only, change per position:",
      [f"{d:.1e}" for d in enc_diff.amax(dim=-1)[0].tolist()])
print("decoder-only, change per position:",
      [f"{d:.1e}" for d in dec_diff.amax(dim=-1)[0].tolist()])
# The decoder's outputs at positions 0 to 6 cannot see position 7 (causal mask):
# they are exactly unchanged, and only position 7's output moves. Every output of
# the encoder sees position 7, so all of them change.

# %% tags=["solution"]
# Exercise 3: shuffled patches, with and without positions.
image = test_images[:1]  # (1, 1, 16, 16)
order = torch.randperm(16, generator=torch.Generator().manual_seed(0))
grid = patchify(image, 4)[:, order]  # (1, 16, 16): the patches, shuffled
shuffled = grid.reshape(1, 4, 4, 4, 4).permute(0, 1, 3, 2, 4).reshape(1, 1, 16, 16)
for use_positions in (False, True):
    torch.manual_seed(0)
    model = VisionTransformer(16, 4, 1, 4, d_model=32, num_heads=4, num_layers=2,
                              d_ff=64, positions=use_positions).eval()
    with torch.no_grad():
        gap = (model(image) - model(shuffled)).abs().max().item()
    print(f"positions={use_positions}: largest change of a class score {gap:.1e}")
# Without positions, self-attention treats the patches as a set: shuffling them
# shuffles the patch outputs and leaves the class token's output, and so the
# scores, unchanged up to rounding. With positions, a patch's place changes its
# vector, and the scores change.

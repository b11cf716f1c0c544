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
# # The Transformer architecture
#
# The previous chapters built the parts: [multi-head attention](10_multi_head_attention.py),
# [masks](09_masks.py), [cross-attention](07_cross_attention.py) and
# [positional encoding](11_positional_encoding.py). This chapter puts them together into
# the model of [Vaswani et al. (2017)](../reference/references.md#vaswani2017): token embeddings scaled by
# $\sqrt{d_{\text{model}}}$,
# a stack of encoder layers, a stack of decoder layers, and an output projection onto the
# vocabulary. Between the parts sit residual connections and layer norms, and where the
# norm goes, after each sublayer as in the paper or before it as in most models since,
# decides whether a deep stack is easy to train; we measure why. The chapter ends by
# counting the parameters of the paper's base and big models and setting them beside
# the totals the paper reports, which do not quite match. Training comes in
# [Chapter 13](13_training_a_transformer.py).

# %% tags=["fold"]
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown
from matplotlib.colors import to_rgba
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator
from torch import nn

import attention
from attention.versions.overview import count_parameters
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: one thread is the fastest
torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## The whole picture
#
# The Transformer was built for translation. It reads a source sentence, as token ids,
# and writes the target sentence one token at a time. Two stacks do the work:
#
# - The **encoder** turns the source tokens into vectors, one per token, each of size
#   $d_{\text{model}}$, and passes them through $N$ identical *encoder layers*. Each layer
#   lets every source position attend to every other (self-attention), then transforms
#   every position on its own (a feed-forward network). The result, one vector per source
#   token, is called the *memory*.
# - The **decoder** does the same to the target tokens written so far, with two
#   differences in each of its $N$ *decoder layers*: its self-attention is causal
#   (position $t$ sees positions $0$ to $t$ only), and a third sublayer, cross-attention,
#   lets every target position attend to the memory. A final linear map turns each
#   target position's vector into one score per vocabulary token, and a softmax turns
#   the scores into the probabilities of the next token.

# %% tags=["remove-input", "wide-figure"]
# Plotting glue: the architecture as boxes and arrows. (The tag wide-figure keeps
# the drawing at a legible width on a phone, where it scrolls sideways.)
ink = plt.rcParams["text.color"]
fig, ax = plt.subplots(figsize=(7.2, 6.0))
ax.set_xlim(-0.2, 10.2)
ax.set_ylim(-0.35, 10.35)
ax.axis("off")
BOX_W, BOX_H = 3.1, 0.52


def box(x, y, text, color):
    ax.add_patch(FancyBboxPatch(
        (x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
        boxstyle="round,pad=0,rounding_size=0.12",
        facecolor=to_rgba(color, 0.22), edgecolor=color, lw=1.3))
    ax.text(x, y, text, ha="center", va="center", fontsize=9.5)


def path(*points):
    """A polyline that ends in an arrow head."""
    xs, ys = zip(*points)
    ax.plot(xs, ys, color=ink, lw=0.9, solid_capstyle="butt")
    ax.annotate("", points[-1], points[-2], arrowprops=dict(
        arrowstyle="-|>", color=ink, lw=0.9, shrinkA=0, shrinkB=0, mutation_scale=9))


def frame(x, y0, y1, side):
    ax.add_patch(FancyBboxPatch(
        (x - BOX_W / 2 - 0.35, y0), BOX_W + 0.7, y1 - y0,
        boxstyle="round,pad=0,rounding_size=0.2", facecolor="none",
        edgecolor=ink, lw=0.8, ls=(0, (4, 3))))
    ax.text(x + side * (BOX_W / 2 + 0.45), (y0 + y1) / 2, "N ×",
            ha="right" if side < 0 else "left", va="center", fontsize=10)


def stack(x, sublayers, y_start, side):
    """Sublayer boxes with 'add & norm' after each, arrows and residual bypasses."""
    y = y_start
    for text, color in sublayers:
        path((x, y - 0.59), (x, y - BOX_H / 2))
        box(x, y, text, color)
        path((x, y + BOX_H / 2), (x, y + 0.75 - BOX_H / 2))
        box(x, y + 0.75, "add & norm", COLORS[2])
        # Residual connection: from below the sublayer around it to the add & norm.
        edge = x + side * (BOX_W / 2 + 0.18)
        path((x, y - 0.47), (edge, y - 0.47), (edge, y + 0.75),
             (x + side * BOX_W / 2, y + 0.75))
        y += 1.6
    return y - 1.6 + 0.75 + BOX_H / 2  # the top of the last box


ENC_X, DEC_X = 2.55, 7.45
for x, tokens in ((ENC_X, "source tokens"), (DEC_X, "target tokens, shifted right")):
    ax.text(x, -0.15, tokens, ha="center", va="center", fontsize=10)
    path((x, 0.05), (x, 0.85 - BOX_H / 2))
    box(x, 0.85, "embedding × √d_model", COLORS[4])
    path((x, 0.85 + BOX_H / 2), (x, 1.7 - BOX_H / 2))
    box(x, 1.7, "+ positional encoding", COLORS[4])

enc_top = stack(ENC_X, [("self-attention", COLORS[0]),
                        ("feed-forward", COLORS[1])], 3.0, side=-1)
dec_top = stack(DEC_X, [("masked self-attention", COLORS[0]),
                        ("cross-attention", COLORS[0]),
                        ("feed-forward", COLORS[1])], 3.0, side=+1)
frame(ENC_X, 2.3, enc_top + 0.2, side=-1)
frame(DEC_X, 2.3, dec_top + 0.2, side=+1)
ax.text(ENC_X - BOX_W / 2 - 0.35, enc_top + 0.3, "encoder", ha="left",
        va="bottom", fontsize=10.5)
ax.text(DEC_X - BOX_W / 2 - 0.35, dec_top + 0.3, "decoder", ha="left",
        va="bottom", fontsize=10.5)

# The memory: the encoder's output, keys and values of every cross-attention.
cross_y = 3.0 + 1.6
path((ENC_X, enc_top), (ENC_X, 7.3), (5.05, 7.3), (5.05, cross_y),
     (DEC_X - BOX_W / 2, cross_y))
ax.text(ENC_X, 7.45, "memory", ha="center", va="bottom", fontsize=10)

path((DEC_X, dec_top), (DEC_X, 8.55 - BOX_H / 2))
box(DEC_X, 8.55, "linear", COLORS[3])
path((DEC_X, 8.55 + BOX_H / 2), (DEC_X, 9.4 - BOX_H / 2))
box(DEC_X, 9.4, "softmax", COLORS[3])
path((DEC_X, 9.4 + BOX_H / 2), (DEC_X, 9.95))
ax.text(DEC_X, 10.15, "next-token probabilities", ha="center", va="center",
        fontsize=10)
plt.show()

# %% [markdown]
# **Figure 12.1.** The Transformer, read from the bottom. Left, the encoder: embedded
# source tokens pass through $N$ layers of self-attention and feed-forward network, and
# the result is the memory. Right, the decoder: embedded target tokens pass through $N$
# layers of masked self-attention, cross-attention whose keys and values come from the
# memory, and feed-forward network; a linear map, whose weights are the embedding
# matrix, and a softmax give the next token's probabilities. Each thin line that goes around a sublayer is a *residual connection*:
# the sublayer's input is added to its output before the layer norm ("add & norm").
# This is the paper's order, *post-norm*; a later section moves the norm.
#
# "Shifted right" is how the decoder is trained. For the target *ich bin hier*, the
# decoder's input is the start token followed by the target minus its last token, and
# the output at each position is compared with the target token at that position:
#
# | position | 0 | 1 | 2 | 3 |
# |---|---|---|---|---|
# | decoder input | `<s>` | ich | bin | hier |
# | should predict | ich | bin | hier | `</s>` |
#
# The causal mask of [Chapter 9](09_masks.py#the-causal-mask) stops position $t$ from
# reading its answer at position $t + 1$, so all positions are trained at once. At
# inference the decoder starts from `<s>` alone and appends its own predictions one by
# one.
#
# The package builds this model as `attention.Seq2SeqTransformer`. Here is a small one
# (2 layers per stack, $d_{\text{model}} = 16$, 4 heads, a 12-token vocabulary) and the
# shapes along the way for a batch of two source sentences, the second padded with the
# pad token 0, and two target inputs of 5 tokens.

# %%
toy = attention.Seq2SeqTransformer(
    source_vocab=12, target_vocab=12, d_model=16, num_heads=4,
    num_encoder_layers=2, num_decoder_layers=2, d_ff=64, max_len=16,
    share_embeddings=True,
).eval()
source = torch.tensor([[5, 9, 3, 7, 4, 8, 2],
                       [6, 3, 9, 2, 0, 0, 0]])  # (batch, S), 0 = padding
target_in = torch.tensor([[1, 4, 7, 5, 9],
                          [1, 8, 6, 3, 3]])  # (batch, T), 1 = start token

embedded = toy.embed(source, toy.source_embedding)  # (batch, S, d_model)
memory = toy.encode(source)  # (batch, S, d_model)
logits = toy.decode(target_in, memory, source, need_weights=True)
probabilities = logits.softmax(dim=-1)  # (batch, T, vocab)
shapes = {"source ids": source, "embedded source": embedded,
          "memory": memory, "target ids (shifted right)": target_in,
          "logits": logits, "next-token probabilities": probabilities}
for name, value in shapes.items():
    print(f"{name:27s} {tuple(value.shape)}")

# %% [markdown]
# The memory has one vector per source token; the decoder's output has one vector per
# target position, which the output layer turns into 12 scores, one per vocabulary
# token. Each decoder layer keeps the attention weights of its last call in
# `layer.weights`: the self-attention's are `(batch, heads, T, T)`, the
# cross-attention's `(batch, heads, T, S)`, one row per target position and one column
# per source token. The two masks show in them:

# %%
last = toy.transformer.decoder_layers[-1]
self_w = last.weights["self"]  # (batch, heads, T, T)
cross_w = last.weights["cross"]  # (batch, heads, T, S)
future = ~attention.causal_mask(5)  # (T, T): True above the diagonal
print("self-attention ", tuple(self_w.shape),
      " largest weight on a future position:",
      self_w[..., future].max().item())
print("cross-attention", tuple(cross_w.shape),
      " largest weight on a padded source token:",
      cross_w[1, :, :, 4:].max().item())  # sequence 1 has 4 real tokens

# %% [markdown]
# ## Embeddings scaled by $\sqrt{d_{\text{model}}}$
#
# The first step turns each token id into a vector by looking up a row of a
# `(vocabulary, d_model)` matrix, the *embedding*. The paper makes two choices about it.
# It uses one matrix for three jobs: the source embedding, the target embedding (the
# source and target languages share one vocabulary of sub-word pieces) and the weights
# of the output projection, which scores the decoder's output vector $r$ against the row
# $E_i$ of each token $i$ in the embedding matrix $E$: $\text{logit}_i = r \cdot E_i$ (sharing the input and output
# matrices follows [Press and Wolf, 2017](../reference/references.md#press2017)). And it
# multiplies the embedding by $\sqrt{d_{\text{model}}}$ before adding the positional
# encoding.
#
# The paper does not say why; the sizes do. The decoder's output passes through a layer
# norm, so its entries have size about 1 and $\lVert r \rVert \approx
# \sqrt{d_{\text{model}}}$. For the first logits to be of size 1, and the first
# predictions neither confident nor flat, the rows of the shared matrix must have norm
# about 1, entries of size about $1/\sqrt{d_{\text{model}}}$; the package, like the
# paper's reference code, draws them with that standard deviation. As *input*, such a
# row is small next to the positional encoding, whose entries are sines and cosines
# between $-1$ and $1$. The factor $\sqrt{d_{\text{model}}}$ brings the token's entries
# to size about 1, as large as the position's. The package's
# `Seq2SeqTransformer(..., share_embeddings=True)` ties the three matrices; with the
# paper's $d_{\text{model}} = 512$ (and no layers, which this check does not need):

# %%
d_model = 512
tied = attention.Seq2SeqTransformer(
    source_vocab=1000, target_vocab=1000, d_model=d_model, num_heads=8,
    num_encoder_layers=0, num_decoder_layers=0, d_ff=2048, max_len=64,
    share_embeddings=True,
)
table = tied.source_embedding.weight.detach()  # (vocab, d_model)
print("one matrix for all three:", tied.source_embedding.weight
      is tied.target_embedding.weight is tied.output.weight)


def rms(t):
    """Root mean square of the entries: their typical size."""
    return t.pow(2).mean().sqrt().item()


positions = tied.positional_encoding.encoding[:64]  # (T, d_model)
scale = math.sqrt(d_model)
rms_row, rms_scaled, rms_pos = rms(table), rms(table * scale), rms(positions)
print(f"RMS of the entries: token rows {rms_row:.3f}, scaled rows "
      f"{rms_scaled:.3f}, positions {rms_pos:.3f}")

with torch.no_grad():
    h = tied.transformer.decoder_norm(torch.randn(64, d_model))  # (T, d)
    std_tied = tied.output(h).std().item()  # (T, vocab) logits
    std_large = (h @ (table * scale).T).std().item()  # rows of norm √d
print(f"std of the first logits: {std_tied:.2f} "
      f"(with rows of norm √d_model: {std_large:.1f})")

# %% tags=["remove-input"]
Markdown(
    f"A token's row has entries of typical size {rms_row:.3f}, close to "
    f"$1/\\sqrt{{512}} = {1 / math.sqrt(512):.3f}$, and the positional encoding's "
    f"{rms_pos:.2f} (the root mean square of a sine over a full turn is "
    f"$1/\\sqrt{{2}}$). Added as they are, the position would outweigh the token "
    f"{rms_pos / rms_row:.0f} to 1; after the scale the two are of the same size, "
    f"{rms_scaled:.2f} and {rms_pos:.2f}, and the layers see both. The same small rows "
    f"make the untrained model's logits spread about {std_tied:.1f}; rows of norm "
    f"$\\sqrt{{d_{{\\text{{model}}}}}}$ would spread them over {std_large:.0f} and give "
    f"a softmax that starts out almost one-hot on a random token. Sharing one matrix "
    f"also saves parameters, as the last section counts."
)

# %% [markdown]
# ## The encoder layer
#
# An encoder layer, `attention.EncoderLayer(d_model, num_heads, d_ff)`, holds two
# sublayers: `self_attention`, the `MultiHeadAttention` of
# [Chapter 10](10_multi_head_attention.py), and `feed_forward`. Each sublayer $F$ is
# wrapped the same way: its output is added to its input, and the sum is normalized,
#
# $$
# x \leftarrow \operatorname{LayerNorm}\bigl(x + F(x)\bigr).
# $$
#
# A layer maps `(batch, T, d_model)` to the same shape, which is what lets $N$ of them
# be stacked. The mask of the encoder's self-attention is the source's padding mask,
# `(batch, 1, S)`: no position attends to padding.
#
# PyTorch has the same layer as `nn.TransformerEncoderLayer`, and
# `EncoderLayer.from_torch` copies its weights. Computed in float64, to leave rounding
# out of the comparison, the two agree; so do the decoder layers, in both norm
# placements (the package's tests check this for every option):

# %%
def compare_with_torch(norm_first):
    """Largest output differences of our layers and PyTorch's."""
    options = dict(d_model=16, nhead=4, dim_feedforward=64, dropout=0.0,
                   batch_first=True, norm_first=norm_first,
                   dtype=torch.float64)
    torch_encoder = nn.TransformerEncoderLayer(**options).eval()
    torch_decoder = nn.TransformerDecoderLayer(**options).eval()
    our_encoder = attention.EncoderLayer.from_torch(torch_encoder)
    our_decoder = attention.DecoderLayer.from_torch(torch_decoder)
    src = torch.randn(2, 7, 16, dtype=torch.float64)  # (batch, S, d_model)
    tgt = torch.randn(2, 5, 16, dtype=torch.float64)  # (batch, T, d_model)
    causal = attention.causal_mask(5)  # (T, T), True = may attend
    with torch.no_grad():
        enc = (our_encoder(src) - torch_encoder(src)).abs().max().item()
        ours = our_decoder(tgt, src, self_mask=causal)
        theirs = torch_decoder(tgt, src, tgt_mask=~causal)  # True = masked
    return enc, (ours - theirs).abs().max().item()


for norm_first in (False, True):
    enc_diff, dec_diff = compare_with_torch(norm_first)
    print(f"norm_first={norm_first!s:5}  max |difference|: "
          f"encoder layer {enc_diff:.1e}, decoder layer {dec_diff:.1e}")

# %% [markdown]
# ## The feed-forward network
#
# The second sublayer is two linear maps with a ReLU between them,
#
# $$
# \operatorname{FFN}(x) = \max(0,\ x W_1 + b_1)\, W_2 + b_2,
# $$
#
# with $W_1$ of shape $d_{\text{model}} \times d_{\text{ff}}$ and $W_2$ of shape
# $d_{\text{ff}} \times d_{\text{model}}$; the paper takes $d_{\text{ff}} = 4
# d_{\text{model}}$ (2048 for $d_{\text{model}} = 512$). It is *position-wise*: every
# position goes through the same network alone, and nothing flows between positions.
# Attention is the only place where positions exchange information; the feed-forward
# network then transforms what each position has gathered. Running it on a whole
# sequence or on one position at a time gives the same numbers:

# %%
layer = attention.EncoderLayer(d_model=16, num_heads=4, d_ff=64)
x = torch.randn(2, 7, 16)  # (batch, T, d_model)
with torch.no_grad():
    whole = layer.feed_forward(x)  # (batch, T, d_model)
    one_by_one = torch.stack([layer.feed_forward(x[:, t])  # (batch, d_model)
                              for t in range(7)], dim=1)
print("max |whole sequence - one position at a time|:",
      f"{(whole - one_by_one).abs().max().item():.1e}")

# %% [markdown]
# Small as it looks, it holds most of a layer's parameters. At the paper's sizes:

# %%
with torch.device("meta"):  # shapes only: no memory, no random numbers
    base_encoder_layer = attention.EncoderLayer(512, 8, 2048)
    base_decoder_layer = attention.DecoderLayer(512, 8, 2048)
parts = {
    "self-attention": count_parameters(base_encoder_layer.self_attention),
    "feed-forward": count_parameters(base_encoder_layer.feed_forward),
    "layer norms": count_parameters(base_encoder_layer.norms),
}
encoder_layer_total = count_parameters(base_encoder_layer)
decoder_layer_total = count_parameters(base_decoder_layer)
for name, count in parts.items():
    print(f"{name:15s} {count:>10,}  {count / encoder_layer_total:6.1%}")
print(f"{'encoder layer':15s} {encoder_layer_total:>10,}")

# %% tags=["remove-input"]
ff_count = parts["feed-forward"]
Markdown(
    f"The feed-forward network's $2 d_{{\\text{{model}}}} d_{{\\text{{ff}}}} + "
    f"d_{{\\text{{ff}}}} + d_{{\\text{{model}}}} = {ff_count:,}$ parameters are "
    f"{ff_count / encoder_layer_total:.0%} of an encoder layer's, twice the attention's "
    f"$4 d_{{\\text{{model}}}}^2 + 4 d_{{\\text{{model}}}}$, and "
    f"{ff_count / decoder_layer_total:.0%} of a decoder layer's "
    f"({decoder_layer_total:,}), which has a second attention. The layer norms hardly "
    f"count: two vectors of size $d_{{\\text{{model}}}}$ each."
)

# %% [markdown]
# ## The decoder layer
#
# `attention.DecoderLayer` has three sublayers, each wrapped like the encoder's: masked
# self-attention over the target positions, cross-attention, and the feed-forward
# network. In the cross-attention the queries come from the decoder (the output of its
# first sublayer) and the keys and values from the memory, the encoder's output, as in
# [Chapter 7](07_cross_attention.py). Every decoder layer reads the same memory, the
# output of the *last* encoder layer. The call is
# `layer(x, memory, self_mask, memory_mask)`: `self_mask` is the causal mask (with the
# target's padding, if any) and `memory_mask` the source's padding mask, so that no
# target position attends to source padding. The small model above used exactly these
# masks; its decoder layers put a weight of 0 on every future position and on every
# padded source token.
#
# The stacks together are `attention.Transformer`, which, like PyTorch's
# `nn.Transformer`, takes vectors, not token ids: `encode(source, source_mask)` runs the
# encoder layers, `decode(target, memory, target_mask, memory_mask)` the decoder layers.
# Each stack ends with one more layer norm, `encoder_norm` and `decoder_norm`. The
# paper's stacks have none; the next section shows why a stack needs one when the norms
# move. `Seq2SeqTransformer` adds the embeddings, the positional encoding and the
# output projection around it.
#
# ## Residual connections and layer norm
#
# A **residual connection** ([He et al., 2016](../reference/references.md#he2016)) adds a sublayer's input to its
# output, $x + F(x)$. The
# sublayer then only has to learn a *change* to $x$, and an untrained sublayer whose
# output is small leaves $x$ almost as it was, so a deep stack starts out close to the
# identity instead of a long chain of random maps. In the backward pass the sum passes
# the gradient to $x$ unchanged, whatever $F$ does to it.
#
# A **layer norm** ([Ba et al., 2016](../reference/references.md#ba2016)) rescales each position's vector to mean 0
# and variance 1 over its
# $d_{\text{model}}$ features, then applies a learned scale $\gamma$ and shift $\beta$
# (vectors of size $d_{\text{model}}$, starting at 1 and 0):
#
# $$
# \operatorname{LayerNorm}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta,
# \qquad \mu = \frac{1}{d}\sum_{i=1}^{d} x_i, \quad \sigma^2 = \frac{1}{d}\sum_{i=1}^{d} (x_i - \mu)^2,
# $$
#
# with a small $\epsilon$ ($10^{-5}$) against division by zero. It works on each position
# of each sequence alone, unlike the *batch norm* of image models
# ([Ioffe and Szegedy, 2015](../reference/references.md#ioffe2015)), which averages over
# the batch: a sentence's vectors do not depend on what else is in the batch, and a
# single sentence at inference is normalized exactly as in training. Three positions
# with very different sizes:

# %%
norm = nn.LayerNorm(6)
x = torch.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                   [100.0, -50.0, 20.0, 0.0, 10.0, -80.0],
                   [0.1, 0.3, 0.2, 0.0, 0.5, 0.1]]])  # (batch, T, d)
with torch.no_grad():
    y = norm(x)  # (1, 3, 6)
    for name, values in [("before", x), ("after", y)]:
        means = values.mean(-1)[0].numpy().round(4)  # one per position
        stds = values.std(-1, unbiased=False)[0].numpy().round(4)
        print(f"{name:6s} mean per position: {means}  std: {stds}")
    print("last position alone equals its row in the batch:",
          torch.allclose(norm(x[:, 2:]), y[:, 2:]))

# %% [markdown]
# The layer norm keeps the vectors flowing through the stack at one size, whatever the
# sublayers add. The question is where to put it.
#
# ## Post-norm and pre-norm
#
# The paper normalizes *after* the residual sum (**post-norm**). Most Transformers since
# GPT-2 ([Radford et al., 2019](../reference/references.md#radford2019)) normalize the sublayer's *input* instead
# and leave the sum
# alone (**pre-norm**), with one layer norm after the last layer:
#
# $$
# \text{post-norm: } x_{l+1} = \operatorname{LayerNorm}\bigl(x_l + F_l(x_l)\bigr),
# \qquad
# \text{pre-norm: } x_{l+1} = x_l + F_l\bigl(\operatorname{LayerNorm}(x_l)\bigr).
# $$
#
# In pre-norm, nothing ever rescales the running sum (the *residual stream*). Unrolled
# over the $2N$ sublayers of $N$ encoder layers, the output is the input plus every
# sublayer's contribution,
#
# $$
# x_{2N} = x_0 + \sum_{l=0}^{2N-1} F_l\bigl(\operatorname{LayerNorm}(x_l)\bigr),
# $$
#
# so the gradient of the output with respect to any layer's input contains an identity
# term: it reaches the first layer directly, on a path with no norm and no weight on it.
# In post-norm the only path from layer $l$ to the output goes through every later layer
# norm, each of which divides by the standard deviation of its input. Since nothing
# normalizes the pre-norm sum, the stack needs the final layer norm; without it its
# output would be that growing sum. In the package, `norm_first=True` selects pre-norm,
# for a layer or the whole `Transformer`, as in PyTorch.
#
# [Xiong et al. (2020, *On Layer Normalization in the Transformer Architecture*)](../reference/references.md#xiong2020)
# worked out
# what this does to the gradients at initialization. The next cell measures it. It builds
# a 32-layer encoder stack of each kind (with $d_{\text{model}} = 64$, and its weight
# matrices initialized as in their analysis, by [Glorot's](../reference/references.md#glorot2010) uniform rule,
# `nn.init.xavier_uniform_`), and feeds it random vectors. For every depth $N$ it
# computes the gradient of a fixed random read-out of the stack's output with respect to
# the feed-forward weights $W_2$ of the *top* layer (the first $N$ layers of the stack,
# with the final norm, are a stack of depth $N$).

# %%
def top_layer_gradients(norm_first, depths, max_depth=32):
    """Norm of the gradient of the top layer's W_2, for each depth;
    and the RMS of the residual stream after each layer."""
    torch.manual_seed(1)
    stack = attention.Transformer(64, 4, max_depth, 0, 256,
                                  norm_first=norm_first)
    for weight in (p for p in stack.parameters() if p.ndim == 2):
        nn.init.xavier_uniform_(weight)
    x = torch.randn(8, 16, 64)  # (batch, T, d_model)
    readout = torch.randn(8, 16, 64)  # the "loss" is sum(readout * output)
    states = [x]  # the residual stream after each layer
    with torch.no_grad():
        for layer in stack.encoder_layers:
            states.append(layer(states[-1]))  # (batch, T, d_model)
    gradients = []
    for depth in depths:  # only the top layer needs a graph: run it again
        top = stack.encoder_layers[depth - 1]
        output = stack.encoder_norm(top(states[depth - 1]))
        loss = (output * readout).sum() / output.numel() ** 0.5
        (grad,) = torch.autograd.grad(loss, top.feed_forward.linear2.weight)
        gradients.append(grad.norm().item())
    stream_rms = [s.pow(2).mean().sqrt().item() for s in states]
    return np.array(gradients), np.array(stream_rms)


depths = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32])
post_grad, post_rms = top_layer_gradients(False, depths)
pre_grad, pre_rms = top_layer_gradients(True, depths)

# %% tags=["remove-input"]
# Plotting glue: gradients against depth (log-log), and the stream's size.
fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.2), layout="constrained")
left.plot(depths, post_grad, label="post-norm")
left.plot(depths, pre_grad, label="pre-norm")
fitted = np.exp(np.mean(np.log(pre_grad * np.sqrt(depths))))  # c in c/√N
left.plot(depths, fitted / np.sqrt(depths), "--", lw=1.2, color=COLORS[2],
          label="∝ 1/√N")
left.set(xscale="log", yscale="log", xlabel="depth N (layers)",
         ylabel="gradient norm, top layer's W₂")
for axis, ticks in [(left.xaxis, [1, 2, 4, 8, 16, 32]), (left.yaxis, [1, 2, 4, 8])]:
    axis.set_major_locator(FixedLocator(ticks))  # plain tick labels on log axes
    axis.set_major_formatter(FixedFormatter([str(t) for t in ticks]))
    axis.set_minor_locator(NullLocator())
left.legend()
layers = np.arange(len(post_rms))
right.plot(layers, post_rms, label="post-norm")
right.plot(layers, pre_rms, label="pre-norm")
right.set(xlabel="layers passed", ylabel="RMS of the residual stream", ylim=(0, None))
plt.show()

# %% tags=["remove-input"]
deepest = depths[-1]
Markdown(
    f"**Figure 12.2.** Left: the gradient that reaches the top layer's feed-forward "
    f"weights, for encoder stacks of depth 1 to {deepest}, at initialization (log scales). "
    f"In post-norm it stays between {post_grad.min():.1f} and {post_grad.max():.1f} "
    f"whatever the depth; in pre-norm it "
    f"falls with depth, roughly like the dashed $1/\\sqrt{{N}}$ line. Right, in the same "
    f"colors: the size of the vectors between layers in the {deepest}-layer stacks. Post-norm renormalizes them "
    f"to 1 after every sublayer; in pre-norm every layer adds to the stream, which grows "
    f"from {pre_rms[0]:.1f} to {pre_rms[-1]:.1f}."
)

# %% tags=["remove-input"]
ratio = post_grad[-1] / pre_grad[-1]
product = pre_grad * pre_rms[depths]  # gradient × size of the stream it came from
Markdown(
    f"This is what Xiong et al. proved: at initialization the gradients of the layers "
    f"near the output are about the same size in post-norm at any depth, while in "
    f"pre-norm they shrink like $1/\\sqrt{{N}}$. The top layer's contribution is one of "
    f"the $2N$ terms added to the stream, whose size grows like $\\sqrt{{N}}$, and the final "
    f"norm divides everything by that size. Here the pre-norm gradient times the size of "
    f"the stream stays between {product.min():.1f} and {product.max():.1f} at every depth. "
    f"(With PyTorch's default initialization of `nn.Linear`, which the package keeps, "
    f"the sublayers start out adding less, so the stream grows more slowly and the "
    f"gradient falls more slowly; the rule is the same.)\n\n"
    f"With plain gradient descent and one learning rate for the whole model, the top "
    f"layer of the {deepest}-layer post-norm stack would move {ratio:.1f} times faster at "
    f"the start than the pre-norm one's, and the gap grows with depth. Xiong et al. "
    f"traced to these large early gradients the paper's need for a *warm-up*: its "
    f"learning rate grows linearly from 0 over the first 4,000 steps, so that the first "
    f"updates stay small while the model is random. They showed that a pre-norm "
    f"Transformer trains without warm-up, with larger learning rates and in fewer steps; "
    f"[Wang et al. (2019, *Learning Deep Transformer Models for Machine "
    f"Translation*)](../reference/references.md#wang2019) "
    f"trained pre-norm encoders of 30 layers, in a setting where deep post-norm encoders "
    f"did not train.\n\n"
    f"Pre-norm has a price, visible on the right: since the stream keeps growing, each "
    f"later layer's contribution is a smaller fraction of it, and deep layers count for "
    f"less. Several studies (for instance [Liu et al., 2020, *Understanding the "
    f"Difficulty of Training Transformers*](../reference/references.md#liu2020)) report that a post-norm model that does train "
    f"tends to end slightly better. Most large models have chosen the stability."
)

# %% [markdown]
# ## Counting the parameters
#
# The paper's Table 3 reports 65 million parameters for its base model
# ($d_{\text{model}} = 512$, 8 heads, $N = 6$ layers per stack, $d_{\text{ff}} = 2048$)
# and 213 million for its big model (1024, 16 heads, $N = 6$, 4096). Its English-German
# models use a shared vocabulary of about 37,000 sub-word tokens, and one matrix for the
# two embeddings and the output projection. Building the stacks on PyTorch's `meta`
# device gives every parameter its shape without allocating or initializing it, so
# counting the big model costs nothing:

# %%
VOCAB = 37_000  # the paper's shared English-German vocabulary


def parameter_breakdown(d_model, num_heads, d_ff, num_layers=6):
    """Parameters of the paper's model by part, one shared embedding."""
    with torch.device("meta"):
        model = attention.Transformer(d_model, num_heads, num_layers,
                                      num_layers, d_ff)
    enc, dec = model.encoder_layers, model.decoder_layers

    def total(layers, part):
        return sum(count_parameters(getattr(layer, part)) for layer in layers)

    final_norms = (count_parameters(model.encoder_norm)
                   + count_parameters(model.decoder_norm))
    parts = {
        "encoder self-attention": total(enc, "self_attention"),
        "encoder feed-forward": total(enc, "feed_forward"),
        "decoder self-attention": total(dec, "self_attention"),
        "decoder cross-attention": total(dec, "cross_attention"),
        "decoder feed-forward": total(dec, "feed_forward"),
        "layer norms (final ones included)":
            total([*enc, *dec], "norms") + final_norms,
    }
    assert sum(parts.values()) == count_parameters(model)  # all counted
    parts["shared embedding = output weights"] = VOCAB * d_model
    parts["output bias"] = VOCAB
    return count_parameters(model), parts


base_layers, base_parts = parameter_breakdown(512, 8, 2048)
big_layers, big_parts = parameter_breakdown(1024, 16, 4096)
base_total, big_total = sum(base_parts.values()), sum(big_parts.values())

# %% tags=["remove-input"]
rows = "\n".join(f"| {name} | {base_parts[name]:,} | {big_parts[name]:,} |"
                 for name in base_parts)
Markdown(
    f"**Table 12.1.** Parameters of the paper's two models, counted by the package, with a "
    f"shared embedding of {VOCAB:,} tokens.\n\n"
    f"| part | base | big |\n|---|---:|---:|\n{rows}\n"
    f"| **total** | **{base_total:,}** | **{big_total:,}** |\n"
    f"| the paper's total | 65,000,000 | 213,000,000 |"
)

# %% [markdown]
# The embedding is counted once, and the output projection's bias is the package's
# choice (the paper does not mention one; it is too small to matter either way). Two
# checks that the package counts what a Transformer is: `Seq2SeqTransformer` with tied
# embeddings has exactly the stack's parameters plus one embedding matrix and the output
# bias, and PyTorch's `nn.Transformer`, which also ends each stack with a layer norm, has
# exactly as many parameters as ours:

# %%
small = dict(d_model=32, num_heads=4, num_encoder_layers=2,
             num_decoder_layers=3, d_ff=64)
stack_only = count_parameters(attention.Transformer(**small))
tied_model = attention.Seq2SeqTransformer(50, 50, **small, max_len=20,
                                          share_embeddings=True)
torch_model = nn.Transformer(32, 4, 2, 3, 64, batch_first=True)
print("Seq2SeqTransformer == stack + 50 × 32 + 50:",
      count_parameters(tied_model) == stack_only + 50 * 32 + 50)
print("nn.Transformer == attention.Transformer:",
      count_parameters(torch_model) == stack_only)

# %% tags=["remove-input"]
untied_two = base_layers + 2 * VOCAB * 512
untied_three = base_layers + 3 * VOCAB * 512
Markdown(
    f"So the base model comes to {base_total / 1e6:.1f} million, "
    f"{65 - base_total / 1e6:.1f} million short of the paper's 65, and the big one to "
    f"{big_total / 1e6:.1f} million, {big_total / 1e6 - 213:.1f} million *over* its 213. "
    f"The paper does not say what it counts. Untied embeddings are not the answer: with "
    f"separate source and target embeddings and a tied output projection the base model "
    f"would have {untied_two / 1e6:.1f} million parameters, and with three separate "
    f"matrices {untied_three / 1e6:.1f} million, far above 65. Nor are the biases and layer "
    f"norms, which the paper might have left out: they only make the count smaller. The "
    f"paper's Table 3 gives more evidence: it also reports the parameters of seven "
    f"variations of the base model, each changing one size. For each row we count the "
    f"stacks with the package and ask how large the shared vocabulary would have to be "
    f"to give the reported total, which the paper rounds to the nearest million."
)

# %%
# Table 3 of Vaswani et al. (2017), the rows with a parameter count that
# the package can build: (row, N, d_model, heads, d_ff, reported millions)
TABLE_3 = [
    ("base", 6, 512, 8, 2048, 65),
    ("N = 2", 2, 512, 8, 2048, 36),
    ("N = 4", 4, 512, 8, 2048, 50),
    ("N = 8", 8, 512, 8, 2048, 80),
    ("d_model = 256", 6, 256, 8, 2048, 28),
    ("d_model = 1024", 6, 1024, 8, 2048, 168),
    ("d_ff = 1024", 6, 512, 8, 1024, 53),
    ("d_ff = 4096", 6, 512, 8, 4096, 90),
    ("big", 6, 1024, 16, 4096, 213),
]
fits = []  # (row, stacks, with VOCAB tokens, reported, vocabulary range)
for row, n, d, heads, d_ff, reported in TABLE_3:
    with torch.device("meta"):  # one layer of each kind: the stacks repeat it
        pair = (attention.EncoderLayer(d, heads, d_ff),
                attention.DecoderLayer(d, heads, d_ff))
    stacks = n * sum(map(count_parameters, pair)) + 2 * 2 * d  # final norms
    # total = stacks + vocab * (d + 1), embedding rows and output biases,
    # and the paper rounds: the total is within 0.5 million of `reported`.
    low, high = ((reported * 1e6 + half - stacks) / (d + 1)
                 for half in (-0.5e6, 0.5e6))
    fits.append((row, stacks, stacks + VOCAB * (d + 1), reported, low, high))

assert fits[0][1] == base_layers and fits[-1][1] == big_layers

# %% tags=["remove-input"]
TEX_NAMES = {"d_model": r"$d_{\text{model}}$", "d_ff": r"$d_{\text{ff}}$"}


def row_label(row):
    for name, tex in TEX_NAMES.items():
        row = row.replace(name, tex)
    return row


rows = "\n".join(
    f"| {row_label(row)} | {with_vocab / 1e6:.1f} | {reported} "
    f"| {low / 1e3:.1f}–{high / 1e3:.1f} |"
    for row, stacks, with_vocab, reported, low, high in fits
)
family = fits[:-1]  # the base model and its variations
fit_low, fit_high = max(r[4] for r in family), min(r[5] for r in family)
big_low, big_high = fits[-1][4], fits[-1][5]
Markdown(
    f"**Table 12.2.** The rows of the paper's Table 3 that report a parameter count. "
    f"*Package*: the parameters, in millions, as the package counts them with a shared "
    f"embedding of {VOCAB:,} tokens. *Paper*: the paper's total, in millions. "
    f"*Vocabulary that fits*: the shared vocabulary sizes, in thousands of tokens, that "
    f"would give the paper's total. The variations of the base model are the rows (C) of "
    f"the paper's table; its rows (B), which shrink the queries and keys below "
    f"$d_{{\\text{{model}}}}/h$, need projections the package's layers do not have.\n\n"
    f"| row | package | paper | vocabulary that fits |\n"
    f"|---|---:|---:|---:|\n{rows}"
)

# %% tags=["remove-input"]
Markdown(
    f"The eight rows of the base family agree with each other: every one of them fits a "
    f"shared vocabulary between {fit_low:,.0f} and {fit_high:,.0f} tokens. The count grows "
    f"with $N$, $d_{{\\text{{ff}}}}$ and $d_{{\\text{{model}}}}$ as the package's layers "
    f"do, to within the rounding, so the paper counted the layers as we do, plus about "
    f"{(fit_low + fit_high) / 2:,.0f} × $d_{{\\text{{model}}}}$ more: one shared matrix, "
    f"but about {(fit_low + fit_high) / 2 - VOCAB:,.0f} rows larger than a "
    f"{VOCAB:,}-token vocabulary. The big model does not fit that: it needs between "
    f"{big_low:,.0f} and {big_high:,.0f} rows, so no single vocabulary gives all nine "
    f"totals. What the difference cannot come from is clear: untied embeddings (tens of "
    f"millions too many), biases or norms (they only subtract, and little), or the "
    f"layers themselves (the variations scale as ours do). What it does come from, an "
    f"embedding of a different size in the base experiments or a count made differently "
    f"for the big model, the paper does not say. The differences are small, "
    f"{(65e6 - base_total) / 65e6:.0%} of the base model and "
    f"{(big_total - 213e6) / 213e6:.1%} of the big one, and the breakdown is what matters: "
    f"at these sizes the feed-forward networks hold "
    f"{(base_parts['encoder feed-forward'] + base_parts['decoder feed-forward']) / base_total:.0%}"
    f" of the base model's parameters, the attention sublayers "
    f"{sum(v for k, v in base_parts.items() if 'attention' in k) / base_total:.0%}, and "
    f"the embedding {base_parts['shared embedding = output weights'] / base_total:.0%}."
)

# %% [markdown]
# ## Summary
#
# - The Transformer embeds the source tokens (embedding $\times \sqrt{d_{\text{model}}}$,
#   plus positions), runs them through $N$ encoder layers to get the memory, and runs the
#   target tokens, shifted right, through $N$ decoder layers; a linear map and a softmax
#   give the next token's probabilities.
# - An encoder layer is self-attention then a position-wise feed-forward network; a
#   decoder layer adds causal masking to its self-attention and a cross-attention to the
#   memory between the two. Every sublayer has a residual connection and a layer norm.
#   Every layer maps `(batch, T, d_model)` to the same shape, so layers stack.
# - One matrix serves as both embeddings and the output projection. Its entries are
#   small, about $1/\sqrt{d_{\text{model}}}$, which suits the output; the factor
#   $\sqrt{d_{\text{model}}}$ brings the input embeddings up to the size of the
#   positional encoding.
# - The feed-forward network, with $d_{\text{ff}} = 4 d_{\text{model}}$, has
#   $8 d_{\text{model}}^2$ weights, twice as many as an attention sublayer: most of an
#   encoder layer's parameters.
# - Layer norm rescales each position's vector over its features. Post-norm (the paper)
#   normalizes after the residual sum; pre-norm (most models since) normalizes the
#   sublayer's input and needs a final norm. Pre-norm keeps an identity path through the
#   stack, its gradients at the top shrink like $1/\sqrt{N}$ instead of staying large, and
#   it trains without the warm-up post-norm needs.
# - With one shared embedding of the paper's vocabulary size, the package's counts come
#   within a few percent of the paper's totals, 65 million (base) and 213 million (big).
#   The paper's variations of the base model scale as the package's layers do;
#   no single vocabulary size explains all its totals, and the paper does not say what
#   it counted.

# %% [markdown]
# ## Exercises
#
# 1. Write the parameter count of one decoder layer as a formula in $d_{\text{model}}$
#    and $d_{\text{ff}}$, and check it with `count_parameters` for the base and the big
#    model's sizes.

# %% tags=["solution"]
# Exercise 1: two attentions (4 d^2 + 4 d each), the feed-forward network
# (2 d d_ff + d_ff + d) and three layer norms (2 d each).
def decoder_layer_formula(d, d_ff):
    return 2 * (4 * d * d + 4 * d) + (2 * d * d_ff + d_ff + d) + 3 * 2 * d


for d, heads, d_ff in [(512, 8, 2048), (1024, 16, 4096)]:
    with torch.device("meta"):
        counted = count_parameters(attention.DecoderLayer(d, heads, d_ff))
    print(f"d_model={d:4d}: formula {decoder_layer_formula(d, d_ff):,}, "
          f"counted {counted:,}")

# %% [markdown]
# 2. Build a pre-norm `EncoderLayer` and check its output against the formula
#    $x' = x + \operatorname{MHA}(\operatorname{LN}_1(x))$,
#    $x'' = x' + \operatorname{FFN}(\operatorname{LN}_2(x'))$, computed by hand from the
#    layer's members `norms`, `self_attention` and `feed_forward`.

# %% tags=["solution"]
# Exercise 2: a pre-norm layer by hand.
pre = attention.EncoderLayer(16, 4, 64, norm_first=True)
x = torch.randn(2, 5, 16)  # (batch, T, d_model)
with torch.no_grad():
    normed = pre.norms[0](x)
    attended, _ = pre.self_attention(normed, normed, normed)
    h = x + attended  # (batch, T, d_model)
    by_hand = h + pre.feed_forward(pre.norms[1](h))
    print(f"max |layer - by hand|: {(pre(x) - by_hand).abs().max().item():.1e}")

# %% [markdown]
# 3. How does the base model's parameter count change with the number of heads, from 1
#    to 64? And with $d_{\text{ff}}$? Predict, then count.

# %% tags=["solution"]
# Exercise 3: the heads only split d_model into slices; the count stays.
for heads in [1, 8, 64]:
    with torch.device("meta"):
        count = count_parameters(attention.Transformer(512, heads, 6, 6, 2048))
    print(f"{heads:2d} heads: {count:,} parameters")
# d_ff enters only the 12 feed-forward networks, (2 d + 1) d_ff + d each:
# doubling it to 4096 adds 12 × 1025 × 2048 = 25,190,400 (row d_ff = 4096).

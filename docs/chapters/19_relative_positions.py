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
# # Relative positions: RoPE and ALiBi
#
# The model of [Chapter 18](18_a_small_language_model.py) knows where each
# character is from a learned vector per position, added to its embedding. It has 32
# such vectors, so it cannot read a 33rd character at all. The sinusoidal encoding
# of [Chapter 11](11_positional_encoding.py) gives a vector for every position, but
# a model trained on short texts has never seen the vectors of the long ones. Yet
# what matters for predicting a character is mostly how far back each earlier
# character is, not where the text began. This chapter moves position into
# attention itself, as an *offset* between query and key: rotary embeddings (RoPE),
# which rotate queries and keys so that their dot product depends only on the
# offset, and ALiBi, which subtracts from each score a penalty that grows with the
# distance. Then we train the same model three times, with sinusoidal, rotary and
# ALiBi positions, on windows of 32 characters, and measure each on texts eight
# times as long.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown

import attention
from attention.modern.language_modeling import loss_by_position
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: one thread, the same numbers every build

# %% [markdown]
# ## Absolute positions do not carry over
#
# An absolute scheme gives position $p$ a vector $\mathrm{PE}_p$ and adds it to the
# token's embedding. Two things go wrong beyond the training length. A learned table
# simply has no row for a later position. A formula has one, but the layers were
# trained on the sums of embeddings with the first few vectors only; a vector they
# have never seen is, for them, noise added to every token. And even within the
# training length, "the character 3 positions back" is a different pair of vectors
# at every place in the text: the model must learn the same relation again for each
# pair of absolute positions. Chapter 11 showed that the sinusoidal encoding makes
# that relation a rotation, so it is learnable; RoPE makes it built in.
#
# ## Rotary embeddings
#
# RoPE ([Su et al., 2021](../reference/references.md#su2021)) adds nothing to the
# embeddings. Inside every attention layer, after the projections, it takes the
# $d_{\text{head}}$ features of each query and each key in pairs, and turns pair $i$
# of the vector at position $p$ by the angle $p\,\omega_i$, with the frequencies
# $\omega_i = 10000^{-2i/d_{\text{head}}}$ of the sinusoidal encoding. Call that
# rotation $R_p$. Rotations keep lengths, and turning both vectors of a dot product
# is the same as turning one of them back by the other's angle:
#
# $$
# (R_p\, q) \cdot (R_{p + \Delta p}\, k) = q \cdot (R_{\Delta p}\, k).
# $$
#
# The score of a query and a key depends on their contents and on the offset
# $\Delta p$ between them, never on where they are. Each vector is still turned by
# its own absolute position, which is what lets a KV cache store the keys already
# turned. `attention.apply_rotary` does the turning on a tensor
# `(..., T, d_head)` with the positions of its rows:

# %%
q, k = torch.randn(2, 1, 8, dtype=torch.float64)  # one query, one key: (1, d_head)


def rope_score(p_query, p_key):
    """The dot product of q at position p_query and k at position p_key."""
    return (attention.apply_rotary(q, torch.tensor([p_query]))
            @ attention.apply_rotary(k, torch.tensor([p_key])).T).item()


for p_query, p_key in ((5, 2), (105, 102), (5005, 5002), (5, 3)):
    print(f"query at {p_query:4d}, key at {p_key:4d}: "
          f"score {rope_score(p_query, p_key):+.6f}")

# %% [markdown]
# The first three pairs are 3 positions apart and score the same (to float64
# rounding); the fourth, 2 apart, does not. The tests check this property with
# `hypothesis` on random vectors, positions and shifts, and check `apply_rotary`
# against an independent formula: each pair as a complex number, multiplied by
# the complex number of length 1 and angle $p\,\omega_i$. For comparison, here is
# the score of the same $q$ and $k$ when the sinusoidal vectors are added to them
# instead, over all pairs of positions:

# %%
positions = torch.arange(48)
rotated_q = attention.apply_rotary(q.expand(48, 8), positions)  # (48, d_head)
rotated_k = attention.apply_rotary(k.expand(48, 8), positions)
rope_scores = rotated_q @ rotated_k.T  # (query position, key position)
table = attention.sinusoidal_encoding(48, 8, dtype=torch.float64)  # (48, d_head)
added_scores = (q + table) @ (k + table).T

fig, axes = plt.subplots(1, 2, figsize=(6.8, 3.2), layout="constrained")
for ax, scores, title in ((axes[0], rope_scores, "RoPE: rotate q and k"),
                          (axes[1], added_scores, "add sinusoidal vectors")):
    image = ax.imshow(scores.numpy(), cmap="RdBu_r", vmin=-scores.abs().max(),
                      vmax=scores.abs().max())
    ax.set(title=title, xlabel="key position", ylabel="query position")
    fig.colorbar(image, ax=ax, shrink=0.8, label="score")
plt.show()

# %% tags=["remove-input"]
diagonal_spread = max(rope_scores.diagonal(offset).std().item()
                      for offset in range(-46, 47))  # diagonals of 2 or more
Markdown(
    f"**Figure 19.1.** The score of one query and one key placed at every pair of "
    f"48 positions. With RoPE (left) the picture is constant along every diagonal, "
    f"the lines of equal offset (the largest standard deviation along a diagonal is "
    f"{diagonal_spread:.0e}): only the offset counts. With the vectors added (right), "
    f"the score also depends on where the pair is."
)

# %% [markdown]
# In the model, `attention.GPT(..., positions="rope")` gives every attention layer an
# `attention.RotaryPositions` scheme: queries and keys are turned after their
# projections, the values are not, and nothing is added to the embeddings. It has no
# parameters, and it is what LLaMA, Mistral and most open models of today use.
#
# ## ALiBi: a penalty for distance
#
# ALiBi ([Press, Smith and Lewis, 2022](../reference/references.md#press2022)) is
# simpler still. No vectors at all: each head subtracts from the score of query $i$
# and key $j$ a penalty proportional to their distance,
#
# $$
# s_{ij} = \frac{q_i \cdot k_j}{\sqrt{d_{\text{head}}}} - \rho\,(i - j),
# $$
#
# with a fixed slope $\rho$ per head. The slopes are a geometric sequence: for $h$
# heads, $\rho = 2^{-8/h}, 2^{-16/h}, \dots, 2^{-8}$. A steep head sees little beyond
# its neighbours; a gentle one sees far. `attention.alibi_slopes` computes them
# (for $h$ not a power of 2, the paper's rule: the slopes of the power of 2 below $h$,
# then every other slope of twice that power), and `attention.alibi_bias` the
# penalties:

# %%
num_heads = 4
slopes = attention.alibi_slopes(num_heads)
print("slopes:", [f"2^{np.log2(s):.0f}" for s in slopes.tolist()])
bias = attention.alibi_bias(slopes, torch.arange(6), torch.arange(6))
print("head 0, query 5 (keys 0 to 5):", bias[0, 5].tolist())

distance = np.arange(64)
fig, axes = plt.subplots(1, 2, figsize=(6.8, 2.8), layout="constrained")
for h, slope in enumerate(slopes.tolist()):
    axes[0].plot(distance, -slope * distance, label=f"head {h}: $2^{{{np.log2(slope):.0f}}}$")
    weights = np.exp(-slope * distance) / np.exp(-slope * distance).sum()
    axes[1].plot(distance, weights, color=COLORS[h])
axes[0].set(xlabel="distance back, i - j", ylabel="bias added to the score")
axes[1].set(xlabel="distance back, i - j", ylabel="weight, equal scores",
            yscale="log", ylim=(1e-6, 1))
axes[0].legend(fontsize=7)
plt.show()

# %% tags=["remove-input"]
half_life = np.log(2) / slopes.numpy()
Markdown(
    f"**Figure 19.2.** The ALiBi bias of the {num_heads} heads of our model against the "
    f"distance between query and key (left), and the weights a query of 64 keys "
    f"would give them if every score were equal before the bias (right, log "
    f"scale). The steepest head halves a key's weight every "
    f"{half_life[0]:.1f} positions, the gentlest every {half_life[-1]:.0f}. "
    f"Attention to far keys is discouraged but never forbidden: the content part "
    f"of the score can still win."
)

# %% [markdown]
# The bias is one more input to the softmax, so it needs no new kind of attention:
# `attention.biased_attention` adds it to the scaled scores, then masks, and on its
# fast path hands PyTorch's fused kernel the bias and the causal mask together as one
# float `attn_mask` (-inf where the mask is False). The tests check ALiBi attention
# against `F.scaled_dot_product_attention` given that float mask.
#
# ### A learned bias: T5
#
# ALiBi's bias is a fixed line. The T5 model
# ([Raffel et al., 2020](../reference/references.md#raffel2020)) learns it instead:
# one scalar per head for each *bucket* of offsets, exact buckets for the small
# offsets and logarithmically wider ones for the large ones, all offsets past a
# maximum sharing the last bucket. It adds parameters, a few dozen per head, and like
# ALiBi it has a value for any offset, since far offsets fall in the last bucket.
# Its relative positions go back to [Shaw, Uszkoreit and Vaswani
# (2018)](../reference/references.md#shaw2018), who learned a vector per clipped
# offset.
#
# ## The experiment: train short, read long
#
# The same model, three ways: sinusoidal vectors added to the embeddings (scaled
# to the size of the embeddings' initial values), RoPE, and ALiBi. Each is trained
# exactly like Chapter 18's model, with the same seed, on windows of 32 characters,
# smaller than there (so that three trainings fit in the time a page may take to
# build). Then each reads the held-out text in windows of 256 characters, and we
# average the loss at every position of the window: position 100 predicts a
# character from the 100 before it, at offsets the model never saw in training.

# %%
tokenizer, train_tokens, heldout_tokens = attention.book_tokens()  # chapter 18's split

train_length, read_length = 32, 256
config = dict(d_model=32, num_heads=4, num_layers=2)
schemes = {"sinusoidal": "sinusoidal", "RoPE": "rope", "ALiBi": "alibi"}
models, position_losses = {}, {}
for name, positions in schemes.items():
    torch.manual_seed(0)
    model = attention.GPT(len(tokenizer), positions=positions, **config)
    attention.train_language_model(
        model, train_tokens, steps=200, batch_size=32, length=train_length,
        generator=torch.Generator().manual_seed(0), lr=1e-2, warmup=30)
    models[name] = model
    position_losses[name] = loss_by_position(model, heldout_tokens, read_length)

# %%
smooth = 8  # average over 8 neighbouring positions
fig, ax = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
for (name, losses), color in zip(position_losses.items(), COLORS):
    averaged = losses.view(-1, smooth).mean(-1).numpy()
    ax.plot(np.arange(read_length // smooth) * smooth + smooth / 2, averaged,
            "o-", markersize=3, color=color, label=name)
ax.axvline(train_length, color=COLORS[3], linestyle="--", linewidth=1.2,
           label="training length")
ax.set(xscale="log", xlabel="position in the window (log scale)",
       ylabel="held-out loss (nats)")
ax.set_xticks([4, 8, 16, 32, 64, 128, 256], ["4", "8", "16", "32", "64", "128", "256"])
ax.minorticks_off()
ax.legend()
plt.show()


# %% tags=["remove-input"]
def span(name, start, stop):
    return position_losses[name][start:stop].mean().item()


inside = {n: span(n, 0, train_length) for n in schemes}
far = {n: span(n, 128, 256) for n in schemes}
best_inside = min(inside, key=inside.get)
Markdown(
    f"**Figure 19.3.** The held-out loss at each position of windows of "
    f"{read_length} characters, for the three models trained on windows of "
    f"{train_length} (averages over 8 positions). Within the training length the "
    f"three start high, where there is little context, and improve as the context "
    f"grows; {best_inside} does best there "
    f"({', '.join(f'{n} {v:.2f}' for n, v in inside.items())} on average over "
    f"positions 0 to {train_length - 1}). Past it they part. Over positions 128 to "
    f"255 the losses are "
    f"{', '.join(f'{n} {v:.2f}' for n, v in far.items())}."
)

# %% tags=["remove-input"]
rope_rise = far["RoPE"] - inside["RoPE"]
alibi_rise = far["ALiBi"] - inside["ALiBi"]
sin_rise = far["sinusoidal"] - inside["sinusoidal"]
Markdown(
    f"RoPE, the best model on the lengths it trained on, is the worst on long ones: "
    f"its loss rises by {rope_rise:.2f} nats from the first 32 positions to the last "
    f"128. Its scores depend only on offsets, but offsets beyond 31 are new to it, "
    f"and its slow pairs turn through angles that no training example produced; the "
    f"heads then spread weight over distant characters that should not matter. "
    f"ALiBi changes by {alibi_rise:+.2f}: far keys get a large penalty, so new offsets "
    f"add little weight, and the model reads a long text as a sliding sequence of "
    f"short ones, which is what it was trained on. The sinusoidal model changes by "
    f"{sin_rise:+.2f}: trained with position vectors as small as the embeddings "
    f"start, it learned less in the same steps, and leans less on positions (in a "
    f"decoder the causal mask alone says something about where a token is). "
    f"ALiBi's paper found the same kind of result at scale: a model of 1.3 "
    f"billion parameters trained on 1,024 tokens read 2,048 with the perplexity "
    f"of a sinusoidal model trained on 2,048, while sinusoidal and rotary models "
    f"degraded past their training length, the sinusoidal ones fastest. "
    f"RoPE's answer is not to extrapolate but to "
    f"*interpolate*: rescale positions so that a long text's offsets fall within the "
    f"trained range, and fine-tune briefly "
    f"([Chen et al., 2023](../reference/references.md#chen2023))."
)

# %% [markdown]
# ## Summary
#
# * Absolute position vectors tie a model to the positions it trained on, and
#   make it learn each relation between positions once per pair of places.
# * RoPE rotates each pair of query and key features by the position times a
#   frequency. The score then depends on the offset only:
#   $(R_p\, q) \cdot (R_{p + \Delta p}\, k) = q \cdot (R_{\Delta p}\, k)$. It has no
#   parameters and works with a KV cache, since each key is turned once.
# * ALiBi adds $-\rho\,(i - j)$ to the scores, with a geometric sequence of slopes
#   over the heads. T5 learns a bias per bucket of offsets instead.
# * Trained on 32 characters and read on 256, our RoPE model degraded, ALiBi's did
#   not; RoPE learned best within the trained length.
#
# ## Exercises
#
# 1. Check numerically, in float64, that $R_p$ keeps lengths and that the score of
#    RoPE-rotated vectors at positions $p$ and $p + \Delta p$ equals the dot
#    product of $q$ with $k$ rotated by $\Delta p$, for a few positions and offsets.
# 2. Compute the ALiBi slopes for 6 and 12 heads and check them against the rule
#    in the text. Which slopes of 8 heads do 6 heads share?
# 3. With the trained RoPE model, measure the mean attention weight its heads put
#    on keys more than 32 positions back when reading a 256-character window. Is it
#    larger for the later queries?

# %% tags=["solution"]
# Exercise 1: RoPE is a rotation, and a rotation by the offset.
x, y = torch.randn(2, 1, 16, dtype=torch.float64)
for p, offset in ((0, 3), (17, 3), (1000, 25)):
    xp = attention.apply_rotary(x, torch.tensor([p]))
    yp = attention.apply_rotary(y, torch.tensor([p + offset]))
    left = (xp @ yp.T).item()
    right = (x @ attention.apply_rotary(y, torch.tensor([offset])).T).item()
    print(f"p={p:5d}, offset={offset}: |x| kept {torch.allclose(xp.norm(), x.norm())}, "
          f"{left:+.12f} vs {right:+.12f}")

# %% tags=["solution"]
# Exercise 2: the slopes for 6 and 12 heads.
for heads in (6, 12):
    print(heads, "heads:", [f"2^{np.log2(s):.1f}" for s in attention.alibi_slopes(heads).tolist()])
shared = set(attention.alibi_slopes(6).tolist()) & set(attention.alibi_slopes(8).tolist())
print("shared with 8 heads:", sorted(f"2^{np.log2(s):.0f}" for s in shared))

# %% tags=["solution"]
# Exercise 3: how much weight the RoPE model gives keys beyond the trained offsets.
window_tokens = heldout_tokens[:read_length].view(1, -1)
with torch.no_grad():
    models["RoPE"](window_tokens, need_weights=True)
offsets = torch.arange(read_length)[:, None] - torch.arange(read_length)[None, :]
for block, weights in enumerate(models["RoPE"].weights):  # (1, heads, T, T)
    beyond = (weights[0] * (offsets >= train_length)).sum(-1)  # (heads, T)
    print(f"block {block}: queries 32-63 {beyond[:, 32:64].mean():.2f}, "
          f"queries 192-255 {beyond[:, 192:].mean():.2f}")

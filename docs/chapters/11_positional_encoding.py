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
# # Positional encoding
#
# Self-attention compares every word with every other word, but it has no idea where
# the words stand: shuffle a sentence and it computes the same vectors, shuffled. The
# Transformer fixes this before its first layer, by adding to each word's embedding
# a vector that depends only on the word's position. This chapter shows the problem
# in numbers, asks what a good position vector looks like, and builds the answer of
# the original Transformer paper ([Vaswani et al., 2017](../reference/references.md#vaswani2017)): sines and
# cosines at many
# frequencies. We look at the encoding as an image, measure how similar two positions
# are as a function of their distance, and check the property the design was chosen
# for: moving $\Delta p$ positions along is a fixed linear map, the same at every position,
# which a layer can use to look $\Delta p$ words back. The chapter ends with the learned
# alternative used by [BERT](../reference/references.md#devlin2019) and [GPT-2](../reference/references.md#radford2019), and with how
# the encoding enters the model.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown
from torch import nn

import attention
from attention.book.plotting import COLORS, use_book_style
from attention.transformer.positional_encoding import frequencies, offset_matrix

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: one thread is the fastest
torch.set_printoptions(precision=3, sci_mode=False)

# %% [markdown]
# ## The problem: order is invisible
#
# [Chapter 8](08_self_attention.py#word-order-is-invisible) showed that self-attention
# is *permutation-equivariant*: if the input rows are shuffled, the output rows are
# shuffled the same way and are otherwise unchanged. A word's output depends on which
# words surround it, not on where they stand. Here is the check again, on
# *the cat sat on the mat* with random word vectors of size 16, and then the same
# check after a position vector has been added to each word (the
# `sinusoidal_encoding` this chapter builds).

# %%
d_model = 16
vocabulary = ["the", "cat", "sat", "on", "mat"]
embedding = {word: torch.randn(d_model) for word in vocabulary}  # one per word
words = "the cat sat on the mat".split()
X = torch.stack([embedding[w] for w in words])[None]  # (1, T=6, d_model)
positions = attention.sinusoidal_encoding(6, d_model)  # (T, d_model)

layer = attention.SelfAttention(d_model)
order = [5, 2, 0, 4, 1, 3]  # a shuffle: "mat sat the the cat on"
with torch.no_grad():
    out, _ = layer(X)
    out_shuffled, _ = layer(X[:, order])
    out_pe, _ = layer(X + positions)
    out_pe_shuffled, _ = layer(X[:, order] + positions)  # positions stay 0..5

no_pe_diff = (out_shuffled - out[:, order]).abs().max().item()
pe_diff = (out_pe_shuffled - out_pe[:, order]).abs().max().item()
# Does shuffling the input just shuffle the output?
print(f"without positions: largest difference {no_pe_diff:.1e}")
print(f"with positions:    largest difference {pe_diff:.2f}")

# %% tags=["remove-input"]
the_same = (out[0, 0] - out[0, 4]).abs().max().item()
the_pe = (out_pe[0, 0] - out_pe[0, 4]).abs().max().item()
out_scale = out_pe.abs().mean().item()
Markdown(
    f"Without positions the difference is rounding error: the layer cannot tell the "
    f"sentence from its shuffle. With a position vector added, the shuffled sentence "
    f"gives genuinely different outputs (a difference of {pe_diff:.2f}, for outputs "
    f"whose entries are {out_scale:.2f} in size on average), because each word now "
    f"enters the layer as *this word at this place*. The two copies of *the*, whose "
    f"outputs were identical (difference {the_same:g}), now differ by {the_pe:.2f}: "
    f"one opens the sentence, the other stands before *mat*. The rest of the chapter "
    f"is about what those position vectors should be."
)

# %% [markdown]
# ## What a position vector should be
#
# The simplest idea is to add the position itself, the number $0, 1, 2, \dots$, to
# the embedding. It fails on scale: word embeddings have entries around 1, and at
# position 500 the position would drown the word. Dividing by the last position
# keeps it in $[0, 1]$ but makes it depend on the length: the third word (position
# 2) would get $2/4$ in a five-word sentence and $2/10$ in an eleven-word one, so the
# same step between neighbours means different things in different sentences.
#
# The next idea is a one-hot vector, a 1 in the slot of the position and 0 elsewhere,
# as in the last exercise of Chapter 8. It needs one dimension per possible position,
# fixes the longest sentence once and for all, and says nothing about nearness: all
# one-hot vectors are orthogonal, so position 3 is exactly as unlike position 4 as it
# is unlike position 400.
#
# A good position vector is therefore:
#
# - of size $d_{\text{model}}$, so it can be added to the embedding;
# - bounded, with entries of the same order as the embedding's, at every position;
# - the same for position $p$ whatever the length of the sentence;
# - similar for nearby positions and less similar for distant ones;
# - such that "$\Delta p$ positions further" is easy for a layer to compute, whatever the
#   starting position.
#
# **Why add rather than concatenate?** Appending the position vector to the
# embedding would keep the two apart, at the cost of a wider model. But what a layer
# does first with its input is multiply it by a matrix, and for a concatenation that
# product splits into two:
#
# $$[x, \mathrm{PE}_p] \begin{bmatrix} W_x \\ W_{\mathrm{PE}} \end{bmatrix} = x W_x + \mathrm{PE}_p W_{\mathrm{PE}} .$$
#
# Concatenating and projecting is the same as adding a projected position vector.
# Adding $\mathrm{PE}_p$ directly, $(x + \mathrm{PE}_p) W = x W + \mathrm{PE}_p W$, has the same form with $W_{\mathrm{PE}} = W$, and
# costs no extra width. The price is that words and positions share one space; in
# many dimensions there is room for both, as the next cell measures.

# %%
d_big = 512
pe_big = attention.sinusoidal_encoding(100, d_big)  # (100 positions, 512)
words_big = torch.randn(1000, d_big)  # 1000 random word vectors
unit = nn.functional.normalize  # divides each row by its length
cosines = unit(words_big, dim=-1) @ unit(pe_big, dim=-1).T  # (1000, 100)
print(f"mean |cosine|, word vs position: {cosines.abs().mean():.3f}")

# %% tags=["remove-input"]
Markdown(
    f"In $d_{{\\text{{model}}}} = {d_big}$ dimensions a random word vector and a "
    f"position vector are nearly orthogonal: their cosine is {cosines.abs().mean():.3f} "
    f"in size on average, about $1/\\sqrt{{{d_big}}} = {1 / math.sqrt(d_big):.3f}$. "
    f"A layer can read the position part and the word part of the sum with little "
    f"interference between them."
)

# %% [markdown]
# ## The sinusoidal encoding
#
# Think of how we write positions in binary. The lowest bit flips at every step, the
# next one every two steps, the next every four: each bit is a square wave, and the
# wavelengths double from bit to bit. Together the bits give every position a
# distinct pattern. The Transformer's encoding is a smooth version of this counter.
# It pairs up the $d_{\text{model}}$ dimensions, and pair $i$ holds the sine and the
# cosine of the position times a frequency $\omega_i$:
#
# $$\mathrm{PE}_{p,\,2i} = \sin(p\,\omega_i), \qquad
# \mathrm{PE}_{p,\,2i+1} = \cos(p\,\omega_i), \qquad
# \omega_i = \frac{1}{10000^{2i/d_{\text{model}}}}, \qquad
# i = 0, 1, \dots, \tfrac{d_{\text{model}}}{2} - 1 .$$
#
# Pair $i$ repeats every $\lambda_i = 2\pi / \omega_i = 2\pi \cdot
# 10000^{2i/d_{\text{model}}}$ positions. The wavelengths form a geometric
# progression: the first pair turns once every $2\pi$ positions, each later pair is
# slower by the same factor $10000^{2/d_{\text{model}}}$, and the last pair turns just
# under once every $10000 \cdot 2\pi$ positions. Every entry lies in $[-1, 1]$, and the
# table can be computed for any position, however far.
#
# `attention.sinusoidal_encoding(max_len, d_model)` returns the table, one row per
# position; `frequencies(d_model)` (in `attention.transformer.positional_encoding`) returns the
# $\omega_i$.

# %%
pe = attention.sinusoidal_encoding(100, 64)  # (positions, d_model)
print(pe.shape)
print(pe[:3, :6])  # positions 0-2, pairs 0-2: position 0 is (0, 1, 0, 1, ...)

# %% tags=["remove-input"]
ratio_64 = 10000 ** (2 / 64)
ratio_512 = 10000 ** (2 / 512)
omega_512 = frequencies(512)
slowest_512 = 2 * math.pi / omega_512[-1].item()
Markdown(
    f"With $d_{{\\text{{model}}}} = 64$ each pair's wavelength is "
    f"{ratio_64:.3f} times the previous one's; with the paper's "
    f"$d_{{\\text{{model}}}} = 512$ the factor is only {ratio_512:.4f}, and the "
    f"wavelengths run from $2\\pi \\approx {2 * math.pi:.2f}$ positions to "
    f"{slowest_512:,.0f} positions in 256 small steps."
)

# %%
fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(6.4, 5.4), sharex=True,
                               layout="constrained", height_ratios=[1.2, 1])
image = ax0.imshow(pe.T, aspect="auto", vmin=-1, vmax=1, interpolation="none")
ax0.grid(False)
ax0.set_ylabel("dimension $j$")
fig.colorbar(image, ax=ax0, location="top", label=r"$\mathrm{PE}_{p,j}$",
             ticks=[-1, 0, 1], shrink=0.4, aspect=30)
omega_64 = frequencies(64).numpy()
for pair in [0, 4, 8, 16]:
    wavelength = 2 * np.pi / omega_64[pair]
    ax1.plot(pe[:, 2 * pair], lw=1.2,
             label=f"dim {2 * pair}: $\\lambda$ = {wavelength:.1f}")
ax1.set(xlabel="position $p$", ylabel=r"$\sin(p\,\omega_i)$",
        ylim=(-1.1, 2.5), yticks=[-1, 0, 1])
ax1.legend(loc="upper center", ncols=2)
plt.show()

# %% [markdown]
# **Figure 11.1.** Top: the whole table for 100 positions and $d_{\text{model}} = 64$,
# drawn with one *column* per position, so that each position's vector reads from top
# to bottom. The fast pairs at the top change from one position to the next; further
# down the bands widen, and the bottom half hardly changes over 100 positions (its
# sines stay near 0 and its cosines near 1, hence the alternating stripes). Each
# column has its own pattern of colours, as each number has its own pattern of bits.
# Bottom: four of the sine rows, with their wavelengths $\lambda$; the lines join the
# entries of the table, one per whole position. Dimension 0 turns once every
# $2\pi \approx 6.3$ positions, so fast that its samples look ragged; dimension 32 has
# barely started to move. The fast dimensions tell nearby positions apart, the slow
# ones tell far-apart positions apart.
#
# ## Nearby positions look alike
#
# How similar are the vectors of two positions? The dot product of positions $p$ and
# $p + \Delta p$ adds up, pair by pair, $\sin(p\omega)\sin((p+\Delta p)\omega) +
# \cos(p\omega)\cos((p+\Delta p)\omega)$, which is the cosine of the difference of the two
# angles:
#
# $$\mathrm{PE}_p \cdot \mathrm{PE}_{p+\Delta p} = \sum_{i=0}^{d_{\text{model}}/2 - 1}
# \cos(\Delta p\,\omega_i) .$$
#
# The position $p$ has dropped out: the similarity depends only on the offset $\Delta p$. It
# is also even in $\Delta p$ (the cosine is), and at $\Delta p = 0$ every term is 1, so each row's
# squared length is $d_{\text{model}}/2$. Let's check both facts on the table, and
# draw the similarity of every pair of positions.

# %%
pe_sim = attention.sinusoidal_encoding(256, 64, dtype=torch.float64)
similarity = pe_sim @ pe_sim.T  # (256, 256): PE_p . PE_(p+dp) for every pair
offsets = np.arange(-60, 61)
from_60 = similarity[60, 60 + offsets].numpy()  # start at p = 60
from_150 = similarity[150, 150 + offsets].numpy()  # start at p = 150
omega = frequencies(64).numpy()  # (32,)
formula = np.cos(offsets[:, None] * omega).sum(-1)  # sum_i cos(dp omega_i), per offset dp
print(f"p = 60 vs p = 150: {np.abs(from_60 - from_150).max():.1e}")
print(f"table vs formula:  {np.abs(from_60 - formula).max():.1e}")

# %%
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(6.4, 3.0), layout="constrained",
                               width_ratios=[1, 1.2])
image = ax0.imshow(similarity[:100, :100], interpolation="none")
ax0.grid(False)
ax0.set(xlabel=r"position $p + \Delta p$", ylabel="position $p$",
        xticks=[0, 50, 99], yticks=[0, 50, 99])
fig.colorbar(image, ax=ax0, location="top", ticks=[15, 20, 25, 30],
             label=r"$\mathrm{PE}_p \cdot \mathrm{PE}_{p+\Delta p}$")
ax1.plot(offsets, from_60, label="from $p = 60$")
ax1.plot(offsets, from_150, "--", label="from $p = 150$")
ax1.set(xlabel="offset $\\Delta p$", ylabel=r"$\mathrm{PE}_p \cdot \mathrm{PE}_{p+\Delta p}$",
        xticks=[-60, -30, 0, 30, 60])
ax1.legend()
plt.show()

# %% tags=["remove-input"]
diffs = np.diff(from_60[60:])  # k = 0, 1, 2, ...
first_rise = int(np.argmax(diffs > 0)) + 1  # the first k where the curve goes up
Markdown(
    f"**Figure 11.2.** Left: the dot product of every pair of the first 100 positions "
    f"($d_{{\\text{{model}}}} = 64$). The bright diagonal is each position with itself, "
    f"and every line parallel to it has one colour: the similarity depends only on "
    f"the offset $\\Delta p$. Right: the same as a function of $\\Delta p$, from two starting "
    f"positions; the dashed curve lies exactly on the solid one. The peak is "
    f"$d_{{\\text{{model}}}}/2 = "
    f"{from_60[60]:.0f}$ at $\\Delta p = 0$; it falls to {from_60[61]:.1f} at $\\Delta p = 1$ and "
    f"{from_60[62]:.1f} at $\\Delta p = 2$, and then wobbles down, rising again for the first "
    f"time at $\\Delta p = {first_rise}$, as the fast pairs come back around while the slow "
    f"ones keep drifting away."
)

# %% [markdown]
# So nearby positions have similar vectors and distant positions less similar ones,
# roughly, though not monotonically. Two limits are worth noticing. The curve is
# symmetric, so the raw dot product cannot tell "3 before" from "3 after"; a layer
# compares $\mathrm{PE}_p W^Q$ with $\mathrm{PE}_{p+\Delta p} W^K$, and with $W^Q \ne W^K$ that
# comparison need not be symmetric, as the next section shows. And the curve says
# only how the *encoding* relates positions: what the model does with it is learned.
#
# ## A shift is a rotation
#
# Each pair $(\sin p\omega, \cos p\omega)$ is a point on the unit circle, at an angle
# that grows by $\omega$ at each step. Going from position $p$ to $p + \Delta p$ turns the
# point by the angle $\Delta p\,\omega$, wherever it started. The angle-addition formulas say
# the same in algebra:
#
# $$\begin{aligned}
# \sin((p+\Delta p)\omega) &= \sin(p\omega)\cos(\Delta p\,\omega) + \cos(p\omega)\sin(\Delta p\,\omega), \\
# \cos((p+\Delta p)\omega) &= \cos(p\omega)\cos(\Delta p\,\omega) - \sin(p\omega)\sin(\Delta p\,\omega),
# \end{aligned}$$
#
# that is, in matrix form,
#
# $$\begin{bmatrix} \sin((p+\Delta p)\omega) \\ \cos((p+\Delta p)\omega) \end{bmatrix} =
# \begin{bmatrix} \cos(\Delta p\,\omega) & \sin(\Delta p\,\omega) \\ -\sin(\Delta p\,\omega) & \cos(\Delta p\,\omega) \end{bmatrix}
# \begin{bmatrix} \sin p\omega \\ \cos p\omega \end{bmatrix} .$$
#
# The $2 \times 2$ matrix contains $\Delta p$ and $\omega$ but not $p$. Put one such rotation
# per pair on the diagonal of a $d_{\text{model}} \times d_{\text{model}}$ matrix $R_{\Delta p}$,
# and for every position
#
# $$\mathrm{PE}_{p+\Delta p} = R_{\Delta p}\, \mathrm{PE}_p \qquad
# \text{(with rows: } \mathrm{PE}_{p+\Delta p} = \mathrm{PE}_p R_{\Delta p}^\top\text{)}.$$

# %%
fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.3), layout="constrained")
circle = np.linspace(0, 2 * np.pi, 90)
for ax, pair, color in zip(axes, [0, 2], COLORS):
    sin_p = pe[:10, 2 * pair].numpy()  # positions 0-9
    cos_p = pe[:10, 2 * pair + 1].numpy()
    ax.plot(np.sin(circle), np.cos(circle), lw=0.8, alpha=0.4, color=color)
    ax.plot(sin_p, cos_p, "o", color=color, ms=5)
    for p in range(10):  # each point's position, just outside the circle
        ax.text(1.22 * sin_p[p], 1.22 * cos_p[p], p, ha="center",
                va="center", fontsize=8)
    ax.set_title(rf"pair {pair}: $\omega = {omega_64[pair]:.3f}$")
    ax.set_xlabel(f"dim {2 * pair} (sine)")
    ax.set_ylabel(f"dim {2 * pair + 1} (cosine)")
    ax.set(xlim=(-1.4, 1.4), ylim=(-1.4, 1.4),
           xticks=[-1, 0, 1], yticks=[-1, 0, 1])
    ax.set_aspect("equal")
plt.show()

# %% [markdown]
# **Figure 11.3.** Two pairs of the encoding ($d_{\text{model}} = 64$) for positions 0 to
# 9, each pair drawn as a point in its own plane. Position 0 sits at the top, and each
# step turns the point clockwise by the pair's $\omega$ radians: a full radian for
# pair 0, so positions 7 to 9 have come back around near positions 1 to 3, and much
# less for pair 2. Going from 2 to 5 is the same turn as going from 4 to 7: a shift by
# $\Delta p$ is one rotation, whatever the start.
#
# `offset_matrix(k, d_model)` (in `attention.transformer.positional_encoding`) builds $R_{\Delta p}$. Here is
# its top-left corner for $\Delta p = 3$, two rotation blocks with zeros around them, and a
# check of $\mathrm{PE}_{p+\Delta p} = \mathrm{PE}_p R_{\Delta p}^\top$ on every position of a
# 200-row table at once.

# %%
k = 3
M = offset_matrix(k, 64)  # (64, 64), float64, block diagonal
print(M[:4, :4].numpy().round(3))
table = attention.sinusoidal_encoding(200, 64, dtype=torch.float64)  # (200, 64)
shifted = table[:-k] @ M.T  # row p becomes an estimate of row p + k
shift_error = (shifted - table[k:]).abs().max().item()
orth_error = (M @ M.T - torch.eye(64, dtype=torch.float64)).abs().max().item()
print(f"max |PE[p] M^T - PE[p+3]| over all 197 positions: {shift_error:.1e}")
print(f"max |M M^T - I|: {orth_error:.1e}")

# %% tags=["remove-input"]
Markdown(
    f"One matrix moves all {table.shape[0] - k} positions three steps on, with a "
    f"largest error of {shift_error:.0e}, the rounding error of float64. $R_{{\\Delta p}}$ is a "
    f"rotation, so $R_{{\\Delta p}} R_{{\\Delta p}}^\\top = I$ (to {orth_error:.0e}) and going back $\\Delta p$ steps "
    f"is $R_{{-\\Delta p}} = R_{{\\Delta p}}^\\top$; a position vector keeps its length as it moves."
)

# %% [markdown]
# Try it yourself. The next cell reads, from the package's table, four pairs of the
# encoding of every position from 12 to 68, each pair a point on its circle, and the
# dot product of the encodings of $p$ and $p + \Delta p$ for $p$ = 20, 40 and 60 and every
# $\Delta p$ from $-8$ to 8. The figure under it shows the pair of
# positions the sliders pick.

# %%
import altair as alt
from attention.book.interactive import interactive_figure

pairs = [0, 2, 4, 8]
points_of = [{  # pair i of a position is (sin, cos) = columns 2i and 2i + 1 of its row
    "position": q,
    "sin": [round(float(pe[q, 2 * i]), 2) for i in pairs],
    "cos": [round(float(pe[q, 2 * i + 1]), 2) for i in pairs],
} for q in range(12, 69)]
frames = []
for p in range(20, 61, 20):
    for dp in range(-8, 9):
        frames.append({
            "p": p, "dp": dp, "q": p + dp,  # the sliders' values pick this frame
            "sim": round(float(similarity[p, p + dp]), 2),
            "readout": f"p = {p}, Δp = {dp}: PE_p · PE_(p+Δp) = {similarity[p, p + dp]:.2f}",
        })

# %% tags=["fold"]
slider_p = alt.param(name="p", value=40, bind=alt.binding_range(
    min=20, max=60, step=20, name="position p "))
slider_dp = alt.param(name="dp", value=3, bind=alt.binding_range(
    min=-8, max=8, step=1, name="offset Δp "))
picked = alt.Chart().transform_filter("datum.p == p && datum.dp == dp")
gap = 2.8  # the circles' centres are this far apart
x_c = alt.X("x:Q", axis=None, scale=alt.Scale(domain=[-1.3, 3 * gap + 1.3]))
y_c = alt.Y("y:Q", axis=None, scale=alt.Scale(domain=[-1.3, 1.6]))
# Unit circles: at 340 px for 11.2 units, a radius of 1 is 31 px, an area of pi 31^2 px^2.
circles = alt.Chart(alt.Data(values=[{"x": k * gap, "y": 0.0} for k in range(len(pairs))])).mark_point(
    shape="circle", size=math.pi * 31**2, opacity=0.3, color="currentColor").encode(x=x_c, y=y_c)
names = alt.Chart(alt.Data(values=[
    {"x": k * gap, "y": 1.45, "name": f"pair {i}: ω = {omega_64[i]:.2f}"} for k, i in enumerate(pairs)
])).mark_text(fontSize=10).encode(x=x_c, y=y_c, text="name:N")
spokes = picked.transform_fold(["p", "q"], as_=["end", "position"]).transform_lookup(
    lookup="position", from_=alt.LookupData(alt.NamedData(name="pe_points"), key="position",
                                            fields=["sin", "cos"])).transform_calculate(
    centre=str([k * gap for k in range(len(pairs))])).transform_flatten(
    ["centre", "sin", "cos"]).transform_calculate(
    x="datum.centre + datum.sin", y="datum.cos",
    who="datum.end == 'p' ? 'p' : 'p + Δp'")
points = spokes.mark_circle(size=60, opacity=1).encode(
    x=x_c, y=y_c, color=alt.Color("who:N", title=None, sort=["p", "p + Δp"],
                                   legend=alt.Legend(orient="bottom", direction="horizontal", symbolOpacity=1)))
lines = spokes.transform_calculate(cx="datum.centre", cy="0").mark_rule(strokeWidth=1.5).encode(
    x=alt.X("cx:Q", axis=None, scale=alt.Scale(domain=[-1.3, 3 * gap + 1.3])),
    y=alt.Y("cy:Q", axis=None, scale=alt.Scale(domain=[-1.3, 1.6])), x2="x:Q", y2="y:Q",
    color=alt.Color("who:N", sort=["p", "p + Δp"]))
rotation = alt.layer(circles, names, lines, points).properties(width=340, height=90)
curve = alt.Chart(alt.Data(values=[
    {"dp": int(o), "sim": round(float(s), 2)} for o, s in zip(offsets, from_60) if abs(o) <= 8
])).mark_line(opacity=0.6).encode(
    x=alt.X("dp:Q", title="offset Δp"), y=alt.Y("sim:Q", title="PE_p · PE_(p+Δp)",
                                                 scale=alt.Scale(domain=[0, 33])))
marker = picked.mark_circle(size=90, color=COLORS[1], opacity=1).encode(x="dp:Q", y="sim:Q")
readout = picked.mark_text(align="left", x=0, y=-12, fontSize=13).encode(text="readout:N")
interactive_figure(
    alt.vconcat(alt.layer(curve, marker, readout).properties(width=340, height=150), rotation,
                data=alt.Data(values=frames), spacing=16)
    .add_params(slider_p, slider_dp).properties(autosize=alt.AutoSizeParams(type="pad"),
                                                datasets={"pe_points": points_of}),
    "For the position and offset the sliders set: the dot product of the two position "
    "vectors on the similarity curve, and four pairs of the encoding turned by the offset.",
)

# %% [markdown]
# **Interactive figure 11.1.** Move the offset $\Delta p$: the dot on the curve slides
# along the similarity curve of Figure 11.2, and in every pair's circle the point of
# $p + \Delta p$ turns away from the point of $p$ by $\Delta p\,\omega$, far in pair 0 and
# hardly at all in pair 8. Now move the position $p$ with the offset fixed: every pair's
# two points turn together, the angle between them stays the same, and the dot on the
# curve does not move. The similarity, and the rotation, depend on the offset alone.

# %% [markdown]
# **Why it matters.** Suppose a head should attend to the word $\Delta p$ positions back (a
# verb looking for the word just before it, say). With positions encoded this way, a
# fixed query matrix does it: take $W^Q = c\, R_{-\Delta p}^\top$, a rotation scaled by some
# $c > 0$, and $W^K = I$. The query of position $p$ is then $c\,\mathrm{PE}_{p-\Delta p}$, and
# its score with the key of position $j$ is $c\, \mathrm{PE}_{p-\Delta p} \cdot \mathrm{PE}_j$,
# which by the previous section peaks at $j = p - \Delta p$. The same matrix serves every
# position $p$, because $R_{-\Delta p}$ does not depend on $p$. Let's build that head for
# $\Delta p = 3$ with $c = 16$ (the scale $1/\sqrt{64}$ of attention then leaves a factor 2)
# and see where each of 16 positions looks.

# %%
T = 16
keys = attention.sinusoidal_encoding(T, 64, dtype=torch.float64)  # W_K = I
w_q = 16 * offset_matrix(-3, 64).T  # (d_model, d_model): look 3 positions back
queries = keys @ w_q  # (T, d_model): query p is 16 * PE[p - 3]
_, look_back = attention.scaled_dot_product_attention(queries, keys, keys)
print("most-attended position of each query:")
print(look_back.argmax(-1).tolist())  # look_back: (T, T)
print("query 10, weights on positions 5-9:", look_back[10, 5:10].numpy().round(3))

# %% tags=["remove-input"]
on_target = look_back.diagonal(-3).mean().item()
Markdown(
    f"From position 3 on, every query's largest weight is on the position three places "
    f"back: {on_target:.2f} of its weight on average, the rest on the neighbours of "
    f"that position (query 10 puts {look_back[10, 7]:.2f} on position 7, "
    f"{look_back[10, 6]:.2f} on position 6 and {look_back[10, 8]:.2f} on position 8). "
    f"The first three queries look for positions $-3$ to $-1$, which do not exist, "
    f"and settle on position 0, the nearest one. A larger $c$ would concentrate the "
    f"weights further."
)

# %% [markdown]
# In a real model the input is a word embedding plus its position vector, and the
# matrices are learned rather than written down. The point of the construction is that
# attending by relative position is within reach of the simplest thing a layer can
# do, a matrix product, and that one matrix serves every position.
#
# ## Learned position embeddings
#
# The alternative is to learn the position vectors like the word vectors: a table
# `nn.Embedding(max_len, d_model)`, one trainable row per position, looked up by the
# position and added to the word embedding. BERT and GPT-2 do this. The model finds
# whatever position vectors suit it, at two costs: the table has parameters, and it
# stops at `max_len`, since a position beyond the last row has no vector at all.

# %%
bert_positions = nn.Embedding(512, 768)  # BERT-base: 512 positions, d = 768
n_bert = sum(p.numel() for p in bert_positions.parameters())
print(f"parameters: {n_bert:,}")
try:
    bert_positions(torch.tensor([512]))  # the 513th position
except IndexError as error:
    print("IndexError:", error)

# %% tags=["remove-input"]
learned = bert_positions.weight.detach()  # (512, 768)
cos_learned = nn.functional.cosine_similarity(learned[:-1], learned[1:], dim=-1)
cos_learned = cos_learned.mean().item()
pe_768 = attention.sinusoidal_encoding(512, 768)
cos_sin = nn.functional.cosine_similarity(pe_768[:-1], pe_768[1:], dim=-1).mean().item()
n_gpt2 = 1024 * 768
Markdown(
    f"BERT-base's position table has {n_bert:,} parameters (GPT-2 small's, with 1024 "
    f"positions, {n_gpt2:,}): small next to the whole model, but fixed to that length. "
    f"Before training the rows are random, so neighbouring positions are unrelated "
    f"(the average cosine between rows $p$ and $p+1$ is {cos_learned:.3f}, against "
    f"{cos_sin:.3f} for the sinusoidal table of the same size); any notion of nearness "
    f"has to be learned from the data."
)

# %% [markdown]
# Vaswani et al. tried both and report nearly identical results (25.7 against 25.8
# BLEU on their English–German development set). They kept the sinusoids, hoping the
# model would handle sentences longer than any seen in training, since the formula
# gives a vector for every position.
#
# Encodings of *relative* position came soon after, first to let attention see
# distances directly. [Shaw, Uszkoreit and Vaswani (2018)](../reference/references.md#shaw2018)
# add a learned vector for the (clipped) offset between a query and a key inside
# attention. Rotary position embedding (RoPE,
# [Su et al., 2021](../reference/references.md#su2021)) applies the rotation $R_p$ to the
# query and the key of position $p$ instead of adding anything, so that their dot
# product depends only on the offset between them: the rotation of this chapter, moved
# inside the attention. Whether a model trained on short sequences can read longer
# ones was measured later, and the hope behind the sinusoids did not hold up:
# [Press, Smith and Lewis (2022)](../reference/references.md#press2022) found that
# language models with sinusoidal positions, and with RoPE too, get worse soon past
# their training length. Their answer, ALiBi, adds no position vectors at all: it
# lowers each score in proportion to the distance between the query and the key, and
# it was built to extrapolate. RoPE, now the most common choice, reaches well past its
# training length only when its rotations are rescaled. Part V (chapter 19) covers
# RoPE and ALiBi in depth.
#
# ## How the encoding enters the model
#
# In the Transformer the tokens are first looked up in an embedding table, the
# embeddings are multiplied by $\sqrt{d_{\text{model}}}$, the position vectors are
# added, and dropout is applied to the sum (10% in the paper). That sum is the input
# of the first layer; the layers themselves never see positions again.
# `attention.PositionalEncoding(d_model, max_len, dropout)` is the module that adds
# the table: it keeps it as a *buffer*, saved with the model and moved to the GPU with
# it, but not a parameter, so training never changes it.

# %%
vocab_size, d_model, max_len = 1000, 512, 128
embed = nn.Embedding(vocab_size, d_model)
nn.init.normal_(embed.weight, std=d_model**-0.5)  # entries ~ 1/sqrt(d_model)
encode = attention.PositionalEncoding(d_model, max_len, dropout=0.1)
tokens = torch.randint(vocab_size, (2, 10))  # (batch, T): 2 sequences of 10 ids
x = encode(embed(tokens) * math.sqrt(d_model))  # (batch, T, d_model)
print(encode)
print("input of the first layer:", tuple(x.shape))
print("trainable parameters:", sum(p.numel() for p in encode.parameters()))
print("buffers:", [name for name, _ in encode.named_buffers()])

# %% tags=["remove-input"]
word_norm = embed.weight.norm(dim=-1).mean().item()
pe_norm = encode.encoding.norm(dim=-1).mean().item()
Markdown(
    f"The paper does not say why it scales the embeddings. A common reading: its "
    f"embedding table is shared with the output layer and initialised with entries of "
    f"size about $1/\\sqrt{{d_{{\\text{{model}}}}}}$, as here, which gives rows of "
    f"length {word_norm:.2f}, while every position vector has length "
    f"$\\sqrt{{d_{{\\text{{model}}}}/2}} = {pe_norm:.1f}$. Unscaled, the position would "
    f"dominate the word; multiplied by $\\sqrt{{{d_model}}}$, a word vector has length "
    f"{word_norm * math.sqrt(d_model):.1f}, comparable to the position's. "
    f"[Chapter 12](12_transformer_architecture.py) puts the embedding, the encoding and "
    f"the layers together."
)

# %% [markdown]
# ## Summary
#
# - Self-attention is permutation-equivariant, so on its own it cannot see word order.
#   Adding a vector that depends on the position to each embedding breaks the
#   symmetry: the same word at two places becomes two different inputs.
# - Raw integers grow without bound, positions divided by the length change with the
#   length, and one-hot vectors fix the length and make all positions equally far
#   apart. Adding (rather than concatenating) is as expressive as concatenating and
#   projecting, and costs no width.
# - The sinusoidal encoding gives pair $i$ of dimensions the values
#   $\sin(p\,\omega_i)$ and $\cos(p\,\omega_i)$, with $\omega_i = 10000^{-2i/d_{\text{model}}}$:
#   wavelengths in a geometric progression from $2\pi$ to nearly $10000 \cdot 2\pi$,
#   a smooth version of counting in binary. Every row has length
#   $\sqrt{d_{\text{model}}/2}$.
# - $\mathrm{PE}_p \cdot \mathrm{PE}_{p+\Delta p} = \sum_i \cos(\Delta p\,\omega_i)$ depends only on the
#   offset $\Delta p$: largest at $\Delta p = 0$, decreasing with $|\Delta p|$ overall but not
#   monotonically, and the same for $+\Delta p$ and $-\Delta p$.
# - A shift by $\Delta p$ rotates every pair by $\Delta p\,\omega_i$:
#   $\mathrm{PE}_{p+\Delta p} = R_{\Delta p} \mathrm{PE}_p$ with one block-diagonal rotation $R_{\Delta p}$ for
#   all positions. A query matrix built from $R_{-\Delta p}$ makes a head attend $\Delta p$ positions
#   back, from every position.
# - Learned position embeddings (BERT, GPT-2) are a trainable `max_len` by
#   $d_{\text{model}}$ table: as good in the paper's tests, but with no vector beyond
#   `max_len`.
# - The model's input is $\text{embedding} \cdot \sqrt{d_{\text{model}}} + \mathrm{PE}$,
#   followed by dropout.

# %% [markdown]
# ## Exercises
#
# 1. **Every row has the same length.** Check that every row of
#    `sinusoidal_encoding(2048, 512)` has length $\sqrt{256} = 16$, and explain why
#    with $\sin^2 + \cos^2 = 1$. What is then the cosine similarity of positions $p$
#    and $p + \Delta p$, in terms of the dot product?

# %% tags=["solution"]
# Exercise 1: Every row has the same length.
table_512 = attention.sinusoidal_encoding(2048, 512, dtype=torch.float64)
lengths = table_512.norm(dim=-1)  # (2048,)
print(f"row lengths: min {lengths.min():.12f}, max {lengths.max():.12f}")
# Each pair adds sin^2 + cos^2 = 1 to the squared length, and there are
# 256 pairs: |PE_p|^2 = 256 for every p. As every row has length
# sqrt(d_model/2), the cosine similarity is the dot product divided by d_model/2:
# cos(PE_p, PE_{p+dp}) = (2 / d_model) * sum_i cos(dp omega_i), dp the offset.

# %% [markdown]
# 2. **Too long a sentence.** Run `PositionalEncoding(d_model=16, max_len=10)` on a
#    batch of shape `(1, 12, 16)` and read the error. How would you fix it for the
#    sinusoidal encoding, and why is there no such fix for a learned table?

# %% tags=["solution"]
# Exercise 2: Too long a sentence.
short = attention.PositionalEncoding(d_model=16, max_len=10)
try:
    short(torch.zeros(1, 12, 16))  # (batch, T=12, d_model)
except ValueError as error:
    print("ValueError:", error)
longer = attention.PositionalEncoding(d_model=16, max_len=12)
print(longer(torch.zeros(1, 12, 16)).shape)
print("same first rows:", torch.equal(short.encoding, longer.encoding[:10]))
# The sinusoidal table is a formula: build it with a larger max_len (its
# first rows do not change). A learned table has no rows beyond max_len,
# and rows added later would be untrained: the model must train further.

# %% [markdown]
# 3. **The slowest pair.** For $d_{\text{model}} = 512$, compute the wavelength of the
#    last pair, $i = 255$. How far round its circle does it turn over 512 positions, in
#    degrees?

# %% tags=["solution"]
# Exercise 3: The slowest pair.
omega_last = frequencies(512)[-1].item()  # 10000 ** (-510 / 512)
turn = math.degrees(512 * omega_last)
print(f"wavelength of pair 255: {2 * math.pi / omega_last:,.0f} positions")
print(f"turn over 512 positions: {turn:.1f} degrees")
# The slowest pair barely moves over a typical sequence: it is close to
# constant, which is why the bottom of the table in Figure 11.1 looks flat.

# %% [markdown]
# 4. **Shifts compose.** Check numerically that $R_{\Delta p_1} R_{\Delta p_2} = R_{\Delta p_1 + \Delta p_2}$ and
#    $R_{-\Delta p} = R_{\Delta p}^\top$ for a few offsets, and say in words what each identity means.

# %% tags=["solution"]
# Exercise 4: Shifts compose.
def shift(k: int) -> torch.Tensor:
    """M_k for d_model = 64."""
    return offset_matrix(k, 64)


print("M_5 M_-3 = M_2:  ", torch.allclose(shift(5) @ shift(-3), shift(2)))
print("R_10 R_30 = R_40:", torch.allclose(shift(10) @ shift(30), shift(40)))
print("R_-7 = R_7^T:    ", torch.allclose(shift(-7), shift(7).T))
# Shifting by one offset and then by another is shifting by their sum (rotation
# angles add); shifting back by an offset undoes shifting by it (a rotation's
# inverse is its transpose).

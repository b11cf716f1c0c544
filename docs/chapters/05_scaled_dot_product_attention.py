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
# # Version 2: scaled dot-product attention
#
# [Chapter 4](04_dot_product_attention.py) ended with a problem: the scores of
# dot-product attention spread out as the vectors get longer, and the softmax collapses
# onto one key. Version 2 fixes it by changing one thing in version 1: it divides every
# score by $\sqrt{d_k}$, the square root of the size of the query and key vectors. That is the
# attention of the Transformer paper ([Vaswani et al., 2017](../reference/references.md#vaswani2017)), which
# named it *scaled
# dot-product attention*. This chapter explains why the divisor is $\sqrt{d_k}$ and not
# something else: we measure how the spread of a dot product grows with $d_k$, derive
# the law behind the measurement, and then watch what happens to the softmax, and to the
# gradient it passes back, when the scores are left unscaled. Along the way we correct
# two common accounts of the scale: a numeric example that is wrong in every number,
# and a statement of the growth law that mixes up the variance and the standard
# deviation.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown

import attention
from attention.book.prose import tex_sci
from attention.fast.cost import dot_product_attention_cost
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # the tensors here are tiny: one thread is the fastest
np.set_printoptions(precision=3, suppress=True)
torch.set_printoptions(precision=3, sci_mode=False)
plain = plt.FuncFormatter(lambda x, _: f"{x:g}")  # log-axis labels: 1, 0.001


def about(x: float) -> str:
    """A large number to two significant digits, with commas: 13273 -> 13,000."""
    return f"{float(f'{x:.2g}'):,.0f}"


# %% [markdown]
# ## What changes from version 1
#
# Version 1, [dot-product attention](04_dot_product_attention.py), scores a query
# vector $q$ of size $d_k$ against each key $k_i$, of the same size, with the plain dot
# product $q \cdot k_i = \sum_{j=1}^{d_k} q_j k_{ij}$. Version 2 divides that score by
# $\sqrt{d_k}$ before the softmax, and nothing else moves:
#
# $$
# a(q, k_i) = \frac{q \cdot k_i}{\sqrt{d_k}}, \qquad
# \alpha_i = \operatorname{softmax}_i\big(a(q, k_1), \dots, a(q, k_n)\big), \qquad
# \text{output} = \sum_{i=1}^{n} \alpha_i\, v_i .
# $$
#
# With the keys as the rows of a matrix $K$ (shape $n \times d_k$) and the values as the
# rows of $V$ (shape $n \times d_v$), this is
# $\operatorname{softmax}\big(q K^\top / \sqrt{d_k}\big)\, V$, the formula of the paper
# written for a single query, as versions 0 to 2 are usually written. Nothing in the scale
# depends on how many queries there are; [Chapter 6](06_many_queries.py) is about many
# queries at once.
#
# In [Chapter 1](01_softmax.py#temperature)'s terms, dividing the scores by
# $\sqrt{d_k}$ is a softmax at the fixed temperature $\tau = \sqrt{d_k}$. The temperature
# does not depend on the data or on anything learned; it depends only on the vector
# size, and the rest of this chapter is about why that is the right thing for it to
# depend on.
#
# ## The code
#
# `attention.scaled_dot_product_attention` takes the query, the keys and the values as
# PyTorch tensors and returns the output and the weights. It scales by $1/\sqrt{d_k}$ by
# default, where $d_k$ is the last dimension of the query; the `scale=` argument
# overrides the factor, and `scale=1.0` turns it back into version 1. Here is one query
# against six keys with $d_k = 64$ and values of size $d_v = 3$, both ways:

# %%
d_k, n_keys, d_v = 64, 6, 3
q = torch.randn(1, d_k)  # (1, d_k): one query
K = torch.randn(n_keys, d_k)  # (keys, d_k)
V = torch.randn(n_keys, d_v)  # (keys, d_v)

# version 1: no scale; version 2: the default scale 1/sqrt(64)
out_v1, w_v1 = attention.scaled_dot_product_attention(q, K, V, scale=1.0)
out_v2, w_v2 = attention.scaled_dot_product_attention(q, K, V)
print("shapes: weights", tuple(w_v1.shape), " output", tuple(out_v1.shape))
print("raw scores q.k     :", (q @ K.T).squeeze().numpy())
print("weights, scale 1   :", w_v1.squeeze().numpy())
print("weights, 1/sqrt(64):", w_v2.squeeze().numpy())
print("output,  scale 1   :", out_v1.squeeze().numpy())
print("output,  1/sqrt(64):", out_v2.squeeze().numpy())

# %% tags=["remove-input"]
raw = (q @ K.T).squeeze()
Markdown(
    f"The shapes are those of [Chapter 2](02_queries_keys_values.py#shapes-a-worked-example): "
    f"a $(1, {d_k})$ query and $({n_keys}, {d_k})$ keys give $(1, {n_keys})$ weights, and "
    f"with $({n_keys}, {d_v})$ values a $(1, {d_v})$ output. The raw scores range from "
    f"{raw.min():.1f} to {raw.max():.1f}, although every component of the query and the "
    f"keys was drawn with standard deviation 1. Without the scale the softmax gives "
    f"{w_v1.max():.3f} of the weight to one key; divided by $\\sqrt{{{d_k}}} = "
    f"{np.sqrt(d_k):g}$, the same scores give the largest weight {w_v2.max():.3f} and "
    f"leave every key a share of at least {w_v2.min():.3f}."
)

# %% [markdown]
# The package multiplies the *queries* by the scale rather than the scores: the result
# is the same, and a query has $d_k$ entries where its row of scores has one per key,
# usually more. Either way the scale is nearly free next to the dot products themselves.

# %% tags=["remove-input"]
T_cost, d_cost = 512, 64
v1_cost = dot_product_attention_cost(T_cost, T_cost, d_cost, d_cost, scaled=False)
v2_cost = dot_product_attention_cost(T_cost, T_cost, d_cost, d_cost, scaled=True)
extra = v2_cost.total - v1_cost.total
Markdown(
    f"By the FLOP formulas of `attention.fast.cost`, for {T_cost} queries and {T_cost} keys of "
    f"size {d_cost}, version 1 costs {v1_cost.total:,} floating-point operations and "
    f"version 2 {extra:,} more, {extra / v1_cost.total:.2%} of the total."
)

# %% [markdown]
# ## How large is a dot product?
#
# Why does the spread of the raw scores grow with $d_k$? Take the model the paper uses
# in its footnote: the components $q_1, \dots, q_d$ and $k_1, \dots, k_d$ are all
# independent random variables with mean 0 and variance 1. (Networks are initialized,
# and often normalized, to keep their activations at about that scale, so the model is a
# fair picture of a network at the start of training.) The dot product is a sum of $d$
# products:
#
# $$
# q \cdot k = \sum_{j=1}^{d} q_j k_j .
# $$
#
# Each product has mean 0, because the two factors are independent:
# $\mathbb{E}[q_j k_j] = \mathbb{E}[q_j]\, \mathbb{E}[k_j] = 0$. Its variance is 1, for the
# same reason:
#
# $$
# \operatorname{Var}(q_j k_j) = \mathbb{E}[q_j^2 k_j^2] - \big(\mathbb{E}[q_j k_j]\big)^2
# = \mathbb{E}[q_j^2]\, \mathbb{E}[k_j^2] - 0 = 1 \cdot 1 = 1 .
# $$
#
# The $d$ products are independent of one another (each uses its own pair of
# components), and the variance of a sum of independent terms is the sum of their
# variances. So
#
# $$
# \mathbb{E}[q \cdot k] = 0, \qquad
# \operatorname{Var}(q \cdot k) = d, \qquad
# \operatorname{std}(q \cdot k) = \sqrt{d} .
# $$
#
# Dividing a random variable by a constant $c$ divides its variance by $c^2$, so
#
# $$
# \operatorname{Var}\!\left(\frac{q \cdot k}{\sqrt{d}}\right) = \frac{d}{d} = 1
# $$
#
# for every $d$. That is the whole reason for the $\sqrt{d}$: it is the standard
# deviation of the raw score, and dividing by it gives scores of unit variance whatever
# the size of the vectors. Nothing here needs the components to be normal; mean 0,
# variance 1 and independence are enough.
#
# The law is often stated as "the variance grows linearly with a factor
# $\sqrt{\text{dim}}$" (for example in a
# [PyImageSearch tutorial, 2022](../reference/references.md#pyimagesearch2022)). That
# mixes up the two quantities: the variance is $d$ itself (linear in $d$, with factor
# 1), and it is the standard deviation that is $\sqrt{d}$.
# Dividing by $\sqrt{d}$ is right because it is the *standard deviation*.
#
# ## Measuring it
#
# The derivation is short, but it is worth checking. For each $d$ from 1 to 1024 we draw
# 4000 pairs of vectors with independent standard normal components and measure the
# variance of their dot products, before and after dividing by $\sqrt{d}$. To save work,
# one draw of 1024 components serves every $d$: the dot product in dimension $d$ is the
# sum of the first $d$ products, a cumulative sum.

# %%
dims = 2 ** np.arange(11)  # d = 1, 2, 4, ..., 1024
n_pairs = 4000
shape = (n_pairs, dims[-1])
q_draws = rng.standard_normal(shape, dtype=np.float32)  # (pairs, 1024)
k_draws = rng.standard_normal(shape, dtype=np.float32)  # (pairs, 1024)
running = np.cumsum(q_draws * k_draws, axis=1)  # (pairs, 1024)
# Column d - 1 of `running` is the dot product of the first d components.
dots = running[:, dims - 1].astype(np.float64)  # (pairs, len(dims))
scaled_dots = dots / np.sqrt(dims)  # (pairs, len(dims))
var_raw = dots.var(axis=0)
var_scaled = scaled_dots.var(axis=0)
print(" d    Var(q.k)   Var(q.k)/d   Var(q.k / sqrt(d))")
for d, v, s in zip(dims, var_raw, var_scaled):
    print(f"{d:>4} {v:>10.1f} {v / d:>12.3f} {s:>18.3f}")

# %%
fig, ax = plt.subplots()
ax.plot(dims, dims, color=COLORS[0], lw=1, label="Var = d (theory)")
ax.plot(dims, var_raw, "o", color=COLORS[0], label="Var(q·k), measured")
ax.plot(dims, np.ones_like(dims), color=COLORS[1], lw=1, label="Var = 1 (theory)")
ax.plot(dims, var_scaled, "s", color=COLORS[1],
        label="Var(q·k / √d), measured")
ax.set(xscale="log", yscale="log", xlabel="vector size d (log scale)",
       ylabel="variance (log scale)")
ax.set_xticks(dims[::2])
ax.minorticks_off()
ax.xaxis.set_major_formatter(plain)
ax.yaxis.set_major_formatter(plain)
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# **Figure 5.1.** The variance of the dot product of two random vectors with independent
# components of mean 0 and variance 1, measured over 4000 pairs for each size $d$
# (circles), lies on the line $\operatorname{Var}(q \cdot k) = d$: doubling the size doubles the variance. After
# division by $\sqrt{d}$ (squares) the variance is about 1 at every size.

# %% tags=["remove-input"]
ratio = var_raw / dims
Markdown(
    f"Across the eleven sizes the measured $\\operatorname{{Var}}(q \\cdot k) / d$, which "
    f"is also the variance of the scaled scores, lies between {ratio.min():.3f} and "
    f"{ratio.max():.3f}; with 4000 samples a few percent of sampling error is expected. "
    f"The mean dot product stays near 0, as the derivation says: at no size is it more "
    f"than {np.abs(dots.mean(axis=0) / np.sqrt(dims)).max():.2f} of its standard "
    f"deviation away from 0. At $d = 1024$ a raw score has a standard deviation of "
    f"{np.sqrt(var_raw[-1]):.1f}: two keys whose scores differ by one standard deviation "
    f"would differ by a factor of $e^{{{np.sqrt(var_raw[-1]):.0f}}}$ in weight."
)

# %% [markdown]
# ## A wrong example, and the right reason
#
# A common explanation of the scale, repeated in many tutorials, uses a pair of scores
# instead. It says that
# softmax turns $(51, 49)$ into about $(0.51, 0.49)$ but $(70, 30)$ into
# $(0.99999, 0.000001)$, which kills the gradient, and that dividing by $\sqrt{64} = 8$
# turns $(70, 30)$ into about $(0.7, 0.3)$. The direction of the argument is right; every
# number is wrong.

# %% tags=["remove-input"]
s_51_49 = attention.softmax([51.0, 49.0])
s_70_30 = attention.softmax([70.0, 30.0])
s_div8 = attention.softmax(np.array([70.0, 30.0]) / 8)
needed = 40 / np.log(0.7 / 0.3)  # the divisor that would give (0.7, 0.3)
Markdown(
    f"As [Chapter 1](01_softmax.py#only-differences-matter) showed, softmax depends only "
    f"on the gap between two scores: $\\operatorname{{softmax}}(51, 49) = "
    f"({s_51_49[0]:.3f}, {s_51_49[1]:.3f})$, not $(0.51, 0.49)$, and for $(70, 30)$ the "
    f"second weight is ${tex_sci(s_70_30[1])}$, not $10^{{-6}}$. Dividing by 8 gives the "
    f"scores $(8.75, 3.75)$, still 5 apart, and $\\operatorname{{softmax}}(8.75, 3.75) = "
    f"({s_div8[0]:.3f}, {s_div8[1]:.3f})$: far from $(0.7, 0.3)$, which would need a gap of "
    f"$\\ln(7/3) \\approx {np.log(7 / 3):.3f}$, that is, a divisor of about {needed:.0f}."
)

# %% tags=["remove-input"]
from math import erfc  # noqa: E402

d_gap, gap = 64, 40.0
score_std = np.sqrt(d_gap)  # one unscaled score of random vectors: sqrt(d)
gap_std = np.sqrt(2) * score_std  # the difference of two independent scores
z_gap = gap / gap_std
p_gap = erfc(z_gap / np.sqrt(2))  # P(|difference| >= gap), the difference normal
sim = np.random.default_rng(1)  # its own generator: the chapter's draws stay as they were
q_gap = sim.normal(size=(20000, d_gap))  # 20000 random queries of size 64
k_pair = sim.normal(size=(20000, 2, d_gap))  # two random keys for each
pair_scores = np.einsum("nd,nkd->nk", q_gap, k_pair)  # (20000, 2), unscaled
p_simulated = np.mean(np.abs(pair_scores[:, 0] - pair_scores[:, 1]) >= gap)
Markdown(
    f"More to the point, the scale was never meant to rescue a particular pair of scores. "
    f"It is chosen for the *typical* spread of the scores: with $d = {d_gap}$, unscaled "
    f"scores have a standard deviation of $\\sqrt{{{d_gap}}} = {score_std:.0f}$. The gap "
    f"between two of them is a difference of two such scores, whose standard deviation is "
    f"${score_std:.0f}\\sqrt{{2}} \\approx {gap_std:.1f}$, so a gap of {gap:.0f} is "
    f"{z_gap:.1f} standard deviations: rare. Were the difference normal, a gap that "
    f"large or larger would have probability {p_gap:.4f}; among {len(q_gap):,} random "
    f"queries, each scored against two random keys, it came up with frequency "
    f"{p_simulated:.4f} (a dot product's tails are somewhat heavier than a normal's). Dividing "
    f"by {score_std:.0f} turns it into a gap of {gap / score_std:.0f} between scores of "
    f"standard deviation 1, still {z_gap:.1f} standard deviations of their difference, "
    f"still rare and still decisive. What the scale guarantees is that the scores of "
    f"random vectors have variance 1, as derived above, and so that the softmax starts "
    f"in the state [Chapter 1](01_softmax.py#one-spike-or-a-spread-the-scale-of-the-scores) "
    f"called \"a spread\", not \"one spike\", whatever $d$ is. That chapter's experiment, "
    f"500 scores with standard deviation 100 against the same scores divided by 100, is "
    f"exactly the difference between unscaled scores at a large $d$ and scaled ones."
)

# %% [markdown]
# ## The softmax saturates without the scale
#
# Now the consequence, measured on attention itself. For each size $d$ we draw 300
# independent sets of one query and 16 keys, with standard normal components, and run
# `attention.scaled_dot_product_attention` twice on each set: with `scale=1.0`
# (version 1) and with the default $1/\sqrt{d}$ (version 2). For each set of weights we
# record the entropy, divided by its largest possible value $\log 16$ (1 means uniform
# weights, 0 means one key takes everything), and the largest weight. The figure shows
# the averages over the 300 sets.

# %%
n_sets, n_keys, d_v = 300, 16, 8
f64 = torch.float64
# One draw of size 1024 serves every d: the first d components of each vector.
q_all = torch.randn(n_sets, 1, dims[-1], dtype=f64)  # (sets, 1, 1024)
k_all = torch.randn(n_sets, n_keys, dims[-1], dtype=f64)  # (sets, keys, 1024)
v_all = torch.randn(n_sets, n_keys, d_v, dtype=f64)  # (sets, keys, d_v)
upstream = torch.randn(n_sets, 1, d_v, dtype=f64)  # dL/d(output), used later

versions = {  # name -> the scale for vectors of size d
    "unscaled (version 1)": lambda d: 1.0,
    "scaled (version 2)": lambda d: 1 / np.sqrt(d),
}
entropy_mean = {name: [] for name in versions}  # entropy / log(keys), per d
largest_mean = {name: [] for name in versions}  # largest weight, per d
weights_at = {}  # (name, d) -> (sets, keys) weights, for later
for d in dims:
    qd, kd = q_all[..., :d], k_all[..., :d]  # (sets, 1, d), (sets, keys, d)
    for name, scale_of in versions.items():
        _, w = attention.scaled_dot_product_attention(
            qd, kd, v_all, scale=scale_of(d)
        )  # w: (sets, 1, keys)
        w = w[:, 0].numpy()  # (sets, keys)
        weights_at[name, d] = w
        entropy_mean[name].append(attention.entropy(w).mean() / np.log(n_keys))
        largest_mean[name].append(w.max(axis=-1).mean())

# %% tags=["fold"]
fig, (ax_h, ax_m) = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
for name in versions:
    ax_h.plot(dims, entropy_mean[name], "o-", label=name)
    ax_m.plot(dims, largest_mean[name], "o-", label=name)
ax_m.axhline(1 / n_keys, color=COLORS[2], lw=1, ls="--", label="uniform, 1/16")
ax_h.set(ylabel="entropy / log 16", ylim=(0, 1.05))
ax_m.set(ylabel="largest weight", ylim=(0, 1.05))
for ax in (ax_h, ax_m):
    ax.set(xscale="log", xlabel="vector size d (log scale)")
    ax.set_xticks(dims[::2])
    ax.minorticks_off()
    ax.xaxis.set_major_formatter(plain)
ax_h.legend(loc="lower left")
ax_m.legend(loc="center right")
plt.show()

# %% [markdown]
# **Figure 5.2.** The attention weights of one query over 16 random keys, averaged over
# 300 random draws at each vector size $d$. Left: the entropy of the weights, divided by
# its maximum. Right: the largest weight. Without the scale (version 1) the weights
# collapse onto one key as $d$ grows: the entropy falls towards 0 and the largest weight
# rises towards 1. With the scale (version 2) both stay where they are at $d = 1$, for
# every $d$.

# %% tags=["remove-input"]
un, sc = versions
Markdown(
    f"In numbers: at $d = 1$ the two versions are the same computation, with a mean "
    f"entropy of {entropy_mean[un][0]:.2f} of the maximum and a mean largest weight of "
    f"{largest_mean[un][0]:.2f}. At $d = 1024$ the unscaled weights have "
    f"{entropy_mean[un][-1]:.2f} of the maximum entropy and give on average "
    f"{largest_mean[un][-1]:.3f} of the weight to one key, while the scaled ones stay at "
    f"{entropy_mean[sc][-1]:.2f} and {largest_mean[sc][-1]:.2f}. The scaled curves are "
    f"flat because, for a fixed query, the scaled scores of random keys have the same "
    f"spread at every $d$. Their level is not a constant of nature: it depends on the "
    f"number of keys and on the unit variance of the components, which a trained network "
    f"moves away from. The point is that it no longer depends on $d$."
)

# %% [markdown]
# ## The gradient a saturated softmax passes back
#
# A network learns by moving each parameter a small step against the gradient of the
# loss, so a parameter whose gradient is tiny barely moves. When the gradients reaching
# the early layers of a network are tiny for a structural reason, training stalls there;
# this is the *vanishing gradient problem*. In attention, the queries and keys are made
# by learned projections (from [Chapter 7](07_cross_attention.py) on), and those learn
# only through the gradient that reaches the scores.
#
# [Chapter 1](01_softmax.py#the-gradient-of-softmax) derived the Jacobian of softmax,
# $J = \operatorname{diag}(\alpha) - \alpha \alpha^\top$ for the weights $\alpha$, and showed that it goes to 0 as the softmax
# saturates. Whatever gradient $g$ reaches the weights from later in the network, the
# scores receive $J g$. Note that *every* entry of $J$ vanishes, including the
# diagonal entry $\alpha_l (1 - \alpha_l)$ of the winning key $l$. It is often said that a saturated
# softmax still passes the error back through its peak and starves the rest; for the
# scores of attention it starves all of them, the winner included.
#
# Here is the measurement. We take the 300 sets of the previous section and a random
# stand-in $g$ for the gradient of the loss with respect to the output, define the loss
# $\mathcal{L} = g \cdot \text{output}$, and let PyTorch's autograd compute $\partial \mathcal{L} / \partial z$,
# where $z$ are the scores that enter the softmax ($q \cdot k_i$ in version 1,
# $q \cdot k_i / \sqrt{d}$ in version 2). To reach the scores, we compute them, make them
# a leaf of the graph, and apply the package's `attention.masked_softmax` (the softmax
# inside `scaled_dot_product_attention`) and the product with the values.

# %%
grad_norms = {name: [] for name in versions}  # per d, a (sets,) array of norms
for d in dims:
    qd, kd = q_all[..., :d], k_all[..., :d]  # (sets, 1, d), (sets, keys, d)
    for name, scale_of in versions.items():
        scores = scale_of(d) * qd @ kd.transpose(-2, -1)  # (sets, 1, keys)
        scores.requires_grad_()  # a leaf: autograd keeps its gradient
        output = attention.masked_softmax(scores) @ v_all  # (sets, 1, d_v)
        (output * upstream).sum().backward()  # set s's loss: set s only
        norms = scores.grad.norm(dim=-1).squeeze(-1)  # (sets,)
        grad_norms[name].append(norms.numpy())

# Check autograd against the Jacobian of Chapter 1 on one set: dL/dz = J (V g).
d = 64
z_one = (q_all[0, 0, :d] @ k_all[0, :, :d].T / np.sqrt(d)).numpy()  # (keys,)
g_weights = (v_all[0] @ upstream[0, 0]).numpy()  # dL/d(weights), (keys,)
by_formula = attention.softmax_jacobian(z_one) @ g_weights
scores = torch.tensor(z_one, requires_grad=True)
(attention.masked_softmax(scores) @ v_all[0] @ upstream[0, 0]).backward()
gap = np.abs(by_formula - scores.grad.numpy()).max()
print(f"max |J (V g) - autograd| = {gap:.1e}")

# %% tags=["fold"]
fig, ax = plt.subplots()
for color, name in zip(COLORS, versions):
    norms = np.array(grad_norms[name])  # (len(dims), sets)
    low, mid, high = np.percentile(norms, [10, 50, 90], axis=1)
    ax.plot(dims, mid, "o-", color=color, label=f"{name}, median")
    ax.fill_between(dims, low, high, color=color, alpha=0.2, linewidth=0)
ax.set(xscale="log", yscale="log", ylim=(1e-12, 10),
       yticks=10.0 ** np.arange(-12, 1, 3), xlabel="vector size d (log scale)",
       ylabel=r"norm of $\partial\mathcal{L}/\partial z$ (log scale)")
ax.set_xticks(dims[::2])
ax.minorticks_off()
ax.xaxis.set_major_formatter(plain)
ax.yaxis.set_major_formatter(plain)
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# **Figure 5.3.** The norm of the gradient of the loss with respect to the scores, from
# autograd, for the same 300 draws as Figure 5.2: the median (line) and the 10% to 90%
# range (band) at each size $d$. Unscaled, the gradient reaching the scores collapses as
# the softmax saturates; scaled, it keeps the same size at every $d$. The lower edge of
# the unscaled band runs below the bottom of the axis at the largest sizes.

# %% tags=["remove-input"]
med = {name: np.median(np.array(grad_norms[name]), axis=1) for name in versions}
weights_un = weights_at[un, dims[-1]]
Markdown(
    f"The median gradient norm is {med[un][0]:.2f} at $d = 1$ in both versions. Unscaled, "
    f"it falls to {med[un][5]:.3f} at $d = {dims[5]}$ and to ${tex_sci(med[un][-1])}$ at "
    f"$d = 1024$, a factor of about {about(med[un][0] / med[un][-1])} smaller; scaled, it is "
    f"{med[sc][-1]:.2f} at $d = 1024$. The same draws at $d = 1024$ leave a median of "
    f"${tex_sci(np.median(1 - weights_un.max(axis=-1)))}$ of the unscaled weight outside "
    f"the winning key, which is why: $J$ is built from the weights, and saturated weights "
    f"make every entry of $J$ small. Under plain gradient descent, a projection that "
    f"receives a gradient {about(med[un][0] / med[un][-1])} times smaller takes steps "
    f"{about(med[un][0] / med[un][-1])} times smaller, and since the gradient only shrinks "
    f"further as the scores grow, training does not escape by itself."
)

# %% [markdown]
# Try it yourself. The next cell gathers, for each size $d$, what the last three
# figures measured on the same draws: the spread of the scores, the largest weight and
# the norm of the gradient that reaches the scores, each without and with the scale.
# The figure under it shows the size the slider picks.

# %%
import altair as alt
from attention.book.interactive import interactive_figure


def spread(x: np.ndarray) -> list[float]:
    """The 10th, 50th and 90th percentiles, for a bar from the 10th to the 90th."""
    return [float(f"{p:.3g}") for p in np.percentile(x, [10, 50, 90])]


frames = []
for i, d in enumerate(dims):
    largest = {name: weights_at[name, d].max(axis=-1) for name in versions}  # (sets,)
    frames.append({
        "log2_d": i,  # the slider's value picks this frame: d = 2**i
        "version": ["unscaled", "scaled"],
        "score": [spread(dots[:, i]), spread(scaled_dots[:, i])],
        "largest": [spread(largest[name]) for name in versions],  # unscaled, scaled
        "grad": [spread(grad_norms[name][i]) for name in versions],
        "readout": f"d = {d} · std of the scores {dots[:, i].std():.1f} unscaled, "
                   f"{scaled_dots[:, i].std():.2f} scaled",
    })

# %% tags=["fold"]
slider = alt.param(name="log2_d", value=6, bind=alt.binding_range(
    min=0, max=10, step=1, name="vector size, log2 d "))
rows = alt.Chart().transform_filter("datum.log2_d == log2_d").transform_flatten(
    ["version", "score", "largest", "grad"])
y_version = alt.Y("version:N", sort=["unscaled", "scaled"], title=None)


def panel(field: str, title: str, scale: alt.Scale, axis: alt.Axis = alt.Axis(),
          readout: bool = False) -> alt.LayerChart:
    """One measured quantity: a bar from the 10th to the 90th percentile, a tick at the median."""
    ends = rows.transform_calculate(lo=f"datum.{field}[0]", mid=f"datum.{field}[1]",
                                    hi=f"datum.{field}[2]")
    bar = ends.mark_bar(height=14, opacity=0.6).encode(
        x=alt.X("lo:Q", title=title, scale=scale, axis=axis), x2="hi:Q", y=y_version,
        color=alt.Color("version:N", sort=["unscaled", "scaled"], legend=None),
        tooltip=["version:N", alt.Tooltip("lo:Q", title="10%"),
                 alt.Tooltip("mid:Q", title="median"), alt.Tooltip("hi:Q", title="90%")])
    tick = ends.mark_tick(thickness=2, size=22, color="currentColor").encode(x="mid:Q", y=y_version)
    layers = [bar, tick]
    if readout:
        layers.append(alt.Chart().transform_filter("datum.log2_d == log2_d").mark_text(
            align="left", baseline="bottom", x=0, y=-6, fontSize=13).encode(text="readout:N"))
    return alt.layer(*layers).properties(width=300, height=60)


interactive_figure(
    alt.vconcat(
        panel("score", "score z, 10% to 90% of 4000 draws", alt.Scale(domain=[-50, 50]),
              readout=True),
        panel("largest", "largest weight, over 300 sets", alt.Scale(domain=[0, 1])),
        panel("grad", "norm of ∂L/∂z (log scale)",
              alt.Scale(type="log", domain=[1e-12, 10], clamp=True),
              alt.Axis(values=[1e-12, 1e-9, 1e-6, 1e-3, 1],
                       labelExpr="datum.value >= 1 ? '1' : format(datum.value, '.0e')")),
        data=alt.Data(values=frames), spacing=28,
    ).add_params(slider).properties(autosize=alt.AutoSizeParams(type="pad")),
    "For the vector size the slider sets, unscaled and scaled: the spread of the scores, "
    "the largest attention weight, and the norm of the gradient that reaches the scores.",
)

# %% [markdown]
# **Interactive figure 5.1.** Move the slider from $d = 1$ to $d = 1024$. Each bar runs
# from the 10th to the 90th percentile of the draws, the tick marks the median. The
# unscaled scores (top bar of each panel) spread wider and wider, their largest weight
# climbs to 1, and the gradient reaching them slides down the logarithmic axis by many
# orders of magnitude; the scaled ones (bottom bars) do not move.

# %% [markdown]
# Could a network not learn to make its scores smaller, and so do without the fixed
# scale? In principle the projections that make the queries and keys could shrink. But
# they would have to learn that through the very gradient that saturation has removed.
# The fixed $1/\sqrt{d_k}$ makes the network start in the regime where the softmax has a
# gradient, at every size. The Transformer paper reports the motivation in the same terms:
# for large $d_k$ the dot products grow large in magnitude and push the softmax into
# regions with extremely small gradients, and it notes that unscaled dot-product attention
# had been found to do worse than additive attention ([version 0](03_additive_attention.py))
# for larger $d_k$.
#
# ## Summary

# %% tags=["remove-input"]
Markdown(
    f"""
- Version 2 divides each dot-product score by $\\sqrt{{d_k}}$:
  $\\operatorname{{softmax}}(q K^\\top / \\sqrt{{d_k}})\\, V$. In the package,
  `attention.scaled_dot_product_attention(query, key, value)` uses this scale by default;
  `scale=1.0` gives version 1.
- For independent components with mean 0 and variance 1, $q \\cdot k$ has mean 0,
  variance $d$ and standard deviation $\\sqrt{{d}}$ (not "variance growing with a factor
  $\\sqrt{{d}}$"). Dividing by $\\sqrt{{d}}$ gives unit variance at every $d$; Figure 5.1
  measured it from $d = 1$ to $1024$.
- Without the scale the softmax saturates as $d$ grows: at $d = 1024$ one key took on
  average {largest_mean[un][-1]:.3f} of the weight of 16 (Figure 5.2), and the gradient
  reaching the scores shrank by a factor of about {about(med[un][0] / med[un][-1])}
  (Figure 5.3). With the scale, neither depends on $d$.
- The reason for the scale is the variance of the dot product, not a particular pair of
  scores: $\\operatorname{{softmax}}(70/8, 30/8)$ is $({s_div8[0]:.3f}, {s_div8[1]:.3f})$,
  not $(0.7, 0.3)$.
"""
)

# %% [markdown]
# ## Exercises
#
# 1. **Why not divide by $d$?** Repeat the entropy measurement of Figure 5.2 with the
#    scale $1/d$ instead of $1/\sqrt{d}$. What happens to the weights as $d$ grows, and
#    why is that as useless as saturation?

# %% tags=["solution"]
# Exercise 1: the scale 1/d shrinks the scores' standard deviation to
# 1/sqrt(d), so all scores approach 0 and the softmax approaches uniform:
# the weights stop depending on the query, which is average pooling
# (Chapter 2).
for d in dims[::2]:
    qd, kd = q_all[..., :d], k_all[..., :d]
    _, w = attention.scaled_dot_product_attention(qd, kd, v_all, scale=1 / d)
    w = w[:, 0].numpy()  # (sets, keys)
    h = attention.entropy(w).mean() / np.log(n_keys)
    print(f"d = {d:>4}: entropy / log 16 = {h:.4f}, "
          f"largest weight = {w.max(axis=-1).mean():.4f}")

# %% [markdown]
# 2. **Other distributions, other variances.** The derivation never used normality.
#    Measure $\operatorname{Var}(q \cdot k)/d$ at $d = 256$ for components drawn uniformly
#    from $[-\sqrt{3}, \sqrt{3}]$ (variance 1), and for normal queries with standard
#    deviation $\sigma_q = 2$ and keys with $\sigma_k = 1.5$. Predict both results first; what
#    scale would restore unit variance in general?

# %% tags=["solution"]
# Exercise 2: Var(q_j k_j) = E[q_j^2] E[k_j^2] = sigma_q^2 sigma_k^2 for any
# distribution, so Var(q.k) = d sigma_q^2 sigma_k^2, and the scale that
# restores unit variance is 1 / (sqrt(d) sigma_q sigma_k).
d, n = 256, 4000
half_width = np.sqrt(3.0)  # uniform on [-a, a] has variance a^2 / 3 = 1
qu = rng.uniform(-half_width, half_width, size=(n, d))
ku = rng.uniform(-half_width, half_width, size=(n, d))
ratio_u = (qu * ku).sum(axis=1).var() / d
print(f"uniform components:         Var/d = {ratio_u:.3f}  (predicted 1)")
qs = rng.normal(scale=2.0, size=(n, d))
ks = rng.normal(scale=1.5, size=(n, d))
ratio_s = (qs * ks).sum(axis=1).var() / d
print(f"sigma_q = 2, sigma_k = 1.5: Var/d = {ratio_s:.3f}  (predicted 9)")

# %% [markdown]
# 3. **A key equal to the query.** The derivation assumes that $q$ and $k$ are
#    independent. If a key equals the query, what are the mean and the standard deviation
#    of the scaled score $q \cdot q / \sqrt{d}$ for large $d$? Check with a simulation.

# %% tags=["solution"]
# Exercise 3: q.q = sum q_j^2 has mean d and variance 2d (Var(q_j^2) = 2
# for a standard normal), so q.q / sqrt(d) has mean sqrt(d) and standard
# deviation sqrt(2): it grows with d. A key that matches the query still
# stands out after scaling, which is what attention wants; only the random
# mismatches are brought to unit variance.
for d in [16, 256, 1024]:
    qq = rng.normal(size=(1000, d))  # 1000 queries of size d
    self_scores = (qq * qq).sum(axis=1) / np.sqrt(d)
    print(f"d = {d:>4}: mean {self_scores.mean():6.2f} "
          f"(sqrt(d) = {np.sqrt(d):4.1f}), std {self_scores.std():.3f} "
          f"(sqrt(2) = {np.sqrt(2):.3f})")

# %% [markdown]
# 4. **Scale as temperature.** Show numerically that the weights of
#    `scaled_dot_product_attention` with its default scale equal
#    `attention.softmax_with_temperature` of the raw scores at temperature $\sqrt{d_k}$,
#    using the query and keys of "The code" section.

# %% tags=["solution"]
# Exercise 4: dividing the scores by sqrt(d_k) is a softmax at temperature
# sqrt(d_k).
q64, K64, V64 = q.double(), K.double(), V.double()
raw_scores = (q64 @ K64.T).squeeze(0).numpy()  # (keys,)
by_temperature = attention.softmax_with_temperature(raw_scores, np.sqrt(d_k))
_, w_default = attention.scaled_dot_product_attention(q64, K64, V64)  # (1, keys)
gap = np.abs(by_temperature - w_default.squeeze(0).numpy()).max()
print(f"max |difference| = {gap:.1e}")

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
# # Softmax: from scores to probabilities
#
# Every attention mechanism in this book ends the same way. It scores each item it
# could attend to, then turns that list of scores into a list of weights that are
# non-negative and add up to one. The function that does the turning is softmax. This
# chapter takes it apart: what it does to a list of scores, how to compute it without
# overflowing, how temperature and the spread of the scores decide whether it picks one
# item or averages many, and what its gradient looks like, including why a softmax that
# has made up its mind passes almost no gradient back. Every number on this page is
# computed when the page is built, by the code of the book's `attention` package.

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown

import attention
from attention.book.prose import tex_sci
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: extra threads cost more than they save
np.set_printoptions(precision=4)
plain = plt.FuncFormatter(lambda x, _: f"{x:g}")  # log-axis labels: 0.1, 1e-08

# %% [markdown]
# ## The definition
#
# Softmax takes a vector of $n$ real numbers $z = (z_1, \dots, z_n)$, often called
# *logits* or *scores*, and returns a vector of the same length:
#
# $$
# \operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_{j=1}^{n} e^{z_j}}, \qquad i = 1, \dots, n.
# $$
#
# The exponential makes every entry positive, whatever the sign of the score, and
# dividing by the sum makes the entries add up to one. `attention.softmax` computes it
# along one axis of an array (the last one by default):

# %%
scores = np.array([3.0, 2.0, 1.0])
weights = attention.softmax(scores)
print("weights:", weights, f" sum: {weights.sum():.4f}")

# %% [markdown]
# ## Three things softmax does
#
# **It turns scores into probabilities.** The scores can be anything: negative, huge,
# all equal. The weights are always non-negative and sum to one, so they can be read as
# a probability distribution over the $n$ items, or used as the coefficients of a
# weighted average, which is exactly how attention uses them.
#
# **It sharpens.** Softmax is not "each score's share of the total". Compare it with
# plain proportional shares, $z_i / \sum_j z_j$ (which only makes sense for positive
# scores):

# %% tags=["remove-input"]
shares = scores / scores.sum()
doubled = attention.softmax(2 * scores)
Markdown(
    f"For the scores $(3, 2, 1)$ the proportional shares are "
    f"$({shares[0]:.3f}, {shares[1]:.3f}, {shares[2]:.3f})$, while softmax gives "
    f"$({weights[0]:.3f}, {weights[1]:.3f}, {weights[2]:.3f})$: the largest score gets more "
    f"than its share and the smallest gets less. Double the scores to $(6, 4, 2)$ and the "
    f"proportional shares do not move, but the softmax weight of the largest grows from "
    f"{weights[0]:.3f} to {doubled[0]:.3f}. Softmax responds to *differences* between "
    f"scores, not to their ratios: each extra unit of score multiplies an item's weight, "
    f"relative to the others, by $e \\approx {np.e:.3f}$."
)

# %% [markdown]
# **It is a soft, differentiable version of picking the largest.** Multiply the scores
# by a growing factor and the weights move towards a one-hot vector with a 1 at the
# position of the largest score, which is what $\operatorname{argmax}$ would return:

# %%
for factor in [1, 3, 10, 30]:
    print(f"softmax({factor:>2} * scores):", attention.softmax(factor * scores))

# %% [markdown]
# Argmax itself is useless for learning: it is piecewise constant, so its derivative
# is zero wherever it exists, and a small change to a score either changes nothing or
# flips the answer. Softmax changes smoothly with every score, so gradient descent can
# tell each score which way to move. (The name is a little off: softmax is a smooth
# *argmax*, a smooth version of choosing *which* item is largest. The smooth version of
# the maximum *value* is $\log \sum_j e^{z_j}$.)
#
# ## Only differences matter
#
# Adding the same constant $c$ to every score changes nothing, because the factor
# $e^c$ appears in the numerator and in every term of the denominator:
#
# $$
# \frac{e^{z_i + c}}{\sum_j e^{z_j + c}} = \frac{e^{c}\, e^{z_i}}{e^{c} \sum_j e^{z_j}} = \operatorname{softmax}(z)_i .
# $$
#
# With two scores this gives a closed form. Dividing numerator and denominator by
# $e^{z_1}$, $\operatorname{softmax}(z_1, z_2)_1 = 1 / (1 + e^{-(z_1 - z_2)}) = \operatorname{sigmoid}(z_1 - z_2)$,
# the logistic sigmoid of the difference. Only the gap between the two scores decides the
# split, and a gap of a few units is already decisive.

# %% tags=["remove-input"]
s_51_49 = attention.softmax([51.0, 49.0])
s_70_30 = attention.softmax([70.0, 30.0])
Markdown(
    f"This corrects a common claim, found in tutorials, that softmax turns the "
    f"scores $(51, 49)$ into about $(0.51, 0.49)$, as if it kept their ratio. The gap is 2, "
    f"so the weights are $(\\operatorname{{sigmoid}}(2), \\operatorname{{sigmoid}}(-2)) = ({s_51_49[0]:.3f}, {s_51_49[1]:.3f})$. "
    f"The same claim puts the smaller weight for $(70, 30)$ at about $0.000001$; with a "
    f"gap of 40 it is $e^{{-40}}/(1 + e^{{-40}}) \\approx {tex_sci(s_70_30[1])}$, about "
    f"{np.log10(1e-6 / s_70_30[1]):.0f} orders of magnitude smaller."
)

# %% [markdown]
# ## Computing softmax without overflow
#
# Written straight from the definition, softmax computes $e^{z_i}$ first. The
# exponential grows so fast that this overflows for quite ordinary scores.

# %% tags=["remove-input"]
limit64 = np.log(np.finfo(np.float64).max)
limit32 = np.log(np.finfo(np.float32).max)
# exp(x) rounds to 0 once it is below half the smallest positive (subnormal) float64
underflow64 = np.log(np.finfo(np.float64).smallest_subnormal) - np.log(2)
Markdown(
    f"The largest float64 is about ${tex_sci(np.finfo(np.float64).max)}$, so "
    f"$e^{{z}}$ is `inf` for any $z$ above {limit64:.2f}. In float32, PyTorch's "
    f"default type, the limit is {limit32:.2f}. Once one term is `inf` the sum is `inf` too, "
    f"and `inf / inf` is NaN. At the other end, if every score is below about "
    f"${underflow64:.0f}$, every exponential rounds to 0 "
    f"and the division is $0/0$, NaN again. `attention.naive_softmax` is that textbook "
    f"version, kept in the package only to show it failing:"
)

# %%
big = np.array([1000.0, 999.0, 998.0])
big32 = (big / 10).astype(np.float32)  # 100, 99.9, 99.8 in float32
print("naive_softmax(big)   ", attention.naive_softmax(big))
print("naive_softmax(big32) ", attention.naive_softmax(big32))
print("naive_softmax(-big)  ", attention.naive_softmax(-big))
print("softmax(big)         ", attention.softmax(big))
print("softmax(big32)       ", attention.softmax(big32))
print("softmax(-big)        ", attention.softmax(-big))
print("torch.softmax(big)   ", torch.softmax(torch.tensor(big), dim=-1).numpy())

# %% [markdown]
# The float32 line is the most worrying one: logits of about 100 are nothing unusual
# in a network, and they are already too large for the naive version.
#
# The fix is the invariance from the previous section. Subtract the largest score $m$
# from every score before exponentiating:
#
# $$
# \operatorname{softmax}(z)_i = \frac{e^{z_i - m}}{\sum_j e^{z_j - m}}, \qquad m = \max_j z_j .
# $$
#
# The result is mathematically the same, but now every exponent is at most 0, so no
# term exceeds 1 and nothing overflows; and the largest term is exactly $e^0 = 1$, so the
# denominator is at least 1 and never 0. Terms that still underflow to 0 belong to
# scores so far below the maximum that their true weight is smaller than the smallest
# positive float64 anyway. This is the whole of `attention.softmax`, after it has
# checked its input (PyTorch's `torch.softmax` does the same internally, which is why
# it got the last line right):

# %% tags=["remove-input"]
# The signature and the last three lines of attention.softmax, read from the package.
lines = inspect.getsource(attention.softmax).splitlines()
elided = "    ...  # check the input: numbers, a valid axis, no NaN or inf"
print("\n".join([lines[0], elided, *lines[-3:]]))

# %% [markdown]
# Note that it refuses NaN and infinite scores instead of quietly returning NaN. A
# `-inf` score is a common way to mask an item out, but the book masks with an explicit
# boolean mask instead, for reasons the chapter on [masks](09_masks.py) explains.
#
# ## Temperature
#
# Dividing the scores by a *temperature* $\tau > 0$ before the softmax gives a family of
# distributions from the same scores:
#
# $$
# \operatorname{softmax}(z / \tau)_i = \frac{e^{z_i / \tau}}{\sum_j e^{z_j / \tau}} .
# $$
#
# A temperature below 1 stretches the gaps between the scores, so the distribution
# gets sharper; above 1 it shrinks them, so it gets flatter. As $\tau \to 0$ the weights
# approach the one-hot argmax, and as $\tau \to \infty$ every gap vanishes and they approach
# the uniform $1/n$. Temperature is the knob language models turn when they sample the
# next word, and, as a later chapter shows, the $1/\sqrt{d}$ in
# [scaled dot-product attention](05_scaled_dot_product_attention.py) is a fixed
# temperature of $\sqrt{d}$. The entropy of the weights $\alpha = \operatorname{softmax}(z)$,
# $H(\alpha) = -\sum_i \alpha_i \log \alpha_i$ (`attention.entropy`), measures how spread
# out a distribution is: 0 for one-hot, $\log n$ for uniform.

# %%
logits = np.array([2.0, 1.2, 0.8, 0.0, -0.4, -1.0])
temperatures = [0.25, 0.5, 1.0, 2.0, 4.0]
n = logits.size

# %% tags=["fold"]
fig, (ax_bars, ax_curve) = plt.subplots(
    1, 2, figsize=(8, 3.2), layout="constrained"
)
width = 0.8 / len(temperatures)
for k, t in enumerate(temperatures):
    offsets = np.arange(n) + (k - (len(temperatures) - 1) / 2) * width
    weights_t = attention.softmax_with_temperature(logits, t)
    ax_bars.bar(offsets, weights_t, width, label=f"τ = {t:g}")
ax_bars.set_xticks(np.arange(n), [f"{z:g}" for z in logits])
ax_bars.set(xlabel="logit of each item", ylabel="softmax weight")
ax_bars.locator_params(axis="y", nbins=4)
ax_bars.legend()

t_grid = np.logspace(np.log10(0.05), np.log10(20), 50)
dists = np.array(
    [attention.softmax_with_temperature(logits, t) for t in t_grid]
)  # (temperatures, n)
ax_curve.plot(t_grid, dists.max(axis=1), label="largest weight")
ax_curve.plot(
    t_grid, attention.entropy(dists) / np.log(n), label="entropy / log n"
)
ax_curve.set(xscale="log", xlabel="temperature τ (log scale)",
             ylabel="value", ylim=(0, 1.05), yticks=[0, 0.5, 1])
ax_curve.minorticks_off()
ax_curve.xaxis.set_major_formatter(plain)
ax_curve.legend()
plt.show()

# %% [markdown]
# **Figure 1.1.** Left: the same six logits at five temperatures. At $\tau = 0.25$ almost
# all the weight sits on the largest logit; at $\tau = 4$ the bars are nearly level. Right:
# as the temperature rises, the largest weight falls from 1 towards $1/n$ and the
# entropy climbs from 0 towards its maximum $\log n$.

# %% tags=["remove-input"]
cold = attention.softmax_with_temperature(logits, 0.25)
hot = attention.softmax_with_temperature(logits, 4.0)
Markdown(
    f"In numbers: at $\\tau = 0.25$ the largest weight is {cold.max():.3f}; at $\\tau = 4$ it is "
    f"{hot.max():.3f}, against a uniform {1 / n:.3f}, and the entropy is "
    f"{attention.entropy(hot) / np.log(n):.0%} of the maximum."
)

# %% [markdown]
# Try it yourself. The next cell computes the weights and their entropy with the package
# for 53 temperatures, evenly spaced in $\log_{10} \tau$ from $-1.3$ to $1.3$ (from
# $\tau \approx 0.05$ to $\tau \approx 20$); the figure under it only shows the frame the
# slider picks.

# %%
import altair as alt
from attention.book.interactive import interactive_figure

log_taus = np.round(np.arange(-1.3, 1.3001, 0.05), 2)
frames = []
for log_tau in log_taus:
    tau = 10.0**log_tau
    weights_t = attention.softmax_with_temperature(logits, tau)  # (n,)
    h = float(attention.entropy(weights_t))
    frames.append({
        "log_tau": float(log_tau),  # the slider's value picks this frame
        "logit": [f"{z:g}" for z in logits],
        "weight": [round(float(w), 5) for w in weights_t],
        "readout": f"τ = {tau:.3g} · entropy {h:.3f} of at most {np.log(n):.3f}",
    })

# %% tags=["fold"]
slider = alt.param(name="log_tau", value=0.0, bind=alt.binding_range(
    min=-1.3, max=1.3, step=0.05, name="temperature, log10 τ "))
frame = alt.Chart(alt.Data(values=frames)).transform_filter(
    "abs(datum.log_tau - log_tau) < 1e-6")
bars = frame.transform_flatten(["logit", "weight"]).mark_bar().encode(
    x=alt.X("logit:N", sort=None, title="logit of each item", axis=alt.Axis(labelAngle=0)),
    y=alt.Y("weight:Q", scale=alt.Scale(domain=[0, 1]), title="softmax weight"),
    tooltip=["logit:N", alt.Tooltip("weight:Q", format=".4f")],
)
readout = frame.mark_text(align="right", baseline="top", x="width", y=4,
                          fontSize=13).encode(text="readout:N")
interactive_figure(
    (bars + readout).add_params(slider).properties(width="container", height=220),
    "Softmax weights of the six logits, and their entropy, at the temperature the slider sets.",
)

# %% [markdown]
# **Interactive figure 1.1.** Drag the slider (or focus it and use the arrow keys). Far
# left, $\tau \approx 0.05$: one bar holds all the weight and the entropy is 0. Far right,
# $\tau \approx 20$: six almost equal bars and an entropy close to its maximum $\log 6$. The
# bars and the entropy are the package's numbers for that temperature, computed when the
# book was built.

# %% [markdown]
# ## One spike or a spread: the scale of the scores
#
# Temperature divides the scores by a number, so the *spread* of the scores plays the
# same role: scores that are far apart behave like a low temperature. A
# [PyImageSearch tutorial (2022)](../reference/references.md#pyimagesearch2022) shows
# this with a simple experiment, which we repeat. Draw 500 numbers from a
# normal distribution with standard deviation 100, and divide the same numbers by 100 to
# get a second set with standard deviation 1. The two sets have histograms of exactly the
# same shape; only the numbers on the horizontal axis differ. Then apply softmax to each
# set, as if the 500 numbers were the scores of 500 items.

# %%
samples_100 = rng.normal(0.0, 100.0, size=500)
samples_1 = samples_100 / 100.0
weights_100 = attention.softmax(samples_100)
weights_1 = attention.softmax(samples_1)

# %% tags=["fold"]
fig, (ax_hist, ax_w) = plt.subplots(
    1, 2, figsize=(8, 3.2), layout="constrained"
)
# One histogram serves both sets: the top axis is the bottom one / 100.
ax_hist.hist(samples_100, bins=40, histtype="stepfilled")
ax_hist.set(xlabel="sample value, std 100", ylabel="count")
ax_hist.locator_params(nbins=4)
top = ax_hist.secondary_xaxis(
    "top", functions=(lambda x: x / 100, lambda x: x * 100)
)
top.set_xlabel("sample value, std 1")

# Weights below the axis are drawn at a floor far under it (a smaller file).
floor = 1e-12
ax_w.plot(np.maximum(weights_100, floor), lw=1, label="std 100")
ax_w.plot(weights_1, lw=1, label="std 1")
ax_w.set(yscale="log", ylim=(1e-6, 2), yticks=[1e-6, 1e-4, 1e-2, 1],
         xlabel="sample index", ylabel="weight (log scale)")
ax_w.minorticks_off()
ax_w.yaxis.set_major_formatter(plain)
ax_w.legend(loc="lower right")
plt.show()

# %% [markdown]
# **Figure 1.2.** Left: the histogram of the 500 samples, read against the bottom
# axis for the set with standard deviation 100 and against the top axis for the set with
# standard deviation 1; the shapes are identical. Right: the softmax of each set, on a
# logarithmic scale. With standard deviation 100 one sample takes essentially all the
# weight, a single spike to 1, and every other weight lies below the bottom of the
# axis. With standard deviation 1 every sample gets a modest share: the weights form a
# band, with no single sample standing out.

# %% tags=["remove-input"]
def items_for_mass(w: np.ndarray, mass: float = 0.9) -> int:
    """How many of the largest weights it takes to reach `mass` of the total."""
    return int(np.searchsorted(np.cumsum(np.sort(w)[::-1]), mass) + 1)


top_two = np.sort(samples_100)[-2:]
Markdown(
    f"With standard deviation 100 the largest weight is "
    f"$1 - {tex_sci(1 - weights_100.max())}$ and the runner-up gets "
    f"${tex_sci(np.sort(weights_100)[-2])}$. The reason is the gap: the largest "
    f"sample beats the runner-up by {top_two[1] - top_two[0]:.1f}, and a gap of $\\Delta z$ costs "
    f"a factor $e^{{-\\Delta z}}$. With standard deviation 1 the same gap is "
    f"{(top_two[1] - top_two[0]) / 100:.2f}, the weights range only from "
    f"${tex_sci(weights_1.min())}$ to {weights_1.max():.4f}, and it takes the {items_for_mass(weights_1)} largest weights "
    f"(against {items_for_mass(weights_100)} for the other set) to account for 90% of the "
    f"total. Measured by entropy, the spread distribution behaves like a uniform one over "
    f"$e^{{H}} \\approx {np.exp(attention.entropy(weights_1)):.0f}$ items, the spike like "
    f"one over {np.exp(attention.entropy(weights_100)):.2f}."
)

# %% [markdown]
# Why does the book care? In attention the scores are dot products of vectors, and the
# spread of a dot product grows with the length of the vectors: for vectors with $d$
# independent components of variance 1 its standard deviation is $\sqrt{d}$. With large
# $d$, unscaled scores behave like the set with standard deviation 100, and attention
# collapses onto a single item. Worse, as the next section measures, it then stops
# learning. Dividing the scores by $\sqrt{d}$ brings their standard deviation back to 1;
# that is the "scaled" in
# [scaled dot-product attention](05_scaled_dot_product_attention.py).
#
# ## The gradient of softmax
#
# To learn, a network needs the derivative of each weight $\alpha_i$ with respect to each
# score $z_j$. Write $Z = \sum_l e^{z_l}$ for the denominator, so that
# $\alpha_i = e^{z_i} / Z$ and $\partial Z / \partial z_j = e^{z_j}$. The quotient rule gives
#
# $$
# \frac{\partial \alpha_i}{\partial z_j}
# = \frac{\delta_{ij}\, e^{z_i} Z - e^{z_i} e^{z_j}}{Z^2}
# = \alpha_i\,(\delta_{ij} - \alpha_j),
# $$
#
# where $\delta_{ij}$ is 1 if $i = j$ and 0 otherwise. As a matrix, the Jacobian is
#
# $$
# J = \operatorname{diag}(\alpha) - \alpha\, \alpha^\top .
# $$
#
# Three facts can be read off it. It is symmetric. Each row sums to zero, since
# $J \mathbf{1} = \alpha - \alpha\,(\alpha^\top \mathbf{1}) = \alpha - \alpha = 0$: moving every score by the same
# amount changes nothing, so no gradient points that way. And every diagonal entry is
# $\alpha_i (1 - \alpha_i) \le 1/4$. `attention.softmax_jacobian` builds $J$ from this formula; we
# check it against PyTorch's automatic differentiation, which knows nothing of it:

# %%
z = rng.normal(size=5)
jac = attention.softmax_jacobian(z)
jac_torch = torch.autograd.functional.jacobian(
    lambda t: torch.softmax(t, dim=0), torch.from_numpy(z)
).numpy()
print("J =\n", jac)
print(f"max |J - J_autograd| = {np.abs(jac - jac_torch).max():.1e}")
print("row sums:", jac.sum(axis=1))

# %% [markdown]
# Now suppose the softmax has saturated: one weight $\alpha_l$ is close to 1 and the others
# are close to 0. Every entry of $J$ is then a product with a small factor: off the
# diagonal $-\alpha_i \alpha_j$ always involves a weight near 0, and on the diagonal
# $\alpha_i (1 - \alpha_i)$ is small both for the weights near 0 and for the one near 1. In
# the limit of a one-hot $\alpha$ ($\alpha_l = 1$, every other weight 0), each entry
# $\alpha_i (\delta_{ij} - \alpha_j)$ is 0, so $J = 0$. Whatever gradient
# $g = \partial \mathcal{L} / \partial \alpha$ of a loss $\mathcal{L}$ arrives from later in
# the network, the scores receive $\partial \mathcal{L} / \partial z = J g \approx 0$: they get no signal to
# change, however wrong the choice.
#
# (Classification with a cross-entropy loss escapes this, because the loss takes the
# logarithm of the weight and the combined gradient is $\alpha - y$, with $y$ the one-hot label, which stays large when
# the prediction is wrong. Attention has no such logarithm: its weights multiply value
# vectors, and the gradient reaches the scores only through $J$.)
#
# To see how fast the gradient disappears, draw 50 random score vectors $z$ of 16
# entries each, multiply them by a scale $c$ from 0.1 to 100, and measure at each scale:
# the spectral norm $\lVert J \rVert_2$, the largest factor by which the softmax can pass
# on any incoming gradient, computed from `attention.softmax_jacobian`; with PyTorch's
# autograd, the norm of $\partial \mathcal{L} / \partial z$ for the loss
# $\mathcal{L} = g^\top \operatorname{softmax}(c z)$ with a random $g$, standing in for the
# gradient that would come back from the values; and, as a measure of saturation, how far
# the largest weight is from 1. The figure shows the median over the 50 vectors.

# %%
n_vectors, n_keys = 50, 16
base_scores = rng.normal(size=(n_vectors, n_keys))
upstream = torch.from_numpy(rng.normal(size=(n_vectors, n_keys)))
scales = np.logspace(-1, 2, 31)

# One row per scale, one column per score vector.
spectral = np.empty((scales.size, n_vectors))
autograd_norm = np.empty((scales.size, n_vectors))
unsaturated = np.empty((scales.size, n_vectors))  # 1 - largest weight
for i, c in enumerate(scales):
    scaled = c * base_scores
    # 1 - largest weight, as the sum of the other weights (1 - max rounds to 0)
    weights_c = np.sort(attention.softmax(scaled), axis=-1)
    unsaturated[i] = weights_c[:, :-1].sum(axis=-1)
    jacobians = np.array([attention.softmax_jacobian(z) for z in scaled])
    spectral[i] = np.linalg.norm(jacobians, ord=2, axis=(-2, -1))
    logits_t = torch.tensor(scaled, requires_grad=True)
    loss = (torch.softmax(logits_t, dim=-1) * upstream).sum()
    loss.backward()  # the loss of row k depends on row k only
    autograd_norm[i] = logits_t.grad.norm(dim=-1).numpy()

# %% tags=["fold"]
fig, ax = plt.subplots()
median = lambda a: np.median(a, axis=1)  # over the score vectors
ax.plot(scales, median(spectral), label="norm of J (NumPy)")
ax.plot(scales, median(autograd_norm), "--", label=r"norm of $\partial\mathcal{L}/\partial z$ (autograd)")
low, high = np.percentile(autograd_norm, [10, 90], axis=1)
ax.fill_between(
    scales, low, high, color=COLORS[1], alpha=0.2, linewidth=0,
    label=r"$\partial\mathcal{L}/\partial z$, 10% to 90%",
)
ax.plot(scales, median(unsaturated), ":", label="1 - largest weight")
# The band's lower edge goes on far below the bottom of the axis.
ax.set(xscale="log", yscale="log", ylim=(1e-20, 2),
       yticks=[1e-20, 1e-16, 1e-12, 1e-8, 1e-4, 1],
       xlabel="scale c (log scale)", ylabel="value (log scale)")
ax.minorticks_off()
ax.xaxis.set_major_formatter(plain)
ax.yaxis.set_major_formatter(plain)
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# **Figure 1.3.** Medians over 50 random score vectors, each multiplied by the scale
# $c$. As the scores are scaled up, the softmax saturates: the dotted line, one minus
# the largest weight, falls towards 0. Over the same range the gradient that reaches the
# scores first grows a little, then collapses by many orders of magnitude, in step with
# the saturation. The two gradient measures, the spectral norm of $J$ from the formula
# and the norm of $\partial \mathcal{L} / \partial z$ from autograd, fall together. The shaded band,
# the middle 80% of the vectors, shows how much they differ from one another.

# %% tags=["remove-input"]
median_spectral = np.median(spectral, axis=1)
median_autograd = np.median(autograd_norm, axis=1)
peak = median_spectral.argmax()
collapse = median_spectral[peak] / median_spectral[-1]
Markdown(
    f"At $c = {scales[0]:g}$ the weights are nearly uniform and the median "
    f"$\\lVert J \\rVert_2$ is {median_spectral[0]:.3f}, close to the "
    f"$1/n = {1 / n_keys:.4f}$ of an exactly uniform softmax. It peaks at "
    f"{median_spectral[peak]:.2f} near $c = {scales[peak]:.1f}$, where a few items compete "
    f"for the weight: that is where the softmax is most sensitive to its scores. (It can "
    f"never exceed $1/2$, the value for two items sharing the weight equally.) By "
    f"$c = {scales[-1]:g}$ the median largest weight is "
    f"$1 - {tex_sci(np.median(unsaturated[-1]))}$, the spectral norm has fallen to "
    f"${tex_sci(median_spectral[-1])}$ and the autograd gradient to "
    f"${tex_sci(median_autograd[-1])}$, a factor of about ${tex_sci(collapse, 0)}$ below "
    f"the peak. A gradient-descent step scaled by that is no step at all. How fast one "
    f"particular vector saturates depends on the gap $\\Delta z$ between its two largest scores: "
    f"once $c\\, \\Delta z$ is more than a few units, $1 - \\alpha_{{\\max}}$ and the gradient shrink "
    f"roughly like $e^{{-c\\, \\Delta z}}$. Vectors whose two best scores happen to be close stay "
    f"unsaturated for longer, which is the top of the band."
)

# %% [markdown]
# ## NumPy and PyTorch agree
#
# The book teaches with `attention.softmax` in NumPy, because every step is visible,
# and builds models with PyTorch. They must compute the same thing. Here they are on a
# batch of scores of shape $(4, 6, 8)$, normalizing along each axis in turn, in float64
# and in float32:

# %%
batch = rng.normal(scale=10.0, size=(4, 6, 8))
for axis in range(batch.ndim):
    for x in [batch, batch.astype(np.float32)]:
        ours = attention.softmax(x, axis=axis)
        theirs = torch.softmax(torch.from_numpy(x), dim=axis).numpy()
        diff = np.abs(ours - theirs).max()
        print(f"axis {axis}, {x.dtype}: max |numpy - torch| = {diff:.1e}")

for size in [2, 5, 16, 64]:
    v = rng.normal(scale=3.0, size=size)
    jac_t = torch.autograd.functional.jacobian(
        lambda t: torch.softmax(t, dim=0), torch.from_numpy(v)
    ).numpy()
    diff = np.abs(attention.softmax_jacobian(v) - jac_t).max()
    print(f"Jacobian of size {size}: max |numpy - autograd| = {diff:.1e}")

# %% [markdown]
# The differences are at the level of rounding error. In PyTorch, softmax is spelled
# `torch.softmax(x, dim=-1)`, `torch.nn.functional.softmax(x, dim=-1)` or, as a layer,
# `torch.nn.Softmax(dim=-1)`; always name `dim`, the axis the weights should sum to one
# along. (Code found online sometimes calls `tf.nn.softmax`, TensorFlow's function, in
# the middle of PyTorch code; the code on this page runs as it stands.)
#
# ## From softmax to attention
#
# Attention, in the form the next chapter introduces, has a *query* (what we are looking
# for), $n$ *keys* (what each item offers to be matched against) and $n$ *values* (what
# each item contributes). It scores the query against each key, turns the scores into
# weights with softmax, and returns the weighted average of the values:
#
# $$
# \alpha = \operatorname{softmax}(z), \qquad
# z_i = \operatorname{score}(q, k_i), \qquad
# \text{output} = \sum_{i=1}^{n} \alpha_i\, v_i .
# $$
#
# Everything in this chapter carries over. Because the weights are a probability
# distribution, the output is an average of the values. Because softmax sharpens, the
# best-matching keys dominate. The scale of the scores, like a temperature, decides
# between attending to one item and blurring over all of them; and when it picks one
# item too confidently, the gradient that would teach the scores vanishes.
# [Chapter 2](02_queries_keys_values.py) starts from queries, keys and values.
#
# ## Summary

# %% tags=["remove-input"]
Markdown(
    f"""
- Softmax maps any real scores to non-negative weights that sum to one:
  $e^{{z_i}} / \\sum_j e^{{z_j}}$.
- It depends only on the differences between scores; a gap of $\\Delta z$ means a weight ratio
  of $e^{{\\Delta z}}$. It sharpens, and it is a smooth, differentiable stand-in for argmax.
- Computed naively it returns NaN once a logit passes {limit64:.0f} in float64 or
  {limit32:.0f} in float32. Subtracting the maximum first fixes this at no cost.
- Temperature, or equivalently the spread of the scores, moves it between one-hot
  (low temperature, large spread) and uniform (high temperature, small spread).
- Its Jacobian is $\\operatorname{{diag}}(\\alpha) - \\alpha \\alpha^\\top$. When the softmax saturates,
  the Jacobian and every gradient through it vanish: in Figure 1.3 the median norm of
  the Jacobian fell by a factor of ${tex_sci(collapse, 0)}$ from its peak. This is why
  attention scales its scores.
"""
)

# %% [markdown]
# ## Exercises
#
# 1. For the six logits of Figure 1.1, find the temperature at which the largest weight
#    is exactly 0.5, to four decimal places. (Figure 1.1 shows that the largest weight only
#    falls as $\tau$ grows, so bisection works.)

# %% tags=["solution"]
# Exercise 1: bisection on the temperature. The largest weight falls as T grows.
target = 0.5
low, high = 0.01, 100.0  # largest weight: above 0.5 at `low`, below at `high`
for _ in range(60):
    middle = np.sqrt(low * high)  # bisect on a log scale: T spans four decades
    if attention.softmax_with_temperature(logits, middle).max() > target:
        low = middle
    else:
        high = middle
largest_at_t = attention.softmax_with_temperature(logits, middle).max()
print(f"τ = {middle:.4f}, largest weight = {largest_at_t:.6f}")

# %% [markdown]
# 2. Backpropagation through softmax never needs the $n \times n$ Jacobian. Show that
#    $J g = \alpha \odot (g - (\alpha^\top g)\,\mathbf{1})$, where $\odot$ is the element-wise
#    product, check it against PyTorch's autograd for a random $z$ and $g$, and count the
#    operations of each way.

# %% tags=["solution"]
# Exercise 2: J g without the Jacobian.
# (J g)_i = sum_j alpha_i (delta_ij - alpha_j) g_j = alpha_i g_i - alpha_i (alpha . g),
# so J g = alpha * (g - alpha . g), with O(n) work instead of O(n^2).
# (Here s holds alpha.)
z = rng.normal(size=8)
g = rng.normal(size=8)
s = attention.softmax(z)
fast = s * (g - s @ g)
via_matrix = attention.softmax_jacobian(z) @ g

z_t = torch.tensor(z, requires_grad=True)
(torch.softmax(z_t, dim=0) * torch.from_numpy(g)).sum().backward()
print(f"max |fast - J g|      = {np.abs(fast - via_matrix).max():.1e}")
print(f"max |fast - autograd| = {np.abs(fast - z_t.grad.numpy()).max():.1e}")
# Building J costs about n^2 operations and J @ g about 2 n^2 more; the fast form
# costs about 4 n: a dot product (2 n), a subtraction and a multiplication.

# %% [markdown]
# 3. `np.log(attention.softmax(z))` returns `-inf` for the second entry of
#    $z = (0, -800)$, whose true value is $-800$. Write a log-softmax that does not, using
#    $\log \operatorname{softmax}(z)_i = z_i - m - \log \sum_j e^{z_j - m}$, and compare it
#    with `torch.log_softmax`.

# %% tags=["solution"]
# Exercise 3: a stable log-softmax. Never exponentiate and then take the log.
z = np.array([0.0, -800.0])
with np.errstate(divide="ignore"):
    print("np.log(softmax(z))   =", np.log(attention.softmax(z)))
m = z.max()
log_softmax = z - m - np.log(np.exp(z - m).sum())
print("stable log-softmax   =", log_softmax)
print("torch.log_softmax    =", torch.log_softmax(torch.tensor(z), 0).numpy())

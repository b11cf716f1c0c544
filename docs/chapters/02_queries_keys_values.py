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
# # Queries, keys and values
#
# Every attention mechanism in this book, from the first one used for machine
# translation to the multi-head attention inside a Transformer, computes the same
# thing: a weighted average of some vectors, with the weights chosen by how well
# each vector matches what we are looking for. This chapter builds that idea from
# the ground up. We start with why a model needs attention at all, name the three
# roles (query, key and value), and then meet the oldest attention mechanism there
# is: Nadaraya–Watson kernel regression, a statistics method from 1964 that is
# attention pooling with nothing learned. We run it on a small data set, watch what
# its one knob, the bandwidth, does, look at its attention weights, and end with
# the shape rules that every later chapter relies on.

# %%
import numpy as np
import matplotlib.pyplot as plt
from IPython.display import Markdown

import attention
from attention.book.prose import tex_sci
from attention.book.plotting import use_book_style, COLORS

use_book_style()
np.set_printoptions(precision=3, suppress=True)
rng = np.random.default_rng(0)  # fixed seed: the same numbers every build

# %% [markdown]
# ## Why attention at all
#
# Picture a desk with a red cup, a gray notebook, a gray folder and a gray book on
# it. Your eye goes to the cup first. Nothing about you made that happen: the cup
# stands out on its own, because its color differs from everything around it.
# Psychologists call this a *non-volitional* cue. The cue lives in the object.
#
# Now suppose you want to read. You scan the same desk and your gaze settles on the
# book, even though the book is as gray as the notebook and the folder. This time
# the cue is *volitional*: it lives in you, in what you are looking for. The same
# scene, looked at with a different goal, puts the focus somewhere else.
#
# A neural network faces the same problem whenever it has more input than it can
# use at once: a translation model producing one word of output while the whole
# source sentence is available, or a language model predicting the next word
# from everything before it. Non-volitional selection is easy to build: score every
# input on its own and keep the high scorers. But the useful choice usually
# depends on the current goal, as the book depends on wanting to read. Attention
# mechanisms build in the volitional cue explicitly: they give the model a
# *query*, a description of what it is looking for right now, and let the query
# decide where to look.

# %% [markdown]
# ## Queries, keys and values
#
# Three roles make this precise.
#
# - The **query** $q$ is what we are looking for: "something to read".
# - Each item $i$ offers a **key** $k_i$, the thing the query is matched against:
#   the book's cover, the cup's shape and color.
# - Each item also holds a **value** $v_i$, what we take away once we decide to
#   attend to it: the text of the book.
#
# Keys and values come in pairs, one of each per item, but they need not be the
# same thing. A library catalog is a good picture: you match your question
# against the index cards (keys), and what you carry home is the books (values).
#
# Attention does not pick one item and discard the rest. It takes a *weighted
# average* of all the values, with more weight on the items whose keys match the
# query better. This is **attention pooling**:
#
# $$f(q) = \sum_{i=1}^{n} \alpha(q, k_i)\, v_i,
# \qquad \alpha(q, k_i) \ge 0,
# \qquad \sum_{i=1}^{n} \alpha(q, k_i) = 1.$$
#
# The $\alpha(q, k_i)$ are the **attention weights**. Two properties make them a
# sensible choice. Because they are non-negative and sum to 1, $f(q)$ is a convex
# combination of the values: it lies between the smallest and the largest value
# in every coordinate, on the same scale as the values whatever $n$ is. And because
# a weighted average is a smooth function of its weights, a model can learn *where*
# to look by gradient descent, which a hard "pick the best item" could not offer.
#
# Where do the weights come from? Almost always from a **score** $a(q, k_i)$ that
# says how well the query and the key match, turned into weights by a softmax, the
# function [Chapter 1](01_softmax.py) studied:
#
# $$\alpha(q, k_i) = \operatorname{softmax}_i\big(a(q, k_i)\big)
# = \frac{\exp a(q, k_i)}{\sum_{j=1}^{n} \exp a(q, k_j)}.$$
#
# The softmax guarantees both properties whatever the scores are. The whole history
# of attention that this book tells is, to a large extent, a history of better
# score functions $a$. Before we get there, let's see attention pooling do a job on
# a problem small enough to plot.

# %% [markdown]
# ## A small regression problem
#
# The package makes a data set for us: 40 noisy samples of a curve on
# $[0, 5]$. The curve, `attention.target_function`, is
# $y = 2 \sin x + 0.8\, x$; the noise is Gaussian with standard deviation 0.3.
# The task is regression: given the 40 training pairs $(x_i, y_i)$, predict $y$ at
# new inputs $x$.

# %%
x_train, y_train = attention.make_regression_data(
    num_points=40, noise=0.3, seed=0
)
x_test = np.linspace(0.0, 5.0, 40)  # where we predict: the queries
y_true = attention.target_function(x_test)  # noise-free, for comparison
print("training inputs:", x_train.shape, " targets:", y_train.shape)
print("test inputs:    ", x_test.shape)

# %% [markdown]
# In the language of attention, each test input is a **query**, each training
# input is a **key**, and the training target that goes with it is the **value**.
# To predict at $x$ we look for training points whose input is like $x$ and take
# away their targets. Key and value are clearly different things here: we match on
# $x_i$ but average the $y_i$.

# %% [markdown]
# ## Average pooling: ignoring the query
#
# The simplest attention pooling gives every item the same weight, $1/n$, and so
# predicts the mean of the values everywhere:
#
# $$f(x) = \frac{1}{n} \sum_{i=1}^{n} y_i.$$
#
# `attention.average_pooling` does this, with the same inputs and outputs as the
# real attention we build next, so that the two can be swapped.

# %%
avg_pred, avg_weights = attention.average_pooling(x_test, x_train, y_train)
print("weights:", avg_weights.shape, " row 0 starts", avg_weights[0, :4])
print("predictions start", avg_pred[:4])

fig, ax = plt.subplots()
ax.plot(x_train, y_train, "o", markersize=3, label="training data")
ax.plot(x_test, y_true, "--", color=COLORS[1], label="true curve")
ax.plot(x_test, avg_pred, color=COLORS[2], label="average pooling")
ax.set_xlabel("input $x$")
ax.set_ylabel("target $y$")
ax.legend(loc="lower right")
plt.show()

# %% tags=["remove-input"]
avg_mse = np.mean((avg_pred - y_true) ** 2)
Markdown(
    f"**Figure 2.1.** Average pooling predicts the same number, the mean of "
    f"the training targets ({y_train.mean():.2f}), at every input: the flat "
    f"line misses the rise and the fall of the curve entirely."
)

# %% tags=["remove-input"]
Markdown(
    f"Every weight is $1/{len(x_train)} = {avg_weights[0, 0]:.3f}$, for every "
    f"query. The mean squared error against the true curve is {avg_mse:.2f}. "
    f"The prediction is bad for an obvious reason: the weights do not depend "
    f"on the query. Asking about $x = 0.5$ and about $x = 4.5$ gets the same "
    f"answer, because nothing in the computation looks at what was asked. "
    f"This is attention with no cue at all, volitional or not: every item "
    f"looks equally important."
)

# %% [markdown]
# ## Nadaraya–Watson: weights from similarity
#
# In 1964 [Elizbar Nadaraya](../reference/references.md#nadaraya1964) and [Geoffrey Watson](../reference/references.md#watson1964)
# independently proposed the fix:
# weigh each training point by how close its input is to the query. Closeness is
# measured by a **kernel** $\kappa$, a function that is large near 0 and falls off with
# distance. With a **bandwidth** $\sigma > 0$ that sets the length scale of "close"
# (for the Gaussian kernel below, the standard deviation), the prediction is
#
# $$f(x) = \sum_{i=1}^{n}
# \frac{\kappa\!\left(\frac{x - x_i}{\sigma}\right)}{\sum_{j=1}^{n} \kappa\!\left(\frac{x - x_j}{\sigma}\right)}\, y_i.$$
#
# This is attention pooling: the fraction is $\alpha(x, x_i)$, non-negative because
# $\kappa$ is, and summing to 1 over $i$ because we divide by the total. The query
# finally matters.
#
# The usual kernel is the Gaussian,
# $\kappa(u) = \frac{1}{\sqrt{2\pi}} \exp\left(-\frac{u^2}{2}\right)$. Put it in the
# weights. The constant $\frac{1}{\sqrt{2\pi}}$ appears above and below the fraction
# and cancels, leaving
#
# $$\alpha(x, x_i)
# = \frac{\exp\left(-\frac{(x - x_i)^2}{2\sigma^2}\right)}{\sum_{j=1}^{n} \exp\left(-\frac{(x - x_j)^2}{2\sigma^2}\right)}
# = \operatorname{softmax}_i\left(-\frac{(x - x_i)^2}{2\sigma^2}\right).$$
#
# The second equality is the definition of softmax from
# [Chapter 1](01_softmax.py), read backwards: exponentiate each score and divide
# by the sum. So Gaussian kernel regression is attention with the score
# $a(x, x_i) = -(x - x_i)^2 / 2\sigma^2$, a negative squared distance: the nearest
# training point gets the highest score and the largest weight. The bandwidth plays the role of the softmax
# temperature from Chapter 1: the scores are $-(x - x_i)^2/2$ divided by a
# temperature $\sigma^2$. A small $\sigma$ stretches the differences between scores and
# makes the weights peaked; a large $\sigma$ shrinks them and makes the weights even.
#
# The package computes the scores with `attention.squared_distances`, the weights
# with `attention.gaussian_kernel_weights`, and the prediction with
# `attention.nadaraya_watson`, which returns the weights too. Here is how one query,
# $x = 2.5$, spreads its weight over the 40 training points for three bandwidths.

# %%
query = 2.5
for h in [0.1, 0.3, 1.0]:
    w = attention.gaussian_kernel_weights([query], x_train, bandwidth=h)
    w = w[0]  # (1, 40) -> (40,): one query's weights over the 40 keys
    largest_first = np.sort(w)[::-1]
    top_90 = np.searchsorted(np.cumsum(largest_first), 0.9) + 1
    print(f"σ = {h}: sum {w.sum():.3f}, largest {largest_first[0]:.3f} "
          f"(x_i = {x_train[w.argmax()]:.2f}), 90% of it on {top_90} keys")

# %% [markdown]
# The weights always sum to 1, so they can only be *redistributed*: a small
# bandwidth piles them onto the few training inputs next to the query, a large one
# spreads them thinly over most of the data. The query, through the scores,
# decides where the pile sits; the bandwidth decides how wide it is. Now the
# predictions.

# %% [markdown]
# ## The bandwidth decides what "similar" means
#
# We predict at the test inputs with three bandwidths: one much smaller than the
# typical gap between training inputs, one moderate, one larger than the wiggles
# of the curve.

# %%
bandwidths = [0.02, 0.3, 2.0]
fig, axes = plt.subplots(
    1, 3, figsize=(8, 3.2), layout="constrained", sharey=True
)
for ax, h in zip(axes, bandwidths):
    pred, _ = attention.nadaraya_watson(x_test, x_train, y_train, h)
    ax.plot(x_train, y_train, "o", markersize=3, label="training data")
    ax.plot(x_test, y_true, "--", color=COLORS[1], label="true curve")
    ax.plot(x_test, pred, color=COLORS[2], label="prediction")
    ax.set_title(f"$\\sigma = {h}$")
    ax.set_xlabel("input $x$")
axes[0].set_ylabel("target $y$")
fig.legend(*axes[0].get_legend_handles_labels(),
           loc="outside upper center", ncols=3)
plt.show()

# %% [markdown]
# **Figure 2.2.** With a tiny bandwidth (left) the prediction jumps from one
# training target to the next and copies the noise; with a moderate one (middle)
# it follows the true curve; with a large one (right) it flattens towards the mean,
# back towards average pooling.
#
# Both extremes follow from the formula. As $\sigma \to \infty$ every score
# $-(x - x_i)^2 / 2\sigma^2$ goes to 0, the softmax of equal scores is uniform, and we
# are back to average pooling. As $\sigma \to 0$ the nearest training point's score
# beats every other by a margin that grows like $1/\sigma^2$, its weight goes to 1, and
# the prediction becomes "copy the target of the nearest training input". At a
# training input the nearest training input is that input itself, so the prediction
# reproduces the training target, noise included. The training error therefore goes
# to 0 as $\sigma$ shrinks. The table shows it, next to the error against the true
# curve, which is what we actually care about.

# %%
table_bandwidths = [2.0, 1.0, 0.3, 0.1, 0.03, 0.01, 1e-3, 1e-4]
train_mse, true_mse = [], []
print(f"{'σ':>8} {'training MSE':>14} {'MSE vs true curve':>19}")
for h in table_bandwidths:
    fit, _ = attention.nadaraya_watson(x_train, x_train, y_train, h)
    pred, _ = attention.nadaraya_watson(x_test, x_train, y_train, h)
    train_mse.append(np.mean((fit - y_train) ** 2))
    true_mse.append(np.mean((pred - y_true) ** 2))
    print(f"{h:>8g} {train_mse[-1]:>14.2e} {true_mse[-1]:>19.3f}")

# %% tags=["remove-input"]
best = int(np.argmin(true_mse))
min_gap = np.diff(x_train).min()
hs = table_bandwidths
Markdown(
    f"The training error falls steadily, from {train_mse[0]:.2f} at "
    f"$\\sigma = {hs[0]:g}$ to ${tex_sci(train_mse[-1])}$ at $\\sigma = {hs[-1]:g}$, "
    f"which is 0 up to rounding. It needs a very small $\\sigma$ to get there "
    f"because two of our training inputs are only {min_gap:.4f} apart: until "
    f"$\\sigma$ is well below that gap, each of the two shares its weight with the "
    f"other. The error against the true curve tells a different story. "
    f"Among the bandwidths in the table it is smallest, "
    f"{true_mse[best]:.3f}, at $\\sigma = {hs[best]:g}$, and it grows on both "
    f"sides: a large $\\sigma$ averages away the shape of the curve, a small one "
    f"memorizes the noise (its error levels off at {true_mse[-1]:.3f}, the "
    f"error of copying the nearest noisy target). A perfect fit to the "
    f"training data is no evidence of a good model; the first exercise below "
    f"picks $\\sigma$ without looking at the true curve."
)

# %% [markdown]
# Try it yourself. The next cell fits the curve with `attention.nadaraya_watson` for
# 21 bandwidths, evenly spaced in $\log_{10} \sigma$ from $-1.5$ to $0.5$, and keeps the
# weights of one query, $x = 2.5$, over the 40 training inputs; the figure under it
# shows the frame the slider picks.

# %%
import altair as alt
from attention.book.interactive import interactive_figure

x_grid = np.linspace(0.0, 5.0, 51)  # where the curve is drawn
log_sigmas = np.round(np.arange(-1.5, 0.5001, 0.1), 1)
frames = []
for log_sigma in log_sigmas:
    sigma = 10.0**log_sigma
    curve, _ = attention.nadaraya_watson(x_grid, x_train, y_train, sigma)  # (51,)
    pred_q, w_q = attention.nadaraya_watson([query], x_train, y_train, sigma)  # (1,), (1, 40)
    frames.append({
        "log_sigma": float(log_sigma),  # the slider's value picks this frame
        "curve": [round(float(v), 3) for v in curve],
        "weight": [round(float(v), 4) for v in w_q[0]],
        "readout": f"σ = {sigma:.3g} · f({query}) = {pred_q[0]:.2f} · "
                   f"largest weight {w_q.max():.2f}",
    })

# %% tags=["fold"]
slider = alt.param(name="log_sigma", value=-0.5, bind=alt.binding_range(
    min=-1.5, max=0.5, step=0.1, name="bandwidth, log10 σ "))
frame = alt.Chart().transform_filter("abs(datum.log_sigma - log_sigma) < 1e-6")
x_axis = alt.X("x:Q", title="input x", scale=alt.Scale(domain=[0, 5]))
points = alt.Chart(alt.Data(values=[
    {"x": round(float(a), 3), "y": round(float(b), 3)} for a, b in zip(x_train, y_train)
])).mark_circle(size=18, opacity=0.6).encode(
    x=x_axis, y=alt.Y("y:Q", title="target y", scale=alt.Scale(domain=[-1, 4.75])))
curve = frame.transform_calculate(x=str(x_grid.round(2).tolist())).transform_flatten(
    ["x", "curve"]).mark_line(color=COLORS[2], strokeWidth=2).encode(x=x_axis, y="curve:Q")
weights_q = frame.transform_calculate(x=str(x_train.round(3).tolist())).transform_flatten(
    ["x", "weight"]).mark_bar(width=3, color=COLORS[1], opacity=0.8).encode(
    x=x_axis, y=alt.Y("weight:Q", title=f"weight of the query x = {query}",
                      scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(orient="right", grid=False)),
    tooltip=[alt.Tooltip("x:Q", format=".2f"), alt.Tooltip("weight:Q", format=".4f")])
marker = alt.Chart(alt.Data(values=[{"x": query}])).mark_rule(
    strokeDash=[4, 3], opacity=0.5).encode(x=x_axis)
readout = frame.mark_text(align="left", baseline="top", x=4, y=4,
                          fontSize=13).encode(text="readout:N")
interactive_figure(
    alt.layer(alt.layer(points, curve, marker), weights_q, readout, data=alt.Data(values=frames))
    .resolve_scale(y="independent").add_params(slider)
    .properties(width="container", height=260),
    "Nadaraya–Watson regression at the bandwidth the slider sets: the fitted curve over "
    "the training data, and the weights of the query x = 2.5 over the training inputs.",
)

# %% [markdown]
# **Interactive figure 2.1.** Move the bandwidth slider (or focus it and use the arrow
# keys). The line is the prediction, the bars are how the query $x = 2.5$ (dashed) spreads
# its weight over the training inputs, on the right-hand axis. At the far left the bars
# collapse onto the nearest training input and the curve jumps from one noisy target to
# the next; at the far right the bars are low and wide and the curve flattens towards the
# mean of the targets. The readout gives the prediction at $x = 2.5$ and the largest weight.

# %% [markdown]
# ## Attention weights as a heatmap
#
# For all queries at once the weights form a matrix with one row per query and one
# column per key; each row is a probability distribution. With the queries (test
# inputs) and the keys (training inputs) both sorted, a query puts its weight on
# keys near it, so the large entries line up along the diagonal.
# `attention.plot_attention_weights` draws such a matrix; here are two bandwidths
# side by side.

# %%
heatmap_bandwidths = [0.1, 0.5]
weights = np.stack([
    attention.gaussian_kernel_weights(x_test, x_train, bandwidth=h)
    for h in heatmap_bandwidths
])  # (2 bandwidths, 40 queries, 40 keys)
fig = attention.plot_attention_weights(
    weights,
    titles=[f"$\\sigma = {h}$" for h in heatmap_bandwidths],
    cell_size=0.07,  # 40 x 40 cells: keep each panel small
)
ticks = [0, 10, 20, 30, 39]  # label a few rows and columns by input
for ax in fig.axes[:2]:
    ax.set_xticks(ticks, [f"{x_train[i]:.1f}" for i in ticks])
    ax.set_yticks(ticks, [f"{x_test[i]:.1f}" for i in ticks])
    ax.set_xlabel("training input (key)")
fig.axes[0].set_ylabel("test input (query)")
plt.show()

# %% tags=["remove-input"]
row_max = weights.max(axis=-1).mean(axis=-1)  # mean largest weight of a row
h_small, h_large = heatmap_bandwidths
Markdown(
    f"**Figure 2.3.** Each row is one query's weights over the 40 keys. The "
    f"weight sits in a band along the diagonal: each test input attends to "
    f"the training inputs next to it. The band is narrow and bright for "
    f"$\\sigma = {h_small}$ (on average the largest weight in a row is "
    f"{row_max[0]:.2f}) and wide and dim for $\\sigma = {h_large}$ "
    f"({row_max[1]:.2f}); the two panels share one color scale. The tick "
    f"labels show the inputs: the keys are not evenly spaced, so the band "
    f"is not perfectly straight."
)

# %% [markdown]
# Nothing in Nadaraya–Watson regression is learned from data: the weights are fixed
# by the kernel and by one number, $\sigma$. It is attention in which the query and the
# keys are compared by a rule we wrote down. The rest of the book replaces that rule
# with learned ones.

# %% [markdown]
# ## Shapes: a worked example
#
# Kernel regression has one-number queries, keys and values. Real attention uses
# vectors, and getting the shapes right is most of the work of implementing it. Take
# one query of dimension 8, five keys of dimension 8, and five values of dimension
# 10. For scores we use the plain dot product $a(q, k_i) = q \cdot k_i$, which is
# large when the two vectors point the same way; [Chapter 4](04_dot_product_attention.py)
# and [Chapter 5](05_scaled_dot_product_attention.py) look at dot-product scores
# properly, including why they need scaling.

# %%
q = rng.normal(size=(1, 8))  # one query of dimension 8
K = rng.normal(size=(5, 8))  # five keys of dimension 8
V = rng.normal(size=(5, 10))  # five values of dimension 10

scores = q @ K.T  # (1, 8) @ (8, 5) -> (1, 5): one score per key
alpha = attention.softmax(scores, axis=-1)  # (1, 5): sums to 1 over keys
out = attention.attention_pooling(alpha, V)  # (1, 5) @ (5, 10) -> (1, 10)

print("scores :", scores.shape, scores)
print("weights:", alpha.shape, alpha, f" sum: {alpha.sum():.4f}")
print("output :", out.shape)

# %% [markdown]
# The scores are compared across keys, so the softmax runs along the last axis,
# the key axis. The output has the size of a value, not of a query or a key: it is
# a mix of values. With three queries nothing changes but the first dimension:

# %%
Q = rng.normal(size=(3, 8))  # three queries of dimension 8
alpha = attention.softmax(Q @ K.T, axis=-1)  # (3, 5): one row per query
out = attention.attention_pooling(alpha, V)  # (3, 10): one output per query
print("weights:", alpha.shape, " row sums:", alpha.sum(axis=-1))
print("output :", out.shape)

# %% [markdown]
# Written with $n_q$ queries, $n_k$ key–value pairs, query and key size $d_k$ and
# value size $d_v$:
#
# $$\underbrace{Q}_{n_q \times d_k}\ \underbrace{K^\top}_{d_k \times n_k}
# = \underbrace{S}_{n_q \times n_k}, \qquad
# \underbrace{\operatorname{softmax}(S)}_{n_q \times n_k}\ \underbrace{V}_{n_k \times d_v}
# = \underbrace{O}_{n_q \times d_v}.$$
#
# Four rules follow, and they hold for every attention mechanism in this book.
#
# 1. **As many keys as values.** Keys and values come in pairs: the weight computed
#    from key $i$ multiplies value $i$. In practice both are usually computed from
#    the same items, which is why their counts agree.
# 2. **Query and key of equal size, for dot-product scores.** A dot product needs
#    two vectors of the same length. (Kernel regression needs the same, to measure
#    a distance. Additive attention, where the book's story of attention starts,
#    does not: it projects queries and keys to a common size first.)
# 3. **The value size is free.** $d_v$ never meets $d_k$; it is the size of the
#    output.
# 4. **One output per query.** The number of queries can differ from the number of
#    keys; each query gets its own distribution over the keys and its own output.
#
# The package checks the first rule and says what is wrong when it fails. Give it
# four values for five keys, or drop one training target before kernel
# regression:

# %%
try:
    attention.attention_pooling(alpha, V[:4])
except ValueError as error:
    print("ValueError:", error)

try:
    attention.nadaraya_watson(x_test, x_train, y_train[:-1], bandwidth=0.3)
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# Plain NumPy would fail too, in the matrix product, with a message about a
# "mismatch in its core dimension"; a message that names keys and values points
# straight at the mistake.
#
# ## Summary
#
# - Attention models the volitional cue: a **query** says what we are looking for,
#   each item's **key** is matched against it, and its **value** is what we take away.
# - **Attention pooling** returns a weighted average of the values,
#   $f(q) = \sum_i \alpha(q, k_i)\, v_i$, with weights that are non-negative and sum
#   to 1, usually a softmax of scores $a(q, k_i)$.
# - **Average pooling** ignores the query and predicts the mean everywhere.
#   **Nadaraya–Watson regression** with a Gaussian kernel is attention pooling
#   whose scores are negative squared distances divided by $2\sigma^2$.
# - The **bandwidth** $\sigma$ acts like a softmax temperature. A tiny $\sigma$ copies the
#   nearest target (training error 0, noise included); a huge $\sigma$ gives back the
#   mean. The best $\sigma$ lies in between and cannot be read off the training error.
# - **Shapes:** $n_q \times d_k$ queries, $n_k \times d_k$ keys and $n_k \times d_v$
#   values give $n_q \times n_k$ weights and $n_q \times d_v$ outputs.
#
# Kernel regression compares queries and keys with a fixed rule and has no
# parameters to learn. What comes next is [the evolution](evolution_at_a_glance.py)
# this book is named for, starting at [version 0, additive
# attention](03_additive_attention.py), where a small neural network learns
# the score function from data, and going step by step to the multi-head
# attention of the Transformer.

# %% [markdown]
# ## Exercises
#
# 1. **Choose $\sigma$ without the true curve.** In practice we do not know the true
#    curve, and the training error always prefers the smallest $\sigma$. *Leave-one-out*
#    validation predicts each training target from the other 39 points: set the
#    diagonal of the training weight matrix to 0, renormalize the rows, and measure
#    the error. Compute it for bandwidths between 0.02 and 2 and find the best one.
#    How does it compare with the best $\sigma$ against the true curve?

# %% tags=["solution"]
# Exercise 1: Choose sigma without the true curve.
def leave_one_out_mse(x, y, h):
    w = attention.gaussian_kernel_weights(x, x, bandwidth=h)  # (n, n)
    np.fill_diagonal(w, 0.0)  # a point may not use its own target
    w /= w.sum(axis=1, keepdims=True)  # rows sum to 1 again
    return np.mean((attention.attention_pooling(w, y) - y) ** 2)


def true_curve_mse(h):
    pred, _ = attention.nadaraya_watson(x_test, x_train, y_train, h)
    return np.mean((pred - y_true) ** 2)


grid = np.geomspace(0.02, 2.0, 41)
loo = np.array([leave_one_out_mse(x_train, y_train, h) for h in grid])
vs_true = np.array([true_curve_mse(h) for h in grid])
print(f"best σ by leave-one-out:  {grid[loo.argmin()]:.3f}")
print(f"best σ vs the true curve: {grid[vs_true.argmin()]:.3f}")
# Leave-one-out never sees the true curve, yet it picks (nearly) the same
# bandwidth: predicting points you did not fit is an honest test.

# %% [markdown]
# 2. **A box kernel.** Replace the Gaussian with a box: every training point with
#    $|x - x_i| < \sigma$ gets the same weight, every other point weight 0 (then the
#    weights are normalized). Write it with NumPy for $\sigma = 0.5$, predict at the test
#    inputs and at $x = 7$. What goes wrong at $x = 7$, and why can the Gaussian
#    kernel never have that problem?

# %% tags=["solution"]
# Exercise 2: A box kernel.
def box_kernel_predict(queries, x, y, h):
    distance = np.abs(queries[:, None] - x[None, :])  # (n_q, n_k)
    inside = distance < h  # the training points each query sees
    counts = inside.sum(axis=1)  # (n_q,)
    with np.errstate(invalid="ignore"):  # 0 / 0: a query sees nothing
        return (inside * y).sum(axis=1) / counts, counts


queries = np.append(x_test, 7.0)
pred, counts = box_kernel_predict(queries, x_train, y_train, h=0.5)
print("MSE vs true curve:", np.mean((pred[:-1] - y_true) ** 2).round(3))
print("at x = 7:", pred[-1], "from", counts[-1], "training points")
# No training input lies within 0.5 of 7: every weight is 0, they
# cannot be normalized to sum to 1, and the prediction is 0 / 0 = nan.
# A Gaussian weight exp(-d^2 / 2h^2) is positive at every distance, and
# the softmax subtracts the largest score first (Chapter 1), so the
# nearest key always gets exp(0) = 1 before normalizing, even where all
# other exponentials underflow to 0. Masked attention, later in the
# book, meets the box kernel's problem again: a query whose every key
# is masked.

# %% [markdown]
# 3. **Shapes.** Seven queries of size 16 attend over twelve keys of size 16 with
#    values of size 3. Predict the shapes of the scores, the weights and the
#    outputs, then check with NumPy and `attention.attention_pooling`. What happens
#    if the keys have size 12 instead?

# %% tags=["solution"]
# Exercise 3: Shapes.
Q3 = rng.normal(size=(7, 16))  # 7 queries of size 16
K3 = rng.normal(size=(12, 16))  # 12 keys of size 16
V3 = rng.normal(size=(12, 3))  # 12 values of size 3
S3 = Q3 @ K3.T  # scores (7, 12); the weights have the same shape
A3 = attention.softmax(S3, axis=-1)
O3 = attention.attention_pooling(A3, V3)  # (7, 3)
print("scores", S3.shape, " outputs", O3.shape)
try:  # keys of size 12 cannot be dotted with queries of size 16
    Q3 @ rng.normal(size=(12, 12)).T
except ValueError as error:
    print("ValueError:", error)

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
# # What attention costs
#
# Copy the multi-head attention of [Chapter 10](10_multi_head_attention.py) into real
# work, feed it a long document, and two things happen: it slows down much faster than
# the input grows, and at some length it runs out of memory. This chapter finds out
# why. First we count, step by step through one self-attention layer, the
# floating-point operations (FLOPs) and the bytes each step needs, and find the length
# at which the $T \times T$ score matrix overtakes the projections. Then we measure, on
# the machine that built this page: the time and the peak memory of three
# implementations against the sequence length $T$ (the book's explicit
# `attention.scaled_dot_product_attention`, PyTorch's fused
# `torch.nn.functional.scaled_dot_product_attention`, and the whole
# `torch.nn.MultiheadAttention` layer), and the share of the machine's matrix-multiply
# rate that each one reaches. The measurements change from machine to machine and
# from build to build; the page says once, before the measurements, which hardware and
# library versions they ran on.

# %%
import os

# Torch reads these once, when it loads: set them before `import torch`.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle threads sleep
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # big tensors: 2 MiB pages

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from torch import nn

import attention
from attention.book.measure import describe_machine, median_times, peak_memory
from attention.fast.cost import (dot_product_attention_cost, matmul_flops,
                            multi_head_attention_cost, projection_cost,
                            softmax_flops)
from attention.book.plotting import COLORS, use_book_style

use_book_style()
rng = np.random.default_rng(0)
torch.manual_seed(0)
torch.set_num_threads(os.cpu_count() or 1)  # the measurements use every core

# %% [markdown]
# ## One self-attention layer, step by step
#
# Take one multi-head self-attention layer with model size $d$ (for
# $d_{\text{model}}$) and $h$ heads of size $d_{\text{head}} = d / h$, applied to one
# sequence of $T$ positions, $X$ of shape $(T, d)$. It does five things, and each has
# its own shape of work:
#
# | step | computes | result shape | FLOPs |
# |---|---|---|---|
# | project | $Q = X W^Q$, $K = X W^K$, $V = X W^V$ | $3 \times (T, d)$ | $3 \cdot 2 T d^2$ |
# | score | $Q_i K_i^\top / \sqrt{d_{\text{head}}}$ in every head $i$ | $(h, T, T)$ | $h \cdot 2 T^2 d_{\text{head}} = 2 T^2 d$ |
# | softmax | a softmax over every row | $(h, T, T)$ | $5 h T^2$ |
# | pool | weights times $V_i$ in every head | $(h, T, d_{\text{head}})$ | $2 T^2 d$ |
# | mix | concatenate the heads, times $W^O$ | $(T, d)$ | $2 T d^2$ |
#
# The FLOPs follow the conventions of `attention.fast.cost`: a product of a $(d_1, d_2)$ and a
# $(d_2, d_3)$ matrix costs $2 d_1 d_2 d_3$ (a multiply and an add per term), and a softmax
# costs 5 FLOPs per entry, one for each of its steps: the row's maximum (a comparison),
# subtracting it, the exponential, the sum and the division. The maximum and the
# subtraction are what keep the exponential from overflowing
# ([Chapter 1](01_softmax.py)), and [Chapter 16](16_online_softmax_and_flash_attention.py)
# builds on them, so they count like the rest. Adding up, and leaving
# out the scale ($T d$, folded into the queries) and the biases:
#
# $$
# \underbrace{8 T d^2}_{\text{projections}}
# \; + \; \underbrace{4 T^2 d}_{QK^\top \text{ and weights} \cdot V}
# \; + \; \underbrace{5 h T^2}_{\text{softmax}} .
# $$
#
# The projections grow like $T$: every position is multiplied by the same four
# matrices, whatever the others do. The other two terms grow like $T^2$, because every
# query meets every key. For short sequences the projections dominate; for long ones
# the $T^2$ terms do, and they cross where $8 T d^2 = 4 T^2 d$, at $T = 2d$. The
# function below counts each step with the package's formulas, for the size of the
# original Transformer ($d = 512$, 8 heads), and checks that the steps add up to
# `multi_head_attention_cost`, the package's count for the whole layer.

# %%
d_model, num_heads = 512, 8
d_head = d_model // num_heads


def flops_by_step(T: int) -> dict[str, int]:
    """FLOPs of each step of one self-attention layer on T positions."""
    return {
        "projections": 4 * projection_cost(T, d_model, d_model).matmul,
        "scale": num_heads * T * d_head,
        "scores": num_heads * matmul_flops(T, d_head, T),
        "softmax": num_heads * softmax_flops(T, T),
        "weights @ V": num_heads * matmul_flops(T, T, d_head),
    }


print("GFLOPs; T^2: the share of the T^2 terms")
print(f"{'T':>6} {'proj.':>7} {'QK^T+AV':>8} {'softmax':>8} {'T^2':>5}")
for T in [128, 512, 2048, 8192, 32768]:
    steps = flops_by_step(T)
    total = multi_head_attention_cost(T, T, d_model, num_heads).total
    assert sum(steps.values()) == total  # the steps add up to the layer
    quadratic = steps["scores"] + steps["weights @ V"] + steps["softmax"]
    print(f"{T:>6} {steps['projections'] / 1e9:>7.2f} "
          f"{(steps['scores'] + steps['weights @ V']) / 1e9:>8.2f} "
          f"{steps['softmax'] / 1e9:>8.2f} {quadratic / total:>5.0%}")

for T in range(1, 100_000):  # the first T where the T^2 products catch up
    steps = flops_by_step(T)
    if steps["scores"] + steps["weights @ V"] >= steps["projections"]:
        crossover = T
        break
print("crossover: T =", crossover)

# %%
lengths_counted = 2 ** np.arange(6, 16)  # 64 ... 32768
by_step = [flops_by_step(int(T)) for T in lengths_counted]
gflops = {
    "projections: 8Td²": [s["projections"] / 1e9 for s in by_step],
    "QKᵀ and weights · V: 4T²d":
        [(s["scores"] + s["weights @ V"]) / 1e9 for s in by_step],
    "softmax: 5hT²": [s["softmax"] / 1e9 for s in by_step],
}

# %% tags=["fold"]
fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
for (label, values), marker in zip(gflops.items(), ["o-", "s-", "^-"]):
    ax.plot(lengths_counted, values, marker, label=label)
ax.axvline(crossover, color=COLORS[3], ls=":", lw=1.5)
ax.annotate(f"T = 2d = {crossover}", (crossover, 1e-2), xytext=(6, 0),
            textcoords="offset points", color=COLORS[3], fontsize=9)
ax.set(xscale="log", yscale="log", xlabel="sequence length T",
       ylabel="GFLOPs per layer (log scale)")
ax.set_xticks(lengths_counted[::2], [str(T) for T in lengths_counted[::2]])
ax.set_yticks([1e-3, 1e-1, 1e1, 1e3])
ax.minorticks_off()
ax.yaxis.set_major_formatter("{x:g}")
ax.legend(loc="upper left")
plt.show()

# %% tags=["remove-input"]
share_long = 1 - by_step[-1]["projections"] / sum(by_step[-1].values())
share_short = 1 - by_step[0]["projections"] / sum(by_step[0].values())
Markdown(
    f"**Figure 15.1.** FLOPs of one self-attention layer ($d = {d_model}$, "
    f"{num_heads} heads) by step, counted, against the sequence length, both axes "
    f"logarithmic. On such axes $T$ is a line of slope 1 and $T^2$ a line of slope 2. "
    f"The projections cost more up to $T = 2d = {crossover}$ (dotted line), the "
    f"$T^2$ matrix products more beyond it. The softmax stays below both: per score "
    f"it costs {softmax_flops(1, 1)} FLOPs where the two matrix products cost $4 d_{{\\text{{head}}}} = "
    f"{4 * d_head}$."
)

# %% tags=["remove-input"]
Markdown(
    f"At $T = {lengths_counted[0]}$ the parts that grow like $T^2$ are "
    f"{share_short:.0%} of the layer's FLOPs; at $T = {lengths_counted[-1]}$ they "
    f"are {share_long:.0%}. Vaswani et al. "
    f"([2017](../reference/references.md#vaswani2017)) made the same comparison "
    f"from the other side: a self-attention layer does less work than a recurrent "
    f"one as long as the sequence is shorter than the model is wide, which was true "
    f"of the sentences they translated. Documents, books and long programs are "
    f"thousands to hundreds of thousands of tokens long, and there the $T^2$ terms "
    f"are nearly all of the work. The number of heads does not help: $h$ heads of "
    f"size $d/h$ do the same $4T^2d$ matrix FLOPs as one head of size $d$."
)

# %% [markdown]
# ## Counting the memory
#
# FLOPs are one cost; memory is the other, and for attention it is the one that ends
# the run. The inputs and outputs of a layer are $(T, d)$ tensors, $T d$ numbers each.
# The explicit implementation also holds the scores and the weights, $(h, T, T)$
# tensors of $h T^2$ numbers each: the weights as `attention.scaled_dot_product_attention`
# returns them, and the scores before the softmax. Their ratio to an activation is
# $h T^2 / (T d) = T / d_{\text{head}}$, which grows without bound. Here is what one
# of each takes in float32 (4 bytes a number), for one sequence; a batch multiplies
# both columns by the batch size.

# %%
bytes_per_number = 4  # float32
memory_rows = []
for T in [512, 2048, 8192, 32768]:
    activation = bytes_per_number * T * d_model  # one (T, d_model) tensor
    matrix = bytes_per_number * num_heads * T * T  # one (heads, T, T) tensor
    memory_rows.append((T, activation, matrix))


# %% tags=["remove-input"]
def size(num_bytes: float) -> str:
    """Bytes as KiB, MiB or GiB, for the prose."""
    for unit, power in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if num_bytes >= 2**power:
            return f"{num_bytes / 2**power:.4g} {unit}"
    return f"{num_bytes:.0f} B"


table = ("| $T$ | activation $(T, d)$ | scores or weights $(h, T, T)$ "
         "| ratio |\n|---:|---:|---:|---:|\n")
table += "\n".join(f"| {T:,} | {size(a)} | {size(m)} | {m // a:,} |"
                   for T, a, m in memory_rows)
Markdown(f"**Table 15.1.** Memory of one tensor of each kind, float32, one "
         f"sequence, $d = {d_model}$, $h = {num_heads}$.\n\n" + table)

# %% [markdown]
# Inference can throw the weights away once a layer is done, so at any moment it
# needs about one layer's worth. Training cannot: the backward pass needs the weights
# of every layer, so the forward pass keeps them until the gradients are computed.
# Which tensors autograd keeps can be seen with
# `torch.autograd.graph.saved_tensors_hooks`, which calls a function of ours on every
# tensor saved for the backward pass. We list the distinct blocks of memory saved by
# one call of the explicit core and one of PyTorch's fused kernel, on 256 positions:

# %%
def saved_for_backward(attend, T: int) -> dict[int, tuple[tuple, int]]:
    """Memory blocks autograd keeps for backward: address -> (shape, bytes)."""
    shape = (1, num_heads, T, d_head)  # (batch, heads, T, d_head)
    q, k, v = (torch.randn(shape, requires_grad=True) for _ in range(3))
    blocks = {}

    def keep(tensor):
        storage = tensor.untyped_storage()
        blocks.setdefault(storage.data_ptr(),
                          (tuple(tensor.shape), storage.nbytes()))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        attend(q, k, v)
    return blocks


implementations = {
    "explicit core": lambda q, k, v: attention.scaled_dot_product_attention(
        q, k, v)[0],
    "fused kernel": F.scaled_dot_product_attention,
}
saved = {}
for name, attend in implementations.items():
    saved[name] = saved_for_backward(attend, T=256)
    print(f"{name}: {sum(b for _, b in saved[name].values()) / 2**20:.2f} MiB")
    for tensor_shape, num_bytes in saved[name].values():
        print(f"    {str(tensor_shape):<20} {num_bytes / 2**10:>6.0f} KiB")

# %% tags=["remove-input"]
explicit_saved = sum(b for _, b in saved["explicit core"].values())
fused_saved = sum(b for _, b in saved["fused kernel"].values())
largest = max(saved["explicit core"].values(), key=lambda block: block[1])
Markdown(
    f"Both keep the queries, keys and values (the explicit core keeps the scaled "
    f"copy of the queries it made). The explicit core also keeps the weights, "
    f"shape {largest[0]}, {size(largest[1])} of its {size(explicit_saved)}: the "
    f"softmax's backward pass needs its output, and so does the backward pass of "
    f"the product of the weights with $V$. The fused kernel keeps "
    f"{size(fused_saved)} in all, its output and one number per query and head "
    f"instead of the $T \\times T$ weights. [Chapter 16]"
    f"(16_online_softmax_and_flash_attention.py) shows what that number is and how "
    f"the backward pass gets by with it. With dropout on the weights the explicit "
    f"core keeps a second $(h, T, T)$ tensor, the dropped weights. For a model of "
    f"$N$ layers, training keeps $N$ such tensors per sequence: with 12 layers of "
    f"this size at $T = {memory_rows[2][0]}$, "
    f"{size(12 * memory_rows[2][2])} per sequence for the weights alone."
)

# %% [markdown]
# ## Measuring on this machine
#
# Counts say how the work grows; they do not say how long it takes. Two more things
# decide that: how fast the machine multiplies matrices, and how much time goes into
# work that is not matrix multiplication, moving the $T \times T$ matrix in and out of
# memory above all. So we measure, with two functions of `attention.book.measure`:
#
# - `median_times(functions, repeats=3, warmup=1)` runs the functions in turns,
#   one round after another, the first `warmup` rounds untimed, and returns each
#   one's median time. Taking turns spreads the slow spells of a busy machine over
#   all of them.
# - `peak_memory(function)` records every allocation and release of torch's memory
#   allocator while the function runs (with `torch.profiler`) and returns the largest
#   number of bytes held at once.
#
# The setup cell sets `OMP_WAIT_POLICY` and `THP_MEM_ALLOC_ENABLE` before torch
# loads, because torch reads them only then. `OMP_WAIT_POLICY=PASSIVE` lets idle
# worker threads sleep instead of spinning, which on a machine shared with other work
# keeps a spinning thread from holding the core the next operation needs;
# `THP_MEM_ALLOC_ENABLE=1` backs large tensors with 2 MiB pages, saving the explicit
# core a page fault per 4 KiB of every fresh $T \times T$ tensor. The package's
# benchmark (`python -m attention.book.benchmark`) does the same.

# %% tags=["remove-input", "measured"]
hardware = describe_machine().split(";")[0]  # CPU, number of logical CPUs, OS
Markdown(
    f"Every time, memory size and rate below was measured while this page was built, "
    f"on this machine: {hardware}, with torch {torch.__version__} on "
    f"{torch.get_num_threads()} threads, in float32."
)

# %% [markdown]
# ### The machine's matrix-multiply rate
#
# The reference for everything else is the rate at which this machine multiplies two
# large square matrices, the operation its math library is best at: $2 d_1^3$ FLOPs
# for two $d_1 \times d_1$ matrices, divided by the time.

# %% tags=["measured"]
n = 1024
a, b = torch.randn(n, n), torch.randn(n, n)


def square_product():
    return a @ b


[matmul_seconds] = median_times([square_product], repeats=5)
matmul_rate = matmul_flops(n, n, n) / matmul_seconds  # FLOP/s
print(f"{n} x {n} matrix product: {matmul_seconds * 1e3:.1f} ms, "
      f"{matmul_rate / 1e9:.1f} GFLOP/s")

# %% [markdown]
# ### Time against sequence length
#
# Now the three contestants, on one sequence, for $T$ from 128 to 2048. So that the
# measurements fit in the build of this page, the layer is half as wide as above,
# $d = 256$ with 4 heads of 64; its crossover $T = 2d = 512$ then lies inside the
# measured range.
#
# - the **explicit core**, `attention.scaled_dot_product_attention` of
#   [Chapter 5](05_scaled_dot_product_attention.py), which computes the scores, their
#   softmax and the product with $V$ as three separate operations, each writing a
#   full tensor;
# - PyTorch's **fused** `F.scaled_dot_product_attention`, one operation that computes
#   the same output;
# - the **whole layer** `nn.MultiheadAttention`, projections included, called with
#   `need_weights=False` (its default, `True`, also returns the weights, averaged
#   over the heads). Its work is the core's plus the projections, so its curve shows
#   the projections' share.
#
# The cores get queries, keys and values of shape $(1, 4, T, 64)$, the layer an input
# of shape $(1, T, 256)$. All run in inference mode, without gradients, as when a
# trained model is used. At each length, the loop first measures each function's
# peak memory, which also warms it up, then times the three in turns, together with
# the square matrix product above, whose fastest rate in all these rounds is the
# reference for the shares at the end of this section.

# %% tags=["measured"]
small_d, small_heads = 256, 4  # d_head = 64, as above
lengths = [128, 256, 512, 1024, 2048]
torch_layer = nn.MultiheadAttention(small_d, small_heads, batch_first=True)
torch_layer.eval()


def contestants(T: int) -> dict:
    """The three functions to measure, on fresh random inputs of length T."""
    # q, k, v: each (batch, heads, T, d_head)
    q, k, v = torch.randn(3, 1, small_heads, T, d_head)
    x = torch.randn(1, T, small_d)  # (batch, T, d_model)
    return {
        "explicit core":
            lambda: attention.scaled_dot_product_attention(q, k, v),
        "fused F.scaled_dot_product_attention":
            lambda: F.scaled_dot_product_attention(q, k, v),
        "nn.MultiheadAttention (whole layer)":
            lambda: torch_layer(x, x, x, need_weights=False),
    }


names = list(contestants(1))
seconds = {name: [] for name in names}
peak_bytes = {name: [] for name in names}
reference_rate = []  # FLOP/s of the square product, in the same rounds
with torch.inference_mode():
    for T in lengths:
        functions = list(contestants(T).values())
        for name, function in zip(names, functions):
            peak_bytes[name].append(peak_memory(function))  # and a warm-up
        repeats = 5 if T <= 512 else 3  # more runs where they are cheap
        *times, reference = median_times(functions + [square_product],
                                         repeats=repeats, warmup=0)
        for name, t in zip(names, times):
            seconds[name].append(t)
        reference_rate.append(matmul_flops(n, n, n) / reference)

print("milliseconds")
print(f"{'T':>5} {'explicit':>10} {'fused':>10} {'layer':>10}")
for i, T in enumerate(lengths):
    print(f"{T:>5}" + "".join(f"{seconds[name][i] * 1e3:>11.2f}"
                               for name in names))


# %% tags=["measured", "fold"]
def slope(xs, ys) -> float:
    """The slope of the least-squares line through (log x, log y)."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def measured_axes(ylabel: str, yscale: str = "log"):
    """Axes over the measured lengths."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    ax.set(xscale="log", yscale=yscale, xlabel="sequence length T",
           ylabel=ylabel)
    ax.set_xticks(lengths, [str(T) for T in lengths])
    ax.minorticks_off()
    ax.yaxis.set_major_formatter("{x:g}")
    return ax


markers = ["o-", "s-", "^-"]

ax = measured_axes("milliseconds (log scale)")
for name, marker in zip(names, markers):
    ms = 1e3 * np.array(seconds[name])
    ax.plot(lengths, ms, marker, label=f"{name}, slope "
            f"{slope(lengths[-3:], ms[-3:]):.2f}")
guide = 1e3 * seconds[names[0]][-1] * (np.array(lengths) / lengths[-1]) ** 2
ax.plot(lengths, guide, ":", color=COLORS[4], lw=1.5,
        label="slope 2 (∝ T²), for reference")
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% tags=["remove-input", "measured"]
Markdown(
    f"**Figure 15.2.** Median time of one forward pass against the sequence length, "
    f"both axes logarithmic, measured while this page was built. The "
    f"slopes in the legend are fitted to the three longest lengths, "
    f"{lengths[-3]} to {lengths[-1]}; the dotted line has slope 2, the slope of "
    f"$T^2$. These times change from machine to machine and from build to build, and "
    f"a machine busy with other work makes them noisy."
)


# %% tags=["remove-input", "measured"]
def how_steep(s: float) -> str:
    if s < 1.2:
        return "close to linear"
    if s < 1.7:
        return "between linear and quadratic"
    if s < 2.3:
        return "close to quadratic"
    return "steeper than quadratic"


def times_as(ratio: float, word: str) -> str:
    if ratio >= 1.1:
        return f"{ratio:.1f} times as {word}"
    if ratio <= 1 / 1.1:
        return f"only {ratio:.2f} times as {word}"
    return f"about as {word}"


slopes = {name: slope(lengths[-3:], seconds[name][-3:]) for name in names}
explicit, fused, layer = names
speedup = seconds[explicit][-1] / seconds[fused][-1]
core_flops = [small_heads * dot_product_attention_cost(T, T, d_head, d_head,
                                                     scaled=True).total
              for T in lengths]
layer_flops = [multi_head_attention_cost(T, T, small_d, small_heads).total
               for T in lengths]
counted_ratio = [lf / cf for lf, cf in zip(layer_flops, core_flops)]
measured_ratio = [lt / ft for lt, ft in zip(seconds[layer], seconds[fused])]
Markdown(
    f"From $T = {lengths[-3]}$ to {lengths[-1]} the fitted slopes are "
    f"{slopes[explicit]:.2f} for the explicit core, {slopes[fused]:.2f} for the "
    f"fused kernel and {slopes[layer]:.2f} for the whole layer: "
    f"{how_steep(slopes[explicit])}, {how_steep(slopes[fused])} and "
    f"{how_steep(slopes[layer])}. A slope of 2 means that doubling $T$ quadruples "
    f"the time, what the count predicts once the $T^2$ terms dominate; at short "
    f"lengths fixed costs (starting threads, allocating, Python) flatten the "
    f"curves. At $T = {lengths[-1]}$ the fused kernel was "
    f"{times_as(speedup, 'fast')} as the explicit core, on the same FLOPs.\n\n"
    f"The layer does the core's work plus the projections. By the counts it "
    f"costs {counted_ratio[0]:.1f} times as much as the core at $T = {lengths[0]}$, "
    f"where the projections dominate, and {counted_ratio[-1]:.2f} times as much at "
    f"$T = {lengths[-1]}$, where they have become the smaller part. Measured, the "
    f"ratio of their times was {measured_ratio[0]:.1f} at $T = {lengths[0]}$ and "
    f"{measured_ratio[-1]:.2f} at $T = {lengths[-1]}$. (In inference mode "
    f"`nn.MultiheadAttention` runs its own native implementation of the whole "
    f"layer, not necessarily the fused kernel; the memory below shows the "
    f"difference.)"
)

# %% [markdown]
# ### Peak memory against sequence length
#
# The same three, the same lengths, measured with `peak_memory` in the loop above:
# the largest number of bytes torch's allocator held at once during one call, the
# inputs not counted. For reference, the dashed line is the size of one
# $(h, T, T)$ float32 tensor, the dotted line that of one $(T, d)$ activation.

# %% tags=["measured"]
ax = measured_axes("peak memory, MiB (log scale)")
for name, marker in zip(names, markers):
    ax.plot(lengths, np.array(peak_bytes[name]) / 2**20, marker, label=name)
T_array = np.array(lengths)
ax.plot(lengths, bytes_per_number * small_heads * T_array**2 / 2**20, "--",
        color=COLORS[4], lw=1.5, label="one (h, T, T) tensor")
ax.plot(lengths, bytes_per_number * T_array * small_d / 2**20, ":",
        color=COLORS[5], lw=1.5, label="one (T, d) activation")
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% tags=["remove-input", "measured"]
Markdown(
    f"**Figure 15.3.** Peak memory of one forward pass against the sequence length, "
    f"both axes logarithmic, measured with torch's allocator while this page was "
    f"built. Memory depends much less on the machine than time does, "
    f"but it can change with the PyTorch version and the number of threads."
)

# %% tags=["remove-input", "measured"]
one_matrix = bytes_per_number * small_heads * lengths[-1] ** 2
one_activation = bytes_per_number * lengths[-1] * small_d
in_matrices = {name: peak_bytes[name][-1] / one_matrix for name in names}
mem_slopes = {name: slope(lengths[-3:], peak_bytes[name][-3:]) for name in names}


def matrices_phrase(r: float) -> str:
    if 1.7 <= r <= 2.3:
        return "about two such tensors"
    if 0.8 <= r <= 1.3:
        return "about one such tensor"
    return f"{r:.2f} such tensors"


if in_matrices[layer] >= 0.5:
    layer_text = (
        f"`nn.MultiheadAttention` in inference mode held {size(peak_bytes[layer][-1])}, "
        f"{matrices_phrase(in_matrices[layer])}: its native implementation does "
        f"materialise the scores, but (on this PyTorch version) takes the softmax in "
        f"place, overwriting the scores with the weights, so it needs one "
        f"$(h, T, T)$ tensor where the explicit core needs two. Its slope is "
        f"{mem_slopes[layer]:.2f}."
    )
else:
    layer_text = (
        f"`nn.MultiheadAttention` held {size(peak_bytes[layer][-1])}, "
        f"{in_matrices[layer]:.2f} of one $(h, T, T)$ tensor, with a slope of "
        f"{mem_slopes[layer]:.2f}: on this PyTorch version it does not keep the "
        f"whole score matrix either."
    )
Markdown(
    f"The explicit core's memory is the $T \\times T$ matrix. At $T = {lengths[-1]}$ "
    f"it held {size(peak_bytes[explicit][-1])} at its peak, "
    f"{matrices_phrase(in_matrices[explicit])} of {size(one_matrix)}: at the moment "
    f"the softmax finishes, its input (the scores) and its output (the weights) are "
    f"both alive. Its fitted slope is {mem_slopes[explicit]:.2f}. The fused kernel "
    f"held {size(peak_bytes[fused][-1])}, "
    f"{peak_bytes[fused][-1] / one_activation:.2f} times one $(T, d)$ activation of "
    f"{size(one_activation)}, with a slope of {mem_slopes[fused]:.2f}. It still "
    f"computes all $h T^2$ scores, but a block at a time: each thread takes a block "
    f"of queries and walks through the keys a block at a time, so only a few small "
    f"tiles of scores exist at any moment, and they are reused. "
    f"[Chapter 16](16_online_softmax_and_flash_attention.py) builds this loop and "
    f"shows how the softmax can be computed a block at a time. " + layer_text
)

# %% [markdown]
# ### The share of the matrix-multiply rate
#
# Divide the counted FLOPs by the measured time and the result is the rate each
# implementation achieved; divide that by the fastest rate the square matrix product
# reached in this chapter, and the result is the share of the machine's
# matrix-multiply rate each one reached. (Other work on the machine can only slow a
# measurement down, so the fastest rate is the best estimate of what the machine can
# do.) For the two cores the count is
# `dot_product_attention_cost` in each head (the same FLOPs for both); for the layer
# it is `multi_head_attention_cost`, projections included.

# %% tags=["measured"]
counted = {}
for name in names:
    if name.startswith("nn.MultiheadAttention"):
        counted[name] = [
            multi_head_attention_cost(T, T, small_d, small_heads).total
            for T in lengths]
    else:
        counted[name] = [small_heads * dot_product_attention_cost(
            T, T, d_head, d_head, scaled=True).total for T in lengths]
achieved = {name: np.array(counted[name]) / np.array(seconds[name])
            for name in names}  # FLOP/s
best_rate = max(matmul_rate, *reference_rate)  # FLOP/s
share = {name: achieved[name] / best_rate for name in names}

# %% tags=["measured", "fold"]
ax = measured_axes("% of the matrix-product rate", yscale="linear")
for name, marker in zip(names, markers):
    ax.plot(lengths, 100 * share[name], marker, label=name)
ax.axhline(100, color=COLORS[4], ls=":", lw=1.5)
ax.set_ylim(0, None)
ax.legend(fontsize=8)
plt.show()

# %% tags=["remove-input", "measured"]
Markdown(
    f"**Figure 15.4.** Counted FLOPs per second of each implementation, as a "
    f"percentage of the fastest rate of a {n} × {n} float32 matrix product in this "
    f"chapter's measurements ({best_rate / 1e9:.1f} GFLOP/s; dotted line: 100%), "
    f"measured while this page was built. Both the times and the reference are measured, so the shares "
    f"move from build to build, the more so on a busy machine."
)

# %% tags=["remove-input", "measured"]
order = "higher" if share[fused][-1] > share[explicit][-1] else "not higher"
above = [name for name in names if share[name].max() > 1]
note = ""
if above:
    note = (
        " Some shares came out above 100%. The reference is one particular matrix "
        "product, not the machine's limit: small problems whose tensors stay in the "
        "processor's caches can beat it, and on a busy machine even the reference's "
        "fastest rounds may have been slowed down."
    )
Markdown(
    f"At $T = {lengths[-1]}$ the explicit core ran its counted FLOPs at "
    f"{achieved[explicit][-1] / 1e9:.1f} GFLOP/s, {share[explicit][-1]:.0%} of the "
    f"square product's {best_rate / 1e9:.1f} GFLOP/s; "
    f"the fused kernel at {achieved[fused][-1] / 1e9:.1f} GFLOP/s, "
    f"{share[fused][-1]:.0%}, a share {order} than the explicit core's; and the "
    f"whole layer at {achieved[layer][-1] / 1e9:.1f} GFLOP/s, "
    f"{share[layer][-1]:.0%}.{note}"
)

# %% [markdown]
# ## Why attention runs below the matrix-multiply rate
#
# Almost all of attention's FLOPs are matrix products, yet a machine cannot run
# them as fast as one large square product. Three reasons, in the order of their
# weight for the explicit core at long sequences:
#
# 1. **Memory traffic.** A large square matrix product does $2 d_1^3$ FLOPs on $3 d_1^2$
#    numbers, so a good library can keep blocks of the factors in the processor's
#    caches and do many FLOPs for every number it fetches from main memory. The
#    explicit core writes the scores to memory, reads them back for the softmax
#    (which itself passes over them more than once), writes the weights, and reads
#    them again to multiply them by $V$. At long $T$ these tensors are far larger
#    than any cache, so all this traffic goes to main memory, which delivers numbers
#    much more slowly than the processor can use them.
# 2. **Thin products.** The products $Q_i K_i^\top$ and $A_i V_i$ ($A_i$ the weights
#    of head $i$) have one side of only $d_{\text{head}} = 64$: each score is a dot product of 64 terms,
#    128 FLOPs, and then it has to be written out. The square product does $2 d_1$ FLOPs
#    for each output number it writes.
# 3. **The softmax is not a matrix product.** An exponential takes many instructions,
#    yet the count charges it one FLOP, and its three passes do no multiply-adds the
#    processor's fastest instructions could batch.

# %% tags=["remove-input"]
traffic = 4 * bytes_per_number  # bytes per score: write, read, write, read
per_score = (flops_by_step(1024)["scores"] + flops_by_step(1024)["weights @ V"]
             + flops_by_step(1024)["softmax"]) / (num_heads * 1024**2)
square = matmul_flops(n, n, n) / (3 * n * n * bytes_per_number)
Markdown(
    f"A rough count makes the first reason concrete. Per score, the explicit core "
    f"does {per_score:.0f} FLOPs (two products of {2 * d_head} and a softmax of 3) "
    f"and moves at least {traffic} bytes through main memory (the scores written and "
    f"read, the weights written and read, 4 bytes each): about "
    f"{per_score / traffic:.0f} FLOPs per byte. A {n} × {n} product does "
    f"{square:.0f} FLOPs per byte of its inputs and output. The fused kernel keeps "
    f"its tiles of scores in the cache, so that most of its traffic never reaches "
    f"main memory; what still separates it from a square product is mostly the "
    f"second and third reasons, plus the bookkeeping of a softmax taken a block at a time. "
    f"On a GPU, where the arithmetic is faster still compared to memory, the same "
    f"traffic is the main reason FlashAttention was invented."
)

# %% [markdown]
# ## Where this leaves us
#
# Two costs grow like $T^2$, and they call for different remedies.
#
# - **Memory** grows like $T^2$ only because the explicit implementation stores the
#   whole score matrix. That is not necessary: the fused kernel measured above computes
#   the same output without it. [Chapter 16](16_online_softmax_and_flash_attention.py)
#   shows how: the online softmax lets the softmax of a row be computed a block of keys
#   at a time, and tiling makes attention's memory grow like $T$, in training as well
#   as in inference, while computing exactly the same thing.
# - **Time** grows like $T^2$ whatever the implementation, because every query is
#   compared with every key; tiling only makes each of those comparisons cheaper. When
#   a model *generates* text, though, it runs once per new token, and each run needs
#   only the new token's query against the keys and values of the tokens before it.
#   [Chapter 17](17_kv_cache_and_grouped_query_attention.py) keeps those keys and
#   values in a cache, so each step costs $T$ instead of $T^2$, and then shrinks the
#   cache by letting several query heads share one head of keys and values.
#
# ## Summary

# %% tags=["remove-input"]
Markdown(
    f"""
- One self-attention layer does $8Td^2$ FLOPs of projections, which grow like $T$, and
  $4T^2d + 3hT^2$ FLOPs of scores, softmax and weighted sums, which grow like $T^2$.
  The two meet at $T = 2d$, {crossover} for $d = {d_model}$; at
  $T = {lengths_counted[-1]}$ the $T^2$ parts are {share_long:.0%} of the layer's work.
- The explicit implementation stores $(h, T, T)$ scores and weights,
  $T / d_{{\\text{{head}}}}$ times the size of a $(T, d)$ activation: at
  $T = {memory_rows[-1][0]}$, {size(memory_rows[-1][2])} per tensor and sequence in
  float32. Training keeps the weights of every layer for the backward pass.
- Measured on the machine that built this page: the explicit core's peak memory
  is two $(h, T, T)$ tensors, the scores and the weights; the fused kernel computes
  the same scores, so its time still grows like $T^2$ once they dominate, but it
  never holds them all, and its memory grows like $T$.
- Attention is harder to run at a machine's matrix-multiply rate than its FLOP
  count suggests: the explicit core moves the $T \\times T$ matrix through memory,
  the products are thin ($d_{{\\text{{head}}}}$ on one side), and the softmax is not
  a matrix product.
- Next: [Chapter 16](16_online_softmax_and_flash_attention.py) removes the
  $T \\times T$ memory, [Chapter 17](17_kv_cache_and_grouped_query_attention.py) the
  recomputation when generating.
"""
)

# %% [markdown]
# ## Exercises
#
# 1. **When the weights reach a gigabyte.** For one sequence, at what length $T$ do
#    the attention weights of one layer, stored in float16 (2 bytes a number), exceed
#    1 GB ($10^9$ bytes) with 8 heads? With 32 heads?

# %% tags=["solution"]
# Exercise 1: the weights take heads * T^2 * 2 bytes.
import itertools

for heads in [8, 32]:
    T = next(T for T in itertools.count(1) if heads * T * T * 2 > 10**9)
    print(f"{heads:2d} heads: above 1 GB from T = {T:,} "
          f"({heads * T * T * 2 / 1e9:.4f} GB; at T - 1: "
          f"{heads * (T - 1) ** 2 * 2 / 1e9:.4f} GB)")

# %% [markdown]
# 2. **A 12-layer model at $T = 8192$.** GPT-2 small
#    ([Radford et al., 2019](../reference/references.md#radford2019)) has 12 layers,
#    $d = 768$ and 12 heads. Count the FLOPs of its 12 self-attention layers (with
#    their projections) for one sequence of 8192 tokens, and the share that grows like
#    $T^2$. How long would they take at $10^{12}$ FLOP/s, and how much memory would
#    training keep for their float32 weights?

# %% tags=["solution"]
# Exercise 2: 12 layers of d = 768, 12 heads, T = 8192.
layers, d, heads, T = 12, 768, 12, 8192
layer_cost = multi_head_attention_cost(T, T, d, heads)
projections = 4 * projection_cost(T, d, d).matmul
total = layers * layer_cost.total
print(f"FLOPs: {total:.3e}, of which {1 - projections / layer_cost.total:.0%} "
      f"grow like T^2")
print(f"at 1e12 FLOP/s: {total / 1e12:.2f} s")
weights_bytes = layers * heads * T * T * 4  # float32 (heads, T, T) per layer
print(f"weights kept for training: {weights_bytes / 2**30:.1f} GiB "
      "per sequence")

# %% [markdown]
# 3. **What a causal mask wastes.** With a causal mask, query $i$ may only see keys
#    $0$ to $i$. The explicit core still computes all $T^2$ scores and multiplies all
#    $T^2$ weights by $V$. For $T = 1024$, what share of the score FLOPs is spent on
#    masked entries? Check the share of weights that come out exactly 0 with
#    `attention.scaled_dot_product_attention` and `attention.causal_mask`.

# %% tags=["solution"]
# Exercise 3: query t needs t + 1 of the T scores in its row.
T = 1024
needed = T * (T + 1) // 2
print(f"masked share of the scores: {1 - needed / T**2:.4f}")
q, k, v = torch.randn(3, 1, T, 64)  # (batch, T, d_head)
_, weights = attention.scaled_dot_product_attention(
    q, k, v, mask=attention.causal_mask(T))  # (batch, T, T)
zero_share = (weights == 0).float().mean().item()
print(f"weights that are exactly 0: {zero_share:.4f}")

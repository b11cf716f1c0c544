"""Making attention fast, measured: `python -m attention.book.benchmark [--quick]`.

Prints a markdown table of the figures chapters 15 to 17 quote, measured side
by side in one run (float32, on the CPU, medians of several runs), each with
its bar and PASS or FAIL:

* `MultiHeadAttention`, forward and backward, against `nn.MultiheadAttention`,
  without and with the weights returned;
* the explicit scaled dot-product core against PyTorch's fused kernel, forward;
* tiled attention against the explicit core: peak memory, forward and
  forward+backward, and how far its output and gradients are from it;
* greedy decoding with a KV cache against recomputing the whole prefix.

It measures with `attention.book.measure` (`median_times`, `peak_memory`), which the
chapters use too.

Run as a script, it sets two environment variables unless they are set
already (they must be set before torch loads, which reads them once):

* `OMP_WAIT_POLICY=PASSIVE`: OpenMP threads sleep between parallel regions
  instead of spinning. On a machine shared with other work, a spinning thread
  can hold the core the next operation needs, and small operations then take
  milliseconds instead of microseconds.
* `THP_MEM_ALLOC_ENABLE=1`: torch backs its large CPU tensors with 2 MiB
  (transparent huge) pages. A fresh tensor of hundreds of MiB otherwise costs
  a page fault per 4 KiB page; explicit attention allocates such tensors (its
  weights) at every call, fused attention does not.

Both apply to ours and to the baselines alike; the header of the table names
them. Set either to another value to measure without it.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

if __name__ == "__main__":  # run as a script: before torch loads (see above)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from attention.book.measure import describe_machine, median_times, peak_memory  # noqa: E402
from attention.fast.decoding import TinyLanguageModel  # noqa: E402
from attention.fast.tiled_attention import tiled_attention  # noqa: E402
from attention.versions.multi_head import MultiHeadAttention  # noqa: E402
from attention.versions.scaled_dot_product import scaled_dot_product_attention  # noqa: E402


@dataclass(frozen=True)
class Figure:
    """One row of the table: a measurement of ours, the baseline's, and the bar.

    `score` is what the bar judges: ours / baseline for times and memory, the
    speed-up baseline / ours for decoding, the value itself for an error.
    """

    name: str
    ours: float
    baseline: float | None
    unit: str  # "s", "B" or "" (a plain number)
    score: float
    bar: float
    at_least: bool = False  # True: score >= bar passes; False: score <= bar
    condition: bool = True  # anything else that must hold (identical tokens, ...)

    @property
    def passed(self) -> bool:
        within = self.score >= self.bar if self.at_least else self.score <= self.bar
        return bool(within and self.condition)


def _quantity(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "B":
        return f"{value / 2**20:.1f} MiB"
    return f"{value:.1e}"


def format_table(figures: Sequence[Figure]) -> str:
    """The figures as a markdown table."""
    lines = ["| Figure | Ours | Baseline | Ratio | Bar | Result |", "|---|---|---|---|---|---|"]
    for f in figures:
        score = f"{f.score:.1e}" if f.baseline is None else f"{f.score:.2f}×"
        limit = f"{f.bar:.0e}" if f.baseline is None else f"{f.bar:.1f}×"
        bar = f"{'≥' if f.at_least else '≤'} {limit}"
        cells = [f.name, _quantity(f.ours, f.unit), _quantity(f.baseline, f.unit), score, bar,
                 "PASS" if f.passed else "FAIL"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def multi_head_figures(
    batch: int = 8, length: int = 512, d_model: int = 512, num_heads: int = 8, repeats: int = 5
) -> list[Figure]:
    """`MultiHeadAttention` against `nn.MultiheadAttention`, self-attention, forward+backward."""
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(d_model, num_heads, batch_first=True)
    ours = MultiHeadAttention.from_torch(theirs)
    x = torch.randn(batch, length, d_model, requires_grad=True)  # (batch, T, d_model)
    grad = torch.randn(batch, length, d_model)  # (batch, T, d_model)

    def step(module: nn.Module, need_weights: bool) -> Callable[[], None]:
        return lambda: module(x, x, x, need_weights=need_weights)[0].backward(grad)

    sizes = f"batch {batch}, T={length}, d_model={d_model}, {num_heads} heads"
    figures = []
    for need_weights, bar in ((False, 1.0), (True, 1.2)):
        steps = [step(ours, need_weights), step(theirs, need_weights)]
        mine, baseline = median_times(steps, repeats=repeats)
        figures.append(Figure(
            f"MultiHeadAttention(need_weights={need_weights}) fwd+bwd "
            f"vs nn.MultiheadAttention, {sizes}",
            mine, baseline, "s", mine / baseline, bar,
        ))
    return figures


def explicit_core_figures(
    lengths: Sequence[int] = (512, 2048), batch: int = 1, num_heads: int = 8, d_head: int = 64,
    repeats: int = 5,
) -> list[Figure]:
    """The explicit core `scaled_dot_product_attention` against PyTorch's fused one, forward."""
    figures = []
    for length in lengths:
        torch.manual_seed(0)
        shape = (batch, num_heads, length, d_head)
        q, k, v = (torch.randn(shape) for _ in range(3))  # (batch, heads, T, d_head)
        explicit = lambda: scaled_dot_product_attention(q, k, v)  # noqa: E731
        fused = lambda: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
        with torch.no_grad():
            mine, baseline = median_times([explicit, fused], repeats=repeats)
        figures.append(Figure(
            f"explicit core fwd vs fused F.scaled_dot_product_attention, T={length} "
            f"(batch {batch}, {num_heads} heads, d_head={d_head})",
            mine, baseline, "s", mine / baseline, 2.5,
        ))
    return figures


def tiled_figures(
    length: int = 4096, batch: int = 1, num_heads: int = 8, d_head: int = 64, block_size: int = 128
) -> list[Figure]:
    """Tiled attention against the explicit core: peak memory, and its output and gradient errors."""
    torch.manual_seed(0)
    shape = (batch, num_heads, length, d_head)
    q, k, v, grad = (torch.randn(shape) for _ in range(4))  # (batch, heads, T, d_head)
    explicit = lambda q, k, v: scaled_dot_product_attention(q, k, v)[0]  # noqa: E731
    tiled = lambda q, k, v: tiled_attention(q, k, v, block_size=block_size)  # noqa: E731
    results = {}

    def train(name: str, attend: Callable[..., torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            inputs = [x.clone().requires_grad_() for x in (q, k, v)]
            output = attend(*inputs)  # (batch, heads, T, d_head)
            results[name] = (output.detach(), *torch.autograd.grad(output, inputs, grad))
        return run

    with torch.no_grad():
        forward = [peak_memory(lambda: attend(q, k, v)) for attend in (tiled, explicit)]
    training = [peak_memory(train("tiled", tiled)), peak_memory(train("explicit", explicit))]
    errors = [(a - b).abs().max().item() for a, b in zip(results["tiled"], results["explicit"])]
    output_error, grad_error = errors[0], max(errors[1:])
    sizes = f"T={length} (batch {batch}, {num_heads} heads, d_head={d_head}, blocks of {block_size})"
    return [
        Figure(f"tiled attention peak memory, fwd, vs explicit core, {sizes}",
               forward[0], forward[1], "B", forward[0] / forward[1], 0.2),
        Figure(f"tiled attention peak memory, fwd+bwd, vs explicit core, {sizes}",
               training[0], training[1], "B", training[0] / training[1], 0.2),
        Figure(f"tiled attention max output error vs explicit core, float32, {sizes}",
               output_error, None, "", output_error, 1e-6),
        Figure(f"tiled attention max gradient error vs explicit core, float32, {sizes}",
               grad_error, None, "", grad_error, 1e-5),
    ]


def decoding_figure(
    num_tokens: int = 256, prompt_length: int = 16, vocab_size: int = 1000, d_model: int = 256,
    num_heads: int = 8, num_kv_heads: int = 2, num_layers: int = 2, repeats: int = 3,
) -> Figure:
    """Greedy decoding of `num_tokens` with a KV cache against recomputing the prefix at every step."""
    torch.manual_seed(0)
    model = TinyLanguageModel(vocab_size, d_model, num_heads, num_kv_heads, num_layers,
                              max_len=prompt_length + num_tokens).eval()
    prompt = torch.randint(vocab_size, (1, prompt_length))  # (batch, P)
    tokens = {}

    def decode(use_cache: bool) -> Callable[[], None]:
        def run() -> None:
            tokens[use_cache] = model.generate(prompt, num_tokens, use_cache=use_cache)
        return run

    for use_cache in (True, False):  # warm up, briefly
        model.generate(prompt, min(8, num_tokens), use_cache=use_cache)
    cached, recomputed = median_times([decode(True), decode(False)], repeats=repeats, warmup=0)
    return Figure(
        f"KV-cache greedy decoding of {num_tokens} tokens: speed-up over recomputing the prefix, "
        f"same tokens: {torch.equal(tokens[True], tokens[False])} "
        f"({num_layers} layers, d_model={d_model}, {num_heads} heads, {num_kv_heads} kv heads)",
        cached, recomputed, "s", recomputed / cached, 3.0, at_least=True,
        condition=torch.equal(tokens[True], tokens[False]),
    )


def run_benchmark(quick: bool = False, repeats: int = 5) -> list[Figure]:
    """Every figure of the table; `quick` uses smaller sizes (the bars still apply).

    Decoding, the slowest figure, is timed (repeats + 1) // 2 times.
    """
    decoding_repeats = (repeats + 1) // 2
    if quick:
        return [
            *multi_head_figures(batch=2, length=128, d_model=256, num_heads=8, repeats=repeats),
            *explicit_core_figures(lengths=(256, 512), repeats=repeats),
            *tiled_figures(length=1024),
            decoding_figure(num_tokens=64, repeats=decoding_repeats),
        ]
    return [
        *multi_head_figures(repeats=repeats),
        *explicit_core_figures(repeats=repeats),
        *tiled_figures(),
        decoding_figure(repeats=decoding_repeats),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a quick look")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (default 5)")
    args = parser.parse_args(argv)
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(available or 1)
    start = time.perf_counter()
    figures = run_benchmark(quick=args.quick, repeats=args.repeats)
    print(f"Machine: {describe_machine()}. Times: medians of {args.repeats} runs "
          f"({(args.repeats + 1) // 2} for decoding), ours and the baseline in turns.\n")
    print(format_table(figures))
    passed = sum(f.passed for f in figures)
    seconds = time.perf_counter() - start
    print(f"\n{passed} of {len(figures)} figures pass; measured in {seconds:.0f} s.")


if __name__ == "__main__":
    main()

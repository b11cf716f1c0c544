"""Making attention fast, measured: `python -m attention.benchmark [--quick]`.

Prints a markdown table of the figures chapters 14 to 16 quote, measured side
by side in one run (float32, on the CPU, medians of several runs), each with
its bar and PASS or FAIL:

* `MultiHeadAttention`, forward and backward, against `nn.MultiheadAttention`,
  without and with the weights returned;
* the explicit scaled dot-product core against PyTorch's fused kernel, forward;
* tiled attention against the explicit core: peak memory, forward and
  forward+backward, and how far its output and gradients are from it;
* greedy decoding with a KV cache against recomputing the whole prefix.

Two measuring functions are meant for chapters too: `median_times` (wall
clock, several functions interleaved so that they share the machine's noise)
and `peak_memory` (the most memory torch's CPU allocator held at once).

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
import contextlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

if __name__ == "__main__":  # run as a script: before torch loads (see above)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch._C._profiler import _ExtraFields_Allocation  # noqa: E402

from attention.kv_decoding import TinyLanguageModel  # noqa: E402
from attention.multi_head import MultiHeadAttention  # noqa: E402
from attention.scaled_dot_product import scaled_dot_product_attention  # noqa: E402
from attention.tiling import tiled_attention  # noqa: E402


def median_times(
    functions: Sequence[Callable[[], object]], *, repeats: int = 5, warmup: int = 1
) -> list[float]:
    """Median wall-clock seconds of each function, the functions run in turns.

    Each round runs every function once, so slow spells of a shared machine
    fall on all of them alike. `warmup` rounds run first, untimed.

    Example:
        >>> fast, slow = median_times([lambda: sum(range(10)), lambda: sum(range(100_000))])
        >>> fast < slow
        True
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    times: list[list[float]] = [[] for _ in functions]
    for round_ in range(warmup + repeats):
        for function, function_times in zip(functions, times):
            start = time.perf_counter()
            function()
            if round_ >= warmup:
                function_times.append(time.perf_counter() - start)
    return [statistics.median(function_times) for function_times in times]


@contextlib.contextmanager
def _silent_stderr() -> Iterator[None]:
    """Send what is written to file descriptor 2 (C++ logs too) to /dev/null."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_memory(function: Callable[[], object]) -> int:
    """The largest number of bytes torch's CPU allocator held at once while `function()` ran.

    Counted from zero at the call: tensors that already existed do not count,
    those `function` creates count while they live, whether it returns them
    or frees them before returning.

    How: `torch.profiler` with `profile_memory=True` records every allocation
    and every free of torch's CPU allocator (with its size and address), also
    those made inside fused kernels and by the autograd engine. Replaying them
    in time order and keeping the largest running total gives the peak.
    (Python's `tracemalloc` and `resource.getrusage` do not work here: the first
    does not see torch's allocations, the second only the process's lifetime peak.)
    The profiler's C++ side logs a few lines straight to file descriptor 2; they
    are sent to /dev/null while it runs.

    Example:
        >>> def make_and_drop():
        ...     first = torch.zeros(1000, 1000)   # 4 MB
        ...     del first
        ...     second = torch.zeros(1000, 500)   # 2 MB: the peak stays 4 MB
        >>> peak_memory(make_and_drop)
        4000000
    """
    activities = [torch.profiler.ProfilerActivity.CPU]
    with _silent_stderr(), torch.profiler.profile(activities=activities, profile_memory=True) as profiler:
        function()
    events: list[tuple[int, int, int]] = []  # (time, size, address); size < 0 for a free
    nodes = list(profiler.profiler.kineto_results.experimental_event_tree())
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children)
        fields = node.extra_fields
        if isinstance(fields, _ExtraFields_Allocation) and fields.device.type == "cpu":
            events.append((node.start_time_ns, fields.alloc_size, fields.ptr))
    live: dict[int, int] = {}  # address -> size, of the blocks allocated in the call
    current = peak = 0
    for _, size, address in sorted(events):
        if size > 0:
            live[address] = size
            current += size
        elif address in live:  # a block from before the call does not count
            current -= live.pop(address)
        peak = max(peak, current)
    return peak


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


def describe_machine() -> str:
    """The CPU, its core count, the threads torch uses, and torch's version."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
            name = next(names)
    except (OSError, StopIteration):
        pass
    settings = ", ".join(f"{variable}={os.environ.get(variable, 'unset')}"
                         for variable in ("OMP_WAIT_POLICY", "THP_MEM_ALLOC_ENABLE"))
    return (f"{name}, {os.cpu_count()} logical CPUs, {platform.system()}; torch {torch.__version__} "
            f"with {torch.get_num_threads()} threads; {settings}; float32")


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

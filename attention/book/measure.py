"""Measuring on the CPU: wall-clock time, torch's peak memory, and the machine.

The tools chapters 15 to 17 and `python -m attention.book.benchmark` measure with:
`median_times` (wall clock, several functions interleaved so that they share the
machine's noise), `peak_memory` (the most memory torch's CPU allocator held at
once) and `describe_machine` (for a figure's caption).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence

import torch


def median_times(
    functions: Sequence[Callable[[], object]], *, repeats: int = 5, warmup: int = 1
) -> list[float]:
    """Median wall-clock seconds of each function, the functions run in turns.

    Each round runs every function once, so slow spells of a shared machine
    fall on all of them alike. `warmup` rounds run first, untimed.

    Examples:
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


_CPU = 0  # the device type of CPU memory in the trace (c10::DeviceType::CPU)


def peak_memory(function: Callable[[], object]) -> int:
    """The largest number of bytes torch's CPU allocator held at once while `function()` ran.

    Counted from zero at the call: tensors that already existed do not count,
    those `function` creates count while they live, whether it returns them
    or frees them before returning.

    How: `torch.profiler` with `profile_memory=True` records every allocation
    and every free of torch's CPU allocator (with its size and address), also
    those made inside fused kernels and by the autograd engine. The profile's
    Chrome trace (`export_chrome_trace`) lists each of them as a `[memory]`
    event; replaying them in time order and keeping the largest running total
    gives the peak. (The profile's `events()` would not do: they add up each
    operator's allocations into one net number, which hides a temporary an
    operator frees before it returns, and they drop the addresses that tell a
    block freed in the call from one allocated before it. Python's `tracemalloc`
    and `resource.getrusage` do not work either: the first does not see torch's
    allocations, the second only the process's lifetime peak.)
    The profiler's C++ side logs a few lines straight to file descriptor 2; they
    are sent to /dev/null while it runs.

    Examples:
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
    with tempfile.TemporaryDirectory() as folder:
        trace = os.path.join(folder, "trace.json")
        profiler.export_chrome_trace(trace)
        with open(trace) as file:
            records = json.load(file)
    records = records["traceEvents"] if isinstance(records, dict) else records
    events: list[tuple[float, int, int]] = []  # (time, size, address); size < 0 for a free
    for record in records:
        args = record.get("args", {})
        if record.get("name") == "[memory]" and args.get("Device Type") == _CPU:
            events.append((record["ts"], args["Bytes"], args["Addr"]))
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

"""The measuring tools: median times, peak memory."""

from __future__ import annotations

import pytest
import torch

from attention.book.measure import median_times, peak_memory


def test_median_times_runs_every_function_in_turns():
    calls = []
    times = median_times([lambda: calls.append("a"), lambda: calls.append("b")], repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4
    assert len(times) == 2 and all(t >= 0 for t in times)
    with pytest.raises(ValueError, match=r"repeats must be at least 1, got 0"):
        median_times([lambda: None], repeats=0)


def test_peak_memory_counts_what_lives_at_once():
    def two_then_one():
        first, second = torch.zeros(250_000), torch.zeros(250_000)  # 1 MB each, alive together
        del first, second
        return torch.zeros(500_000)  # 2 MB, returned: counts while it lives

    assert peak_memory(two_then_one) == 2_000_000
    assert peak_memory(lambda: None) == 0


def test_peak_memory_does_not_count_freeing_older_tensors():
    older = [torch.zeros(1_000_000)]
    assert peak_memory(lambda: older.pop()) == 0  # freed during the call, allocated before it


def test_peak_memory_sees_the_backward_pass():
    x = torch.randn(256, 256, requires_grad=True)  # (n, n)
    forward_only = peak_memory(lambda: (x @ x).sum())
    with_backward = peak_memory(lambda: (x @ x).sum().backward())
    assert with_backward > forward_only >= 256 * 256 * 4

"""Tests for the online softmax and its (max, sum) states."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import online_softmax
from attention.fast.online_softmax import merge_softmax_states, online_softmax_step

SETTINGS = settings(max_examples=40, deadline=None)
INF = float("inf")


@SETTINGS
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), data=st.data(),
    block_size=st.integers(1, 8), spread=st.sampled_from([1.0, 30.0, 1e4]), seed=st.integers(0, 2**32 - 1),
)
def test_equals_softmax_on_random_input_along_any_dim(shape, data, block_size, spread, seed):
    generator = torch.Generator().manual_seed(seed)
    x = spread * torch.randn(shape, generator=generator, dtype=torch.float64)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    torch.testing.assert_close(online_softmax(x, dim, block_size=block_size), torch.softmax(x, dim),
                               rtol=0, atol=1e-12)


EXTREME_ROWS = [
    [1e4, -1e4, 1e4 - 1.0, 0.0],  # exp(1e4) overflows: only a max-shifted sum survives
    [-1e4, -1e4 + 2.0, -1e4 + 1.0, -1e4],  # exp(-1e4) underflows to 0 unless shifted
    [-INF, 3.0, -INF, -INF],  # one finite entry, at any position
    [-INF, -INF, -INF, 1e4],
    [-INF, -1e4, 2.0, -INF],
    [5.0, 5.0, 5.0, 5.0],  # all equal: uniform
    [1e4, 1e4, 1e4, 1e4],
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("block_size", [1, 2, 3, 4, 10])
def test_equals_softmax_on_extreme_input_without_nan(dtype, block_size):
    x = torch.tensor(EXTREME_ROWS, dtype=dtype)
    weights = online_softmax(x, block_size=block_size)
    assert torch.isfinite(weights).all()
    torch.testing.assert_close(weights, torch.softmax(x, dim=-1), rtol=0, atol=1e-6 if dtype == torch.float32 else 1e-12)
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(EXTREME_ROWS), dtype=dtype))


def test_a_row_with_no_finite_entry_gets_zeros_not_nan():
    x = torch.tensor([[-INF, -INF, -INF], [0.0, -INF, 1.0]])
    weights = online_softmax(x, block_size=2)
    assert torch.equal(weights[0], torch.zeros(3))
    torch.testing.assert_close(weights[1], torch.softmax(x[1], -1))


def test_gradient_is_the_softmax_gradient():
    x = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(3, 7, dtype=torch.float64)
    (ours,) = torch.autograd.grad(online_softmax(x, block_size=3), x, upstream)
    (expected,) = torch.autograd.grad(torch.softmax(x, -1), x, upstream)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-12)


@SETTINGS
@given(n=st.integers(1, 12), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_merging_two_parts_gives_the_state_of_the_whole(n, data, seed):
    x = 10 * torch.randn(2, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x[0, data.draw(st.lists(st.integers(0, n - 1), max_size=n))] = -INF  # row 0 may be all -inf
    split = data.draw(st.integers(0, n))

    def state(part: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        start = (torch.full((2, 1), -INF, dtype=torch.float64), torch.zeros(2, 1, dtype=torch.float64))
        if part.shape[-1] == 0:  # nothing read yet
            return start
        running_max, running_sum, _, _ = online_softmax_step(*start, part)
        return running_max, running_sum

    whole_max, whole_sum = state(x)
    merged_max, merged_sum = merge_softmax_states(*state(x[:, :split]), *state(x[:, split:]))
    assert torch.equal(merged_max, whole_max)
    torch.testing.assert_close(merged_sum, whole_sum, rtol=1e-12, atol=0)
    finite = torch.isfinite(whole_max)
    torch.testing.assert_close(whole_sum[finite], torch.exp(x - whole_max).sum(-1, keepdim=True)[finite])
    assert torch.equal(whole_sum[~finite], torch.zeros_like(whole_sum[~finite]))


@pytest.mark.parametrize(
    ("x", "block_size", "error", "message"),
    [
        (torch.ones(3), 0, ValueError, r"block_size must be positive, got 0"),
        (torch.ones(3), -2, ValueError, r"block_size must be positive, got -2"),
        (torch.ones(3), 1.5, TypeError, r"block_size must be an integer, got 1\.5"),
        (torch.ones(3, dtype=torch.long), 1, TypeError, r"x must be floating point, got dtype torch\.int64"),
    ],
)
def test_bad_input_gets_a_clear_error(x, block_size, error, message):
    with pytest.raises(error, match=message):
        online_softmax(x, block_size=block_size)

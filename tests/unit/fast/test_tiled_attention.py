"""Tests for tiled attention: exact outputs and gradients, causal skipping, O(T) memory."""

from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import scaled_dot_product_attention, tiled_attention
from attention.book.measure import peak_memory
from attention.fast.tiled_attention import TiledAttentionFunction

SETTINGS = settings(max_examples=40, deadline=None)
import attention.fast.tiled_attention as tiled_module  # noqa: E402


def lower_right_causal(num_queries: int, num_keys: int) -> torch.Tensor:
    """Query i sees keys j <= i + Tk - Tq (True = may attend), written independently of the package."""
    queries = torch.arange(num_queries)[:, None]  # (Tq, 1)
    keys = torch.arange(num_keys)[None, :]  # (1, Tk)
    return keys <= queries + (num_keys - num_queries)  # (Tq, Tk)


def random_inputs(generator, batch, num_queries, num_keys, d, d_v, dtype=torch.float64):
    shapes = (batch + (num_queries, d), batch + (num_keys, d), batch + (num_keys, d_v))
    return [torch.randn(shape, generator=generator, dtype=dtype, requires_grad=True) for shape in shapes]


@SETTINGS
@given(
    batch=st.lists(st.integers(1, 3), max_size=2).map(tuple), num_queries=st.integers(1, 11),
    data=st.data(), d=st.integers(1, 4), d_v=st.integers(1, 4), block_size=st.integers(1, 12),
    causal=st.booleans(), seed=st.integers(0, 2**32 - 1),
)
def test_equals_exact_attention_outputs_and_gradients(batch, num_queries, data, d, d_v, block_size, causal, seed):
    """Every query sees at least one key here: Tk >= 1, and Tk >= Tq when causal."""
    num_keys = data.draw(st.integers(num_queries if causal else 1, 12))
    generator = torch.Generator().manual_seed(seed)
    query, key, value = random_inputs(generator, batch, num_queries, num_keys, d, d_v)
    mask = lower_right_causal(num_queries, num_keys) if causal else None
    output = tiled_attention(query, key, value, causal=causal, block_size=block_size)
    expected = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-10)
    upstream = torch.randn(output.shape, generator=generator, dtype=torch.float64)
    grads = torch.autograd.grad(output, (query, key, value), upstream)
    expected_grads = torch.autograd.grad(expected, (query, key, value), upstream)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("block_size", [1, 2, 3, 7])
def test_queries_with_no_key_to_see_get_zeros_and_zero_gradients(block_size):
    """Causal with Tq > Tk: the first Tq - Tk queries come before every key."""
    generator = torch.Generator().manual_seed(0)
    query, key, value = random_inputs(generator, (2,), 7, 4, 3, 2)
    output = tiled_attention(query, key, value, causal=True, block_size=block_size)
    expected, _ = scaled_dot_product_attention(query, key, value, mask=lower_right_causal(7, 4))
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-10)
    assert torch.equal(output[:, :3], torch.zeros(2, 3, 2, dtype=torch.float64))
    grads = torch.autograd.grad(output.square().sum(), (query, key, value))
    expected_grads = torch.autograd.grad(expected.square().sum(), (query, key, value))
    for grad, expected_grad in zip(grads, expected_grads):
        assert torch.isfinite(grad).all()
        torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-10)
    assert torch.equal(grads[0][:, :3], torch.zeros(2, 3, 3, dtype=torch.float64))


@pytest.mark.parametrize("causal", [False, True])
def test_no_keys_at_all_gives_zeros(causal):
    query = torch.randn(2, 0 if causal else 3, 4, requires_grad=True)
    key, value = torch.randn(2, 0, 4, requires_grad=True), torch.randn(2, 0, 5, requires_grad=True)
    output = tiled_attention(query, key, value, causal=causal)
    assert output.shape == (2, query.shape[1], 5) and not output.any()
    output.sum().backward()
    assert not query.grad.any()


def test_batch_dims_broadcast_and_gradients_sum_over_them():
    generator = torch.Generator().manual_seed(1)
    query = torch.randn(3, 2, 5, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    key = torch.randn(2, 6, 4, generator=generator, dtype=torch.float64, requires_grad=True)  # shared by the 3
    value = torch.randn(3, 1, 6, 2, generator=generator, dtype=torch.float64, requires_grad=True)  # shared by heads
    output = tiled_attention(query, key, value, block_size=4)
    expected = F.scaled_dot_product_attention(query, key.expand(3, 2, 6, 4), value.expand(3, 2, 6, 2))
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-10)
    grads = torch.autograd.grad(output.sum(), (query, key, value))
    expected_grads = torch.autograd.grad(expected.sum(), (query, key, value))
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("num_queries", "num_keys", "causal", "block_size"),
    [(5, 5, False, 2), (5, 5, True, 2), (4, 7, True, 3), (7, 4, True, 3), (6, 3, False, 4), (3, 3, True, 8)],
)
def test_gradcheck_of_the_autograd_function(num_queries, num_keys, causal, block_size):
    generator = torch.Generator().manual_seed(2)
    inputs = random_inputs(generator, (), num_queries, num_keys, 3, 2)
    offset = num_keys - num_queries if causal else None
    assert torch.autograd.gradcheck(
        lambda q, k, v: TiledAttentionFunction.apply(q, k, v, offset, block_size), inputs
    )


def test_float32_stays_close_to_exact_attention():
    generator = torch.Generator().manual_seed(3)
    query, key, value = random_inputs(generator, (1, 4), 300, 300, 32, 32, dtype=torch.float32)
    for causal in (False, True):
        output = tiled_attention(query, key, value, causal=causal, block_size=64)
        expected = F.scaled_dot_product_attention(query.double(), key.double(), value.double(), is_causal=causal)
        assert (output.double() - expected).abs().max() < 1e-6


def count_score_tiles(monkeypatch, function) -> int:
    """How many (query block, key block) tiles of scores `function` computes."""
    calls = []
    score_tile = tiled_module.score_tile

    def counted(*args):
        calls.append(args)
        return score_tile(*args)

    monkeypatch.setattr(tiled_module, "score_tile", counted)
    function()
    monkeypatch.undo()
    return len(calls)


@pytest.mark.parametrize(("num_queries", "num_keys", "expected"), [(512, 512, 36), (256, 512, 26), (512, 256, 10)])
def test_causal_skips_the_key_blocks_in_the_future(monkeypatch, num_queries, num_keys, expected):
    """Blocks of 64: causal needs 8 * 9 / 2 = 36 of the 64 tiles of a square; 4 query blocks
    before 8 key blocks see 5, 6, 7 and 8 of them; 8 query blocks after 4 key blocks see
    0, 0, 0, 0, 1, 2, 3 and 4 of them."""
    query, key, value = torch.randn(num_queries, 8), torch.randn(num_keys, 8), torch.randn(num_keys, 8)
    every_tile = (num_queries // 64) * (num_keys // 64)
    assert count_score_tiles(monkeypatch, lambda: tiled_attention(query, key, value, block_size=64)) == every_tile
    causal = count_score_tiles(monkeypatch, lambda: tiled_attention(query, key, value, causal=True, block_size=64))
    assert causal == expected


@pytest.mark.slow
def test_training_memory_grows_like_t_not_t_squared():
    """Forward and backward at T=1024 stay far below even one (heads, T, T) matrix of weights."""
    heads, length, d_head = 2, 1024, 16
    query, key, value = (torch.randn(1, heads, length, d_head, requires_grad=True) for _ in range(3))
    upstream = torch.randn(1, heads, length, d_head)

    def train(attend):
        return lambda: torch.autograd.grad(attend(query, key, value), (query, key, value), upstream)

    tiled = peak_memory(train(lambda q, k, v: tiled_attention(q, k, v, block_size=128)))
    explicit = peak_memory(train(lambda q, k, v: scaled_dot_product_attention(q, k, v)[0]))
    weights_bytes = heads * length * length * 4
    assert explicit > 2 * weights_bytes  # the weights and their gradient, at least
    assert tiled < explicit / 5
    assert tiled < weights_bytes / 2


@pytest.mark.parametrize(
    ("shapes", "kwargs", "error", "message"),
    [
        (((3, 4), (5, 4), (5, 2)), {"block_size": 0}, ValueError, r"block_size must be positive, got 0"),
        (((3, 4), (5, 4), (5, 2)), {"block_size": -1}, ValueError, r"block_size must be positive, got -1"),
        (((3, 4), (5, 4), (5, 2)), {"block_size": 2.0}, TypeError, r"block_size must be an integer, got 2\.0"),
        (((3, 4), (5, 4), (5, 2)), {"causal": 1}, TypeError, r"causal must be True or False, got 1"),
        (((3, 4), (7, 4), (5, 2)), {}, ValueError, r"key has 7 positions but value has 5"),
        (((3, 4), (5, 6), (5, 2)), {}, ValueError, r"query has d_k=4 but key has d_k=6"),
        (((2, 3, 4), (3, 5, 4), (5, 2)), {}, ValueError, r"batch dims do not broadcast: query \(2,\), key \(3,\)"),
        (((4,), (5, 4), (5, 2)), {}, ValueError, r"query must have at least 2 dims"),
    ],
)
def test_bad_input_gets_a_clear_error(shapes, kwargs, error, message):
    query, key, value = (torch.zeros(shape) for shape in shapes)
    with pytest.raises(error, match=message):
        tiled_attention(query, key, value, **kwargs)


def test_mixed_or_integer_dtypes_are_refused():
    with pytest.raises(TypeError, match=r"share a dtype, got query torch\.float32, key torch\.float64"):
        tiled_attention(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 3))
    with pytest.raises(TypeError, match=r"value must be floating point"):
        tiled_attention(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long))

"""Every path accepts the same inputs and gives the same answer.

`MultiHeadAttention` and `GroupedQueryAttention` run PyTorch's fused kernel with
`need_weights=False` and the package's explicit attention with `need_weights=True`;
the NumPy and PyTorch versions of scaled dot-product attention and of the masked
softmax are two more paths. Over mask shapes (every shape that broadcasts, fully
masked rows, no keys at all), lengths, head groupings and dtypes, each path
must accept what the others accept and agree with a float64 reference written
from the formula.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import (
    GroupedQueryAttention,
    MultiHeadAttention,
    masked_softmax,
    numpy_masked_softmax,
    numpy_scaled_dot_product_attention,
    scaled_dot_product_attention,
    tiled_attention,
)
from attention.fast.grouped_query import grouped_query_attention


def reference_attention(q, k, v, mask):
    """softmax(q k^T / sqrt(d)) v in float64; a query with no allowed key gets zeros."""
    q, k, v = q.double(), k.double(), v.double()
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    empty = ~torch.isfinite(scores).any(-1, keepdim=True)  # no key to attend to
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1).masked_fill(empty, 0.0)
    return weights @ v, weights


def reference_module(module, query, key, value, mask4):
    """The module's computation in float64 from its weights, heads by plain reshapes."""

    def linear(x, layer):
        out = x.double() @ layer.weight.double().T
        return out if layer.bias is None else out + layer.bias.double()

    batch, num_heads, d_head = query.shape[0], module.num_heads, module.d_head
    num_kv_heads = getattr(module, "num_kv_heads", num_heads)

    def heads(x, count):  # (batch, T, count * d_head) -> (batch, count, T, d_head)
        return x.reshape(batch, x.shape[1], count, d_head).permute(0, 2, 1, 3)

    q = heads(linear(query, module.w_q), num_heads)
    k = heads(linear(key, module.w_k), num_kv_heads).repeat_interleave(num_heads // num_kv_heads, dim=1)
    v = heads(linear(value, module.w_v), num_kv_heads).repeat_interleave(num_heads // num_kv_heads, dim=1)
    output, weights = reference_attention(q, k, v, mask4)
    output = output.permute(0, 2, 1, 3).reshape(batch, query.shape[1], num_heads * d_head)
    return linear(output, module.w_o), weights


# Mask shapes, as functions of (batch, heads, Tq, Tk); the flag says whether the
# shape has a heads dim (4 dims) or is shared by the heads.
MASK_SHAPES = {
    "(Tk,)": lambda b, h, q, k: (k,),
    "(Tq, Tk)": lambda b, h, q, k: (q, k),
    "(1, Tk)": lambda b, h, q, k: (1, k),
    "(batch, 1, Tk)": lambda b, h, q, k: (b, 1, k),
    "(batch, Tq, Tk)": lambda b, h, q, k: (b, q, k),
    "(1, Tq, 1)": lambda b, h, q, k: (1, q, 1),
    "(batch, heads, Tq, Tk)": lambda b, h, q, k: (b, h, q, k),
    "(1, heads, 1, Tk)": lambda b, h, q, k: (1, h, 1, k),
}


def as_four_dims(mask, heads_dim):
    if mask is None:
        return None
    if mask.ndim == 4:
        return mask
    mask = mask.reshape((1,) * (3 - mask.ndim) + tuple(mask.shape))
    return mask[:, None]  # (batch or 1, 1, Tq or 1, Tk or 1)


@st.composite
def attention_inputs(draw):
    batch = draw(st.integers(1, 3))
    num_kv_heads = draw(st.sampled_from([1, 2, 4]))
    num_heads = 4
    num_queries = draw(st.integers(1, 4))
    num_keys = draw(st.integers(0, 5))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    shape_name = draw(st.sampled_from([None, *MASK_SHAPES]))
    seed = draw(st.integers(0, 2**16))
    density = draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    generator = torch.Generator().manual_seed(seed)
    mask = None
    if shape_name is not None:
        shape = MASK_SHAPES[shape_name](batch, num_heads, num_queries, num_keys)
        mask = torch.rand(shape, generator=generator) < density
    x = torch.randn(batch, num_queries, 12, generator=generator, dtype=dtype)
    memory = torch.randn(batch, num_keys, 12, generator=generator, dtype=dtype)
    return num_kv_heads, x, memory, mask, seed


@settings(max_examples=60, deadline=None)
@given(inputs=attention_inputs(), grouped=st.booleans())
def test_both_paths_of_the_modules_agree_with_the_reference(inputs, grouped):
    num_kv_heads, x, memory, mask, seed = inputs
    torch.manual_seed(seed)
    module = (GroupedQueryAttention(12, 4, num_kv_heads) if grouped else MultiHeadAttention(12, 4))
    module = module.to(x.dtype).eval()
    expected, expected_weights = reference_module(module, x, memory, memory, as_four_dims(mask, True))
    tolerance = dict(atol=1e-5, rtol=1e-4) if x.dtype == torch.float32 else dict(atol=1e-10, rtol=1e-9)
    with torch.no_grad():
        slow, weights = module(x, memory, memory, mask, need_weights=True)
        fast, none = module(x, memory, memory, mask, need_weights=False)
    assert none is None
    assert torch.isfinite(slow).all() and torch.isfinite(fast).all()
    torch.testing.assert_close(slow.double(), expected, **tolerance)
    torch.testing.assert_close(fast.double(), expected, **tolerance)
    torch.testing.assert_close(weights.double(), expected_weights.expand(weights.shape), **tolerance)


@settings(max_examples=40, deadline=None)
@given(inputs=attention_inputs(), need_weights=st.booleans())
def test_grouped_query_attention_takes_every_mask_shape_on_both_paths(inputs, need_weights):
    num_kv_heads, x, memory, mask, seed = inputs
    generator = torch.Generator().manual_seed(seed)
    batch, num_queries, num_keys = x.shape[0], x.shape[1], memory.shape[1]
    q = torch.randn(batch, 4, num_queries, 3, generator=generator, dtype=x.dtype)
    k = torch.randn(batch, num_kv_heads, num_keys, 3, generator=generator, dtype=x.dtype)
    v = torch.randn(batch, num_kv_heads, num_keys, 2, generator=generator, dtype=x.dtype)
    group = 4 // num_kv_heads
    mask = as_four_dims(mask, True)  # the function's masks broadcast to (batch, heads, Tq, Tk)
    expected, _ = reference_attention(
        q, k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1), mask
    )
    output, _ = grouped_query_attention(q, k, v, mask, need_weights=need_weights)
    tolerance = dict(atol=1e-5, rtol=1e-4) if x.dtype == torch.float32 else dict(atol=1e-10, rtol=1e-9)
    torch.testing.assert_close(output.double(), expected, **tolerance)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(0, 5)),
    d=st.integers(1, 4),
    mask_kind=st.sampled_from([None, "keys", "full"]),
    density=st.sampled_from([0.0, 0.5, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_numpy_torch_and_tiled_attention_agree(shape, d, mask_kind, density, seed):
    batch, num_queries, num_keys = shape
    rng = np.random.default_rng(seed)
    q, k, v = (rng.normal(size=s) for s in ((batch, num_queries, d), (batch, num_keys, d), (batch, num_keys, 2)))
    mask = None
    if mask_kind == "keys":
        mask = rng.random((num_keys,)) < density
    elif mask_kind == "full":
        mask = rng.random((batch, num_queries, num_keys)) < density
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
    tmask = None if mask is None else torch.from_numpy(mask)
    expected, expected_weights = reference_attention(tq, tk, tv, tmask)
    output, _ = scaled_dot_product_attention(tq, tk, tv, tmask)
    np_output, np_weights = numpy_scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(torch.from_numpy(np_output), expected)
    torch.testing.assert_close(torch.from_numpy(np_weights), expected_weights)
    if mask is None:
        torch.testing.assert_close(tiled_attention(tq, tk, tv, block_size=2), expected)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 3),
    width=st.integers(0, 5),
    seed=st.integers(0, 2**16),
    minus_inf=st.floats(0.0, 1.0),
    with_mask=st.booleans(),
)
def test_numpy_and_torch_masked_softmax_agree_with_minus_inf_scores(rows, width, seed, minus_inf, with_mask):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(rows, width))
    scores[rng.random((rows, width)) < minus_inf] = -np.inf
    mask = rng.random((rows, width)) < 0.6 if with_mask else None
    ours = masked_softmax(torch.from_numpy(scores), None if mask is None else torch.from_numpy(mask))
    theirs = numpy_masked_softmax(scores, mask)
    allowed = np.isfinite(scores) & (True if mask is None else mask)
    row_max = np.max(np.where(allowed, scores, -1e300), -1, keepdims=True, initial=-1e300)
    with np.errstate(over="ignore", invalid="ignore"):  # rows with nothing allowed: dropped below
        expected = np.where(allowed, np.exp(scores - row_max), 0.0)
    totals = expected.sum(-1, keepdims=True)
    expected = np.divide(expected, totals, out=np.zeros_like(expected), where=totals > 0)
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(theirs, expected, atol=1e-12)

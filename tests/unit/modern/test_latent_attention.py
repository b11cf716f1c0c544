"""Multi-head latent attention: against plain multi-head attention built from its keys and values."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.modern.latent_attention import LatentCache, MultiHeadLatentAttention, mla_cache_bytes
from attention.fast.cost import kv_cache_bytes
from unit.references import float64_attention


def rope64(x, positions, base=10000.0):
    """RoPE written out in float64: pairs (2i, 2i+1) turned by p * base^(-2i/d)."""
    d = x.shape[-1]
    freq = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angle = positions.double()[:, None] * freq  # (T, d/2)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * torch.cos(angle) - odd * torch.sin(angle)
    out[..., 1::2] = even * torch.sin(angle) + odd * torch.cos(angle)
    return out


def reference(mla, x, positions):
    """Plain causal MHA in float64, keys = [c W^UK_i, k^R], queries = [q_i, q^R_i], values c W^UV_i."""
    h, dh, dr = mla.num_heads, mla.d_head, mla.d_r
    x = x.double()
    w = {name: getattr(mla, name).weight.double() for name in
         ("w_q", "w_qr", "w_dkv", "w_kr", "w_uk", "w_uv", "w_o") if getattr(mla, name) is not None}
    c = x @ w["w_dkv"].T  # (batch, T, d_c)
    outputs = []
    for i in range(h):
        rows = slice(i * dh, (i + 1) * dh)
        q = x @ w["w_q"][rows].T
        k = c @ w["w_uk"][rows].T
        v = c @ w["w_uv"][rows].T
        if dr:
            q = torch.cat([q, rope64(x @ w["w_qr"][i * dr:(i + 1) * dr].T, positions)], -1)
            k = torch.cat([k, rope64(x @ w["w_kr"].T, positions)], -1)
        mask = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).tril()
        out, _ = float64_attention(q, k, v, mask)  # scale 1/sqrt(d_head + d_r)
        outputs.append(out)
    return torch.cat(outputs, -1) @ w["w_o"].T


configs = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(1, 7),
                    st.sampled_from([0, 2, 4]), st.integers(1, 9), st.integers(0, 2**31 - 1))


@settings(max_examples=30, deadline=None)
@given(configs)
def test_plain_and_absorbed_equal_float64_multi_head_attention(config):
    batch, h, dh, dc, dr, T, seed = config
    torch.manual_seed(seed)
    mla = MultiHeadLatentAttention(d_model=8, num_heads=h, d_head=dh, d_c=dc, d_r=dr).double()
    x = torch.randn(batch, T, 8, dtype=torch.float64)
    expected = reference(mla, x, torch.arange(T))
    plain, _ = mla(x)
    absorbed, _ = mla(x, absorbed=True)
    torch.testing.assert_close(plain, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(absorbed, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("absorbed", [False, True])
@pytest.mark.parametrize("d_r", [0, 4])
def test_cached_decoding_equals_the_full_pass(absorbed, d_r):
    torch.manual_seed(1)
    mla = MultiHeadLatentAttention(16, 4, 8, 6, d_r).double()
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    full, _ = mla(x)
    cache = mla.new_cache(2, 9)
    pieces = [mla(x[:, :4], cache=cache, absorbed=absorbed)[0]]  # a prompt of 4
    pieces += [mla(x[:, t:t + 1], cache=cache, absorbed=absorbed)[0] for t in range(4, 9)]
    torch.testing.assert_close(torch.cat(pieces, 1), full, rtol=1e-10, atol=1e-10)
    assert len(cache) == 9 and cache.latents.shape == (2, 9, 6)


def test_rope_part_makes_scores_depend_on_offsets_only():
    torch.manual_seed(2)
    mla = MultiHeadLatentAttention(8, 2, 4, 4, d_r=4).double()
    x = torch.randn(1, 3, 8, dtype=torch.float64)
    _, near = mla(x, torch.tensor([0, 1, 2]), need_weights=True)
    _, far = mla(x, torch.tensor([100, 101, 102]), need_weights=True)
    torch.testing.assert_close(near, far)
    no_rope = MultiHeadLatentAttention(8, 2, 4, 4, d_r=0)
    assert no_rope.w_qr is None and no_rope.w_kr is None


def test_weights_are_causal_and_normalised():
    mla = MultiHeadLatentAttention(8, 2, 4, 3, 2)
    _, weights = mla(torch.randn(2, 6, 8), need_weights=True)
    assert weights.triu(1).abs().max() == 0
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 6))


def test_a_failed_call_leaves_the_cache_unchanged():
    mla = MultiHeadLatentAttention(8, 2, 4, 3, 2)
    cache = mla.new_cache(1, 4)
    mla(torch.randn(1, 3, 8), cache=cache)
    before = cache.latents.clone(), cache.rope_keys.clone(), len(cache)
    with pytest.raises(ValueError, match="capacity 4"):
        mla(torch.randn(1, 2, 8), cache=cache)
    with pytest.raises(ValueError, match=r"d_model=8"):
        mla(torch.randn(1, 1, 7), cache=cache)
    with pytest.raises(ValueError, match="batch=1"):
        mla(torch.randn(2, 1, 8), cache=cache)
    assert torch.equal(cache.latents, before[0]) and torch.equal(cache.rope_keys, before[1])
    assert len(cache) == before[2]


@pytest.mark.parametrize("kwargs, words", [
    (dict(d_model=8, num_heads=0, d_head=4, d_c=3), "num_heads"),
    (dict(d_model=8, num_heads=2, d_head=4, d_c=3, d_r=3), "even"),
    (dict(d_model=8, num_heads=2, d_head=4, d_c=-1), "d_c"),
])
def test_bad_sizes(kwargs, words):
    with pytest.raises(ValueError, match=words):
        MultiHeadLatentAttention(**kwargs)


def test_bad_positions_and_types():
    mla = MultiHeadLatentAttention(8, 2, 4, 3, 2)
    with pytest.raises(ValueError, match="positions has 2"):
        mla(torch.randn(1, 3, 8), torch.arange(2))
    with pytest.raises(TypeError, match="x"):
        mla([[1.0] * 8])


def test_cache_bytes():
    assert mla_cache_bytes(2, 3, 5, 7, 11, 4) == 2 * 3 * (5 + 7) * 11 * 4
    # MLA with d_c + d_r = 2 * g * d_head caches as much as GQA with g key/value heads
    assert mla_cache_bytes(1, 4, 192, 64, 10) == kv_cache_bytes(1, 4, 1, 128, 10, 2)
    cache = LatentCache(1, 10, 5, 2, dtype=torch.float16)
    assert cache.nbytes() == mla_cache_bytes(1, 1, 5, 2, 10, 2)
    with pytest.raises(ValueError, match="num_layers"):
        mla_cache_bytes(1, -1, 5, 2, 10)


def test_scale_uses_both_parts():
    """The scores are divided by sqrt(d_head + d_r): check one weight by hand."""
    torch.manual_seed(3)
    mla = MultiHeadLatentAttention(4, 1, 2, 2, 2).double()
    x = torch.randn(1, 2, 4, dtype=torch.float64)
    _, w = mla(x, need_weights=True)
    c = x @ mla.w_dkv.weight.T
    q = torch.cat([x @ mla.w_q.weight.T, rope64(x @ mla.w_qr.weight.T, torch.arange(2))], -1)
    k = torch.cat([c @ mla.w_uk.weight.T, rope64(x @ mla.w_kr.weight.T, torch.arange(2))], -1)
    s = (q[0, 1] @ k[0].T) / math.sqrt(4)
    torch.testing.assert_close(w[0, 0, 1], torch.softmax(s, -1))

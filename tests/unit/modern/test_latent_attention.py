"""Multi-head latent attention: against plain multi-head attention built from its keys and values."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.modern.latent_attention import LatentCache, MultiHeadLatentAttention, mla_cache_bytes
from attention.fast.cost import kv_cache_bytes
from attention.fast.kv_cache import KVCache
from attention.modern.causal_pattern import CausalPattern, cached_positions
from attention.modern.gpt import GPT
from attention.modern.sliding_window import SlidingWindowPattern
from unit.helpers import assert_a_failed_call_keeps_the_caches, snapshot, unchanged
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
    before = snapshot(cache)
    with pytest.raises(ValueError, match="capacity 4"):
        mla(torch.randn(1, 2, 8), cache=cache)
    with pytest.raises(ValueError, match=r"d_model=8"):
        mla(torch.randn(1, 1, 7), cache=cache)
    with pytest.raises(ValueError, match="batch=1"):
        mla(torch.randn(2, 1, 8), cache=cache)
    assert unchanged(cache, before)  # latents, rope keys and length


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


# ---------------------------------------------------------------- inside attention.GPT


class AbsorbedMLA(MultiHeadLatentAttention):
    """The same module, always called with absorbed=True (the GPT passes no such option)."""

    def forward(self, *args, **options):
        return super().forward(*args, absorbed=True, **options)


def mla_gpt(d_c=6, d_r=4, seed=0, layer=MultiHeadLatentAttention, num_layers=2):
    """A float64 GPT whose attention is MLA; positions only from MLA's own rotary part."""
    torch.manual_seed(seed)
    model = GPT(vocab_size=11, d_model=16, num_heads=4, num_layers=num_layers, positions="none",
                attention=lambda i: layer(16, 4, 4, d_c, d_r))
    with torch.no_grad():  # weights larger than the initial 0.02, so that every part matters
        for parameter in model.parameters():
            parameter.normal_(0, 0.3)
    return model.double().eval()


def layer_norm64(x, norm):
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias


def gpt_reference(model, tokens):
    """The model's forward written out: embedding, blocks with `reference` attention, tied logits."""
    x = model.token_embedding.weight[tokens]  # (batch, T, d_model): positions="none" adds nothing
    positions = torch.arange(tokens.shape[1])
    for block in model.blocks:
        x = x + reference(block.attention, layer_norm64(x, block.attention_norm), positions)
        x = x + block.mlp(layer_norm64(x, block.mlp_norm))
    return layer_norm64(x, model.norm) @ model.token_embedding.weight.T  # (batch, T, vocab)


def test_a_gpt_with_mla_layers_computes_the_written_out_model():
    model = mla_gpt()
    assert all(isinstance(block.attention, MultiHeadLatentAttention) for block in model.blocks)
    tokens = torch.randint(11, (2, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(tokens), gpt_reference(model, tokens), rtol=1e-10, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 8), st.sampled_from([0, 2, 4]), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_cached_steps_of_an_mla_gpt_give_the_logits_of_the_full_pass(d_c, d_r, prompt, seed):
    model = mla_gpt(d_c, d_r, seed)
    tokens = torch.randint(11, (2, 10), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        full = model(tokens)  # (batch, T, vocab)
        caches = model.new_caches(2, 10)
        steps = [model(tokens[:, :prompt], caches)]
        steps += [model(tokens[:, t:t + 1], caches) for t in range(prompt, 10)]
    assert all(isinstance(cache, LatentCache) and len(cache) == 10 for cache in caches)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("layer", [MultiHeadLatentAttention, AbsorbedMLA])
def test_greedy_generation_of_an_mla_gpt_is_the_same_with_the_latent_cache(layer):
    model = mla_gpt(layer=layer)
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert torch.equal(model.generate(prompt, 12), model.generate(prompt, 12, use_cache=False))


def test_the_absorbed_form_gives_the_model_the_same_logits_and_text():
    plain, absorbed = mla_gpt(), mla_gpt(layer=AbsorbedMLA)
    absorbed.load_state_dict(plain.state_dict())
    tokens = torch.randint(11, (2, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(absorbed(tokens), plain(tokens), rtol=1e-10, atol=1e-10)
    prompt = tokens[:, :3]
    assert torch.equal(absorbed.generate(prompt, 10), plain.generate(prompt, 10, use_cache=False))


@pytest.mark.parametrize("make_bad, error, words", [
    (lambda model, caches: (caches[:1] + [KVCache(1, 4, 8, 4, dtype=torch.float64)], 3), TypeError,
     r"caches\[1\] must be a LatentCache \(made by new_cache\), got KVCache"),
    (lambda model, caches: (CausalPattern().new_cache(1, 4, 4, 8, torch.float64, None), 3), TypeError,
     r"caches must be a list of 2 caches \(one per block\), got KVCache"),
    (lambda model, caches: ([caches[0], mla_gpt(d_c=5).new_caches(1, 8)[1]], 3), ValueError,
     r"caches\[1\] holds batch=1, d_c=5, d_r=4; this call needs batch=1, d_c=6, d_r=4"),
    (lambda model, caches: (caches, 9), ValueError, r"cannot append 9 positions to caches\[0\], a LatentCache holding 3"),
    (lambda model, caches: ([caches[0], model.new_caches(1, 8)[1]], 1), ValueError,
     r"the caches hold different numbers of positions: \[3, 0\]"),
])
def test_a_bad_cache_is_named_and_no_cache_changes(make_bad, error, words):
    model = mla_gpt()
    tokens = torch.randint(11, (1, 8), generator=torch.Generator().manual_seed(3))

    def failing_call(caches):
        bad_caches, new = make_bad(model, caches)
        model(torch.zeros(1, new, dtype=torch.long), bad_caches)

    assert_a_failed_call_keeps_the_caches(model, tokens, 8, failing_call, error, words, tolerance=1e-10)


def test_the_layer_refuses_a_cache_of_another_kind():
    mla = MultiHeadLatentAttention(8, 2, 4, 3, 2)
    with pytest.raises(TypeError, match="cache must be a LatentCache .* got KVCache"):
        mla(torch.randn(1, 3, 8), cache=KVCache(1, 2, 4, 4))


def test_cached_positions_of_a_latent_cache():
    cache = LatentCache(1, 6, 3, 2)
    cache.append(torch.zeros(1, 4, 3), torch.zeros(1, 4, 2))
    held, following = cached_positions(cache)
    assert held.tolist() == [0, 1, 2, 3] and following == 4


def test_a_windowed_mla_gpt_keeps_a_latent_cache_and_masks_it_by_position():
    """The pattern masks the cached latents by their positions; the cache is still MLA's own."""
    model = mla_gpt()
    model.pattern = SlidingWindowPattern(window=3)
    tokens = torch.randint(11, (1, 10), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        full = model(tokens)
        caches = model.new_caches(1, 10)
        steps = [model(tokens[:, :4], caches)] + [model(tokens[:, t:t + 1], caches) for t in range(4, 10)]
        unwindowed = model(tokens, pattern=CausalPattern())
    assert all(isinstance(cache, LatentCache) for cache in caches)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-10, atol=1e-10)
    assert not torch.allclose(full[:, 3:], unwindowed[:, 3:])  # the window changes what is seen


@pytest.mark.parametrize("absorbed", [False, True])
def test_a_bad_pattern_or_cache_dtype_leaves_the_cache_as_it_was(absorbed):
    mla = MultiHeadLatentAttention(8, 2, 4, 3, 2)
    cache = mla.new_cache(1, 6)
    with pytest.raises(TypeError, match="mask must be boolean"):
        mla(torch.randn(1, 3, 8), cache=cache, absorbed=absorbed, need_weights=True,
            pattern=lambda q, k: torch.ones(len(q), len(k)))
    assert len(cache) == 0
    wide = LatentCache(1, 6, 3, 2, dtype=torch.float64)
    with pytest.raises(TypeError, match="cache holds torch.float64"):
        mla(torch.randn(1, 3, 8), cache=wide, absorbed=absorbed)
    assert len(wide) == 0

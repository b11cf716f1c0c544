"""Tests for the GPT-style language model of Part V."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.fast.kv_cache import KVCache
from attention.modern.causal_self_attention import CausalSelfAttention
from attention.modern.gpt import GPT
from attention.modern.linear_attention_layer import LinearAttentionPattern, LinearSelfAttention
from attention.modern.sliding_window import SlidingWindowPattern
from unit.helpers import assert_a_failed_call_keeps_the_caches

SCHEMES = ["learned", "sinusoidal", "rope", "alibi", "none"]


def make_model(positions: str = "learned", num_kv_heads: int | None = None, **options) -> GPT:
    torch.manual_seed(0)
    model = GPT(vocab_size=11, d_model=16, num_heads=4, num_layers=2, max_len=32,
                num_kv_heads=num_kv_heads, positions=positions, **options)
    with torch.no_grad():  # weights larger than the initial 0.02, so that every part matters
        for parameter in model.parameters():
            parameter.normal_(0, 0.3)
    return model.eval()


@pytest.mark.parametrize("positions", SCHEMES)
@pytest.mark.parametrize("num_kv_heads", [4, 1])
def test_cached_steps_give_the_logits_of_the_full_pass(positions, num_kv_heads):
    model = make_model(positions, num_kv_heads)
    tokens = torch.randint(11, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(tokens)  # (batch, T, vocab)
        caches = model.new_caches(2, 12)
        steps = [model(tokens[:, :5], caches)] + [model(tokens[:, t:t + 1], caches) for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("positions", SCHEMES)
def test_generation_with_and_without_the_cache_agree(positions):
    model = make_model(positions)
    prompt = torch.tensor([[1, 2, 3]])
    assert torch.equal(model.generate(prompt, 8), model.generate(prompt, 8, use_cache=False))


@settings(max_examples=25, deadline=None)
@given(changed=st.integers(1, 9), new_token=st.integers(0, 10))
def test_a_later_token_changes_no_earlier_logit(changed, new_token):
    model = make_model("rope")
    tokens = torch.arange(10).remainder(11)[None]  # (1, 10)
    other = tokens.clone()
    other[0, changed] = new_token
    with torch.no_grad():
        assert torch.equal(model(tokens)[:, :changed], model(other)[:, :changed])


def test_weights_are_kept_per_block_and_are_causal():
    model = make_model("alibi")
    with torch.no_grad():
        model(torch.randint(11, (2, 6)), need_weights=True)
    assert len(model.weights) == 2
    for weights in model.weights:
        assert weights.shape == (2, 4, 6, 6)
        assert torch.equal(weights.triu(1), torch.zeros_like(weights))
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 6))


def test_embeddings_are_tied_unless_asked_otherwise():
    tied = make_model()
    assert tied.unembed.weight is tied.token_embedding.weight
    untied = make_model(tie_embeddings=False)
    assert untied.unembed.weight is not untied.token_embedding.weight
    count = sum(p.numel() for p in tied.parameters())
    assert sum(p.numel() for p in untied.parameters()) == count + 11 * 16


def test_a_custom_attention_module_is_used_in_every_block():
    built = []

    def factory(layer: int) -> CausalSelfAttention:
        built.append(layer)
        return CausalSelfAttention(16, 2, 2)

    model = GPT(11, 16, 4, 3, max_len=8, attention=factory)
    assert built == [0, 1, 2]
    assert all(block.attention.num_heads == 2 for block in model.blocks)


def test_sampling_is_reproducible_with_a_seeded_generator():
    model = make_model("rope")
    prompt = torch.tensor([[1, 2]])
    first = model.generate(prompt, 10, temperature=1.0, generator=torch.Generator().manual_seed(3))
    again = model.generate(prompt, 10, temperature=1.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    assert not torch.equal(first, model.generate(prompt, 10))  # not the greedy tokens


def test_a_scheme_without_positions_cannot_tell_order():
    """With no positions, one layer's last position pools a set: it ignores the order.

    (With two causal layers it would not: the earlier positions see different
    prefixes, so the causal mask itself lets order in.)
    """
    torch.manual_seed(0)
    model = GPT(11, 16, 4, 1, positions="none").eval()
    with torch.no_grad():
        a = model(torch.tensor([[1, 2, 3, 4]]))[0, -1]
        b = model(torch.tensor([[3, 1, 2, 4]]))[0, -1]
    torch.testing.assert_close(a, b)


def test_bad_input_is_named_and_changes_no_cache():
    model = make_model()
    caches = model.new_caches(1, 32)
    with pytest.raises(ValueError, match=r"tokens must have shape \(batch, positions\), got \(3,\)"):
        model(torch.tensor([1, 2, 3]), caches)
    with pytest.raises(TypeError, match=r"tokens must be an int64 torch.Tensor of token ids, got torch.float32"):
        model(torch.zeros(1, 3), caches)
    with pytest.raises(ValueError, match=r"tokens ids must lie in \[0, 11\), got ids from 0 to 11"):
        model(torch.tensor([[0, 11]]), caches)
    assert len(caches[0]) == 0
    with pytest.raises(ValueError, match=r"position 32 has no learned vector: max_len=32"):
        model(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(ValueError, match=r"caches has 1 caches, the model 2 blocks"):
        model(torch.zeros(1, 3, dtype=torch.long), caches[:1])
    with pytest.raises(ValueError, match=r"a prompt of 30 and 5 new tokens exceed the 32 positions"):
        model.generate(torch.zeros(1, 30, dtype=torch.long), 5)
    with pytest.raises(ValueError, match=r"temperature must be >= 0, got -1"):
        model.generate(torch.zeros(1, 3, dtype=torch.long), 5, temperature=-1)
    with pytest.raises(ValueError, match=r"positions must be 'none', 'learned'"):
        GPT(11, 16, 4, 2, positions="relative")
    with pytest.raises(ValueError, match=r"learned positions need max_len"):
        GPT(11, 16, 4, 2)


def test_the_default_pattern_is_causal():
    mask = make_model().pattern(torch.arange(4), torch.arange(4))
    assert torch.equal(mask, torch.ones(4, 4, dtype=torch.bool).tril())


KINDS = {  # the model's options, for each kind of cache a block can hold
    "KVCache": {},
    "RollingKVCache": {"pattern": SlidingWindowPattern(window=4, num_sinks=1)},
    "LinearAttentionState": {"pattern": LinearAttentionPattern(),
                             "attention": lambda layer: LinearSelfAttention(16, 4)},
}
BAD_SECOND_CACHE = [  # (kinds it applies to, the second block's cache, error, words)
    (set(KINDS), lambda model, caches: model.new_caches(2, 32)[1], ValueError, r"caches\[1\] holds .*batch|caches\[1\] holds a state of shape \(2, "),
    (set(KINDS), lambda model, caches: "cache", TypeError, r"caches\[1\] must be a"),
    (set(KINDS) - {"LinearAttentionState"}, lambda model, caches: KVCache(1, 4, 32, 4, dtype=torch.float64),
     TypeError, r"caches\[1\] holds torch.float64 but the module's weights are torch.float32"),
    ({"KVCache", "LinearAttentionState"}, lambda model, caches: KVCache(1, 4, 32, 3), (TypeError, ValueError),
     r"caches\[1\] holds batch=1, kv_heads=4, d_head=3|caches\[1\] must be a LinearAttentionState, got KVCache"),
]


@pytest.mark.parametrize("kind, make_bad, error, words", [
    (kind, make_bad, error, words) for applies, make_bad, error, words in BAD_SECOND_CACHE for kind in KINDS if kind in applies])
def test_a_bad_cache_in_a_later_block_changes_no_cache(kind, make_bad, error, words):
    """Every block's cache is checked before the first block appends to its own."""
    model = make_model(**KINDS[kind])
    tokens = torch.randint(11, (1, 8), generator=torch.Generator().manual_seed(3))
    assert_a_failed_call_keeps_the_caches(
        model, tokens, 32, lambda caches: model(tokens[:, 3:4], [caches[0], make_bad(model, caches)]),
        error, words, tolerance=1e-5)


def test_a_full_cache_is_named_before_any_block_appends():
    model = make_model()
    caches = model.new_caches(1, 4)
    with pytest.raises(ValueError, match=r"cannot append 5 positions to caches\[0\], a KVCache holding 0 of its capacity 4"):
        model(torch.zeros(1, 5, dtype=torch.long), caches)
    assert [len(cache) for cache in caches] == [0, 0]

"""A failed call leaves no trace: every stateful object is byte-for-byte unchanged
after a call that raises, and the retried call gives the answer of the full pass.

Stateful objects: `KVCache`, `GroupedQueryAttention` with a cache, the decoding
loop of `TinyLanguageModel`, the layers and stacks that keep their attention
weights (`EncoderLayer`, `DecoderLayer`, `Transformer`, `Seq2SeqTransformer`),
`Adam`, and every module's parameters and buffers.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import (
    DecoderLayer,
    EncoderLayer,
    GroupedQueryAttention,
    KVCache,
    PositionalEncoding,
    Seq2SeqTransformer,
    Transformer,
    causal_mask,
)
from attention.fast.decoding import TinyLanguageModel
from attention.transformer.training import Adam


def as_bytes(x: torch.Tensor) -> bytes:
    return x.detach().contiguous().view(torch.uint8).numpy().tobytes()


def cache_state(cache: KVCache) -> tuple:
    return len(cache), as_bytes(cache.keys), as_bytes(cache.values)


def module_state(module: torch.nn.Module) -> dict[str, bytes]:
    return {name: as_bytes(value) for name, value in module.state_dict().items()}


def weights_state(layer) -> dict[str, bytes]:
    return {name: as_bytes(value) for name, value in layer.weights.items()}


# ---------------------------------------------------------------- KVCache


@pytest.mark.parametrize(
    "key, value",
    [
        (torch.ones(1, 2, 1, 3, dtype=torch.float64), torch.ones(1, 2, 1, 3, dtype=torch.float64)),
        (torch.ones(1, 2, 1, 3), torch.ones(1, 2, 1, 3, dtype=torch.float64)),
        (torch.ones(1, 2, 3, 3), torch.ones(1, 2, 3, 3)),  # no room for 3 more
        (torch.ones(1, 3, 1, 3), torch.ones(1, 3, 1, 3)),
        (torch.ones(1, 2, 1, 3), torch.ones(1, 2, 2, 3)),
        (torch.ones(1, 2, 1, 3, dtype=torch.long), torch.ones(1, 2, 1, 3)),
        ("keys", torch.ones(1, 2, 1, 3)),
    ],
    ids=["float64", "value float64", "full", "heads", "positions differ", "integers", "not a tensor"],
)
def test_a_failed_append_changes_nothing(key, value):
    cache = KVCache(1, 2, 4, 3)
    cache.append(torch.randn(1, 2, 2, 3), torch.randn(1, 2, 2, 3))
    before = cache_state(cache)
    with pytest.raises((ValueError, TypeError)):
        cache.append(key, value)
    assert cache_state(cache) == before
    keys, _ = cache.append(torch.full((1, 2, 1, 3), 7.0), torch.full((1, 2, 1, 3), 7.0))
    assert keys.shape[2] == 3 and torch.equal(keys[:, :, 2], torch.full((1, 2, 3), 7.0))


# ---------------------------------------------------------------- grouped-query attention with a cache


def bad_step_calls(batch: int, t: int, num_keys: int):
    """Ways to get step t wrong, each as kwargs for forward (x of the step is filled in)."""
    return {
        "mask too long": dict(mask=torch.ones(batch, 1, num_keys + 4, dtype=torch.bool)),
        "mask of ints": dict(mask=torch.ones(batch, 1, num_keys, dtype=torch.long)),
        "mask of the wrong batch": dict(mask=torch.ones(batch + 1, 1, num_keys, dtype=torch.bool)),
        "need_weights not a bool": dict(need_weights="yes"),
        "causal not a bool": dict(causal="yes"),
        "float64 input": dict(x=torch.ones(batch, 1, 12, dtype=torch.float64)),
        "input of another size": dict(x=torch.ones(batch, 1, 8)),
        "another batch": dict(x=torch.ones(batch + 1, 1, 12)),
        "more queries than keys, causal": dict(query=torch.ones(batch, num_keys + 1, 12)),
        "float64 cache": dict(cache_dtype=torch.float64),
    }


@settings(max_examples=30, deadline=None)
@given(
    num_kv_heads=st.sampled_from([1, 2, 4]),
    t=st.integers(0, 4),
    bad=st.sampled_from(sorted(bad_step_calls(2, 0, 1))),
    need_weights=st.booleans(),
)
def test_a_failed_decoding_step_changes_nothing_and_the_retry_matches_the_full_pass(
    num_kv_heads, t, bad, need_weights
):
    torch.manual_seed(0)
    attend = GroupedQueryAttention(12, 4, num_kv_heads).eval()
    batch, length = 2, 5
    x = torch.randn(batch, length, 12)
    params = module_state(attend)
    with torch.no_grad():
        full, _ = attend(x, x, x, causal=True)  # (batch, T, d_model)
        cache = attend.new_cache(batch, length)
        outputs = []
        for step in range(length):
            x_t = x[:, step : step + 1]
            if step == t:
                kwargs = bad_step_calls(batch, step, step + 1)[bad]
                before = cache_state(cache)
                bad_x = kwargs.pop("x", x_t)
                query = kwargs.pop("query", bad_x)
                bad_cache = cache
                if "cache_dtype" in kwargs:
                    bad_cache = KVCache(batch, num_kv_heads, length, 3, dtype=kwargs.pop("cache_dtype"))
                kwargs.setdefault("causal", True)
                kwargs.setdefault("need_weights", need_weights)
                with pytest.raises((ValueError, TypeError)):
                    attend(query, bad_x, bad_x, cache=bad_cache, **kwargs)
                assert cache_state(cache) == before
            mask = torch.ones(batch, 1, step + 1, dtype=torch.bool)  # the right mask, retried
            out, _ = attend(x_t, x_t, x_t, mask, causal=True, cache=cache, need_weights=need_weights)
            outputs.append(out)
    torch.testing.assert_close(torch.cat(outputs, dim=1), full, atol=1e-6, rtol=1e-5)
    assert module_state(attend) == params


def test_the_reported_case_a_mask_of_seven_keys_at_step_three():
    torch.manual_seed(0)
    attend = GroupedQueryAttention(12, 4, 2).eval()
    x = torch.randn(2, 3, 12)
    with torch.no_grad():
        full, _ = attend(x, x, x, causal=True, need_weights=False)
        cache = attend.new_cache(2, 3)
        attend(x[:, :2], x[:, :2], x[:, :2], causal=True, cache=cache)
        with pytest.raises(ValueError, match=r"mask of shape \(2, 1, 7\)"):
            attend(x[:, 2:], x[:, 2:], x[:, 2:], torch.ones(2, 1, 7, dtype=torch.bool),
                   causal=True, cache=cache, need_weights=False)
        assert len(cache) == 2
        last, _ = attend(x[:, 2:], x[:, 2:], x[:, 2:], torch.ones(2, 1, 3, dtype=torch.bool),
                         causal=True, cache=cache, need_weights=False)
    torch.testing.assert_close(last, full[:, 2:], atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------- the decoding loop of TinyLanguageModel


@pytest.mark.parametrize(
    "make_bad",
    [
        lambda model, caches: (torch.zeros(1, 30, dtype=torch.long), caches),  # beyond max_len
        lambda model, caches: (torch.full((1, 1), 99), caches),  # id outside the vocabulary
        lambda model, caches: (torch.zeros(1, 1), caches),  # floats
        lambda model, caches: (torch.zeros(2, 1, dtype=torch.long), caches),  # another batch
        lambda model, caches: (torch.zeros(1, 1, dtype=torch.long), caches[:1]),  # a cache missing
        lambda model, caches: (torch.zeros(1, 1, dtype=torch.long), caches[:1] + [caches[1], caches[1]]),
        lambda model, caches: (torch.zeros(1, 9, dtype=torch.long), caches),  # no room left
    ],
    ids=["too long", "bad id", "floats", "batch", "missing cache", "extra cache", "no room"],
)
def test_a_failed_model_step_changes_no_cache(make_bad):
    torch.manual_seed(0)
    model = TinyLanguageModel(vocab_size=20, d_model=8, num_heads=2, num_kv_heads=1,
                              num_layers=2, max_len=12).eval()
    tokens = torch.randint(0, 20, (1, 6))
    with torch.no_grad():
        full = model(tokens)
        caches = model.new_caches(1, 6)
        model(tokens[:, :4], caches)
        before = [cache_state(cache) for cache in caches]
        bad_tokens, bad_caches = make_bad(model, caches)
        with pytest.raises((ValueError, TypeError)):
            model(bad_tokens, bad_caches)
        assert [cache_state(cache) for cache in caches] == before
        rest = model(tokens[:, 4:], caches)
    torch.testing.assert_close(rest, full[:, 4:], atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- layers that keep their weights


def layer_calls():
    """(name, make, good call, bad call); the bad call's other inputs differ from the good
    call's, so weights kept from its first sublayers would show."""
    x, memory = torch.randn(2, 3, 8), torch.randn(2, 4, 8)
    y, other_memory = torch.randn(2, 3, 8), torch.randn(2, 4, 8)
    source, target = torch.randint(3, 13, (2, 4)), torch.randint(3, 13, (2, 3))
    other_source = torch.randint(3, 13, (2, 4))
    good_mask = causal_mask(3)
    return [
        ("encoder", lambda: EncoderLayer(8, 2, 16),
         lambda m: m(x, need_weights=True),
         lambda m: m(y, torch.ones(2, 1, 5, dtype=torch.bool), need_weights=True)),
        ("decoder memory mask", lambda: DecoderLayer(8, 2, 16),
         lambda m: m(x, memory, good_mask, need_weights=True),
         lambda m: m(y, other_memory, good_mask, torch.ones(2, 1, 3, dtype=torch.bool), need_weights=True)),
        ("decoder memory batch", lambda: DecoderLayer(8, 2, 16),
         lambda m: m(x, memory, good_mask, need_weights=True),
         lambda m: m(y, other_memory[:1], good_mask, need_weights=True)),
        ("transformer memory mask", lambda: Transformer(8, 2, 2, 2, 16),
         lambda m: m(memory, x, target_mask=good_mask, need_weights=True),
         lambda m: m(other_memory, y, target_mask=good_mask, memory_mask=torch.ones(3, 3, dtype=torch.bool),
                     need_weights=True)),
        ("transformer target", lambda: Transformer(8, 2, 2, 2, 16),
         lambda m: m(memory, x, need_weights=True),
         lambda m: m(other_memory, y[..., :6], need_weights=True)),
        ("seq2seq long target", lambda: Seq2SeqTransformer(13, 13, 8, 2, 1, 1, 16, max_len=6),
         lambda m: m(source, target, need_weights=True),
         lambda m: m(other_source, torch.randint(3, 13, (2, 7)), need_weights=True)),
        ("seq2seq bad target id", lambda: Seq2SeqTransformer(13, 13, 8, 2, 1, 1, 16, max_len=6),
         lambda m: m(source, target, need_weights=True),
         lambda m: m(other_source, torch.full((2, 3), 40), need_weights=True)),
    ]


def kept_weights(model) -> list[dict[str, bytes]]:
    return [weights_state(layer) for layer in model.modules() if isinstance(layer, (EncoderLayer, DecoderLayer))]


@pytest.mark.parametrize("name, make, good, bad", layer_calls(), ids=[c[0] for c in layer_calls()])
def test_a_failed_call_keeps_the_weights_of_the_last_good_one(name, make, good, bad):
    torch.manual_seed(0)
    model = make().eval()
    with torch.no_grad():
        first = good(model)
        weights, params = kept_weights(model), module_state(model)
        with pytest.raises((ValueError, TypeError)):
            bad(model)
        assert kept_weights(model) == weights
        assert module_state(model) == params
        torch.testing.assert_close(good(model), first)


# ---------------------------------------------------------------- Adam and the positional table


@pytest.mark.parametrize("lr", [-1.0, float("nan"), "0.1"])
def test_a_refused_step_leaves_adam_as_it_was(lr):
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = Adam([w])
    (w**2).sum().backward()
    optimizer.step(0.1)
    before = (optimizer.steps, as_bytes(optimizer.m[0]), as_bytes(optimizer.v[0]), as_bytes(w))
    with pytest.raises((ValueError, TypeError)):
        optimizer.step(lr)
    assert (optimizer.steps, as_bytes(optimizer.m[0]), as_bytes(optimizer.v[0]), as_bytes(w)) == before


def test_the_positional_table_is_exact_in_every_dtype_it_is_converted_to():
    from attention import sinusoidal_encoding

    encode = PositionalEncoding(16, 50).double()
    assert torch.equal(encode.encoding, sinusoidal_encoding(50, 16, dtype=torch.float64))
    x = torch.zeros(1, 50, 16, dtype=torch.float64)
    assert torch.equal(PositionalEncoding(16, 50)(x)[0], sinusoidal_encoding(50, 16, dtype=torch.float64))
    encode = encode.float().double()  # through float32 and back: still exact
    assert torch.equal(encode.encoding, sinusoidal_encoding(50, 16, dtype=torch.float64))

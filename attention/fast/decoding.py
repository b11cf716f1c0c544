"""Greedy decoding with and without a KV cache, on a small causal language model.

Without a cache, every step runs the whole sequence so far through the model
to get the next token: step t costs O(t) projections and O(t^2) attention
scores. With a cache (`attention.KVCache`, one per layer), the first step runs
the prompt and fills the caches; every later step runs only the newest token,
whose query attends to the cached keys and values. Both give the same tokens.

The model has random weights: it exists to time and test decoding, not to
write anything sensible.
"""

from __future__ import annotations

import torch
from torch import nn

from attention.fast.grouped_query import GroupedQueryAttention
from attention.fast.kv_cache import KVCache
from attention.transformer.layers import FeedForward, residual
from attention.validation import (
    check_bool,
    check_count,
    check_fits,
    check_positive,
    check_token_ids,
)


class DecoderBlock(nn.Module):
    """Pre-norm decoder block: x + attention(norm(x)), then x + MLP(norm(x)), causal.

    The residual rule and the feed-forward network are those of the
    Transformer's layers (`attention.transformer_layers`), with GELU.
    """

    def __init__(self, d_model: int, num_heads: int, num_kv_heads: int) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = GroupedQueryAttention(d_model, num_heads, num_kv_heads)
        self.mlp_norm = nn.LayerNorm(d_model)
        self.mlp = FeedForward(d_model, 4 * d_model, activation=nn.GELU())

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """`(batch, T, d_model)` -> `(batch, T, d_model)`; with a cache, T new positions."""

        def attend(h: torch.Tensor) -> torch.Tensor:
            return self.attention(h, h, h, causal=True, cache=cache, need_weights=False)[0]

        x = residual(x, self.attention_norm, attend, norm_first=True)  # (batch, T, d_model)
        return residual(x, self.mlp_norm, self.mlp, norm_first=True)  # (batch, T, d_model)


class TinyLanguageModel(nn.Module):
    """A decoder-only language model: token and position embeddings, causal blocks, logits.

    Args:
        vocab_size: the number of tokens.
        d_model, num_heads, num_kv_heads: the sizes of every attention layer.
        num_layers: the number of decoder blocks.
        max_len: the longest sequence it can position.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> model = TinyLanguageModel(vocab_size=50, d_model=16, num_heads=4, num_kv_heads=2,
        ...                           num_layers=2, max_len=32).eval()
        >>> prompt = torch.tensor([[1, 2, 3]])                     # (batch, prompt length)
        >>> fast = model.generate(prompt, num_tokens=10)           # one new token per step
        >>> slow = model.generate(prompt, num_tokens=10, use_cache=False)
        >>> fast.shape, torch.equal(fast, slow)
        (torch.Size([1, 13]), True)
    """

    def __init__(
        self, vocab_size: int, d_model: int, num_heads: int, num_kv_heads: int,
        num_layers: int, max_len: int,
    ) -> None:
        super().__init__()
        self.max_len = check_positive("max_len", max_len)
        self.token_embedding = nn.Embedding(check_positive("vocab_size", vocab_size), d_model)
        self.position_embedding = nn.Embedding(max_len, d_model)
        num_layers = check_count("num_layers", num_layers)
        self.blocks = nn.ModuleList(
            DecoderBlock(d_model, num_heads, num_kv_heads) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.unembed = nn.Linear(d_model, vocab_size, bias=False)

    def new_caches(self, batch: int, capacity: int) -> list[KVCache]:
        """One empty `KVCache` per block."""
        return [block.attention.new_cache(batch, capacity) for block in self.blocks]

    def forward(self, tokens: torch.Tensor, caches: list[KVCache] | None = None) -> torch.Tensor:
        """Logits `(batch, T, vocab)` for tokens `(batch, T)`, which follow the cached positions.

        Raises:
            TypeError: tokens not an int64 tensor, caches not one `KVCache` per block.
            ValueError: ids outside the vocabulary, more positions than max_len,
                caches of other sizes or lengths, or without room for T positions.
                A call that raises leaves the caches as they were.
        """
        check_token_ids("tokens", tokens, self.token_embedding.num_embeddings)
        batch, length = tokens.shape
        start = self._check_caches(caches, batch, length)
        check_fits("tokens", start + length, "max_len", self.max_len)
        positions = torch.arange(start, start + length, device=tokens.device)  # (T,)
        x = self.token_embedding(tokens) + self.position_embedding(positions)  # (batch, T, d_model)
        for i, block in enumerate(self.blocks):
            x = block(x, caches[i] if caches else None)  # (batch, T, d_model)
        return self.unembed(self.norm(x))  # (batch, T, vocab)

    def _check_caches(self, caches: list[KVCache] | None, batch: int, length: int) -> int:
        """Check one cache per block, all holding as many positions; return that number."""
        if caches is None:
            return 0
        if not isinstance(caches, (list, tuple)) or len(caches) != len(self.blocks):
            raise TypeError(
                f"caches must be a list of {len(self.blocks)} KVCaches (one per block), got {caches!r}"
            )
        lengths = {len(cache) for cache in caches if isinstance(cache, KVCache)}
        if len(lengths) > 1:
            raise ValueError(f"the caches hold different numbers of positions: {sorted(lengths)}")
        for block, cache in zip(self.blocks, caches):
            if not isinstance(cache, KVCache):
                raise TypeError(f"caches must hold KVCaches, got {type(cache).__name__}")
            attention = block.attention
            shape = (batch, attention.num_kv_heads, length, attention.d_head)
            cache.check_append(shape, shape, attention.w_k.weight.dtype)
        return len(caches[0]) if caches else 0

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, num_tokens: int, *, use_cache: bool = True
    ) -> torch.Tensor:
        """Extend `prompt` `(batch, P)` by `num_tokens` greedy tokens: `(batch, P + num_tokens)`.

        Raises:
            ValueError: an empty prompt, or P + num_tokens > max_len.
        """
        num_tokens = check_count("num_tokens", num_tokens)
        use_cache = check_bool("use_cache", use_cache)
        check_token_ids("prompt", prompt, self.token_embedding.num_embeddings, min_positions=1)
        if prompt.shape[1] + num_tokens > self.max_len:
            raise ValueError(
                f"a prompt of {prompt.shape[1]} and {num_tokens} new tokens "
                f"exceed max_len={self.max_len}"
            )
        caches = self.new_caches(prompt.shape[0], prompt.shape[1] + num_tokens) if use_cache else None
        tokens, new = prompt, prompt  # (batch, P)
        for _ in range(num_tokens):
            logits = self(new if use_cache else tokens, caches)  # (batch, T, vocab)
            next_token = logits[:, -1].argmax(dim=-1, keepdim=True)  # (batch, 1)
            tokens = torch.cat([tokens, next_token], dim=1)  # (batch, P + steps)
            new = next_token  # with a cache, only the newest token is run
        return tokens

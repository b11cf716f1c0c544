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

from attention._checks import check_count
from attention.fast.grouped_query import GroupedQueryAttention
from attention.fast.kv_cache import KVCache


class DecoderBlock(nn.Module):
    """Pre-norm decoder block: x + attention(norm(x)), then x + MLP(norm(x)), causal."""

    def __init__(self, d_model: int, num_heads: int, num_kv_heads: int) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = GroupedQueryAttention(d_model, num_heads, num_kv_heads)
        self.mlp_norm = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """`(batch, T, d_model)` -> `(batch, T, d_model)`; with a cache, T new positions."""
        normed = self.attention_norm(x)  # (batch, T, d_model)
        attended, _ = self.attention(
            normed, normed, normed, causal=True, cache=cache, need_weights=False
        )  # (batch, T, d_model)
        x = x + attended  # (batch, T, d_model)
        return x + self.mlp(self.mlp_norm(x))  # (batch, T, d_model)


class TinyLanguageModel(nn.Module):
    """A decoder-only language model: token and position embeddings, causal blocks, logits.

    Args:
        vocab_size: the number of tokens.
        d_model, num_heads, num_kv_heads: the sizes of every attention layer.
        num_layers: the number of decoder blocks.
        max_len: the longest sequence it can position.

    Example:
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
        self.max_len = check_count("max_len", max_len)
        self.token_embedding = nn.Embedding(vocab_size, d_model)
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
        """Logits `(batch, T, vocab)` for tokens `(batch, T)`, which follow the cached positions."""
        start = len(caches[0]) if caches else 0
        positions = torch.arange(start, start + tokens.shape[1], device=tokens.device)  # (T,)
        x = self.token_embedding(tokens) + self.position_embedding(positions)  # (batch, T, d_model)
        for i, block in enumerate(self.blocks):
            x = block(x, caches[i] if caches else None)  # (batch, T, d_model)
        return self.unembed(self.norm(x))  # (batch, T, vocab)

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, num_tokens: int, *, use_cache: bool = True
    ) -> torch.Tensor:
        """Extend `prompt` `(batch, P)` by `num_tokens` greedy tokens: `(batch, P + num_tokens)`.

        Raises:
            ValueError: an empty prompt, or P + num_tokens > max_len.
        """
        num_tokens = check_count("num_tokens", num_tokens)
        if prompt.ndim != 2 or prompt.shape[1] == 0:
            raise ValueError(
                f"prompt must have shape (batch, positions >= 1), got {tuple(prompt.shape)}"
            )
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

"""A small decoder-only language model in the GPT style, built to be varied.

Tokens -> token embedding (+ position vectors, for absolute schemes) -> N
pre-norm blocks, each `x + attention(norm(x))` then `x + MLP(norm(x))`, with
causal self-attention -> a final layer norm -> logits over the vocabulary, the
output matrix tied to the embedding by default (Press and Wolf, 2017).

Part V of the book changes one thing at a time in this model, so each of the
things that differ between today's models is a constructor option:

* `positions`: the position scheme ("learned", "sinusoidal", "rope", "alibi",
  "none", or any `PositionScheme`): where word order enters (embed, rotate
  queries and keys, or bias the scores);
* `pattern`: which keys each query may see, as a function of their positions
  (`CausalPattern`, or `attention.SlidingWindowPattern`); it also makes the
  caches for decoding (`pattern.new_cache`), so a windowed model keeps a
  rolling cache of fixed size; `forward` and `generate` take another pattern
  for one call, to run a trained model differently;
* `attention`: a function `layer index -> module` that builds each layer's
  attention, for a different kind altogether. The module is called as
  `module(x, positions, scheme=..., pattern=..., cache=..., need_weights=...)`
  and returns `(output (batch, T, d_model), weights or None)`, as
  `CausalSelfAttention` does. A module whose cache the pattern cannot make
  (`attention.MultiHeadLatentAttention`, which caches latents) says so with
  `makes_own_cache = True` and makes it with `new_cache(batch, capacity)`; it
  may also have `check_cache(cache, batch, new, name)`, which `forward` calls
  on every cache before any is changed;
* `num_kv_heads`: grouped-query attention (Chapter 17).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from attention.validation import check_count, check_generator, check_model_input
from attention.validation import check_module, check_positive, check_real, check_token_ids
from attention.modern.causal_pattern import CausalPattern, cached_positions, check_pattern  # noqa: F401 (CausalPattern: for readers)
from attention.modern.causal_self_attention import CausalSelfAttention
from attention.modern.position_schemes import PositionScheme, make_position_scheme
from attention.transformer.layers import FeedForward


class GPTBlock(nn.Module):
    """Pre-norm decoder block: `x + attention(norm(x))`, then `x + MLP(norm(x))`.

    Members: attention_norm, attention, mlp_norm, mlp (`FeedForward`), and
    `weights`, the attention weights `(batch, heads, Tq, Tk)` of the last call
    made with `need_weights=True`.
    """

    def __init__(self, d_model: int, d_ff: int, attention: nn.Module) -> None:
        super().__init__()
        check_module("attention", attention, "one layer's attention")
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = attention
        self.mlp_norm = nn.LayerNorm(d_model)
        self.mlp = FeedForward(d_model, d_ff)
        self.weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, positions: torch.Tensor, **attention_options) -> torch.Tensor:
        """`x` `(batch, T, d_model)` at `positions` `(T,)` -> `(batch, T, d_model)`."""
        weight = self.attention_norm.weight  # (d_model,)
        check_model_input("x", x, "d_model", weight.shape[0], weight)
        attended, self.weights = self.attention(self.attention_norm(x), positions, **attention_options)
        x = x + attended  # (batch, T, d_model)
        return x + self.mlp(self.mlp_norm(x))  # (batch, T, d_model)


class GPT(nn.Module):
    """A decoder-only language model: embeddings, causal pre-norm blocks, tied logits.

    Args:
        vocab_size: the number of tokens.
        d_model: the size of every position's vector.
        num_heads: the attention heads of every block; must divide d_model.
        num_layers: the number of blocks.
        max_len: the most positions the model reads; needed by learned
            positions only (the others are defined for every position).
        num_kv_heads: key/value heads (grouped-query attention); None = num_heads.
        d_ff: the hidden size of the MLP; None = 4 * d_model.
        positions: the position scheme: "learned", "sinusoidal", "rope",
            "alibi", "none" or a `PositionScheme`.
        pattern: which keys each query sees; None = `CausalPattern()`.
        tie_embeddings: the output matrix is the token embedding's.
        attention: a function `layer index -> attention module`; None builds
            `CausalSelfAttention` layers.

    Members:
        token_embedding, positions (the scheme), pattern, blocks, norm, unembed,
        and `weights`, the attention weights of every block from the last call
        made with `need_weights=True`: a list of `(batch, heads, Tq, Tk)`.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> model = GPT(vocab_size=20, d_model=16, num_heads=4, num_layers=2, positions="rope").eval()
        >>> tokens = torch.randint(20, (3, 10))                     # (batch, T)
        >>> model(tokens).shape                                     # logits (batch, T, vocab)
        torch.Size([3, 10, 20])
        >>> prompt = tokens[:1, :4]
        >>> fast = model.generate(prompt, 6)                         # greedy, with a KV cache
        >>> torch.equal(fast, model.generate(prompt, 6, use_cache=False))
        True
    """

    def __init__(
        self, vocab_size: int, d_model: int, num_heads: int, num_layers: int, *,
        max_len: int | None = None, num_kv_heads: int | None = None, d_ff: int | None = None,
        positions: str | PositionScheme = "learned", pattern: Callable | None = None,
        tie_embeddings: bool = True, attention: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.vocab_size = check_positive("vocab_size", vocab_size)
        d_model, num_heads = check_positive("d_model", d_model), check_positive("num_heads", num_heads)
        num_layers = check_count("num_layers", num_layers)
        if attention is not None and not callable(attention):
            raise TypeError(f"attention must be a function layer index -> module, "
                            f"got {type(attention).__name__}")
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        d_ff = 4 * d_model if d_ff is None else check_count("d_ff", d_ff)
        if attention is None:
            def attention(layer: int) -> nn.Module:
                return CausalSelfAttention(d_model, num_heads, num_kv_heads)
        self.token_embedding = nn.Embedding(self.vocab_size, d_model)
        self.positions = make_position_scheme(positions, d_model=d_model, num_heads=num_heads,
                                              max_len=max_len)
        self.pattern = check_pattern(pattern)
        self.blocks = nn.ModuleList(GPTBlock(d_model, d_ff, attention(i)) for i in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.unembed = nn.Linear(d_model, self.vocab_size, bias=False)
        self.apply(self._init_weights)
        if tie_embeddings:
            self.unembed.weight = self.token_embedding.weight
        self.weights: list[torch.Tensor] = []

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2's initialisation: weights N(0, 0.02), biases 0, so the first logits are small."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def new_caches(self, batch: int, capacity: int, pattern: Callable | None = None) -> list:
        """One empty cache per block, made by the pattern (a `KVCache` for causal attention).

        An attention module with `makes_own_cache = True` makes its own instead,
        `module.new_cache(batch, capacity)` (a `LatentCache` for multi-head latent
        attention, whatever the pattern: the pattern still masks its keys).

        Args:
            batch: the number of sequences decoded together.
            capacity: the most positions each cache holds (a rolling cache may hold fewer).
            pattern: the pattern that makes the caches; None = the model's own.

        Examples:
            >>> from attention.modern.latent_attention import MultiHeadLatentAttention
            >>> model = GPT(10, d_model=8, num_heads=2, num_layers=2, positions="none",
            ...             attention=lambda layer: MultiHeadLatentAttention(8, 2, 4, d_c=3, d_r=2))
            >>> [type(cache).__name__ for cache in model.new_caches(batch=1, capacity=16)]
            ['LatentCache', 'LatentCache']
        """
        pattern = self.pattern if pattern is None else check_pattern(pattern)
        caches = []
        for block in self.blocks:
            attention = block.attention
            if getattr(attention, "makes_own_cache", False):
                caches.append(attention.new_cache(batch, capacity))
                continue
            if not hasattr(pattern, "new_cache"):
                raise TypeError(f"pattern {pattern!r:.60} has no new_cache(...) to make the caches")
            weight = attention.w_k.weight
            caches.append(pattern.new_cache(batch, attention.num_kv_heads, attention.d_head, capacity,
                                            weight.dtype, weight.device))
        return caches

    def _check_caches(self, caches: list, batch: int, new: int) -> int:
        """Check one cache per block, each of its block's kind, all at one position; return it."""
        if not isinstance(caches, (list, tuple)):
            raise TypeError(f"caches must be a list of {len(self.blocks)} caches (one per block), "
                             f"got {type(caches).__name__}")
        if len(caches) != len(self.blocks):
            raise ValueError(f"caches has {len(caches)} caches, the model {len(self.blocks)} blocks")
        for i, (block, cache) in enumerate(zip(self.blocks, caches)):
            check = getattr(block.attention, "check_cache", None)
            if check is not None:
                check(cache, batch, new, name=f"caches[{i}]")
        starts = [cached_positions(cache)[1] for cache in caches]
        if len(set(starts)) > 1:
            raise ValueError(f"the caches hold different numbers of positions: {starts}")
        return starts[0] if starts else 0

    def forward(
        self, tokens: torch.Tensor, caches: list | None = None, *,
        pattern: Callable | None = None, need_weights: bool = False,
    ) -> torch.Tensor:
        """Logits `(batch, T, vocab)` for tokens `(batch, T)`, which follow the cached positions.

        Args:
            tokens: int64 token ids.
            caches: one cache per block (`new_caches`), or None.
            pattern: the pattern for this call; None = the model's own.
            need_weights: keep every block's attention weights in `self.weights`.

        Raises:
            TypeError: tokens that are not an int64 tensor; caches that are not a
                list; a cache of the wrong kind or dtype for its block; a pattern
                that is not a function of positions.
            ValueError: tokens not `(batch, T)` or outside the vocabulary; not one
                cache per block; caches at different positions; a cache of the
                wrong sizes or without room. A cache is named as `caches[i]`, and
                every cache is checked (its block's `check_cache`) before any is
                changed.
        """
        check_token_ids("tokens", tokens, self.vocab_size)
        pattern = self.pattern if pattern is None else check_pattern(pattern)
        start = self._check_caches(caches, *tokens.shape) if caches is not None else 0
        positions = torch.arange(start, start + tokens.shape[1], device=tokens.device)  # (T,)
        x = self.positions.embed(self.token_embedding(tokens), positions)  # (batch, T, d_model)
        for i, block in enumerate(self.blocks):
            x = block(x, positions, scheme=self.positions, pattern=pattern,
                      cache=caches[i] if caches else None, need_weights=need_weights)
        self.weights = [block.weights for block in self.blocks] if need_weights else []
        return self.unembed(self.norm(x))  # (batch, T, vocab)

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, num_tokens: int, *, temperature: float = 0.0,
        generator: torch.Generator | None = None, use_cache: bool = True,
        pattern: Callable | None = None,
    ) -> torch.Tensor:
        """Extend `prompt` `(batch, P)` by `num_tokens` tokens: `(batch, P + num_tokens)`.

        Args:
            temperature: 0 takes the most likely token (greedy); above 0 samples
                from `softmax(logits / temperature)` with `generator`.
            use_cache: run only the newest token at each step, with caches made
                by the pattern; False runs the whole sequence every step.
            pattern: the pattern for this generation; None = the model's own.

        Raises:
            TypeError: a prompt that is not an int64 tensor, a temperature that is
                not a number, a generator that is not a `torch.Generator`.
            ValueError: an empty prompt or ids outside the vocabulary, a negative
                temperature, or more positions than the position scheme has.
        """
        num_tokens = check_count("num_tokens", num_tokens)
        check_token_ids("prompt", prompt, self.vocab_size, min_positions=1)
        if not check_real("temperature", temperature) >= 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if generator is not None:
            check_generator(generator)
        total = prompt.shape[1] + num_tokens
        if self.positions.max_len is not None and total > self.positions.max_len:
            raise ValueError(f"a prompt of {prompt.shape[1]} and {num_tokens} new tokens exceed "
                             f"the {self.positions.max_len} positions the model has")
        caches = self.new_caches(prompt.shape[0], total, pattern) if use_cache else None
        tokens = new = prompt  # (batch, P)
        for _ in range(num_tokens):
            logits = self(new if use_cache else tokens, caches, pattern=pattern)[:, -1]  # (batch, vocab)
            if temperature == 0:
                new = logits.argmax(dim=-1, keepdim=True)  # (batch, 1)
            else:
                probabilities = torch.softmax(logits / temperature, dim=-1)
                new = torch.multinomial(probabilities, 1, generator=generator)  # (batch, 1)
            tokens = torch.cat([tokens, new], dim=1)
        return tokens

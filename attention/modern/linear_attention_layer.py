"""Linear attention inside `attention.GPT`: a layer, and a pattern whose cache is a fixed-size state.

`attention.GPT(..., attention=lambda layer: LinearSelfAttention(d_model, num_heads),
pattern=LinearAttentionPattern())` is the model of Chapter 18 with every softmax
attention replaced by causal linear attention (`attention.modern.linear_attention`). To
decode, the pattern gives each layer a `LinearAttentionState` instead of a KV
cache: the memory of a decoding layer stays the same however long the text.
"""

from __future__ import annotations

import torch

from attention.modern.causal_pattern import CausalPattern
from attention.fast.grouped_query import GroupedQueryAttention
from attention.modern.linear_attention import LinearAttentionState, linear_attention
from attention.modern.position_schemes import PositionScheme, check_input_positions


class LinearSelfAttention(GroupedQueryAttention):
    """Causal linear self-attention with the projections of multi-head attention.

    Called as `attention.GPT` calls its layers: `(x (batch, T, d_model), positions
    (T,), scheme=, pattern=, cache=, need_weights=)` -> `(output (batch, T, d_model),
    None)`: there are no weights to return. Queries and keys are rotated by the
    scheme (if it rotates) before the feature map; a scheme with a score bias is
    refused, since no scores are formed. With a `LinearAttentionState` as cache,
    the new positions are run one step at a time and the state carries them on.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> layer = LinearSelfAttention(d_model=8, num_heads=2)
        >>> x = torch.randn(1, 5, 8)                                  # (batch, T, d_model)
        >>> full, _ = layer(x, torch.arange(5))
        >>> state = LinearAttentionPattern().new_cache(1, 2, 4, 5, torch.float32, None)
        >>> with torch.no_grad():
        ...     steps = [layer(x[:, t:t + 1], torch.arange(t, t + 1), cache=state)[0] for t in range(5)]
        >>> torch.allclose(torch.cat(steps, dim=1), full, atol=1e-6)
        True
    """

    def __init__(self, d_model: int, num_heads: int, bias: bool = True) -> None:
        super().__init__(d_model, num_heads, num_heads, bias=bias)

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, positions: torch.Tensor, *,
        scheme: PositionScheme | None = None, pattern: object | None = None,
        cache: LinearAttentionState | None = None, need_weights: bool = False,
    ) -> tuple[torch.Tensor, None]:
        """`(batch, T, d_model)` at `positions` `(T,)` -> `(output (batch, T, d_model), None)`."""
        check_input_positions(x, positions, self.d_model, self.w_q.weight)
        scheme = PositionScheme() if scheme is None else scheme
        if not isinstance(scheme, PositionScheme):
            raise TypeError(f"scheme must be a PositionScheme, got {type(scheme).__name__}")
        if scheme.bias(positions[:1], positions[:1]) is not None:
            raise ValueError(f"linear attention forms no scores, so it cannot take the score "
                             f"bias of {type(scheme).__name__}")
        if cache is not None:
            self.check_cache(cache, x.shape[0], x.shape[1])
        q = scheme.rotate(self.split_heads(self.w_q(x)), positions)  # (batch, heads, T, d_head)
        k = scheme.rotate(self.split_heads(self.w_k(x)), positions)  # (batch, heads, T, d_head)
        v = self.split_heads(self.w_v(x))  # (batch, heads, T, d_head)
        if cache is None:
            heads = linear_attention(q, k, v, causal=True)  # (batch, heads, T, d_head)
        else:
            steps = [cache.step(q[:, :, t], k[:, :, t], v[:, :, t]) for t in range(x.shape[1])]
            heads = torch.stack(steps, dim=2)  # (batch, heads, T, d_head)
        return self.w_o(heads.transpose(1, 2).flatten(-2)), None  # (batch, T, d_model)

    def check_cache(self, cache: object, batch: int, new: int, name: str = "cache") -> None:
        """Raise unless `cache` is a `LinearAttentionState` of this layer's sizes and dtype.

        `attention.GPT` calls it on every block's cache before any is changed; a state
        has room for any number of new positions.
        """
        if not isinstance(cache, LinearAttentionState):
            raise TypeError(f"{name} must be a LinearAttentionState, got {type(cache).__name__}")
        needed = (batch, self.num_heads, self.d_head, self.d_head)
        if tuple(cache.state.shape) != needed:
            raise ValueError(f"{name} holds a state of shape {tuple(cache.state.shape)}; this call "
                             f"needs {needed} (batch, heads, d_head, d_head)")
        if cache.state.dtype != self.w_k.weight.dtype:
            raise TypeError(f"{name} holds {cache.state.dtype} but the module's weights are {self.w_k.weight.dtype}")


class LinearAttentionPattern(CausalPattern):
    """The causal pattern, whose caches are `LinearAttentionState`s (one per layer).

    Examples:
        >>> state = LinearAttentionPattern().new_cache(2, 4, 8, 1000, torch.float32, None)
        >>> state.state.shape, state.nbytes()                        # the same for any capacity
        (torch.Size([2, 4, 8, 8]), 2304)
    """

    def new_cache(
        self, batch: int, num_kv_heads: int, d_head: int, capacity: int, dtype: torch.dtype,
        device: torch.device | None,
    ) -> LinearAttentionState:
        """A state of `(batch, heads, d_head, d_head)`: the capacity does not matter."""
        return LinearAttentionState((batch, num_kv_heads), d_head, d_head, dtype=dtype, device=device)

    def __repr__(self) -> str:
        return "LinearAttentionPattern()"

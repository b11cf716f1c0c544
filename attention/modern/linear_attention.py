"""Linear attention (Katharopoulos et al., 2020): a feature map instead of the softmax.

Softmax attention weighs value j by exp(q . k_j) / sum_l exp(q . k_l): a
kernel of the query and the key, as in the kernel regression of Chapter 2.
Replace that kernel by a dot product of features, phi(q) . phi(k_j), with
phi(x) = elu(x) + 1 > 0, and the sums can be regrouped:

    o_i = phi(q_i) (sum_j phi(k_j)^T v_j) / (phi(q_i) . sum_j phi(k_j))

The two sums do not depend on the query. Causal attention sums over j <= i
only, so the sums become running sums, a state of fixed size carried from
one position to the next, as in a recurrent network:

    state_t = state_{t-1} + phi(k_t)^T v_t      (d_k, d_v)
    zeta_t  = zeta_{t-1} + phi(k_t)             (d_k,)
    o_t     = phi(q_t) state_t / (phi(q_t) . zeta_t + eps)

`linear_attention` computes this in parallel, chunk by chunk: within a chunk
of C positions the masked (C, C) form, between chunks the running state, so
its cost grows as T, not T^2. `LinearAttentionState` is the recurrent form,
one step per token, and `LinearSelfAttention` the layer for `attention.GPT`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from attention.validation import check_count, check_positive, check_positive_real
from attention.fast.cost import Cost
from attention.validation import check_float_tensor


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = elu(x) + 1, positive everywhere (Katharopoulos et al., 2020).

    Examples:
        >>> elu_feature_map(torch.tensor([-50.0, 0.0, 2.0]))
        tensor([0., 1., 3.])
    """
    return F.elu(check_float_tensor("x", x)) + 1


def _check_qkv(q: object, k: object, v: object) -> None:
    for name, x in (("q", q), ("k", k), ("v", v)):
        check_float_tensor(name, x)
        if x.ndim < 2:
            raise ValueError(f"{name} must have shape (..., T, features), got {tuple(x.shape)}")
    if q.shape[:-1] != k.shape[:-1] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same shape (..., T, d_k), got q {tuple(q.shape)} "
                         f"and k {tuple(k.shape)}")
    if v.shape[:-1] != k.shape[:-1]:
        raise ValueError(f"v must have shape (..., T, d_v) with the leading dims of k "
                         f"{tuple(k.shape[:-1])}, got {tuple(v.shape)}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"q, k and v must have one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")


def _check_options(feature_map: object, eps: object) -> float:
    if not callable(feature_map):
        raise TypeError(f"feature_map must be a function of a tensor, such as elu_feature_map, "
                        f"got {type(feature_map).__name__}")
    return check_positive_real("eps", eps)  # eps = 0 would give 0 / 0 where phi(q) . zeta = 0


def linear_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = True,
    feature_map: Callable[[torch.Tensor], torch.Tensor] = elu_feature_map,
    eps: float = 1e-6, chunk_size: int = 64,
) -> torch.Tensor:
    """Attention with weights phi(q_i) . phi(k_j) / sum_l phi(q_i) . phi(k_l), in parallel.

    Args:
        q: queries `(..., T, d_k)`.
        k: keys `(..., T, d_k)`.
        v: values `(..., T, d_v)`.
        causal: query i sees keys j <= i only; False: every key.
        feature_map: phi, applied to every query and key; its outputs should be
            non-negative, so that the weights are.
        eps: added to each denominator, against division by zero.
        chunk_size: causal only: positions computed together in the masked
            `(C, C)` form; between chunks the running state carries the past.

    Returns:
        `(..., T, d_v)`.

    Examples:
        >>> q, k, v = torch.randn(2, 100, 8), torch.randn(2, 100, 8), torch.randn(2, 100, 5)
        >>> out = linear_attention(q, k, v)                          # (batch, T, d_v)
        >>> torch.allclose(out, linear_attention(q, k, v, chunk_size=7), atol=1e-5)
        True
        >>> torch.allclose(out[:, 0], v[:, 0])                        # the first query sees one key
        True
    """
    _check_qkv(q, k, v)
    eps = _check_options(feature_map, eps)
    chunk_size = check_count("chunk_size", chunk_size)
    if chunk_size == 0:
        raise ValueError("chunk_size must be at least 1, got 0")
    phi_q, phi_k = feature_map(q), feature_map(k)  # (..., T, d_k)
    if not causal:
        state = phi_k.transpose(-2, -1) @ v  # (..., d_k, d_v)
        zeta = phi_k.sum(dim=-2, keepdim=True)  # (..., 1, d_k)
        denominator = (phi_q * zeta).sum(-1, keepdim=True) + eps  # (..., T, 1)
        return (phi_q @ state) / denominator  # (..., T, d_v)
    T = q.shape[-2]
    state = q.new_zeros(*q.shape[:-2], q.shape[-1], v.shape[-1])  # (..., d_k, d_v)
    zeta = q.new_zeros(*q.shape[:-2], 1, q.shape[-1])  # (..., 1, d_k)
    outputs = []
    for start in range(0, T, chunk_size):
        end = min(start + chunk_size, T)
        fq, fk, vc = phi_q[..., start:end, :], phi_k[..., start:end, :], v[..., start:end, :]
        within = torch.tril(fq @ fk.transpose(-2, -1))  # (..., C, C): j <= i in the chunk
        numerator = fq @ state + within @ vc  # (..., C, d_v)
        denominator = (fq * zeta).sum(-1, keepdim=True) + within.sum(-1, keepdim=True) + eps
        outputs.append(numerator / denominator)
        state = state + fk.transpose(-2, -1) @ vc  # the chunk's keys join the state
        zeta = zeta + fk.sum(dim=-2, keepdim=True)
    return torch.cat(outputs, dim=-2) if outputs else v.new_zeros(v.shape)  # (..., T, d_v)


class LinearAttentionState:
    """Causal linear attention as a recurrence: a state of fixed size, one token per step.

    Args:
        batch_shape: the leading dims, e.g. `(batch, heads)`.
        d_k: the size of a key (and a query).
        d_v: the size of a value.
        feature_map: as in `linear_attention`.
        eps: as in `linear_attention`.

    Members:
        state: `(*batch_shape, d_k, d_v)`, the sum of phi(k_j)^T v_j so far.
        zeta: `(*batch_shape, d_k)`, the sum of phi(k_j) so far.
        num_seen: the number of steps taken. The memory does not grow with it.

    Examples:
        >>> q, k, v = torch.randn(3, 10, 4), torch.randn(3, 10, 4), torch.randn(3, 10, 2)
        >>> recurrent = LinearAttentionState((3,), d_k=4, d_v=2)
        >>> steps = torch.stack([recurrent.step(q[:, t], k[:, t], v[:, t]) for t in range(10)], dim=1)
        >>> torch.allclose(steps, linear_attention(q, k, v), atol=1e-5), recurrent.num_seen
        (True, 10)
    """

    def __init__(
        self, batch_shape: tuple[int, ...], d_k: int, d_v: int, *,
        feature_map: Callable[[torch.Tensor], torch.Tensor] = elu_feature_map, eps: float = 1e-6,
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> None:
        if isinstance(batch_shape, (str, bytes)) or not isinstance(batch_shape, Sequence):
            raise TypeError(f"batch_shape must be a tuple of sizes such as (batch, heads), "
                            f"got {batch_shape!r:.40}")
        batch_shape = tuple(check_count(f"batch_shape[{i}]", size) for i, size in enumerate(batch_shape))
        d_k, d_v = check_positive("d_k", d_k), check_positive("d_v", d_v)
        eps = _check_options(feature_map, eps)
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.state = torch.zeros(*batch_shape, d_k, d_v, dtype=dtype, device=device)
        self.zeta = torch.zeros(*batch_shape, d_k, dtype=dtype, device=device)
        self.feature_map, self.eps, self.num_seen = feature_map, eps, 0

    @property
    def positions(self) -> torch.Tensor:
        """No key is kept: an empty tensor of positions (what `attention.GPT` asks a cache)."""
        return torch.zeros(0, dtype=torch.long, device=self.state.device)

    def step(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Take in key k and value v of the next position; return the output of its query q.

        Args:
            q: the query, `(*batch_shape, d_k)`.
            k: the key, `(*batch_shape, d_k)`.
            v: the value, `(*batch_shape, d_v)`.

        Returns:
            `(*batch_shape, d_v)`. The state is changed only if every check passes.
        """
        batch_shape, d_k, d_v = self.zeta.shape[:-1], self.zeta.shape[-1], self.state.shape[-1]
        for name, x, size in (("q", q, d_k), ("k", k, d_k), ("v", v, d_v)):
            check_float_tensor(name, x)
            if x.shape != (*batch_shape, size):
                raise ValueError(f"{name} must have shape {(*batch_shape, size)} (batch_shape, "
                                 f"{'d_v' if name == 'v' else 'd_k'}), got {tuple(x.shape)}")
            if x.dtype != self.state.dtype:
                raise TypeError(f"{name} has dtype {x.dtype}, the state {self.state.dtype}")
        phi_q, phi_k = self.feature_map(q), self.feature_map(k)  # (*batch, d_k)
        state = self.state + phi_k[..., :, None] * v[..., None, :]  # (*batch, d_k, d_v)
        zeta = self.zeta + phi_k  # (*batch, d_k)
        output = (phi_q[..., None, :] @ state)[..., 0, :]  # (*batch, d_v)
        output = output / ((phi_q * zeta).sum(-1, keepdim=True) + self.eps)
        self.state, self.zeta, self.num_seen = state, zeta, self.num_seen + 1
        return output

    def nbytes(self) -> int:
        """The bytes the state takes, whatever the number of steps."""
        return self.state.nbytes + self.zeta.nbytes


def linear_attention_recurrent(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **options
) -> torch.Tensor:
    """Causal linear attention one position at a time with a `LinearAttentionState`: `(..., T, d_v)`.

    Examples:
        >>> q, k, v = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 2)
        >>> torch.allclose(linear_attention_recurrent(q, k, v), linear_attention(q, k, v), atol=1e-6)
        True
    """
    _check_qkv(q, k, v)
    state = LinearAttentionState(tuple(q.shape[:-2]), q.shape[-1], v.shape[-1], dtype=q.dtype,
                                 device=q.device, **options)
    steps = [state.step(q[..., t, :], k[..., t, :], v[..., t, :]) for t in range(q.shape[-2])]
    return torch.stack(steps, dim=-2) if steps else v.new_zeros(v.shape)


def linear_attention_cost(num_positions: int, d_k: int, d_v: int) -> Cost:
    """FLOPs of linear attention over T positions, in `attention.cost`'s conventions.

    Matrix products: phi(K)^T V and phi(Q) times the state, 2 T d_k d_v each, and
    phi(Q) times zeta, 2 T d_k. Element-wise: the two feature maps (2 per entry:
    elu, + 1), the sum zeta, the division. Linear in T: the causal chunked form
    adds a (C, C) product per chunk, a constant per position.

    Examples:
        >>> linear_attention_cost(1024, 64, 64).matmul
        16908288
    """
    T, d_k, d_v = (check_positive(name, size) for name, size in
                   (("num_positions", num_positions), ("d_k", d_k), ("d_v", d_v)))
    return Cost(4 * T * d_k * d_v + 2 * T * d_k, 4 * T * d_k + T * d_k + T * d_v)

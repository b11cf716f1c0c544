"""What each version of attention costs: floating-point operations, counted by formula.

Conventions, the same for every version:

* a matrix product of an `(m, k)` and a `(k, n)` matrix costs `2 m k n` FLOPs
  (one multiply and one add per term); these are `matmul` FLOPs, the ones
  `torch.utils.flop_counter.FlopCounterMode` counts too, which the tests use to
  check the formulas;
* an element-wise operation (an add, a tanh, a scale) costs 1 FLOP per element;
  these are `elementwise` FLOPs;
* a softmax costs 5 FLOPs per score, one for each of its five steps: the
  running maximum of the row (a compare per entry), subtracting it, exp, the
  sum, and the divide. The maximum and the subtraction are what keep exp from
  overflowing (chapter 1), and the online softmax of chapter 16 is built on
  them, so they are counted like the rest;
* biases are left out, and so is everything that does not grow with the
  sizes of the inputs.

All counts are for one sequence (batch size 1); multiply by the batch size.

Beside the FLOPs, `kv_cache_bytes` counts the memory a decoder's key-value
cache takes (`attention.fast.kv_cache` holds the cache itself).
"""

from __future__ import annotations

from dataclasses import dataclass

from attention.validation import check_count, check_divides, check_positive

SOFTMAX_FLOPS_PER_SCORE = 5
"""A softmax's FLOPs per score: maximum, subtract, exp, sum, divide."""


@dataclass(frozen=True)
class Cost:
    """FLOPs of one forward pass, split by kind."""

    matmul: int
    elementwise: int

    @property
    def total(self) -> int:
        return self.matmul + self.elementwise

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.matmul + other.matmul, self.elementwise + other.elementwise)


def _positive(**sizes: int) -> list[int]:
    """The sizes as ints (NumPy integers accepted), each checked to be positive."""
    return [check_positive(name, value) for name, value in sizes.items()]


def matmul_flops(m: int, k: int, n: int) -> int:
    """FLOPs of an `(m, k) @ (k, n)` matrix product: 2 m k n."""
    m, k, n = _positive(m=m, k=k, n=n)
    return 2 * m * k * n


def softmax_flops(num_queries: int, num_keys: int) -> int:
    """Element-wise FLOPs of a softmax over `(num_queries, num_keys)` scores: 5 per score.

    One each for the row's maximum (a compare), subtracting it, exp, the sum and
    the divide.

    Examples:
        >>> softmax_flops(2, 3)  # 6 scores, 5 FLOPs each
        30
    """
    num_queries, num_keys = _positive(num_queries=num_queries, num_keys=num_keys)
    return SOFTMAX_FLOPS_PER_SCORE * num_queries * num_keys


def additive_attention_cost(
    num_queries: int, num_keys: int, query_size: int, key_size: int, hidden_size: int, value_size: int
) -> Cost:
    """Version 0: scores w_v^T tanh(W_q q + W_k k), then a weighted sum of the values.

    Projecting the queries and keys is a matrix product each; the add and the tanh
    act on a `(queries, keys, hidden)` tensor; w_v reduces it to `(queries, keys)`.
    """
    num_queries, num_keys, query_size, key_size, hidden_size, value_size = _positive(
        num_queries=num_queries, num_keys=num_keys, query_size=query_size, key_size=key_size,
        hidden_size=hidden_size, value_size=value_size,
    )
    project = matmul_flops(num_queries, query_size, hidden_size) + matmul_flops(num_keys, key_size, hidden_size)
    score = 2 * num_queries * num_keys * hidden_size  # (queries, keys, hidden) @ w_v: a multiply-add each
    pool = matmul_flops(num_queries, num_keys, value_size)
    add_and_tanh = 2 * num_queries * num_keys * hidden_size
    return Cost(project + score + pool, add_and_tanh + softmax_flops(num_queries, num_keys))


def dot_product_attention_cost(
    num_queries: int, num_keys: int, key_size: int, value_size: int, scaled: bool = False
) -> Cost:
    """Versions 1 and 2: scores Q K^T (times 1/sqrt(d_k) when `scaled`), then weights @ V.

    The scale is folded into the queries, so it costs one multiply per query entry.
    """
    num_queries, num_keys, key_size, value_size = _positive(
        num_queries=num_queries, num_keys=num_keys, key_size=key_size, value_size=value_size
    )
    scores = matmul_flops(num_queries, key_size, num_keys)
    pool = matmul_flops(num_queries, num_keys, value_size)
    scale = num_queries * key_size if scaled else 0
    return Cost(scores + pool, scale + softmax_flops(num_queries, num_keys))


def projection_cost(num_positions: int, in_size: int, out_size: int) -> Cost:
    """A linear layer applied at every position: `(positions, in) @ (in, out)`."""
    return Cost(matmul_flops(num_positions, in_size, out_size), 0)


def multi_head_attention_cost(num_queries: int, num_keys: int, d_model: int, num_heads: int) -> Cost:
    """Version 6: project Q, K, V, attend in `num_heads` heads of size d_model / num_heads, project out.

    The attention core costs the same for any number of heads: h heads of size
    d/h do h * 2 T_q T_k (d/h) = 2 T_q T_k d multiply-adds for the scores, as one
    head of full width does. Only the softmax (one per head) grows with h.
    """
    num_queries, num_keys, d_model, num_heads = _positive(
        num_queries=num_queries, num_keys=num_keys, d_model=d_model, num_heads=num_heads
    )
    check_divides("num_heads", num_heads, "d_model", d_model)
    head_size = d_model // num_heads
    projections = (
        projection_cost(num_queries, d_model, d_model)  # W_Q
        + projection_cost(num_keys, d_model, d_model)  # W_K
        + projection_cost(num_keys, d_model, d_model)  # W_V
        + projection_cost(num_queries, d_model, d_model)  # W_O
    )
    one_head = dot_product_attention_cost(num_queries, num_keys, head_size, head_size, scaled=True)
    heads = Cost(num_heads * one_head.matmul, num_heads * one_head.elementwise)
    return projections + heads


def kv_cache_bytes(
    batch: int, num_layers: int, num_kv_heads: int, d_head: int, num_positions: int,
    bytes_per_element: int = 4,
) -> int:
    """Bytes of the keys and values a decoder caches.

    2 (keys and values) * batch * layers * kv_heads * d_head * positions * bytes
    per element. Fewer key/value heads (grouped-query or multi-query attention)
    shrink it in proportion.

    Examples:
        >>> sizes = dict(num_layers=32, d_head=128, num_positions=4096, bytes_per_element=2)
        >>> kv_cache_bytes(1, num_kv_heads=32, **sizes)   # 32 heads, all with their own keys
        2147483648
        >>> kv_cache_bytes(1, num_kv_heads=8, **sizes)    # grouped: 8 key/value heads
        536870912
    """
    sizes = dict(batch=batch, num_layers=num_layers, num_kv_heads=num_kv_heads, d_head=d_head,
                 num_positions=num_positions, bytes_per_element=bytes_per_element)
    total = 2
    for name, size in sizes.items():
        total *= check_count(name, size)
    return total

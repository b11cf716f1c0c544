"""The seven versions of attention side by side: what each adds, its parameters, its cost.

Part II of the book walks from version 0 (additive attention) to version 6
(multi-head attention). This module holds the data behind the overview table:
one `Version` per step, and `evolution_table`, which counts every version's
learned parameters by building the package's own module for it and its FLOPs
with the formulas of `attention.fast.cost`, for one reference size.

The reference setting, the same for every version: an input sequence of
`seq_len` vectors of size `d`. Versions 0 to 2 attend from **one** query of
size `d` to the `seq_len` inputs (keys and values are the inputs themselves);
from version 3 on there are `seq_len` queries, one per position.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from attention.fast.cost import (
    Cost,
    additive_attention_cost,
    dot_product_attention_cost,
    multi_head_attention_cost,
    projection_cost,
)
from attention.validation import check_divides, check_positive


@dataclass(frozen=True)
class Version:
    """One step of the evolution.

    Attributes:
        number: 0 to 6, the book's numbering.
        name: a short name, e.g. "additive".
        adds: what this version adds to the one before, in one phrase.
    """

    number: int
    name: str
    adds: str


VERSIONS: tuple[Version, ...] = (
    Version(0, "additive", "a small learned network scores each query–key pair"),
    Version(1, "dot-product", "the score becomes a dot product, nothing learned"),
    Version(2, "scaled dot-product", "scores divided by √d, so softmax does not saturate"),
    Version(3, "many queries", "a matrix of queries, one softmax per query"),
    Version(4, "cross-attention",
            "queries from one sequence attend over another, projected into keys and values"),
    Version(5, "self-attention",
            "queries, keys and values all projected from the same sequence"),
    Version(6, "multi-head", "several smaller heads side by side, then an output projection"),
)


@dataclass(frozen=True)
class EvolutionRow:
    """One version at the reference size.

    Attributes:
        version: the `Version`.
        num_queries: how many queries attend (1 for versions 0 to 2, seq_len after).
        num_keys: how many keys (and values) each query sees: seq_len.
        parameters: learned parameters of the version's module, biases included.
        cost: FLOPs of one forward pass on one sequence (`attention.fast.cost` conventions).
    """

    version: Version
    num_queries: int
    num_keys: int
    parameters: int
    cost: Cost


def _check_sizes(d: int, seq_len: int, hidden: int, heads: int, *, split: bool = True) -> None:
    """Raise ValueError unless all sizes are positive ints (and heads divide d, if `split`)."""
    for name, value in (("d", d), ("seq_len", seq_len), ("hidden", hidden), ("heads", heads)):
        check_positive(name, value)
    if split:
        check_divides("heads", heads, "d", d)


def _check_number(number: int) -> Version:
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < len(VERSIONS):
        raise ValueError(f"version number must be an int from 0 to {len(VERSIONS) - 1}, got {number!r}")
    return VERSIONS[number]


def version_module(number: int, d: int = 64, hidden: int = 64, heads: int = 8) -> nn.Module | None:
    """The package's module for version `number` at size `d`, or None if it learns nothing.

    Versions 1 to 3 are functions (`attention.scaled_dot_product_attention`),
    with no parameters.

    Examples:
        >>> version_module(0, d=4, hidden=3)
        AdditiveAttention(
          (w_q): Linear(in_features=4, out_features=3, bias=False)
          (w_k): Linear(in_features=4, out_features=3, bias=False)
          (w_v): Linear(in_features=3, out_features=1, bias=False)
        )
        >>> version_module(2) is None
        True
    """
    _check_number(number)
    _check_sizes(d, 1, hidden, heads, split=number == 6)
    import attention  # the package's modules, looked up at call time

    if number == 0:
        return attention.AdditiveAttention(query_size=d, key_size=d, hidden_size=hidden)
    if number == 4:
        return attention.CrossAttention(query_size=d, input_size=d, value_size=d)
    if number == 5:
        return attention.SelfAttention(d)
    if number == 6:
        return attention.MultiHeadAttention(d, heads)
    return None


def count_parameters(module: nn.Module | None) -> int:
    """The number of learned scalars in `module` (0 for None).

    Examples:
        >>> count_parameters(nn.Linear(3, 2))  # a 2 x 3 weight and 2 biases
        8
    """
    if module is not None and not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module or None, got {type(module).__name__}")
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def version_cost(number: int, seq_len: int, d: int = 64, hidden: int = 64, heads: int = 8) -> Cost:
    """FLOPs of version `number` on one sequence of `seq_len` inputs of size `d`.

    Examples:
        >>> version_cost(1, seq_len=10, d=4).total  # 1 query: q k^T, softmax, weights @ V
        210
    """
    _check_number(number)
    _check_sizes(d, seq_len, hidden, heads, split=number == 6)
    t = seq_len
    if number == 0:
        return additive_attention_cost(1, t, d, d, hidden, d)
    if number in (1, 2):
        return dot_product_attention_cost(1, t, d, d, scaled=number == 2)
    core = dot_product_attention_cost(t, t, d, d, scaled=True)  # (T, T) scores, weights @ V
    if number == 3:
        return core
    if number == 4:  # W_K and W_V project the input; the queries come as they are
        return projection_cost(t, d, d) + projection_cost(t, d, d) + core
    if number == 5:  # W_Q, W_K and W_V all project the input
        return projection_cost(t, d, d) + projection_cost(t, d, d) + projection_cost(t, d, d) + core
    return multi_head_attention_cost(t, t, d, heads)


def evolution_table(d: int = 64, seq_len: int = 128, hidden: int = 64, heads: int = 8) -> list[EvolutionRow]:
    """One row per version, 0 to 6, with its parameters and FLOPs at the reference size.

    Args:
        d: the size of every query, key, value and input vector (d_model).
        seq_len: the number of input positions (keys), and of queries from version 3 on.
        hidden: the hidden size of version 0's scoring network.
        heads: the number of heads of version 6; must divide d.

    Returns:
        Seven `EvolutionRow`s, in version order.

    Examples:
        >>> rows = evolution_table(d=64, seq_len=128, heads=8)
        >>> [row.parameters for row in rows]
        [8256, 0, 0, 0, 8192, 12288, 16640]
    """
    _check_sizes(d, seq_len, hidden, heads)
    rows = []
    for version in VERSIONS:
        num_queries = 1 if version.number <= 2 else seq_len
        module = version_module(version.number, d, hidden, heads)
        cost = version_cost(version.number, seq_len, d, hidden, heads)
        rows.append(EvolutionRow(version, num_queries, seq_len, count_parameters(module), cost))
    return rows

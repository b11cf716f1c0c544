"""Attention pooling and Nadaraya-Watson kernel regression: attention before it had a name.

Attention pooling turns a query into a weighted average of values, the weights
saying how well the query matches each value's key:

    f(q) = sum_i alpha(q, k_i) v_i,    alpha >= 0,    sum_i alpha(q, k_i) = 1

Nadaraya-Watson regression is the oldest example. To predict at a query x, it
averages the training targets y_i, weighting each by how close its input x_i is
to x. With a Gaussian kernel of bandwidth sigma (its standard deviation) the
weights are a softmax of negative squared distances:

    alpha(x, x_i) = softmax_i( -||x - x_i||^2 / (2 sigma^2) )
    f(x)          = sum_i alpha(x, x_i) y_i

The queries are the inputs we predict at, the keys are the training inputs and
the values are the training targets. Average pooling is the special case that
ignores the query: every weight is 1/n.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention.foundations.softmax import softmax
from attention.validation import (
    as_float_array,
    check_integer,
    check_positive,
    check_positive_real,
    check_real,
)


def _as_points(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """Points as a `(n, d)` float array; a vector of n numbers is n points in 1-D."""
    a = as_float_array(name, x).astype(float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, d), got {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite entries (shape {a.shape})")
    return a


def _as_values(values: ArrayLike, num_keys: int) -> NDArray[np.float64]:
    """Values as a float array `(num_keys,)` or `(num_keys, d_v)`: one value per key."""
    v = as_float_array("values", values).astype(float)
    if v.ndim not in (1, 2):
        raise ValueError(f"values must have shape (n_keys,) or (n_keys, d_v), got {v.shape}")
    if v.shape[0] != num_keys:
        raise ValueError(
            f"{num_keys} keys but {v.shape[0]} values: need one value per key "
            f"(values shape {v.shape})"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError(f"values contains NaN or infinite entries (shape {v.shape})")
    return v


def _check_bandwidth(bandwidth: float) -> float:
    return check_positive_real("bandwidth", bandwidth)


def attention_pooling(weights: ArrayLike, values: ArrayLike) -> NDArray[np.float64]:
    """Weighted averages of the values, one per query: `f(q) = sum_i alpha(q, k_i) v_i`.

    Args:
        weights: `(n_queries, n_keys)`; each row non-negative and summing to 1.
        values: `(n_keys,)` or `(n_keys, d_v)`: one value per key.

    Returns:
        `(n_queries,)` or `(n_queries, d_v)`, following the shape of `values`.

    Raises:
        ValueError: if the weights are not a 2-D array of rows that are
            probability distributions, or if there is not one value per key.

    Examples:
        >>> attention_pooling([[0.5, 0.5], [1.0, 0.0]], [[2.0, 0.0], [4.0, 1.0]])
        array([[3. , 0.5],
               [2. , 0. ]])
    """
    w = as_float_array("weights", weights).astype(float)
    if w.ndim != 2 or 0 in w.shape:
        raise ValueError(f"weights must have shape (n_queries, n_keys) with both > 0, got {w.shape}")
    if not (np.all(w >= 0) and np.allclose(w.sum(axis=-1), 1.0, rtol=0.0, atol=1e-6)):
        raise ValueError(
            f"every row of weights must be non-negative and sum to 1 (weights shape {w.shape})"
        )
    v = _as_values(values, w.shape[1])
    return w @ v  # (n_queries, n_keys) @ (n_keys[, d_v]) -> (n_queries[, d_v])


def average_pooling(
    queries: ArrayLike, keys: ArrayLike, values: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Attention pooling that ignores the query: every key gets the weight 1/n.

    The keys only fix how many values there are; every query gets the same answer,
    the mean of the values.

    Args:
        queries: `(n_queries,)` or `(n_queries, d)`.
        keys: `(n_keys,)` or `(n_keys, d)`.
        values: `(n_keys,)` or `(n_keys, d_v)`: one value per key.

    Returns:
        `(predictions, weights)`: predictions `(n_queries,)` or `(n_queries, d_v)`
        and weights `(n_queries, n_keys)`, all equal to 1 / n_keys.

    Examples:
        >>> pred, w = average_pooling([0.0, 9.0], [1.0, 2.0, 3.0], [3.0, 6.0, 9.0])
        >>> pred
        array([6., 6.])
    """
    n_queries = _as_points(queries, "queries").shape[0]
    n_keys = _as_points(keys, "keys").shape[0]
    weights = np.full((n_queries, n_keys), 1.0 / n_keys)  # (n_queries, n_keys)
    return attention_pooling(weights, values), weights


def squared_distances(queries: ArrayLike, keys: ArrayLike) -> NDArray[np.float64]:
    """All squared Euclidean distances between queries and keys.

    Args:
        queries: `(n_queries,)` or `(n_queries, d)`.
        keys: `(n_keys,)` or `(n_keys, d)`.

    Returns:
        `(n_queries, n_keys)`; entry `[q, k]` is ||queries[q] - keys[k]||^2.

    Examples:
        >>> squared_distances([0.0, 1.0], [0.0, 2.0, 3.0])
        array([[0., 4., 9.],
               [1., 1., 4.]])
    """
    q = _as_points(queries, "queries")  # (n_queries, d)
    k = _as_points(keys, "keys")  # (n_keys, d)
    if q.shape[1] != k.shape[1]:
        raise ValueError(
            f"queries have {q.shape[1]} features but keys have {k.shape[1]} "
            f"(queries shape {q.shape}, keys shape {k.shape})"
        )
    diff = q[:, None, :] - k[None, :, :]  # (n_queries, n_keys, d)
    return (diff**2).sum(axis=-1)


def gaussian_kernel_weights(
    queries: ArrayLike, keys: ArrayLike, bandwidth: float
) -> NDArray[np.float64]:
    """Attention weights of Nadaraya-Watson regression with a Gaussian kernel.

    Args:
        queries: `(n_queries,)` or `(n_queries, d)`.
        keys: `(n_keys,)` or `(n_keys, d)`.
        bandwidth: the kernel width sigma > 0; small sigma attends only to the nearest keys.

    Returns:
        `(n_queries, n_keys)`; every row is non-negative and sums to 1.

    Examples:
        >>> gaussian_kernel_weights([0.0], [-1.0, 0.0, 1.0], bandwidth=1.0).round(3)
        array([[0.274, 0.452, 0.274]])
    """
    h = _check_bandwidth(bandwidth)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        scores = -squared_distances(queries, keys) / (2.0 * h * h)  # (n_queries, n_keys)
    if not np.all(np.isfinite(scores)):
        raise ValueError(
            f"bandwidth {bandwidth} is too small for these inputs: "
            f"-distance^2 / (2 h^2) overflows"
        )
    return softmax(scores, axis=-1)


def nadaraya_watson(
    queries: ArrayLike, keys: ArrayLike, values: ArrayLike, bandwidth: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Predict at each query the Gaussian-kernel-weighted average of the values.

    Args:
        queries: inputs to predict at, `(n_queries,)` or `(n_queries, d)`.
        keys: training inputs, `(n_keys,)` or `(n_keys, d)`.
        values: training targets, `(n_keys,)` or `(n_keys, d_v)`: one per key.
        bandwidth: the kernel width sigma > 0.

    Returns:
        `(predictions, weights)`: predictions `(n_queries,)` or `(n_queries, d_v)`
        following the shape of `values`, and weights `(n_queries, n_keys)`.

    Examples:
        >>> pred, w = nadaraya_watson([0.0, 1.0], [0.0, 1.0], [10.0, 20.0], bandwidth=0.01)
        >>> pred.round(6)
        array([10., 20.])
    """
    n_keys = _as_points(keys, "keys").shape[0]
    _as_values(values, n_keys)  # fail on a key/value mismatch before any work
    weights = gaussian_kernel_weights(queries, keys, bandwidth)  # (n_queries, n_keys)
    return attention_pooling(weights, values), weights


def make_regression_data(
    num_points: int = 40, noise: float = 0.3, seed: int = 0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A small synthetic data set: noisy samples of `target_function` on [0, 5].

    Args:
        num_points: how many training pairs.
        noise: standard deviation of the Gaussian noise added to the targets.
        seed: the random seed; the same seed gives the same data.

    Returns:
        `(x, y)`, both `(num_points,)`, with x sorted.

    Examples:
        >>> x, y = make_regression_data(num_points=5)
        >>> x.shape, y.shape, bool(np.all(np.diff(x) > 0))
        ((5,), (5,), True)
    """
    num_points = check_positive("num_points", num_points)
    noise = check_real("noise", noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be non-negative and finite, got {noise}")
    seed = check_integer("seed", seed)
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 5.0, num_points))
    y = target_function(x) + rng.normal(0.0, noise, num_points)
    return x, y


def target_function(x: ArrayLike) -> NDArray[np.float64]:
    """The curve behind `make_regression_data`: 2 sin(x) + 0.8 x.

    Examples:
        >>> target_function([0.0]).round(3)
        array([0.])
    """
    x = as_float_array("x", x).astype(float)
    return 2.0 * np.sin(x) + 0.8 * x

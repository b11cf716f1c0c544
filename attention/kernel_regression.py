"""Nadaraya-Watson kernel regression: attention pooling before attention had a name.

To predict at a query x, average the training targets y_i, weighting each by how
close its input x_i is to x. With a Gaussian kernel of bandwidth h the weights are
a softmax of negative squared distances:

    alpha(x, x_i) = softmax_i( -||x - x_i||^2 / (2 h^2) )
    f(x)          = sum_i alpha(x, x_i) y_i

The queries are the inputs we predict at, the keys are the training inputs and
the values are the training targets.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention.softmax import softmax


def _as_points(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """Points as a `(n, d)` float array; a vector of n numbers is n points in 1-D."""
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, d), got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} is empty: shape {a.shape}")
    return a


def squared_distances(queries: ArrayLike, keys: ArrayLike) -> NDArray[np.float64]:
    """All squared Euclidean distances between queries and keys.

    Args:
        queries: `(n_queries,)` or `(n_queries, d)`.
        keys: `(n_keys,)` or `(n_keys, d)`.

    Returns:
        `(n_queries, n_keys)`; entry `[q, k]` is ||queries[q] - keys[k]||^2.
    """
    q = _as_points(queries, "queries")  # (n_queries, d)
    k = _as_points(keys, "keys")  # (n_keys, d)
    if q.shape[1] != k.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} features but keys have {k.shape[1]}")
    diff = q[:, None, :] - k[None, :, :]  # (n_queries, n_keys, d)
    return (diff**2).sum(axis=-1)


def gaussian_kernel_weights(
    queries: ArrayLike, keys: ArrayLike, bandwidth: float
) -> NDArray[np.float64]:
    """Attention weights of Nadaraya-Watson regression with a Gaussian kernel.

    Args:
        queries: `(n_queries,)` or `(n_queries, d)`.
        keys: `(n_keys,)` or `(n_keys, d)`.
        bandwidth: the kernel width h > 0; small h attends only to the nearest keys.

    Returns:
        `(n_queries, n_keys)`; every row sums to 1.
    """
    if not (np.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"bandwidth must be a positive number, got {bandwidth}")
    scores = -squared_distances(queries, keys) / (2.0 * bandwidth**2)  # (n_queries, n_keys)
    return softmax(scores, axis=-1)


def nadaraya_watson(
    queries: ArrayLike, keys: ArrayLike, values: ArrayLike, bandwidth: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Predict at each query the kernel-weighted average of the values.

    Args:
        queries: inputs to predict at, `(n_queries,)` or `(n_queries, d)`.
        keys: training inputs, `(n_keys,)` or `(n_keys, d)`.
        values: training targets, `(n_keys,)` or `(n_keys, d_v)`: one per key.
        bandwidth: the kernel width h > 0.

    Returns:
        `(predictions, weights)`: predictions `(n_queries,)` or `(n_queries, d_v)`
        following the shape of `values`, and weights `(n_queries, n_keys)`.

    Example:
        >>> pred, w = nadaraya_watson([0.0, 1.0], [0.0, 1.0], [10.0, 20.0], bandwidth=0.01)
        >>> pred.round(6)
        array([10., 20.])
    """
    v = np.asarray(values, dtype=float)
    n_keys = _as_points(keys, "keys").shape[0]
    if v.ndim not in (1, 2) or v.shape[0] != n_keys:
        raise ValueError(f"keys have {n_keys} positions but values have shape {v.shape}")
    weights = gaussian_kernel_weights(queries, keys, bandwidth)  # (n_queries, n_keys)
    return weights @ v, weights


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
    """
    if num_points < 1:
        raise ValueError(f"num_points must be at least 1, got {num_points}")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 5.0, num_points))
    y = target_function(x) + rng.normal(0.0, noise, num_points)
    return x, y


def target_function(x: ArrayLike) -> NDArray[np.float64]:
    """The curve behind `make_regression_data`: 2 sin(x) + 0.8 x."""
    x = np.asarray(x, dtype=float)
    return 2.0 * np.sin(x) + 0.8 * x

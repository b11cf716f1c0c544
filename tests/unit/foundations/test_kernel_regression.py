"""Tests for attention pooling and Nadaraya-Watson kernel regression."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import (
    attention_pooling,
    average_pooling,
    gaussian_kernel_weights,
    make_regression_data,
    nadaraya_watson,
    squared_distances,
    target_function,
)

SETTINGS = settings(deadline=None, max_examples=50)

coordinates = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
targets = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)
bandwidths = st.floats(0.05, 5.0)
# Wide enough that the unshifted kernel of the reference never underflows to 0:
# a squared distance is at most 3 * 6^2 = 108, so exp(-108 / (2 * 0.5^2)) = exp(-216).
reference_bandwidths = st.floats(0.5, 5.0)


@st.composite
def regression_case(draw: st.DrawFn, max_dim: int = 3, bandwidth=bandwidths) -> dict:
    """Queries `(n_q, d)` and keys `(n_k, d)` (or 1-D vectors when d is None), values `(n_k,)`."""
    dim = draw(st.sampled_from([None, *range(1, max_dim + 1)]))
    n_q, n_k = draw(st.integers(1, 6)), draw(st.integers(1, 8))
    width = 1 if dim is None else dim

    def points(n: int) -> np.ndarray:
        flat = draw(st.lists(coordinates, min_size=n * width, max_size=n * width))
        array = np.array(flat, dtype=float)
        return array if dim is None else array.reshape(n, dim)

    return {
        "queries": points(n_q),
        "keys": points(n_k),
        "values": np.array(draw(st.lists(targets, min_size=n_k, max_size=n_k))),
        "bandwidth": draw(bandwidth),
    }


def reference_weights(queries, keys, bandwidth: float) -> np.ndarray:
    """Gaussian-kernel weights from the definition, one query and one key at a time."""
    q = np.asarray(queries, dtype=np.float64).reshape(len(queries), -1)
    k = np.asarray(keys, dtype=np.float64).reshape(len(keys), -1)
    weights = np.zeros((len(q), len(k)))
    for a in range(len(q)):
        kernel = [
            math.exp(-sum((qi - ki) ** 2 for qi, ki in zip(q[a], k[b])) / (2.0 * bandwidth**2))
            for b in range(len(k))
        ]
        total = sum(kernel)
        weights[a] = [value / total for value in kernel]
    return weights


# Properties of the weights and predictions


@SETTINGS
@given(regression_case())
def test_weight_rows_are_distributions(case: dict) -> None:
    weights = gaussian_kernel_weights(case["queries"], case["keys"], case["bandwidth"])
    assert weights.shape == (len(case["queries"]), len(case["keys"]))
    assert np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@SETTINGS
@given(regression_case())
def test_predictions_are_convex_combinations(case: dict) -> None:
    pred, _ = nadaraya_watson(case["queries"], case["keys"], case["values"], case["bandwidth"])
    y = case["values"]
    assert pred.shape == (len(case["queries"]),)
    tol = 1e-9 * (1.0 + np.abs(y).max())
    assert np.all(pred >= y.min() - tol) and np.all(pred <= y.max() + tol)


@SETTINGS
@given(regression_case(bandwidth=reference_bandwidths))
def test_agrees_with_float64_reference(case: dict) -> None:
    pred, weights = nadaraya_watson(case["queries"], case["keys"], case["values"], case["bandwidth"])
    expected_weights = reference_weights(case["queries"], case["keys"], case["bandwidth"])
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-9, atol=1e-12)
    expected_pred = [sum(w * v for w, v in zip(row, case["values"])) for row in expected_weights]
    np.testing.assert_allclose(pred, expected_pred, rtol=1e-9, atol=1e-9)


def test_reference_multi_dimensional_example() -> None:
    queries = np.array([[0.0, 0.0], [1.0, 2.0]])
    keys = np.array([[0.0, 1.0], [2.0, 0.0], [1.0, 1.0]])
    values = np.array([1.0, 2.0, 4.0])
    # squared distances: row 0 -> 1, 4, 2; row 1 -> 2, 5, 1; h = 1 so scores are -d / 2.
    e0 = np.exp([-0.5, -2.0, -1.0])
    e1 = np.exp([-1.0, -2.5, -0.5])
    expected = np.array([e0 / e0.sum(), e1 / e1.sum()])
    pred, weights = nadaraya_watson(queries, keys, values, bandwidth=1.0)
    np.testing.assert_allclose(squared_distances(queries, keys), [[1, 4, 2], [2, 5, 1]])
    np.testing.assert_allclose(weights, expected, rtol=1e-12)
    np.testing.assert_allclose(pred, expected @ values, rtol=1e-12)


@SETTINGS
@given(regression_case(bandwidth=reference_bandwidths), st.integers(1, 4), st.data())
def test_vector_values_pool_column_by_column(case: dict, d_v: int, data: st.DataObject) -> None:
    n_k = len(case["keys"])
    flat = data.draw(st.lists(targets, min_size=n_k * d_v, max_size=n_k * d_v))
    values = np.array(flat).reshape(n_k, d_v)
    pred, weights = nadaraya_watson(case["queries"], case["keys"], values, case["bandwidth"])
    assert pred.shape == (len(case["queries"]), d_v)
    for column in range(d_v):
        single, _ = nadaraya_watson(case["queries"], case["keys"], values[:, column], case["bandwidth"])
        np.testing.assert_allclose(pred[:, column], single, rtol=1e-12, atol=1e-12)
    expected = reference_weights(case["queries"], case["keys"], case["bandwidth"]) @ values
    np.testing.assert_allclose(pred, expected, rtol=1e-9, atol=1e-9)


# The two limits of the bandwidth


@SETTINGS
@given(
    st.lists(st.floats(-5.0, 5.0), min_size=1, max_size=10, unique=True),
    st.data(),
)
def test_small_bandwidth_interpolates_training_targets(xs: list[float], data: st.DataObject) -> None:
    x = np.array(sorted(xs))
    gap = np.diff(x).min() if len(x) > 1 else 1.0
    if gap < 1e-3:  # distinct, but so close that h would have to be tiny
        x = x[np.concatenate([[True], np.diff(x) >= 1e-3])]
        gap = np.diff(x).min() if len(x) > 1 else 1.0
    y = np.array(data.draw(st.lists(targets, min_size=len(x), max_size=len(x))))
    pred, _ = nadaraya_watson(x, x, y, bandwidth=gap / 20)
    # a neighbor's weight relative to the point's own is at most exp(-gap^2 / 2h^2) = exp(-200)
    assert np.abs(pred - y).max() < 1e-12 * (1.0 + np.abs(y).max())


def test_training_error_shrinks_with_bandwidth_on_the_book_data() -> None:
    x, y = make_regression_data()
    mse = [np.mean((nadaraya_watson(x, x, y, bandwidth=h)[0] - y) ** 2) for h in (1.0, 0.1, 0.01, 1e-4)]
    assert all(later < earlier for earlier, later in zip(mse, mse[1:]))
    assert mse[-1] < 1e-20


@SETTINGS
@given(regression_case())
def test_large_bandwidth_gives_the_mean(case: dict) -> None:
    pred, weights = nadaraya_watson(case["queries"], case["keys"], case["values"], bandwidth=1e6)
    np.testing.assert_allclose(weights, 1.0 / len(case["keys"]), rtol=1e-9)
    np.testing.assert_allclose(pred, case["values"].mean(), rtol=1e-9, atol=1e-9)
    avg, _ = average_pooling(case["queries"], case["keys"], case["values"])
    np.testing.assert_allclose(pred, avg, rtol=1e-9, atol=1e-9)


# Attention pooling and average pooling


def test_average_pooling_is_uniform_and_predicts_the_mean() -> None:
    values = np.array([[1.0, 10.0], [2.0, 20.0], [6.0, 60.0]])
    pred, weights = average_pooling([0.0, 100.0], [5.0, 6.0, 7.0], values)
    np.testing.assert_array_equal(weights, np.full((2, 3), 1 / 3))
    np.testing.assert_allclose(pred, [[3.0, 30.0], [3.0, 30.0]])


@SETTINGS
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_attention_pooling_matches_the_sum(n_q: int, n_k: int, d_v: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(n_k), size=n_q)  # (n_q, n_k), rows sum to 1
    values = rng.normal(size=(n_k, d_v))
    expected = np.array([sum(weights[a, i] * values[i] for i in range(n_k)) for a in range(n_q)])
    np.testing.assert_allclose(attention_pooling(weights, values), expected, rtol=1e-12, atol=1e-12)


# The data set


def test_make_regression_data_is_deterministic_per_seed() -> None:
    x1, y1 = make_regression_data(num_points=30, noise=0.3, seed=7)
    x2, y2 = make_regression_data(num_points=30, noise=0.3, seed=7)
    x3, y3 = make_regression_data(num_points=30, noise=0.3, seed=8)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    assert x1.shape == y1.shape == (30,)
    assert np.all(np.diff(x1) >= 0) and 0.0 <= x1.min() and x1.max() <= 5.0


def test_noise_free_data_lies_on_the_target_function() -> None:
    x, y = make_regression_data(num_points=12, noise=0.0, seed=3)
    np.testing.assert_allclose(y, target_function(x))
    np.testing.assert_allclose(target_function([0.0, np.pi / 2]), [0.0, 2.0 + 0.4 * np.pi])


# Bad input


def test_keys_and_values_of_different_counts() -> None:
    with pytest.raises(ValueError, match=r"5 keys but 4 values: need one value per key \(values shape \(4, 10\)\)"):
        nadaraya_watson(np.zeros(3), np.arange(5.0), np.zeros((4, 10)), bandwidth=1.0)
    with pytest.raises(ValueError, match=r"5 keys but 4 values: .*\(values shape \(4,\)\)"):
        attention_pooling(np.full((2, 5), 0.2), np.zeros(4))
    with pytest.raises(ValueError, match=r"3 keys but 2 values"):
        average_pooling([0.0], [1.0, 2.0, 3.0], [1.0, 2.0])


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bandwidth_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match=rf"bandwidth must be positive and finite, got {bad}"):
        gaussian_kernel_weights([0.0], [1.0], bandwidth=bad)
    with pytest.raises(ValueError, match="bandwidth"):
        nadaraya_watson([0.0], [1.0], [2.0], bandwidth=bad)


def test_bandwidth_too_small_for_the_distances() -> None:
    with pytest.raises(ValueError, match=r"bandwidth 1e-200 is too small"):
        gaussian_kernel_weights([0.0], [1.0, 2.0], bandwidth=1e-200)


@pytest.mark.parametrize(
    ("queries", "keys", "message"),
    [
        (np.zeros(0), np.zeros(3), r"queries is empty: shape \(0, 1\)"),
        (np.zeros(2), np.zeros((0, 1)), r"keys is empty: shape \(0, 1\)"),
        (np.zeros((2, 0)), np.zeros((3, 0)), r"queries is empty: shape \(2, 0\)"),
        (np.zeros((2, 2, 2)), np.zeros(3), r"queries must have shape \(n,\) or \(n, d\), got \(2, 2, 2\)"),
        (np.zeros((3, 2)), np.zeros((4, 3)), r"queries have 2 features but keys have 3 .*\(3, 2\).*\(4, 3\)"),
        ([0.0, float("nan")], [1.0], r"queries contains NaN or infinite"),
    ],
)
def test_bad_points(queries, keys, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gaussian_kernel_weights(queries, keys, bandwidth=1.0)


def test_empty_values_and_bad_weights() -> None:
    with pytest.raises(ValueError, match=r"1 keys but 0 values"):
        nadaraya_watson([0.0], [1.0], np.zeros(0), bandwidth=1.0)
    with pytest.raises(ValueError, match=r"values must have shape .* got \(\)"):
        attention_pooling([[1.0]], 3.0)
    with pytest.raises(ValueError, match=r"weights must have shape \(n_queries, n_keys\).*got \(3,\)"):
        attention_pooling([0.2, 0.3, 0.5], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"non-negative and sum to 1 \(weights shape \(1, 2\)\)"):
        attention_pooling([[0.7, 0.7]], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"non-negative"):
        attention_pooling([[1.5, -0.5]], [1.0, 2.0])


@pytest.mark.parametrize(("num_points", "noise"), [(0, 0.3), (-1, 0.3), (5, -0.1), (5, float("nan"))])
def test_make_regression_data_rejects_bad_arguments(num_points: int, noise: float) -> None:
    with pytest.raises(ValueError, match=rf"got {num_points if num_points < 1 else noise}"):
        make_regression_data(num_points=num_points, noise=noise)

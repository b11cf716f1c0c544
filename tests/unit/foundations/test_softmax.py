"""Tests for attention.softmax: the NumPy softmax, its temperature, Jacobian and entropy."""

from __future__ import annotations

import math
import re

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention import entropy, naive_softmax, softmax, softmax_jacobian, softmax_with_temperature

SETTINGS = settings(max_examples=50, deadline=None)


def logit_arrays(bound: float = 1e3, max_dims: int = 3):
    """Float64 arrays of 1 to `max_dims` axes, each of length 1 to 6, entries in [-bound, bound]."""
    return hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=1, max_side=6),
        elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
    )


def logit_vectors(bound: float = 1e3, max_size: int = 12):
    return hnp.arrays(
        np.float64,
        st.integers(1, max_size),
        elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
    )


@st.composite
def arrays_and_axes(draw, bound: float = 1e3):
    x = draw(logit_arrays(bound))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, axis


def mpmath_softmax(z: np.ndarray) -> np.ndarray:
    """Reference softmax of a vector in 50-digit arithmetic, straight from the definition.

    mpmath's exponent range is unbounded, so exp(1e4) is an ordinary number there:
    no shift by the maximum is needed, and none is made.
    """
    with mpmath.workdps(50):
        exps = [mpmath.exp(mpmath.mpf(float(v))) for v in z]
        total = mpmath.fsum(exps)
        return np.array([float(e / total) for e in exps])


# --- a probability distribution -------------------------------------------------


@SETTINGS
@given(arrays_and_axes())
def test_softmax_is_non_negative_and_sums_to_one_along_its_axis(case):
    x, axis = case
    s = softmax(x, axis=axis)
    assert s.shape == x.shape
    assert np.all(s >= 0) and np.all(s <= 1)
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=0, atol=1e-12)


@SETTINGS
@given(logit_vectors(bound=100.0), st.floats(-1e3, 1e3))
def test_softmax_is_unchanged_by_adding_a_constant(z, constant):
    np.testing.assert_allclose(softmax(z + constant), softmax(z), rtol=1e-9, atol=1e-300)


def test_softmax_depends_on_differences_not_ratios():
    # (51, 49) and (2, 0) differ by a constant, so their softmax is the same: (0.881, 0.119).
    np.testing.assert_allclose(softmax([51.0, 49.0]), softmax([2.0, 0.0]), rtol=1e-12)
    np.testing.assert_allclose(softmax([51.0, 49.0]), [0.8807970779778823, 0.11920292202211755], rtol=1e-12)
    # Scaling the logits is not harmless: (102, 98) is sharper than (51, 49).
    assert softmax([102.0, 98.0])[0] > softmax([51.0, 49.0])[0] + 0.1


def test_softmax_of_integers_is_float64_and_float32_stays_float32():
    assert softmax([1, 2, 3]).dtype == np.float64
    assert softmax(np.array([1, 2, 3], dtype=np.float32)).dtype == np.float32


# --- overflow ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "logits",
    [[1e4, 1e4 - 1.0], [-1e4, -1e4 - 1.0], [1e4, -1e4], [1e4, 1e4, 1e4], [-1e4], [1e4, 0.0, -1e4]],
)
def test_softmax_never_overflows_for_logits_of_1e4(logits):
    s = softmax(logits)
    assert np.all(np.isfinite(s))
    assert s.sum() == pytest.approx(1.0, abs=1e-12)


def test_softmax_of_huge_logits_keeps_the_right_values():
    # Two logits one apart: the weights are sigmoid(1) and 1 - sigmoid(1) wherever they sit.
    sigmoid_1 = 1.0 / (1.0 + math.exp(-1.0))
    for shift in (1e4, -1e4, 0.0):
        np.testing.assert_allclose(softmax([shift + 1.0, shift]), [sigmoid_1, 1.0 - sigmoid_1], rtol=1e-9)


@SETTINGS
@given(logit_arrays(bound=1e4))
def test_softmax_stays_finite_for_any_logits_up_to_1e4(x):
    s = softmax(x)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


def test_naive_softmax_really_overflows_for_large_logits():
    # The chapter shows this failure; if naive_softmax were quietly fixed, the page would lie.
    assert np.all(np.isnan(naive_softmax([1000.0, 999.0, 998.0])))
    assert np.isnan(naive_softmax(np.array([90.0, 80.0], dtype=np.float32))[0])
    assert np.all(np.isnan(naive_softmax([-1000.0, -1001.0])))  # 0 / 0: underflow, too
    assert np.all(np.isfinite(softmax([1000.0, 999.0, 998.0])))


@SETTINGS
@given(logit_arrays(bound=50.0))
def test_naive_softmax_agrees_with_softmax_for_small_logits(x):
    np.testing.assert_allclose(naive_softmax(x), softmax(x), rtol=1e-9, atol=1e-300)


# --- against independent references --------------------------------------------------


@SETTINGS
@given(logit_vectors(bound=1e4))
def test_softmax_matches_a_50_digit_reference(z):
    np.testing.assert_allclose(softmax(z), mpmath_softmax(z), rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("logits", [[51.0, 49.0], [70.0, 30.0], [8.75, 3.75], [1.0, 2.0, 3.0]])
def test_softmax_matches_the_reference_on_the_books_examples(logits):
    z = np.array(logits)
    np.testing.assert_allclose(softmax(z), mpmath_softmax(z), rtol=1e-12, atol=1e-300)


@SETTINGS
@given(arrays_and_axes(bound=1e3))
def test_softmax_agrees_with_torch_softmax_in_float64(case):
    x, axis = case
    expected = torch.softmax(torch.from_numpy(x), dim=axis).numpy()
    np.testing.assert_allclose(softmax(x, axis=axis), expected, rtol=1e-9, atol=1e-15)


def test_softmax_agrees_with_torch_softmax_in_float32():
    x = torch.randn(4, 5, 7, generator=torch.Generator().manual_seed(0)) * 10
    np.testing.assert_allclose(softmax(x.numpy(), axis=1), torch.softmax(x, dim=1).numpy(), atol=1e-6)


# --- temperature ----------------------------------------------------------------------


@SETTINGS
@given(
    logit_vectors(bound=20.0),
    st.floats(0.05, 20.0),
    st.floats(1.01, 10.0),
)
def test_lower_temperature_never_lowers_the_largest_weight(z, temperature, factor):
    hot = softmax_with_temperature(z, temperature * factor).max()
    cold = softmax_with_temperature(z, temperature).max()
    assert cold >= hot - 1e-12


def test_lower_temperature_strictly_raises_the_largest_weight():
    z = [1.0, 2.0, 3.0]
    maxima = [softmax_with_temperature(z, t).max() for t in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert all(a > b for a, b in zip(maxima, maxima[1:]))


def test_temperature_one_is_plain_softmax():
    z = np.array([0.3, -1.2, 2.5, 0.0])
    np.testing.assert_allclose(softmax_with_temperature(z, 1.0), softmax(z), rtol=1e-15)


@SETTINGS
@given(logit_vectors(bound=10.0))
def test_high_temperature_approaches_uniform(z):
    s = softmax_with_temperature(z, 1e6)
    np.testing.assert_allclose(s, np.full(z.shape, 1 / z.size), atol=1e-4)


def test_low_temperature_approaches_one_hot_argmax():
    z = np.array([0.5, 2.0, 1.9, -3.0])
    np.testing.assert_allclose(softmax_with_temperature(z, 0.001), [0.0, 1.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("temperature", [0.0, -1.0, -1e-9, float("nan")])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match=r"temperature must be positive and finite, got"):
        softmax_with_temperature([1.0, 2.0], temperature)


# --- Jacobian ---------------------------------------------------------------------------


def torch_jacobian(z: np.ndarray) -> np.ndarray:
    def f(t):
        return torch.softmax(t, dim=0)

    return torch.autograd.functional.jacobian(f, torch.from_numpy(z)).numpy()


@SETTINGS
@given(logit_vectors(bound=30.0, max_size=8))
def test_jacobian_equals_torch_autograd(z):
    np.testing.assert_allclose(softmax_jacobian(z), torch_jacobian(z), rtol=1e-9, atol=1e-14)


@SETTINGS
@given(logit_vectors(bound=30.0, max_size=8))
def test_jacobian_rows_sum_to_zero_and_it_is_symmetric(z):
    jac = softmax_jacobian(z)
    assert jac.shape == (z.size, z.size)
    np.testing.assert_allclose(jac.sum(axis=1), 0.0, atol=1e-15)
    np.testing.assert_array_equal(jac, jac.T)


def test_jacobian_matches_finite_differences():
    z = np.array([0.4, -1.0, 2.2, 0.7])
    step = 1e-6
    numeric = np.empty((4, 4))
    for j in range(4):
        e = np.zeros(4)
        e[j] = step
        numeric[:, j] = (softmax(z + e) - softmax(z - e)) / (2 * step)
    np.testing.assert_allclose(softmax_jacobian(z), numeric, atol=1e-9)


def test_jacobian_vanishes_when_softmax_saturates():
    assert np.abs(softmax_jacobian([100.0, 0.0, -50.0])).max() < 1e-40
    assert np.abs(softmax_jacobian([0.0, 0.0])).max() == 0.25


@pytest.mark.parametrize("logits", [[[1.0, 2.0], [3.0, 4.0]], 3.0])
def test_jacobian_takes_one_vector(logits):
    message = re.escape(f"one vector of logits, got shape {np.shape(logits)}")
    with pytest.raises(ValueError, match=message):
        softmax_jacobian(logits)


# --- entropy --------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "hot"), [(1, 0), (2, 1), (5, 0), (5, 4), (100, 37)])
def test_entropy_of_a_one_hot_row_is_zero(n, hot):
    p = np.zeros(n)
    p[hot] = 1.0
    assert entropy(p) == 0.0


@SETTINGS
@given(st.integers(1, 1000))
def test_entropy_of_a_uniform_row_is_log_n(n):
    assert entropy(np.full(n, 1.0 / n)) == pytest.approx(math.log(n), rel=1e-12, abs=1e-12)


@SETTINGS
@given(arrays_and_axes(bound=30.0))
def test_entropy_of_a_softmax_lies_between_zero_and_log_n(case):
    x, axis = case
    h = entropy(softmax(x, axis=axis), axis=axis)
    assert np.shape(h) == x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1 :]
    assert np.all(h >= -1e-12) and np.all(h <= math.log(x.shape[axis]) + 1e-12)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logits", "axis", "error", "message"),
    [
        (np.zeros((2, 0)), -1, ValueError, r"empty axis: axis -1 of shape \(2, 0\) has length 0"),
        (np.zeros((0, 3)), 0, ValueError, r"empty axis: axis 0 of shape \(0, 3\)"),
        (3.0, -1, ValueError, r"at least one axis, got a scalar"),
        ([1.0, 2.0, 3.0], 1, ValueError, r"axis=1 is out of range for shape \(3,\)"),
        (np.ones((2, 3)), -3, ValueError, r"axis=-3 is out of range for shape \(2, 3\)"),
        (["a", "b"], -1, TypeError, r"logits must hold real numbers, got dtype <U1"),
        (np.array([1.0, None], dtype=object), -1, TypeError, r"logits must hold real numbers, got dtype object"),
        ([True, False], -1, TypeError, r"logits must hold real numbers, got dtype bool"),
        ([1.0 + 2.0j, 0.0], -1, TypeError, r"logits must hold real numbers, got dtype complex128"),
        ([[1.0, 2.0], [3.0, float("nan")]], -1, ValueError, r"NaN or infinite logit \(nan at index \(1, 1\) of an array of shape \(2, 2\)\)"),
        ([0.0, float("inf")], -1, ValueError, r"NaN or infinite logit \(inf at index \(1,\) of an array of shape \(2,\)\)"),
        ([float("-inf"), 0.0], -1, ValueError, r"NaN or infinite logit \(-inf at index \(0,\)"),
    ],
)
def test_softmax_rejects_bad_input_with_a_message_naming_it(logits, axis, error, message):
    with pytest.raises(error, match=message):
        softmax(logits, axis=axis)

"""Rank-gain ratio and the bounds of Theorem 3.1 (property tests over random correlation matrices)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory.bounds import (
    apply_kernel,
    decorrelation_gap,
    gap_constant_profile,
    gap_lower_bound,
    improved_bound,
    intermediate_bound,
    rank_gain_ratio,
    theorem_bound,
)
from theory.kernels import alpha, kernel
from theory.random_matrices import CorrelationSpec, correlation_specs, sample_correlation

ROUNDING = 1e-12
ACTIVATIONS = ["relu", "tanh", "abs", "sin", "square", "linear", "gelu"]


@given(spec=correlation_specs(max_dim=7), name=st.sampled_from(ACTIVATIONS))
def test_bound_chain_holds(spec: CorrelationSpec, name: str):
    C = spec.matrix()
    ratio = rank_gain_ratio(name, C)
    thm, mid, imp = theorem_bound(name, C), intermediate_bound(name, C), improved_bound(name, C)
    assert 1.0 <= thm <= mid + ROUNDING <= imp + 2 * ROUNDING
    assert ratio >= imp - ROUNDING


def test_ratio_is_frobenius_ratio():
    C = sample_correlation(np.random.default_rng(2), 6, "gram")
    K = apply_kernel("relu", C)
    assert np.allclose(np.diag(K), 1.0) and np.allclose(K, K.T)
    expected = np.sum(C * C) / np.sum(K * K)
    assert rank_gain_ratio("relu", C) == pytest.approx(expected, rel=1e-14)
    off = ~np.eye(6, dtype=bool)
    np.testing.assert_allclose(K[off], kernel("relu", C[off]), rtol=1e-14)


def test_minus_one_correlation_gains_rank_for_relu():
    C = np.array([[1.0, -1.0], [-1.0, 1.0]])
    assert rank_gain_ratio("relu", C) > 1.5  # K(−1) = −1/(π − 1)
    assert rank_gain_ratio("tanh", C) == pytest.approx(1.0, abs=1e-12)  # odd: K(−1) = −1
    assert rank_gain_ratio("abs", C) == pytest.approx(1.0, abs=1e-12)  # even: K(−1) = +1


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_gap_bounds(name):
    r = np.linspace(-0.999, 0.999, 101)
    r = r[np.abs(r) > 1e-3]
    gap = decorrelation_gap(name, r)
    assert np.all(gap >= gap_lower_bound(name, r) - ROUNDING)
    assert np.all(gap >= gap_lower_bound(name, r, 1 - alpha(name)) - ROUNDING)
    assert np.min(gap_constant_profile(name, r)) >= 1 - alpha(name) - 1e-9


def test_gap_profile_rejects_fixed_points():
    with pytest.raises(ValueError, match="undefined"):
        gap_constant_profile("relu", np.array([0.0, 0.5]))
    with pytest.raises(ValueError, match="correlation matrix"):
        rank_gain_ratio("relu", np.array([[1.0, 2.0], [2.0, 1.0]]))

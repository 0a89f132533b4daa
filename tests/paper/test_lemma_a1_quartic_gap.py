"""Lemma A.1 / Figure A.1 (top): the decorrelation gap r² − K(r)² dominates γ·r²(1 − r²) for representative
activations, and vanishes only at the fixed points r ∈ {0, ±1} (or for linear φ)."""

from __future__ import annotations

import numpy as np
import pytest

from theory.bounds import decorrelation_gap, gap_lower_bound
from theory.kernels import alpha

REPRESENTATIVE = ["relu", "tanh", "gelu", "sin", "erf", "leaky_relu:0.1"]
R = np.linspace(-0.995, 0.995, 81)
R = R[np.abs(R) > 1e-6]


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_gap_strictly_dominates_bound_off_fixed_points(name):
    gap, bound = decorrelation_gap(name, R), gap_lower_bound(name, R)
    assert np.all(gap > bound)  # strict for nonlinear φ away from {0, ±1}
    assert np.all(gap >= gap_lower_bound(name, R, 1 - alpha(name)) - 1e-12)  # and the improved constant


def test_gap_vanishes_at_fixed_points_and_for_linear():
    assert np.allclose(decorrelation_gap("relu", np.array([0.0, 1.0])), 0.0, atol=1e-14)
    assert np.allclose(decorrelation_gap("linear", R), 0.0, atol=1e-13)
    # ... but NOT at r = −1 for ReLU: K(−1) = −1/(π − 1), one of the paper's overlooked cases
    assert decorrelation_gap("relu", -1.0) > 0.7

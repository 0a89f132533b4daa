"""Lemma A.1 / Figure A.1 (top): the decorrelation gap r² − K(r)² dominates γ·r²(1 − r²) for representative
activations, and vanishes only at the fixed points r ∈ {0, ±1} (or for linear φ).

The inequality itself is the proofs_check checks of Lemma A.1 (run at thorough effort here, a finer grid than
the default run); this file adds strict dominance off the fixed points and the r = −1 case."""

from __future__ import annotations

import numpy as np
import pytest

from tests.check_runs import CHECKS, assert_as_expected
from theory.bounds import decorrelation_gap, gap_lower_bound
from theory.kernels import alpha

REPRESENTATIVE = ["relu", "tanh", "gelu", "sin", "erf", "leaky_relu:0.1"]
R = np.linspace(-0.995, 0.995, 81)
R = R[np.abs(R) > 1e-6]


LEMMA_A_1 = sorted(i for i in CHECKS if i.startswith("lemma-A.1/"))


@pytest.mark.parametrize("check_id", LEMMA_A_1)
def test_lemma_a1_check_at_thorough_effort(check_id: str) -> None:
    assert_as_expected(check_id, thorough=True)


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

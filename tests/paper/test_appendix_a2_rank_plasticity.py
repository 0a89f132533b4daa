"""Appendix A.2 / Figures A.2–A.3: the proofs_check checks of the rank-plasticity tension, plus the shape of
the ReLU trade-off curve that the checks do not assert (both γ and P fall as the bias grows)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.check_runs import CHECKS, assert_as_expected
from theory.activations import modulated
from theory.frozen import frozen_probability
from theory.kernels import gamma

APPENDIX_A_2 = sorted(i for i in CHECKS if i.startswith("appendix-A.2/"))


@pytest.mark.parametrize("check_id", APPENDIX_A_2)
def test_appendix_a2_check(check_id: str) -> None:
    assert_as_expected(check_id)


def test_relu_bias_tradeoff_curve() -> None:
    biases = np.linspace(-4, 4, 17)
    g = np.array([gamma(modulated("relu", 1.0, b)) for b in biases])
    p = np.array([frozen_probability(modulated("relu", 1.0, b)) for b in biases])
    assert np.all(np.diff(g) < 0) and np.all(np.diff(p) < 0)  # both fall as b grows
    assert g[0] > 0.99 and p[0] > 0.9999

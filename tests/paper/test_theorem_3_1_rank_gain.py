"""Theorem 3.1 / Figure A.1 (bottom): along C(λ) = (1 − λ)I + λ·C_dense the Rényi-2 rank gain exceeds
1 + γΨ(C)/‖C‖_F², with equality only at λ = 0.

The theorem and the sentences after it are the proofs_check checks of Theorem 3.1; this file adds the
figure's path of matrices."""

from __future__ import annotations

import numpy as np
import pytest

from tests.check_runs import CHECKS, assert_as_expected
from theory.bounds import rank_gain_ratio, theorem_bound
from theory.plots import dense_correlation

LAMBDAS = np.linspace(0.0, 1.0, 6)
THEOREM_3_1 = sorted(i for i in CHECKS if i.startswith("theorem-3.1/"))


@pytest.mark.parametrize("check_id", THEOREM_3_1)
def test_theorem_3_1_check(check_id: str) -> None:
    assert_as_expected(check_id)


@pytest.mark.parametrize("name", ["relu", "tanh", "gelu", "sin"])
def test_rank_gain_exceeds_bound_along_path(name):
    dense = dense_correlation(d=12)
    for lam in LAMBDAS:
        C = (1 - lam) * np.eye(12) + lam * dense
        ratio, bound = rank_gain_ratio(name, C), theorem_bound(name, C)
        if lam == 0.0:
            assert ratio == pytest.approx(1.0) and bound == pytest.approx(1.0)
        else:
            assert ratio > bound > 1.0

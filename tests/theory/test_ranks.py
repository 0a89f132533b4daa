"""Rank surrogates, the decorrelation potential and correlation-matrix validation (Section 3, Thm 3.1)."""

from __future__ import annotations

import numpy as np
import pytest

from theory.random_matrices import sample_correlation
from theory.ranks import decorrelation_potential, renyi2_rank, shannon_rank, stable_rank, validate_correlation

TOL = 1e-12


def test_surrogates_on_identity_and_rank_one():
    for d in (1, 3, 7):
        I = np.eye(d)
        assert renyi2_rank(I) == pytest.approx(d) and shannon_rank(I) == pytest.approx(d)
        assert stable_rank(I) == pytest.approx(d)
    v = np.array([1.0, -1.0, 1.0, 1.0])
    J = np.outer(v, v)
    assert renyi2_rank(J) == pytest.approx(1.0) and shannon_rank(J) == pytest.approx(1.0)
    assert stable_rank(J) == pytest.approx(1.0)


def test_surrogates_match_eigenvalue_formulas():
    rng = np.random.default_rng(3)
    C = sample_correlation(rng, 6, "low-rank")
    lam = np.clip(np.linalg.eigvalsh(C), 0, None)
    p = lam[lam > 0] / lam.sum()
    assert renyi2_rank(C) == pytest.approx(lam.sum() ** 2 / np.sum(lam**2), rel=TOL)
    assert shannon_rank(C) == pytest.approx(np.exp(-np.sum(p * np.log(p))), rel=1e-10)
    assert stable_rank(C) == pytest.approx(np.sum(lam**2) / lam.max() ** 2, rel=TOL)
    # ordering: 1 ≤ stable ≤ Rényi-2 ≤ Shannon ≤ rank
    assert (
        1 - TOL
        <= stable_rank(C)
        <= renyi2_rank(C) + TOL
        <= shannon_rank(C) + 2 * TOL
        <= np.linalg.matrix_rank(C) + 1e-9
    )


def test_decorrelation_potential_matches_explicit_sum():
    rng = np.random.default_rng(5)
    C = sample_correlation(rng, 5, "gram")
    explicit = sum(C[i, j] ** 2 * (1 - C[i, j] ** 2) for i in range(5) for j in range(5) if i != j)
    assert decorrelation_potential(C) == pytest.approx(explicit, rel=TOL)
    assert decorrelation_potential(np.array([[1.0, -1.0], [-1.0, 1.0]])) == 0.0


@pytest.mark.parametrize(
    "matrix, message",
    [
        (np.array([[1.0, 0.2], [0.3, 1.0]]), "symmetric"),
        (np.array([[1.0, 0.2], [0.2, 0.9]]), "unit diagonal"),
        (np.array([[1.0, 1.2], [1.2, 1.0]]), r"\[-1, 1\]"),
        (np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]), "positive semi-definite"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), "non-finite"),
        (np.ones((2, 3)), "square"),
    ],
)
def test_validation_names_the_problem(matrix, message):
    with pytest.raises(ValueError, match=message):
        validate_correlation(matrix)


def test_bad_inputs_to_surrogates():
    with pytest.raises(ValueError, match="zero matrix"):
        renyi2_rank(np.zeros((3, 3)))

"""Sympy proofs of Lemma A.1 (paper constant γ and the optimal constant 1 − α)."""

from __future__ import annotations

import sympy

from theory.symbolic import (
    ALPHA,
    X,
    extremal_gap_ratio,
    gamma_below_improved_constant,
    gap_difference,
    improved_constant_certificate,
    lemma_a1_certificate,
    optimal_constant_limit,
    paper_gamma,
    prove_nonnegative_on_box,
)


def test_lemma_a1_certificate():
    cert = lemma_a1_certificate()
    assert cert.proved
    assert sympy.simplify(cert.factored - gap_difference(paper_gamma())) == 0
    expected = ALPHA * (1 - ALPHA) * X**2 * (1 - X) * (2 + ALPHA * (1 - X)) / (1 + ALPHA)
    assert sympy.simplify(cert.expression - expected) == 0


def test_improved_constant_and_optimality():
    cert = improved_constant_certificate()
    assert cert.proved
    assert sympy.simplify(cert.expression - ALPHA * (1 - ALPHA) * X**2 * (1 - X) ** 2) == 0
    assert sympy.simplify(optimal_constant_limit() - (1 - ALPHA)) == 0
    ratio = extremal_gap_ratio()
    assert sympy.simplify(ratio - (1 - ALPHA) * (1 + ALPHA * (1 - X) / (1 + X))) == 0
    assert sympy.simplify(gamma_below_improved_constant() - ALPHA * (1 - ALPHA) / (1 + ALPHA)) == 0


def test_certificate_rejects_false_claims():
    assert not prove_nonnegative_on_box(X - sympy.Rational(1, 2)).proved
    assert not prove_nonnegative_on_box(gap_difference(sympy.Integer(2))).proved  # constant 2 > 1 − α fails
    assert not prove_nonnegative_on_box(-(X**2)).proved

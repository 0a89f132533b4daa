"""Hermite coefficients: float64 Gauss–Legendre vs mpmath high precision vs sympy closed forms (App. A.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory.activations import get_activation, modulated
from theory.hermite import hermite_coefficient_mp, hermite_coefficients, hermite_expansion, hermite_tail
from theory.symbolic import hermite_coefficient_symbolic

COEFF_TOL = 1e-13  # absolute; coefficients are O(1)
MP_CASES = [
    ("relu", 1.0, 0.0),
    ("tanh", 1.0, 0.0),
    ("abs", 1.0, 0.0),
    ("relu", 2.0, -0.5),
    ("sigmoid", 3.0, 1.0),
]


@pytest.mark.parametrize("spec", MP_CASES, ids=lambda s: f"{s[0]}({s[1]:g},{s[2]:g})")
def test_float_coefficients_match_mpmath(spec):
    act = modulated(spec[0], spec[1], spec[2])
    coeffs = hermite_coefficients(act, 6)
    for k in (0, 1, 6):
        assert abs(coeffs[k] - float(hermite_coefficient_mp(act, k))) < COEFF_TOL


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "abs", "elu", "square", "linear", "sin", "erf"])
def test_float_coefficients_match_sympy(name):
    coeffs = hermite_coefficients(name, 3)
    for k in range(4):
        assert abs(coeffs[k] - float(hermite_coefficient_symbolic(name, k))) < COEFF_TOL


def test_known_relu_coefficients():
    c = hermite_coefficients("relu", 4)
    expected = [
        1 / math.sqrt(2 * math.pi),
        0.5,
        1 / (2 * math.sqrt(math.pi)),
        0.0,
        -math.sqrt(3) / (12 * math.sqrt(math.pi)),
    ]
    np.testing.assert_allclose(c, expected, atol=COEFF_TOL)


def test_linear_and_square_are_single_polynomials():
    np.testing.assert_allclose(hermite_coefficients("linear", 5), [0, 1, 0, 0, 0, 0], atol=COEFF_TOL)
    np.testing.assert_allclose(hermite_coefficients("square", 4), [1, 0, math.sqrt(2), 0, 0], atol=COEFF_TOL)


@pytest.mark.parametrize("name", ["relu", "tanh", "abs", "elu"])
def test_parseval_tail(name):
    exp = hermite_expansion(name)
    assert exp.tail >= 0
    assert abs(exp.weights.sum() + exp.tail / exp.variance - 1.0) < 1e-13
    assert hermite_tail(name, 10) > hermite_tail(name, 100) >= exp.tail
    # kinked activations decay algebraically (a_k² ~ k^(-5/2)): the tail after 600 is small but not negligible
    assert exp.tail / exp.variance < 1e-4


def test_bad_input():
    with pytest.raises(ValueError, match="degree"):
        hermite_expansion("relu", 0)
    with pytest.raises(ValueError, match="integer in \\[0, 20000\\]"):
        hermite_coefficient_mp("relu", -1)
    with pytest.raises(ValueError, match="constant"):
        hermite_expansion(modulated("relu", 1.0, -60.0))
    with pytest.raises(ValueError, match="symbolic"):
        hermite_coefficient_symbolic("tanh", 1)
    with pytest.raises(ValueError, match="symbolic"):
        hermite_coefficient_symbolic(get_activation("relu").modulated(2.0, 0.0), 1)

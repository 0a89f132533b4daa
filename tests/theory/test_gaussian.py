"""The Gaussian quadrature engine: moments, kinks, tails, and the mpmath counterpart."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import special

from theory.activations import get_activation, modulated
from theory.gaussian import breakpoints_in, composite_rule, gaussian_mass, gaussian_rule, mp_expectation


def test_rule_integrates_gaussian_moments():
    rule = gaussian_rule(get_activation("tanh"))
    z, w = rule.z, rule.w[:, 0]
    for k, moment in ((0, 1.0), (2, 1.0), (4, 3.0), (6, 15.0), (1, 0.0)):
        assert w @ z**k == pytest.approx(moment, abs=1e-14)


def test_rule_is_split_at_kinks():
    act = modulated("relu", 2.0, -1.0)  # kink at z = 0.5
    rule = gaussian_rule(act)
    z, w = rule.z, rule.w[:, 0]
    assert not np.any(z == 0.5)
    # E[relu(2Z − 1)] in closed form: 2(ϕ(c) − c·Φ(−c)) with c = 0.5
    c = 0.5
    expected = 2 * (math.exp(-c * c / 2) / math.sqrt(2 * math.pi) - c * special.ndtr(-c))
    assert w @ act.numpy_fn(z) == pytest.approx(expected, rel=1e-14)


def test_breakpoints_and_composite_rule():
    np.testing.assert_array_equal(breakpoints_in(-1.0, 1.0, [0.0, 5.0, -1.0, 0.0]), [-1.0, 0.0, 1.0])
    x, w = composite_rule(np.array([0.0, 1.0, 3.0]), 0.5)
    assert w.sum() == pytest.approx(3.0) and w @ x**3 == pytest.approx(81 / 4)


def test_gaussian_mass_tails():
    assert gaussian_mass(30.0, np.inf) == pytest.approx(float(mpmath.ncdf(-30)), rel=1e-12)
    assert gaussian_mass(-np.inf, -30.0) == pytest.approx(float(mpmath.ncdf(-30)), rel=1e-12)
    assert gaussian_mass(-1.0, 2.0) == pytest.approx(special.ndtr(2.0) - special.ndtr(-1.0), rel=1e-15)


def test_mp_expectation():
    act = get_activation("abs")
    with mpmath.workdps(30):
        value = mp_expectation(act, act.mpmath_fn)
        assert abs(value - mpmath.sqrt(2 / mpmath.pi)) < mpmath.mpf(10) ** -25

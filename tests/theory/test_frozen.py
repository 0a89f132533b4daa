"""Frozen probability P(|ψ'(Z)| < ε): root-finding vs closed-form sets vs mpmath (Appendix A.2)."""

from __future__ import annotations

import math

import pytest
from scipy import special

from tests.theory.cases import ZOO, ZOO_IDS, build
from theory.activations import modulated
from theory.frozen import (
    frozen_intervals,
    frozen_probability,
    frozen_probability_closed_form,
)

REL_TOL = 1e-10
EPSILONS = (0.01, 0.3)


WITH_CLOSED_FORM = [
    (s, i) for s, i in zip(ZOO, ZOO_IDS) if frozen_probability_closed_form(build(s)) is not None
]


@pytest.mark.parametrize("spec", [s for s, _ in WITH_CLOSED_FORM], ids=[i for _, i in WITH_CLOSED_FORM])
@pytest.mark.parametrize("eps", EPSILONS)
def test_roots_match_closed_form(spec, eps):
    act = build(spec)
    closed = frozen_probability_closed_form(act, eps)
    roots = frozen_probability(act, eps)
    assert abs(roots - closed) <= REL_TOL * max(closed, 1e-300)


@pytest.mark.parametrize(
    "spec", [("gelu", 1, 0), ("silu", 1, 0), ("gelu", 0.5, 1.0), ("silu", 2.0, 1.0), ("tanh", 3, 0.5)]
)
def test_roots_match_mpmath(spec):
    act = modulated(*spec)
    assert frozen_probability(act, method="roots") == pytest.approx(
        frozen_probability(act, method="mp"), rel=REL_TOL
    )


def test_known_values():
    assert frozen_probability("relu") == 0.5
    assert frozen_probability(modulated("relu", 1.0, 1.3)) == pytest.approx(special.ndtr(-1.3), rel=1e-14)
    assert frozen_probability(modulated("tanh", 0.005)) == 1.0  # |ψ'| ≤ a < ε everywhere
    c = math.acosh(1 / math.sqrt(0.01))
    assert frozen_probability("tanh") == pytest.approx(2 * special.ndtr(-c), rel=1e-12)
    assert frozen_probability("linear") == 0.0 and frozen_probability("linear", eps=1.5) == 1.0


def test_intervals_shape():
    ((lo, hi),) = frozen_intervals("relu")
    assert lo == -math.inf and abs(hi) < 1e-12
    left, right = frozen_intervals("tanh")
    assert left[0] == -math.inf and right[1] == math.inf and left[1] == pytest.approx(-right[0], rel=1e-14)
    assert frozen_intervals("abs") == []


def test_bad_input():
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="eps"):
            frozen_probability("relu", bad)
    with pytest.raises(ValueError, match="valid choices"):
        frozen_probability("relu", 0.01, method="magic")
    with pytest.raises(ValueError, match="no closed-form"):
        frozen_probability("gelu", 0.01, method="closed")

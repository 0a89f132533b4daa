"""Orthonormal probabilists' Hermite coefficients of an activation (Appendix A.1, preliminaries).

φ(z) = Σ_k a_k h_k(z) in L²(N(0,1)) with h_k = He_k/√(k!) and a_k = E[φ(Z) h_k(Z)]. For the modulated
activation ψ(z) = φ(a·z + b) of Appendix A.2 the same formulas apply to ψ.

Two independent computations:

* :func:`hermite_coefficients` — float64, all coefficients at once: composite Gauss–Legendre split at
  the kinks and graded towards where ψ varies (:mod:`theory.gaussian`, cost independent of the scale a)
  with the three-term recurrence h_{k+1}(z) = (z·h_k(z) − √k·h_{k−1}(z))/√(k+1) evaluated at the nodes;
  values centred where float64 would cancel (a_0 = μ carries the offset, a_k for k ≥ 1 only the centred
  part).
* :func:`hermite_coefficient_mp` — one coefficient in high precision by mpmath quadrature split at kinks.

The tail Σ_{k>N} a_k² = Var φ − Σ_{1≤k≤N} a_k² (Parseval) is :func:`hermite_tail`; it bounds the
truncation error of the Mehler series (see :mod:`theory.kernels`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np

from theory.activations import Activation, get_activation
from theory.gaussian import MP_DPS, Sampled, mp_expectation, sample
from theory.memo import BoundedMemo

DEFAULT_DEGREE = 600
MAX_DEGREE = 20_000
"""Largest expansion degree accepted: the cost grows like degree^1.5 (≈ 1 s at 20,000)."""
# Parseval's tail is a difference of two O(1) numbers: below this floor (relative to Var) it is noise.
TAIL_NOISE_FLOOR = 1e-14


@dataclass(frozen=True)
class HermiteExpansion:
    """a_0..a_N of φ, with mean μ = a_0, variance Var = E φ² − μ², and the Parseval tail after N.

    Stored in units of ``unit`` (a power of two): ``scaled`` holds a_k/unit (k ≥ 1), ``scaled_variance``
    Var/unit², so the weights and the tail are exact ratios even where Var itself over- or underflows
    float64."""

    scaled: np.ndarray
    mean: float
    scaled_variance: float
    scaled_derivative_moment: float
    unit: float = 1.0

    @property
    def coefficients(self) -> np.ndarray:
        """a_0 = μ, a_k = unit·scaled[k]."""
        with np.errstate(over="ignore", under="ignore"):
            out = self.unit * self.scaled
        out[0] = self.mean
        return out

    @property
    def variance(self) -> float:
        with np.errstate(over="ignore", under="ignore"):
            return float(self.unit**2 * self.scaled_variance)

    @property
    def second_moment_of_derivative(self) -> float:
        """E ψ'(Z)² (= Var·K'(1))."""
        with np.errstate(over="ignore", under="ignore"):
            return float(self.unit**2 * self.scaled_derivative_moment)

    @property
    def degree(self) -> int:
        return len(self.scaled) - 1

    @property
    def tail(self) -> float:
        """Σ_{k>N} a_k² = Var − Σ_{k=1}^{N} a_k², floored at ``TAIL_NOISE_FLOOR``·Var (rounding noise)."""
        with np.errstate(over="ignore", under="ignore"):
            return float(self.relative_tail * self.variance)

    @property
    def relative_tail(self) -> float:
        """Σ_{k>N} a_k² / Var (floored at ``TAIL_NOISE_FLOOR``)."""
        head = float(np.sum(self.weights))
        return max(1.0 - head, TAIL_NOISE_FLOOR)

    @property
    def weights(self) -> np.ndarray:
        """Normalized Mehler weights w_k = a_k²/Var (w_0 = 0), Eq. (1); Σ_k w_k = 1."""
        w = (self.scaled / math.sqrt(self.scaled_variance)) ** 2  # a ratio first: squares of 1e−196 underflow
        w[0] = 0.0
        return w


_EXPANSIONS: BoundedMemo[HermiteExpansion] = BoundedMemo()


def hermite_expansion(act: Activation | str, degree: int = DEFAULT_DEGREE) -> HermiteExpansion:
    """Coefficients a_0..a_degree (float64, cached per activation, scale, shift and degree).

    a_k = Σ_i w_i φ(z_i) h_k(z_i) over a Gauss–Legendre rule for N(0,1) split at kinks. The same rule
    gives μ, Var and E[ψ'(Z)²] (= Var·K'(1), used for the slope of the kernel at r = 1). Raises
    ValueError when φ has zero variance under N(0,1) (a constant activation has no correlation).
    """
    act = get_activation(act)
    degree = check_degree(degree, minimum=1)
    return _EXPANSIONS.get_or_compute((act.key, degree), lambda: _expansion(act, degree))


def check_degree(degree: object, minimum: int = 0) -> int:
    """``degree`` as an int in [minimum, MAX_DEGREE], else ValueError naming the valid range."""
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer, float)) or degree != int(degree):
        raise ValueError(f"degree must be an integer in [{minimum}, {MAX_DEGREE}], got {degree!r}")
    if not minimum <= int(degree) <= MAX_DEGREE:
        raise ValueError(f"degree must be an integer in [{minimum}, {MAX_DEGREE}], got {degree!r}")
    return int(degree)


def _checked_variance(act: Activation, sampled: Sampled) -> float:
    """Var ψ / unit², or ValueError where ψ is constant to float64 precision."""
    variance = sampled.scaled_variance
    if not variance > 0.0:
        raise ValueError(
            f"activation {act.name} is constant under N(0,1) to float64 precision (variance {variance:g}); "
            "K and α are undefined"
        )
    return variance


def _expansion(act: Activation, degree: int) -> HermiteExpansion:
    sampled = sample(act, oscillation_degree=degree)
    z, weighted = sampled.rule.z, sampled.marginal()
    scaled = np.empty(degree + 1)
    h_prev, h_cur = np.zeros_like(z), np.ones_like(z)
    scaled[0] = float(np.sum(weighted))
    for k in range(degree):
        h_prev, h_cur = h_cur, (z * h_cur - np.sqrt(k) * h_prev) / np.sqrt(k + 1.0)
        # pairwise np.sum, not BLAS dot: on graded rules (weights ≈ 1e−105) dot hit subnormal partial products
        # and took 1–9 s instead of 0.1 s
        scaled[k + 1] = np.sum(weighted * h_cur)
    variance = _checked_variance(act, sampled)
    return HermiteExpansion(scaled, sampled.mean, variance, sampled.scaled_derivative_moment, sampled.unit)


@dataclass(frozen=True)
class LowOrderMoments:
    """μ = E φ, a_1 = E[φ(Z) Z], Var φ and E[φ'(Z)²] from the plain (non-oscillatory) Gaussian rule, the last
    three in units of ``unit`` (a power of two; see :class:`HermiteExpansion`)."""

    mean: float
    scaled_first: float
    scaled_variance: float
    scaled_derivative_moment: float
    unit: float = 1.0

    @property
    def alpha(self) -> float:
        """α = a_1²/Var (Appendix A.1, property 3)."""
        return (self.scaled_first / math.sqrt(self.scaled_variance)) ** 2

    @property
    def slope_at_one(self) -> float:
        """K'(1) = E ψ'²/Var (inf where E ψ'² overflows float64)."""
        return self.scaled_derivative_moment / self.scaled_variance

    @property
    def first(self) -> float:
        return self.unit * self.scaled_first

    @property
    def variance(self) -> float:
        with np.errstate(over="ignore", under="ignore"):
            return float(self.unit**2 * self.scaled_variance)


_MOMENTS: BoundedMemo[LowOrderMoments] = BoundedMemo()


def low_order_moments(act: Activation | str) -> LowOrderMoments:
    """The moments behind α = a_1²/Var and K'(1) = E φ'²/Var, without the cost of 600 coefficients."""
    act = get_activation(act)
    return _MOMENTS.get_or_compute(act.key, lambda: _moments(act))


def _moments(act: Activation) -> LowOrderMoments:
    sampled = sample(act)
    variance = _checked_variance(act, sampled)
    first = float(sampled.rule.z @ sampled.marginal())  # E[ψ Z] = E[(ψ − offset)·Z], as E Z = 0
    return LowOrderMoments(sampled.mean, first, variance, sampled.scaled_derivative_moment, sampled.unit)


def hermite_coefficients(act: Activation | str, degree: int = 8) -> np.ndarray:
    """Orthonormal coefficients a_0..a_degree of φ: a_k = E[φ(Z) He_k(Z)]/√(k!) (Appendix A.1)."""
    degree = check_degree(degree)
    return hermite_expansion(act, max(degree, DEFAULT_DEGREE)).coefficients[: degree + 1].copy()


def hermite_tail(act: Activation | str, degree: int) -> float:
    """Σ_{k>degree} a_k² = Var φ − Σ_{k=1}^{degree} a_k² (Parseval), floored at rounding noise."""
    degree = check_degree(degree)
    exp = hermite_expansion(act, max(degree, DEFAULT_DEGREE))
    head = float(np.sum(exp.weights[1 : degree + 1]))
    with np.errstate(over="ignore", under="ignore"):
        return float(max(1.0 - head, TAIL_NOISE_FLOOR) * exp.variance)


_MP_COEFFICIENTS: BoundedMemo[mpmath.mpf] = BoundedMemo(4096)


def _mp_coefficient(act: Activation, k: int) -> mpmath.mpf:
    return _MP_COEFFICIENTS.get_or_compute((act.key, k), lambda: _mp_coefficient_uncached(act, k))


def _mp_coefficient_uncached(act: Activation, k: int) -> mpmath.mpf:
    def he_k(z: mpmath.mpf) -> mpmath.mpf:
        return mpmath.hermite(k, z / mpmath.sqrt(2)) * mpmath.mpf(2) ** (-mpmath.mpf(k) / 2)

    with mpmath.workdps(MP_DPS):
        return mp_expectation(act, act.unmodulated().mpmath_fn, he_k) / mpmath.sqrt(mpmath.factorial(k))


def hermite_coefficient_mp(act: Activation | str, k: int) -> mpmath.mpf:
    """a_k in high precision: mpmath quadrature of φ(z)·He_k(z)/√(k!) against N(0,1), split at kinks.

    He_k(z) = 2^{−k/2} H_k(z/√2) with H_k the physicists' polynomial (mpmath.hermite).
    """
    act = get_activation(act)
    return _mp_coefficient(act, check_degree(k))

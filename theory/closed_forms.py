"""Closed-form correlation kernels and linearity coefficients where they exist (third, exact check).

K_φ(r) = Corr(φ(X), φ(Y)) for standard Gaussians with correlation r (Theorem 3.1, Appendix A.1),
α = K'_φ(0). Each formula below is derived in docs/theory.md; they are used only to check the two
numerical methods of :mod:`theory.kernels`, never to replace them.

* ReLU (arc-cosine kernel of degree 1): E[relu X relu Y] = J(r)/(2π), J(r) = √(1−r²) + (π − arccos r)·r,
  so K(r) = (J(r) − 1)/(π − 1). Holds for relu(a·z) with any a ≠ 0 (positive homogeneity, and (X,Y) ~
  (−X,−Y)).
* leaky ReLU with slope s: l = s·z + (1−s)·relu, Stein's E[X relu Y] = r/2, so Cov(r) = s·r + (1−s)²(J(r) −
  1)/(2π).
* abs = 2·relu − id: E|X||Y| = (2/π)(√(1−r²) + r·arcsin r), K(r) = (√(1−r²) + r·arcsin r − 1)/(π/2 − 1).
* erf(a·z) (arcsine kernel): E[erf(aX) erf(aY)] = (2/π)·arcsin(2a²r/(1+2a²)).
* sin(a·z + b): Cov(r) = e^{−a²}[sinh(a²r) + sin²b·(e^{−a²r} − 1)] (from E cos(W) = e^{−Var W/2}), evaluated
  as ½[e^{−a²(1−r)} − e^{−a²(1+r)}] + sin²b·e^{−a²}·expm1(−a²r), which neither overflows nor cancels.
* (a·z + b)²: Cov(r) = 2a⁴r² + 4a²b²r, i.e. K(r) = (r² + 2c²r)/(1 + 2c²) with c = b/a.   linear: K(r) = r.
* α for relu(a·z + b) with c = b/|a|: α = Φ(c)²/V(c), V(c) = Var relu(Z + c) = (c²+1)Φ(c) + cϕ(c) − m(c)²,
  m(c) = cΦ(c) + ϕ(c). The textbook form cancels (c² + 1 − c² at c ≳ 10⁸; ≈ c⁴ digits as c → −∞), so V is
  evaluated in mpmath as Φ(c) − t·(c + t), t = ϕ(c) − cΦ(−c) (c ≥ 0), and with the working precision raised by
  4·log₁₀|c| digits (c < 0).

The frozen set {u : |φ'(u)| < t} of Appendix A.2 in the activation's own variable u = a·z + b (t = ε/|a|),
within a window [lo, hi] of u: tanh via arcsech, sigmoid via arccosh, erf, softplus via logit, ELU via log,
ReLU-type half-lines, sin via arcsin (the one family whose set is infinite: listed within the window, and
refused beyond ``MAX_LISTED_INTERVALS`` intervals).

Each family's formulas are bundled in a :class:`ClosedForms` that the activation registry attaches to the
family's :class:`theory.activations.Activation` (``act.closed_forms``); nothing here parses names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np

Interval = tuple[float, float]
KernelForm = Callable[[np.ndarray, float, float], "np.ndarray | None"]
"""(r, a, b) ↦ K_ψ(r) for ψ(z) = φ(a·z + b), or None where the family's formula does not cover (a, b)."""
AlphaForm = Callable[[float, float], "float | None"]
"""(a, b) ↦ α = K'_ψ(0), or None outside the formula's coverage."""
SlowSetForm = Callable[[float, float, float], "list[Interval]"]
"""(t, lo, hi) ↦ {u : |φ'(u)| < t} as sorted disjoint intervals covering its part in [lo, hi] (families with a
finite list return all of it)."""

GAUSSIAN_REACH = 40.0
"""|z| beyond which the standard Gaussian mass underflows in float64: the default window of a slow set is
b ± GAUSSIAN_REACH·|a|."""
MAX_LISTED_INTERVALS = 100_000
"""A periodic slow set is refused (ValueError) beyond this many intervals; its measure under N(b, a²) at large
|a| is the per-period fraction (:mod:`theory.frozen`)."""
RELU_ALPHA_DPS = 30
"""Working digits of :func:`relu_alpha` before the 4·log₁₀|c| raised for c < 0."""


@dataclass(frozen=True)
class ClosedForms:
    """The closed forms known for one activation family (any of them may be missing)."""

    kernel: KernelForm | None = None
    alpha: AlphaForm | None = None
    slow_set: SlowSetForm | None = None


def _sqrt_one_minus_r2_minus_one(r: np.ndarray | float) -> np.ndarray:
    """√(1 − r²) − 1 written as −r²/(1 + √(1 − r²)), free of cancellation at small r."""
    return -r * r / (1.0 + np.sqrt(np.clip(1.0 - r * r, 0.0, None)))


def _arccos_j_minus_one(r: np.ndarray | float) -> np.ndarray:
    """J(r) − 1 with J(r) = √(1 − r²) + (π − arccos r)·r (arc-cosine kernel of degree 1)."""
    return _sqrt_one_minus_r2_minus_one(r) + (np.pi - np.arccos(r)) * r


def _leaky_cov(r: np.ndarray | float, s: float) -> np.ndarray:
    return s * r + (1.0 - s) ** 2 * _arccos_j_minus_one(r) / (2.0 * np.pi)


def _sin_cov(r: np.ndarray | float, a: float, b: float) -> np.ndarray:
    """e^{−a²}[sinh(a²r) + sin²b·(e^{−a²r} − 1)], written with expm1 of non-positive arguments only:
    e^{−a²}sinh(a²r) = −½·sign(r)·e^{−a²(1−|r|)}·expm1(−2a²|r|), and e^{−a²}(e^{−a²r} − 1) is
    e^{−a²}·expm1(−a²r) for r ≥ 0, −e^{−a²(1−|r|)}·expm1(−a²|r|) for r < 0. No overflow (a²|r| > 710) and no
    cancellation (a → 0)."""
    a2 = a * a
    r = np.asarray(r, dtype=np.float64)
    m = np.abs(r)
    near = np.exp(-a2 * (1.0 - m))
    odd = -0.5 * np.sign(r) * near * np.expm1(-2.0 * a2 * m)
    even = np.where(r >= 0, np.exp(-a2) * np.expm1(-a2 * m), -near * np.expm1(-a2 * m))
    return odd + np.sin(b) ** 2 * even


def _sin_alpha(a: float, b: float) -> float:
    """a²e^{−a²}cos²b / Cov(1); a²e^{−a²} underflows to 0 exactly where α does."""
    return float(a * a * math.exp(-a * a) * math.cos(b) ** 2 / _sin_cov(np.float64(1.0), a, b))


def relu_alpha(c: float) -> float:
    """α of relu(a·z + b) with c = b/|a|: Φ(c)²/V(c) (E ψ' = Φ(c) after scaling out |a|), V = Var relu(Z + c).

    Evaluated in mpmath (no underflow): α ≈ |c|ϕ(c)/2 → 0 as c → −∞, returned as 0.0 below float64's range."""
    c = float(c)
    if not math.isfinite(c):
        raise ValueError(f"c = b/|a| must be finite, got {c!r}")
    digits = RELU_ALPHA_DPS + (int(4 * math.log10(-c)) + 1 if c < -1.0 else 0)
    with mpmath.workdps(digits):
        mc = mpmath.mpf(c)
        cdf, pdf = mpmath.ncdf(mc), mpmath.npdf(mc)
        if c >= 0:
            t = pdf - mc * mpmath.ncdf(-mc)  # E(Z − c)₊, small: V = Φ(c) − t·(c + t) has no cancellation
            variance = cdf - t * (mc + t)
        else:
            mean = mc * cdf + pdf
            variance = (mc * mc + 1) * cdf + mc * pdf - mean * mean
        return float(cdf * cdf / variance)


def _check_listing(count: float) -> None:
    if count > MAX_LISTED_INTERVALS:
        raise ValueError(
            f"the slow set has about {count:.3g} intervals in this window "
            f"(more than {MAX_LISTED_INTERVALS}); "
            "pass a narrower window, or use theory.frozen.frozen_probability for its Gaussian measure"
        )


def _everything_or_nothing(everything: bool) -> list[Interval]:
    return [(-math.inf, math.inf)] if everything else []


def _outside(c: float) -> list[Interval]:
    return [(-math.inf, -c), (c, math.inf)]


def _positive_half_if(flat: bool) -> list[Interval]:
    """(0, ∞) when the slope-1 branch of a ReLU-type function counts as slow (1 < t), else nothing."""
    return [(0.0, math.inf)] if flat else []


# ------------------------------------------------------------------------------------------ families
def linear_forms() -> ClosedForms:
    return ClosedForms(
        kernel=lambda r, a, b: r.copy(),
        alpha=lambda a, b: 1.0,
        slow_set=lambda t, lo, hi: _everything_or_nothing(1.0 < t),
    )


def _square_kernel(r: np.ndarray, a: float, b: float) -> np.ndarray:
    c2 = (b / a) ** 2
    return (r * r + 2.0 * c2 * r) / (1.0 + 2.0 * c2)


def square_forms() -> ClosedForms:
    """(a·z + b)²: Cov(r) = 2a⁴r² + 4a²b²r, written with c = b/a (no overflow of a⁴); φ'(u) = 2u."""
    return ClosedForms(
        kernel=_square_kernel,
        alpha=lambda a, b: 2.0 * (b / a) ** 2 / (1.0 + 2.0 * (b / a) ** 2),
        slow_set=lambda t, lo, hi: [(-t / 2.0, t / 2.0)],
    )


def _sin_slow_set(t: float, lo: float, hi: float) -> list[Interval]:
    """|cos u| < t ⇔ u within arcsin(t) of π/2 + nπ; the intervals meeting [lo, hi]."""
    if t > 1.0:
        return _everything_or_nothing(True)
    half = math.asin(t)
    n_lo, n_hi = math.floor((lo - math.pi / 2) / math.pi), math.ceil((hi - math.pi / 2) / math.pi)
    _check_listing(n_hi - n_lo + 1)
    return [
        (math.pi / 2 + n * math.pi - half, math.pi / 2 + n * math.pi + half) for n in range(n_lo, n_hi + 1)
    ]


def sin_forms() -> ClosedForms:
    """sin(a·z + b): Cov(r) = e^{−a²}[sinh(a²r) + sin²b·(e^{−a²r} − 1)]."""
    return ClosedForms(
        kernel=lambda r, a, b: _sin_cov(r, a, b) / _sin_cov(np.float64(1.0), a, b),
        alpha=_sin_alpha,
        slow_set=_sin_slow_set,
    )


def relu_forms() -> ClosedForms:
    """Arc-cosine kernel (b = 0 only); α for any (a, b); frozen set (−∞, 0)."""
    return ClosedForms(
        kernel=lambda r, a, b: None if b != 0.0 else _arccos_j_minus_one(r) / (np.pi - 1.0),
        alpha=lambda a, b: relu_alpha(b / abs(a)),
        slow_set=lambda t, lo, hi: [(-math.inf, 0.0)] + _positive_half_if(1.0 < t),
    )


def leaky_relu_forms(slope: float) -> ClosedForms:
    """Cov(r) = s·r + (1−s)²(J(r) − 1)/(2π) (b = 0 only)."""
    return ClosedForms(
        kernel=lambda r, a, b: (
            None if b != 0.0 else _leaky_cov(r, slope) / _leaky_cov(np.float64(1.0), slope)
        ),
        alpha=lambda a, b: (
            None if b != 0.0 else float(((1 + slope) / 2) ** 2 / _leaky_cov(np.float64(1.0), slope))
        ),
        slow_set=lambda t, lo, hi: (
            ([(-math.inf, 0.0)] if abs(slope) < t else []) + _positive_half_if(1.0 < t)
        ),
    )


def abs_forms() -> ClosedForms:
    """K(r) = (√(1−r²) + r·arcsin r − 1)/(π/2 − 1) (b = 0 only); |φ'| = 1 except at 0."""
    return ClosedForms(
        kernel=lambda r, a, b: (
            None if b != 0.0 else (_sqrt_one_minus_r2_minus_one(r) + r * np.arcsin(r)) / (np.pi / 2.0 - 1.0)
        ),
        alpha=lambda a, b: None if b != 0.0 else 0.0,
        slow_set=lambda t, lo, hi: _everything_or_nothing(1.0 < t),
    )


def _arcsin_scaled(r: np.ndarray | float, delta: float) -> np.ndarray:
    """arcsin(c·r) with c = 1 − δ, accurate as c·r → ±1: arcsin y = π/2 − 2·arcsin(√((1 − y)/2)) for y ≥ ½,
    with 1 − c|r| = (1 − |r|) + |r|·δ computed without cancellation."""
    r = np.asarray(r, dtype=np.float64)
    m = np.abs(r)
    y = (1.0 - delta) * m
    gap = (1.0 - m) + m * delta
    near_one = 0.5 * np.pi - 2.0 * np.arcsin(np.sqrt(0.5 * gap))
    return np.sign(r) * np.where(y >= 0.5, near_one, np.arcsin(np.minimum(y, 0.5)))


def _erf_kernel(r: np.ndarray, a: float, b: float) -> np.ndarray | None:
    if b != 0.0:
        return None
    delta = 1.0 / (1.0 + 2.0 * a * a)  # 1 − c, c = 2a²/(1 + 2a²)
    return _arcsin_scaled(r, delta) / _arcsin_scaled(np.float64(1.0), delta)


def _erf_alpha(a: float, b: float) -> float | None:
    if b != 0.0:
        return None
    delta = 1.0 / (1.0 + 2.0 * a * a)
    return float((1.0 - delta) / _arcsin_scaled(np.float64(1.0), delta))


def _erf_slow_set(t: float, lo: float, hi: float) -> list[Interval]:
    """(2/√π) e^{−u²} < t."""
    peak = 2.0 / math.sqrt(math.pi)
    return _everything_or_nothing(True) if t > peak else _outside(math.sqrt(math.log(peak / t)))


def erf_forms() -> ClosedForms:
    """Arcsine kernel: E[erf(aX) erf(aY)] = (2/π)·arcsin(2a²r/(1+2a²)) (b = 0 only)."""
    return ClosedForms(kernel=_erf_kernel, alpha=_erf_alpha, slow_set=_erf_slow_set)


def tanh_forms() -> ClosedForms:
    """Frozen set only: sech²u < t ⇔ |u| > arcsech(√t)."""
    return ClosedForms(
        slow_set=lambda t, lo, hi: (
            _everything_or_nothing(True) if t > 1.0 else _outside(math.acosh(1.0 / math.sqrt(t)))
        )
    )


def sigmoid_forms() -> ClosedForms:
    """Frozen set only: 1/(4 cosh²(u/2)) < t."""
    return ClosedForms(
        slow_set=lambda t, lo, hi: (
            _everything_or_nothing(True) if t > 0.25 else _outside(2.0 * math.acosh(0.5 / math.sqrt(t)))
        )
    )


def softplus_forms(beta: float) -> ClosedForms:
    """Frozen set only: σ(βu) < t ⇔ u < logit(t)/β."""
    return ClosedForms(
        slow_set=lambda t, lo, hi: (
            _everything_or_nothing(True) if t >= 1.0 else [(-math.inf, math.log(t / (1.0 - t)) / beta)]
        )
    )


def _elu_slow_set(alpha: float) -> SlowSetForm:
    def slow(t: float, lo: float, hi: float) -> list[Interval]:
        """α·e^u < t on u < 0 (the whole negative half-line when α = 0)."""
        neg = [(-math.inf, min(0.0, math.log(t / abs(alpha))))] if alpha != 0.0 else [(-math.inf, 0.0)]
        return neg + _positive_half_if(1.0 < t)

    return slow


def elu_forms(alpha: float) -> ClosedForms:
    return ClosedForms(slow_set=_elu_slow_set(alpha))

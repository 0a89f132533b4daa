"""The normalized correlation kernel K_φ, its slope α and the decorrelation strength γ (Theorem 3.1, App. A.1).

K_φ(r) = Corr(φ(X), φ(Y)) for standard Gaussians X, Y with correlation r, computed two independent ways:

* **Mehler series**, Eq. (1): K(r) = Σ_{k≥1} w_k r^k with w_k = a_k²/Var φ (:mod:`theory.hermite`), truncated
  at degree N with the rigorous bound |K(r) − K_N(r)| ≤ |r|^{N+1}·Σ_{k>N} w_k (the Parseval tail).
* **Direct Gaussian integral**: with Y = rX + √(1−r²)Z,
  Cov(φ(X), φ(Y)) = E_X[(φ(X) − μ)·g(X)],  g(x) = E_Z[φ(rx + √(1−r²)Z)] − μ,
  both integrals by composite Gauss–Legendre split at the kinks of φ (the inner kinks move with x).

α = K'_φ(0) = w_1 (Appendix A.1, property 3) is likewise computed as a_1²/Var (Hermite) and, by Stein's
identity E[φ(Z)Z] = E[φ'(Z)], as (E φ')²/Var φ in mpmath high precision (Appendix A.2).
γ_φ = (1 − α)/(1 + α) (Theorem 3.1). Every function accepts a modulated activation ψ(z) = φ(a·z + b).
"""

from __future__ import annotations

import math
from typing import Literal

import mpmath
import numpy as np

from theory.activations import Activation, get_activation
from theory.gaussian import MP_DPS, TRUNCATION, composite_rule, gaussian_rule, mp_expectation, panel_width_for
from theory.hermite import hermite_expansion, low_order_moments
from theory.memo import BoundedMemo

# The auto method uses the series where its rigorous truncation bound is below this relative size.
SERIES_RELATIVE_TOLERANCE = 1e-13
KernelMethod = Literal["auto", "series", "direct", "closed"]
AlphaMethod = Literal["hermite", "stein", "closed"]


def check_correlations(r: np.ndarray | float) -> np.ndarray:
    """r as a float64 array, with a ValueError if any value is non-finite or outside [−1, 1]."""
    arr = np.asarray(r, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"correlation r must be finite, got {r!r}")
    if np.any(np.abs(arr) > 1.0):
        raise ValueError(f"correlation r must lie in [-1, 1], got {r!r}")
    return arr


def kernel_series(act: Activation | str, r: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(K_N(r), bound): the Mehler partial sum Σ_{k=1}^{N} w_k r^k and |r|^{N+1}·tail/Var (Eq. (1))."""
    act = get_activation(act)
    rr = check_correlations(r)
    exp = hermite_expansion(act)
    weights = exp.weights
    values = np.polynomial.polynomial.polyval(rr, weights)
    bound = np.abs(rr) ** (exp.degree + 1) * exp.tail / exp.variance
    return values, bound


def _graded_breaks(kinks: tuple[float, ...], r: float, s: float) -> list[float]:
    """Outer breakpoints grading geometrically towards κ/r down to width s: there g(x) = E φ(rx + sZ) has a
    kink smoothed over width s, which a fixed-width panel would resolve only slowly as |r| → 1."""
    if r == 0.0 or s == 0.0:
        return []
    offsets = [s * 2.0**j for j in range(int(math.ceil(math.log2(2.0 / s))) + 1)] if s < 1.0 else []
    return [k / r + sign * o for k in kinks for o in offsets for sign in (-1.0, 1.0)] + [k / r for k in kinks]


def _direct_single(act: Activation, r: float) -> float:
    exp = hermite_expansion(act)
    mean, variance = exp.mean, exp.variance
    s = math.sqrt(1.0 - r * r)
    x, wx = gaussian_rule(act, extra_breaks=_graded_breaks(act.kinks, r, s))
    fx = act.numpy_fn(x) - mean
    if abs(r) == 1.0:
        return float(wx @ (fx * (act.numpy_fn(r * x) - mean)) / variance)
    width = panel_width_for(act)
    kinks = np.asarray(act.kinks, dtype=np.float64)
    # Inner breakpoints (κ − r·x)/s for every outer node x, clipped to the truncated line.
    inner_breaks = np.sort(np.clip((kinks[None, :] - r * x[:, None]) / s, -TRUNCATION, TRUNCATION), axis=1)
    edges = np.concatenate(
        [np.full((len(x), 1), -TRUNCATION), inner_breaks, np.full((len(x), 1), TRUNCATION)], axis=1
    )
    panels = max(1, int(math.ceil(2 * TRUNCATION / width)))
    unit_nodes, unit_weights = composite_rule(np.array([0.0, 1.0]), 1.0 / panels)
    lengths = np.diff(edges, axis=1)  # (n_x, pieces)
    z = edges[:, :-1, None] + lengths[:, :, None] * unit_nodes[None, None, :]
    wz = lengths[:, :, None] * unit_weights[None, None, :] * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    inner = np.sum(wz * (act.numpy_fn(r * x[:, None, None] + s * z) - mean), axis=(1, 2))
    return float(wx @ (fx * inner) / variance)


def kernel_direct(act: Activation | str, r: np.ndarray | float) -> np.ndarray:
    """K(r) by the direct two-dimensional Gaussian integral (conditioning on X), split at kinks."""
    act = get_activation(act)
    rr = check_correlations(r)
    flat = [_direct_single(act, float(v)) for v in rr.ravel()]
    return np.asarray(flat, dtype=np.float64).reshape(rr.shape)


def kernel(act: Activation | str, r: np.ndarray | float, method: KernelMethod = "auto") -> np.ndarray:
    """K_φ(r) (Theorem 3.1). ``auto``: the Mehler series where its rigorous tail bound is below
    ``SERIES_RELATIVE_TOLERANCE``·|K|, else the direct integral; K(1) = 1 exactly.
    ``closed`` raises ValueError when no closed form exists for this activation."""
    act = get_activation(act)
    rr = check_correlations(r)
    if method == "series":
        return kernel_series(act, rr)[0]
    if method == "direct":
        return kernel_direct(act, rr)
    if method == "closed":
        closed = act.closed_form_kernel(rr)
        if closed is None:
            raise ValueError(f"no closed-form kernel for {act.name}; use method 'auto', 'series' or 'direct'")
        return closed
    if method != "auto":
        raise ValueError(f"unknown kernel method {method!r}; valid choices: auto, series, direct, closed")
    values, bound = kernel_series(act, rr)
    values = np.array(values, dtype=np.float64, copy=True)
    loose = bound > SERIES_RELATIVE_TOLERANCE * np.abs(values)
    loose &= rr != 1.0
    values[rr == 1.0] = 1.0
    if np.any(loose):
        unique, inverse = np.unique(rr[loose], return_inverse=True)
        values[loose] = kernel_direct(act, unique)[inverse]
    return values


def alpha(act: Activation | str, method: AlphaMethod = "hermite") -> float:
    """Linearity coefficient α = K'_φ(0) = w_1 = a_1²/Var φ (Appendix A.1, property 3).

    ``stein``: (E φ'(Z))²/Var φ(Z) in mpmath (Appendix A.2's formula); ``closed``: closed form or ValueError.
    """
    act = get_activation(act)
    if method == "hermite":
        moments = low_order_moments(act)
        return moments.first**2 / moments.variance
    if method == "stein":
        return float(alpha_stein_mp(act))
    if method == "closed":
        value = act.closed_form_alpha()
        if value is None:
            raise ValueError(f"no closed-form α for {act.name}; use method 'hermite' or 'stein'")
        return value
    raise ValueError(f"unknown alpha method {method!r}; valid choices: hermite, stein, closed")


_STEIN: BoundedMemo[tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]] = BoundedMemo()


def stein_moments_mp(act: Activation | str) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
    """(E ψ'(Z), E ψ(Z)·Z, Var ψ(Z)) in mpmath high precision (quadrature split at kinks); cached."""
    act = get_activation(act)
    return _STEIN.get_or_compute(act.key, lambda: _stein_moments(act))


def _stein_moments(act: Activation) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
    with mpmath.workdps(MP_DPS):
        mean_deriv = mp_expectation(act.mpmath_derivative, act)
        first = mp_expectation(lambda z: act.mpmath_fn(z) * z, act)
        mean = mp_expectation(act.mpmath_fn, act)
        variance = mp_expectation(lambda z: (act.mpmath_fn(z) - mean) ** 2, act)
    return (mean_deriv, first, variance)


def alpha_stein_mp(act: Activation | str) -> mpmath.mpf:
    """α = (E ψ')²/Var ψ (Appendix A.2) in high precision."""
    mean_deriv, _, variance = stein_moments_mp(act)
    with mpmath.workdps(MP_DPS):
        return mean_deriv**2 / variance


def gamma_from_alpha(alpha_value: float) -> float:
    """γ = (1 − α)/(1 + α) (Theorem 3.1)."""
    return (1.0 - alpha_value) / (1.0 + alpha_value)


def gamma(act: Activation | str, method: AlphaMethod = "hermite") -> float:
    """Decorrelation strength γ_φ = (1 − K'_φ(0))/(1 + K'_φ(0)) (Theorem 3.1)."""
    return gamma_from_alpha(alpha(act, method))


def kernel_slope_at_one(act: Activation | str) -> float:
    """K'_φ(1) = Σ_k k·w_k = E[φ'(Z)²]/Var φ (differentiate Mehler's series; Hermite derivative identity)."""
    moments = low_order_moments(get_activation(act))
    return moments.second_moment_of_derivative / moments.variance


def is_linear(act: Activation | str, tolerance: float = 1e-12) -> bool:
    """Whether φ is affine under N(0,1): α = 1 up to ``tolerance`` (then K(r) = r)."""
    return alpha(act) > 1.0 - tolerance

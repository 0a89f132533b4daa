"""Closed-form correlation kernels and linearity coefficients where they exist (third, exact check).

K_φ(r) = Corr(φ(X), φ(Y)) for standard Gaussians with correlation r (Theorem 3.1, Appendix A.1),
α = K'_φ(0). Each formula below is derived in docs/theory.md; they are used only to check the two
numerical methods of :mod:`theory.kernels`, never to replace them.

* ReLU (arc-cosine kernel of degree 1): E[relu X relu Y] = J(r)/(2π), J(r) = √(1−r²) + (π − arccos r)·r,
  so K(r) = (J(r) − 1)/(π − 1). Holds for relu(a·z) with any a ≠ 0 (positive homogeneity, and (X,Y) ~ (−X,−Y)).
* leaky ReLU with slope s: l = s·z + (1−s)·relu, Stein's E[X relu Y] = r/2, so
  Cov(r) = s·r + (1−s)²(J(r) − 1)/(2π).
* abs = 2·relu − id: E|X||Y| = (2/π)(√(1−r²) + r·arcsin r), K(r) = (√(1−r²) + r·arcsin r − 1)/(π/2 − 1).
* erf(a·z) (arcsine kernel): E[erf(aX) erf(aY)] = (2/π)·arcsin(2a²r/(1+2a²)).
* sin(a·z + b): Cov(r) = e^{−a²}[sinh(a²r) + sin²b·(e^{−a²r} − 1)] (from E cos(W) = e^{−Var W/2}).
* (a·z + b)²: Cov(r) = 2a⁴r² + 4a²b²r.   linear: K(r) = r.
* α for relu(a·z + b) with c = b/|a|: α = Φ(c)²/V(c), V(c) = (c²+1)Φ(c) + cϕ(c) − (cΦ(c) + ϕ(c))².
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from theory.activations import Activation


def _family(act: Activation) -> tuple[str, float | None]:
    name = act.unmodulated().name
    family, _, param = name.partition(":")
    return family, (float(param) if param else None)


def _sqrt_one_minus_r2_minus_one(r: np.ndarray) -> np.ndarray:
    """√(1 − r²) − 1 written as −r²/(1 + √(1 − r²)), free of cancellation at small r."""
    return -r * r / (1.0 + np.sqrt(np.clip(1.0 - r * r, 0.0, None)))


def _arccos_j_minus_one(r: np.ndarray) -> np.ndarray:
    """J(r) − 1 with J(r) = √(1 − r²) + (π − arccos r)·r (arc-cosine kernel of degree 1)."""
    return _sqrt_one_minus_r2_minus_one(r) + (np.pi - np.arccos(r)) * r


def _leaky_cov(r: np.ndarray, s: float) -> np.ndarray:
    return s * r + (1.0 - s) ** 2 * _arccos_j_minus_one(r) / (2.0 * np.pi)


def _sin_cov(r: np.ndarray, a: float, b: float) -> np.ndarray:
    a2 = a * a
    return np.exp(-a2) * (np.sinh(a2 * r) + np.sin(b) ** 2 * np.expm1(-a2 * r))


def kernel_closed_form(act: Activation, r: np.ndarray | float) -> np.ndarray | None:
    """K_ψ(r) in closed form for the families above, or None where no closed form is implemented."""
    family, param = _family(act)
    a, b = act.scale, act.shift
    rr = np.asarray(r, dtype=np.float64)
    if family == "linear":
        return rr.copy()
    if family == "square":
        return (2 * a**4 * rr**2 + 4 * a * a * b * b * rr) / (2 * a**4 + 4 * a * a * b * b)
    if family == "sin":
        return _sin_cov(rr, a, b) / _sin_cov(np.float64(1.0), a, b)
    if b != 0.0:
        return None
    if family == "relu":
        return _arccos_j_minus_one(rr) / (np.pi - 1.0)
    if family == "leaky_relu":
        assert param is not None
        return _leaky_cov(rr, param) / _leaky_cov(np.float64(1.0), param)
    if family == "abs":
        return (_sqrt_one_minus_r2_minus_one(rr) + rr * np.arcsin(rr)) / (np.pi / 2.0 - 1.0)
    if family == "erf":
        c = 2 * a * a / (1 + 2 * a * a)
        return np.arcsin(c * rr) / np.arcsin(c)
    return None


def relu_alpha(c: float) -> float:
    """α of relu(a·z + b) with c = b/|a|: Φ(c)²/V(c) (E ψ' = Φ(c) after scaling out |a|)."""
    cdf, pdf = special.ndtr(c), math.exp(-0.5 * c * c) / math.sqrt(2 * math.pi)
    variance = (c * c + 1) * cdf + c * pdf - (c * cdf + pdf) ** 2
    return float(cdf * cdf / variance)


def alpha_closed_form(act: Activation) -> float | None:
    """α = K'_ψ(0) in closed form, or None."""
    family, param = _family(act)
    a, b = act.scale, act.shift
    if family == "linear":
        return 1.0
    if family == "square":
        return 4 * a * a * b * b / (2 * a**4 + 4 * a * a * b * b)
    if family == "sin":
        return float(a * a * math.exp(-a * a) * math.cos(b) ** 2 / _sin_cov(np.float64(1.0), a, b))
    if family == "relu":
        return relu_alpha(b / abs(a))
    if b != 0.0:
        return None
    if family == "leaky_relu":
        assert param is not None
        return float(((1 + param) / 2) ** 2 / _leaky_cov(np.float64(1.0), param))
    if family == "abs":
        return 0.0
    if family == "erf":
        c = 2 * a * a / (1 + 2 * a * a)
        return c / math.asin(c)
    return None

"""Gaussian expectations E[f(Z)], Z ~ N(0, 1), by composite Gauss–Legendre quadrature split at kinks.

This is the float64 quadrature engine behind the Hermite coefficients (Appendix A.1, Eq. (1)) and the
direct two-dimensional kernel integral. The real line is truncated to [−L, L] with
``L = TRUNCATION`` (the Gaussian weight beyond it is below e^{−L²/4} ≈ 1e−21 even against the Hermite
functions, which grow like e^{z²/4}); [−L, L] is split at the activation's kinks (where φ is not smooth,
so a polynomial rule would converge only algebraically) and then into panels of width at most
``panel_width``. On each panel the integrand is analytic, and a ``GL_ORDER``-point Gauss–Legendre rule
converges geometrically; the panel width is chosen so that the nearest complex singularity of
φ(a·z + b) (distance ≳ π/(2|a|) for tanh, sigmoid, softplus) is at least one half-width away.

The high-precision counterpart (mpmath tanh–sinh quadrature) is :func:`mp_expectation`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterable

import mpmath
import numpy as np
from scipy import special

from theory.activations import Activation

GL_ORDER = 20
TRUNCATION = 14.0
BASE_PANEL_WIDTH = 1.0
MP_DPS = 30
MP_TRUNCATION = 40
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


@lru_cache(maxsize=None)
def _gl_reference() -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(GL_ORDER)
    return nodes, weights


def panel_width_for(act: Activation, oscillation_degree: int = 0) -> float:
    """Largest panel width that resolves φ(a·z + b) (scale 1/|a|) and Hermite functions of degree k.

    h_k oscillates with local wavelength ≈ 2π/√k, so panels shrink like 1/√k for the coefficient
    integrals.
    """
    width = BASE_PANEL_WIDTH / max(1.0, abs(act.scale))
    if oscillation_degree > 0:
        width = min(width, 4.0 / np.sqrt(oscillation_degree + 1.0))
    return width


def breakpoints_in(lo: float, hi: float, points: Iterable[float]) -> np.ndarray:
    """Sorted unique points strictly inside (lo, hi), with lo and hi added at the ends."""
    inner = sorted({float(p) for p in points if lo < float(p) < hi})
    return np.array([lo, *inner, hi], dtype=np.float64)


def composite_rule(breaks: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of Gauss–Legendre on each [breaks[i], breaks[i+1]], subdivided to ≤ width."""
    x_ref, w_ref = _gl_reference()
    nodes, weights = [], []
    for lo, hi in zip(breaks[:-1], breaks[1:]):
        count = max(1, int(np.ceil((hi - lo) / width)))
        edges = np.linspace(lo, hi, count + 1)
        half = 0.5 * np.diff(edges)[:, None]
        mid = 0.5 * (edges[:-1] + edges[1:])[:, None]
        nodes.append((mid + half * x_ref).ravel())
        weights.append((half * w_ref).ravel())
    return np.concatenate(nodes), np.concatenate(weights)


def gaussian_rule(
    act: Activation, oscillation_degree: int = 0, extra_breaks: Iterable[float] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z_i and weights w_i with Σ w_i f(z_i) ≈ E[f(Z)] for f built from φ(a·z + b) (split at kinks,
    and at ``extra_breaks`` where the integrand has other narrow features)."""
    breaks = breakpoints_in(-TRUNCATION, TRUNCATION, [*act.kinks, *extra_breaks])
    z, w = composite_rule(breaks, panel_width_for(act, oscillation_degree))
    return z, w * np.exp(-0.5 * z * z) / _SQRT_2PI


def gaussian_mass(lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
    """P(lo < Z < hi) for Z ~ N(0,1), accurate in both tails (differences of the nearer tail)."""
    lo_a, hi_a = np.broadcast_arrays(np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
    right = lo_a > 0  # both in the right tail: use upper-tail probabilities
    return np.where(right, special.ndtr(-lo_a) - special.ndtr(-hi_a), special.ndtr(hi_a) - special.ndtr(lo_a))


def mp_breakpoints(act: Activation, extra: Iterable[float] = ()) -> list:
    """Breakpoints for mpmath quadrature: ±∞, the kinks, and points around where φ(a·z + b) varies."""
    a, b = act.scale, act.shift
    pts = {float(k) for k in act.kinks} | {float(e) for e in extra}
    # φ's own variable u = a z + b has its features at |u| ≲ 8; the Gaussian at |z| ≲ 8.
    pts |= {(u - b) / a for u in (-8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0)}
    pts |= {-8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0}
    inside = sorted(p for p in pts if abs(p) < MP_TRUNCATION)
    return [mpmath.mpf(-MP_TRUNCATION), *[mpmath.mpf(p) for p in inside], mpmath.mpf(MP_TRUNCATION)]


def mp_expectation(f: Callable[[mpmath.mpf], mpmath.mpf], act: Activation, extra: Iterable[float] = ()) -> mpmath.mpf:
    """E[f(Z)] by mpmath tanh–sinh quadrature (working precision ``MP_DPS``) split at kinks.

    The line is truncated at ±``MP_TRUNCATION`` (Gaussian mass e^{−800}, far below the precision).
    """
    with mpmath.workdps(MP_DPS):
        pts = mp_breakpoints(act, extra)
        return mpmath.quad(lambda z: f(z) * mpmath.npdf(z), pts)

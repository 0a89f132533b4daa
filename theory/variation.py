"""Where an activation varies: the landmarks every quadrature and root-finding rule of :mod:`theory` is
built from.

An integral E[F(ψ(Z))·G(Z)] of the modulated activation ψ(z) = φ(a·z + b) (Appendix A.2) has two length
scales: the Gaussian's and the Hermite functions' (≈ 1 in z), and φ's own, a resolution ρ in u = a·z +
b, that is ρ/|a| in z. A rule that resolved φ everywhere at width ρ/|a| would need 28·|a|/ρ panels (the
old rule: 22 GB at a = 10⁶). It need not: each registered φ is described here by

* ``resolution`` ρ: the panel width in u that resolves φ near its ``centre`` (ρ ≤ the distance from the
  real axis to φ's nearest complex singularity: tanh π/2, sigmoid and SiLU π, softplus_β π/β; gelu, erf,
  elu and sin are entire). ``None`` for piecewise-polynomial φ (relu, leaky_relu, abs, linear, square):
  between its kinks φ is a polynomial and needs no resolution of its own;
* ``centre`` c: for the non-periodic smooth families every complex singularity of φ lies on the line Re
  u = c (tanh, sigmoid, SiLU, softplus: c = 0), so at a real point at distance d from c the nearest
  singularity is at least d away, and a panel of width ≤ d is resolved. The rule is therefore *graded*:
  width ρ/|a| within ρ of the centre, then panels [c + ρ·2ʲ, c + ρ·2ʲ⁺¹] (each as wide as its distance
  to c, so each lies in a Bernstein ellipse of parameter ≥ 4 free of singularities and converges like
  4^(−2n)), until the width reaches the Gaussian's. The panel count grows like log₂|a| (20 per side at a
  = 10⁶, at most ≈ 1,000 for any float64 a), not like |a|;
* ``period`` P (sin): a periodic φ has no centre. Its panels stay at width ρ/|a| up to the scale where
  ``HOMOGENIZATION_FREQUENCY`` ≤ 2π|a|/P; beyond it E[F(φ(a·Z + b))·G(Z)] = ⟨F∘φ⟩_P·E[G(Z)] up to the
  Fourier modes E[e^{iωnaZ}G(Z)], which are below e^(−200) for every G used here (see
  :mod:`theory.gaussian`);
* ``turning_points``: the points between which |φ'| is monotone (extrema of φ' and zeros of φ'), for a
  periodic φ those in one period [0, P). A root finder that samples them (and the kinks) brackets every
  boundary of {u : |φ'(u)| < t} exactly once (:mod:`theory.frozen`).

A user's callable has an unknown variation (:data:`UNKNOWN_VARIATION`): resolution 1 everywhere, no
turning points; its rules are uniform and refused beyond ``MAX_PANELS`` panels (a clear error, never
unbounded memory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HOMOGENIZATION_FREQUENCY = 40.0
"""ω·|a| (ω = 2π/P) from which a periodic φ is averaged over its period instead of resolved: the neglected
Fourier modes are ≤ θᵏe^{−θ²/2}/√(k!) with θ ≥ 40, k ≤ 600, i.e. ≤ e^(−208) (Hermite), e^(−800) (moments)."""

GELU_DERIVATIVE_ZERO = -0.7517915246935645
"""The zero of gelu'(u) = Φ(u) + u·ϕ(u) (gelu's minimum), to float64 precision (mpmath.findroot)."""
GELU_DERIVATIVE_EXTREMA = (-math.sqrt(2.0), math.sqrt(2.0))
"""gelu''(u) = ϕ(u)·(2 − u²) vanishes at ±√2."""
SILU_DERIVATIVE_ZERO = -1.2784645427610737
"""The zero of silu'(u) = σ(u)(1 + u(1 − σ(u))) (SiLU's minimum)."""
SILU_DERIVATIVE_EXTREMUM = 2.3993572805154675
"""silu''(u) = σ(u)(1 − σ(u))(2 + u(1 − 2σ(u))) vanishes at ±2.39935728… (u·tanh(u/2) = 2)."""


@dataclass(frozen=True)
class Variation:
    """Where and how fast φ varies, in φ's own variable u (see the module docstring)."""

    resolution: float | None
    centre: float = 0.0
    period: float | None = None
    turning_points: tuple[float, ...] = ()
    known: bool = True

    @property
    def graded(self) -> bool:
        """True when φ's singularities lie on Re u = centre, so that rules may widen away from it."""
        return self.known and self.resolution is not None and self.period is None

    def homogenized(self, scale: float) -> bool:
        """Whether φ(scale·z + b) is averaged over its period (``HOMOGENIZATION_FREQUENCY``)."""
        return (
            self.period is not None and 2.0 * math.pi * abs(scale) / self.period >= HOMOGENIZATION_FREQUENCY
        )


PIECEWISE_POLYNOMIAL = Variation(resolution=None)
"""relu, leaky_relu, abs, linear: polynomial between kinks, |φ'| constant between kinks."""
UNKNOWN_VARIATION = Variation(resolution=1.0, known=False)
"""A user's callable: resolved at width 1 in u everywhere; no turning points known."""


def smooth(resolution: float = 1.0, turning_points: tuple[float, ...] = ()) -> Variation:
    """A non-periodic family whose complex singularities lie on Re u = 0."""
    return Variation(resolution=resolution, turning_points=turning_points)


def periodic(period: float, turning_points: tuple[float, ...]) -> Variation:
    """A periodic entire family (sin): resolution 1, turning points within one period."""
    return Variation(resolution=1.0, period=period, turning_points=turning_points)

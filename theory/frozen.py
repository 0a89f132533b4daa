"""The frozen probability P(|ψ'(Z)| < ε), Z ~ N(0,1), of a modulated activation (Appendix A.2, Fig. A.2–A.3).

ψ(z) = φ(a·z + b) and ψ'(z) = a·φ'(a·z + b) (the chain factor a is included). The frozen set
{z : |ψ'(z)| < ε} is a finite union of intervals; its Gaussian measure is the sum of Φ differences over
them. Three computations:

* ``roots`` (float64, default): for a registered family, sample |ψ'| at φ's turning points and kinks
  (:mod:`theory.variation`: between consecutive ones |φ'| is monotone, so the predicate |ψ'| < ε changes at
  most once there) and at z = ±40, and locate every change of class by bisection on the predicate itself
  (robust to the jumps of ReLU-type derivatives and to flat pieces, where the set is a half-line or empty),
  then sum Φ differences. The sample is exact — no interval can hide between samples — and costs the same
  at every scale a. A callable's turning points are unknown: it is classified on a fine grid (spacing
  ``GRID_SPACING``/max(1, a²), at most ``MAX_GRID_POINTS`` points), where intervals narrower than the spacing
  could be missed.
* ``closed``: the frozen set in the activation's own variable u = a·z + b in closed form (tanh via arcsech,
  sigmoid via arccosh, erf, softplus via logit, ELU via log, ReLU-type half-lines, sin via arcsin), mapped
  back to z; None for GELU, SiLU and callables.
* ``mp``: an independent grid (``MP_GRID_POINTS``, offset from the float grid, plus the turning points), roots
  refined by mpmath bisection at ``MP_DPS`` digits, and mpmath's normal CDF.

A periodic φ (sin) at 2π|a|/P ≥ ``HOMOGENIZATION_FREQUENCY`` has ~|a| frozen intervals; all three methods then
give the fraction of one period in which |φ'| < ε/|a| (U = a·Z + b is spread over ≥ 6 periods per standard
deviation, and the error, Σ_n |ĉ_n|·e^{−(nω|a|)²/2} over the indicator's Fourier coefficients, is below
e^{−800}).
"""

from __future__ import annotations

import math
from typing import Literal

import mpmath
import numpy as np

from theory.activations import Activation, get_activation
from theory.closed_forms import GAUSSIAN_REACH, MAX_LISTED_INTERVALS, Interval
from theory.gaussian import MP_DPS, base_of, gaussian_mass
from theory.memo import BoundedMemo

DEFAULT_EPSILON = 0.01  # Appendix A.2: "P(|f'| < ε) where ε = 0.01"
GRID_HALF_WIDTH = 12.0  # fine grid on [−12, 12]; Gaussian mass outside is 3.6e−33
OUTER_HALF_WIDTH = GAUSSIAN_REACH  # the frozen set is located on [−40, 40] (mass beyond underflows)
GRID_SPACING = 1e-3
COARSE_SPACING = 1e-2
MAX_GRID_POINTS = 1_000_000  # caps a callable's grid spacing at 2.4e-5 for large gains
BISECTION_STEPS = 100  # halves [−40, 40] to below the spacing of doubles near any root
MP_GRID_POINTS = 3001
FROZEN_METHODS = ("roots", "closed", "mp")
FrozenMethod = Literal["roots", "closed", "mp"]


def check_epsilon(eps: float) -> float:
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise ValueError(f"eps must be a finite positive number, got {eps!r}") from None
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"eps must be a finite positive number, got {eps!r}")
    return value


def _homogenized(act: Activation) -> bool:
    base, a, _ = base_of(act)
    return base.variation.homogenized(a)


def _beside(points: np.ndarray) -> np.ndarray:
    """The doubles just below and above each point (φ' at a kink itself is a convention of measure zero)."""
    return np.concatenate([np.nextafter(points, -np.inf), np.nextafter(points, np.inf)])


def _landmark_grid(act: Activation) -> np.ndarray:
    """z = ±40, φ's turning points and (beside) its kinks mapped to z, all within [−40, 40]."""
    base, a, b = base_of(act)
    v = base.variation
    u_lo, u_hi = sorted((b - OUTER_HALF_WIDTH * a, b + OUTER_HALF_WIDTH * a))
    turning = np.asarray(v.turning_points, dtype=np.float64)
    if v.period is not None and len(turning):
        first, last = math.floor(u_lo / v.period), math.ceil(u_hi / v.period)
        turning = (turning[None, :] + v.period * np.arange(first, last + 1)[:, None]).ravel()
    points = np.concatenate([(turning - b) / a, [-OUTER_HALF_WIDTH, 0.0, OUTER_HALF_WIDTH]])
    kinks = np.asarray([k for k in act.kinks if abs(k) < OUTER_HALF_WIDTH], dtype=np.float64)
    grid = np.unique(np.concatenate([points[np.abs(points) <= OUTER_HALF_WIDTH], _beside(kinks)]))
    return grid[~np.isin(grid, kinks)]


def _fine_grid(act: Activation) -> np.ndarray:
    """A callable's grid: spacing 1e−3/max(1, a²) on [−12, 12], 1e−2 out to ±40, beside (never on)
    each kink."""
    a = abs(act.scale)
    spacing = GRID_SPACING / max(1.0, a * a)
    count = min(MAX_GRID_POINTS, int(2 * GRID_HALF_WIDTH / spacing) + 1)
    fine = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, count)
    coarse = np.arange(
        GRID_HALF_WIDTH + COARSE_SPACING, OUTER_HALF_WIDTH + COARSE_SPACING / 2, COARSE_SPACING
    )
    kinks = np.asarray([k for k in act.kinks if abs(k) < OUTER_HALF_WIDTH], dtype=np.float64)
    grid = np.unique(np.concatenate([-coarse[::-1], fine, coarse, _beside(kinks)]))
    return grid[~np.isin(grid, kinks)]


def _grid(act: Activation) -> np.ndarray:
    return _landmark_grid(act) if act.unmodulated().variation.known else _fine_grid(act)


def _runs_to_intervals(frozen: np.ndarray, boundaries: np.ndarray) -> list[Interval]:
    """Intervals from a boolean class per grid point and the located boundary between each change."""
    intervals: list[Interval] = []
    start: float | None = -math.inf if frozen[0] else None
    change = np.flatnonzero(frozen[1:] != frozen[:-1])
    for idx, i in enumerate(change):
        if frozen[i]:  # frozen → free: the interval ends here
            assert start is not None
            intervals.append((start, float(boundaries[idx])))
            start = None
        else:
            start = float(boundaries[idx])
    if start is not None:
        intervals.append((start, math.inf))
    return [(lo, hi) for lo, hi in intervals if hi > lo]


def _locate(is_frozen: object, grid: np.ndarray) -> list[Interval]:
    """Bisect every change of class of ``is_frozen`` between consecutive grid points."""
    classes = is_frozen(grid)  # type: ignore[operator]
    change = np.flatnonzero(classes[1:] != classes[:-1])
    lo, hi = grid[change].copy(), grid[change + 1].copy()
    lo_class = classes[change]
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        same = is_frozen(mid) == lo_class  # type: ignore[operator]
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    # `lo` keeps the class of the left point, `hi` that of the right one; they are one ulp apart.
    return _runs_to_intervals(classes, hi)


def _period_fraction(act: Activation, eps: float) -> float:
    """Fraction of one period of φ in which |ψ'| = |a·φ'| < ε (homogenized periodic φ)."""
    base, a, _ = base_of(act)
    period = base.variation.period
    assert period is not None
    t = eps / abs(a)
    grid = np.unique(
        np.concatenate([[0.0, period], [p for p in base.variation.turning_points if 0 < p < period]])
    )
    intervals = _locate(lambda u: np.abs(base.numpy_derivative(u)) < t, grid)
    return sum(min(hi, period) - max(lo, 0.0) for lo, hi in intervals) / period


def frozen_intervals(act: Activation | str, eps: float = DEFAULT_EPSILON) -> list[Interval]:
    """The frozen set {z : |ψ'(z)| < ε} as sorted disjoint intervals (float64 sample + bisection)."""
    act = get_activation(act)
    eps = check_epsilon(eps)
    if _homogenized(act):
        base, a, _ = base_of(act)
        count = (
            2
            * OUTER_HALF_WIDTH
            * abs(a)
            / (base.variation.period or 1.0)
            * len(base.variation.turning_points)
        )
        if count > MAX_LISTED_INTERVALS:
            raise ValueError(
                f"the frozen set of {act.name} has about {count:.3g} intervals on [-40, 40] (more than "
                f"{MAX_LISTED_INTERVALS}); frozen_probability gives its Gaussian measure without listing them"
            )
    return _locate(lambda z: np.abs(act.numpy_derivative(z)) < eps, _grid(act))


def _probability_of(intervals: list[Interval]) -> float:
    if not intervals:
        return 0.0
    lo = np.array([i[0] for i in intervals])
    hi = np.array([i[1] for i in intervals])
    return float(np.sum(gaussian_mass(lo, hi)))


def frozen_probability_closed_form(act: Activation | str, eps: float = DEFAULT_EPSILON) -> float | None:
    """P(|ψ'(Z)| < ε) from the closed-form frozen set in u = a·z + b, or None where none is implemented.

    U = a·Z + b ~ N(b, a²), so P(U ∈ (u₁, u₂)) = Φ((u₂ − b)/|a|) − Φ((u₁ − b)/|a|); a homogenized periodic φ
    gives the set's share of one period.
    """
    act = get_activation(act)
    eps = check_epsilon(eps)
    base, a, b = base_of(act)
    if _homogenized(act):
        period = base.variation.period
        assert period is not None
        one_period = act.closed_form_slow_set(eps / abs(a), (0.0, period))
        if one_period is None:
            return None
        return sum(max(0.0, min(hi, period) - max(lo, 0.0)) for lo, hi in one_period) / period
    u_set = act.closed_form_slow_set(eps / abs(a))
    if u_set is None:
        return None
    z_set = [((lo - b) / abs(a), (hi - b) / abs(a)) for lo, hi in u_set]
    return _probability_of(z_set)


def _mp_roots(excess: object, pts: list[float]) -> tuple[list[bool], list[mpmath.mpf]]:
    """Classes (excess < 0) on the grid and every change of class refined by mpmath bisection."""
    grid = [mpmath.mpf(p) for p in pts]
    frozen = [excess(z) < 0 for z in grid]  # type: ignore[operator]
    bounds = []
    for left, right, fl, fr in zip(grid[:-1], grid[1:], frozen[:-1], frozen[1:]):
        if fr == fl:
            continue
        lo, hi = left, right
        for _ in range(BISECTION_STEPS + 40):
            mid = (lo + hi) / 2
            if (excess(mid) < 0) == fl:  # type: ignore[operator]
                lo = mid
            else:
                hi = mid
        bounds.append(hi)
    return frozen, bounds


def _mp_probability(act: Activation, eps: float) -> float:
    base, a, b = base_of(act)
    v = base.variation
    with mpmath.workdps(MP_DPS):
        mp_eps = mpmath.mpf(eps)
        if _homogenized(act):
            period = v.period
            assert period is not None
            mp_t = mp_eps / abs(mpmath.mpf(a))
            pts = sorted(
                {float(p) for p in np.linspace(0.0, period, MP_GRID_POINTS // 3)} | set(v.turning_points)
            )
            frozen, bounds = _mp_roots(lambda u: abs(base.mpmath_derivative(u)) - mp_t, pts)
            edges = (
                ([mpmath.mpf(0)] if frozen[0] else []) + bounds + ([mpmath.mpf(period)] if frozen[-1] else [])
            )
            return float(sum(hi - lo for lo, hi in zip(edges[0::2], edges[1::2])) / mpmath.mpf(period))

        # An independent grid: a different spacing, in the activation's own variable around its centre, plus
        # φ's turning points (between them |φ'| is monotone, so no interval hides between grid points).
        centre = -b / a
        reach = min(GRID_HALF_WIDTH, 10.0 / abs(a))
        turning = _landmark_grid(act) if v.known else np.empty(0)
        pts = sorted(
            {float(p) for p in np.linspace(centre - reach, centre + reach, MP_GRID_POINTS)}
            | {float(p) for p in np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, MP_GRID_POINTS)}
            | {float(p) for p in np.linspace(-OUTER_HALF_WIDTH, OUTER_HALF_WIDTH, MP_GRID_POINTS // 3)}
            | {float(k) for k in act.kinks}
            | {float(p) for p in turning}
        )
        frozen, bounds = _mp_roots(lambda z: abs(act.mpmath_derivative(z)) - mp_eps, pts)
        edges = (
            ([mpmath.mpf("-inf")] if frozen[0] else []) + bounds + ([mpmath.mpf("inf")] if frozen[-1] else [])
        )
        total = mpmath.mpf(0)
        for lo, hi in zip(edges[0::2], edges[1::2]):
            # upper-tail differences on the right half-line avoid 1 − (1 − tiny) cancellation
            total += mpmath.ncdf(-lo) - mpmath.ncdf(-hi) if lo > 0 else mpmath.ncdf(hi) - mpmath.ncdf(lo)
        return float(total)


_PROBABILITIES: BoundedMemo[float] = BoundedMemo()


def frozen_probability(
    act: Activation | str, eps: float = DEFAULT_EPSILON, method: FrozenMethod = "roots"
) -> float:
    """P(|ψ'(Z)| < ε) for ψ(z) = φ(a·z + b), ψ' including the chain factor a (Appendix A.2).

    ``roots`` (default, float64 grid + bisection), ``closed`` (ValueError where no closed form) or ``mp``.
    """
    if method not in FROZEN_METHODS:
        raise ValueError(
            f"unknown frozen-probability method {method!r}; valid choices: {', '.join(FROZEN_METHODS)}"
        )
    act = get_activation(act)
    eps = check_epsilon(eps)
    if method == "closed":
        value = frozen_probability_closed_form(act, eps)
        if value is None:
            raise ValueError(f"no closed-form frozen set for {act.name}; use method 'roots' or 'mp'")
        return value
    if method == "mp":
        return _PROBABILITIES.get_or_compute((act.key, eps, method), lambda: _mp_probability(act, eps))
    return _PROBABILITIES.get_or_compute((act.key, eps, method), lambda: _roots_probability(act, eps))


def _roots_probability(act: Activation, eps: float) -> float:
    if _homogenized(act):
        return _period_fraction(act, eps)
    return _probability_of(frozen_intervals(act, eps))

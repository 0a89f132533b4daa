"""The frozen probability P(|ψ'(Z)| < ε), Z ~ N(0,1), of a modulated activation (Appendix A.2, Fig. A.2–A.3).

ψ(z) = φ(a·z + b) and ψ'(z) = a·φ'(a·z + b) (the chain factor a is included). The frozen set
{z : |ψ'(z)| < ε} is a finite union of intervals; its Gaussian measure is the sum of Φ differences over
them. Three computations:

* ``roots`` (float64, default): classify |ψ'| < ε on a fine grid (spacing ``GRID_SPACING``/max(1, a²), plus
  the kinks), locate every change of class by bisection on the predicate itself (robust to the jumps of
  ReLU-type derivatives and to flat pieces, where the set is a half-line or empty), sum Φ differences.
  Intervals narrower than the grid spacing could be missed; for the registered families they are not.
* ``closed``: the frozen set in the activation's own variable u = a·z + b in closed form (tanh via arcsech,
  sigmoid via arccosh, erf, softplus via logit, ELU via log, ReLU-type half-lines, sin via arcsin), mapped
  back to z; None for GELU, SiLU and callables.
* ``mp``: an independent grid (``MP_GRID_POINTS``, offset from the float grid), roots refined by mpmath
  bisection at ``MP_DPS`` digits, and mpmath's normal CDF.
"""

from __future__ import annotations

import math
from typing import Literal

import mpmath
import numpy as np

from theory.activations import Activation, get_activation
from theory.closed_forms import GAUSSIAN_REACH, Interval
from theory.gaussian import MP_DPS, gaussian_mass
from theory.memo import BoundedMemo

DEFAULT_EPSILON = 0.01  # Appendix A.2: "P(|f'| < ε) where ε = 0.01"
GRID_HALF_WIDTH = 12.0  # fine grid on [−12, 12]; Gaussian mass outside is 3.6e−33
OUTER_HALF_WIDTH = GAUSSIAN_REACH  # coarse grid out to ±40 (mass beyond underflows)
GRID_SPACING = 1e-3
COARSE_SPACING = 1e-2
MAX_GRID_POINTS = 1_000_000  # caps the spacing at 2.4e-5 for large gains
BISECTION_STEPS = 64
MP_GRID_POINTS = 3001
FrozenMethod = Literal["roots", "closed", "mp"]


def check_epsilon(eps: float) -> float:
    value = float(eps)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"eps must be a finite positive number, got {eps!r}")
    return value


def _grid(act: Activation) -> np.ndarray:
    a = abs(act.scale)
    spacing = GRID_SPACING / max(1.0, a * a)
    count = min(MAX_GRID_POINTS, int(2 * GRID_HALF_WIDTH / spacing) + 1)
    fine = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, count)
    coarse = np.arange(GRID_HALF_WIDTH + COARSE_SPACING, OUTER_HALF_WIDTH + COARSE_SPACING / 2, COARSE_SPACING)
    # sample just beside each kink, never on it: φ' at the kink itself is a convention of measure zero
    kinks = np.asarray([k for k in act.kinks if abs(k) < OUTER_HALF_WIDTH], dtype=np.float64)
    beside = np.concatenate([np.nextafter(kinks, -np.inf), np.nextafter(kinks, np.inf)])
    grid = np.unique(np.concatenate([-coarse[::-1], fine, coarse, beside]))
    return grid[~np.isin(grid, kinks)]


def _runs_to_intervals(frozen: np.ndarray, boundaries: np.ndarray) -> list[Interval]:
    """Intervals from a boolean class per grid point and the located boundary between each change."""
    intervals: list[Interval] = []
    start = -math.inf if frozen[0] else None
    change = np.flatnonzero(frozen[1:] != frozen[:-1])
    for idx, i in enumerate(change):
        if frozen[i]:  # frozen → free: the interval ends here
            intervals.append((start, float(boundaries[idx])))  # type: ignore[arg-type]
            start = None
        else:
            start = float(boundaries[idx])
    if start is not None:
        intervals.append((start, math.inf))
    return [(lo, hi) for lo, hi in intervals if hi > lo]


def frozen_intervals(act: Activation | str, eps: float = DEFAULT_EPSILON) -> list[Interval]:
    """The frozen set {z : |ψ'(z)| < ε} as sorted disjoint intervals (float64 grid + bisection)."""
    act = get_activation(act)
    eps = check_epsilon(eps)

    def is_frozen(z: np.ndarray) -> np.ndarray:
        return np.abs(act.numpy_derivative(z)) < eps

    z = _grid(act)
    frozen = is_frozen(z)
    change = np.flatnonzero(frozen[1:] != frozen[:-1])
    lo, hi = z[change].copy(), z[change + 1].copy()
    lo_class = frozen[change]
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        same = is_frozen(mid) == lo_class
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    # `lo` keeps the class of the left point, `hi` that of the right one; they are one ulp apart.
    return _runs_to_intervals(frozen, hi)


def _probability_of(intervals: list[Interval]) -> float:
    if not intervals:
        return 0.0
    lo = np.array([i[0] for i in intervals])
    hi = np.array([i[1] for i in intervals])
    return float(np.sum(gaussian_mass(lo, hi)))


def frozen_probability_closed_form(act: Activation | str, eps: float = DEFAULT_EPSILON) -> float | None:
    """P(|ψ'(Z)| < ε) from the closed-form frozen set in u = a·z + b, or None where none is implemented.

    U = a·Z + b ~ N(b, a²), so P(U ∈ (u₁, u₂)) = Φ((u₂ − b)/|a|) − Φ((u₁ − b)/|a|).
    """
    act = get_activation(act)
    eps = check_epsilon(eps)
    a, b = act.scale, act.shift
    u_set = act.closed_form_slow_set(eps / abs(a))
    if u_set is None:
        return None
    z_set = [((lo - b) / abs(a), (hi - b) / abs(a)) for lo, hi in u_set]
    return _probability_of(z_set)


def _mp_probability(act: Activation, eps: float) -> float:
    with mpmath.workdps(MP_DPS):
        mp_eps = mpmath.mpf(eps)

        def excess(z: mpmath.mpf) -> mpmath.mpf:
            return abs(act.mpmath_derivative(z)) - mp_eps

        # An independent grid: a different spacing, in the activation's own variable around its centre.
        a, b = act.scale, act.shift
        centre = -b / a
        reach = min(GRID_HALF_WIDTH, 10.0 / abs(a))
        pts = sorted(
            {float(p) for p in np.linspace(centre - reach, centre + reach, MP_GRID_POINTS)}
            | {float(p) for p in np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, MP_GRID_POINTS)}
            | {float(p) for p in np.linspace(-OUTER_HALF_WIDTH, OUTER_HALF_WIDTH, MP_GRID_POINTS // 3)}
            | {float(k) for k in act.kinks}
        )
        grid = [mpmath.mpf(p) for p in pts]
        frozen = [excess(z) < 0 for z in grid]
        bounds = []
        for left, right, fl in zip(grid[:-1], grid[1:], frozen[:-1]):
            if (excess(right) < 0) == fl:
                continue
            lo, hi = left, right
            for _ in range(BISECTION_STEPS + 40):
                mid = (lo + hi) / 2
                if (excess(mid) < 0) == fl:
                    lo = mid
                else:
                    hi = mid
            bounds.append(hi)
        edges = ([mpmath.mpf("-inf")] if frozen[0] else []) + bounds + ([mpmath.mpf("inf")] if frozen[-1] else [])
        total = mpmath.mpf(0)
        for lo, hi in zip(edges[0::2], edges[1::2]):
            # upper-tail differences on the right half-line avoid 1 − (1 − tiny) cancellation
            total += mpmath.ncdf(-lo) - mpmath.ncdf(-hi) if lo > 0 else mpmath.ncdf(hi) - mpmath.ncdf(lo)
        return float(total)


_PROBABILITIES: BoundedMemo[float] = BoundedMemo()


def frozen_probability(act: Activation | str, eps: float = DEFAULT_EPSILON, method: FrozenMethod = "roots") -> float:
    """P(|ψ'(Z)| < ε) for ψ(z) = φ(a·z + b), ψ' including the chain factor a (Appendix A.2).

    ``roots`` (default, float64 grid + bisection), ``closed`` (ValueError where no closed form) or ``mp``.
    """
    act = get_activation(act)
    eps = check_epsilon(eps)
    if method == "closed":
        value = frozen_probability_closed_form(act, eps)
        if value is None:
            raise ValueError(f"no closed-form frozen set for {act.name}; use method 'roots' or 'mp'")
        return value
    if method not in ("roots", "mp"):
        raise ValueError(f"unknown frozen-probability method {method!r}; valid choices: roots, closed, mp")
    return _PROBABILITIES.get_or_compute(
        (act.key, eps, method),
        lambda: _probability_of(frozen_intervals(act, eps)) if method == "roots" else _mp_probability(act, eps),
    )

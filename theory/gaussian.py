"""Gaussian expectations E[F(ψ(Z))·G(Z)], Z ~ N(0, 1), ψ(z) = φ(a·z + b), at a cost independent of the
scale a.

This is the float64 quadrature engine behind the Hermite coefficients (Appendix A.1, Eq. (1)) and the
direct kernel integral, and its mpmath counterpart (:func:`mp_expectation`). The real line is truncated
to [−L, L], ``L = TRUNCATION`` = 14 (the Gaussian weight beyond it is below e^{−L²/4} ≈ 1e−21 even
against the Hermite functions, |h_k(z)| ≤ 1.09·e^{z²/4} for every k) unless ψ still has weight there —
it grows like e^{cz} (softplus_100(0.1z − 3) ≈ e^{10z−300}/100 has its second moment at z ≈ 20) or lives
in the tail (gelu(z − 12)): :func:`truncation_for` then widens L through ``TRUNCATIONS`` until the
outermost unit of the rule carries less than ``TAIL_TOLERANCE`` of Var ψ and of sd ψ (the Hermite
envelope), else raises ValueError. [−L, L] is split at the kinks of ψ (where φ is not smooth, so a
polynomial rule would converge only algebraically) and cut into panels, each integrated by a
``GL_ORDER``-point Gauss–Legendre rule, which converges geometrically where the integrand is analytic on
a Bernstein ellipse around the panel.

**Panels are placed where ψ varies** (:mod:`theory.variation`): at most ``z_width`` wide everywhere (the
Gaussian's and the Hermite functions' scale: 1, or 4/√(k + 1) for h_k), and *graded* towards φ's centre
z_c = (c − b)/a — width ρ/|a| within ρ/|a| of it, then panels [z_c + d, z_c + 2d], as wide as their
distance to the line Re z = z_c on which φ(a·z + b)'s singularities lie. The count is ≈ 2L/z_width +
2·log₂(|a|·z_width/ρ) + 2: 26 more panels at a = 10⁶ than at a = 1 (the old uniform rule needed 28·|a|).
A periodic φ with 2π|a|/P ≥ ``HOMOGENIZATION_FREQUENCY`` is averaged over its period: E[F(φ(a·Z +
b))·G(Z)] = ⟨F∘φ⟩·E[G(Z)] up to Fourier modes below e^{−200}; its period is sampled at
``PERIOD_SAMPLES`` points (the trapezoid rule, exact for trigonometric polynomials of degree <
PERIOD_SAMPLES/2). A callable (no known variation) is resolved at width 1/|a| everywhere and refused
beyond ``MAX_PANELS`` panels.

**Values are centred where float64 would cancel** (:func:`sample`): when ψ is nearly constant on the
Gaussian's bulk (E|ψ| > ``CONDITION_LIMIT``·sd ψ, e.g. sigmoid(10⁻⁶z)) or its argument a·z + b is
dominated by b (|b| > ``CONDITION_LIMIT``·|a|, e.g. sin(10⁻⁶z + 50), where a·z + b keeps only 8 digits
of a·z), the rule uses δ(z) = ψ(z) − ψ(z₀) = ∫_{z₀}^{z} ψ'(t) dt, accumulated over the gaps between
consecutive nodes by an ``GAP_ORDER``-point rule (the gaps lie inside resolved panels; kinks split
them). δ is relatively accurate, so the moments keep full precision.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import mpmath
import numpy as np
from scipy import special

from theory.activations import Activation
from theory.memo import BoundedMemo
from theory.variation import Variation

GL_ORDER = 20
GAP_ORDER = 8
TRUNCATION = 14.0
TRUNCATIONS = (TRUNCATION, 28.0, 37.0)
"""Half-widths tried by :func:`truncation_for`; the Gaussian density underflows float64 beyond ≈ 38.5."""
TAIL_TOLERANCE = 1e-17
BASE_PANEL_WIDTH = 1.0
MAX_PANELS = 20_000
"""A rule with more panels than this is refused (only a callable at |a| ≳ 700, or a periodic φ just below its
homogenization frequency with a Hermite width, can ask for it)."""
PERIOD_SAMPLES = 64
CONDITION_LIMIT = 1e3
"""Plain float64 values lose log₁₀(E|ψ|/sd ψ) digits; beyond 3 the rule switches to centred values."""
MP_DPS = 30
MP_TRUNCATION = 40
MP_PANELS_PER_INTERVAL = 4
_SQRT_2PI = math.sqrt(2.0 * math.pi)


@cache
def _gl_reference(order: int = GL_ORDER) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(order)
    return nodes, weights


def z_width(oscillation_degree: int = 0) -> float:
    """Largest panel width for the Gaussian and the Hermite functions up to degree k (h_k oscillates with
    local wavelength ≈ 2π/√k, so panels shrink like 1/√k for the coefficient integrals)."""
    if oscillation_degree > 0:
        return min(BASE_PANEL_WIDTH, 4.0 / math.sqrt(oscillation_degree + 1.0))
    return BASE_PANEL_WIDTH


@dataclass(frozen=True)
class Landmark:
    """A point a rule is graded towards: panels within ``width`` of it are ``width`` wide, farther ones as
    wide as their distance to it (never wider than the Gaussian's ``z_width``)."""

    at: float
    width: float


def breakpoints_in(lo: float, hi: float, points: Iterable[float]) -> np.ndarray:
    """Sorted unique points strictly inside (lo, hi), with lo and hi added at the ends."""
    inner = sorted({float(p) for p in points if lo < float(p) < hi})
    return np.array([lo, *inner, hi], dtype=np.float64)


def graded_offsets(width: float, reach: float) -> np.ndarray:
    """0, ±width·2ʲ for j = 0, 1, … up to the first width·2ʲ ≥ reach: the breakpoints of a graded rule
    around a landmark (beyond the last one, panels are ``reach`` wide)."""
    if not width > 0.0 or width >= reach:
        return np.zeros(1)
    steps = math.ceil(math.log2(reach / width)) + 1
    pos = width * np.exp2(np.arange(steps))
    return np.concatenate([-pos[::-1], [0.0], pos])


def segment_widths(breaks: np.ndarray, landmarks: Sequence[Landmark], cap: float) -> np.ndarray:
    """Panel width allowed on each [breaks[i], breaks[i+1]]: min(cap, max(width, distance to the landmark))
    over the landmarks (distance 0 for a segment containing it)."""
    widths = np.full(len(breaks) - 1, cap)
    lo, hi = breaks[:-1], breaks[1:]
    for mark in landmarks:
        distance = np.where(hi < mark.at, mark.at - hi, np.where(lo > mark.at, lo - mark.at, 0.0))
        widths = np.minimum(widths, np.maximum(mark.width, distance))
    return widths


def panel_count(length: float, width: float) -> int:
    """⌈length/width⌉, without the extra panel a rounding excess of 1e−16 would add."""
    return max(1, math.ceil(length / width * (1.0 - 1e-12)))


def composite_rule(breaks: np.ndarray, width: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of Gauss–Legendre on each [breaks[i], breaks[i+1]], subdivided to ≤ width (one
    width, or one per segment)."""
    x_ref, w_ref = _gl_reference()
    widths = np.broadcast_to(np.asarray(width, dtype=np.float64), (len(breaks) - 1,))
    nodes, weights = [], []
    for lo, hi, h in zip(breaks[:-1], breaks[1:], widths):
        count = panel_count(hi - lo, h)
        edges = np.linspace(lo, hi, count + 1)
        half = 0.5 * np.diff(edges)[:, None]
        mid = 0.5 * (edges[:-1] + edges[1:])[:, None]
        nodes.append((mid + half * x_ref).ravel())
        weights.append((half * w_ref).ravel())
    return np.concatenate(nodes), np.concatenate(weights)


def base_of(act: Activation) -> tuple[Activation, float, float]:
    """(φ, a, b) with ψ(z) = φ(a·z + b)."""
    return act.unmodulated(), float(act.scale), float(act.shift)


def _uniform_width(variation: Variation, scale: float, cap: float, what: str, truncation: float) -> float:
    """Width ρ/|a| of a rule that must resolve φ everywhere (callables, periodic φ below homogenization)."""
    width = min(cap, (variation.resolution or cap) / abs(scale))
    if 2.0 * truncation / width > MAX_PANELS:
        raise ValueError(
            f"{what} at scale a = {scale:g} would need {2 * truncation / width:.3g} quadrature panels "
            "(more than "
            f"{MAX_PANELS}): its variation is not known, so it is resolved at width 1/|a| everywhere; use a "
            "registered activation, or |a| ≤ "
            f"{MAX_PANELS * (variation.resolution or 1.0) / (2 * truncation):.3g}"
        )
    return width


def rule_plan(
    act: Activation,
    cap: float,
    extra_breaks: Iterable[float] = (),
    extra_landmarks: Sequence[Landmark] = (),
    truncation: float = TRUNCATION,
) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints on [−L, L] and the panel width allowed on each segment, for ψ = φ(a·z + b)."""
    base, a, b = base_of(act)
    v = base.variation
    landmarks = list(extra_landmarks)
    if v.graded:
        assert v.resolution is not None
        landmarks.append(Landmark((v.centre - b) / a, v.resolution / abs(a)))
    elif v.resolution is not None:
        cap = _uniform_width(v, a, cap, act.name, truncation)
    points = [*act.kinks, *extra_breaks]
    for mark in landmarks:
        points.extend(mark.at + graded_offsets(mark.width, cap))
    breaks = breakpoints_in(-truncation, truncation, points)
    return breaks, segment_widths(breaks, landmarks, cap)


@dataclass(frozen=True)
class GaussianRule:
    """Σ_ij w[i, j]·F(u[i, j])·G(z[i]) ≈ E[F(a·Z + b)·G(Z)]: u = a·z + b (one column), or, for a homogenized
    periodic φ, ``PERIOD_SAMPLES`` points of one period shared by every z (w[i, j] = w_i/PERIOD_SAMPLES)."""

    z: np.ndarray
    u: np.ndarray
    w: np.ndarray

    @property
    def homogenized(self) -> bool:
        return self.u.shape[1] > 1


def gaussian_rule(
    act: Activation,
    oscillation_degree: int = 0,
    extra_breaks: Iterable[float] = (),
    extra_landmarks: Sequence[Landmark] = (),
    truncation: float | None = None,
) -> GaussianRule:
    """The rule for expectations of functions of ψ(z) = φ(a·z + b) and of z (see the module docstring), on
    [−L, L] with L = ``truncation`` (default :func:`truncation_for`)."""
    base, a, b = base_of(act)
    cap = z_width(oscillation_degree)
    if base.variation.homogenized(a):
        z, w = composite_rule(breakpoints_in(-TRUNCATION, TRUNCATION, ()), cap)
        period = base.variation.period
        assert period is not None
        u = (np.arange(PERIOD_SAMPLES) * (period / PERIOD_SAMPLES))[None, :]
        weights = (w * np.exp(-0.5 * z * z) / _SQRT_2PI)[:, None] / PERIOD_SAMPLES
        return GaussianRule(z, u, np.broadcast_to(weights, (len(z), PERIOD_SAMPLES)))
    limit = truncation_for(act) if truncation is None else truncation
    breaks, widths = rule_plan(act, cap, extra_breaks, extra_landmarks, limit)
    z, w = composite_rule(breaks, widths)
    with np.errstate(
        over="ignore"
    ):  # a·z + b = ±inf is φ's limit there; a non-finite ψ is reported by sample()
        u = a * z + b
    return GaussianRule(z, u[:, None], (w * np.exp(-0.5 * z * z) / _SQRT_2PI)[:, None])


@dataclass(frozen=True)
class Sampled:
    """ψ on a rule: ψ = offset + unit·delta (delta relatively accurate and O(1): ``unit`` is a power of
    two, so squares neither overflow nor underflow — relu(10³⁰⁰z) and relu(10⁻³⁰⁰z) have the same K), ψ'
    = unit·derivative; arrays shaped like rule.w (or broadcastable to it)."""

    rule: GaussianRule
    offset: float
    delta: np.ndarray
    derivative: np.ndarray
    centred: bool
    unit: float = 1.0

    def marginal(self) -> np.ndarray:
        """Σ_j w[i, j]·delta[i, j]: the weighted (scaled) values per z node."""
        return np.sum(self.rule.w * self.delta, axis=1)

    @property
    def mean(self) -> float:
        return self.offset + self.unit * float(np.sum(self.marginal()))

    @property
    def scaled_variance(self) -> float:
        """Var ψ / unit²."""
        centre = float(np.sum(self.marginal()))
        return float(np.sum(self.rule.w * (self.delta - centre) ** 2))

    @property
    def variance(self) -> float:
        with np.errstate(over="ignore", under="ignore"):
            return float(self.unit**2 * self.scaled_variance)

    @property
    def scaled_derivative_moment(self) -> float:
        """E ψ'² / unit² (inf where it overflows float64: ψ' ≈ a·φ' at |a| ≳ 1e154)."""
        with np.errstate(over="ignore"):
            return float(np.sum(self.rule.w * self.derivative**2))


def _finite(values: np.ndarray, act: Activation) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        _, a, b = base_of(act)
        reach = abs(a) * TRUNCATION + abs(b)
        raise ValueError(
            f"activation {act.name} is not finite on the quadrature nodes |z| ≤ {TRUNCATION:g}"
            + (f" (|a·z + b| reaches {reach:.3g}: ψ overflows float64)" if reach > 1e150 else "")
        )
    return values


def power_of_two_unit(values: np.ndarray) -> float:
    """2^⌊log₂ max|values|⌋ (1 for all-zero values): dividing by it is exact and brings values to O(1)."""
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    return 1.0 if peak == 0.0 else math.ldexp(1.0, math.frexp(peak)[1] - 1)


def sample(act: Activation, oscillation_degree: int = 0, truncation: float | None = None) -> Sampled:
    """ψ and ψ' on :func:`gaussian_rule`, centred (module docstring) where plain values would cancel."""
    base, a, b = base_of(act)
    rule = gaussian_rule(act, oscillation_degree, truncation=truncation)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow becomes inf, reported by _finite
        values = _finite(np.asarray(base.numpy_fn(rule.u), dtype=np.float64), act)
        derivative = _finite(np.asarray(base.numpy_derivative(rule.u), dtype=np.float64), act)
    unit = power_of_two_unit(values)
    plain = Sampled(rule, 0.0, values / unit, derivative * (a / unit), centred=False, unit=unit)
    spread = math.sqrt(max(plain.scaled_variance, 0.0))
    magnitude = float(np.sum(rule.w * np.abs(plain.delta)))
    if rule.homogenized or (magnitude <= CONDITION_LIMIT * spread and abs(b) <= CONDITION_LIMIT * abs(a)):
        return plain
    anchor = int(np.argmax(rule.w[:, 0]))
    delta = _cumulative_integral(act, rule.z, anchor)
    unit = power_of_two_unit(delta)
    return Sampled(rule, float(values[anchor, 0]), delta[:, None] / unit, derivative * (a / unit), True, unit)


_TRUNCATIONS: BoundedMemo[float] = BoundedMemo()


def truncation_for(act: Activation) -> float:
    """The smallest L in ``TRUNCATIONS`` outside which ψ has no weight (module docstring); cached."""
    return _TRUNCATIONS.get_or_compute(act.key, lambda: _truncation(act))


def _truncation(act: Activation) -> float:
    base, a, _ = base_of(act)
    if base.variation.homogenized(a):
        return TRUNCATION
    for limit in TRUNCATIONS:
        sampled = sample(act, truncation=limit)
        variance = sampled.scaled_variance
        if not variance > 0.0:
            continue  # zero on [−L, L] (relu(z − 20)): look farther out; constant to the end is the caller's error
        z = sampled.rule.z
        tail = np.abs(z) >= limit - 1.0
        deviation = (sampled.delta - float(np.sum(sampled.marginal())))[tail, 0]
        var_tail = float(np.sum(sampled.rule.w[tail, 0] * deviation**2))
        # |h_k(z)| ≤ 1.09 e^{z²/4}: the Hermite integrands beyond L are ≲ |ψ − μ|·e^{−z²/4}·2/|z| at the edge
        envelope = float(np.max(np.abs(deviation) * np.exp(-0.25 * z[tail] ** 2) * 2.0 / np.abs(z[tail])))
        if var_tail <= TAIL_TOLERANCE * variance and envelope <= TAIL_TOLERANCE * math.sqrt(variance):
            return limit
    if not variance > 0.0:
        return TRUNCATIONS[-1]
    raise ValueError(
        f"{act.name} has Gaussian weight beyond |z| = {TRUNCATIONS[-1]:g} (it grows too fast, or lives "
        "too far "
        "in the tail, for float64 quadrature: its density there is below 1e-300)"
    )


def _cumulative_integral(act: Activation, z: np.ndarray, anchor: int) -> np.ndarray:
    """ψ(z_i) − ψ(z_anchor) = ∫ ψ'(t) dt, summed over the gaps between sorted nodes (split at the kinks),
    outwards from the anchor."""
    kinks = [k for k in act.kinks if z[0] < k < z[-1]]
    points = np.union1d(z, kinks)
    lo, hi = points[:-1], points[1:]
    x_ref, w_ref = _gl_reference(GAP_ORDER)
    half = 0.5 * (hi - lo)[:, None]
    t = 0.5 * (lo + hi)[:, None] + half * x_ref
    gaps = np.sum(half * w_ref * _finite(np.asarray(act.numpy_derivative(t), dtype=np.float64), act), axis=1)
    # accumulate outwards from the anchor, so that δ near it is not a difference of two large running sums
    start = int(np.searchsorted(points, z[anchor]))
    running = np.zeros(len(points))
    running[start + 1 :] = np.cumsum(gaps[start:])
    running[:start] = -np.cumsum(gaps[:start][::-1])[::-1]
    return running[np.searchsorted(points, z)]


def gaussian_mass(lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
    """P(lo < Z < hi) for Z ~ N(0,1), accurate in both tails (differences of the nearer tail)."""
    lo_a, hi_a = np.broadcast_arrays(np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
    right = lo_a > 0  # both in the right tail: use upper-tail probabilities
    return np.where(right, special.ndtr(-lo_a) - special.ndtr(-hi_a), special.ndtr(hi_a) - special.ndtr(lo_a))


# ------------------------------------------------------------------------------------------------ mpmath
_FIXED_MP_POINTS = (-8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0)


def mp_breakpoints(act: Activation, extra: Iterable[float] = ()) -> list[mpmath.mpf]:
    """Breakpoints for mpmath quadrature: ±``MP_TRUNCATION``, the float64 plan's breakpoints on [−L, L]
    (kinks, the graded points around φ's centre, or every ρ/|a| for a periodic φ), fixed points in z,
    and ``extra``."""
    breaks, widths = rule_plan(act, BASE_PANEL_WIDTH, extra_breaks=extra)
    pts = {float(p) for p in breaks} | set(_FIXED_MP_POINTS) | {float(k) for k in act.kinks}
    for lo, hi, width in zip(breaks[:-1], breaks[1:], widths):
        # resolved for φ, not only for the Gaussian: tanh–sinh gets every MP_PANELS_PER_INTERVAL-th panel edge
        count = math.ceil((hi - lo) / (MP_PANELS_PER_INTERVAL * width))
        if width < BASE_PANEL_WIDTH and count > 1:
            pts |= {float(p) for p in np.linspace(lo, hi, count + 1)}
    inside = sorted(p for p in pts if abs(p) < MP_TRUNCATION)
    return [mpmath.mpf(-MP_TRUNCATION), *[mpmath.mpf(p) for p in inside], mpmath.mpf(MP_TRUNCATION)]


MpFunction = Callable[[mpmath.mpf], mpmath.mpf]


def _mp_quad_scaled(f: MpFunction, points: list[mpmath.mpf]) -> mpmath.mpf:
    """∫ f over the intervals between ``points``, with f scaled to O(1) first: mpmath.quad's convergence
    test is absolute (10^−dps), so an integrand of size 1e−56 would otherwise stop at a few correct
    digits."""
    probes = [*points, *[(p + q) / 2 for p, q in itertools.pairwise(points)]]
    size = max(abs(f(p)) for p in probes if mpmath.isfinite(p))
    if size == 0:
        size = mpmath.mpf(1)
    return mpmath.quad(lambda t: f(t) / size, points) * size


def mp_expectation(act: Activation, of_u: MpFunction, of_z: MpFunction | None = None) -> mpmath.mpf:
    """E[F(a·Z + b)·G(Z)] for ψ(z) = φ(a·z + b), F = ``of_u`` (a function of φ's argument), G = ``of_z``
    (default 1), by mpmath tanh–sinh quadrature at the current working precision (``mpmath.workdps``), the
    integrand scaled to O(1) (mpmath's tolerance is absolute).

    The line is truncated at ±``MP_TRUNCATION`` (Gaussian mass e^{−800}) and split at
    :func:`mp_breakpoints`; a homogenized periodic φ gives ⟨F⟩_P·E[G(Z)], ⟨F⟩_P by quadrature over one
    period split at its turning points (module docstring).
    """
    base, a, b = base_of(act)
    weight = of_z if of_z is not None else (lambda z: mpmath.mpf(1))
    if base.variation.homogenized(a):
        period = base.variation.period
        assert period is not None
        mp_period = mpmath.mpf(period)
        pts = sorted({0.0, *[t for t in base.variation.turning_points if 0.0 < t < period]})
        mean_f = _mp_quad_scaled(of_u, [*[mpmath.mpf(p) for p in pts], mp_period]) / mp_period
        z_pts = [mpmath.mpf(p) for p in (-MP_TRUNCATION, *_FIXED_MP_POINTS, MP_TRUNCATION)]
        return mean_f * _mp_quad_scaled(lambda z: weight(z) * mpmath.npdf(z), z_pts)
    mp_a, mp_b = mpmath.mpf(a), mpmath.mpf(b)
    return _mp_quad_scaled(lambda z: of_u(mp_a * z + mp_b) * weight(z) * mpmath.npdf(z), mp_breakpoints(act))

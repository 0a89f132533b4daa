"""The normalized correlation kernel K_φ, its slope α and the decorrelation strength γ (Theorem 3.1,
App. A.1).

K_φ(r) = Corr(φ(X), φ(Y)) for standard Gaussians X, Y with correlation r, computed two independent ways:

* **Mehler series**, Eq. (1): K(r) = Σ_{k≥1} w_k r^k with w_k = a_k²/Var φ (:mod:`theory.hermite`),
  truncated at degree N with the rigorous bound |K(r) − K_N(r)| ≤ |r|^{N+1}·Σ_{k>N} w_k (the Parseval
  tail).
* **Direct Gaussian integral**: with Y = rX + √(1−r²)Z, Cov(φ(X), φ(Y)) = E_X[(φ(X) − μ)·g(X)],  g(x) =
  E_Z[φ(rx + √(1−r²)Z)] − μ, both integrals by composite Gauss–Legendre split at the kinks of φ (the
  inner kinks move with x) and graded towards where φ and g vary (:mod:`theory.gaussian`); μ and Var φ
  are its own, from its own outer rule (so K(±1) comes out of the same discretization). A periodic φ
  beyond ``DIRECT_PERIODIC_FREQUENCY`` (sin(a·z + b),
  |a| > 4) is integrated in Fourier space instead: with φ(u) = Σ_n c_n e^{inωu} (c_n by the trapezoid rule
  over one period), E[e^{iω(nU + mV)}] is the bivariate normal's characteristic function, so
  Cov = Σ_{n,m} c_n c_m e^{iω(n+m)b} e^{−ω²a²(n²+m²)/2}(e^{−ω²a²rnm} − 1).

``kernel(…, method="auto")`` returns the closed form wherever the family has one
(:mod:`theory.closed_forms`: ReLU, leaky ReLU, abs, erf, sin, square, linear; 0.03 ms for 1,000 r
instead of ~200 ms), else the series where its bound is below ``SERIES_RELATIVE_TOLERANCE``·|K|, else
the direct integral; the methods ``series``, ``direct`` and ``closed`` stay separate so that each checks
the others.

α = K'_φ(0) = w_1 (Appendix A.1, property 3) is likewise computed as a_1²/Var (Hermite) and, by Stein's
identity E[φ(Z)Z] = E[φ'(Z)], as (E φ')²/Var φ in mpmath high precision (Appendix A.2), the precision
raised where ψ is nearly constant (``MP_MAX_DPS``). γ_φ = (1 − α)/(1 + α) (Theorem 3.1). Every function
accepts a modulated activation ψ(z) = φ(a·z + b).
"""

from __future__ import annotations

import math
from typing import Literal

import mpmath
import numpy as np

from theory.activations import Activation, get_activation
from theory.gaussian import (
    CONDITION_LIMIT,
    GL_ORDER,
    MP_DPS,
    GaussianRule,
    Landmark,
    MpFunction,
    base_of,
    composite_rule,
    gaussian_rule,
    graded_offsets,
    mp_expectation,
    panel_count,
    power_of_two_unit,
    segment_widths,
    truncation_for,
    z_width,
)
from theory.hermite import hermite_expansion, low_order_moments
from theory.memo import BoundedMemo

# The auto method uses the series where its rigorous truncation bound is below this relative size.
SERIES_RELATIVE_TOLERANCE = 1e-13
KernelMethod = Literal["auto", "series", "direct", "closed"]
AlphaMethod = Literal["hermite", "stein", "closed"]
KERNEL_METHODS = ("auto", "series", "direct", "closed")
ALPHA_METHODS = ("hermite", "stein", "closed")

DIRECT_PERIODIC_FREQUENCY = 4.0
"""ω·|a| above which the direct method integrates a periodic φ in Fourier space (the quadrature would need
(28·ω|a|)² panels)."""
FOURIER_SAMPLES = 64
"""Trapezoid points per period for the Fourier coefficients (exact for trigonometric polynomials
of degree < 32)."""
DIRECT_CHUNK = 2_000_000
"""Inner-rule entries evaluated at once by the direct method (bounds its memory to ~100 MB)."""
DIRECT_MAX_ENTRIES = 200_000_000
"""The direct method refuses (ValueError) a callable whose rules would exceed this many evaluations per r."""
CENTRED_SEGMENTS_MAX = 4
"""Centred values in the direct method come from ψ(v) − ψ(0) = v·∫₀¹ψ'(tv)dt on at most this many panels."""
MP_MAX_DPS = 2000
MP_GUARD_DIGITS = 2
"""The Stein route raises its working precision up to this many digits before calling ψ constant."""


def check_correlations(r: np.ndarray | float) -> np.ndarray:
    """r as a float64 array, with a ValueError if any value is non-finite or outside [−1, 1]."""
    try:
        arr = np.asarray(r, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"correlation r must be a number or an array of numbers in [-1, 1], got {r!r}"
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"correlation r must be finite, got {r!r}; valid choices: numbers in [-1, 1]")
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
    bound = np.abs(rr) ** (exp.degree + 1) * exp.relative_tail
    return values, bound


# ------------------------------------------------------------------------------------ direct integral
def _g_landmarks(act: Activation, r: float, s: float) -> tuple[list[Landmark], list[float]]:
    """Where g(x) = E_Z ψ(rx + sZ) varies: φ's centre and kinks seen through x ↦ rx, smoothed over width s
    (a kink of ψ at κ becomes, in g, a near-kink of width s/|r| at κ/r)."""
    if r == 0.0:
        return [], []
    base, a, b = base_of(act)
    v = base.variation
    marks = [Landmark(k / r, s / abs(r)) for k in act.kinks if s > 0.0]
    breaks = [k / r for k in act.kinks]
    if v.graded and v.resolution is not None:
        marks.append(Landmark((v.centre - b) / a / r, max(v.resolution / abs(a), s) / abs(r)))
    return marks, breaks


def _inner_offsets(act: Activation, scale: float, cap: float) -> tuple[np.ndarray, np.ndarray, float]:
    """For ψ_x(Z) = φ(B_x + A·Z): breakpoints relative to Z_c(x) = (c − B_x)/A, the panel width allowed
    between consecutive ones (first and last segment: up to the truncation), and the uniform width of
    the outer segments. Fixed for every x, so the inner rules of all outer nodes are built at once."""
    base = act.unmodulated()
    v = base.variation
    centre = v.centre if v.graded else 0.0
    kinks = [(k - centre) / scale for k in base.kinks]
    if v.graded and v.resolution is not None:
        width = v.resolution / abs(scale)
        offsets = np.union1d(graded_offsets(width, cap), kinks)
        mark = [Landmark(0.0, width)]
    else:
        if v.resolution is not None:
            cap = min(cap, v.resolution / abs(scale))
        offsets = np.asarray(sorted(kinks), dtype=np.float64)
        mark = []
    if len(offsets) == 0:
        return offsets, np.empty(0), cap
    return offsets, segment_widths(offsets, mark, cap), cap


def _segment_counts(offsets: np.ndarray, widths: np.ndarray, cap: float, truncation: float) -> list[int]:
    outer = math.ceil(2.0 * truncation / cap)
    if len(offsets) == 0:
        return [outer]
    inner = [panel_count(hi - lo, w) for lo, hi, w in zip(offsets[:-1], offsets[1:], widths)]
    return [outer, *inner, outer]


def _unit_rule(count: int) -> tuple[np.ndarray, np.ndarray]:
    return composite_rule(np.array([0.0, 1.0]), 1.0 / count)


class _Centred:
    """ψ(v) − ψ(0) = v·∫₀¹ ψ'(t·v) dt by Gauss–Legendre on [0, 1], split where t·v crosses a kink of ψ and
    into ``pieces`` equal panels (each within φ's resolution): relatively accurate where ψ(v) itself
    would cancel."""

    def __init__(self, act: Activation, pieces: int, truncation: float) -> None:
        self.act = act
        reach = 2.0 * truncation  # |r·x + s·Z| ≤ 2L on the rules' nodes: farther kinks are never crossed
        self.kinks = np.asarray([k for k in act.kinks if abs(k) <= reach], dtype=np.float64)
        self.nodes, self.weights = _unit_rule(pieces)
        self.cost = len(self.nodes) * (len(self.kinks) + 1)  # derivative evaluations per point

    def __call__(self, v: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            cuts = (
                np.clip(self.kinks / v[..., None], 0.0, 1.0) if len(self.kinks) else np.empty(v.shape + (0,))
            )
        cuts = np.where(np.isfinite(cuts), cuts, 0.0)
        edges = np.concatenate(
            [np.zeros(v.shape + (1,)), np.sort(cuts, axis=-1), np.ones(v.shape + (1,))], -1
        )
        total = np.zeros_like(v)
        for lo, hi in zip(np.moveaxis(edges[..., :-1], -1, 0), np.moveaxis(edges[..., 1:], -1, 0)):
            t = lo[..., None] + (hi - lo)[..., None] * self.nodes
            total += (hi - lo) * np.sum(self.weights * self.act.numpy_derivative(t * v[..., None]), axis=-1)
        return v * total


def _value_function(act: Activation, rule: GaussianRule, truncation: float) -> tuple[object, float]:
    """ψ itself, or its centred form ψ(v) − ψ(0) where plain values would lose digits, and the offset ψ(0)."""
    _, a, b = base_of(act)
    values = act.numpy_fn(rule.z)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"activation {act.name} is not finite on the quadrature nodes")
    values = values / power_of_two_unit(values)  # only the ratio E|ψ|/sd ψ matters here
    w = rule.w[:, 0]
    mean = float(w @ values)
    spread = math.sqrt(max(float(w @ (values - mean) ** 2), 0.0))
    if float(w @ np.abs(values)) <= CONDITION_LIMIT * spread and abs(b) <= CONDITION_LIMIT * abs(a):
        return act.numpy_fn, 0.0
    v = act.unmodulated().variation
    pieces = 1 if v.resolution is None else math.ceil(abs(a) * 2.0 * truncation / v.resolution)
    if pieces > CENTRED_SEGMENTS_MAX:
        lost = math.log10(max(float(w @ np.abs(values)) / max(spread, 1e-300), abs(b) / abs(a)))
        raise ValueError(
            f"{act.name} is nearly constant on the Gaussian's bulk (float64 values would lose "
            f"{lost:.0f} digits) "
            "and too steep for the direct method's centred values; use method='series' or 'auto'"
        )
    return _Centred(act, pieces, truncation), float(act.numpy_fn(np.zeros(1))[0])


def _direct_single(act: Activation, r: float) -> float:
    base, a, b = base_of(act)
    s = math.sqrt(max(0.0, 1.0 - r * r))
    marks, breaks = _g_landmarks(act, r, s)
    if abs(r) == 1.0:
        marks, breaks = [], [k * r for k in act.kinks]
        v = base.variation
        if v.graded and v.resolution is not None:
            marks = [Landmark(r * (v.centre - b) / a, v.resolution / abs(a))]
    limit = truncation_for(act)
    outer = gaussian_rule(act, extra_breaks=breaks, extra_landmarks=marks, truncation=limit)
    x, wx = outer.z, outer.w[:, 0]
    f, _ = _value_function(act, outer, limit)
    fx = f(x)  # type: ignore[operator]
    unit = power_of_two_unit(
        fx
    )  # K is unchanged by ψ → ψ/unit, whose square neither overflows nor underflows
    fx = fx / unit
    mean = float(wx @ fx)
    variance = float(wx @ (fx - mean) ** 2)
    if not variance > 0.0:
        raise ValueError(
            f"activation {act.name} is constant under N(0,1) to float64 precision (variance {variance:g}); "
            "K is undefined"
        )
    if abs(r) == 1.0:
        return float(wx @ ((fx - mean) * (f(r * x) / unit - mean)) / variance)  # type: ignore[operator]
    inner = _inner_means(act, f, r, s, x, limit) / unit
    return float(wx @ ((fx - mean) * (inner - mean)) / variance)


def _inner_means(
    act: Activation, f: object, r: float, s: float, x: np.ndarray, truncation: float
) -> np.ndarray:
    """E_Z[f(r·x + s·Z)] for every outer node x (f = ψ or its centred form), in chunks of ``DIRECT_CHUNK``."""
    base, a, b = base_of(act)
    scale = a * s
    offsets, widths, cap = _inner_offsets(act, scale, z_width())
    counts = _segment_counts(offsets, widths, cap, truncation)
    units = [_unit_rule(c) for c in counts]
    per_x = GL_ORDER * sum(counts)
    if per_x * len(x) > DIRECT_MAX_ENTRIES:
        raise ValueError(
            f"the direct kernel of {act.name} would need {per_x * len(x):.3g} evaluations per r (more than "
            f"{DIRECT_MAX_ENTRIES:.3g}); use method='series'"
        )
    v = base.variation
    centre = v.centre if v.graded else 0.0
    chunk = max(1, DIRECT_CHUNK // (per_x * getattr(f, "cost", 1)))
    out = np.empty(len(x))
    for start in range(0, len(x), chunk):
        xs = x[start : start + chunk]
        z_c = (centre - (a * r * xs + b)) / scale
        edges = np.clip(z_c[:, None] + offsets[None, :], -truncation, truncation)
        ends = np.full((len(xs), 1), truncation)
        edges = np.concatenate([-ends, edges, ends], axis=1)
        total = np.zeros(len(xs))
        for k, (unit_nodes, unit_weights) in enumerate(units):
            lo, length = edges[:, k : k + 1], (edges[:, k + 1] - edges[:, k])[:, None]
            z = lo + length * unit_nodes[None, :]
            wz = length * unit_weights[None, :] * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
            total += np.sum(wz * f(r * xs[:, None] + s * z), axis=1)  # type: ignore[operator]
        out[start : start + chunk] = total
    return out


def _fourier_direct(act: Activation, r: np.ndarray) -> np.ndarray:
    """K(r) of a periodic ψ = φ(a·z + b) from φ's Fourier coefficients (module docstring); exact up to the
    coefficients' trapezoid error, whatever a."""
    base, a, b = base_of(act)
    period = base.variation.period
    assert period is not None
    omega = 2.0 * math.pi / period
    samples = base.numpy_fn(np.arange(FOURIER_SAMPLES) * (period / FOURIER_SAMPLES))
    coeffs = np.fft.fft(samples) / FOURIER_SAMPLES
    n = np.fft.fftfreq(FOURIER_SAMPLES, d=1.0 / FOURIER_SAMPLES)
    keep = (np.abs(coeffs) > 1e-17 * np.max(np.abs(coeffs))) & (n != 0)
    c, n = coeffs[keep], n[keep]
    lam = (omega * a) ** 2
    nn, mm = n[:, None], n[None, :]
    phase = c[:, None] * c[None, :] * np.exp(1j * omega * (nn + mm) * b)

    def cov(rho: float) -> float:
        # e^{−λ(n²+m²)/2}(e^{−λρnm} − 1): the joint exponent −λ((n + ρm)² + (1 − ρ²)m²)/2 is never positive
        # written as ((n + m) − (1 − ρ)m)² + (1 − ρ)(1 + ρ)m², exact in 1 − ρ near ρ = 1
        # (where a²(1 − ρ) = O(1))
        gap = 1.0 - rho
        cross = -lam * rho * nn * mm
        joint = np.exp(-0.5 * lam * (((nn + mm) - gap * mm) ** 2 + gap * (1.0 + rho) * mm * mm))
        apart = np.exp(-0.5 * lam * (nn * nn + mm * mm))
        small = np.abs(cross) < 1.0
        diff = np.where(small, apart * np.expm1(np.where(small, cross, 0.0)), joint - apart)
        return float(np.real(np.sum(phase * diff)))

    variance = cov(1.0)
    if not variance > 0.0:
        raise ValueError(
            f"activation {act.name} is constant under N(0,1) to float64 precision; K is undefined"
        )
    return np.array([cov(float(v)) / variance for v in r.ravel()]).reshape(r.shape)


def kernel_direct(act: Activation | str, r: np.ndarray | float) -> np.ndarray:
    """K(r) by the direct two-dimensional Gaussian integral (conditioning on X), split at kinks, with its own
    mean and variance (module docstring)."""
    act = get_activation(act)
    rr = check_correlations(r)
    base, a, _ = base_of(act)
    v = base.variation
    if v.period is not None and 2.0 * math.pi * abs(a) / v.period > DIRECT_PERIODIC_FREQUENCY:
        return _fourier_direct(act, rr)
    flat = [_direct_single(act, float(x)) for x in rr.ravel()]
    return np.asarray(flat, dtype=np.float64).reshape(rr.shape)


def kernel(act: Activation | str, r: np.ndarray | float, method: KernelMethod = "auto") -> np.ndarray:
    """K_φ(r) (Theorem 3.1). ``auto``: the closed form where the family has one, else the Mehler series
    where its rigorous tail bound is below ``SERIES_RELATIVE_TOLERANCE``·|K|, else the direct integral;
    K(1) = 1. ``closed`` raises ValueError when no closed form exists for this activation."""
    if method not in KERNEL_METHODS:
        raise ValueError(f"unknown kernel method {method!r}; valid choices: {', '.join(KERNEL_METHODS)}")
    act = get_activation(act)
    rr = check_correlations(r)
    if method == "series":
        return kernel_series(act, rr)[0]
    if method == "direct":
        return kernel_direct(act, rr)
    closed = act.closed_form_kernel(rr)
    if method == "closed":
        if closed is None:
            raise ValueError(f"no closed-form kernel for {act.name}; use method 'auto', 'series' or 'direct'")
        return closed
    if closed is not None:
        values = np.array(closed, dtype=np.float64, copy=True)
        values[rr == 1.0] = 1.0
        return values
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

    ``stein``: (E φ'(Z))²/Var φ(Z) in mpmath (Appendix A.2's formula); ``closed``: closed form or
    ValueError.
    """
    if method not in ALPHA_METHODS:
        raise ValueError(f"unknown alpha method {method!r}; valid choices: {', '.join(ALPHA_METHODS)}")
    act = get_activation(act)
    if method == "hermite":
        return low_order_moments(act).alpha
    if method == "stein":
        return float(alpha_stein_mp(act))
    value = act.closed_form_alpha()
    if value is None:
        raise ValueError(f"no closed-form α for {act.name}; use method 'hermite' or 'stein'")
    return value


_STEIN: BoundedMemo[tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]] = BoundedMemo()


def stein_moments_mp(act: Activation | str) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
    """(E ψ'(Z), E ψ(Z)·Z, Var ψ(Z)) in mpmath high precision (quadrature split at kinks); cached.

    Var ψ = E(ψ − μ)² loses log₁₀(|μ|/sd) digits, and a·z + b keeps log₁₀(|b|/|a|) fewer digits of a·z:
    the working precision is raised by both (up to ``MP_MAX_DPS``) until ``MP_DPS`` digits remain."""
    act = get_activation(act)
    return _STEIN.get_or_compute(act.key, lambda: _stein_moments(act))


def _stein_moments(act: Activation) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
    base, a, b = base_of(act)
    phi = base.mpmath_fn
    argument_loss = math.log10(max(1.0, abs(b) / abs(a)))
    dps = MP_DPS + MP_GUARD_DIGITS + math.ceil(max(argument_loss, _float_cancellation(act)))
    while dps <= MP_MAX_DPS:
        with mpmath.workdps(dps):
            mean = mp_expectation(act, phi)
            variance = mp_expectation(act, _squared_deviation(phi, mean))
            if variance > 0:
                lost = max(
                    argument_loss, float(mpmath.log10(max(mpmath.mpf(1), abs(mean) / mpmath.sqrt(variance))))
                )
                if dps >= MP_DPS + MP_GUARD_DIGITS + lost:
                    mean_deriv = mpmath.mpf(a) * mp_expectation(act, base.mpmath_derivative)
                    first = mp_expectation(act, phi, lambda z: z)
                    return (mean_deriv, first, variance)
                dps = math.ceil(MP_DPS + 2 * MP_GUARD_DIGITS + lost)
            else:
                dps *= 2
    raise ValueError(
        f"activation {act.name} is constant under N(0,1) to {MP_MAX_DPS} digits; α and K are undefined"
    )


def _squared_deviation(phi: MpFunction, mean: mpmath.mpf) -> MpFunction:
    return lambda u: (phi(u) - mean) ** 2


def _float_cancellation(act: Activation) -> float:
    """log₁₀(|μ|/sd ψ) from the float64 moments: only a first guess of the digits E(ψ − μ)² loses in mpmath
    (the Stein route checks it with its own moments); 0 where the float64 route fails."""
    try:
        moments = low_order_moments(act)
    except ValueError:
        return 0.0
    spread = math.sqrt(moments.scaled_variance) * moments.unit
    return math.log10(max(1.0, abs(moments.mean) / spread)) if spread > 0 else 0.0


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
    return low_order_moments(get_activation(act)).slope_at_one


def is_linear(act: Activation | str, tolerance: float = 1e-12) -> bool:
    """Whether φ is affine under N(0,1): α = 1 up to ``tolerance`` (then K(r) = r)."""
    return alpha(act) > 1.0 - tolerance

"""Every theory quantity at extreme scales a and shifts b of ψ(z) = φ(a·z + b) (Appendix A.2): bounded
cost, and agreement with closed forms and with the mpmath (Stein) route. Issue: ``describe tanh --scale
1e6`` grew to 22 GB."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import special

from theory.activations import get_activation, modulated, registered_names
from theory.closed_forms import relu_alpha
from theory.frozen import frozen_intervals, frozen_probability, frozen_probability_closed_form
from theory.gaussian import gaussian_rule, truncation_for
from theory.hermite import hermite_coefficient_mp, hermite_coefficients
from theory.kernels import alpha, kernel, kernel_direct, kernel_series

REL_TOL = 1e-10  # the project's accuracy target
ABS_FLOOR = 1e-14  # K and α near 0 are compared absolutely
R_GRID = np.array([-0.9, -0.5, -1e-3, 0.3, 0.7, 0.9])
EXTREME = [(a, b) for a in (1e6, 1e-6) for b in (0.0, 50.0, -50.0)]


def _close(x, y, rel=REL_TOL, floor=ABS_FLOOR):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return bool(np.all(np.abs(x - y) <= rel * np.maximum(np.abs(y), floor / rel)))


def _numerically_constant(name: str, a: float, b: float) -> bool:
    """Cases whose variance is below float64's range: relu(10⁻⁶z − 50) ≡ 0 and erf(10⁻⁶z ± 50) ≡ ±1 on
    |z| ≤ 40."""
    return (name == "relu" and a == 1e-6 and b < 0) or (name == "erf" and a == 1e-6 and b != 0)


@pytest.mark.parametrize("a, b", EXTREME, ids=[f"a={a:g},b={b:g}" for a, b in EXTREME])
@pytest.mark.parametrize("name", ["relu", "erf", "sin"])
def test_closed_form_families_at_extreme_scales(name, a, b):
    act = modulated(name, a, b)
    if _numerically_constant(name, a, b):
        with pytest.raises(ValueError, match="constant under N\\(0,1\\) to float64 precision"):
            alpha(act)
        return
    a_h, a_s = alpha(act), float(alpha(act, "stein"))
    assert _close(a_h, a_s)
    closed_alpha = act.closed_form_alpha()
    if closed_alpha is not None:
        assert _close(a_h, closed_alpha)
    series = kernel_series(act, R_GRID)[0]
    direct = kernel_direct(act, R_GRID)
    assert _close(series, direct)
    closed = act.closed_form_kernel(R_GRID)
    if closed is not None:
        assert np.all(np.isfinite(closed))
        assert _close(series, closed) and _close(direct, closed)
        assert np.array_equal(kernel(act, R_GRID), closed)  # auto is the closed form
    p_closed = frozen_probability_closed_form(act)
    assert p_closed is not None and abs(frozen_probability(act) - p_closed) <= REL_TOL * max(p_closed, 1e-300)


OTHER_FAMILIES = ["tanh", "sigmoid", "gelu", "silu", "elu", "softplus", "leaky_relu:0.2", "square"]
# Nearly constant ψ (a = 1e−6, b = ±50) take Stein's route to 80 digits, 3–10 s each: one runs by default.
OTHER_CASES = [
    pytest.param(
        name,
        a,
        b,
        id=f"{name}-a={a:g},b={b:g}",
        marks=() if (b == 0 or a == 1e6 or name == "tanh" and b > 0) else pytest.mark.slow,
    )
    for name in OTHER_FAMILIES
    for a, b in EXTREME
]


@pytest.mark.parametrize("name, a, b", OTHER_CASES)
def test_other_families_against_mpmath_at_extreme_scales(name, a, b):
    """No closed kernel: Hermite α vs Stein α in mpmath (precision raised where ψ is nearly constant), Mehler
    series vs direct integral, root-finding vs closed-form frozen set or the mpmath root finder."""
    act = modulated(name, a, b)
    if name == "gelu" and a == 1e-6 and b < 0:  # gelu(u) at u ≈ −50 underflows to 0 (≈ e^{−1250})
        with pytest.raises(ValueError, match="constant"):
            alpha(act)
        return
    assert _close(alpha(act), float(alpha(act, "stein")))
    assert _close(*[kernel_series(act, R_GRID)[0], kernel_direct(act, R_GRID)])
    reference = frozen_probability_closed_form(act)
    if reference is None:
        reference = frozen_probability(act, method="mp")
    assert abs(frozen_probability(act) - reference) <= REL_TOL * max(reference, 1e-300)


def test_bug_describe_tanh_at_scale_1e6_exhausts_memory():
    """The rules used 28·|a| panels (22 GB at a = 10⁶). Now the node count grows like log|a| and the result
    is right: α of tanh(a·z) → 2/π as a → ∞ (sign(Z) has α = (E|Z|·…)… = 2/π), checked against Stein at
    a = 10⁶."""
    counts = {
        a: len(gaussian_rule(modulated("tanh", a), oscillation_degree=600).z)
        for a in (1.0, 1e3, 1e6, 1e12, 1e300)
    }
    assert counts[1e6] <= counts[1.0] + 40 * 20  # ≤ 2 graded panels of 20 nodes per factor 2 of a, per side
    assert counts[1e300] <= counts[1.0] + 2 * 1000 * 20
    act = modulated("tanh", 1e6)
    assert _close(alpha(act), float(alpha(act, "stein")))
    assert abs(alpha(modulated("tanh", 1e12)) - 2 / math.pi) < 1e-11
    assert len(hermite_coefficients(act, 7)) == 8


def test_cost_is_flat_in_the_scale_for_every_family():
    for name in registered_names():
        sizes = [len(gaussian_rule(modulated(name, a, 0.3)).z) for a in (1.0, 1e6)]
        assert sizes[1] <= sizes[0] + 50 * 20, name


def test_bug_frozen_grid_misses_the_free_interval_at_large_scale():
    """tanh(10⁶z): |ψ'| ≥ ε only on |z| < arcsech(√(ε/a))/a ≈ 9.9e−6, narrower than the old grid spacing
    (2.4e−5), which returned P = 1. The turning-point sample brackets it exactly at any scale."""
    for a in (1e6, 1e12):
        act = modulated("tanh", a)
        half = math.acosh(1.0 / math.sqrt(0.01 / a)) / a
        (left, right) = frozen_intervals(act)
        assert left[1] == pytest.approx(-half, rel=1e-12) and right[0] == pytest.approx(half, rel=1e-12)
        assert 1.0 - frozen_probability(act) == pytest.approx(1.0 - 2.0 * special.ndtr(-half), rel=1e-9)


def test_bug_softplus_sharp_beta_quadrature():
    """softplus_β's singularities sit at distance π/β: a rule of width 1 gave α(softplus:100) off by
    2.6e−8."""
    for spec in ("softplus:100", "softplus:1000"):
        assert _close(alpha(spec), float(alpha(spec, "stein")), rel=1e-13)


def test_bug_tanh_derivative_cancels_beyond_19():
    """1 − tanh²x is exactly 0 for x ≳ 19.1; sech²x is 4e^{−2x}(…), which the centred values integrate."""
    x = np.array([19.5, 30.0, 300.0])
    with mpmath.workdps(30):
        ref = [float(mpmath.sech(mpmath.mpf(v)) ** 2) for v in x]
    np.testing.assert_allclose(get_activation("tanh").numpy_derivative(x), ref, rtol=1e-14)


def test_bug_nearly_constant_activation_loses_digits():
    """relu(10⁻⁶z + 50) = 50 + 10⁻⁶z keeps 8 digits of 10⁻⁶z in float64: α was 1 − 7.2e−10. Values are now
    centred (ψ − ψ(z₀) = ∫ψ'), so the affine function has α = 1 and K(r) = r to rounding."""
    act = modulated("relu", 1e-6, 50.0)
    assert abs(alpha(act) - 1.0) < 1e-14
    assert np.max(np.abs(kernel(act, R_GRID) - R_GRID)) < 1e-14
    tanh = modulated("tanh", 1.0, 15.0)  # tanh(z + 15) ≈ 1 − 2e^{−30−2z}: K → lognormal, α → 4/(e⁴ − 1)
    assert _close(alpha(tanh), float(alpha(tanh, "stein")), rel=1e-13)
    assert alpha(tanh) == pytest.approx(4 / (math.e**4 - 1), rel=1e-6)


def test_bug_erf_closed_form_ill_conditioned_at_large_scale():
    """arcsin(c) with c = 2a²/(1 + 2a²) → 1 lost 5 digits at a = 10⁶ (α off by 1.8e−11)."""
    act = modulated("erf", 1e6)
    assert abs(act.closed_form_alpha() - float(alpha(act, "stein"))) < 1e-15
    assert _close(act.closed_form_kernel(R_GRID), kernel_series(act, R_GRID)[0], rel=1e-14)


def test_bug_sin_closed_form_overflows_or_cancels():
    """e^{−a²}·sinh(a²r) was inf·0 = NaN at a = 10⁶; ½(e^{−a²(1−r)} − e^{−a²(1+r)}) cancels at a → 0."""
    big, small = modulated("sin", 1e6, 0.5), modulated("sin", 1e-6, 0.5)
    r = np.array([-0.5, 0.5, 1 - 1e-13])
    near_one = math.exp(-1e12 * (1.0 - r[2]))  # 1 − r = 1.0003e−13 in float64 (Sterbenz: exact)
    np.testing.assert_allclose(big.closed_form_kernel(r), [0.0, 0.0, near_one], rtol=1e-12, atol=1e-300)
    assert _close(small.closed_form_kernel(R_GRID), kernel_series(small, R_GRID)[0], rel=1e-13)
    assert _close(small.closed_form_alpha(), alpha(small), rel=1e-13)


def test_bug_square_closed_form_overflows():
    """(2a⁴r² + 4a²b²r)/(2a⁴ + 4a²b²) overflowed at a = 10¹⁰⁰; with c = b/a it is (r² + 2c²r)/(1 + 2c²)."""
    act = modulated("square", 1e100, 1e99)
    c2 = 0.01
    np.testing.assert_allclose(
        act.closed_form_kernel(R_GRID), (R_GRID**2 + 2 * c2 * R_GRID) / (1 + 2 * c2), rtol=1e-15
    )


def test_bug_relu_alpha_closed_form_cancels():
    """V(c) = (c² + 1)Φ + cϕ − (cΦ + ϕ)² is 0 in float64 at c = 10⁸ (division by zero) and loses 4·log₁₀|c|
    digits as c → −∞; evaluated in mpmath it matches the Stein route and the limits."""
    assert relu_alpha(1e8) == 1.0 and relu_alpha(1e20) == 1.0
    for c in (-3.0, -10.0):
        assert _close(relu_alpha(c), float(alpha(modulated("relu", 1.0, c), "stein")), rel=1e-12)
    assert relu_alpha(-1000.0) == 0.0


def test_bug_mpmath_quadrature_tolerance_is_absolute():
    """mpmath.quad stops at an absolute 10^−dps: Var of sigmoid(10⁻⁶z − 50) ≈ 4e−56 came out 1.3e−7 off,
    and α by Stein with it. Integrands are scaled to O(1) first."""
    act = modulated("sigmoid", 1e-6, -50.0)
    assert _close(float(alpha(act, "stein")), alpha(act), rel=1e-13)


def test_bug_truncation_misses_exponential_growth():
    """softplus_100(0.1z − 3) ≈ e^{10z − 300}/100 has its second moment at z ≈ 20, beyond the old |z| ≤ 14:
    α came out 3.8e−33 instead of ≈ 100·e^{−100} = 3.7e−42 (the lognormal kernel's K'(0) = c²/(e^{c²} −
    1), c = 10)."""
    act = modulated("softplus:100", 0.1, -3.0)
    assert truncation_for(act) > 14.0
    assert alpha(act) == pytest.approx(100.0 / math.expm1(100.0), rel=1e-6)
    assert _close(alpha(act), float(alpha(act, "stein")), rel=1e-10, floor=1e-300)
    gelu = modulated("gelu", 1.0, -12.0)  # lives in the tail z ≳ 12: Hermite and Stein agreed only to 1e−9
    assert _close(alpha(gelu), float(alpha(gelu, "stein")), rel=1e-12)


def test_bug_variance_over_or_underflows_float64():
    """relu(10⁻³⁰⁰z) was 'constant' (Var = 10⁻⁶⁰⁰ underflows) and relu(10³⁰⁰z) raised numpy's 'Maximum
    allowed size exceeded'. K and α are invariant under ψ → cψ; values are scaled by a power of two."""
    for a in (1e-300, 1e300, -1e300):
        act = modulated("relu", a)
        assert alpha(act) == pytest.approx(alpha("relu"), rel=1e-14)
        np.testing.assert_allclose(
            kernel_series(act, R_GRID)[0], kernel_series("relu", R_GRID)[0], rtol=1e-13
        )
        np.testing.assert_allclose(
            kernel_direct(act, R_GRID), act.closed_form_kernel(R_GRID), rtol=1e-12, atol=1e-14
        )
    assert alpha(modulated("tanh", 1e300)) == pytest.approx(2 / math.pi, rel=1e-14)


def test_periodic_homogenization_is_continuous_at_its_threshold():
    """sin(a·z + b) is averaged over its period from a = 40: on both sides everything matches the
    closed forms."""
    for a in (39.9, 40.1, 1e6):
        act = modulated("sin", a, 0.7)
        assert abs(alpha(act) - act.closed_form_alpha()) < 1e-15
        assert abs(float(alpha(act, "stein")) - act.closed_form_alpha()) < 1e-15
        r = np.array([0.999, 0.9999, 1 - 1e-13])
        np.testing.assert_allclose(kernel_direct(act, r), act.closed_form_kernel(r), rtol=1e-12, atol=1e-300)
        p = frozen_probability_closed_form(act)
        assert frozen_probability(act) == pytest.approx(p, rel=1e-12)
        assert frozen_probability(act, method="mp") == pytest.approx(p, rel=1e-12)
        assert float(hermite_coefficient_mp(act, 2)) == pytest.approx(
            hermite_coefficients(act, 2)[2], abs=1e-15
        )


def test_bug_zero_on_the_bulk_reported_constant():
    """relu(z − 20) is 0 on |z| ≤ 14, so it was called 'constant'; its variance (≈ 1e−91) is in float64's range.
    The truncation now looks farther out, and α = (a_1/sd)² is formed as a ratio first (a_1² underflows)."""
    for b in (-20.0, -30.0):
        act = modulated("relu", 1.0, b)
        assert _close(alpha(act), act.closed_form_alpha(), floor=1e-300)
        assert _close(kernel_series(act, 0.5)[0], kernel_direct(act, 0.5), floor=1e-300)
    with pytest.raises(ValueError, match="constant"):
        alpha(modulated("relu", 1.0, -38.0))

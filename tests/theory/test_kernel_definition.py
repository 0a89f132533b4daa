"""K_φ(r) = Corr(φ(X), φ(Y)) straight from the definition (Theorem 3.1): a seeded Monte-Carlo estimate
against every method, the direct method's independence from the Hermite expansion, and ``auto`` = the
closed form."""

from __future__ import annotations

import numpy as np
import pytest

from tests.theory.cases import build
from theory import kernels
from theory.activations import get_activation
from theory.kernels import kernel, kernel_direct, kernel_series

SAMPLES = 400_000
SIGMAS = 6.0  # two-sided: P(|N(0,1)| > 6) = 2e−9 per comparison
MC_CASES = [
    ("relu", 1.0, 0.0),
    ("tanh", 1.0, 0.0),
    ("gelu", 0.5, 1.0),
    ("sin", 2.0, 0.3),
    ("abs", 1.0, 0.7),
    ("elu", 2.0, -1.0),
    ("softplus", 1.0, 0.0),
    ("sigmoid", 3.0, 0.5),
    ("tanh", 1e6, 0.0),
]
MC_R = (-0.8, -0.3, 0.4, 0.9)


def _correlation_and_error(values_x: np.ndarray, values_y: np.ndarray) -> tuple[float, float]:
    """Pearson's ρ̂ and its standard error from the influence function of the correlation, IF = u·v − ρ(u²
    + v²)/2 for the standardized u, v: SE = sd(IF)/√n (the delta method, computed from the sample itself
    — no Gaussian assumption about φ(X), whose fourth moments differ from a Gaussian's)."""
    u = (values_x - values_x.mean()) / values_x.std()
    v = (values_y - values_y.mean()) / values_y.std()
    rho = float(np.mean(u * v))
    influence = u * v - 0.5 * rho * (u * u + v * v)
    return rho, float(influence.std() / np.sqrt(len(u)))


@pytest.mark.parametrize("spec", MC_CASES, ids=[f"{n}({a:g},{b:g})" for n, a, b in MC_CASES])
def test_kernel_is_the_correlation_of_the_definition(spec):
    act = build(spec)
    rng = np.random.default_rng(20240611)
    r = np.array(MC_R)
    series, direct, auto = kernel_series(act, r)[0], kernel_direct(act, r), kernel(act, r)
    for value, expected_s, expected_d, expected_a in zip(r, series, direct, auto):
        x = rng.standard_normal(SAMPLES)
        y = value * x + np.sqrt(1.0 - value * value) * rng.standard_normal(SAMPLES)
        rho, error = _correlation_and_error(act.numpy_fn(x), act.numpy_fn(y))
        for expected in (expected_s, expected_d, expected_a):
            assert abs(rho - expected) <= SIGMAS * error, (value, rho, expected, error)


def test_monte_carlo_tolerance_detects_a_wrong_kernel():
    """The 6σ band is tight enough to tell K_relu from r (linear) or from K_tanh at r = 0.4."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(SAMPLES)
    y = 0.4 * x + np.sqrt(1 - 0.16) * rng.standard_normal(SAMPLES)
    relu = get_activation("relu")
    rho, error = _correlation_and_error(relu.numpy_fn(x), relu.numpy_fn(y))
    assert abs(rho - float(kernel(relu, 0.4))) <= SIGMAS * error
    assert abs(rho - 0.4) > SIGMAS * error and abs(rho - float(kernel("tanh", 0.4))) > SIGMAS * error


def test_direct_method_does_not_use_the_hermite_expansion(monkeypatch):
    """Issue: the direct method reused the series' μ and Var. It must stand without theory.hermite."""
    expected = kernel_direct(build(("gelu", 0.5, 1.0)), np.array([-0.7, 0.2, 0.95]))

    def forbidden(*args, **kwargs):
        raise AssertionError("the direct kernel called the Hermite expansion")

    monkeypatch.setattr(kernels, "hermite_expansion", forbidden)
    monkeypatch.setattr(kernels, "low_order_moments", forbidden)
    fresh = build(("gelu", 0.5, 1.0))
    np.testing.assert_array_equal(kernel_direct(fresh, np.array([-0.7, 0.2, 0.95])), expected)
    assert kernel_direct(fresh, 1.0) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("name", ["relu", "leaky_relu:0.2", "abs", "erf", "sin", "square", "linear"])
def test_auto_is_the_closed_form_where_one_exists(name, monkeypatch):
    """Issue: auto took a 2-D integral near |r| = 1 for relu (218 ms for 1,000 r), a closed form exists."""
    act = get_activation(name)
    r = np.linspace(-1.0, 1.0, 1001)
    closed = act.closed_form_kernel(r)
    monkeypatch.setattr(kernels, "kernel_series", lambda *a: pytest.fail("auto used the series"))
    monkeypatch.setattr(kernels, "kernel_direct", lambda *a: pytest.fail("auto used the direct integral"))
    auto = kernel(act, r)
    assert auto[-1] == 1.0
    np.testing.assert_array_equal(auto[:-1], closed[:-1])
    assert np.array_equal(kernel(act, r, method="closed"), closed)


def test_auto_without_closed_form_still_checks_the_series_bound():
    r = np.array([0.5, 0.99, 0.9999])
    series, bound = kernel_series("gelu", r)
    auto = kernel("gelu", r)
    assert np.all(np.abs(auto - series) <= bound + 1e-10 * np.abs(series))

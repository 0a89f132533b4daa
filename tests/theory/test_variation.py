"""Where each activation varies (theory/variation.py): the landmarks the rules are built from are right,
and the torch forms are built lazily without losing torch.func (issue: performance, goal 5)."""

from __future__ import annotations

import itertools
import subprocess
import sys

import mpmath
import numpy as np
import pytest
import torch

from theory.activations import get_activation, registered_names
from theory.variation import (
    GELU_DERIVATIVE_EXTREMA,
    GELU_DERIVATIVE_ZERO,
    SILU_DERIVATIVE_EXTREMUM,
    SILU_DERIVATIVE_ZERO,
)

NAMES = registered_names() + ["leaky_relu:0.2", "elu:0.5", "softplus:3", "softplus:100"]


def test_turning_point_constants():
    with mpmath.workdps(40):
        gelu_d = get_activation("gelu").mpmath_derivative
        silu_d = get_activation("silu").mpmath_derivative
        assert abs(float(mpmath.findroot(gelu_d, -0.75)) - GELU_DERIVATIVE_ZERO) < 1e-16
        assert abs(float(mpmath.findroot(silu_d, -1.28)) - SILU_DERIVATIVE_ZERO) < 1e-16
        assert (
            abs(float(mpmath.findroot(lambda u: mpmath.diff(silu_d, u), 2.4)) - SILU_DERIVATIVE_EXTREMUM)
            < 1e-15
        )
        for u in GELU_DERIVATIVE_EXTREMA:
            assert abs(mpmath.diff(gelu_d, mpmath.mpf(u))) < 1e-15  # float √2 is 1e−16 off


@pytest.mark.parametrize("name", NAMES)
def test_abs_derivative_is_monotone_between_turning_points_and_kinks(name):
    """The frozen-set root finder relies on it: between consecutive landmarks |φ'| < t changes at
    most once."""
    act = get_activation(name)
    v = act.variation
    period = v.period
    marks = sorted({*v.turning_points, *act.kinks})
    lo, hi = (0.0, period) if period else (-60.0, 60.0)
    edges = [lo, *[m for m in marks if lo < m < hi], hi]
    for left, right in itertools.pairwise(edges):
        u = np.linspace(left, right, 4001)[1:-1]
        d = np.diff(np.abs(act.numpy_derivative(u)))
        scale = max(1e-300, float(np.max(np.abs(act.numpy_derivative(u)))))
        assert np.all(d >= -1e-13 * scale) or np.all(d <= 1e-13 * scale), (name, left, right)


def test_softplus_resolution_follows_beta():
    assert get_activation("softplus:100").variation.resolution == pytest.approx(0.01)
    assert get_activation("relu").variation.resolution is None and get_activation("sin").variation.period


def test_cli_does_not_import_torch_or_sympy():
    """torch took 0.86 s of the 1.5 s a ``python -m theory describe relu`` took."""
    code = (
        "import runpy, sys; sys.argv = ['theory', 'describe', 'relu']; "
        'exec(\'try:\\n runpy.run_module("theory", run_name="__main__")\\nexcept SystemExit: pass\'); '
        "print('MODULES', 'torch' in sys.modules, 'sympy' in sys.modules, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    ).stdout
    assert "MODULES False False False" in out, out


@pytest.mark.parametrize("name", NAMES)
def test_lazy_torch_forms_work_under_torch_func(name):
    act = get_activation(name)
    x = torch.tensor([-2.3, -0.7, 0.4, 1.9], dtype=torch.float64)
    grad = torch.func.vmap(torch.func.grad(lambda t: act(t)))(x)
    np.testing.assert_allclose(grad.numpy(), act.torch_derivative(x).numpy(), rtol=1e-13, atol=1e-15)
    _, tangent = torch.func.jvp(act.torch_fn, (x,), (torch.ones_like(x),))
    np.testing.assert_allclose(tangent.numpy(), act.numpy_derivative(x.numpy()), rtol=1e-13, atol=1e-15)

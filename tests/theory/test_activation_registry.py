"""The activation registry: four number systems agree, derivatives are right, bad names are explained."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy
import torch

from theory.activations import get_activation, modulated, registered_names

GRID = np.array([-3.1, -1.7, -0.4, -1e-3, 0.3, 0.9, 2.2, 4.5])  # avoids the kink at 0 exactly
AGREE_TOL = 1e-14  # float64 forms vs mpmath at 30 digits, relative to max(1, |value|)
DERIV_TOL = 1e-12  # closed-form derivative vs mpmath numerical differentiation
NAMES = registered_names() + ["leaky_relu:0.2", "elu:0.5", "softplus:3"]


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


@pytest.mark.parametrize("name", NAMES)
def test_numpy_torch_mpmath_agree(name):
    act = get_activation(name)
    with mpmath.workdps(30):
        ref = [act.mpmath_fn(mpmath.mpf(float(x))) for x in GRID]
    t = act.torch_fn(torch.tensor(GRID, dtype=torch.float64)).numpy()
    n = act.numpy_fn(GRID)
    for x, r, tv, nv in zip(GRID, ref, t, n):
        assert _close(float(nv), float(r), AGREE_TOL), (name, x)
        assert _close(float(tv), float(r), AGREE_TOL), (name, x)


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_autograd_and_numerical_differentiation(name):
    act = get_activation(name)
    x = torch.tensor(GRID, dtype=torch.float64, requires_grad=True)
    (auto,) = torch.autograd.grad(act.torch_fn(x).sum(), x)
    np.testing.assert_allclose(act.torch_derivative(x.detach()).numpy(), auto.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(act.numpy_derivative(GRID), auto.numpy(), rtol=1e-13, atol=1e-15)
    with mpmath.workdps(40):
        for xv in GRID:
            num = mpmath.diff(act.mpmath_fn, mpmath.mpf(float(xv)))
            assert _close(float(act.mpmath_derivative(mpmath.mpf(float(xv)))), float(num), DERIV_TOL), (
                name,
                xv,
            )


@pytest.mark.parametrize("name", NAMES)
def test_sympy_form_matches(name):
    act = get_activation(name)
    assert act.sympy_fn is not None, f"{name} has a closed form; its sympy expression is missing"
    z = sympy.Symbol("z", real=True)
    expr = act.sympy_fn(z)
    deriv = sympy.diff(expr, z)
    for xv in GRID:
        assert _close(float(expr.subs(z, sympy.Float(xv, 30))), float(act.numpy_fn(np.array([xv]))[0]), 1e-13)
        assert _close(
            float(deriv.subs(z, sympy.Float(xv, 30))), float(act.numpy_derivative(np.array([xv]))[0]), 1e-13
        )


def test_parameterized_names_and_aliases():
    assert get_activation("leaky_relu:0.2").numpy_fn(np.array([-1.0]))[0] == pytest.approx(-0.2)
    assert get_activation("leaky_relu").numpy_fn(np.array([-1.0]))[0] == pytest.approx(-0.01)
    assert get_activation("elu:2").numpy_fn(np.array([-50.0]))[0] == pytest.approx(-2.0)
    assert get_activation("swish").name == "silu" and get_activation("identity").name == "linear"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("relux", "unknown activation 'relux'; valid choices: relu, leaky_relu:<negative slope>"),
        ("tanh:3", "takes no parameter"),
        ("leaky_relu:abc", "must be a number"),
        ("softplus:-1", "positive"),
        (42, "registered name or a callable"),
    ],
)
def test_bad_names_are_explained(spec, message):
    with pytest.raises((ValueError, TypeError), match=message):
        get_activation(spec)


def test_modulation_includes_the_chain_factor_and_moves_kinks():
    psi = modulated("relu", scale=2.0, shift=1.0)
    assert psi.kinks == (-0.5,)
    np.testing.assert_array_equal(psi.numpy_derivative(np.array([-1.0, 0.0])), [0.0, 2.0])
    twice = psi.modulated(scale=3.0, shift=-1.0)  # relu(2(3z − 1) + 1) = relu(6z − 1)
    assert (twice.scale, twice.shift) == (6.0, -1.0)
    assert twice.unmodulated() is psi.unmodulated()
    with pytest.raises(ValueError, match="scale must be a finite non-zero"):
        modulated("tanh", scale=0.0)
    with pytest.raises(ValueError, match="shift must be a finite"):
        modulated("tanh", shift=math.inf)


def test_user_callable_gets_autograd_derivative():
    act = get_activation(lambda x: x * torch.tanh(x))
    x = np.array([-1.0, 0.5])
    np.testing.assert_allclose(act.numpy_derivative(x), np.tanh(x) + x * (1 - np.tanh(x) ** 2), rtol=1e-14)
    assert not act.exact_mpmath and act.sympy_fn is None
    psi = act.modulated(2.0, 0.5)
    np.testing.assert_allclose(psi.numpy_fn(x), act.numpy_fn(2 * x + 0.5), rtol=1e-15)

"""Activation registry: every elementwise nonlinearity the toolkit knows, in four number systems.

Each :class:`Activation` carries its value and derivative for numpy (float64 arrays), torch (tensors,
autograd-friendly), mpmath (arbitrary precision scalars) and, where one exists, a sympy expression.
The modulated activation ψ(z) = φ(a·z + b) of Appendix A.2 is :meth:`Activation.modulated`; its
derivative includes the chain factor a, ψ'(z) = a·φ'(a·z + b).

Names are looked up with :func:`get_activation`. Parameterized families take their parameter after a
colon: ``"leaky_relu:0.01"`` (negative slope), ``"elu:1.0"`` (α), ``"softplus:1.0"`` (β).
A user-supplied torch callable is accepted too; its derivative comes from autograd and its mpmath form
is evaluated in double precision (documented in :func:`from_callable`).

``kinks`` lists the points where φ is not twice continuously differentiable; quadrature routines
split their integrals there, which is what makes 1e-10 accuracy possible for ReLU-like functions.

An activation is a type, not a string: it carries its ``family`` (the registry name, or ``"callable"``),
its ``parameter``, its Kaiming gain (the ``g`` of He et al.'s U(±g√(3/fan_in)) re-initialization used by
Continual Backpropagation) and the closed forms of :mod:`theory.closed_forms` known for its family. Code
never parses names. ``key`` identifies an activation for caches and grouping: registered ones by value,
callables by the function object itself (held, never its ``id``, which Python reuses after collection).
``variation`` (:mod:`theory.variation`) says where φ varies; the quadrature rules are built from it.

torch and sympy are imported on first use, not with this module: ``python -m theory`` never needs torch, and
``torch_fn``/``__call__`` import it the first time they run (torch.func transforms through them as before).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np
from scipy import special

from theory import closed_forms as cf
from theory import variation as var
from theory.closed_forms import ClosedForms, Interval
from theory.variation import Variation

if TYPE_CHECKING:
    import sympy
    import torch

NumpyFn = Callable[[np.ndarray], np.ndarray]
TorchFn = Callable[["torch.Tensor"], "torch.Tensor"]
MpFn = Callable[[Any], Any]
SympyFn = Callable[["sympy.Expr"], "sympy.Expr"]

DEFAULT_LEAKY_SLOPE = 0.01
DEFAULT_ELU_ALPHA = 1.0
DEFAULT_SOFTPLUS_BETA = 1.0

CALLABLE_FAMILY = "callable"
"""The ``family`` of an activation wrapped from a user's callable (:func:`from_callable`)."""

RELU_GAIN = math.sqrt(2.0)
TANH_GAIN = 5.0 / 3.0
"""Kaiming gains as torch.nn.init.calculate_gain defines them (relu √2, tanh 5/3, linear/sigmoid 1).
ReLU-like smooth families (GELU, SiLU, ELU, softplus) take ReLU's √2, as Dohare et al. (2024) do for swish
and ELU; bounded or odd families without a standard gain (sin, erf, abs, square) take 1."""


def _torch() -> ModuleType:
    """torch, imported on first use (the theory CLI never needs it)."""
    import torch

    return torch


def _functional() -> ModuleType:
    import torch.nn.functional

    return torch.nn.functional


def _sympy() -> ModuleType:
    """sympy, imported on first use (only :mod:`theory.symbolic` and its callers need the expressions)."""
    import sympy

    return sympy


def leaky_relu_gain(slope: float) -> float:
    """√(2/(1 + s²)), torch.nn.init.calculate_gain('leaky_relu', s)."""
    return math.sqrt(2.0 / (1.0 + slope * slope))


class _Identity:
    """A hashable holder comparing its object by identity; it keeps the object alive, so the identity is
    never reused by another object while the holder exists (unlike ``id()``)."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj

    def __repr__(self) -> str:
        return f"<{getattr(self.obj, '__name__', type(self.obj).__name__)}>"


@dataclass(frozen=True)
class Activation:
    """An elementwise function φ with its derivative φ' in numpy, torch, mpmath and (optionally) sympy.

    ``family``/``parameter`` name the registry family (``"leaky_relu"``, 0.01); ``kaiming_gain`` is None
    for callables (no gain is known for them); ``closed_forms`` holds the family's exact formulas.
    """

    name: str
    numpy_fn: NumpyFn
    numpy_derivative: NumpyFn
    torch_fn: TorchFn
    torch_derivative: TorchFn
    mpmath_fn: MpFn
    mpmath_derivative: MpFn
    family: str
    parameter: float | None = None
    kaiming_gain: float | None = None
    closed_forms: ClosedForms = field(default=ClosedForms(), compare=False, repr=False)
    variation: Variation = field(default=var.UNKNOWN_VARIATION, compare=False, repr=False)
    sympy_fn: SympyFn | None = None
    kinks: tuple[float, ...] = ()
    exact_mpmath: bool = True
    scale: float = 1.0
    shift: float = 0.0
    base: Activation | None = field(default=None, compare=False, repr=False)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.torch_fn(x)

    @property
    def is_modulated(self) -> bool:
        return self.scale != 1.0 or self.shift != 0.0

    @property
    def is_callable(self) -> bool:
        """True for a user's callable wrapped by :func:`from_callable`."""
        return self.family == CALLABLE_FAMILY

    @property
    def key(self) -> tuple[Any, ...]:
        """Identity for caches and grouping: (family, parameter, a, b) for registered activations; for a
        callable the function object itself (held by identity) replaces the parameter."""
        ident: Any = _Identity(self.unmodulated().torch_fn) if self.is_callable else self.parameter
        return (self.family, ident, float(self.scale), float(self.shift))

    def closed_form_kernel(self, r: np.ndarray | float) -> np.ndarray | None:
        """K_ψ(r) in closed form (:mod:`theory.closed_forms`), or None where the family has none."""
        form = self.closed_forms.kernel
        return None if form is None else form(np.asarray(r, dtype=np.float64), self.scale, self.shift)

    def closed_form_alpha(self) -> float | None:
        """α = K'_ψ(0) in closed form, or None."""
        form = self.closed_forms.alpha
        return None if form is None else form(self.scale, self.shift)

    def closed_form_slow_set(self, threshold: float, window: Interval | None = None) -> list[Interval] | None:
        """{u : |φ'(u)| < threshold} ∩ window in φ's own variable u = a·z + b, or None where no closed form
        exists. The default window is where U = a·Z + b has mass, b ± ``GAUSSIAN_REACH``·|a|; a periodic set
        (sin) is listed interval by interval and refused beyond ``MAX_LISTED_INTERVALS`` (ValueError)."""
        form = self.closed_forms.slow_set
        if form is None:
            return None
        reach = cf.GAUSSIAN_REACH * abs(self.scale)
        lo, hi = window if window is not None else (self.shift - reach, self.shift + reach)
        return form(threshold, lo, hi)

    def modulated(self, scale: float = 1.0, shift: float = 0.0) -> Activation:
        """ψ(z) = φ(a·z + b) with ψ'(z) = a·φ'(a·z + b) (Appendix A.2).

        Kinks move to (k − b)/a. Modulating a modulated activation composes the affine maps.
        """
        a, b = _check_scale_shift(scale, shift)
        if a == 1.0 and b == 0.0:
            return self
        # φ(s·(a·z + b) + t) = φ((s·a)·z + (s·b + t)): modulating twice composes the affine maps.
        a_total, b_total = self.scale * a, self.scale * b + self.shift
        return _modulate(self.unmodulated(), a_total, b_total)

    def unmodulated(self) -> Activation:
        """φ itself when this is ψ(z) = φ(a·z + b)."""
        return self.base if self.base is not None else self


def _real(value: object, what: str) -> float:
    if isinstance(value, (bool, str)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a real number, got {value!r}")
    return float(value)


def _check_scale_shift(scale: float, shift: float) -> tuple[float, float]:
    """(a, b) as floats: a finite, non-zero and not subnormal (|a| ≥ 2.2e−308: a·z would keep few digits), b
    finite; ValueError naming the valid range otherwise."""
    a, b = _real(scale, "scale"), _real(shift, "shift")
    if not math.isfinite(a) or abs(a) < sys.float_info.min:
        raise ValueError(
            f"scale must be a finite non-zero number with |scale| ≥ {sys.float_info.min:.3g}, got {scale!r}"
        )
    if not math.isfinite(b):
        raise ValueError(f"shift must be a finite number, got {shift!r}")
    return a, b


def _sympy_affine(base_sym: SympyFn, a: float, b: float) -> SympyFn:
    def expr(z: sympy.Expr) -> sympy.Expr:
        sp = _sympy()
        return base_sym(sp.nsimplify(a) * z + sp.nsimplify(b))

    return expr


def _modulate(base: Activation, a: float, b: float) -> Activation:
    mp_a, mp_b = mpmath.mpf(a), mpmath.mpf(b)
    sym = None if base.sympy_fn is None else _sympy_affine(base.sympy_fn, a, b)

    def np_f(x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # a·x + b = ±inf is φ's limit there (tanh → ±1, relu → inf)
            return base.numpy_fn(a * np.asarray(x, dtype=np.float64) + b)

    def np_d(x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return a * base.numpy_derivative(a * np.asarray(x, dtype=np.float64) + b)

    return Activation(
        name=f"{base.name}(a={a:g},b={b:g})",
        numpy_fn=np_f,
        numpy_derivative=np_d,
        torch_fn=lambda x: base.torch_fn(a * x + b),
        torch_derivative=lambda x: a * base.torch_derivative(a * x + b),
        mpmath_fn=lambda x: base.mpmath_fn(mp_a * x + mp_b),
        mpmath_derivative=lambda x: mp_a * base.mpmath_derivative(mp_a * x + mp_b),
        family=base.family,
        parameter=base.parameter,
        kaiming_gain=base.kaiming_gain,
        closed_forms=base.closed_forms,
        variation=base.variation,
        sympy_fn=sym,
        kinks=tuple(sorted((k - b) / a for k in base.kinks)),
        exact_mpmath=base.exact_mpmath,
        scale=a,
        shift=b,
        base=base,
    )


# ----------------------------------------------------------------------------------------------------
# The registered families. Each builder takes the (optional) parameter and returns an Activation.


def _relu(_: float | None) -> Activation:
    return Activation(
        name="relu",
        family="relu",
        kaiming_gain=RELU_GAIN,
        closed_forms=cf.relu_forms(),
        variation=var.PIECEWISE_POLYNOMIAL,
        numpy_fn=lambda x: np.maximum(np.asarray(x, dtype=np.float64), 0.0),
        numpy_derivative=lambda x: (np.asarray(x, dtype=np.float64) > 0).astype(np.float64),
        torch_fn=lambda x: _torch().relu(x),
        torch_derivative=lambda x: (x > 0).to(x.dtype),
        mpmath_fn=lambda x: x if x > 0 else mpmath.mpf(0),
        mpmath_derivative=lambda x: mpmath.mpf(1) if x > 0 else mpmath.mpf(0),
        sympy_fn=lambda z: _sympy().Piecewise((z, z > 0), (0, True)),
        kinks=(0.0,),
    )


def _leaky_relu(slope: float | None) -> Activation:
    s = DEFAULT_LEAKY_SLOPE if slope is None else slope
    if not math.isfinite(s):
        raise ValueError(f"leaky_relu slope must be finite, got {s!r}")
    mp_s = mpmath.mpf(s)

    def t_d(x: torch.Tensor) -> torch.Tensor:
        torch = _torch()
        return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, s))

    def sym(z: sympy.Expr) -> sympy.Expr:
        sp = _sympy()
        return sp.Piecewise((z, z > 0), (sp.nsimplify(s) * z, True))

    return Activation(
        name=f"leaky_relu:{s:g}",
        family="leaky_relu",
        parameter=s,
        kaiming_gain=leaky_relu_gain(s),
        closed_forms=cf.leaky_relu_forms(s),
        variation=var.PIECEWISE_POLYNOMIAL,
        numpy_fn=lambda x: np.where(np.asarray(x) > 0, x, s * np.asarray(x, dtype=np.float64)),
        numpy_derivative=lambda x: np.where(np.asarray(x) > 0, 1.0, s),
        torch_fn=lambda x: _functional().leaky_relu(x, negative_slope=s),
        torch_derivative=t_d,
        mpmath_fn=lambda x: x if x > 0 else mp_s * x,
        mpmath_derivative=lambda x: mpmath.mpf(1) if x > 0 else mp_s,
        sympy_fn=sym,
        kinks=(0.0,),
    )


def _sech_squared(x: np.ndarray) -> np.ndarray:
    """sech²x = 4e^{−2|x|}/(1 + e^{−2|x|})², relatively accurate where 1 − tanh²x would cancel to 0
    (|x| ≳ 19)."""
    e = np.exp(-2.0 * np.abs(np.asarray(x, dtype=np.float64)))
    return 4.0 * e / (1.0 + e) ** 2


def _tanh(_: float | None) -> Activation:
    def t_d(x: torch.Tensor) -> torch.Tensor:
        e = _torch().exp(-2.0 * x.abs())
        return 4.0 * e / (1.0 + e) ** 2

    return Activation(
        name="tanh",
        family="tanh",
        kaiming_gain=TANH_GAIN,
        closed_forms=cf.tanh_forms(),
        variation=var.smooth(turning_points=(0.0,)),
        numpy_fn=np.tanh,
        numpy_derivative=_sech_squared,
        torch_fn=lambda x: _torch().tanh(x),
        torch_derivative=t_d,
        mpmath_fn=mpmath.tanh,
        mpmath_derivative=lambda x: mpmath.sech(x) ** 2,
        sympy_fn=lambda z: _sympy().tanh(z),
    )


def _sigmoid(_: float | None) -> Activation:
    def t_d(x: torch.Tensor) -> torch.Tensor:
        torch = _torch()
        return torch.sigmoid(x) * torch.sigmoid(-x)

    return Activation(
        name="sigmoid",
        family="sigmoid",
        kaiming_gain=1.0,
        closed_forms=cf.sigmoid_forms(),
        variation=var.smooth(turning_points=(0.0,)),
        numpy_fn=special.expit,
        numpy_derivative=lambda x: special.expit(x) * special.expit(-np.asarray(x, dtype=np.float64)),
        torch_fn=lambda x: _torch().sigmoid(x),
        torch_derivative=t_d,
        mpmath_fn=lambda x: 1 / (1 + mpmath.exp(-x)),
        mpmath_derivative=lambda x: 1 / ((1 + mpmath.exp(-x)) * (1 + mpmath.exp(x))),
        sympy_fn=lambda z: 1 / (1 + _sympy().exp(-z)),
    )


_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu(_: float | None) -> Activation:
    """Exact GELU, x·Φ(x) with Φ the standard normal CDF (not the tanh approximation)."""

    def t_d(x: torch.Tensor) -> torch.Tensor:
        torch = _torch()
        return 0.5 * (1.0 + torch.erf(x * _INV_SQRT2)) + x * _INV_SQRT2PI * torch.exp(-0.5 * x * x)

    def sym(z: sympy.Expr) -> sympy.Expr:
        sp = _sympy()
        return z * (1 + sp.erf(z / sp.sqrt(2))) / 2

    return Activation(
        name="gelu",
        family="gelu",
        kaiming_gain=RELU_GAIN,
        variation=var.smooth(
            turning_points=(
                var.GELU_DERIVATIVE_EXTREMA[0],
                var.GELU_DERIVATIVE_ZERO,
                var.GELU_DERIVATIVE_EXTREMA[1],
            )
        ),
        numpy_fn=lambda x: np.asarray(x, dtype=np.float64) * special.ndtr(x),
        numpy_derivative=lambda x: (
            special.ndtr(x) + np.asarray(x, dtype=np.float64) * _INV_SQRT2PI * np.exp(-0.5 * np.square(x))
        ),
        torch_fn=lambda x: _functional().gelu(x, approximate="none"),
        torch_derivative=t_d,
        mpmath_fn=lambda x: x * mpmath.ncdf(x),
        mpmath_derivative=lambda x: mpmath.ncdf(x) + x * mpmath.npdf(x),
        sympy_fn=sym,
    )


def _silu(_: float | None) -> Activation:
    def np_d(x: np.ndarray) -> np.ndarray:
        s = special.expit(x)
        return s * (1.0 + np.asarray(x, dtype=np.float64) * (1.0 - s))

    def t_d(x: torch.Tensor) -> torch.Tensor:
        s = _torch().sigmoid(x)
        return s * (1.0 + x * (1.0 - s))

    def mp_d(x: mpmath.mpf) -> mpmath.mpf:
        s = 1 / (1 + mpmath.exp(-x))
        return s * (1 + x * (1 - s))

    return Activation(
        name="silu",
        family="silu",
        kaiming_gain=RELU_GAIN,
        variation=var.smooth(
            turning_points=(
                -var.SILU_DERIVATIVE_EXTREMUM,
                var.SILU_DERIVATIVE_ZERO,
                var.SILU_DERIVATIVE_EXTREMUM,
            )
        ),
        numpy_fn=lambda x: np.asarray(x, dtype=np.float64) * special.expit(x),
        numpy_derivative=np_d,
        torch_fn=lambda x: _functional().silu(x),
        torch_derivative=t_d,
        mpmath_fn=lambda x: x / (1 + mpmath.exp(-x)),
        mpmath_derivative=mp_d,
        sympy_fn=lambda z: z / (1 + _sympy().exp(-z)),
    )


def _elu(alpha: float | None) -> Activation:
    al = DEFAULT_ELU_ALPHA if alpha is None else alpha
    if not math.isfinite(al):
        raise ValueError(f"elu alpha must be finite, got {al!r}")
    mp_al = mpmath.mpf(al)

    def t_d(x: torch.Tensor) -> torch.Tensor:
        torch = _torch()
        return torch.where(x > 0, torch.ones_like(x), al * torch.exp(torch.clamp(x, max=0.0)))

    def sym(z: sympy.Expr) -> sympy.Expr:
        sp = _sympy()
        return sp.Piecewise((z, z > 0), (sp.nsimplify(al) * (sp.exp(z) - 1), True))

    return Activation(
        name=f"elu:{al:g}",
        family="elu",
        parameter=al,
        kaiming_gain=RELU_GAIN,
        closed_forms=cf.elu_forms(al),
        variation=var.smooth(),
        numpy_fn=lambda x: np.where(np.asarray(x) > 0, x, al * np.expm1(np.minimum(x, 0.0))),
        numpy_derivative=lambda x: np.where(np.asarray(x) > 0, 1.0, al * np.exp(np.minimum(x, 0.0))),
        torch_fn=lambda x: _functional().elu(x, alpha=al),
        torch_derivative=t_d,
        mpmath_fn=lambda x: x if x > 0 else mp_al * mpmath.expm1(x),
        mpmath_derivative=lambda x: mpmath.mpf(1) if x > 0 else mp_al * mpmath.exp(x),
        sympy_fn=sym,
        kinks=(0.0,),
    )


def _softplus(beta: float | None) -> Activation:
    """softplus_β(x) = log(1 + exp(β·x))/β; torch's linear cut-off above 20 is not used.

    Its complex singularities are at β·x = iπ(2k + 1), so its resolution is 1/β (at β = 100 a rule of width 1
    missed α by 2.6e−8)."""
    be = DEFAULT_SOFTPLUS_BETA if beta is None else beta
    if not math.isfinite(be) or be <= 0:
        raise ValueError(f"softplus beta must be a finite positive number, got {be!r}")
    mp_be = mpmath.mpf(be)

    def t_f(x: torch.Tensor) -> torch.Tensor:
        torch = _torch()
        return torch.logaddexp(torch.zeros_like(x), be * x) / be

    def sym(z: sympy.Expr) -> sympy.Expr:
        sp = _sympy()
        sym_be = sp.nsimplify(be)
        return sp.log(1 + sp.exp(sym_be * z)) / sym_be

    return Activation(
        name="softplus" if be == 1.0 else f"softplus:{be:g}",
        family="softplus",
        parameter=be,
        kaiming_gain=RELU_GAIN,
        closed_forms=cf.softplus_forms(be),
        variation=var.smooth(resolution=1.0 / be),
        numpy_fn=lambda x: np.logaddexp(0.0, be * np.asarray(x, dtype=np.float64)) / be,
        numpy_derivative=lambda x: special.expit(be * np.asarray(x, dtype=np.float64)),
        torch_fn=t_f,
        torch_derivative=lambda x: _torch().sigmoid(be * x),
        mpmath_fn=lambda x: mpmath.log1p(mpmath.exp(mp_be * x)) / mp_be,
        mpmath_derivative=lambda x: 1 / (1 + mpmath.exp(-mp_be * x)),
        sympy_fn=sym,
    )


def _sin(_: float | None) -> Activation:
    return Activation(
        name="sin",
        family="sin",
        kaiming_gain=1.0,
        closed_forms=cf.sin_forms(),
        variation=var.periodic(2.0 * math.pi, turning_points=(0.0, 0.5 * math.pi, math.pi, 1.5 * math.pi)),
        numpy_fn=np.sin,
        numpy_derivative=np.cos,
        torch_fn=lambda x: _torch().sin(x),
        torch_derivative=lambda x: _torch().cos(x),
        mpmath_fn=mpmath.sin,
        mpmath_derivative=mpmath.cos,
        sympy_fn=lambda z: _sympy().sin(z),
    )


def _erf(_: float | None) -> Activation:
    two_over_sqrt_pi = 2.0 / math.sqrt(math.pi)
    return Activation(
        name="erf",
        family="erf",
        kaiming_gain=1.0,
        closed_forms=cf.erf_forms(),
        variation=var.smooth(turning_points=(0.0,)),
        numpy_fn=special.erf,
        numpy_derivative=lambda x: two_over_sqrt_pi * np.exp(-np.square(x)),
        torch_fn=lambda x: _torch().erf(x),
        torch_derivative=lambda x: two_over_sqrt_pi * _torch().exp(-x * x),
        mpmath_fn=mpmath.erf,
        mpmath_derivative=lambda x: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x),
        sympy_fn=lambda z: _sympy().erf(z),
    )


def _abs(_: float | None) -> Activation:
    return Activation(
        name="abs",
        family="abs",
        kaiming_gain=1.0,
        closed_forms=cf.abs_forms(),
        variation=var.PIECEWISE_POLYNOMIAL,
        numpy_fn=np.abs,
        numpy_derivative=np.sign,
        torch_fn=lambda x: _torch().abs(x),
        torch_derivative=lambda x: _torch().sign(x),
        mpmath_fn=abs,
        mpmath_derivative=lambda x: mpmath.mpf(mpmath.sign(x)),
        sympy_fn=lambda z: _sympy().Abs(z),
        kinks=(0.0,),
    )


def _square(_: float | None) -> Activation:
    return Activation(
        name="square",
        family="square",
        kaiming_gain=1.0,
        closed_forms=cf.square_forms(),
        variation=var.Variation(resolution=None, turning_points=(0.0,)),
        numpy_fn=np.square,
        numpy_derivative=lambda x: 2.0 * np.asarray(x, dtype=np.float64),
        torch_fn=lambda x: x * x,
        torch_derivative=lambda x: 2.0 * x,
        mpmath_fn=lambda x: x * x,
        mpmath_derivative=lambda x: 2 * x,
        sympy_fn=lambda z: z**2,
    )


def _linear(_: float | None) -> Activation:
    return Activation(
        name="linear",
        family="linear",
        kaiming_gain=1.0,
        closed_forms=cf.linear_forms(),
        variation=var.PIECEWISE_POLYNOMIAL,
        numpy_fn=lambda x: np.asarray(x, dtype=np.float64),
        numpy_derivative=lambda x: np.ones_like(np.asarray(x, dtype=np.float64)),
        torch_fn=lambda x: x,
        torch_derivative=lambda x: _torch().ones_like(x),
        mpmath_fn=lambda x: x,
        mpmath_derivative=lambda x: mpmath.mpf(1),
        sympy_fn=lambda z: z,
    )


_FAMILIES: dict[str, Callable[[float | None], Activation]] = {
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "gelu": _gelu,
    "silu": _silu,
    "elu": _elu,
    "softplus": _softplus,
    "sin": _sin,
    "erf": _erf,
    "abs": _abs,
    "square": _square,
    "linear": _linear,
}
_PARAMETERIZED = {"leaky_relu": "negative slope", "elu": "alpha", "softplus": "beta"}
_ALIASES = {"identity": "linear", "swish": "silu"}


def registered_names() -> list[str]:
    """The registered family names, in registry order (parameterized ones accept ``name:value``)."""
    return list(_FAMILIES)


def _valid_choices() -> str:
    parts = [f"{n}:<{_PARAMETERIZED[n]}>" if n in _PARAMETERIZED else n for n in _FAMILIES]
    return ", ".join(parts)


def from_callable(
    fn: TorchFn, name: str | None = None, kinks: tuple[float, ...] = (), kaiming_gain: float | None = None
) -> Activation:
    """Wrap a user-supplied elementwise torch function.

    The derivative is taken by autograd. The numpy and mpmath forms evaluate the torch function in
    float64, so quantities computed in high precision from a callable are only accurate to about 1e-15
    relative per evaluation (``exact_mpmath`` is False). Pass ``kinks`` where φ is not smooth, and
    ``kaiming_gain`` where a re-initialization needs one. The family is ``"callable"`` whatever the
    function's name: no closed form is ever assumed for it.
    """
    if not callable(fn):
        raise TypeError(f"activation must be a registered name or a callable, got {type(fn).__name__}")
    label = str(name or getattr(fn, "__name__", "callable"))
    th = _torch()

    def checked(x: torch.Tensor, out: object) -> torch.Tensor:
        if not isinstance(out, th.Tensor) or out.shape != x.shape:
            shape = getattr(out, "shape", type(out).__name__)
            raise ValueError(
                f"activation {label!r} must be an elementwise torch function: a float64 tensor of shape "
                f"{tuple(x.shape)} gave {shape}"
            )
        return out

    def call(x: torch.Tensor) -> torch.Tensor:
        try:
            out = fn(x)
        except Exception as err:  # noqa: BLE001 — whatever the user's function raises becomes one clear ValueError
            raise ValueError(
                f"activation {label!r} failed on a float64 tensor ({type(err).__name__}: {err}); a callable "
                "activation must be an elementwise torch function"
            ) from None
        return checked(x, out)

    def t_d(x: torch.Tensor) -> torch.Tensor:
        with th.enable_grad():
            xr = x.detach().clone().requires_grad_(True)
            out = call(xr)
            if not out.requires_grad:  # a constant function: its derivative is 0
                return th.zeros_like(x)
            (g,) = th.autograd.grad(out.sum(), xr, allow_unused=True)
        return th.zeros_like(x) if g is None else g

    def np_f(x: np.ndarray) -> np.ndarray:
        return call(th.as_tensor(np.asarray(x, dtype=np.float64))).detach().numpy()

    def np_d(x: np.ndarray) -> np.ndarray:
        return t_d(th.as_tensor(np.asarray(x, dtype=np.float64))).numpy()

    def mp_f(x: mpmath.mpf) -> mpmath.mpf:
        return mpmath.mpf(float(call(th.tensor(float(x), dtype=th.float64))))

    def mp_d(x: mpmath.mpf) -> mpmath.mpf:
        return mpmath.mpf(float(t_d(th.tensor(float(x), dtype=th.float64))))

    return Activation(
        name=label,
        numpy_fn=np_f,
        numpy_derivative=np_d,
        torch_fn=fn,
        torch_derivative=t_d,
        mpmath_fn=mp_f,
        mpmath_derivative=mp_d,
        family=CALLABLE_FAMILY,
        kaiming_gain=_checked_gain(kaiming_gain),
        sympy_fn=None,
        kinks=_checked_kinks(kinks),
        exact_mpmath=False,
    )


def _checked_kinks(kinks: object) -> tuple[float, ...]:
    if not isinstance(kinks, Iterable) or isinstance(kinks, str):
        raise TypeError(f"kinks must be a sequence of finite numbers, got {kinks!r}")
    values = tuple(sorted({_real(k, "a kink") for k in kinks}))
    if not all(math.isfinite(k) for k in values):
        raise ValueError(f"kinks must be finite numbers, got {kinks!r}")
    return values


def _checked_gain(gain: float | None) -> float | None:
    if gain is None:
        return None
    value = float(gain)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"kaiming_gain must be a finite positive number, got {gain!r}")
    return value


def get_activation(spec: str | Activation | TorchFn) -> Activation:
    """Look up an activation by name (``"relu"``, ``"leaky_relu:0.2"``), or wrap a callable.

    Raises ValueError naming the valid choices for an unknown name or a malformed parameter.
    """
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str):
        return from_callable(spec)
    text = spec.strip().lower()
    family, sep, param_text = text.partition(":")
    family = _ALIASES.get(family, family)
    if family not in _FAMILIES:
        raise ValueError(f"unknown activation {spec!r}; valid choices: {_valid_choices()}, or a callable")
    param: float | None = None
    if sep and not param_text.strip():
        raise ValueError(
            f"activation {spec!r} has an empty parameter; write {family}:<value>"
            + (
                f" ({family}:<{_PARAMETERIZED[family]}>)"
                if family in _PARAMETERIZED
                else f" or just {family!r}"
            )
        )
    if param_text:
        if family not in _PARAMETERIZED:
            raise ValueError(
                f"activation {family!r} takes no parameter (got {spec!r}); "
                f"parameterized families: {', '.join(f'{k}:<{v}>' for k, v in _PARAMETERIZED.items())}"
            )
        try:
            param = float(param_text)
        except ValueError:
            raise ValueError(
                f"activation parameter in {spec!r} must be a number ({family}:<{_PARAMETERIZED[family]}>)"
            ) from None
    return _FAMILIES[family](param)


def kaiming_gain(spec: str | Activation | TorchFn) -> float:
    """The Kaiming gain g of an activation (see ``RELU_GAIN``); ValueError for a callable without one."""
    act = get_activation(spec)
    if act.kaiming_gain is None:
        raise ValueError(
            f"activation {act.name!r} has no Kaiming gain; pass kaiming_gain= to from_callable, or use a "
            f"registered activation ({_valid_choices()})"
        )
    return act.kaiming_gain


def modulated(spec: str | Activation | TorchFn, scale: float = 1.0, shift: float = 0.0) -> Activation:
    """ψ(z) = φ(scale·z + shift) for a registered name or callable (Appendix A.2)."""
    return get_activation(spec).modulated(scale, shift)

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import mpmath
import numpy as np
import sympy
import torch
import torch.nn.functional as F
from scipy import special

NumpyFn = Callable[[np.ndarray], np.ndarray]
TorchFn = Callable[[torch.Tensor], torch.Tensor]
MpFn = Callable[[mpmath.mpf], mpmath.mpf]
SympyFn = Callable[[sympy.Expr], sympy.Expr]

DEFAULT_LEAKY_SLOPE = 0.01
DEFAULT_ELU_ALPHA = 1.0
DEFAULT_SOFTPLUS_BETA = 1.0


@dataclass(frozen=True)
class Activation:
    """An elementwise function φ with its derivative φ' in numpy, torch, mpmath and (optionally) sympy."""

    name: str
    numpy: NumpyFn
    numpy_derivative: NumpyFn
    torch: TorchFn
    torch_derivative: TorchFn
    mpmath: MpFn
    mpmath_derivative: MpFn
    sympy: SympyFn | None = None
    kinks: tuple[float, ...] = ()
    exact_mpmath: bool = True
    scale: float = 1.0
    shift: float = 0.0
    base: "Activation | None" = field(default=None, compare=False, repr=False)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.torch(x)

    @property
    def is_modulated(self) -> bool:
        return self.scale != 1.0 or self.shift != 0.0

    def modulated(self, scale: float = 1.0, shift: float = 0.0) -> "Activation":
        """ψ(z) = φ(a·z + b) with ψ'(z) = a·φ'(a·z + b) (Appendix A.2).

        Kinks move to (k − b)/a. Modulating a modulated activation composes the affine maps.
        """
        a, b = _check_scale_shift(scale, shift)
        if a == 1.0 and b == 0.0:
            return self
        # φ(s·(a·z + b) + t) = φ((s·a)·z + (s·b + t)): modulating twice composes the affine maps.
        a_total, b_total = self.scale * a, self.scale * b + self.shift
        return _modulate(self.unmodulated(), a_total, b_total)

    def unmodulated(self) -> "Activation":
        """φ itself when this is ψ(z) = φ(a·z + b)."""
        return self.base if self.base is not None else self


def _check_scale_shift(scale: float, shift: float) -> tuple[float, float]:
    a, b = float(scale), float(shift)
    if not math.isfinite(a) or a == 0.0:
        raise ValueError(f"scale must be a finite non-zero number, got {scale!r}")
    if not math.isfinite(b):
        raise ValueError(f"shift must be a finite number, got {shift!r}")
    return a, b


def _sympy_affine(base_sym: SympyFn, a: float, b: float) -> SympyFn:
    sym_a, sym_b = sympy.nsimplify(a), sympy.nsimplify(b)
    return lambda z: base_sym(sym_a * z + sym_b)


def _modulate(base: Activation, a: float, b: float) -> Activation:
    mp_a, mp_b = mpmath.mpf(a), mpmath.mpf(b)
    sym = None if base.sympy is None else _sympy_affine(base.sympy, a, b)
    return Activation(
        name=f"{base.name}(a={a:g},b={b:g})",
        numpy=lambda x: base.numpy(a * np.asarray(x, dtype=np.float64) + b),
        numpy_derivative=lambda x: a * base.numpy_derivative(a * np.asarray(x, dtype=np.float64) + b),
        torch=lambda x: base.torch(a * x + b),
        torch_derivative=lambda x: a * base.torch_derivative(a * x + b),
        mpmath=lambda x: base.mpmath(mp_a * x + mp_b),
        mpmath_derivative=lambda x: mp_a * base.mpmath_derivative(mp_a * x + mp_b),
        sympy=sym,
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
        numpy=lambda x: np.maximum(np.asarray(x, dtype=np.float64), 0.0),
        numpy_derivative=lambda x: (np.asarray(x, dtype=np.float64) > 0).astype(np.float64),
        torch=torch.relu,
        torch_derivative=lambda x: (x > 0).to(x.dtype),
        mpmath=lambda x: x if x > 0 else mpmath.mpf(0),
        mpmath_derivative=lambda x: mpmath.mpf(1) if x > 0 else mpmath.mpf(0),
        sympy=lambda z: sympy.Piecewise((z, z > 0), (0, True)),
        kinks=(0.0,),
    )


def _leaky_relu(slope: float | None) -> Activation:
    s = DEFAULT_LEAKY_SLOPE if slope is None else slope
    if not math.isfinite(s):
        raise ValueError(f"leaky_relu slope must be finite, got {s!r}")
    mp_s, sym_s = mpmath.mpf(s), sympy.nsimplify(s)
    return Activation(
        name=f"leaky_relu:{s:g}",
        numpy=lambda x: np.where(np.asarray(x) > 0, x, s * np.asarray(x, dtype=np.float64)),
        numpy_derivative=lambda x: np.where(np.asarray(x) > 0, 1.0, s),
        torch=lambda x: F.leaky_relu(x, negative_slope=s),
        torch_derivative=lambda x: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, s)),
        mpmath=lambda x: x if x > 0 else mp_s * x,
        mpmath_derivative=lambda x: mpmath.mpf(1) if x > 0 else mp_s,
        sympy=lambda z: sympy.Piecewise((z, z > 0), (sym_s * z, True)),
        kinks=(0.0,),
    )


def _tanh(_: float | None) -> Activation:
    return Activation(
        name="tanh",
        numpy=np.tanh,
        numpy_derivative=lambda x: 1.0 - np.tanh(x) ** 2,
        torch=torch.tanh,
        torch_derivative=lambda x: 1.0 - torch.tanh(x) ** 2,
        mpmath=mpmath.tanh,
        mpmath_derivative=lambda x: mpmath.sech(x) ** 2,
        sympy=sympy.tanh,
    )


def _sigmoid(_: float | None) -> Activation:
    return Activation(
        name="sigmoid",
        numpy=special.expit,
        numpy_derivative=lambda x: special.expit(x) * special.expit(-np.asarray(x, dtype=np.float64)),
        torch=torch.sigmoid,
        torch_derivative=lambda x: torch.sigmoid(x) * torch.sigmoid(-x),
        mpmath=lambda x: 1 / (1 + mpmath.exp(-x)),
        mpmath_derivative=lambda x: 1 / ((1 + mpmath.exp(-x)) * (1 + mpmath.exp(x))),
        sympy=lambda z: 1 / (1 + sympy.exp(-z)),
    )


_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu(_: float | None) -> Activation:
    """Exact GELU, x·Φ(x) with Φ the standard normal CDF (not the tanh approximation)."""
    return Activation(
        name="gelu",
        numpy=lambda x: np.asarray(x, dtype=np.float64) * special.ndtr(x),
        numpy_derivative=lambda x: special.ndtr(x)
        + np.asarray(x, dtype=np.float64) * _INV_SQRT2PI * np.exp(-0.5 * np.square(x)),
        torch=lambda x: F.gelu(x, approximate="none"),
        torch_derivative=lambda x: 0.5 * (1.0 + torch.erf(x * _INV_SQRT2))
        + x * _INV_SQRT2PI * torch.exp(-0.5 * x * x),
        mpmath=lambda x: x * mpmath.ncdf(x),
        mpmath_derivative=lambda x: mpmath.ncdf(x) + x * mpmath.npdf(x),
        sympy=lambda z: z * (1 + sympy.erf(z / sympy.sqrt(2))) / 2,
    )


def _silu(_: float | None) -> Activation:
    def np_d(x: np.ndarray) -> np.ndarray:
        s = special.expit(x)
        return s * (1.0 + np.asarray(x, dtype=np.float64) * (1.0 - s))

    def t_d(x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(x)
        return s * (1.0 + x * (1.0 - s))

    def mp_d(x: mpmath.mpf) -> mpmath.mpf:
        s = 1 / (1 + mpmath.exp(-x))
        return s * (1 + x * (1 - s))

    return Activation(
        name="silu",
        numpy=lambda x: np.asarray(x, dtype=np.float64) * special.expit(x),
        numpy_derivative=np_d,
        torch=F.silu,
        torch_derivative=t_d,
        mpmath=lambda x: x / (1 + mpmath.exp(-x)),
        mpmath_derivative=mp_d,
        sympy=lambda z: z / (1 + sympy.exp(-z)),
    )


def _elu(alpha: float | None) -> Activation:
    al = DEFAULT_ELU_ALPHA if alpha is None else alpha
    if not math.isfinite(al):
        raise ValueError(f"elu alpha must be finite, got {al!r}")
    mp_al, sym_al = mpmath.mpf(al), sympy.nsimplify(al)
    return Activation(
        name=f"elu:{al:g}",
        numpy=lambda x: np.where(np.asarray(x) > 0, x, al * np.expm1(np.minimum(x, 0.0))),
        numpy_derivative=lambda x: np.where(np.asarray(x) > 0, 1.0, al * np.exp(np.minimum(x, 0.0))),
        torch=lambda x: F.elu(x, alpha=al),
        torch_derivative=lambda x: torch.where(x > 0, torch.ones_like(x), al * torch.exp(torch.clamp(x, max=0.0))),
        mpmath=lambda x: x if x > 0 else mp_al * mpmath.expm1(x),
        mpmath_derivative=lambda x: mpmath.mpf(1) if x > 0 else mp_al * mpmath.exp(x),
        sympy=lambda z: sympy.Piecewise((z, z > 0), (sym_al * (sympy.exp(z) - 1), True)),
        kinks=(0.0,),
    )


def _softplus(beta: float | None) -> Activation:
    """softplus_β(x) = log(1 + exp(β·x))/β; torch's linear cut-off above 20 is not used."""
    be = DEFAULT_SOFTPLUS_BETA if beta is None else beta
    if not math.isfinite(be) or be <= 0:
        raise ValueError(f"softplus beta must be a finite positive number, got {be!r}")
    mp_be, sym_be = mpmath.mpf(be), sympy.nsimplify(be)
    return Activation(
        name="softplus" if be == 1.0 else f"softplus:{be:g}",
        numpy=lambda x: np.logaddexp(0.0, be * np.asarray(x, dtype=np.float64)) / be,
        numpy_derivative=lambda x: special.expit(be * np.asarray(x, dtype=np.float64)),
        torch=lambda x: torch.logaddexp(torch.zeros_like(x), be * x) / be,
        torch_derivative=lambda x: torch.sigmoid(be * x),
        mpmath=lambda x: mpmath.log1p(mpmath.exp(mp_be * x)) / mp_be,
        mpmath_derivative=lambda x: 1 / (1 + mpmath.exp(-mp_be * x)),
        sympy=lambda z: sympy.log(1 + sympy.exp(sym_be * z)) / sym_be,
    )


def _sin(_: float | None) -> Activation:
    return Activation(
        name="sin",
        numpy=np.sin,
        numpy_derivative=np.cos,
        torch=torch.sin,
        torch_derivative=torch.cos,
        mpmath=mpmath.sin,
        mpmath_derivative=mpmath.cos,
        sympy=sympy.sin,
    )


def _erf(_: float | None) -> Activation:
    two_over_sqrt_pi = 2.0 / math.sqrt(math.pi)
    return Activation(
        name="erf",
        numpy=special.erf,
        numpy_derivative=lambda x: two_over_sqrt_pi * np.exp(-np.square(x)),
        torch=torch.erf,
        torch_derivative=lambda x: two_over_sqrt_pi * torch.exp(-x * x),
        mpmath=mpmath.erf,
        mpmath_derivative=lambda x: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x),
        sympy=sympy.erf,
    )


def _abs(_: float | None) -> Activation:
    return Activation(
        name="abs",
        numpy=np.abs,
        numpy_derivative=np.sign,
        torch=torch.abs,
        torch_derivative=torch.sign,
        mpmath=abs,
        mpmath_derivative=lambda x: mpmath.mpf(mpmath.sign(x)),
        sympy=sympy.Abs,
        kinks=(0.0,),
    )


def _square(_: float | None) -> Activation:
    return Activation(
        name="square",
        numpy=np.square,
        numpy_derivative=lambda x: 2.0 * np.asarray(x, dtype=np.float64),
        torch=lambda x: x * x,
        torch_derivative=lambda x: 2.0 * x,
        mpmath=lambda x: x * x,
        mpmath_derivative=lambda x: 2 * x,
        sympy=lambda z: z**2,
    )


def _linear(_: float | None) -> Activation:
    return Activation(
        name="linear",
        numpy=lambda x: np.asarray(x, dtype=np.float64),
        numpy_derivative=lambda x: np.ones_like(np.asarray(x, dtype=np.float64)),
        torch=lambda x: x,
        torch_derivative=torch.ones_like,
        mpmath=lambda x: x,
        mpmath_derivative=lambda x: mpmath.mpf(1),
        sympy=lambda z: z,
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


def from_callable(fn: TorchFn, name: str | None = None, kinks: tuple[float, ...] = ()) -> Activation:
    """Wrap a user-supplied elementwise torch function.

    The derivative is taken by autograd. The numpy and mpmath forms evaluate the torch function in
    float64, so quantities computed in high precision from a callable are only accurate to about 1e-15
    relative per evaluation (``exact_mpmath`` is False). Pass ``kinks`` where φ is not smooth.
    """
    if not callable(fn):
        raise TypeError(f"activation must be a registered name or a callable, got {type(fn).__name__}")
    label = name or getattr(fn, "__name__", "callable")

    def t_d(x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            xr = x.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(fn(xr).sum(), xr)
        return g

    def np_f(x: np.ndarray) -> np.ndarray:
        return fn(torch.as_tensor(np.asarray(x, dtype=np.float64))).detach().numpy()

    def np_d(x: np.ndarray) -> np.ndarray:
        return t_d(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()

    def mp_f(x: mpmath.mpf) -> mpmath.mpf:
        return mpmath.mpf(float(fn(torch.tensor(float(x), dtype=torch.float64))))

    def mp_d(x: mpmath.mpf) -> mpmath.mpf:
        return mpmath.mpf(float(t_d(torch.tensor(float(x), dtype=torch.float64))))

    return Activation(
        name=label,
        numpy=np_f,
        numpy_derivative=np_d,
        torch=fn,
        torch_derivative=t_d,
        mpmath=mp_f,
        mpmath_derivative=mp_d,
        sympy=None,
        kinks=tuple(float(k) for k in kinks),
        exact_mpmath=False,
    )


def get_activation(spec: "str | Activation | TorchFn") -> Activation:
    """Look up an activation by name (``"relu"``, ``"leaky_relu:0.2"``), or wrap a callable.

    Raises ValueError naming the valid choices for an unknown name or a malformed parameter.
    """
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str):
        return from_callable(spec)
    text = spec.strip().lower()
    family, _, param_text = text.partition(":")
    family = _ALIASES.get(family, family)
    if family not in _FAMILIES:
        raise ValueError(f"unknown activation {spec!r}; valid choices: {_valid_choices()}, or a callable")
    param: float | None = None
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


def modulated(spec: "str | Activation | TorchFn", scale: float = 1.0, shift: float = 0.0) -> Activation:
    """ψ(z) = φ(scale·z + shift) for a registered name or callable (Appendix A.2)."""
    return get_activation(spec).modulated(scale, shift)

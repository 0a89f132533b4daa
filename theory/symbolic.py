"""Symbolic (sympy) proofs for Lemma A.1 and exact Hermite coefficients (Appendix A.1).

Lemma A.1 reduces, through the extremal kernel Q(x) = αx + (1 − α)x² (x = |r|), to a polynomial inequality
on the box α ∈ [0, 1], x ∈ [0, 1]:

* with the paper's γ = (1 − α)/(1 + α): x² − Q² − γ·x²(1 − x²) = α(1 − α)·x²(1 − x)·(2 + α(1 − x))/(1 + α);
* with the improved constant 1 − α:  x² − Q² − (1 − α)·x²(1 − x²) = α(1 − α)·x²(1 − x)²;
* optimality: (x² − Q²)/(x²(1 − x²)) = (1 − α)·(1 + α(1 − x)/(1 + x)) → 1 − α as x → 1, and Q is itself
  a kernel of the class (w₁ = α, w₂ = 1 − α), so no constant larger than 1 − α is valid for the class.

:func:`prove_nonnegative_on_box` certifies a factored expression: every factor must be a (power of a)
polynomial of degree ≤ 1 in each variable — whose minimum over a box is attained at a corner — that is
≥ 0 at all four corners, or a positive constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import sympy

from theory.activations import Activation, get_activation

ALPHA, X = sympy.symbols("alpha x", real=True)
BOX = {ALPHA: (0, 1), X: (0, 1)}


def extremal_kernel(alpha: sympy.Expr = ALPHA, x: sympy.Expr = X) -> sympy.Expr:
    """Q(x) = αx + (1 − α)x², the kernel of largest magnitude with slope α (proof of Lemma A.1)."""
    return alpha * x + (1 - alpha) * x**2


def paper_gamma(alpha: sympy.Expr = ALPHA) -> sympy.Expr:
    """γ = (1 − α)/(1 + α) (Lemma A.1)."""
    return (1 - alpha) / (1 + alpha)


def gap_difference(constant: sympy.Expr) -> sympy.Expr:
    """x² − Q(x)² − c·x²(1 − x²): Lemma A.1's inequality for the extremal kernel, as lhs − rhs."""
    return X**2 - extremal_kernel() ** 2 - constant * X**2 * (1 - X**2)


@dataclass
class Certificate:
    """A factorization and the per-factor reason each factor is ≥ 0 on the box."""

    expression: sympy.Expr
    factored: sympy.Expr
    reasons: list[str] = field(default_factory=list)
    proved: bool = False


def _factor_list(expr: sympy.Expr) -> tuple[sympy.Expr, list[tuple[sympy.Expr, int]]]:
    num, den = sympy.fraction(sympy.factor(sympy.together(expr)))
    c_num, f_num = sympy.factor_list(num)
    c_den, f_den = sympy.factor_list(den)
    return sympy.Rational(c_num, 1) / c_den, [(f, e) for f, e in f_num] + [(f, -e) for f, e in f_den]


def _corner_values(f: sympy.Expr) -> list[sympy.Expr]:
    (a0, a1), (x0, x1) = BOX[ALPHA], BOX[X]
    return [f.subs({ALPHA: a, X: x}) for a in (a0, a1) for x in (x0, x1)]


def prove_nonnegative_on_box(expr: sympy.Expr) -> Certificate:
    """Certify expr ≥ 0 for α, x ∈ [0, 1] from its factorization (see the module docstring).

    A factor of degree ≤ 1 in each variable that is ≤ 0 at every corner is negated (and the sign moved
    into the constant), so e.g. (α − 1)(x − 1) is read as (1 − α)(1 − x).
    """
    constant, factors = _factor_list(expr)
    cert = Certificate(expression=expr, factored=sympy.factor(expr))
    ok = True
    for f, e in factors:
        poly = sympy.Poly(f, ALPHA, X)
        multiaffine = all(d <= 1 for d in poly.degree_list())
        corners = _corner_values(f)
        if multiaffine and e % 2 != 0 and all(v <= 0 for v in corners) and any(v < 0 for v in corners):
            f, corners, constant = -f, [-v for v in corners], -constant
        if e % 2 == 0:
            reason, good = f"({f})^{e}: even power", True
        elif multiaffine and all(v >= 0 for v in corners) and (e > 0 or all(v > 0 for v in corners)):
            reason, good = f"({f})^{e}: degree ≤ 1 in each variable, corner values {corners} ≥ 0", True
        else:
            reason, good = f"({f})^{e}: NOT certified (corners {corners})", False
        cert.reasons.append(reason)
        ok = ok and good
    cert.reasons.insert(0, f"constant {constant} {'> 0' if constant > 0 else '≤ 0'}")
    cert.proved = ok and bool(constant > 0)
    return cert


def lemma_a1_certificate() -> Certificate:
    """x² − Q² − γx²(1 − x²) ≥ 0 on the box, γ = (1 − α)/(1 + α) (Lemma A.1)."""
    return prove_nonnegative_on_box(gap_difference(paper_gamma()))


def improved_constant_certificate() -> Certificate:
    """x² − Q² − (1 − α)x²(1 − x²) ≥ 0 on the box: Lemma A.1 with the larger constant 1 − α."""
    return prove_nonnegative_on_box(gap_difference(1 - ALPHA))


def extremal_gap_ratio() -> sympy.Expr:
    """(x² − Q²)/(x²(1 − x²)) simplified: (1 − α)(1 + α(1 − x)/(1 + x))."""
    return sympy.factor(sympy.cancel((X**2 - extremal_kernel() ** 2) / (X**2 * (1 - X**2))))


def optimal_constant_limit() -> sympy.Expr:
    """lim_{x→1⁻} (x² − Q²)/(x²(1 − x²)) = 1 − α: no constant above 1 − α holds for the kernel Q."""
    return sympy.simplify(sympy.limit(extremal_gap_ratio(), X, 1, dir="-"))


def gamma_below_improved_constant() -> sympy.Expr:
    """(1 − α) − γ = α(1 − α)/(1 + α) ≥ 0, > 0 for α ∈ (0, 1): the paper's γ is not the best constant."""
    return sympy.factor(sympy.simplify((1 - ALPHA) - paper_gamma()))


# ---------------------------------------------------------------------------------------------------
# Exact Hermite coefficients.

# families whose coefficients sympy integrates in well under a second (softplus, tanh, sigmoid, silu: none)
SYMBOLIC_FAMILIES = ("relu", "leaky_relu", "abs", "elu", "square", "linear", "sin", "erf", "gelu")
_Z = sympy.Symbol("z", real=True)
_ZP = sympy.Symbol("zp", positive=True)
_ZN = sympy.Symbol("zn", negative=True)


def _density(z: sympy.Expr) -> sympy.Expr:
    return sympy.exp(-(z**2) / 2) / sympy.sqrt(2 * sympy.pi)


@cache
def _symbolic_coefficient(name: str, k: int) -> sympy.Expr:
    act = get_activation(name)
    assert act.sympy_fn is not None
    norm = sympy.sqrt(sympy.factorial(k))
    if act.kinks:
        if act.kinks != (0.0,):
            raise ValueError(f"symbolic Hermite coefficients need kinks only at 0, {name} has {act.kinks}")
        # on each half-line the Piecewise collapses to one branch (the symbol carries the sign)
        right = sympy.integrate(
            act.sympy_fn(_ZP) * sympy.hermite_prob(k, _ZP) * _density(_ZP), (_ZP, 0, sympy.oo)
        )
        left = sympy.integrate(
            act.sympy_fn(_ZN) * sympy.hermite_prob(k, _ZN) * _density(_ZN), (_ZN, -sympy.oo, 0)
        )
        value = right + left
    else:
        # E[φ(Z) He_k(Z)] = E[φ^{(k)}(Z)] (Gaussian integration by parts, k times)
        value = sympy.integrate(sympy.diff(act.sympy_fn(_Z), _Z, k) * _density(_Z), (_Z, -sympy.oo, sympy.oo))
    return sympy.simplify(value / norm)


def hermite_coefficient_symbolic(act: Activation | str, k: int) -> sympy.Expr:
    """Exact a_k = E[φ(Z) He_k(Z)]/√(k!) for an unmodulated registered activation with a sympy form.

    Kinked activations are integrated branch by branch; smooth ones through E[φ^{(k)}(Z)]. Raises
    ValueError for callables, modulated activations or activations without a sympy form.
    """
    act = get_activation(act)
    if (
        act.sympy_fn is None
        or not act.exact_mpmath
        or act.is_modulated
        or act.family not in SYMBOLIC_FAMILIES
    ):
        raise ValueError(
            f"symbolic Hermite coefficients need an unmodulated activation of "
            f"{', '.join(SYMBOLIC_FAMILIES)}; "
            f"got {act.name}"
        )
    if int(k) != k or k < 0:
        raise ValueError(f"Hermite index must be a non-negative integer, got {k!r}")
    return _symbolic_coefficient(act.name, int(k))

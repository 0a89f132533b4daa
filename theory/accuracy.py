"""Measured agreement between the independent methods of :mod:`theory` (the accuracy table of docs/theory.md).

For one activation: the largest relative disagreement between
* α: Hermite a_1²/Var (float64) vs Stein (E ψ')²/Var (mpmath, 30 digits), and vs the closed form if any;
* γ: the same two routes through γ = (1 − α)/(1 + α);
* K(r), |r| ≤ 0.9: Mehler series vs direct 2-D integral, and vs the closed form if any;
* the frozen probability: root-finding vs the closed-form set (or vs the mpmath method where none exists).
Relative errors use max(|reference|, ``ABS_FLOOR``) as denominator, so exact zeros (α of even φ) are absolute.
"""

from __future__ import annotations

import numpy as np

from theory.activations import Activation, get_activation
from theory.frozen import DEFAULT_EPSILON, frozen_probability, frozen_probability_closed_form
from theory.kernels import alpha, gamma_from_alpha, kernel_direct, kernel_series

ABS_FLOOR = 1e-14
ACCURACY_GRID = np.concatenate([-np.geomspace(0.9, 1e-3, 24), np.geomspace(1e-3, 0.9, 24)])


def _rel(x: np.ndarray | float, ref: np.ndarray | float) -> float:
    x, ref = np.asarray(x, dtype=float), np.asarray(ref, dtype=float)
    return float(np.max(np.abs(x - ref) / np.maximum(np.abs(ref), ABS_FLOOR)))


def method_disagreements(
    act: Activation | str, eps: float = DEFAULT_EPSILON
) -> dict[str, float | str | None]:
    """α, γ and the maximal relative disagreements between the methods (see the module docstring)."""
    act = get_activation(act)
    a_h, a_s = alpha(act), alpha(act, "stein")
    a_c = act.closed_form_alpha()
    series, _ = kernel_series(act, ACCURACY_GRID)
    direct = kernel_direct(act, ACCURACY_GRID)
    closed = act.closed_form_kernel(ACCURACY_GRID)
    p_roots = frozen_probability(act, eps)
    p_closed = frozen_probability_closed_form(act, eps)
    p_ref, p_ref_name = (
        (p_closed, "closed") if p_closed is not None else (frozen_probability(act, eps, "mp"), "mp")
    )
    return {
        "activation": act.name,
        "alpha": a_h,
        "gamma": gamma_from_alpha(a_h),
        "alpha_hermite_vs_stein": _rel(a_h, a_s),
        "alpha_vs_closed": None if a_c is None else _rel(a_h, a_c),
        "gamma_hermite_vs_stein": _rel(gamma_from_alpha(a_h), gamma_from_alpha(a_s)),
        "kernel_series_vs_direct": _rel(series, direct),
        "kernel_vs_closed": None if closed is None else _rel(series, closed),
        "frozen_probability": p_roots,
        "frozen_roots_vs_reference": _rel(p_roots, p_ref) if p_ref > 0 else abs(p_roots - p_ref),
        "frozen_reference": p_ref_name,
    }

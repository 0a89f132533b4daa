"""The rank-gain ratio of a nonlinear layer and the lower bounds of Theorem 3.1 / Appendix A.1.

For a correlation matrix C and activation φ, K_φ(C) is the entrywise kernel (unit diagonal). With
Δ(C) = ‖C‖_F² − ‖K_φ(C)‖_F² = Σ_{i≠j}(C_ij² − K(C_ij)²):

* rank-gain ratio R(C) = er₂(K_φ(C))/er₂(C) = ‖C‖_F²/‖K_φ(C)‖_F² (proof of Theorem 3.1, step 1);
* intermediate bound R ≥ 1/(1 − γΨ/‖C‖_F²) (step 4, before (1 − u)⁻¹ ≥ 1 + u);
* Theorem 3.1's bound R ≥ 1 + γΨ(C)/‖C‖_F²;
* the improved constant: Lemma A.1 holds with 1 − α in place of γ = (1 − α)/(1 + α) (1 − α is optimal
  for the class of kernels with slope α; :mod:`theory.symbolic`), giving R ≥ 1/(1 − (1−α)Ψ/‖C‖_F²).

Lemma A.1's gap G(r) = r² − K(r)² and its bound γ·r²(1 − r²) are :func:`decorrelation_gap` and
:func:`gap_lower_bound`.
"""

from __future__ import annotations

import math

import numpy as np

from theory.activations import Activation, get_activation
from theory.kernels import alpha, check_correlations, gamma_from_alpha, kernel
from theory.ranks import decorrelation_potential, renyi2_rank, validate_correlation


def apply_kernel(act: Activation | str, C: np.ndarray) -> np.ndarray:
    """K_φ(C): the kernel applied entrywise to a correlation matrix (diagonal K(1) = 1)."""
    corr = validate_correlation(C)
    out = kernel(get_activation(act), corr)
    np.fill_diagonal(out, 1.0)
    return 0.5 * (out + out.T)


def rank_gain_ratio(act: Activation | str, C: np.ndarray) -> float:
    """R(C) = er₂(K_φ(C))/er₂(C) (Theorem 3.1)."""
    corr = validate_correlation(C)
    return renyi2_rank(apply_kernel(act, corr)) / renyi2_rank(corr)


def _u(constant: float, C: np.ndarray) -> float:
    corr = validate_correlation(C)
    return constant * decorrelation_potential(corr) / float(np.sum(corr * corr))


def theorem_bound(act: Activation | str, C: np.ndarray) -> float:
    """1 + γ_φ·Ψ(C)/‖C‖_F² (Theorem 3.1)."""
    return 1.0 + _u(gamma_from_alpha(alpha(act)), C)


def intermediate_bound(act: Activation | str, C: np.ndarray) -> float:
    """1/(1 − γ_φ·Ψ(C)/‖C‖_F²) (proof of Theorem 3.1, step 4), tighter than :func:`theorem_bound`."""
    return 1.0 / (1.0 - _u(gamma_from_alpha(alpha(act)), C))


def improved_bound(act: Activation | str, C: np.ndarray) -> float:
    """1/(1 − (1 − α)·Ψ(C)/‖C‖_F²): step 4 with the optimal Lemma A.1 constant 1 − α ≥ γ."""
    return 1.0 / (1.0 - _u(1.0 - alpha(act), C))


def decorrelation_gap(act: Activation | str, r: np.ndarray | float) -> np.ndarray:
    """G(r) = r² − K_φ(r)² (Lemma A.1)."""
    rr = check_correlations(r)
    return rr * rr - kernel(get_activation(act), rr) ** 2


def gap_lower_bound(
    act: Activation | str, r: np.ndarray | float, constant: float | None = None
) -> np.ndarray:
    """c·r²(1 − r²) with c = γ_φ (Lemma A.1, Eq. (2)) unless ``constant`` is given (e.g. 1 − α)."""
    rr = check_correlations(r)
    c = gamma_from_alpha(alpha(act)) if constant is None else _finite_constant(constant)
    return c * rr * rr * (1.0 - rr * rr)


def _finite_constant(constant: object) -> float:
    try:
        value = float(constant)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(constant, bool) or not math.isfinite(value):
        raise ValueError(f"constant must be a finite number (e.g. γ or 1 − α), got {constant!r}")
    return value


def gap_constant_profile(act: Activation | str, r: np.ndarray | float) -> np.ndarray:
    """(r² − K(r)²)/(r²(1 − r²)) for r ∉ {0, ±1}: its infimum is the best Lemma A.1 constant for φ."""
    rr = check_correlations(r)
    if np.any((rr == 0.0) | (np.abs(rr) == 1.0)):
        raise ValueError(
            "the gap ratio is undefined at r ∈ {0, ±1}; use the limits 1 − α² (r→0), K'(1) − 1 (r→1)"
        )
    return decorrelation_gap(act, rr) / (rr * rr * (1.0 - rr * rr))

"""Kernel theory of a nonlinear layer (Section 3, Appendix A.1–A.2 of the paper).

Hermite coefficients and the Mehler correlation kernel K_φ, its slope α = K'_φ(0), the decorrelation
strength γ = (1 − α)/(1 + α), frozen probabilities P(|ψ'(Z)| < ε) of modulated activations
ψ(z) = φ(a·z + b), rank surrogates and the rank-gain bounds of Theorem 3.1, and sympy proofs of Lemma A.1.
Every quantity is computed by two independent methods (see docs/theory.md). ``python -m theory`` is the CLI.
"""

from theory.activations import Activation, get_activation, modulated, registered_names
from theory.bounds import (
    apply_kernel,
    decorrelation_gap,
    gap_lower_bound,
    improved_bound,
    intermediate_bound,
    rank_gain_ratio,
    theorem_bound,
)
from theory.frozen import frozen_intervals, frozen_probability
from theory.hermite import hermite_coefficients, hermite_expansion
from theory.kernels import alpha, gamma, kernel, kernel_direct, kernel_series
from theory.ranks import decorrelation_potential, renyi2_rank, shannon_rank, stable_rank, validate_correlation

__all__ = [
    "Activation",
    "alpha",
    "apply_kernel",
    "decorrelation_gap",
    "decorrelation_potential",
    "frozen_intervals",
    "frozen_probability",
    "gamma",
    "gap_lower_bound",
    "get_activation",
    "hermite_coefficients",
    "hermite_expansion",
    "improved_bound",
    "intermediate_bound",
    "kernel",
    "kernel_direct",
    "kernel_series",
    "modulated",
    "rank_gain_ratio",
    "registered_names",
    "renyi2_rank",
    "shannon_rank",
    "stable_rank",
    "theorem_bound",
    "validate_correlation",
]

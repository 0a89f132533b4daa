"""Checks of Section 3: Theorem 3.1 (rank gain and decorrelation potential), its equality conditions and
the sentences around it, each tested as stated (with a counterexample where it is false) and corrected.
"""

from __future__ import annotations

import itertools

import numpy as np

from proofs_check.registry import Context, Outcome, claim
from theory.activations import get_activation, registered_names
from theory.bounds import improved_bound, intermediate_bound, rank_gain_ratio, theorem_bound
from theory.kernels import gamma, is_linear, kernel
from theory.ranks import CORRELATION_KINDS, decorrelation_potential, renyi2_rank, sample_correlation

ROUNDING = 1e-12  # float64 slack for ratio − bound and for "ratio = 1"
MODULATED = (("relu", 1.0, -1.0), ("tanh", 3.0, 0.5), ("sin", 2.0, 0.3))
MAX_DIMENSION = 8


def _activations() -> list:
    return [get_activation(n) for n in registered_names()] + [get_activation(n).modulated(a, b) for n, a, b in MODULATED]


def _samples(ctx: Context) -> list[np.ndarray]:
    rng = np.random.default_rng(ctx.seed)
    per_kind = 40 if ctx.thorough else 4
    out = []
    for kind in CORRELATION_KINDS:
        for _ in range(per_kind):
            out.append(sample_correlation(rng, int(rng.integers(2, MAX_DIMENSION + 1)), kind))
    return out


def _zero_one_matrices(d: int) -> list[np.ndarray]:
    """Every d×d correlation matrix with off-diagonal entries in {0, ±1} (those that are PSD)."""
    pairs = list(itertools.combinations(range(d), 2))
    out = []
    for values in itertools.product((-1.0, 0.0, 1.0), repeat=len(pairs)):
        C = np.eye(d)
        for (i, j), v in zip(pairs, values):
            C[i, j] = C[j, i] = v
        if np.linalg.eigvalsh(C)[0] >= -1e-12:
            out.append(C)
    return out


@claim("theorem-3.1/rank-gain", "er₂(K(C))/er₂(C) ≥ 1 + γΨ(C)/‖C‖_F² for every correlation matrix C",
       method="property")
def _rank_gain(ctx: Context) -> Outcome:
    worst, where = np.inf, ""
    worst_mid, worst_impr, efficiency = np.inf, np.inf, np.inf
    for C in _samples(ctx):
        for act in _activations():
            ratio = rank_gain_ratio(act, C)
            bound = theorem_bound(act, C)
            slack = ratio - bound
            if bound - 1.0 > ROUNDING:
                efficiency = min(efficiency, (ratio - 1.0) / (bound - 1.0))
            worst_mid = min(worst_mid, ratio - intermediate_bound(act, C))
            worst_impr = min(worst_impr, ratio - improved_bound(act, C))
            if slack < worst:
                worst, where = slack, f"{act.name}, d = {len(C)}, Ψ = {decorrelation_potential(C):.4g}, C =\n{np.round(C, 4)}"
    ok = worst >= -ROUNDING and worst_mid >= -ROUNDING and worst_impr >= -ROUNDING
    detail = (
        f"min(ratio − 1 − γΨ/‖C‖²) = {worst:.3g} over {len(_samples(ctx))} matrices × {len(_activations())} "
        f"activations (kinds: {', '.join(CORRELATION_KINDS)}); tighter bounds also hold: "
        f"min(ratio − 1/(1 − γΨ/‖C‖²)) = {worst_mid:.3g}, min(ratio − 1/(1 − (1−α)Ψ/‖C‖²)) = {worst_impr:.3g}; "
        f"where γΨ > 0 the actual gain is at least {efficiency:.4g}× the guaranteed one, min (ratio−1)/(γΨ/‖C‖²). "
        f"Tightest at {where}"
    )
    return Outcome("holds" if ok else "refuted", float(worst), detail)


@claim("theorem-3.1/equality-conditions", "ratio = 1 iff γΨ(C) = 0 (Ψ = 0 when all C_ij ∈ {0, ±1})",
       method="numeric", expected="refuted")
def _equality_as_stated(ctx: Context) -> Outcome:
    for d in (2, 3):
        for C in _zero_one_matrices(d):
            if decorrelation_potential(C) != 0.0:
                continue
            for act in _activations():
                ratio = rank_gain_ratio(act, C)
                if abs(ratio - 1.0) > ROUNDING:
                    k_minus = float(kernel(act, -1.0))
                    return Outcome(
                        "refuted", ratio - 1.0,
                        f"{act.name}, C = {C.tolist()}: Ψ(C) = 0 and γ = {gamma(act):.6g}, so γΨ = 0, yet "
                        f"er₂(K(C))/er₂(C) = {ratio:.12g} ≠ 1 because K(−1) = {k_minus:.12g} ≠ −1 "
                        f"(re-run: python -m theory kernel {act.name} -1)",
                    )
    return Outcome("holds", 0.0, "every {0, ±1} correlation matrix (d ≤ 3) gives ratio 1")


def _corrected_predicate(act, C: np.ndarray) -> bool:
    """ratio = 1 ⇔ φ linear, or every off-diagonal C_ij ∈ {0, 1}, or C_ij = −1 with |K(−1)| = 1."""
    if is_linear(act):
        return True
    off = C[~np.eye(len(C), dtype=bool)]
    minus_ok = abs(abs(float(kernel(act, -1.0))) - 1.0) <= ROUNDING
    return bool(np.all((off == 0.0) | (off == 1.0) | ((off == -1.0) & minus_ok)))


@claim("theorem-3.1/equality-conditions-corrected",
       "ratio = 1 iff φ linear or every C_ij ∈ {0, 1}, or C_ij = −1 where |K(−1)| = 1 (φ − μ odd or even)",
       method="numeric")
def _equality_corrected(ctx: Context) -> Outcome:
    dims = (2, 3, 4) if ctx.thorough else (2, 3)
    matrices = [C for d in dims for C in _zero_one_matrices(d)] + _samples(ctx)
    mismatches, counted, worst_gap = [], 0, np.inf
    for C in matrices:
        for act in _activations():
            ratio = rank_gain_ratio(act, C)
            equal = abs(ratio - 1.0) <= ROUNDING
            predicted = _corrected_predicate(act, C)
            counted += 1
            if not predicted:
                worst_gap = min(worst_gap, ratio - 1.0)
            if equal != predicted:
                mismatches.append(f"{act.name}: ratio − 1 = {ratio - 1:.3g}, predicted equality {predicted}, C = {C.tolist()}")
    detail = (f"{counted} (matrix, activation) pairs; the predicate matches 'ratio = 1' in all; where it predicts "
              f"a strict gain, min(ratio − 1) = {worst_gap:.3g}")
    if mismatches:
        return Outcome("refuted", None, "\n".join(mismatches[:5]))
    return Outcome("holds", float(worst_gap), detail)


@claim("theorem-3.1/strict-gain-sentence",
       "'The ratio is strictly larger than 1 when Ψ(C) is vanishing and the activation is linear' (literal)",
       method="numeric", expected="refuted")
def _strict_gain_literal(ctx: Context) -> Outcome:
    lin = get_activation("linear")
    for d in (2, 3):
        for C in _zero_one_matrices(d):
            if decorrelation_potential(C) == 0.0:
                ratio = rank_gain_ratio(lin, C)
                if not ratio > 1.0:
                    return Outcome("refuted", ratio - 1.0,
                                   f"linear activation, C = {C.tolist()}: Ψ(C) = 0, K(C) = C, ratio = {ratio:.15g}, not > 1")
    return Outcome("holds", None, "no Ψ = 0 matrix with linear φ gave ratio ≤ 1")


@claim("theorem-3.1/strict-gain-corrected",
       "ratio > 1 whenever Ψ(C) > 0 and φ is nonlinear (the intended reading)", method="property")
def _strict_gain_corrected(ctx: Context) -> Outcome:
    worst, where = np.inf, ""
    for C in _samples(ctx):
        psi = decorrelation_potential(C)
        if psi <= 0.0:
            continue
        for act in _activations():
            if is_linear(act):
                continue
            excess = rank_gain_ratio(act, C) - 1.0
            if excess < worst:
                worst, where = excess, f"{act.name}, Ψ = {psi:.4g}, d = {len(C)}"
    return Outcome("holds" if worst > 0 else "refuted", float(worst), f"min(ratio − 1) = {worst:.3g} at {where}")


@claim("theorem-3.1/proof-er2-definition",
       "proof of Thm 3.1: er₂(C) = (tr C²)/‖C‖_F² (as printed) is the Rényi-2 rank of Section 3",
       method="numeric", expected="refuted")
def _er2_typo(ctx: Context) -> Outcome:
    C = np.eye(3)
    printed = float(np.trace(C @ C) / np.sum(C * C))
    section3 = renyi2_rank(C)
    if abs(printed - section3) > ROUNDING:
        return Outcome("refuted", printed - section3,
                       f"C = I_3: (tr C²)/‖C‖_F² = {printed:g} (it is 1 for every symmetric C, since tr C² = ‖C‖_F²), "
                       f"but er₂(C) = (tr C)²/‖C‖_F² = {section3:g}; the proof's later steps use (tr C)² = d².")
    return Outcome("holds", 0.0, "the two formulas agree on the identity")

"""Checks of the sentences of Section 3 around Theorem 3.1: the rank surrogates, what the theorem implies,
the two "Implication" paragraphs (frozen units; neural collapse and cloned units) and Remark 3.1 (lazy and
rich regimes). Kernels, γ, ranks and bounds come from ``theory``; networks from ``dag_nets``; the training
runs the paragraph speaks of are the project's continual study at smoke scale (:mod:`proofs_check.smoke_runs`).
The frozen-units paragraph's monotonicity sentence is checked in :mod:`proofs_check.appendix_a2`, beside the
activation families it concerns; the fixed points of the kernel map come from :mod:`proofs_check.section3`.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import torch
from scipy import stats

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp
from dag_nets.graph import DagNet
from dag_nets.manifolds import manifold
from experiments.metrics import duplicate_fraction, effective_rank
from proofs_check.registry import Context, Outcome, ReadingOutcome, claim, judge_readings
from proofs_check.section3 import (
    LEVEL_SET_GRID,
    kept_correlations,
    kernel_fixed_points,
    kernel_on_grid,
    minus_one_kept,
)
from proofs_check.smoke_runs import CONTINUAL_SMOKE, continual_intervals, continual_seeds
from theory.activations import get_activation, registered_names
from theory.bounds import rank_gain_ratio, theorem_bound
from theory.frozen import DEFAULT_EPSILON, frozen_probability
from theory.kernels import alpha, gamma, is_linear, kernel
from theory.random_matrices import CORRELATION_KINDS, sample_correlation
from theory.ranks import decorrelation_potential, renyi2_rank, shannon_rank

ROUNDING = 1e-12
DIMENSIONS = (2, 3, 5, 8)
ETF_CLASSES = (2, 3, 5, 10)
LAZY_ALPHAS = (1.0, 100.0)
"""Remark 3.1: output scale α of f_α = α (f(θ) − f(θ0)) trained on L/α² (Chizat et al. 2019): 1 = the usual
(feature-learning) parametrization, 100 = lazy."""
LAZY_STEPS, LAZY_LR, LAZY_WIDTH, LAZY_EXAMPLES = 600, 0.05, 16, 32


def _samples(ctx: Context) -> list[np.ndarray]:
    """Seeded correlation matrices: every kind of theory.random_matrices in dimensions 2, 3, 5 (thorough: also 8,
    five draws each)."""
    rng = np.random.default_rng(ctx.seed)
    dims, draws = (DIMENSIONS, 5) if ctx.thorough else (DIMENSIONS[:3], 1)
    return [sample_correlation(rng, d, kind) for kind in CORRELATION_KINDS for d in dims for _ in range(draws)]


def _nonlinear() -> list:
    return [get_activation(n) for n in registered_names() if not is_linear(get_activation(n))]


# ---------------------------------------------------------------------------- the surrogates
@claim("theorem-3.1/surrogates-extremes",
       "er₂ and the Shannon effective rank lie in [1, d], equal d exactly for equal eigenvalues and 1 exactly for "
       "rank-1 matrices",
       method="numeric",
       quote="Note that both of these surrogates are maximized when matrix M has equal eigenvalues and minimized when "
             "it is a rank-1 matrix.",
       location="Section 3, paragraph before Theorem 3.1",
       reading="M symmetric positive semi-definite and non-zero (a correlation or Gram matrix).")
def surrogates_extremes(ctx: Context) -> Outcome:
    rng = np.random.default_rng(ctx.seed)
    worst, rows = 0.0, []
    for d in DIMENSIONS:
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        flat = 2.5 * q @ q.T
        v = rng.standard_normal(d)
        extremes = {"equal eigenvalues": (flat, float(d)), "rank 1": (np.outer(v, v), 1.0)}
        for M, target in extremes.values():
            worst = max(worst, abs(renyi2_rank(M) - target), abs(shannon_rank(M) - target))
        for _ in range(20 if ctx.thorough else 5):
            lam = rng.exponential(size=d) * (rng.random(d) < 0.7)
            lam[0] += 1.0
            M = q @ np.diag(lam) @ q.T
            r2, sh = renyi2_rank(M), shannon_rank(M)
            closed = (lam.sum() ** 2 / (lam**2).sum(), np.exp(-sum(p * np.log(p) for p in lam[lam > 0] / lam.sum())))
            worst = max(worst, abs(r2 - closed[0]) / d, abs(sh - closed[1]) / d)
            rank = int((lam > 0).sum())
            inside = 1.0 - ROUNDING < min(r2, sh) and max(r2, sh) < d + ROUNDING
            strict = (rank == 1) or (min(r2, sh) > 1.0 + 1e-9 and (np.ptp(lam) == 0 or max(r2, sh) < d - 1e-9))
            if not (inside and strict):
                rows.append(f"d = {d}, λ = {lam.round(4).tolist()}: er₂ = {r2:.6g}, er = {sh:.6g}")
    ok = worst < 1e-9 and not rows
    return Outcome("holds" if ok else "refuted", margin=worst,
                   detail=f"PSD matrices of dimension {list(DIMENSIONS)}: er₂ and er equal d for Q(2.5 I)Qᵀ and 1 for vvᵀ "
                          f"(to {worst:.1g}, theory.ranks against the closed forms on the eigenvalues), and lie strictly "
                          "inside (1, d) for every other spectrum drawn" + ("" if not rows else ": " + "; ".join(rows)))


# ---------------------------------------------------------------------------- after Theorem 3.1
@claim("theorem-3.1/potential-positive-consumed",
       "Any correlation with 0 < |C_ij| < 1 gives Ψ(C) > 0, and a nonlinear φ then strictly raises er₂",
       method="numeric",
       quote="Note that the theorem implies that any correlations within range $|C_{ij}| \\in (0, 1)$ provide a "
             "potential $\\Psi(C) > 0$ that the nonlinearity consumes to increase rank.",
       location="Section 3, paragraph after Theorem 3.1",
       reading="'The nonlinearity' is a nonlinear φ (γ > 0); 'increase rank': er₂(K(C))/er₂(C) > 1.")
def potential_positive_consumed(ctx: Context) -> Outcome:
    worst, counted = np.inf, 0
    lone = []
    for c in (1e-3, 0.3, -0.7, 0.999):  # one correlation in (0, 1), every other one 0 or 1
        C = np.eye(3)
        C[0, 1] = C[1, 0] = c
        lone.append(C)
    for C in lone + [C for C in _samples(ctx) if np.any((np.abs(C) > 0) & (np.abs(C) < 1))]:
        psi = decorrelation_potential(C)
        for act in _nonlinear():
            gain = rank_gain_ratio(act, C) - 1.0
            guaranteed = theorem_bound(act, C) - 1.0
            worst = min(worst, psi, gain, gain - guaranteed + ROUNDING)
            counted += 1
    return Outcome("holds" if worst > 0 else "refuted", margin=float(worst),
                   detail=f"{counted} (matrix, nonlinear activation) pairs, including 3×3 matrices with a single "
                          "correlation c ∈ {0.001, 0.3, −0.7, 0.999}: min over them of Ψ(C), of the gain "
                          f"er₂(K(C))/er₂(C) − 1 and of its excess over γΨ/‖C‖²: {worst:.3g} > 0.")


@claim("theorem-3.1/gamma-in-unit-interval",
       "γ_φ ∈ [0, 1] for every activation: 0 exactly for linear φ, 1 exactly when K′(0) = 0",
       method="numeric",
       quote="The rate of this increase is governed by the scalar $\\gamma_\\phi \\in [0, 1]$, depends on the activation "
             "and quantifies the nonlinearity’s ability to de-correlate inputs and thereby increase rank.",
       location="Section 3, paragraph after Theorem 3.1",
       reading="'The rate' is the guaranteed rate γΨ/‖C‖² of Theorem 3.1's bound (the actual gain is not a function of "
               "γ: theorem-3.1/larger-gamma-larger-gain).")
def gamma_in_unit_interval(ctx: Context) -> Outcome:
    rows, ok = [], True
    acts = [get_activation(n) for n in registered_names()]
    acts += [get_activation(n).modulated(a, b) for n in ("relu", "tanh", "gelu", "sin") for a in (0.3, 3.0)
             for b in (-2.0, 0.0, 1.0)]
    for act in acts:
        g, a = gamma(act), alpha(act)
        ok &= -ROUNDING <= g <= 1.0 + ROUNDING
        ok &= (abs(g) <= ROUNDING) == is_linear(act)
        ok &= (abs(g - 1.0) <= ROUNDING) == (abs(a) <= ROUNDING)
        if abs(g) <= ROUNDING or abs(g - 1.0) <= ROUNDING:
            rows.append(f"{act.name}: γ = {g:.3g}")
    gs = [gamma(a) for a in acts]
    return Outcome("holds" if ok else "refuted", margin=float(min(min(gs), 1.0 - max(gs))),
                   detail=f"{len(acts)} activations (registry and modulated ψ = φ(az + b)): γ ∈ [{min(gs):.3g}, "
                          f"{max(gs):.3g}]; the endpoints are attained by " + ", ".join(rows)
                          + " (γ = 1 ⇔ α = K′(0) = 0, an even φ − Eφ).")


def _gain_pair(samples: list[np.ndarray]) -> tuple[str, str, np.ndarray, float, float, float, float] | None:
    """Two activations with γ1 > γ2 but a smaller actual rank gain on the same C: the pair with the largest γ gap
    on the first candidate matrix that has one."""
    acts = _nonlinear()
    for C in [np.array([[1.0, -0.9], [-0.9, 1.0]]), np.array([[1.0, 0.9], [0.9, 1.0]])] + samples:
        ratios = {a.name: rank_gain_ratio(a, C) for a in acts}
        pairs = [(gamma(a) - gamma(b), a.name, b.name, C, gamma(a), gamma(b), ratios[a.name], ratios[b.name])
                 for a, b in itertools.permutations(acts, 2)
                 if gamma(a) > gamma(b) + 1e-6 and ratios[a.name] < ratios[b.name] - 1e-6]
        if pairs:
            return max(pairs, key=lambda p: p[0])[1:]
    return None


def _same_spectrum(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two correlation matrices with the same eigenvalues (scipy's random_correlation, Bendel–Mickey)."""
    eig = np.array([2.0, 0.7, 0.3])
    rng = np.random.default_rng(seed)
    C1 = stats.random_correlation.rvs(eig, random_state=rng)
    C2 = stats.random_correlation.rvs(eig, random_state=rng)
    return eig, C1, C2


def _guarantee_steps(samples: list[np.ndarray]) -> float:
    """Smallest increase of the guaranteed ratio 1 + γΨ(C)/‖C‖² between activations sorted by γ, over the samples,
    together with the smallest slack ratio − guarantee (≥ 0 is Theorem 3.1)."""
    acts = sorted(_nonlinear(), key=gamma)
    worst = np.inf
    for C in samples:
        worst = min(worst, float(np.min(np.diff([theorem_bound(a, C) for a in acts]))))
        worst = min(worst, min(rank_gain_ratio(a, C) - theorem_bound(a, C) for a in acts) + ROUNDING)
    return worst


def _spectrum_pair(seed: int) -> tuple[str, str, float, float] | None:
    """Two activations with γ_a > γ_b whose guarantees, on two inputs of one spectrum, are ordered the other way:
    γ_a Ψ(C_small) < γ_b Ψ(C_large) (‖C‖_F² is a function of the spectrum). The pair with the largest γ gap."""
    _, C1, C2 = _same_spectrum(seed)
    small, large = sorted((C1, C2), key=decorrelation_potential)
    pairs = [(gamma(a) - gamma(b), a.name, b.name, theorem_bound(a, small), theorem_bound(b, large))
             for a, b in itertools.permutations(_nonlinear(), 2)
             if gamma(a) > gamma(b) + 1e-6 and theorem_bound(a, small) < theorem_bound(b, large) - 1e-9]
    return max(pairs)[1:] if pairs else None


@claim("theorem-3.1/larger-gamma-larger-gain",
       "Larger γ_φ guarantees a larger rank gain for the same input spectrum",
       method="numeric", expected="imprecise",
       quote="Larger γ_ϕ guarantees a larger rank gain for the same input spectrum.",
       location="Section 3, paragraph after Theorem 3.1",
       reading="A: the guaranteed gain γΨ(C)/‖C‖² is larger for larger γ on the same C; B: the actual gain "
               "er₂(K(C))/er₂(C) is larger for larger γ on the same C; C: the guaranteed gain is larger for larger γ on "
               "inputs with the same spectrum (eigenvalues of C), as the sentence says.")
def larger_gamma_larger_gain(ctx: Context) -> Outcome:
    samples = _samples(ctx)
    steps = _guarantee_steps(samples)
    pair = _gain_pair(samples)
    spectrum = _spectrum_pair(ctx.seed)
    eig, C1, C2 = _same_spectrum(ctx.seed)
    spectra = np.max(np.abs(np.linalg.eigvalsh(C1) - np.linalg.eigvalsh(C2)))
    readings = [
        ReadingOutcome("guaranteed gain, same C", "holds" if steps >= 0.0 else "refuted",
                       f"{len(samples)} matrices × {len(_nonlinear())} nonlinear activations sorted by γ: the guaranteed "
                       f"ratio never decreases (smallest step or slack {steps:.3g}; Ψ ≥ 0)"),
        ReadingOutcome("actual gain, same C", "refuted" if pair else "holds",
                       f"on C = {pair[2].tolist()}, {pair[0]} has γ = {pair[3]:.4g} > {pair[1]}'s γ = {pair[4]:.4g} but "
                       f"rank gain {pair[5]:.6g} < {pair[6]:.6g}" if pair else "ordered by γ on every matrix tried"),
        ReadingOutcome("guaranteed gain, same spectrum", "refuted" if spectrum else "holds",
                       f"two correlation matrices with eigenvalues {eig.tolist()} (spectra equal to {spectra:.1g}; "
                       f"scipy.stats.random_correlation, seed {ctx.seed}) have Ψ = {decorrelation_potential(C1):.4g} and "
                       f"{decorrelation_potential(C2):.4g}" + (f": {spectrum[0]} (the larger γ) is guaranteed only "
                                                              f"{spectrum[2]:.5g} on the one, {spectrum[1]} (the smaller γ) "
                                                              f"{spectrum[3]:.5g} on the other" if spectrum else
                                                              "; no activation pair reverses")),
    ]
    return judge_readings(
        readings, margin=(pair[6] - pair[5]) if pair else 0.0,
        summary=("the guarantee γΨ/‖C‖² grows with γ for one C, but " + (f"the actual gain does not ({pair[0]}: γ "
                 f"{pair[3]:.3g}, gain {pair[5]:.4g} < {pair[1]}: γ {pair[4]:.3g}, gain {pair[6]:.4g})" if pair else
                 "") + (", and Ψ is not a function of the spectrum" if spectrum else "")))


@claim("theorem-3.1/larger-gamma-larger-guarantee",
       "Corrected: for one correlation matrix C the guaranteed ratio 1 + γΨ(C)/‖C‖_F² is increasing in γ; the actual "
       "gain is not ordered by γ, and Ψ (hence the guarantee) is not a function of the spectrum of C",
       method="numeric", subject="correction", corrects="theorem-3.1/larger-gamma-larger-gain",
       quote="Larger γ_ϕ guarantees a larger rank gain for the same input spectrum.",
       location="Section 3, paragraph after Theorem 3.1")
def larger_gamma_larger_guarantee(ctx: Context) -> Outcome:
    samples = _samples(ctx)
    worst = _guarantee_steps(samples)
    pair = _gain_pair(samples)
    _, C1, C2 = _same_spectrum(ctx.seed)
    differ = abs(decorrelation_potential(C1) - decorrelation_potential(C2)) > 1e-3
    ok = worst >= 0.0 and pair is not None and differ
    return Outcome("holds" if ok else "refuted", margin=float(worst),
                   detail=f"{len(samples)} matrices × {len(_nonlinear())} nonlinear activations sorted by γ: the bound is "
                          f"non-decreasing in γ and below the actual ratio (min slack {worst:.3g}); the actual gain is not "
                          f"ordered by γ ({pair[0]} vs {pair[1]} on {pair[2].tolist()}); equal spectra give different Ψ "
                          f"({decorrelation_potential(C1):.4g} vs {decorrelation_potential(C2):.4g})." if pair else
                          "no counter-ordered pair found")


# ---------------------------------------------------------------------------- implication: frozen units
def _phase_changes(ctx: Context, normalization: str) -> list[tuple[int, dict[str, float], dict[str, float]]]:
    """Per seed of a continual smoke run (the runs proofs_check.section4 uses): (seed, first interval record, last
    interval record)."""
    runs = continual_intervals(normalization, continual_seeds(ctx.seed, ctx.thorough))
    return [(seed, records[0], records[-1]) for seed, records in runs.items()]


RELU_BIASES = np.linspace(-4.0, 2.0, 13)
"""The ReLU family relu(z + b) along which the theory trades rank for dead units."""


@functools.cache
def _relu_tradeoff() -> tuple[np.ndarray, np.ndarray, float]:
    """(γ, P(dead) sorted by γ, max |P − Φ(−b)|) along relu(z + b): Section 3's trade-off, from theory.frozen and
    against scipy's Φ."""
    relu = get_activation("relu")
    g = np.array([gamma(relu.modulated(1.0, b)) for b in RELU_BIASES])
    p = np.array([frozen_probability(relu.modulated(1.0, b), DEFAULT_EPSILON) for b in RELU_BIASES])
    order = np.argsort(g)
    return g[order], p[order], float(np.max(np.abs(p - stats.norm.cdf(-RELU_BIASES))))


def _relu_tradeoff_text() -> str:
    g, p, agreement = _relu_tradeoff()
    return (f"ReLU(z + b), b ∈ [{RELU_BIASES[0]:g}, {RELU_BIASES[-1]:g}]: γ from {g.min():.3g} to {g.max():.4g}; the "
            f"frozen probability P(|ψ′| < {DEFAULT_EPSILON}) = Φ(−b) (theory.frozen against scipy, ≤ {agreement:.1g}) "
            f"rises with γ, smallest step {float(np.min(np.diff(p))):.3g}")


def _rank_with_dead(ctx: Context) -> tuple[list[str], list[str]]:
    """Continual smoke runs with and without batch norm: (every run's changes, the runs whose effective rank rose
    while the dead fraction did not)."""
    rows, against = [], []
    for norm in ("none", "batch"):
        for seed, first, last in _phase_changes(ctx, norm):
            row = (f"{norm} norm, seed {seed}: effective rank {first['effective_rank']:.3g} → {last['effective_rank']:.3g}, "
                   f"dead fraction {first['dead_fraction']:.3g} → {last['dead_fraction']:.3g}")
            rows.append(row)
            if last["effective_rank"] > first["effective_rank"] and not last["dead_fraction"] > first["dead_fraction"]:
                against.append(row)
    return rows, against


@claim("theorem-3.1/restoring-rank-creates-dead-units",
       "Training that restores (raises) the effective rank also creates frozen or dead units",
       method="numeric", expected="imprecise",
       quote="This explains why training that effectively restores rank also creates “frozen” or “dead” units.",
       location="Section 3, 'Implication for emergence of frozen units'",
       reading="An explanatory sentence, read A: as the paragraph's mechanism — along a saturation family a larger γ "
               "(more rank gain) comes with more frozen units (tested along relu(z + b)); B: as a fact about training "
               "— in a run whose effective rank rises, the dead fraction rises too (the continual smoke runs with and "
               "without batch norm).")
def restoring_rank_creates_dead_units(ctx: Context) -> Outcome:
    _, p, _ = _relu_tradeoff()
    rows, against = _rank_with_dead(ctx)
    readings = [
        ReadingOutcome("the mechanism: larger γ comes with more frozen units",
                       "holds" if np.all(np.diff(p) > 0) else "refuted", _relu_tradeoff_text()),
        ReadingOutcome("in training: where the effective rank rises, so does the dead fraction",
                       "refuted" if against else "holds",
                       f"{CONTINUAL_SMOKE}: " + ("; ".join(against) if against else "every run that raised its rank "
                                                 "also raised its dead fraction")),
    ]
    return judge_readings(
        readings, margin=float(len(against)),
        detail="All runs: " + "; ".join(rows) + ". The trade-off the theory shows is along activation families (also "
               "appendix-A.2/frozen-increases-with-gamma), not a law of training.",
        summary=("true along the saturation families (relu(z + b): larger γ, larger Φ(−b)); not in training: "
                 + (against[0] if against else "no run raised its rank without dead units")))


@claim("theorem-3.1/rank-frozen-tradeoff-along-relu-bias",
       "Corrected: what the theory supports — along ReLU(z + b), a larger γ comes with a larger dead probability "
       "Φ(−b) → 1; training runs need not follow that family (batch norm raises rank and removes dead units)",
       method="numeric", subject="correction", corrects="theorem-3.1/restoring-rank-creates-dead-units",
       quote="This explains why training that effectively restores rank also creates “frozen” or “dead” units.",
       location="Section 3, 'Implication for emergence of frozen units'")
def rank_frozen_tradeoff_along_relu_bias(ctx: Context) -> Outcome:
    _, p, agreement = _relu_tradeoff()
    ok = bool(np.all(np.diff(p) > 0)) and agreement < 1e-9
    batch = _phase_changes(ctx, "batch")
    ok &= all(last["effective_rank"] > first["effective_rank"] and last["dead_fraction"] < first["dead_fraction"]
              for _, first, last in batch)
    return Outcome("holds" if ok else "refuted", margin=float(np.min(np.diff(p))),
                   detail=f"{_relu_tradeoff_text()}. {CONTINUAL_SMOKE}, batch norm: rank rises and the dead fraction "
                          "falls in every seed: " + "; ".join(
                              f"seed {s}: rank {a['effective_rank']:.3g} → {b['effective_rank']:.3g}, dead "
                              f"{a['dead_fraction']:.3g} → {b['dead_fraction']:.3g}" for s, a, b in batch))


# ---------------------------------------------------------------------------- implication: cloned units
STABILIZE_QUOTE = ("The theorem makes a precise prediction regarding this state: for the rank to stabilize (ratio ≈ 1) "
                   "while retaining nonlinearity ($\\gamma_\\phi > 0$), the decorrelation potential $\\Psi(C)$ must vanish.")


@functools.lru_cache(maxsize=4)
def _stabilization_slack(ctx: Context) -> tuple[float, int]:
    """(min over the samples and nonlinear activations of (ratio − 1)/γ − Ψ/‖C‖_F², number of pairs): ≥ 0 says that
    ratio ≈ 1 with γ > 0 forces Ψ ≈ 0 (Theorem 3.1 rearranged)."""
    worst, counted = np.inf, 0
    for C in _samples(ctx):
        for act in _nonlinear():
            slack = (rank_gain_ratio(act, C) - 1.0) / gamma(act) - decorrelation_potential(C) / float(np.sum(C * C))
            worst, counted = min(worst, slack), counted + 1
    return float(worst), counted


@claim("theorem-3.1/rank-stabilizes-potential-vanishes",
       "ratio ≈ 1 with γ > 0 forces Ψ(C) ≈ 0: Ψ/‖C‖_F² ≤ (ratio − 1)/γ",
       method="numeric", quote=STABILIZE_QUOTE,
       location="Section 3, 'Implication for creation of duplicate or cloned units'",
       reading="Under the theorem's hypotheses (Gaussian pre-activations with correlation C).")
def rank_stabilizes_potential_vanishes(ctx: Context) -> Outcome:
    worst, counted = _stabilization_slack(ctx)
    relu = get_activation("relu")
    path = []
    for t in (0.5, 0.1, 0.01, 0.001):  # C(t) = (1−t)·11ᵀ + t·I → all correlations → 1
        C = (1 - t) * np.ones((4, 4)) + t * np.eye(4)
        path.append(f"t = {t:g}: ratio − 1 = {rank_gain_ratio(relu, C) - 1:.3g}, Ψ/‖C‖² = "
                    f"{decorrelation_potential(C) / np.sum(C * C):.3g}")
    return Outcome("holds" if worst >= -ROUNDING else "refuted", margin=worst,
                   detail=f"{counted} (matrix, nonlinear activation) pairs: min((ratio − 1)/γ − Ψ/‖C‖²) = {worst:.3g} ≥ 0. "
                          "ReLU along C(t) = (1−t)11ᵀ + tI: " + "; ".join(path))


FIXED_QUOTE = ("This forces correlations to converge to the fixed points 0 (orthogonal features) or ± 1 (aligned or "
               "anti-aligned features).")
FIXED_POINT_EXAMPLES = ("relu", "gelu", "tanh", "sin", "abs")
"""Activations whose fixed points the paper check prints: not odd (relu, gelu), odd (tanh, sin), even (abs)."""


def _potential_bounds_each_correlation(ctx: Context) -> float:
    """min over the samples of Ψ(C) − max_{i≠j} 2C_ij²(1 − C_ij²): ≥ 0 means Ψ → 0 forces every C_ij → {0, ±1}."""
    worst = np.inf
    for C in _samples(ctx):
        off = C[~np.eye(len(C), dtype=bool)]
        worst = min(worst, decorrelation_potential(C) - float(np.max(2.0 * off**2 * (1.0 - off**2))))
    return float(worst)


@claim("theorem-3.1/fixed-points-zero-pm-one",
       "Ψ → 0 forces every correlation to the fixed points 0 or ±1 of the kernel map",
       method="numeric", expected="imprecise", quote=FIXED_QUOTE,
       location="Section 3, 'Implication for creation of duplicate or cloned units'",
       reading="A: correlations converge to the set {0, ±1} (what Ψ → 0 forces); B: those values are the fixed "
               "points of r ↦ K_φ(r), i.e. configurations the nonlinearity leaves unchanged.")
def fixed_points_zero_pm_one(ctx: Context) -> Outcome:
    relu = get_activation("relu")
    anti = np.array([[1.0, -1.0], [-1.0, 1.0]])
    ratio = rank_gain_ratio(relu, anti)
    bound = _potential_bounds_each_correlation(ctx)
    points = {n: kernel_fixed_points(get_activation(n)) for n in FIXED_POINT_EXAMPLES}
    not_fixed = [n for n, v in points.items() if v != (-1.0, 0.0, 1.0)]
    readings = [
        ReadingOutcome("Ψ → 0 forces every correlation into {0, ±1}", "holds" if bound >= -ROUNDING else "refuted",
                       f"Ψ(C) = Σ_{{i≠j}} C_ij²(1 − C_ij²) ≥ 2c²(1 − c²) for each correlation c: min of the difference "
                       f"over {len(_samples(ctx))} samples {bound:.3g} ≥ 0"),
        ReadingOutcome("0, ±1 are fixed points of K", "refuted" if not_fixed else "holds",
                       "fixed points on [−1, 1]: " + "; ".join(f"{n}: {list(v)}" for n, v in points.items())
                       + f"; for ReLU K(−1) = {float(kernel(relu, -1.0)):.6g}, and the anti-aligned C = [[1, −1], "
                       f"[−1, 1]] (Ψ = 0) has rank ratio {ratio:.6g} > 1"),
    ]
    return judge_readings(
        readings, margin=ratio - 1.0,
        detail="−1 is a fixed point only for odd φ − Eφ; anti-aligned features are not a resting point for ReLU. The "
               "exact statement: theorem-3.1/fixed-points-corrected.",
        summary=f"Ψ → 0 does force every correlation into {{0, ±1}}, but −1 is a fixed point only for odd φ − Eφ: for "
                f"{', '.join(not_fixed) or 'none of the examples'} it is not (ReLU: K(−1) = "
                f"{float(kernel(relu, -1.0)):.4g}, and [[1, −1], [−1, 1]] has ratio {ratio:.4g})")


@claim("theorem-3.1/fixed-points-corrected",
       "Corrected: the fixed points of r ↦ K_φ(r) on [−1, 1] are 0 and 1, plus −1 exactly when K(−1) = −1 (φ − Eφ odd); "
       "|K(r)| = |r| (the gap r² − K(r)² vanishes) exactly at 0, 1, and −1 when |K(−1)| = 1 (φ − Eφ odd or even); "
       "|K(r)| < |r| everywhere else",
       method="numeric", subject="correction",
       corrects=("theorem-3.1/fixed-points-zero-pm-one", "figure-A.1/gap-vanishes-only-at-fixed-points"),
       quote=FIXED_QUOTE, location="Section 3, 'Implication for creation of duplicate or cloned units'")
def fixed_points_corrected(ctx: Context) -> Outcome:
    rows, ok, shrink = [], True, np.inf
    for act in _nonlinear():
        fixed, kept = list(kernel_fixed_points(act)), list(kept_correlations(act))
        k_minus = float(kernel(act, -1.0))
        ok &= fixed == ([-1.0, 0.0, 1.0] if abs(k_minus + 1.0) <= ROUNDING else [0.0, 1.0])
        ok &= kept == ([-1.0, 0.0, 1.0] if minus_one_kept(act) else [0.0, 1.0])
        r, k = kernel_on_grid(act)
        inner = (np.abs(r) > 0.0) & (np.abs(r) < 1.0)
        shrink = min(shrink, float(np.min(np.abs(r[inner]) - np.abs(k[inner]))))
        rows.append(f"{act.name}: fixed {fixed}, |K| = |r| at {kept} (K(−1) = {k_minus:.4g})")
    ok &= shrink > 0.0
    return Outcome("holds" if ok else "refuted", margin=shrink,
                   detail=f"scans of K(r) − r and |r| − |K(r)| on {LEVEL_SET_GRID} points of [−1, 1] (zeros and sign "
                          "changes; the endpoints exactly), shared with figure-A.1/gap-vanishes-only-at-fixed-points: "
                          + "; ".join(rows) + f". Elsewhere |K(r)| < |r|: min(|r| − |K(r)|) over the grid points with "
                          f"0 < |r| < 1 is {shrink:.3g} > 0. The matrix form "
                          "(which Ψ = 0 matrices keep ratio 1) is theorem-3.1/equality-conditions-corrected.")


def _etf_correlation(k: int) -> np.ndarray:
    """Correlation matrix of the K class means of a simplex ETF: 1 on the diagonal, −1/(K−1) off it."""
    return (1.0 + 1.0 / (k - 1)) * np.eye(k) - np.ones((k, k)) / (k - 1)


def _etf_features(k: int, d: int, seed: int) -> np.ndarray:
    """Unit–unit correlation matrix of collapsed penultimate features: a random rotation of the ETF in R^d."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    means = (np.eye(k) - np.ones((k, k)) / k) @ q[:k]  # K centred means in R^d, an ETF of rank K−1
    h = np.repeat(means, 10, axis=0)  # ten collapsed examples per class
    h = h - h.mean(0)
    cov = h.T @ h
    s = 1.0 / np.sqrt(np.diag(cov))
    return cov * s[:, None] * s[None, :]


NC_QUOTE = ("Thus, the dynamics of rank expansion naturally drive the network toward a mixture of orthogonal "
            "subspaces and cloned units, matching the geometry of LoP manifolds.")


@claim("theorem-3.1/neural-collapse-geometry",
       "The neural-collapse endpoint (class means a simplex ETF) is a mixture of orthogonal subspaces and cloned "
       "units (correlations 0 or ±1), the geometry of LoP manifolds",
       method="numeric", expected="imprecise", quote=NC_QUOTE,
       location="Section 3, 'Implication for creation of duplicate or cloned units'",
       reading="(a) the state the paragraph starts from — neural collapse — has that geometry; (b) configurations "
               "where a nonlinear layer's er₂ stops changing have it.")
def neural_collapse_geometry(ctx: Context) -> Outcome:
    relu, tanh = get_activation("relu"), get_activation("tanh")
    rows = []
    for k in ETF_CLASSES:
        C = _etf_correlation(k)
        rows.append(f"K = {k}: class-mean correlation {-1 / (k - 1):.4g}, Ψ = {decorrelation_potential(C):.4g}, "
                    f"ratio ReLU {rank_gain_ratio(relu, C):.5g}, tanh {rank_gain_ratio(tanh, C):.5g}")
    moving = [k for k in ETF_CLASSES if decorrelation_potential(_etf_correlation(k)) > ROUNDING]
    F = _etf_features(10, 16, ctx.seed)
    off = np.abs(F[~np.eye(len(F), dtype=bool)])
    middling = float(np.mean((off > 0.05) & (off < 0.95)))
    worst, counted = _stabilization_slack(ctx)
    readings = [
        ReadingOutcome("the neural-collapse state the paragraph starts from has that geometry",
                       "refuted" if moving else "holds",
                       f"the simplex ETF's class means have correlation −1/(K−1) ∉ {{0, ±1}} for K ≥ 3, so Ψ > 0 and a "
                       f"nonlinear layer still changes their er₂ (K = {moving}): " + "; ".join(rows)
                       + f"; the unit–unit correlations of collapsed features (ETF of 10 classes rotated into R^16, seed "
                       f"{ctx.seed}) are not 0 or ±1 either ({middling:.0%} lie in (0.05, 0.95) in magnitude; Ψ = "
                       f"{decorrelation_potential(F):.4g})"),
        ReadingOutcome("configurations where a nonlinear layer's er₂ stops changing have it",
                       "holds" if worst >= -ROUNDING else "refuted",
                       f"ratio ≈ 1 with γ > 0 forces Ψ ≈ 0, i.e. every correlation into {{0, ±1}}: min((ratio − 1)/γ − "
                       f"Ψ/‖C‖²) = {worst:.3g} ≥ 0 (up to round-off) over {counted} pairs "
                       "(theorem-3.1/rank-stabilizes-potential-vanishes)"),
    ]
    return judge_readings(
        readings, margin=decorrelation_potential(_etf_correlation(3)),
        detail="Neural collapse is also outside the theorem's hypothesis: collapsed features are K points, not Gaussian.",
        summary=f"a rank-stable nonlinear layer has correlations in {{0, ±1}}, but neural collapse does not: a simplex ETF of "
                f"K ≥ 3 classes has correlation −1/(K−1) (Ψ = {decorrelation_potential(_etf_correlation(3)):.3g} for "
                f"K = 3)")


@claim("theorem-3.1/neural-collapse-geometry-corrected",
       "Corrected: a simplex ETF of K ≥ 3 class means has Ψ = K(K−1)c²(1−c²) > 0 with c = 1/(K−1), so every nonlinear "
       "φ strictly raises its er₂ (by at least γΨ/‖C‖²); only K = 2 (antipodal means) and within-class collapse "
       "(correlation 1) are Ψ = 0",
       method="numeric", subject="correction", corrects="theorem-3.1/neural-collapse-geometry", quote=NC_QUOTE,
       location="Section 3, 'Implication for creation of duplicate or cloned units'")
def neural_collapse_geometry_corrected(ctx: Context) -> Outcome:
    worst, ok = np.inf, True
    for k in ETF_CLASSES:
        C = _etf_correlation(k)
        c = 1.0 / (k - 1)
        closed = k * (k - 1) * c * c * (1 - c * c)
        ok &= abs(decorrelation_potential(C) - closed) < 1e-12
        for act in _nonlinear():
            gain = rank_gain_ratio(act, C) - theorem_bound(act, C)
            if k == 2:
                ok &= closed == 0.0
            else:
                ok &= rank_gain_ratio(act, C) > 1.0 and gain >= -ROUNDING
                worst = min(worst, rank_gain_ratio(act, C) - 1.0)
    within = np.ones((3, 3))  # three collapsed examples of one class
    ok &= decorrelation_potential(within) == 0.0
    return Outcome("holds" if ok else "refuted", margin=float(worst),
                   detail=f"K ∈ {list(ETF_CLASSES)}: Ψ matches K(K−1)c²(1−c²); for K ≥ 3 the smallest rank gain over the "
                          f"nonlinear registry is {worst:.3g} > 0, above the guarantee; K = 2 and a within-class block of "
                          "ones have Ψ = 0.")


IMPLICATIONS_QUOTE = ("The two implications above provide a theoretical perspective on why duplicate features and frozen "
                      "units frequently emerge at or near convergence, and why the resulting representation lies close "
                      "to LoP manifolds, as proven in Theorem 2.1.")
SYMPTOMS = {"duplicate_fraction": "duplicate features", "dead_fraction": "dead units"}


@claim("theorem-3.1/implications-near-convergence",
       "Duplicate features and frozen units emerge at or near convergence, and the representation lies close to LoP "
       "manifolds, as proven in Theorem 2.1",
       method="numeric", expected="imprecise", quote=IMPLICATIONS_QUOTE,
       location="Section 3, paragraph after the two 'Implication' paragraphs",
       reading="Tested on the continual smoke runs without normalization, with batch norm and with layer norm "
               "(duplicate fraction: cosine > 0.95; dead: |h| < 1e-7 on > 95 % of a stratified batch, Appendix B.1.2), "
               "first against last logged step. A (hedged, 'frequently'): each symptom emerges in some of the runs; B: "
               "both emerge in every run. 'As proven in Theorem 2.1': the theorem proves that exact LoP manifolds are "
               "invariant, not that trained representations lie near them.")
def implications_near_convergence(ctx: Context) -> Outcome:
    emerged: dict[str, list[str]] = {key: [] for key in SYMPTOMS}
    rows, total = [], 0
    for norm in ("none", "batch", "layer"):
        for seed, first, last in _phase_changes(ctx, norm):
            total += 1
            for key in SYMPTOMS:
                if last[key] > first[key]:
                    emerged[key].append(f"{norm} norm seed {seed}")
            rows.append(f"{norm} norm, seed {seed}: duplicate fraction {first['duplicate_fraction']:.3g} → "
                        f"{last['duplicate_fraction']:.3g}, dead fraction {first['dead_fraction']:.3g} → "
                        f"{last['dead_fraction']:.3g}")
    counts = ", ".join(f"{SYMPTOMS[key]} emerge in {len(runs)}/{total} runs ({', '.join(runs) or 'none'})"
                       for key, runs in emerged.items())
    readings = [
        ReadingOutcome("frequently: each symptom emerges in some runs", "holds" if all(emerged.values()) else "refuted",
                       counts),
        ReadingOutcome("both emerge in every run", "holds" if all(len(r) == total for r in emerged.values()) else
                       "refuted", counts),
    ]
    return judge_readings(
        readings, margin=min(len(r) for r in emerged.values()) / total,
        detail=f"{CONTINUAL_SMOKE}: " + "; ".join(rows) + ". Near-duplicates (cosine > 0.95) are close to, not on, a "
               "cloning manifold; Theorem 2.1 says nothing about points near it — whether they return or escape is "
               "Definition A.2's question (remark-2.4/single-noisy-step-escape-saddle, "
               "remark-2.4/single-noisy-step-near-interpolation, both extensions).",
        summary="in the continual smoke runs " + "; ".join(
            f"{SYMPTOMS[key]} emerge in {len(runs)}/{total}" for key, runs in emerged.items())
        + " (first to last logged step); Theorem 2.1 proves invariance of exact manifolds, not closeness")


@claim("theorem-3.1/implications-near-convergence-corrected",
       "Corrected: in the continual smoke MLP without normalization duplicate features emerge while the dead fraction "
       "falls; Theorem 2.1 concerns exact manifolds only",
       method="numeric", subject="correction", corrects="theorem-3.1/implications-near-convergence",
       quote=IMPLICATIONS_QUOTE, location="Section 3, paragraph after the two 'Implication' paragraphs")
def implications_near_convergence_corrected(ctx: Context) -> Outcome:
    changes = _phase_changes(ctx, "none")
    ok = all(last["duplicate_fraction"] > first["duplicate_fraction"] and last["dead_fraction"] < first["dead_fraction"]
             for _, first, last in changes)
    return Outcome("holds" if ok else "refuted",
                   detail=f"{CONTINUAL_SMOKE}, no normalization: " + "; ".join(
                       f"seed {s}: duplicates {a['duplicate_fraction']:.3g} → {b['duplicate_fraction']:.3g}, dead "
                       f"{a['dead_fraction']:.3g} → {b['dead_fraction']:.3g}" for s, a, b in changes))


# ---------------------------------------------------------------------------- Remark 3.1
def _lazy_run(net: DagNet, x: torch.Tensor, y: torch.Tensor, scale: float) -> torch.Tensor:
    """GD on L_α(θ) = mean((α(f(θ) − f(θ0)) − y)²)/α² (Chizat et al.'s lazy scaling); returns θ after the run."""
    theta0 = net.flat_parameters()
    f0 = net.functional(theta0, x).detach()
    theta = theta0.clone().requires_grad_(True)
    for _ in range(LAZY_STEPS):
        loss = ((scale * (net.functional(theta, x) - f0) - y) ** 2).mean() / scale**2
        (g,) = torch.autograd.grad(loss, theta)
        with torch.no_grad():
            theta -= LAZY_LR * g
    return theta.detach()


def _teacher_task(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    teacher = mlp(4, [3], 1, activation="tanh", seed=seed + 100, gain=2.0)
    x = torch.randn(LAZY_EXAMPLES, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    with torch.no_grad():
        return x, teacher(x)


def _hidden(net: DagNet, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    H, _ = net.node_values(theta, x)
    return H[:, [net.index[v] for v in net.bias_nodes if v not in net.outputs]]


@functools.cache
def _regimes(seed: int) -> dict[float, tuple[float, float, float]]:
    """α ↦ (relative parameter displacement, effective rank of the hidden features before, after)."""
    x, y = _teacher_task(seed)
    out = {}
    for scale in LAZY_ALPHAS:
        net = mlp(4, [LAZY_WIDTH], 1, activation="tanh", seed=seed)
        theta0 = net.flat_parameters()
        theta = _lazy_run(net, x, y, scale)
        moved = float(torch.linalg.vector_norm(theta - theta0) / torch.linalg.vector_norm(theta0))
        out[scale] = (moved, effective_rank(_hidden(net, theta0, x)), effective_rank(_hidden(net, theta, x)))
    return out


LAZY_STILL = 0.05
"""'Weights remain close to initialization': the lazy run moves them by less than this share of the rich run's
displacement, and changes the features' effective rank by less than this share of the rich run's change."""


def _lazy_is_still(m_rich: float, m_lazy: float, r0: float, r_rich: float, r_lazy: float) -> bool:
    return m_lazy < LAZY_STILL * m_rich and abs(r_lazy - r0) < LAZY_STILL * max(abs(r_rich - r0), 1e-3) + 1e-3


LAZY_SETTING = (f"student tanh MLP 4 → {LAZY_WIDTH} → 1 (dag_nets.mlp), teacher 4 → 3 → 1 (gain 2), {LAZY_EXAMPLES} "
                f"Gaussian inputs, {LAZY_STEPS} GD steps of lr {LAZY_LR} on mean((α(f(θ) − f(θ0)) − y)²)/α²")


@claim("remark-3.1/lazy-regime-stays-near-init",
       "In the lazy regime weights stay close to initialization and the features keep their rank",
       method="numeric",
       quote="In the “Lazy” learning regime (associated with the Neural Tangent Kernel), weights remain close to "
             "initialization, maintaining high-rank connectivity and avoiding feature compression.",
       location="Remark 3.1",
       reading=f"Lazy: output scale α = {LAZY_ALPHAS[1]:g} (Chizat et al. 2019) against α = {LAZY_ALPHAS[0]:g}; "
               "'feature compression': a fall of the hidden features' effective rank (Appendix B.1.2).")
def lazy_regime_stays_near_init(ctx: Context) -> Outcome:
    rows, ok = [], True
    for seed in range(ctx.seed, ctx.seed + 2):
        reg = _regimes(seed)
        (m_rich, r0, r_rich), (m_lazy, _, r_lazy) = reg[LAZY_ALPHAS[0]], reg[LAZY_ALPHAS[1]]
        ok &= _lazy_is_still(m_rich, m_lazy, r0, r_rich, r_lazy)
        rows.append(f"seed {seed}: relative displacement α = {LAZY_ALPHAS[0]:g}: {m_rich:.3g}, α = {LAZY_ALPHAS[1]:g}: "
                    f"{m_lazy:.3g}; effective rank {r0:.4g} → {r_rich:.4g} (α = {LAZY_ALPHAS[0]:g}), → {r_lazy:.4g} "
                    f"(α = {LAZY_ALPHAS[1]:g})")
    return Outcome("holds" if ok else "refuted", detail=f"{LAZY_SETTING}: " + "; ".join(rows))


@functools.cache
def _lazy_clone_distance(seed: int) -> float:
    base = mlp(4, [LAZY_WIDTH // 2], 1, activation="tanh", seed=seed)
    net, part = clone_network(base, {v: 2 for v in base.bias_nodes if v not in base.outputs})
    x, y = _teacher_task(seed)
    theta = _lazy_run(net, x, y, LAZY_ALPHAS[1])
    return manifold("C", part).distance(theta)


SPECIFIC_QUOTE = ("Thus, LoP can be viewed as a pathology specific to the Rich regime: the same mechanism that enables "
                  "deep networks to learn efficient representations (data compression) eventually traps them in "
                  "low-rank manifolds that hinder future adaptability.")


@claim("remark-3.1/specific-to-rich-regime",
       "LoP is a pathology specific to the rich regime",
       method="numeric", expected="imprecise", quote=SPECIFIC_QUOTE, location="Remark 3.1",
       reading="LoP as Section 2 defines it — entrapment on an LoP manifold — or as the emergence of the trap through "
               "feature compression ('can be viewed' is a hedge).")
def specific_to_rich_regime(ctx: Context) -> Outcome:
    distance = _lazy_clone_distance(ctx.seed)
    reg = _regimes(ctx.seed)
    (m_rich, _, r_rich), (m_lazy, r0, r_lazy) = reg[LAZY_ALPHAS[0]], reg[LAZY_ALPHAS[1]]
    still = _lazy_is_still(m_rich, m_lazy, r0, r_rich, r_lazy)
    readings = [
        ReadingOutcome("LoP as entrapment on an LoP manifold (Section 2)", "refuted" if distance < ROUNDING else "holds",
                       f"a 2× clone of a 4 → {LAZY_WIDTH // 2} → 1 tanh MLP trained lazily (α = {LAZY_ALPHAS[1]:g}, "
                       f"{LAZY_STEPS} GD steps) stays on M_C (distance {distance:.1g}): Theorem 2.1 does not depend on "
                       "the regime"),
        ReadingOutcome("LoP as the drive into the trap through feature compression", "holds" if still else "refuted",
                       f"lazy training moves the weights by {m_lazy:.3g} (relative; {m_rich:.3g} at α = "
                       f"{LAZY_ALPHAS[0]:g}) and leaves the features' effective rank at {r_lazy:.4g} (from {r0:.4g}; "
                       f"{r_rich:.4g} at α = {LAZY_ALPHAS[0]:g}): "
                       + ("it does not compress the features" if still else "it moves them as much as rich training")),
    ]
    return judge_readings(readings, margin=distance, detail=f"{LAZY_SETTING}.",
                          summary="the lazy regime lacks the drive into LoP manifolds (features barely move), not the "
                                  f"trap: a lazily trained clone stays cloned (distance {distance:.1g})")


@claim("remark-3.1/entrapment-regime-free",
       "Corrected: entrapment on LoP manifolds holds in every regime (a lazily trained clone stays cloned); what "
       "the lazy regime lacks is the drive towards them (its features barely move)",
       method="numeric", subject="correction", corrects="remark-3.1/specific-to-rich-regime", quote=SPECIFIC_QUOTE,
       location="Remark 3.1")
def entrapment_regime_free(ctx: Context) -> Outcome:
    distances = [_lazy_clone_distance(seed) for seed in range(ctx.seed, ctx.seed + 2)]
    drives = []
    for seed in range(ctx.seed, ctx.seed + 2):
        reg = _regimes(seed)
        (m_rich, _, _), (m_lazy, r0, r_lazy) = reg[LAZY_ALPHAS[0]], reg[LAZY_ALPHAS[1]]
        drives.append((m_lazy < LAZY_STILL * m_rich, abs(r_lazy - r0)))
    x, _ = _teacher_task(ctx.seed)
    net = mlp(4, [LAZY_WIDTH], 1, activation="tanh", seed=ctx.seed)
    dup = duplicate_fraction(_hidden(net, net.flat_parameters(), x))
    ok = max(distances) < ROUNDING and all(d for d, _ in drives)
    return Outcome("holds" if ok else "refuted", margin=max(distances),
                   detail=f"{LAZY_SETTING}: lazily trained clones stay on M_C (distances {[f'{d:.1g}' for d in distances]}); "
                          f"lazy displacement below {LAZY_STILL:.0%} of the α = {LAZY_ALPHAS[0]:g} one in every seed; effective-rank change "
                          f"under lazy training {[f'{r:.2g}' for _, r in drives]} (duplicate fraction at init {dup:.3g}).")

"""Checks of Appendix B.1.2's definitions against the main text: its "effective rank" and "stable rank" against
Section 3's rank surrogates, and its noisy-SGD noise N(0, σ_t²‖g_t‖²I) against Section 2's "noise magnitude
0.01 relative to gradient norms".

The metrics are the project's implementations of both definitions (:mod:`experiments.metrics` for Appendix
B.1.2, :mod:`theory.ranks` for Section 3), each compared with a closed form on singular values computed by
numpy; the noise is the project's optimizer (:class:`experiments.optim.noisy_sgd.NoisySGD`) against the chi
distribution.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from scipy import special

from experiments.metrics import effective_rank, gram_renyi2_rank, renyi2_feature_rank
from experiments.models import build
from experiments.optim.noisy_sgd import PAPER_SIGMA0, NoisySGD
from proofs_check.registry import Context, Outcome, ReadingOutcome, claim, judge_readings
from theory.ranks import renyi2_rank, shannon_rank
from theory.ranks import stable_rank as spectral_stable_rank

ROUNDING = 1e-10
SAMPLES, UNITS = 64, 8
DRAWS, DRAWS_THOROUGH = 40, 400
PAPER_MLP_INPUT = (3, 32, 32)
"""Appendix B.1.3's MLP (5 × 128, batch norm) on CIFAR-10 images, the setting of Section 2's cloning sentence."""
MONTE_CARLO_STEPS = 8


def _entropy_rank(weights: np.ndarray) -> float:
    p = weights[weights > 0] / weights.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def _correlation(H: np.ndarray) -> np.ndarray:
    Hc = H - H.mean(0)
    cov = Hc.T @ Hc
    s = 1.0 / np.sqrt(np.diag(cov))
    return cov * s[:, None] * s[None, :]


def _flat(rng: np.random.Generator) -> np.ndarray:
    """Centred, orthonormal columns (a flat spectrum): QR of a column-centred Gaussian matrix."""
    a = rng.standard_normal((SAMPLES, UNITS))
    q, _ = np.linalg.qr(a - a.mean(0))
    return q


def _features(rng: np.random.Generator) -> np.ndarray:
    """A feature matrix with a non-zero mean, unequal unit scales and correlated units."""
    mix = rng.standard_normal((UNITS, UNITS)) * (rng.random(UNITS) < 0.5)[:, None] + np.eye(UNITS)
    return (rng.standard_normal((SAMPLES, UNITS)) @ mix) * rng.uniform(0.2, 3.0, UNITS) + rng.normal(0, 2, UNITS)


ER_QUOTE = ("*Representation diversity metrics* include effective rank, computed as $\\exp(-\\sum_i p_i \\log p_i)$ "
            "where $p_i = \\sigma_i / \\sum_j \\sigma_j$ are normalized singular values from the activation matrix SVD;")
SR_QUOTE = ("stable rank, calculated as $\\|\\tilde{H}\\|_F^4 / \\text{tr}((\\tilde{H}^T \\tilde{H})^2)$ for mean-centered "
            "activations \\tilde{H} ;")


def _matrix_sqrt(G: np.ndarray) -> np.ndarray:
    """(G)^{1/2} of a symmetric PSD matrix, by eigh (negative round-off eigenvalues clipped)."""
    w, v = np.linalg.eigh(G)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


@claim("appendix-B.1.2/effective-rank-is-section-3-er",
       "Appendix B.1.2's effective rank (entropy of normalized singular values of H) is Section 3's Shannon "
       "effective rank er(M) = exp H(λ(M)/tr M) of the feature correlation matrix",
       method="numeric", expected="imprecise", quote=ER_QUOTE, location="Appendix B.1.2, 'Metrics for Analysis'",
       reading="The same name in both places (Figures 3.2, 4.1 plot 'effective rank'); Section 3 applies er to the "
               "eigenvalues of a correlation matrix M, Appendix B.1.2 to the singular values σ of the raw activation "
               "matrix H. A: the same function er, applied to (HᵀH)^{1/2} (whose eigenvalues are σ); B: the same "
               "number as Section 3's er of the matrix the theory speaks of — HᵀH or the correlation matrix corr(H).")
def effective_rank_is_section_3_er(ctx: Context) -> Outcome:
    rng = np.random.default_rng(ctx.seed)
    H = _features(rng)
    sigma = np.linalg.svd(H, compute_uv=False)
    ours = effective_rank(torch.from_numpy(H))
    root = shannon_rank(_matrix_sqrt(H.T @ H))
    gram, corr = shannon_rank(H.T @ H), shannon_rank(_correlation(H))
    agree = max(abs(ours - _entropy_rank(sigma)), abs(ours - root))
    flat = _flat(rng)  # centred, orthonormal columns: every definition gives the number of units
    flat_values = (effective_rank(torch.from_numpy(flat)), shannon_rank(flat.T @ flat), shannon_rank(_correlation(flat)))
    readings = [
        ReadingOutcome("Section 3's er applied to (HᵀH)^{1/2}", "holds" if agree < ROUNDING else "refuted",
                       f"er_B(H) = {ours:.6g} (experiments.metrics) = er((HᵀH)^{{1/2}}) = {root:.6g} (theory.ranks) = "
                       f"exp H(σ/Σσ) on numpy's singular values, to {agree:.1g}"),
        ReadingOutcome("the number Section 3's er gives for HᵀH or corr(H)",
                       "refuted" if min(abs(ours - gram), abs(ours - corr)) > 1e-6 else "holds",
                       f"er(HᵀH) = {gram:.6g}, er(corr(H)) = {corr:.6g} against er_B(H) = {ours:.6g}"),
    ]
    return judge_readings(
        readings, margin=ours - gram,
        detail=f"H: {SAMPLES} × {UNITS} features with a non-zero mean, unequal scales and correlated units (seed "
               f"{ctx.seed}). For centred, orthogonal, equal-norm columns the three agree: "
               f"{', '.join(f'{v:.6g}' for v in flat_values)}.",
        summary=f"the same function, not the same number: er_B(H) = er((HᵀH)^{{1/2}}) = {ours:.4g}, while Section 3's er "
                f"of HᵀH is {gram:.4g} and of corr(H) {corr:.4g}")


@claim("appendix-B.1.2/effective-rank-relations",
       "Corrected: er_B(H) = exp H(σ/Σσ) ≥ er(HᵀH) = exp H(σ²/Σσ²), with equality iff the nonzero singular values are "
       "equal; er_B involves neither centring nor unit normalization, so it is not a function of corr(H)",
       method="numeric", subject="correction", corrects="appendix-B.1.2/effective-rank-is-section-3-er", quote=ER_QUOTE,
       location="Appendix B.1.2, 'Metrics for Analysis'")
def effective_rank_relations(ctx: Context) -> Outcome:
    rng = np.random.default_rng(ctx.seed)
    worst = np.inf
    for _ in range(DRAWS_THOROUGH if ctx.thorough else DRAWS):
        H = _features(rng)
        worst = min(worst, effective_rank(torch.from_numpy(H)) - shannon_rank(H.T @ H))
    q, _ = np.linalg.qr(rng.standard_normal((SAMPLES, UNITS)))
    equal = abs(effective_rank(torch.from_numpy(3.0 * q)) - shannon_rank(9.0 * q.T @ q))
    H = _features(rng)
    scaled = H * rng.uniform(0.1, 10.0, UNITS)  # same correlation matrix, different unit scales
    same_corr = float(np.abs(_correlation(H) - _correlation(scaled)).max())
    moved = abs(effective_rank(torch.from_numpy(H)) - effective_rank(torch.from_numpy(scaled)))
    ok = worst > 0 and equal < ROUNDING and same_corr < 1e-12 and moved > 1e-3
    return Outcome("holds" if ok else "refuted", margin=float(worst),
                   detail=f"min(er_B(H) − er(HᵀH)) = {worst:.3g} > 0 over {DRAWS_THOROUGH if ctx.thorough else DRAWS} "
                          f"random H (squaring the spectrum concentrates it: σ² majorizes σ); equal singular values: "
                          f"|difference| = {equal:.1g}. Rescaling the units leaves corr(H) unchanged ({same_corr:.1g}) but "
                          f"moves er_B by {moved:.3g}.")


@claim("appendix-B.1.2/stable-rank-is-section-3-rank",
       "Appendix B.1.2's stable rank ‖H̃‖_F⁴/tr((H̃ᵀH̃)²) is a stable rank, and one of Section 3's surrogates",
       method="numeric", expected="imprecise", quote=SR_QUOTE, location="Appendix B.1.2, 'Metrics for Analysis'",
       reading="(a) the usual stable rank ‖H̃‖_F²/‖H̃‖_2²; (b) Section 3's Rényi-2 rank er₂(M) = (tr M)²/‖M‖_F² — of "
               "the covariance H̃ᵀH̃ or of the correlation matrix the theory uses.")
def stable_rank_is_section_3_rank(ctx: Context) -> Outcome:
    rng = np.random.default_rng(ctx.seed)
    H = _features(rng)
    Hc = H - H.mean(0)
    sigma = np.linalg.svd(Hc, compute_uv=False)
    ours = gram_renyi2_rank(torch.from_numpy(H))
    closed = float((sigma**2).sum() ** 2 / (sigma**4).sum())
    usual = float((sigma**2).sum() / sigma[0] ** 2)
    cov = renyi2_rank(Hc.T @ Hc)
    corr = renyi2_feature_rank(torch.from_numpy(H))
    theory_sr = spectral_stable_rank(Hc.T @ Hc)
    readings = [
        ReadingOutcome("the usual stable rank ‖H̃‖_F²/‖H̃‖_2²", "holds" if abs(ours - usual) < ROUNDING else "refuted",
                       f"{usual:.6g} against B.1.2's {ours:.6g} (theory.ranks.stable_rank of the Gram, ‖G‖_F²/‖G‖_2² = "
                       f"Σσ⁴/σ_max⁴, is yet another number: {theory_sr:.6g})"),
        ReadingOutcome("Section 3's er₂ of the covariance H̃ᵀH̃",
                       "holds" if max(abs(ours - cov), abs(ours - closed)) < ROUNDING * ours else "refuted",
                       f"B.1.2's value {ours:.6g} (experiments.metrics) = er₂(H̃ᵀH̃) = {cov:.6g} (theory.ranks) = "
                       f"(Σσ²)²/Σσ⁴ on numpy's singular values of H̃ = {closed:.6g}"),
        ReadingOutcome("Section 3's er₂ of the correlation matrix (the quantity Theorem 3.1 bounds)",
                       "holds" if abs(ours - corr) < ROUNDING else "refuted", f"{corr:.6g} against {ours:.6g}"),
    ]
    return judge_readings(
        readings, margin=ours - usual,
        detail=f"H as in appendix-B.1.2/effective-rank-is-section-3-er (seed {ctx.seed}). The name fits neither the "
               "usual stable rank nor the theory's er₂; the formula is Section 3's er₂ applied to the covariance.",
        summary=f"the formula is Section 3's er₂ of the covariance ({ours:.4g}), neither the usual stable rank "
                f"({usual:.4g}) nor er₂ of the correlation matrix Theorem 3.1 bounds ({corr:.4g})")


@claim("appendix-B.1.2/stable-rank-relations",
       "Corrected: B.1.2's stable rank equals er₂(H̃ᵀH̃) (Section 3's Rényi-2 rank of the covariance); it equals er₂ of "
       "the correlation matrix when all units have equal variance, and is ≥ the usual stable rank ‖H̃‖_F²/‖H̃‖_2², "
       "with equality iff the nonzero spectrum is flat",
       method="numeric", subject="correction", corrects="appendix-B.1.2/stable-rank-is-section-3-rank", quote=SR_QUOTE,
       location="Appendix B.1.2, 'Metrics for Analysis'")
def stable_rank_relations(ctx: Context) -> Outcome:
    rng = np.random.default_rng(ctx.seed)
    identity, excess = 0.0, np.inf
    for _ in range(DRAWS_THOROUGH if ctx.thorough else DRAWS):
        H = _features(rng)
        Hc = H - H.mean(0)
        sigma = np.linalg.svd(Hc, compute_uv=False)
        ours = gram_renyi2_rank(torch.from_numpy(H))
        identity = max(identity, abs(ours - renyi2_rank(Hc.T @ Hc)) / ours,
                       abs(ours - (sigma**2).sum() ** 2 / (sigma**4).sum()) / ours)
        excess = min(excess, ours - float((sigma**2).sum() / sigma[0] ** 2))
    H = _features(rng)
    Hc = H - H.mean(0)
    standardized = Hc / np.linalg.norm(Hc, axis=0)
    equal_var = abs(gram_renyi2_rank(torch.from_numpy(standardized)) - renyi2_feature_rank(torch.from_numpy(H)))
    unequal = abs(gram_renyi2_rank(torch.from_numpy(H)) - renyi2_feature_rank(torch.from_numpy(H)))
    flat = _flat(rng)
    fs = np.linalg.svd(flat, compute_uv=False)
    flat_gap = abs(gram_renyi2_rank(torch.from_numpy(flat)) - float((fs**2).sum() / fs[0] ** 2))
    ok = identity < 1e-12 and excess > 0 and equal_var < ROUNDING and unequal > 1e-3 and flat_gap < ROUNDING
    return Outcome("holds" if ok else "refuted", margin=float(excess),
                   detail=f"{DRAWS_THOROUGH if ctx.thorough else DRAWS} random H: B.1.2's stable rank = er₂(H̃ᵀH̃) = "
                          f"(Σσ²)²/Σσ⁴ to {identity:.1g} (relative; experiments.metrics, theory.ranks, numpy SVD); minus "
                          f"the usual stable rank ≥ {excess:.3g} > 0. Standardized units: equal to er₂(corr) to "
                          f"{equal_var:.1g}; raw units: off by {unequal:.3g}. A flat spectrum (centred orthonormal columns) "
                          f"makes the two stable ranks equal to {flat_gap:.1g}.")


# ---------------------------------------------------------------------------- noisy SGD
def _chi_mean(n: int) -> float:
    """E‖ξ‖ for ξ ~ N(0, I_n): √2 Γ((n+1)/2)/Γ(n/2)."""
    return float(math.sqrt(2.0) * math.exp(special.gammaln((n + 1) / 2) - special.gammaln(n / 2)))


@functools.cache
def _noise_measurements(seed: int) -> list[tuple[str, int, float, float]]:
    """(tensor, size n, measured mean ‖ε‖/‖g‖, its chi-distribution expectation σ0·E‖ξ_n‖) for every parameter
    tensor of Appendix B.1.3's MLP under NoisySGD with σ0 = PAPER_SIGMA0 (shared by the paper check and its
    correction)."""
    return [(name, math.prod(shape), _measured_ratio(shape, PAPER_SIGMA0, seed), PAPER_SIGMA0 * _chi_mean(math.prod(shape)))
            for name, shape in _paper_mlp_tensors()]


MONTE_CARLO_TOLERANCE = 4.0 * PAPER_SIGMA0 * math.sqrt(0.5 / MONTE_CARLO_STEPS)
"""4 standard errors of the mean of ‖ε‖/‖g‖ over MONTE_CARLO_STEPS steps (std of ‖ξ‖ → 1/√2, times σ0)."""


@functools.cache
def _measured_ratio(shape: tuple[int, ...], sigma0: float, seed: int) -> float:
    """Mean over MONTE_CARLO_STEPS NoisySGD steps (lr 1, σ_t = σ0) of ‖ε‖/‖g‖ for one tensor with gradient g."""
    gen = torch.Generator().manual_seed(seed)
    p = torch.nn.Parameter(torch.zeros(shape, dtype=torch.float64))
    opt = NoisySGD([p], lr=1.0, sigma0=sigma0, decay=1.0, seed=seed)
    ratios = []
    for _ in range(MONTE_CARLO_STEPS):
        g = torch.randn(shape, generator=gen, dtype=torch.float64)
        before = p.detach().clone()
        p.grad = g.clone()
        opt.step()
        noise = (before - p.detach()) - g
        ratios.append(float(torch.linalg.vector_norm(noise) / torch.linalg.vector_norm(g)))
    return float(np.mean(ratios))


@functools.cache
def _paper_mlp_tensors() -> tuple[tuple[str, tuple[int, ...]], ...]:
    model = build("mlp", PAPER_MLP_INPUT, 10)
    return tuple((name, tuple(p.shape)) for name, p in model.named_parameters())


NOISE_QUOTE = ("Noisy SGD optimizer introduces Gaussian noise $\\epsilon_t \\sim \\mathcal{N}(0, \\sigma_t^2 \\|g_t\\|^2 I)$ "
               "to gradients g_t , where the noise scale $\\sigma_t = \\sigma_0 \\cdot \\lambda^t$ decays over time t from an "
               "initial value σ_0 .")


@claim("appendix-B.1.2/noise-magnitude-relative-to-gradient",
       "Appendix B.1.2's noise N(0, σ²‖g‖²I) with σ0 = 0.01 is Section 2's 'noise magnitude 0.01 relative to gradient "
       "norms'",
       method="numeric", expected="imprecise", quote=NOISE_QUOTE, location="Appendix B.1.2, 'Noisy SGD optimizer'",
       reading="Section 2: 'a single step with noise magnitude 0.01 relative to gradient norms'. (a) magnitude = the "
               "noise norm: ‖ε‖ = 0.01‖g‖; (b) magnitude = σ0, the per-coordinate standard deviation relative to ‖g‖.")
def noise_magnitude_relative_to_gradient(ctx: Context) -> Outcome:
    rows = _noise_measurements(ctx.seed)
    total = sum(n for _, n, _, _ in rows)
    shown = rows[:2] + rows[-2:]
    worst_norm = max(abs(measured - PAPER_SIGMA0) for _, _, measured, _ in rows)
    worst_sigma = max(abs(measured - expected) / MONTE_CARLO_TOLERANCE for _, _, measured, expected in rows)
    readings = [
        ReadingOutcome("magnitude = the noise norm: ‖ε‖ = 0.01‖g‖", "refuted" if worst_norm > MONTE_CARLO_TOLERANCE
                       else "holds",
                       "measured ‖ε‖/‖g‖ per tensor ≈ σ0·√n, not σ0: " + "; ".join(
                           f"{name} (n = {n:,}): {measured:.3g}" for name, n, measured, _ in shown)),
        ReadingOutcome("magnitude = σ0, the per-coordinate standard deviation relative to ‖g‖",
                       "holds" if worst_sigma <= 1.0 else "refuted",
                       f"every tensor's measured ‖ε‖/‖g‖ matches σ0·E‖ξ_n‖ (ξ ~ N(0, I_n)), worst deviation "
                       f"{worst_sigma:.2f} of a 4-standard-error tolerance"),
    ]
    return judge_readings(
        readings, margin=PAPER_SIGMA0 * math.sqrt(total) - PAPER_SIGMA0,
        detail=f"NoisySGD (σ0 = {PAPER_SIGMA0}, λ = 1, lr 1), {MONTE_CARLO_STEPS} steps per tensor shape of Appendix B.1.3's "
               f"MLP on CIFAR-10 (experiments.models.build('mlp', (3, 32, 32), 10), {total:,} parameters); over the whole "
               f"gradient σ0·√p = {PAPER_SIGMA0 * math.sqrt(total):.3g}. Which norm ‖g_t‖ is (per tensor or whole "
               "model) B.1.2 does not say; the project uses per tensor (NoisySGD norm='tensor'). Both readings initiate "
               "escape in the smoke cloning MLP (remark-2.4/single-noisy-step-escape).",
        summary=f"σ0 = 0.01 is the per-coordinate scale; the noise norm is ≈ σ0√n‖g‖ — from "
                f"{min(m for _, _, m, _ in rows):.3g}× to {max(m for _, _, m, _ in rows):.3g}× ‖g‖ per tensor of "
                "B.1.3's MLP, not 0.01×")


@claim("appendix-B.1.2/noise-norm-grows-as-sqrt-dimension",
       "Corrected: for ε ~ N(0, σ²‖g‖²I_n), E‖ε‖ = σ‖g‖·√2Γ((n+1)/2)/Γ(n/2) = σ‖g‖√n(1 − 1/(4n) + …): with σ0 = 0.01 the "
       "noise of B.1.3's MLP is 0.03× (output biases) to 6.3× (first layer) the gradient norm per tensor",
       method="numeric", subject="correction", corrects="appendix-B.1.2/noise-magnitude-relative-to-gradient",
       quote=NOISE_QUOTE, location="Appendix B.1.2, 'Noisy SGD optimizer'")
def noise_norm_grows_as_sqrt_dimension(ctx: Context) -> Outcome:
    rows, worst = [], 0.0
    measurements = _noise_measurements(ctx.seed)
    for name, n, measured, exact in measurements:
        worst = max(worst, abs(measured - exact) / MONTE_CARLO_TOLERANCE)
        if name in ("1.weight", "1.bias", "5.weight") or name.startswith("21."):
            rows.append(f"{name} (n = {n:,}): measured {measured:.4g}, chi mean {exact:.4g}, σ0√n {PAPER_SIGMA0 * math.sqrt(n):.4g}")
    ratios = [PAPER_SIGMA0 * math.sqrt(n) for _, n, _, _ in measurements]
    ok = worst <= 1.0 and 0.03 < min(ratios) < 0.04 and 6.2 < max(ratios) < 6.3
    return Outcome("holds" if ok else "refuted", margin=1.0 - worst,
                   detail=f"NoisySGD (σ0 = {PAPER_SIGMA0}, λ = 1, lr 1) on each tensor shape of build('mlp', (3, 32, 32), 10), "
                          f"{MONTE_CARLO_STEPS} steps each, ‖ε‖/‖g‖ against the chi-distribution mean (worst deviation "
                          f"{worst:.2f} of a 4σ Monte Carlo tolerance): " + "; ".join(rows) + f". Per-tensor σ0√n ranges "
                          f"over [{min(ratios):.3g}, {max(ratios):.3g}].")

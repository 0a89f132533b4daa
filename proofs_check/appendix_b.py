"""Checks of Appendix B.1.2's definitions against the main text: its "effective rank" and "stable rank" against
Section 3's rank surrogates, and its noisy-SGD noise N(0, σ_t²‖g_t‖²I) against Section 2's "noise magnitude
0.01 relative to gradient norms".

The metrics are the project's implementations of both definitions (:mod:`experiments.metrics` for Appendix
B.1.2, :mod:`theory.ranks` for Section 3), each compared with a closed form on singular values computed by
numpy; the noise is the project's optimizer (:class:`experiments.optim.noisy_sgd.NoisySGD`) against the chi
distribution.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special

from experiments.metrics import effective_rank, gram_renyi2_rank, renyi2_feature_rank
from experiments.models import build
from experiments.optim.noisy_sgd import PAPER_SIGMA0, NoisySGD
from proofs_check.registry import Context, Outcome, claim
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


@claim("appendix-B.1.2/effective-rank-is-section-3-er",
       "Appendix B.1.2's effective rank (entropy of normalized singular values of H) is Section 3's Shannon "
       "effective rank er(M) = exp H(λ(M)/tr M) of the feature correlation matrix",
       method="numeric", expected="imprecise", quote=ER_QUOTE, location="Appendix B.1.2, 'Metrics for Analysis'",
       reading="The same name in both places (Figures 3.2, 4.1 plot 'effective rank'); Section 3 applies er to the "
               "eigenvalues of a correlation matrix M, Appendix B.1.2 to the singular values σ of the raw activation "
               "matrix H. Compared: er_B(H) = exp H(σ/Σσ) with (a) er(HᵀH) = exp H(σ²/Σσ²) and (b) er(corr(H)).")
def effective_rank_is_section_3_er(ctx: Context) -> Outcome:
    rng = np.random.default_rng(ctx.seed)
    H = _features(rng)
    sigma = np.linalg.svd(H, compute_uv=False)
    ours = effective_rank(torch.from_numpy(H))
    gram, corr = shannon_rank(H.T @ H), shannon_rank(_correlation(H))
    agree = abs(ours - _entropy_rank(sigma))
    flat = _flat(rng)  # centred, orthonormal columns: every definition gives the number of units
    flat_values = (effective_rank(torch.from_numpy(flat)), shannon_rank(flat.T @ flat), shannon_rank(_correlation(flat)))
    return Outcome("imprecise", margin=ours - gram,
                   detail=f"H: {SAMPLES} × {UNITS} features with a non-zero mean, unequal scales and correlated units (seed "
                          f"{ctx.seed}): Appendix B.1.2's er_B(H) = {ours:.6g} (experiments.metrics; the closed form on numpy's "
                          f"singular values agrees to {agree:.1g}); Section 3's er on (a) HᵀH: {gram:.6g}, on (b) the "
                          f"correlation matrix: {corr:.6g} — three different numbers. For centred, orthogonal, equal-norm "
                          f"columns they agree: {', '.join(f'{v:.6g}' for v in flat_values)}.")


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
    return Outcome("imprecise", margin=ours - usual,
                   detail=f"H as in appendix-B.1.2/effective-rank-is-section-3-er (seed {ctx.seed}): B.1.2's value "
                          f"{ours:.6g} (experiments.metrics; (Σσ²)²/Σσ⁴ on numpy's singular values of H̃: {closed:.6g}) = "
                          f"er₂ of the covariance {cov:.6g}. Reading (a): the usual stable rank of H̃ is {usual:.6g} "
                          f"(theory.ranks.stable_rank of the Gram, ‖G‖_F²/‖G‖_2² = Σσ⁴/σ_max⁴, is yet another number: "
                          f"{theory_sr:.6g}). Reading (b): er₂ of the correlation matrix, the quantity Theorem 3.1 bounds, is "
                          f"{corr:.6g}. The name fits neither exactly; the formula is Section 3's er₂ applied to the "
                          "covariance.")


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


def _paper_mlp_tensors() -> list[tuple[str, tuple[int, ...]]]:
    model = build("mlp", PAPER_MLP_INPUT, 10)
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


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
    rows = []
    tensors = _paper_mlp_tensors()
    total = sum(math.prod(s) for _, s in tensors)
    for name, shape in tensors[:2] + [tensors[-2], tensors[-1]]:
        n = math.prod(shape)
        rows.append(f"{name} {list(shape)}: ‖ε‖/‖g‖ ≈ σ0·√n = {PAPER_SIGMA0 * math.sqrt(n):.3g}")
    return Outcome("imprecise", margin=PAPER_SIGMA0 * math.sqrt(total) - PAPER_SIGMA0,
                   detail=f"With ε ~ N(0, σ²‖g‖²I) in n coordinates, ‖ε‖ ≈ σ√n‖g‖, not σ‖g‖. For Appendix B.1.3's MLP on "
                          f"CIFAR-10 (experiments.models.build('mlp', (3, 32, 32), 10), {total:,} parameters) and "
                          f"σ0 = {PAPER_SIGMA0}: " + "; ".join(rows) + f"; over the whole gradient σ0·√p = "
                          f"{PAPER_SIGMA0 * math.sqrt(total):.3g}. Reading (a) (noise of norm 0.01‖g‖) needs σ0 = 0.01/√n "
                          "and disagrees with B.1.2's σ0 = 0.01 by that factor; reading (b) agrees. Which norm ‖g_t‖ is "
                          "(per tensor or whole model) B.1.2 does not say; the project uses per tensor (NoisySGD norm="
                          "'tensor'). Both readings initiate escape in the smoke cloning MLP "
                          "(remark-2.4/single-noisy-step-escape).")


@claim("appendix-B.1.2/noise-norm-grows-as-sqrt-dimension",
       "Corrected: for ε ~ N(0, σ²‖g‖²I_n), E‖ε‖ = σ‖g‖·√2Γ((n+1)/2)/Γ(n/2) = σ‖g‖√n(1 − 1/(4n) + …): with σ0 = 0.01 the "
       "noise of B.1.3's MLP is 0.03× (output biases) to 6.3× (first layer) the gradient norm per tensor",
       method="numeric", subject="correction", corrects="appendix-B.1.2/noise-magnitude-relative-to-gradient",
       quote=NOISE_QUOTE, location="Appendix B.1.2, 'Noisy SGD optimizer'")
def noise_norm_grows_as_sqrt_dimension(ctx: Context) -> Outcome:
    rows, worst = [], 0.0
    for name, shape in _paper_mlp_tensors():
        n = math.prod(shape)
        exact = PAPER_SIGMA0 * _chi_mean(n)
        measured = _measured_ratio(shape, PAPER_SIGMA0, ctx.seed)
        tolerance = 4.0 * PAPER_SIGMA0 * math.sqrt(0.5 / MONTE_CARLO_STEPS)  # std of ‖ξ‖ → 1/√2
        worst = max(worst, abs(measured - exact) / tolerance)
        if name in ("1.weight", "1.bias", "5.weight") or name.startswith("21."):
            rows.append(f"{name} (n = {n:,}): measured {measured:.4g}, chi mean {exact:.4g}, σ0√n {PAPER_SIGMA0 * math.sqrt(n):.4g}")
    ratios = [PAPER_SIGMA0 * math.sqrt(math.prod(s)) for _, s in _paper_mlp_tensors()]
    ok = worst <= 1.0 and 0.03 < min(ratios) < 0.04 and 6.2 < max(ratios) < 6.3
    return Outcome("holds" if ok else "refuted", margin=1.0 - worst,
                   detail=f"NoisySGD (σ0 = {PAPER_SIGMA0}, λ = 1, lr 1) on each tensor shape of build('mlp', (3, 32, 32), 10), "
                          f"{MONTE_CARLO_STEPS} steps each, ‖ε‖/‖g‖ against the chi-distribution mean (worst deviation "
                          f"{worst:.2f} of a 4σ Monte Carlo tolerance): " + "; ".join(rows) + f". Per-tensor σ0√n ranges "
                          f"over [{min(ratios):.3g}, {max(ratios):.3g}].")

"""Per-layer plasticity metrics of Appendix B.1.2: dead, duplicate and saturated units, ranks, cloning R².

Everything works on a feature matrix H ∈ R^{N×n} (N samples, n units) — for feature maps the channels
are the units and every (sample, position) a row, for tokens every (sample, token) a row — and, for the
backward metrics, the matching gradient matrix G = ∂L/∂H.

* dead unit j:       (1/N) Σ_i 1[|H_ij| < 1e-7] > τ_dead = 0.95;
* duplicate unit j:  max_{k≠j} H̃_jᵀ H̃_k > τ_corr = 0.95 with H̃_j = H_{:,j}/‖H_{:,j}‖ (units with zero
  norm are not counted as duplicates: their direction is undefined);
* saturated unit j:  |G_ij| / max(μ_j, ε) < τ_sat = 1e-4 for more than p_sat = 99 % of the samples,
  μ_j = (1/N) Σ_i |H_ij|;
* effective rank:    exp(−Σ p_i log p_i), p_i = σ_i / Σ σ_j, singular values of H;
* Gram Rényi-2 rank: ‖H̃‖_F⁴ / tr((H̃ᵀH̃)²) for mean-centred H̃ = er₂(H̃ᵀH̃) (theory.ranks.renyi2_rank).
  Appendix B.1.2 calls this the "stable rank"; it is the Rényi-2 effective rank of the centred Gram
  matrix, NOT ``theory.ranks.stable_rank`` (‖M‖_F²/‖M‖₂²), hence its name here (:func:`gram_renyi2_rank`);
* Rényi-2 rank:      er₂ of the feature correlation matrix, (tr C)² / ‖C‖_F² (Section 3);
* cloning R²:        1 − Σ_ij (H_ij − H̄_{i,b(j)})² / Σ_ij (H_ij − H̄)², H̄_{i,b} the mean over the
  units of block b for sample i, H̄ the mean of the whole layer (1 ⇔ clones identical).

:func:`layer_features` collects H (and G) through hooks that are removed before it returns; nothing is
kept between calls. Subsampling of rows is deterministic (a seeded permutation). :func:`stratified_indices`
builds a metric batch that mixes all classes. A feature matrix with NaN or ±inf entries (a diverged model)
is a :class:`NonFiniteFeatures` error, never a LinAlgError from deep inside an SVD.
:class:`RunningAccuracy` is the small stateful metric (``update``, ``result``, ``reset``) of online
accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from experiments.cloning.profile import Profile
from experiments.models.layers import Elementwise
from experiments.models.vit import TransformerBlock, ViT
from theory.ranks import renyi2_rank

DEAD_TOL = 1e-7
TAU_DEAD = 0.95
TAU_CORR = 0.95
TAU_SAT = 1e-4
P_SAT = 0.99
SAT_EPS = 1e-12
MAX_ROWS = 2048
"""Rows of H kept (deterministic subsample) before SVDs and Gram matrices."""


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of Appendix B.1.2 (paper defaults)."""

    dead_tol: float = DEAD_TOL
    tau_dead: float = TAU_DEAD
    tau_corr: float = TAU_CORR
    tau_sat: float = TAU_SAT
    p_sat: float = P_SAT
    sat_eps: float = SAT_EPS


def dead_fraction(H: torch.Tensor, tol: float = DEAD_TOL, tau: float = TAU_DEAD) -> float:
    """Fraction of units j with (1/N) Σ_i 1[|H_ij| < tol] > tau."""
    _check_matrix(H)
    return float(((H.abs() < tol).double().mean(0) > tau).double().mean())


def duplicate_fraction(H: torch.Tensor, tau: float = TAU_CORR) -> float:
    """Fraction of units j with some k ≠ j and cosine(H_{:,j}, H_{:,k}) > tau."""
    _check_matrix(H)
    Hd = H.double()
    norms = torch.linalg.vector_norm(Hd, dim=0)
    alive = norms > 0
    Hn = Hd / torch.where(alive, norms, torch.ones_like(norms))
    cos = Hn.T @ Hn
    cos.fill_diagonal_(-np.inf)
    cos[~alive, :] = -np.inf
    cos[:, ~alive] = -np.inf
    return float((cos.max(dim=1).values > tau).double().mean()) if H.shape[1] > 1 else 0.0


def saturated_fraction(
    H: torch.Tensor, G: torch.Tensor, tau: float = TAU_SAT, p: float = P_SAT, eps: float = SAT_EPS
) -> float:
    """Fraction of units j with |G_ij| / max(μ_j, eps) < tau for more than a fraction p of the samples."""
    _check_matrix(H)
    if G.shape != H.shape:
        raise ValueError(f"G must have the shape of H {tuple(H.shape)}, got {tuple(G.shape)}")
    if not bool(torch.isfinite(G).all()):
        raise NonFiniteFeatures("the gradient matrix G has NaN or inf entries (a diverged model?)")
    mu = H.double().abs().mean(0).clamp_min(eps)
    ratio = G.double().abs() / mu
    return float(((ratio < tau).double().mean(0) > p).double().mean())


def effective_rank(H: torch.Tensor) -> float:
    """exp(−Σ p_i log p_i), p_i = σ_i / Σ_j σ_j over the singular values of H (0 for H = 0)."""
    _check_matrix(H)
    s = torch.linalg.svdvals(H.double())
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s[s > 0] / total
    return float(torch.exp(-(p * p.log()).sum()))


def gram_renyi2_rank(H: torch.Tensor) -> float:
    """‖H̃‖_F⁴ / tr((H̃ᵀH̃)²) for mean-centred H̃ = er₂(H̃ᵀH̃) (0 for constant H): the "stable rank" of
    Appendix B.1.2, which is the Rényi-2 rank of the centred Gram matrix (not ‖M‖_F²/‖M‖₂²)."""
    _check_matrix(H)
    Hc = H.double() - H.double().mean(0, keepdim=True)
    gram = (Hc.T @ Hc).cpu().numpy()
    return float(renyi2_rank(gram)) if np.abs(gram).max() > 0 else 0.0


def renyi2_feature_rank(H: torch.Tensor) -> float:
    """er₂(C) = (tr C)² / ‖C‖_F² of the correlation matrix of the non-constant units of H (Section 3)."""
    _check_matrix(H)
    Hc = H.double() - H.double().mean(0, keepdim=True)
    std = torch.linalg.vector_norm(Hc, dim=0)
    keep = std > 0
    if not bool(keep.any()):
        return 0.0
    Z = Hc[:, keep] / std[keep]
    return float(renyi2_rank((Z.T @ Z).cpu().numpy()))


def cloning_r2(H: torch.Tensor, profile: Profile) -> float:
    """1 − SS(H − block mean per sample) / SS(H − layer mean); ``profile`` maps units to blocks."""
    _check_matrix(H)
    if profile.n_clone != H.shape[1]:
        raise ValueError(f"profile covers {profile.n_clone} units, H has {H.shape[1]}")
    Hd = H.double()
    block_mean = profile.gather(profile.block_mean(Hd, 1), 1)
    total = ((Hd - Hd.mean()) ** 2).sum()
    if total <= 0:
        return 1.0
    return float(1.0 - ((Hd - block_mean) ** 2).sum() / total)


class NonFiniteFeatures(ValueError):
    """A feature or gradient matrix holds NaN or ±inf: its metrics are undefined (the model diverged)."""


def _check_matrix(H: torch.Tensor) -> None:
    if not isinstance(H, torch.Tensor) or H.dim() != 2 or H.shape[0] < 1 or H.shape[1] < 1:
        raise ValueError(f"expected a non-empty [samples, units] matrix, got {getattr(H, 'shape', type(H))}")
    if not bool(torch.isfinite(H).all()):
        raise NonFiniteFeatures(
            f"the feature matrix ({H.shape[0]}×{H.shape[1]}) has NaN or inf entries (a diverged model?)"
        )


def stratified_indices(labels: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` indices mixing every class as evenly as possible (round-robin over seeded per-class orders);
    ``n`` larger than the number of samples is a ValueError (the batch would silently be smaller)."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    if n > len(labels):
        raise ValueError(f"a metric batch of {n} exceeds the {len(labels)} samples it is drawn from")
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(labels)
    pools = [torch.nonzero(labels == c).flatten() for c in classes]
    pools = [p[torch.randperm(len(p), generator=g)] for p in pools]
    out: list[int] = []
    depth = 0
    while len(out) < n and any(depth < len(p) for p in pools):
        out += [int(p[depth]) for p in pools if depth < len(p)]
        depth += 1
    return torch.tensor(out[:n], dtype=torch.long)


def feature_layers(model: nn.Module) -> list[str]:
    """Names of the representation layers, in forward order: every activation module's output (the hidden
    units); for a ViT also every transformer block's output (the residual stream) and, last, the final
    norm."""
    names = []
    for name, m in model.named_modules():
        if isinstance(m, (Elementwise, TransformerBlock)):
            names.append(name)
    if isinstance(model, ViT):
        # a block's name precedes its children in named_modules(); put it after them (forward order)
        names = sorted(names, key=lambda n: (int(n.split(".")[1]), n.count(".") == 1))
        names.append("norm")
    return names


def as_rows(t: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] → [B·H·W, C]; [B, N, D] → [B·N, D]; [B, D] unchanged."""
    if t.dim() == 4:
        return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])
    return t.reshape(-1, t.shape[-1])


def layer_features(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None = None,
    layers: list[str] | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(outputs, H per layer, G per layer) in eval mode; G only when ``targets`` is given.

    Hooks are removed before returning; parameters' .grad are left untouched (autograd.grad is used).
    Rows are subsampled to ``max_rows`` with a permutation seeded by ``seed`` (same rows for every layer
    of the same shape, and for base and clone).
    """
    layers = feature_layers(model) if layers is None else layers
    modules = dict(model.named_modules())
    unknown = [n for n in layers if n not in modules]
    if unknown:
        raise ValueError(f"unknown layers {unknown}; modules: {list(modules)[:20]}…")
    captured: dict[str, torch.Tensor] = {}
    hooks = [
        modules[n].register_forward_hook(lambda _m, _i, out, n=n: captured.__setitem__(n, out))
        for n in layers
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.set_grad_enabled(targets is not None):
            out = model(inputs)
            grads: dict[str, torch.Tensor] = {}
            if targets is not None:
                tensors = [captured[n] for n in layers]
                gs = torch.autograd.grad(loss_fn(out, targets), tensors, allow_unused=True)
                grads = {
                    n: (g if g is not None else torch.zeros_like(t)) for n, t, g in zip(layers, tensors, gs)
                }
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    feats = {n: _subsample(as_rows(captured[n].detach()), max_rows, seed) for n in layers}
    grad_rows = {n: _subsample(as_rows(g.detach()), max_rows, seed) for n, g in grads.items()}
    return out.detach(), feats, grad_rows


def _subsample(rows: torch.Tensor, max_rows: int, seed: int) -> torch.Tensor:
    if rows.shape[0] <= max_rows:
        return rows
    g = torch.Generator().manual_seed(seed)
    return rows[torch.randperm(rows.shape[0], generator=g)[:max_rows].to(rows.device)]


def layer_summary(
    H: torch.Tensor, G: torch.Tensor | None, thresholds: Thresholds = Thresholds()
) -> dict[str, float]:
    """Every single-layer metric of the module docstring for one (H, G) pair."""
    out = {
        "dead": dead_fraction(H, thresholds.dead_tol, thresholds.tau_dead),
        "duplicate": duplicate_fraction(H, thresholds.tau_corr),
        "effective_rank": effective_rank(H),
        "gram_renyi2_rank": gram_renyi2_rank(H),
        "renyi2_rank": renyi2_feature_rank(H),
    }
    if G is not None:
        out["saturated"] = saturated_fraction(H, G, thresholds.tau_sat, thresholds.p_sat, thresholds.sat_eps)
    return out


def clone_r2_by_layer(
    feats: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], profiles: dict[str, Profile]
) -> dict[str, float]:
    """Forward and backward cloning R² per layer: keys ``<layer>/forward`` and ``<layer>/backward``."""
    out = {}
    for name, profile in profiles.items():
        out[f"{name}/forward"] = cloning_r2(feats[name], profile)
        if name in grads:
            out[f"{name}/backward"] = cloning_r2(grads[name], profile)
    return out


def prediction_agreement(clone_logits: torch.Tensor, base_logits: torch.Tensor) -> float:
    """Fraction of samples on which clone and base predict the same class."""
    return float((clone_logits.argmax(-1) == base_logits.argmax(-1)).double().mean())


class RunningAccuracy:
    """Sample-weighted running accuracy (and mean loss): ``update``, ``result``, ``reset``.

    ``correct``, ``seen`` and ``loss_sum`` are its whole state."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct, self.seen, self.loss_sum = 0, 0, 0.0

    def update(self, correct: int, count: int, loss: float) -> None:
        self.correct += int(correct)
        self.seen += int(count)
        self.loss_sum += float(loss) * int(count)

    def result(self) -> dict[str, float]:
        if self.seen == 0:
            return {}
        return {"accuracy": self.correct / self.seen, "loss": self.loss_sum / self.seen}

"""Representation metrics of many runs at once on a fixed probe batch (Appendix B.1.2, "Metrics").

Features are H [R, P, n]: n hidden units of each of R runs on P probe inputs. Each run has its own probe
batch, drawn from its own ``"probe"`` stream (:func:`run_probe_inputs`), so a run's metrics depend on
its seed only, never on the other runs of the study or the study's base seed (tested). These are batched
numpy forms of the single-matrix definitions in :mod:`experiments.metrics` (same thresholds, imported
from there), tested against those functions run by run.

* effective rank (Roy & Vetterli 2007; Appendix B.1.2): exp(−Σ_i p_i log p_i), p_i = σ_i / Σ_j σ_j over
  the singular values σ of H (uncentered); 0 for H = 0. The σ are √ of the eigenvalues of the Gram
  matrix HᵀH (float64, negatives from rounding clipped to 0): for a P×n matrix with P ≫ n this is
  far cheaper than an SVD and differs from it only in singular values below ~1e-8·σ_max, whose weight in
  the entropy is negligible (tested against an SVD at ``EFFECTIVE_RANK_TOL``);
* duplicate fraction: units j, k are duplicates when H̃_jᵀH̃_k > τ_corr = 0.95 with H̃_j = H_{:,j}/‖H_{:,j}‖;
  the fraction of units that duplicate at least one other unit. Units with ‖H_{:,j}‖ = 0 (dead on the
  whole probe batch) have no direction and are never counted as duplicates;
* dead fraction: units whose |activation| < 1e-7 on more than τ_dead = 95% of the probe samples.
"""

from __future__ import annotations

import numpy as np
import torch

from experiments.bitflip.task import run_streams
from experiments.metrics import DEAD_TOL as DEAD_ACTIVATION
from experiments.metrics import TAU_CORR as DUPLICATE_COSINE
from experiments.metrics import TAU_DEAD as DEAD_FRACTION_OF_SAMPLES

EFFECTIVE_RANK_TOL = 1e-6  # Gram-eigenvalue route vs SVD, relative (see tests)


def probe_inputs(num_bits: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A fixed probe batch [size, m+1]: every bit uniform in {0,1} (all flip states covered), bias bit 1."""
    inputs = np.ones((size, num_bits + 1))
    inputs[:, :num_bits] = rng.integers(0, 2, size=(size, num_bits))
    return inputs


def run_probe_inputs(seeds: list[int], num_bits: int, size: int) -> np.ndarray:
    """Each run's fixed probe batch [R, size, m+1] (uint8), from the ``"probe"`` stream of its own seed."""
    if size < 1:
        raise ValueError(f"probe size must be >= 1, got {size}")
    batches = [probe_inputs(num_bits, size, run_streams(seed)["probe"]) for seed in seeds]
    return np.stack(batches).astype(np.uint8)


def _gram(features: np.ndarray) -> np.ndarray:
    """HᵀH per run in float64 (torch's batched product: 4× numpy's stacked matmul at 70 × 1000 × 100)."""
    h = torch.from_numpy(features.astype(np.float64))
    return torch.bmm(h.transpose(1, 2), h).numpy()


def effective_rank(features: np.ndarray) -> np.ndarray:
    """exp(entropy of σ/Σσ) per run for H [R, P, n] (module docstring); returns [R]."""
    return _effective_rank_from_gram(_gram(features))


def _effective_rank_from_gram(gram: np.ndarray) -> np.ndarray:
    sigma = np.sqrt(np.clip(torch.linalg.eigvalsh(torch.from_numpy(gram)).numpy(), 0.0, None))
    total = sigma.sum(axis=1, keepdims=True)
    p = np.divide(sigma, total, out=np.zeros_like(sigma), where=total > 0)
    entropy = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)
    return np.where(total[:, 0] > 0, np.exp(entropy), 0.0)


def duplicate_fraction(features: np.ndarray, threshold: float = DUPLICATE_COSINE) -> np.ndarray:
    """Fraction of units with cosine > ``threshold`` to another unit, per run; H [R, P, n] → [R]."""
    return _duplicate_fraction_from_gram(_gram(features), threshold)


def _duplicate_fraction_from_gram(gram: np.ndarray, threshold: float) -> np.ndarray:
    norms = np.sqrt(np.einsum("rii->ri", gram))
    alive = norms > 0
    safe = np.where(alive, norms, 1.0)
    cosine = gram / safe[:, :, None] / safe[:, None, :]
    n = gram.shape[1]
    off_diagonal = ~np.eye(n, dtype=bool)
    similar = (cosine > threshold) & off_diagonal & alive[:, :, None] & alive[:, None, :]
    return similar.any(axis=2).mean(axis=1)


def feature_metrics(features: np.ndarray) -> dict[str, np.ndarray]:
    """Effective rank, duplicate fraction and dead fraction per run, sharing one Gram matrix; H [R, P, n]."""
    gram = _gram(features)
    return {
        "effective_rank": _effective_rank_from_gram(gram),
        "duplicate_fraction": _duplicate_fraction_from_gram(gram, DUPLICATE_COSINE),
        "dead_fraction": dead_fraction(features),
    }


def dead_fraction(features: np.ndarray) -> np.ndarray:
    """Fraction of units inactive (|h| < 1e-7) on more than 95% of probe samples, per run; → [R]."""
    inactive = (np.abs(features) < DEAD_ACTIVATION).mean(axis=1)
    return (inactive > DEAD_FRACTION_OF_SAMPLES).mean(axis=1)

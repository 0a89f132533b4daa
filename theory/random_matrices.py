"""Seeded random correlation matrices for the property tests of Theorem 3.1 (Section 3).

The specification asks for Theorem 3.1 to be tested "over random correlation matrices ... including
degenerate ones: entries 0 and ±1, block structures". :func:`sample_correlation` draws one d×d
correlation matrix of a given kind from a numpy ``Generator``:

* ``gram``: normalized Gram matrix of d Gaussian vectors in R^d (full rank almost surely);
* ``low-rank``: the same in R^k, k < d (singular C);
* ``mixed-identity``: (1 − λ)I + λ·(low-rank), λ ~ U(0, 1);
* ``clones``: m < d distinct features (a low-rank Gram matrix B), each of the d features a signed copy
  of one of them: C_ij = s_i s_j B_{π(i)π(j)}, so cloned pairs have C_ij = ±1 *exactly*;
* ``zero-one-blocks``: signed block structure with entries in {0, ±1} only (Ψ(C) = 0);
* ``cloned-blocks``: a block-diagonal B (≥ 2 blocks, each a Gram matrix of random rank, so exact zeros
  between blocks) expanded by signed cloning as in ``clones``: exact 0, exact ±1 and generic entries in
  one matrix.

:class:`CorrelationSpec` names one draw (seed, dimension, kind) so that a result can be re-run, and
:func:`correlation_specs` is the hypothesis strategy over specs shared by the tests and by
``proofs_check``. Hypothesis is a test extra, not a runtime dependency: it is imported only when
:func:`correlation_specs` is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CORRELATION_KINDS = ("gram", "low-rank", "mixed-identity", "clones", "zero-one-blocks", "cloned-blocks")
MAX_DIMENSION = 10_000
"""Largest d accepted by :func:`sample_correlation` (a d×d float64 matrix: 800 MB at the limit)."""
SEED_RANGE = 2**32 - 1
"""Seeds drawn by :func:`correlation_specs` lie in [0, SEED_RANGE] (numpy ``default_rng`` accepts any)."""


def _unit_rows(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    F = rng.standard_normal((n, k))
    return F / np.linalg.norm(F, axis=1, keepdims=True)


def _gram(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Gram matrix of n random unit vectors in R^k, exact unit diagonal."""
    F = _unit_rows(rng, n, k)
    C = np.clip(F @ F.T, -1.0, 1.0)
    np.fill_diagonal(C, 1.0)
    return C


def _block_diagonal(rng: np.random.Generator, m: int) -> np.ndarray:
    """A block-diagonal m×m correlation matrix with ≥ 2 blocks (m ≥ 2), each block of random rank."""
    cuts = np.sort(rng.choice(np.arange(1, m), size=int(rng.integers(1, m)), replace=False))
    B = np.zeros((m, m))
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, m]):
        n = int(hi - lo)
        B[lo:hi, lo:hi] = _gram(rng, n, int(rng.integers(1, n + 1)))
    return B


def _clone_expand(rng: np.random.Generator, B: np.ndarray, d: int) -> np.ndarray:
    """C_ij = s_i s_j B_{π(i)π(j)}: every base feature used at least once, signs s ∈ {±1}, order shuffled."""
    m = len(B)
    source = rng.permutation(np.r_[np.arange(m), rng.integers(0, m, size=d - m)])
    signs = rng.choice([-1.0, 1.0], size=d)
    C = np.outer(signs, signs) * B[np.ix_(source, source)]
    np.fill_diagonal(C, 1.0)
    return C


def sample_correlation(rng: np.random.Generator, d: int, kind: str) -> np.ndarray:
    """A random d×d correlation matrix of one of :data:`CORRELATION_KINDS` (module docstring)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 2 <= d <= MAX_DIMENSION:
        raise ValueError(f"dimension must be an integer in [2, {MAX_DIMENSION}], got {d!r}")
    if kind not in CORRELATION_KINDS:
        raise ValueError(f"unknown correlation kind {kind!r}; valid choices: {', '.join(CORRELATION_KINDS)}")
    d = int(d)
    if kind == "gram":
        return _gram(rng, d, d)
    if kind == "low-rank":
        return _gram(rng, d, int(rng.integers(1, d)))
    if kind == "mixed-identity":
        lam = float(rng.uniform())
        C = (1.0 - lam) * np.eye(d) + lam * _gram(rng, d, int(rng.integers(1, d)))
        np.fill_diagonal(C, 1.0)
        return C
    if kind == "zero-one-blocks":
        F = np.zeros((d, max(1, d // 2)))
        F[np.arange(d), rng.integers(0, F.shape[1], size=d)] = rng.choice([-1.0, 1.0], size=d)
        return F @ F.T
    m = int(rng.integers(1, d)) if kind == "clones" else int(rng.integers(2, d + 1))
    base = _gram(rng, m, int(rng.integers(1, m + 1))) if kind == "clones" else _block_diagonal(rng, m)
    return _clone_expand(rng, base, d)


@dataclass(frozen=True)
class CorrelationSpec:
    """One reproducible draw: ``sample_correlation(np.random.default_rng(seed), dim, kind)``."""

    seed: int
    dim: int
    kind: str

    def matrix(self) -> np.ndarray:
        return sample_correlation(np.random.default_rng(self.seed), self.dim, self.kind)

    def __str__(self) -> str:
        return f"sample_correlation(np.random.default_rng({self.seed}), {self.dim}, {self.kind!r})"


def correlation_specs(min_dim: int = 2, max_dim: int = 8, kinds: Sequence[str] = CORRELATION_KINDS) -> Any:
    """Hypothesis strategy over :class:`CorrelationSpec` (seed, dimension in [min_dim, max_dim], kind).

    Raises ImportError when hypothesis (a test extra) is not installed.
    """
    unknown = [k for k in kinds if k not in CORRELATION_KINDS]
    if unknown or not kinds:
        raise ValueError(
            f"kinds {list(kinds)!r} must be a non-empty subset of {', '.join(CORRELATION_KINDS)}"
        )
    if not 2 <= min_dim <= max_dim:
        raise ValueError(f"need 2 ≤ min_dim ≤ max_dim, got min_dim={min_dim}, max_dim={max_dim}")
    from hypothesis import strategies as st

    return st.builds(
        CorrelationSpec,
        seed=st.integers(0, SEED_RANGE),
        dim=st.integers(min_dim, max_dim),
        kind=st.sampled_from(tuple(kinds)),
    )

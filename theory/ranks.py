"""Smooth rank surrogates and the decorrelation potential (Section 3, Theorem 3.1).

* Rényi-2 effective rank er₂(M) = (tr M)²/‖M‖_F² (Section 3; the proof of Theorem 3.1 in Appendix A.1
  misprints it as (tr M²)/‖M‖_F², which equals 1 for every symmetric M);
* Shannon effective rank er(M) = exp(H(λ/tr M)), H the entropy of the normalized eigenvalues (Section 3);
* stable rank ‖M‖_F²/‖M‖_2²;
* decorrelation potential Ψ(C) = Σ_{i≠j} C_ij²(1 − C_ij²) (Theorem 3.1).

:func:`validate_correlation` checks that C is a correlation matrix (symmetric, unit diagonal, finite, entries
in [−1, 1], positive semi-definite within ``PSD_TOLERANCE``) and names the first violated condition.
"""

from __future__ import annotations

import numpy as np

SYMMETRY_TOLERANCE = 1e-10
DIAGONAL_TOLERANCE = 1e-10
PSD_TOLERANCE = 1e-8  # smallest eigenvalue may be ≥ −PSD_TOLERANCE·d (rounding of a singular C)
ENTRY_TOLERANCE = 1e-12


def _square(M: np.ndarray, what: str) -> np.ndarray:
    try:
        arr = np.asarray(M, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a non-empty square matrix of real numbers, got {M!r:.60}") from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"{what} must be a non-empty square matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} has non-finite entries")
    return arr


def _symmetric(M: np.ndarray, what: str) -> np.ndarray:
    arr = _square(M, what)
    scale = max(1.0, float(np.max(np.abs(arr))))
    if np.max(np.abs(arr - arr.T)) > SYMMETRY_TOLERANCE * scale:
        raise ValueError(f"{what} must be symmetric (max |M − Mᵀ| = {np.max(np.abs(arr - arr.T)):.3g})")
    return 0.5 * (arr + arr.T)


def validate_correlation(C: np.ndarray) -> np.ndarray:
    """Return C (symmetrized, float64) if it is a correlation matrix, else raise ValueError saying why."""
    arr = _symmetric(C, "correlation matrix")
    diag_err = np.max(np.abs(np.diag(arr) - 1.0))
    if diag_err > DIAGONAL_TOLERANCE:
        raise ValueError(f"correlation matrix must have unit diagonal (max |C_ii − 1| = {diag_err:.3g})")
    if np.max(np.abs(arr)) > 1.0 + ENTRY_TOLERANCE:
        raise ValueError(
            f"correlation matrix entries must lie in [-1, 1] (max |C_ij| = {np.max(np.abs(arr)):.6g})"
        )
    smallest = float(np.linalg.eigvalsh(arr)[0])
    if smallest < -PSD_TOLERANCE * arr.shape[0]:
        raise ValueError(
            f"correlation matrix must be positive semi-definite (smallest eigenvalue {smallest:.3g})"
        )
    out = np.clip(arr, -1.0, 1.0)
    np.fill_diagonal(out, 1.0)
    return out


def _nonzero_frobenius(arr: np.ndarray, what: str) -> float:
    fro2 = float(np.sum(arr * arr))
    if fro2 == 0.0:
        raise ValueError(f"{what} is the zero matrix; its effective rank is undefined")
    return fro2


def _nonnegative_diagonal(arr: np.ndarray) -> np.ndarray:
    """A PSD matrix has M_ii ≥ 0: the necessary check, free of an eigendecomposition."""
    if np.min(np.diag(arr)) < 0.0:
        raise ValueError(
            f"matrix must be positive semi-definite (diagonal entry {np.min(np.diag(arr)):.3g} < 0)"
        )
    return arr


def renyi2_rank(M: np.ndarray) -> float:
    """er₂(M) = (tr M)²/‖M‖_F² (Section 3) for a symmetric PSD matrix M (a negative diagonal is rejected)."""
    arr = _nonnegative_diagonal(_symmetric(M, "matrix"))
    return float(np.trace(arr) ** 2 / _nonzero_frobenius(arr, "matrix"))


def shannon_rank(M: np.ndarray) -> float:
    """er(M) = exp(H(p)), p = λ(M)/tr M, H(p) = −Σ p_i log p_i (Section 3); rounding-negative λ (above
    −``PSD_TOLERANCE``·d·max|λ|) are set to 0, more negative ones rejected."""
    arr = _symmetric(M, "matrix")
    eigenvalues = np.linalg.eigvalsh(arr)
    floor = -PSD_TOLERANCE * arr.shape[0] * max(1e-300, float(np.max(np.abs(eigenvalues))))
    if eigenvalues[0] < floor:
        raise ValueError(f"matrix must be positive semi-definite (smallest eigenvalue {eigenvalues[0]:.3g})")
    lam = np.clip(eigenvalues, 0.0, None)
    total = float(lam.sum())
    if total <= 0.0:
        raise ValueError("matrix has zero trace; its Shannon effective rank is undefined")
    p = lam[lam > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def stable_rank(M: np.ndarray) -> float:
    """‖M‖_F²/‖M‖_2² for a symmetric matrix M."""
    arr = _symmetric(M, "matrix")
    fro2 = _nonzero_frobenius(arr, "matrix")
    return float(fro2 / np.max(np.abs(np.linalg.eigvalsh(arr))) ** 2)


def decorrelation_potential(C: np.ndarray) -> float:
    """Ψ(C) = Σ_{i≠j} C_ij²(1 − C_ij²) (Theorem 3.1)."""
    arr = validate_correlation(C)
    sq = arr * arr
    off = sq * (1.0 - sq)
    np.fill_diagonal(off, 0.0)
    return float(off.sum())

"""Extreme eigenvalues, with multiplicity, of a symmetric operator restricted to a subspace (Appendix A.5).

The operator A maps a subspace S ⊂ ℝ^P into itself (here A = P_N ∇²L P_N and S = N, the normal space of
a LoP manifold; :class:`~dag_nets.curvature.NormalHessian`); we want the k smallest and k largest
eigenvalues of A on S, counted with multiplicity.

Why deflation. A cloned network has exact permutation symmetries (a block of size 3 can be permuted),
so eigenvalues of A on S come in equal copies. Single-vector Lanczos (ARPACK ``eigsh``) sees only the
component of its start vector in each eigenspace: in exact arithmetic it finds *one* copy of every
eigenvalue, and in floating point it finds the others only by luck. We therefore search in rounds:

1. σ = SHIFT_MARGIN · ρ̂, with ρ̂ the spectral radius of A on S estimated by a first, coarse ``eigsh``.
2. Round r runs ``eigsh`` (smallest algebraic) on  B = P' A P' + σ (I − P'),  where P' = P_S − Q Qᵀ
   projects onto S ∩ Q^⊥ and Q holds the orthonormal eigenvectors found so far: B has A's spectrum on
   S ∩ Q^⊥ and σ (beyond that spectrum) everywhere else, so the tangent space and the pairs already
   found cannot mask what is left. The start vector is a fresh seeded Gaussian in S ∩ Q^⊥.
3. Everything found is added to Q; a round that finds nothing below the current k-th smallest
   (less the slack δ) ends the search. By Cauchy interlacing the compression to S ∩ Q^⊥ has no ghost
   copies of what Q already holds, so any value it finds below the k-th is a copy that was missed.
4. Rayleigh–Ritz on all of Q: the eigenvalues μ of Qᵀ A Q with residual R = A Q W − Q W diag(μ).

Certificate. By Kahan's theorem (for symmetric A and orthonormal Q, Parlett, *The Symmetric Eigenvalue
Problem*, Thm 11.5.2) there are |Q| eigenvalues of A on S — distinct indices, so multiplicity counts —
each within ‖R‖₂ of one μ: the values and the multiplicities returned are eigenvalues of A to ±‖R‖₂,
rigorously. That they are the *extreme* ones rests on the last round: a Lanczos run from a random start
converged to the smallest eigenvalue of A on S ∩ Q^⊥ and found it above μ_k − δ (a random Gaussian start
has a nonzero component in every eigenspace with probability 1; this half is probabilistic, not a
proof). ``certified`` is True when both hold at both ends: the last round confirmed the window and
‖R‖₂ ≤ δ. The k largest are the k smallest of −A.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import scipy.sparse.linalg as sla
import torch

RADIUS_TOL = 1e-3
"""Relative accuracy of the spectral-radius estimate ρ̂ (only σ depends on it)."""
SHIFT_MARGIN = 1.5
"""σ = SHIFT_MARGIN · ρ̂ puts the masked directions safely beyond both ends of the spectrum."""
MAX_ROUNDS = 12
"""Deflation rounds per end; a search that needs more ends uncertified (``certified`` False)."""
WINDOW_RTOL = 1e-8
"""Slack δ = max(WINDOW_RTOL, 10·tol) · σ: a value found within δ of the k-th does not change the k extremes,
and the Rayleigh–Ritz bound ‖R‖₂ must be ≤ δ for ``certified``."""


class SubspaceOperator(Protocol):
    """A symmetric operator A that maps a subspace S of ℝ^size into itself (e.g. NormalHessian)."""

    size: int
    dimension: int  # dim S
    dtype: torch.dtype
    device: torch.device

    def project(self, v: torch.Tensor) -> torch.Tensor: ...  # P_S along dim 0

    def apply_in_subspace(self, v: torch.Tensor) -> torch.Tensor: ...  # A v for v ∈ S


@dataclass
class EndResult:
    """The k extreme eigenvalues at one end (ascending), with what certifies them."""

    values: np.ndarray
    residual_bound: float  # ‖R‖₂ of the Rayleigh–Ritz step over every vector found at this end
    rounds: int
    confirmed: bool  # the last deflated round found nothing new inside the window
    found: int  # eigenpairs found at this end (all of them enter the Rayleigh–Ritz step)


@dataclass
class Extremes:
    """k smallest and k largest eigenvalues of A on S (ascending each), with multiplicity."""

    smallest: EndResult
    largest: EndResult
    shift: float
    radius_estimate: float
    window: float  # the slack δ
    certified: bool
    multiplicities: list[tuple[float, int]] = field(default_factory=list)

    @property
    def values(self) -> np.ndarray:
        return np.concatenate([self.smallest.values, self.largest.values])


class _Deflated:
    """B = P' (sign·A) P' + σ (I − P'),  P' = P_S − Q Qᵀ, as a scipy LinearOperator (float64 vectors).

    The float64 CPU case works on the numpy arrays ARPACK passes without copying them."""

    def __init__(self, op: SubspaceOperator, sign: float, shift: float, Q: torch.Tensor) -> None:
        self.op, self.sign, self.shift, self.Q = op, sign, shift, Q
        self.zero_copy = op.dtype == torch.float64 and op.device.type == "cpu"

    def project(self, v: torch.Tensor) -> torch.Tensor:
        pv = self.op.project(v)
        if self.Q.shape[1]:
            pv = pv - self.Q @ (self.Q.T @ pv)
        return pv

    def apply(self, v: torch.Tensor) -> torch.Tensor:
        pv = self.project(v)
        out = self.op.apply_in_subspace(pv)
        if self.Q.shape[1]:
            out = out - self.Q @ (self.Q.T @ out)
        out = out.mul_(self.sign) if self.sign != 1 else out
        return out.add_(v - pv, alpha=self.shift)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        v = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
        t = torch.from_numpy(v) if self.zero_copy else torch.as_tensor(v).to(self.op.device, self.op.dtype)
        out = self.apply(t)
        return out.numpy() if self.zero_copy else out.double().cpu().numpy()

    def scipy(self) -> sla.LinearOperator:
        n = self.op.size
        return sla.LinearOperator((n, n), matvec=self.matvec, rmatvec=self.matvec, dtype=np.float64)


def _orthonormal_complement(V: torch.Tensor, Q: torch.Tensor, drop_tol: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """Columns of V made orthonormal and orthogonal to Q (two Gram–Schmidt passes, then QR), and the mask of
    the columns kept: a column (numerically) in the span of Q or of the columns before it is dropped."""
    for _ in range(2):
        if Q.shape[1]:
            V = V - Q @ (Q.T @ V)
    if V.shape[1] == 0:
        return V, torch.zeros(0, dtype=torch.bool)
    Qv, Rv = torch.linalg.qr(V)
    keep = Rv.diagonal().abs() > drop_tol
    return Qv[:, keep], keep.cpu()


def _gaussian(op: SubspaceOperator, rng: np.random.Generator) -> torch.Tensor:
    return torch.as_tensor(rng.standard_normal(op.size)).to(op.device, op.dtype)


def _smallest(op: SubspaceOperator, sign: float, k: int, shift: float, window: float, tol: float,
              rng: np.random.Generator, maxiter: int | None) -> EndResult:
    """The k smallest eigenvalues of sign·A on S (ascending), by deflated rounds (module docstring)."""
    Q = torch.zeros(op.size, 0, dtype=op.dtype, device=op.device)
    found: list[float] = []
    rounds, confirmed = 0, False
    while rounds < MAX_ROUNDS:
        remaining = op.dimension - Q.shape[1]
        if remaining <= 0:  # S is exhausted: every eigenpair is in Q
            confirmed = True
            break
        want = min(k, remaining, op.size - 2)
        B = _Deflated(op, sign, shift, Q)
        v0 = B.project(_gaussian(op, rng)).double().cpu().numpy()
        theta, V = sla.eigsh(B.scipy(), k=want, which="SA", v0=v0, tol=tol, maxiter=maxiter)
        rounds += 1
        inside = theta < shift - window  # values at σ belong to the masked directions
        kth = np.sort(found)[k - 1] if len(found) >= k else np.inf
        news = bool(np.any(theta[inside] < kth - window))
        if rounds > 1 and not news:
            confirmed = True
        Vt, keep = _orthonormal_complement(B.project(torch.as_tensor(V[:, inside]).to(op.device, op.dtype)), Q)
        Q = torch.cat([Q, Vt], dim=1)
        found.extend(theta[inside][keep.numpy()].tolist())
        if confirmed:
            break
    # Rayleigh–Ritz on everything found at this end.
    AQ = sign * torch.stack([op.apply_in_subspace(Q[:, j]) for j in range(Q.shape[1])], dim=1)
    T = Q.T @ AQ
    mu, W = torch.linalg.eigh((T + T.T) / 2)
    R = AQ @ W - (Q @ W) * mu
    bound = float(torch.linalg.matrix_norm(R, ord=2)) if R.numel() else 0.0
    values = mu.detach().cpu().double().numpy()[:k]
    return EndResult(values=values, residual_bound=bound, rounds=rounds, confirmed=confirmed, found=Q.shape[1])


def _clusters(values: np.ndarray, gap: float) -> list[tuple[float, int]]:
    """(mean, count) of runs of sorted values whose neighbours differ by ≤ gap."""
    out: list[tuple[float, int]] = []
    start = 0
    v = np.sort(values)
    for i in range(1, len(v) + 1):
        if i == len(v) or v[i] - v[i - 1] > gap:
            out.append((float(v[start:i].mean()), i - start))
            start = i
    return out


def extreme_eigenvalues(op: SubspaceOperator, k: int, tol: float, seed: int = 0,
                        maxiter: int | None = None) -> Extremes:
    """The k smallest and k largest eigenvalues of A on S with multiplicity, certified (module docstring).

    ``tol`` is ARPACK's relative tolerance per round. Needs 1 ≤ k and 2k < dim S (callers check).
    """
    rng = np.random.default_rng(seed)
    plain = _Deflated(op, 1.0, 0.0, torch.zeros(op.size, 0, dtype=op.dtype, device=op.device))
    v0 = plain.project(_gaussian(op, rng)).double().cpu().numpy()
    radius = float(np.abs(sla.eigsh(plain.scipy(), k=1, which="LM", v0=v0, tol=RADIUS_TOL, maxiter=maxiter,
                                    return_eigenvectors=False)).max())
    shift = SHIFT_MARGIN * radius if radius > 0 else 1.0
    window = max(WINDOW_RTOL, 10 * tol) * shift
    bottom = _smallest(op, 1.0, k, shift, window, tol, rng, maxiter)
    top_neg = _smallest(op, -1.0, k, shift, window, tol, rng, maxiter)
    top = EndResult(values=-top_neg.values[::-1], residual_bound=top_neg.residual_bound, rounds=top_neg.rounds,
                    confirmed=top_neg.confirmed, found=top_neg.found)
    certified = all(end.confirmed and end.residual_bound <= window for end in (bottom, top))
    bound = max(bottom.residual_bound, top.residual_bound)
    values = np.concatenate([bottom.values, top.values])
    return Extremes(smallest=bottom, largest=top, shift=shift, radius_estimate=radius, window=window,
                    certified=certified, multiplicities=_clusters(values, 2 * bound + window))

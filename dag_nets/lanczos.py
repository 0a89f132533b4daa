"""Extreme eigenvalues, with multiplicity, of a symmetric operator restricted to a subspace (Appendix A.5).

The operator A maps a subspace S ⊂ ℝ^P into itself (here A = P_N ∇²L P_N and S = N, the normal space of
a LoP manifold; :class:`~dag_nets.curvature.NormalHessian`); we want the k smallest and k largest
eigenvalues of A on S, counted with multiplicity.

Why deflation. A cloned network has exact permutation symmetries (a block of size 3 can be permuted),
so eigenvalues of A on S come in equal copies. Single-vector Lanczos (ARPACK ``eigsh``) sees only the
component of its start vector in each eigenspace: in exact arithmetic it finds *one* copy of every
eigenvalue, and in floating point it finds the others only by luck. We therefore search in rounds, each
an ``eigsh`` run on

    B = P' A P' + c (I − P'),   P' = P_S − Q Qᵀ,

where Q holds the orthonormal eigenvectors found so far: B has A's spectrum on S ∩ Q^⊥ and the value c
on everything else (the complement of S and the pairs already found), so those cannot be found again.
Every round starts from a fresh seeded Gaussian vector in S ∩ Q^⊥. Values within δ of c are discarded.
A round whose B is exactly zero (A = 0 on S, e.g. the normal Hessian at an exact fit of a clone) stops
ARPACK ("Starting vector is zero"); B applied to one more random vector decides it (zero: the round finds
nothing but its masked value; not zero: :class:`LanczosError`), and the rounds go on from there.

1. Round 1: c = 0 (B = A on S, the complement at 0) and both ends at once (``which="BE"``, 2k values).
   ρ̂ = the largest |value| estimates the spectral radius, δ = max(WINDOW_RTOL, 10·tol)·ρ̂.
2. If both ends found k values beyond ±BOTH_ENDS_MARGIN·ρ̂ (the usual saddle), later rounds put c midway
   between the k-th smallest and the k-th largest found — inside the spectrum, away from both windows —
   and again search both ends at once. Otherwise (e.g. a stable point: no negative values) each end is
   searched alone with the masked value beyond the spectrum, c = ±SHIFT_MARGIN·ρ̂ (``which="SA"`` /
   ``"LA"``), offset by ∓2ρ̂ so that ARPACK's relative test never meets a value near 0.
3. What a round finds is added to Q. A round that finds nothing beyond the current k-th value at either
   end (by more than δ) ends the search; its vectors are not kept. A confirming round first runs at the
   loose VERIFY_TOL: Ritz values never lie beyond the extremes, and each converged one is within its
   residual of an eigenvalue, so values inside the window by more than their residual confirm it;
   only an undecided or positive outcome is repeated at the full tolerance. By Cauchy interlacing the
   compression to S ∩ Q^⊥ has no ghost copies of what Q holds, so anything it finds inside the window is
   a copy that was missed.
4. Rayleigh–Ritz on all of Q: the eigenvalues μ of Qᵀ A Q and the residual R = A Q W − Q W diag(μ).

Certificate. By Kahan's theorem (for symmetric A and orthonormal Q, Parlett, *The Symmetric Eigenvalue
Problem*, Thm 11.5.2) there are |Q| eigenvalues of A on S — distinct indices, so multiplicity counts —
each within ‖R‖₂ of one μ: the values and the multiplicities returned are eigenvalues of A to ±‖R‖₂,
rigorously. That they are the *extreme* ones rests on the last round: a Lanczos run from a random start
converged to the extremes of A on S ∩ Q^⊥ and found none beyond the window (a random Gaussian start has
a nonzero component in every eigenspace with probability 1; this half is probabilistic, not a proof).
``certified`` is True when the last round confirmed the window at both ends and ‖R‖₂ ≤ δ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import scipy.sparse.linalg as sla
import torch

from dag_nets.threads import single_threaded_blas

SHIFT_MARGIN = 1.5
"""c = ±SHIFT_MARGIN · ρ̂ puts the masked directions safely beyond both ends of the spectrum."""
LANCZOS_VECTORS = 20
"""ARPACK's ncv (Lanczos basis size): each iteration reorthogonalizes against it (cost ∝ ncv · P), each
restart discards all but the wanted vectors (fewer restarts with more); chosen by measurement in
benchmarks/bench_dag_lanczos.py. At least 2k + 1 is used."""
MAX_ROUNDS = 12
"""Rounds per search; a search that needs more ends uncertified (``certified`` False)."""
BOTH_ENDS_MARGIN = 1e-3
"""Both ends are searched together only when round 1 found k values beyond ±BOTH_ENDS_MARGIN·ρ̂ at each
(ARPACK's relative test needs the sought values away from 0); otherwise each end alone, offset from 0."""
VERIFY_TOL = 1e-3
"""ARPACK tolerance of a confirming round's first, cheap attempt (module docstring, step 3)."""
WINDOW_RTOL = 1e-8
"""Slack δ = max(WINDOW_RTOL, 10·tol) · ρ̂: a value found within δ of the k-th does not change the k
extremes, values within δ of the masked value c are discarded, and ‖R‖₂ ≤ δ is needed for ``certified``."""


class LanczosError(RuntimeError):
    """ARPACK failed in a round for a reason other than non-convergence (the message says which)."""


class SubspaceOperator(Protocol):
    """A symmetric operator A that maps a subspace S of ℝ^size into itself (e.g. NormalHessian)."""

    @property
    def size(self) -> int: ...  # P

    @property
    def dimension(self) -> int: ...  # dim S

    @property
    def dtype(self) -> torch.dtype: ...

    @property
    def device(self) -> torch.device: ...

    def project(self, v: torch.Tensor) -> torch.Tensor: ...  # P_S along dim 0

    def apply_in_subspace(self, v: torch.Tensor) -> torch.Tensor: ...  # A v for v ∈ S, a new tensor


@dataclass(frozen=True)
class Round:
    """One eigsh run: which end(s), the masked value c, operator applications, eigenpairs kept."""

    which: str
    masked_value: float
    tol: float
    matvecs: int
    kept: int
    news: bool


@dataclass
class Extremes:
    """k smallest and k largest eigenvalues of A on S (ascending each), with multiplicity."""

    smallest: np.ndarray
    largest: np.ndarray
    residual_bound: float  # ‖R‖₂ of the Rayleigh–Ritz step over every vector kept
    radius_estimate: float
    window: float  # the slack δ
    rounds: list[Round]
    confirmed: bool  # the last round found nothing beyond the window at either end
    certified: bool
    matvecs: int  # operator applications in all (rounds + Rayleigh–Ritz)
    multiplicities: list[tuple[float, int]] = field(default_factory=list)

    @property
    def values(self) -> np.ndarray:
        return np.concatenate([self.smallest, self.largest])


class DeflatedOperator:
    """(B + τ I) / u with B = P' A P' + c (I − P'), P' = P_S − Q Qᵀ, as a scipy LinearOperator (float64).

    The offset τ and unit u make ARPACK's relative tolerance an accuracy relative to the spectral scale
    (its test ‖r‖ ≤ tol·|θ| cannot be met for θ ≈ 0); eigenvalues of B are u·θ − τ. The float64 CPU case
    works on the numpy arrays ARPACK passes without copying them."""

    def __init__(
        self,
        op: SubspaceOperator,
        masked_value: float,
        Q: torch.Tensor,
        offset: float = 0.0,
        unit: float = 1.0,
    ) -> None:
        self.op, self.masked_value, self.Q = op, masked_value, Q
        self.offset, self.unit = offset, unit
        self.calls = 0
        self.zero_copy = op.dtype == torch.float64 and op.device.type == "cpu"
        self._rows = Q.T.contiguous() if Q.shape[1] else None  # Qᵀ, [m, P]: both products read it by rows

    def _deflate(self, x: torch.Tensor) -> torch.Tensor:
        """x − Q Qᵀ x, in place (x a fresh tensor, [P] or [P, m])."""
        if self._rows is None:
            return x
        coef = self._rows @ x
        return (
            x.addmv_(self._rows.T, coef, alpha=-1) if x.ndim == 1 else x.addmm_(self._rows.T, coef, alpha=-1)
        )

    def project(self, v: torch.Tensor) -> torch.Tensor:
        """P' v = P_S v − Q Qᵀ P_S v (Q ⊂ S)."""
        pv = self.op.project(v)
        return self._deflate(pv.clone() if pv.data_ptr() == v.data_ptr() else pv)

    def apply(self, v: torch.Tensor) -> torch.Tensor:
        """((P' A P' v) + c (v − P' v) + τ v) / u, as P' A P' v / u + ((c + τ) / u) v − (c / u) P' v: three
        passes over the result, no temporaries beyond P' v and A P' v."""
        pv = self.project(v)
        out = self._deflate(self.op.apply_in_subspace(pv))
        c, tau, u = self.masked_value, self.offset, self.unit
        if u != 1.0:
            out.div_(u)
        if c + tau:
            out.add_(v, alpha=(c + tau) / u)
        if c:
            out.add_(pv, alpha=-c / u)
        return out

    def matvec(self, v: np.ndarray) -> np.ndarray:
        self.calls += 1
        v = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
        t = torch.from_numpy(v) if self.zero_copy else torch.as_tensor(v).to(self.op.device, self.op.dtype)
        out = self.apply(t)
        return out.numpy() if self.zero_copy else out.double().cpu().numpy()

    def scipy(self) -> sla.LinearOperator:
        n = self.op.size
        return sla.LinearOperator((n, n), matvec=self.matvec, rmatvec=self.matvec, dtype=np.float64)


def _orthonormal_complement(
    V: torch.Tensor, Q: torch.Tensor, drop_tol: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor]:
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


class _Search:
    """The state of the rounds: the vectors Q kept so far and their Ritz values."""

    def __init__(self, op: SubspaceOperator, tol: float, seed: int, maxiter: int | None) -> None:
        self.op, self.tol, self.maxiter = op, tol, maxiter
        self.rng = np.random.default_rng(seed)
        self.Q = torch.zeros(op.size, 0, dtype=op.dtype, device=op.device)
        self.values = np.zeros(0)
        self.rounds: list[Round] = []
        self.unit = 1.0
        self.converged = True

    def run(
        self, masked_value: float, which: str, want: int, offset: float = 0.0, tol: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One eigsh run on the deflated operator: (eigenvalues of A there, vectors). A run that does not
        converge returns the pairs that did and marks the search unconverged (never certified)."""
        tol = self.tol if tol is None else tol
        op = self.op
        B = DeflatedOperator(op, masked_value, self.Q, offset, self.unit)
        v0 = B.project(torch.as_tensor(self.rng.standard_normal(op.size)).to(op.device, op.dtype))
        want = min(want, op.size - 2)
        ncv = min(max(LANCZOS_VECTORS, 2 * want + 1), op.size - 1)
        try:
            with single_threaded_blas():  # ARPACK's idle OpenBLAS threads would spin through the products
                theta, V = sla.eigsh(
                    B.scipy(),
                    k=want,
                    which=which,
                    v0=v0.double().cpu().numpy(),
                    tol=tol,
                    ncv=ncv,
                    maxiter=self.maxiter,
                )
        except sla.ArpackNoConvergence as err:
            theta, V = err.eigenvalues, err.eigenvectors
            self.converged = False
        except sla.ArpackError as err:  # e.g. "Starting vector is zero": B v0 = 0, ARPACK cannot go on
            if not self._vanishes(B):
                raise LanczosError(
                    f"ARPACK failed in Lanczos round {len(self.rounds) + 1} (which={which!r}, masked value "
                    f"{masked_value:.6g}) on an operator that is not zero: {err}; method='dense' computes "
                    "the restricted Hessian directly on small networks"
                ) from err
            theta, V = np.zeros(0), np.zeros((op.size, 0))  # every eigenvalue of B is its masked value
        self._last = (B, masked_value, which, tol)
        return theta * self.unit - offset, V

    def _vanishes(self, B: DeflatedOperator) -> bool:
        """Whether B maps a fresh seeded Gaussian vector of ℝ^P exactly to 0. Then, with probability 1,
        B = 0 (the null space of a nonzero B has measure zero): A = −τ on S ∩ Q^⊥ and c = −τ on the rest
        (if any; round 1, the only round with S ∩ Q^⊥ possibly ℝ^P, has c = τ = 0), so every eigenvalue of
        A there equals the masked value and the round finds nothing."""
        v = torch.as_tensor(self.rng.standard_normal(self.op.size)).to(self.op.device, self.op.dtype)
        B.calls += 1
        return not bool(B.apply(v).any())

    def keep(self, theta: np.ndarray, V: np.ndarray, mask: np.ndarray, news: bool) -> None:
        B, masked_value, which, tol = self._last
        if news and mask.any():
            Vt = torch.as_tensor(V[:, mask]).to(self.op.device, self.op.dtype)
            Vt, kept = _orthonormal_complement(B.project(Vt), self.Q)
            self.Q = torch.cat([self.Q, Vt], dim=1)
            self.values = np.concatenate([self.values, theta[mask][kept.numpy()]])
            count = Vt.shape[1]
        else:
            count = 0
        self.rounds.append(Round(which, masked_value, tol, B.calls, count, news))

    def exhausted(self) -> bool:
        return self.Q.shape[1] >= self.op.dimension

    def kth(self, k: int, largest: bool) -> float:
        v = np.sort(self.values)
        if len(v) < k:
            return -np.inf if largest else np.inf
        return float(v[-k] if largest else v[k - 1])

    def rayleigh_ritz(self) -> tuple[np.ndarray, float, int]:
        """(Ritz values ascending, ‖R‖₂, operator applications) on span(Q)."""
        Q = self.Q
        if Q.shape[1] == 0:
            return np.zeros(0), 0.0, 0
        AQ = torch.stack([self.op.apply_in_subspace(Q[:, j]) for j in range(Q.shape[1])], dim=1)
        T = Q.T @ AQ
        mu, W = torch.linalg.eigh((T + T.T) / 2)
        R = AQ @ W - (Q @ W) * mu
        return mu.detach().cpu().double().numpy(), float(torch.linalg.matrix_norm(R, ord=2)), Q.shape[1]


def _round(
    search: _Search,
    masked: float,
    which: str,
    want: int,
    offset: float,
    window: float,
    low: float,
    high: float,
) -> bool:
    """One confirming attempt: True when nothing of A on S ∩ Q^⊥ lies below ``low − δ`` or above
    ``high + δ``; otherwise what was found there is kept (news) and False is returned.

    First a cheap run at VERIFY_TOL: Ritz values never lie beyond the extremes, and a converged one is
    within its residual r ≤ VERIFY_TOL·|value of B| of an eigenvalue, so if every value stays inside the
    window by r the window is confirmed. If not, the round is repeated at the full tolerance (fresh
    start) and decided on those values, whose vectors are accurate enough to keep."""
    theta, V = search.run(masked, which, want, offset, tol=VERIFY_TOL)
    r = VERIFY_TOL * np.abs(theta + offset)
    if not np.any((theta - r < low - window) | (theta + r > high + window)):
        search.keep(theta, V, np.zeros(len(theta), dtype=bool), False)
        return True
    search.keep(theta, V, np.zeros(len(theta), dtype=bool), False)
    theta, V = search.run(masked, which, want, offset)
    genuine = np.abs(theta - masked) > window
    news = bool(np.any(genuine & ((theta < low - window) | (theta > high + window))))
    search.keep(theta, V, genuine, news)
    return not news


def _both_ends(search: _Search, k: int, window: float) -> bool:
    """Rounds with the masked value between the two windows; True when a round confirmed them."""
    for _ in range(MAX_ROUNDS):
        if search.exhausted():
            return True
        low, high = search.kth(k, largest=False), search.kth(k, largest=True)
        if _round(search, (low + high) / 2, "BE", 2 * k, 0.0, window, low, high):
            return True
    return False


def _one_end(search: _Search, k: int, window: float, masked: float, largest: bool) -> bool:
    """Rounds for one end with the masked value beyond the spectrum; True when a round confirmed it.
    The offset ∓2ρ̂ keeps the sought values of B away from 0 (ARPACK's relative test)."""
    which = "LA" if largest else "SA"
    offset = -2 * abs(masked) / SHIFT_MARGIN if largest else 2 * abs(masked) / SHIFT_MARGIN
    for _ in range(MAX_ROUNDS):
        if search.exhausted():
            return True
        kth = search.kth(k, largest)
        if not np.isfinite(kth):  # fewer than k values at this end yet: search at the full tolerance
            theta, V = search.run(masked, which, k, offset)
            genuine = theta > masked + window if largest else theta < masked - window
            search.keep(theta, V, genuine, True)
            continue
        low, high = (-np.inf, kth) if largest else (kth, np.inf)
        if _round(search, masked, which, k, offset, window, low, high):
            return True
    return False


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


def extreme_eigenvalues(
    op: SubspaceOperator, k: int, tol: float, seed: int = 0, maxiter: int | None = None
) -> Extremes:
    """The k smallest and k largest eigenvalues of A on S with multiplicity, certified (module docstring).

    ``tol`` is ARPACK's relative tolerance per round. Needs 1 ≤ k and 2k < dim S (callers check).
    """
    search = _Search(op, tol, seed, maxiter)
    theta, V = search.run(0.0, "BE", 2 * k)
    radius = float(np.abs(theta).max()) if len(theta) else 0.0
    scale = radius if radius > 0 else 1.0
    search.unit = scale
    window = max(WINDOW_RTOL, 10 * tol) * scale
    genuine = np.abs(theta) > window
    search.keep(theta, V, genuine, True)
    margin = BOTH_ENDS_MARGIN * scale
    if np.sum(theta < -margin) >= k and np.sum(theta > margin) >= k:
        confirmed = _both_ends(search, k, window)
    else:  # an end reaches 0, where round 1 masked: search each end with the masked value beyond the spectrum
        masked = SHIFT_MARGIN * scale
        confirmed = _one_end(search, k, window, masked, largest=False)
        confirmed &= _one_end(search, k, window, -masked, largest=True)
    confirmed &= search.converged
    mu, bound, rr = search.rayleigh_ritz()
    smallest, largest = mu[:k], mu[-k:]
    values = np.concatenate([smallest, largest])
    return Extremes(
        smallest=smallest,
        largest=largest,
        residual_bound=bound,
        radius_estimate=radius,
        window=window,
        rounds=search.rounds,
        confirmed=confirmed,
        certified=confirmed and bound <= window,
        matvecs=sum(r.matvecs for r in search.rounds) + rr,
        multiplicities=_clusters(values, 2 * bound + window),
    )

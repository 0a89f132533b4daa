"""Normal-space stability of LoP manifolds (Definition A.2, Appendix A.5).

At θ on a manifold M with normal space N = N_θ M, Definition A.2 classifies M by the Hessian
∇²L(θ) restricted to N, i.e. by the eigenvalues of Nᵀ ∇²L N for an orthonormal basis N:

    stable   — all > 0;   unstable — all < 0;   saddle — some > 0 and some < 0;
    degenerate — none of these (zero eigenvalues without both signs; Definition A.2 does not name it).

Two normal spaces (``space``):

* ``"C"``: N_C = normal space of M_C = RE ∩ CE (equitable weights, block-constant biases);
* ``"D"``: N_D = normal space of M_D(θ0) = θ0 + BC (block-constant shifts).

N_D ⊃ N_C: N_D also holds the equitable-but-not-block-constant directions Z (doubly centred blocks,
zero row and column sums). They are tangent to M_C, so moving along them keeps every unit cloned.
More is true: at θ ∈ M_C the gradient is constant along θ + tZ (forward values depend on a block only
through its column sums, adjoints only through its row sums, and Z changes neither), so ∇²L(θ) Z = 0.
Hence the Hessian restricted to N_D is the N_C-restricted Hessian plus dim(M_C) − dim(M_D) exact zero
eigenvalues (verified by ``definition-A.2/normal-space-D``): under Definition A.2, M_D is never
"stable" or "unstable" once a block pair has both sides ≥ 2 — at best "degenerate" or "saddle" —
and its only informative directions are those of N_C. Escape from cloning is decided on N_C.

Methods: ``"dense"`` forms the full Hessian with ``torch.func.jacfwd(torch.func.grad(L))`` and the normal basis by SVD of
the constraint matrix. ``"lanczos"`` is matrix-free: Hessian-vector products (:func:`hvp_function`: double backward on small
networks, forward-over-reverse on large ones), the closed-form projector P_N, and
``scipy.sparse.linalg.eigsh`` on A = P_N H P_N + s·P_T. The tangent space is an eigenspace of P_N H P_N
with eigenvalue 0 that would mask the normal spectrum; shifting it to s beyond the normal spectrum
(s = −σ when looking for the largest, +σ for the smallest, σ > spectral radius estimated by a first
Lanczos run) leaves exactly the restricted eigenvalues at the end being searched.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse.linalg as sla
import torch

from dag_nets.graph import DagNet, loss_of_theta
from dag_nets.manifolds import LinearManifold, manifold
from dag_nets.partition import Partition

ZERO_EIG_RTOL = 1e-8
"""An eigenvalue counts as zero when |λ| ≤ ZERO_EIG_RTOL · max(1, max|λ|)."""
LANCZOS_TOL = 1e-12
"""Relative accuracy requested from eigsh for the extreme eigenvalues."""
SHIFT_MARGIN = 1.5
"""Tangent-space shift σ = SHIFT_MARGIN · (estimated spectral radius of P_N H P_N) + 1e-3."""
SPACES = ("C", "D")
METHODS = ("dense", "lanczos")


@dataclass
class StabilityResult:
    """Restricted-Hessian spectrum and Definition A.2 classification.

    ``eigenvalues``: ascending; all of them (dense) or the requested extremes (lanczos, ``complete`` False).
    ``inertia``: (positive, negative, zero) counts among ``eigenvalues`` under ``zero_tol``.
    """

    eigenvalues: np.ndarray
    inertia: tuple[int, int, int]
    classification: str
    space: str
    method: str
    normal_dimension: int
    zero_tol: float
    complete: bool
    hvp_count: int = 0
    details: dict = field(default_factory=dict)


def classify(eigenvalues: np.ndarray, zero_tol: float) -> tuple[tuple[int, int, int], str]:
    """Inertia and Definition A.2 class of a set of eigenvalues (extremes suffice for the class)."""
    ev = np.asarray(eigenvalues, dtype=np.float64)
    pos = int(np.sum(ev > zero_tol))
    neg = int(np.sum(ev < -zero_tol))
    zero = len(ev) - pos - neg
    if len(ev) == 0:
        return (0, 0, 0), "degenerate"
    if pos and neg:
        label = "saddle"
    elif pos == len(ev):
        label = "stable"
    elif neg == len(ev):
        label = "unstable"
    else:
        label = "degenerate"
    return (pos, neg, zero), label


def _normal_manifold(partition: Partition, space: str, theta: torch.Tensor) -> LinearManifold:
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES} (normal space of M_C or of M_D(θ0)), got {space!r}")
    return manifold("C", partition) if space == "C" else manifold("D", partition, anchor=theta)


HVP_MODES = ("auto", "double-backward", "forward-over-reverse")
AUTO_FORWARD_OVER_REVERSE_ABOVE = 50_000
"""``mode="auto"`` switches to forward-over-reverse above this many parameters (benchmarks/bench_dag_hvp.py:
double backward is ≈2× a gradient on small nets but ≈6× at 10⁵–10⁶ parameters, forward-over-reverse ≈3×)."""


def hvp_function(
    net: DagNet, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, loss: str = "mse", mode: str = "auto"
) -> Callable[[torch.Tensor], torch.Tensor]:
    """v ↦ ∇²L(θ) v, matrix-free.

    ``double-backward``: one gradient graph built once, then ∂(∇L·v)/∂θ by a second backward per call
    (faster on small networks); ``forward-over-reverse``: ``torch.func.jvp`` of ``torch.func.grad`` (faster
    on large ones); ``auto`` picks by :data:`AUTO_FORWARD_OVER_REVERSE_ABOVE`.
    """
    if mode not in HVP_MODES:
        raise ValueError(f"mode must be one of {HVP_MODES}, got {mode!r}")
    if mode == "auto":
        mode = "forward-over-reverse" if net.num_parameters > AUTO_FORWARD_OVER_REVERSE_ABOVE else "double-backward"
    f = loss_of_theta(net, x, y, loss)
    theta = theta.detach()
    if mode == "forward-over-reverse":
        grad_f = torch.func.grad(f)
        return lambda v: torch.func.jvp(grad_f, (theta,), (v,))[1]
    leaf = theta.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(leaf), leaf, create_graph=True)

    def hvp(v: torch.Tensor) -> torch.Tensor:
        (hv,) = torch.autograd.grad(g, leaf, grad_outputs=v, retain_graph=True)
        return hv.detach()

    return hvp


def dense_hessian(net: DagNet, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, loss: str = "mse") -> torch.Tensor:
    """The full Hessian ∇²L(θ) = jacfwd(grad L) (what torch.func.hessian computes, with forward-mode
    columns, which vectorize well here; small networks only)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*batching rule.*")
        return torch.func.jacfwd(torch.func.grad(loss_of_theta(net, x, y, loss)))(theta.detach())


def normal_stability(
    net: DagNet,
    partition: Partition,
    x: torch.Tensor,
    y: torch.Tensor,
    space: str = "C",
    method: str = "dense",
    k: int = 3,
    theta: torch.Tensor | None = None,
    loss: str = "mse",
    zero_rtol: float = ZERO_EIG_RTOL,
    lanczos_tol: float = LANCZOS_TOL,
) -> StabilityResult:
    """Classify M_C (``space="C"``) or M_D(θ) (``"D"``) at θ by Definition A.2 (module docstring).

    ``method="lanczos"`` returns the ``k`` smallest and ``k`` largest restricted eigenvalues.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if partition.net is not net:
        raise ValueError("partition was built for a different network")
    theta = net.flat_parameters() if theta is None else theta.detach().to(net.edge_weight.dtype)
    M = _normal_manifold(partition, space, theta)
    if method == "dense":
        _, N = M.dense_bases()
        H = dense_hessian(net, x, y, theta, loss).cpu().numpy()
        Hn = N.T @ H @ N
        ev = np.linalg.eigvalsh((Hn + Hn.T) / 2) if N.shape[1] else np.zeros(0)
        tol = zero_rtol * max(1.0, float(np.abs(ev).max(initial=0.0)))
        inertia, label = classify(ev, tol)
        return StabilityResult(ev, inertia, label, space, method, N.shape[1], tol, True, 0)
    return _lanczos(net, M, x, y, theta, k, loss, zero_rtol, lanczos_tol)


def _lanczos(net, M, x, y, theta, k, loss, zero_rtol, lanczos_tol) -> StabilityResult:
    P = net.num_parameters
    normal_dim = P - M.dimension()
    hvp = hvp_function(net, x, y, theta, loss)
    dev, dt = theta.device, theta.dtype
    count = [0]

    def apply(v: np.ndarray, shift: float) -> np.ndarray:
        count[0] += 1
        vt = torch.as_tensor(np.ascontiguousarray(v).ravel(), device=dev, dtype=dt)
        nv = M.normal(vt)
        out = M.normal(hvp(nv)) + shift * (vt - nv)
        return out.detach().cpu().numpy().astype(np.float64)

    if normal_dim == 0:
        return StabilityResult(np.zeros(0), (0, 0, 0), "degenerate", M.kind, "lanczos", 0, 0.0, True, 0)
    k = max(1, min(k, normal_dim - 1)) if normal_dim > 1 else 1
    rng = np.random.default_rng(0)
    v0 = M.normal(torch.as_tensor(rng.normal(size=P), device=dev, dtype=dt)).cpu().numpy()

    def op(shift: float) -> sla.LinearOperator:
        return sla.LinearOperator((P, P), matvec=lambda v: apply(v, shift), dtype=np.float64)

    if normal_dim <= 2 * k + 1 or P < 3:
        raise ValueError(f"normal space of dimension {normal_dim} is too small for Lanczos with k={k}; use method='dense'")
    radius = float(np.abs(sla.eigsh(op(0.0), k=1, which="LM", v0=v0, tol=1e-3, return_eigenvectors=False)).max())
    sigma = SHIFT_MARGIN * radius + 1e-3
    top = sla.eigsh(op(-sigma), k=k, which="LA", v0=v0, tol=lanczos_tol, return_eigenvectors=False)
    bottom = sla.eigsh(op(sigma), k=k, which="SA", v0=v0, tol=lanczos_tol, return_eigenvectors=False)
    ev = np.unique(np.concatenate([bottom, top]))
    tol = zero_rtol * max(1.0, float(np.abs(ev).max()))
    inertia, label = classify(ev, tol)
    return StabilityResult(
        ev, inertia, label, M.kind if M.kind == "C" else "D", "lanczos", normal_dim, tol, False, count[0],
        details={"shift": sigma, "radius_estimate": radius},
    )

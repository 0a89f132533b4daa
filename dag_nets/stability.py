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

Methods (both through :class:`~dag_nets.curvature.NormalHessian`): ``"dense"`` forms Nᵀ ∇²L N from the
full Hessian (``torch.func.jacfwd(torch.func.grad(L))``) and an orthonormal normal basis N (SVD of the
constraint matrix) and returns every eigenvalue. ``"lanczos"`` is matrix-free — Hessian-vector
products and the closed-form projector P_N — and returns the k smallest and k largest eigenvalues
with multiplicity, by deflated Lanczos rounds with a Rayleigh–Ritz certificate
(:func:`dag_nets.lanczos.extreme_eigenvalues`; ``certified`` says whether the certificate holds).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch

from dag_nets.curvature import NormalHessian, dense_hessian
from dag_nets.graph import DagNet
from dag_nets.lanczos import extreme_eigenvalues
from dag_nets.manifolds import LinearManifold, manifold
from dag_nets.memory import reuse_freed_memory
from dag_nets.partition import Partition
from dag_nets.validation import check_batch, check_int, check_parameters, check_real, check_theta

__all__ = ["METHODS", "SPACES", "StabilityResult", "classify", "dense_hessian", "normal_stability"]

ZERO_EIG_RTOL = 1e-8
"""An eigenvalue counts as zero when |λ| ≤ ZERO_EIG_RTOL · max(1, max|λ|)."""
LANCZOS_TOL = 1e-12
"""Relative accuracy requested from each Lanczos (ARPACK) round."""
REUSE_MEMORY_ABOVE = 50_000
"""Lanczos on networks with at least this many parameters runs inside dag_nets.memory.reuse_freed_memory
(their HVP temporaries exceed glibc's mmap threshold; below it they are reused anyway)."""
SPACES = ("C", "D")
METHODS = ("dense", "lanczos")


@dataclass
class StabilityResult:
    """Restricted-Hessian spectrum and Definition A.2 classification.

    ``eigenvalues``: ascending; all of them (dense, ``complete`` True) or the k smallest then the k largest
    with multiplicity (lanczos). ``inertia``: (positive, negative, zero) counts among ``eigenvalues`` under
    ``zero_tol`` (for lanczos, among the 2k returned). ``certified``: dense results always; lanczos
    results when the deflation/Rayleigh–Ritz certificate holds (``details`` gives its residual bound,
    rounds and the multiplicities found).
    """

    eigenvalues: np.ndarray
    inertia: tuple[int, int, int]
    classification: str
    space: str
    method: str
    normal_dimension: int
    zero_tol: float
    complete: bool
    certified: bool = True
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
    return manifold("C", partition) if space == "C" else manifold("D", partition, anchor=theta)


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

    ``method="lanczos"`` returns the ``k`` smallest and ``k`` largest restricted eigenvalues with
    multiplicity (needs 2k < dim N). ``theta`` defaults to the network's parameters.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if space not in SPACES:
        raise ValueError(
            f"space must be one of {', '.join(SPACES)} (normal space of M_C or of M_D(θ0)), got {space!r}"
        )
    if not isinstance(partition, Partition):
        raise TypeError(f"partition must be a Partition, got {type(partition).__name__}")
    check_parameters(net)
    partition.check_network(net)
    check_batch(net, x, y)
    zero_rtol = check_real(zero_rtol, "zero_rtol", low=0.0)
    theta = net.flat_parameters() if theta is None else check_theta(net, theta)
    M = _normal_manifold(partition, space, theta)
    op = NormalHessian.at(M, x, y, theta, loss)
    if method == "dense":
        ev = np.linalg.eigvalsh(op.dense()) if op.dimension else np.zeros(0)
        tol = zero_rtol * max(1.0, float(np.abs(ev).max(initial=0.0)))
        inertia, label = classify(ev, tol)
        return StabilityResult(ev, inertia, label, space, method, op.dimension, tol, True, True, 0)
    k = check_int(k, "k", low=1)
    lanczos_tol = check_real(lanczos_tol, "lanczos_tol", positive=True)
    if not lanczos_tol < 1:
        raise ValueError(f"lanczos_tol is a relative accuracy and must be in (0, 1), got {lanczos_tol!r}")
    if 2 * k >= op.dimension:
        raise ValueError(
            f"the normal space has dimension {op.dimension}, too small for Lanczos with k={k} "
            "(needs 2k < dim N); use method='dense', which returns every eigenvalue"
        )
    with reuse_freed_memory() if op.size >= REUSE_MEMORY_ABOVE else contextlib.nullcontext():
        ext = extreme_eigenvalues(op, k, lanczos_tol)
    ev = ext.values
    tol = zero_rtol * max(1.0, float(np.abs(ev).max()))
    inertia, label = classify(ev, tol)
    details = {
        "radius_estimate": ext.radius_estimate,
        "window": ext.window,
        "residual_bound": ext.residual_bound,
        "rounds": ext.rounds,
        "hvp_seconds": op.hvp_seconds,
        "multiplicities": ext.multiplicities,
    }
    return StabilityResult(
        ev, inertia, label, space, method, op.dimension, tol, False, ext.certified, op.hvp_count, details
    )

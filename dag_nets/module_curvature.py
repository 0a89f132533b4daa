"""Normal-space curvature on the coordinates a module trains, and the escape direction (Definition A.2).

A DagNet traced from a module (:mod:`dag_nets.from_module`) may hold *fixed* coordinates: residual edges of
weight 1 and structural zero biases that no module parameter moves. The module then lives on the affine
subspace A = {θ : θ_fixed = const}, and what Definition A.2 asks about the cloning manifold is the Hessian
restricted to N = N_C ∩ T_A, the normal directions the optimizer can take. When P_C (the closed-form
projector of M_C) and P_A (zero the fixed coordinates) commute — every block pair's edges and every block's
biases are all fixed or all trainable, which :func:`commutes` checks — P_A P_N is the orthogonal projector
onto N, and :class:`TrainableNormalHessian` is v ↦ P_A P_N ∇²L P_N P_A v with the interface of
:class:`~dag_nets.curvature.NormalHessian`, so :func:`dag_nets.lanczos.extreme_eigenvalues` runs on it
unchanged. Without fixed coordinates it is the NormalHessian itself (and callers use
:func:`dag_nets.stability.normal_stability`).

:func:`subspace_spectrum` solves small problems completely: an orthonormal basis Q of N from the projection of
dim N Gaussian vectors (QR), then the eigen-decomposition of Qᵀ A Q (dim N Hessian-vector products).
:func:`escape_direction` finds the unit eigenvector of the most negative restricted eigenvalue by a Lanczos
run on A for the smallest algebraic eigenvalue (tangent and fixed directions sit at 0, above it) and
returns it with its Rayleigh quotient and residual ‖A v − λ v‖, so the caller can compare it with the
certified extremes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg as sla
import torch

from dag_nets.curvature import NormalHessian
from dag_nets.lanczos import DeflatedOperator
from dag_nets.manifolds import PartitionManifold
from dag_nets.partition import Partition

ESCAPE_MAXITER_FACTOR = 50
"""ARPACK iterations allowed for the escape vector, per Lanczos basis vector (scipy's default is 10 n)."""


def commutes(partition: Partition, trainable: torch.Tensor) -> bool:
    """Whether P_C and P_A commute: every block pair's edges, and every block's biases, are all trainable or
    all fixed (``trainable``: mask over θ = [w; b])."""
    mask = trainable.cpu().numpy().astype(bool)
    E = partition.net.num_edges
    for groups, flags in ((partition.edge_pair, mask[:E]), (partition.bias_group, mask[E:])):
        if len(groups) == 0:
            continue
        k = int(groups.max()) + 1
        count = np.bincount(groups, minlength=k)
        hits = np.bincount(groups, weights=flags.astype(np.float64), minlength=k)
        if np.any((hits != 0) & (hits != count)):
            return False
    return True


def trainable_normal_dimension(manifold: PartitionManifold, trainable: torch.Tensor) -> int:
    """dim (N_C ∩ T_A) for commuting projectors: the normal dimensions of the all-trainable block pairs
    (existing edges − the pair's tangent dimension) plus those of the all-trainable bias blocks (size − 1)."""
    part = manifold.partition
    mask = trainable.cpu().numpy().astype(bool)
    E = part.net.num_edges
    dim = 0
    for pair in part.pairs:
        if mask[pair.edge_ids[0]]:
            dim += len(pair.edge_ids) - manifold.rule.dimension(pair)
    sizes = np.bincount(part.bias_group, minlength=part.num_bias_blocks)
    flags = np.zeros(part.num_bias_blocks, dtype=bool)
    flags[part.bias_group] = mask[E:]
    return dim + int((sizes[flags] - 1).sum())


class TrainableNormalHessian:
    """v ↦ P_A P_N ∇²L P_N P_A v (module docstring); the SubspaceOperator of :mod:`dag_nets.lanczos`."""

    def __init__(self, normal_hessian: NormalHessian, trainable: torch.Tensor, dimension: int) -> None:
        self.inner = normal_hessian
        self.mask = trainable.to(device=normal_hessian.device, dtype=normal_hessian.dtype)
        self._dimension = dimension

    @property
    def size(self) -> int:
        return self.inner.size

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def dtype(self) -> torch.dtype:
        return self.inner.dtype

    @property
    def device(self) -> torch.device:
        return self.inner.device

    @property
    def hvp_count(self) -> int:
        return self.inner.hvp_count

    def project(self, v: torch.Tensor) -> torch.Tensor:
        out = self.inner.project(v)
        return out * self.mask.reshape(-1, *([1] * (out.ndim - 1)))

    def apply_in_subspace(self, v: torch.Tensor) -> torch.Tensor:
        return self.project(self.inner.hessian.matvec(v))

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        return self.apply_in_subspace(self.project(v.to(self.inner.hessian.theta)))


@dataclass
class Spectrum:
    """Every eigenvalue of A on N (ascending) with unit eigenvectors (θ-space columns)."""

    values: np.ndarray
    vectors: torch.Tensor


def subspace_spectrum(op, seed: int = 0) -> Spectrum:
    """All eigenpairs of A on N through an explicit orthonormal basis of N (module docstring)."""
    d = op.dimension
    if d == 0:
        return Spectrum(np.zeros(0), torch.zeros(op.size, 0, dtype=op.dtype, device=op.device))
    gen = torch.Generator().manual_seed(seed)
    G = torch.randn(op.size, d, generator=gen, dtype=torch.float64).to(device=op.device, dtype=op.dtype)
    Q, R = torch.linalg.qr(op.project(op.project(G)))
    if not bool((R.diagonal().abs() > 1e-8 * R.diagonal().abs().max()).all()):
        raise RuntimeError(f"the projected Gaussian vectors do not span the {d}-dimensional normal space")
    AQ = torch.stack([op.apply_in_subspace(Q[:, j]) for j in range(d)], dim=1)
    B = Q.T @ AQ
    values, U = torch.linalg.eigh((B + B.T) / 2)
    return Spectrum(values.double().cpu().numpy(), Q @ U)


@dataclass
class Escape:
    """The unit escape direction v ∈ N (θ-space), its Rayleigh quotient λ = vᵀ A v and residual
    ‖A v − λ v‖."""

    eigenvalue: float
    residual: float
    direction: torch.Tensor
    converged: bool


def _verified(op, v: torch.Tensor, converged: bool) -> Escape:
    v = op.project(v)
    v = v / torch.linalg.vector_norm(v)
    Av = op.apply_in_subspace(v)
    lam = float(v @ Av)
    return Escape(lam, float(torch.linalg.vector_norm(Av - lam * v)), v, converged)


def escape_direction(op, tol: float, seed: int = 0) -> Escape:
    """The eigenvector of the most negative eigenvalue of A on N, by ARPACK (smallest algebraic)."""
    B = DeflatedOperator(op, 0.0, torch.zeros(op.size, 0, dtype=op.dtype, device=op.device))
    rng = np.random.default_rng(seed)
    v0 = B.project(torch.as_tensor(rng.standard_normal(op.size)).to(op.device, op.dtype))
    ncv = min(20, op.size - 1)
    try:
        _, V = sla.eigsh(
            B.scipy(),
            k=1,
            which="SA",
            v0=v0.double().cpu().numpy(),
            tol=tol,
            ncv=ncv,
            maxiter=ESCAPE_MAXITER_FACTOR * ncv,
        )
        converged = True
    except sla.ArpackNoConvergence as err:
        if err.eigenvectors.shape[1] == 0:
            return Escape(float("nan"), float("nan"), torch.zeros(op.size, dtype=op.dtype), False)
        V, converged = err.eigenvectors, False
    return _verified(op, torch.as_tensor(V[:, 0]).to(op.device, op.dtype), converged)


def escape_from_spectrum(op, spectrum: Spectrum) -> Escape:
    """The escape direction of a complete spectrum (its first eigenvector), verified the same way."""
    return _verified(op, spectrum.vectors[:, 0], True)

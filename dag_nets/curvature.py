"""Curvature operators on θ-space: the loss Hessian and its restriction to a normal space (Definition A.2).

* :class:`HessianOperator` — v ↦ ∇²L(θ) v, matrix-free (Hessian-vector products, "HVPs").
* :class:`NormalHessian`   — v ↦ P_N ∇²L(θ) P_N v for the orthogonal projector P_N onto the normal space
  N of a manifold (:meth:`LinearManifold.normal_projector`). In an orthonormal basis N of the normal
  space it is the restricted Hessian Nᵀ ∇²L N whose eigenvalues Definition A.2 classifies.

Both have ``matvec``, ``matmat`` (columns), ``dense()``, ``to_scipy()`` (a ``scipy.sparse.linalg``
``LinearOperator``), their ``size`` (P = #parameters) and count the HVPs they spend (``hvp_count``). The
dense path, the Lanczos path (:mod:`dag_nets.lanczos`), the benchmarks and the proofs_check entries all
go through them.

HVP modes: ``double-backward`` builds the gradient graph ∇L(θ) once (``create_graph=True``) and each
product is one more backward pass through it, ∂(∇L·v)/∂θ; ``forward-over-reverse`` is
``torch.func.jvp(torch.func.grad(L))``, which re-runs forward and backward per product. Measured
(benchmarks/bench_dag_hvp.py, both modes against a gradient in the same run) double backward is the
faster one at every size, so ``auto`` means double backward; forward-over-reverse remains as the
independent second method the tests compare against.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse.linalg as sla
import torch

from dag_nets.graph import DagNet, loss_of_theta
from dag_nets.manifolds import LinearManifold, Projector
from dag_nets.validation import check_batch, check_parameters, check_theta

HVP_MODES = ("auto", "double-backward", "forward-over-reverse")
AUTO_HVP_MODE = "double-backward"
"""What ``mode="auto"`` runs (module docstring; benchmarks/bench_dag_hvp.py measures both)."""


def _torch_to_scipy(
    size: int, apply: Callable[[torch.Tensor], torch.Tensor], like: torch.Tensor
) -> sla.LinearOperator:
    """A float64 LinearOperator whose matvec/matmat call ``apply`` on tensors of ``like``'s dtype/device.
    Symmetric operators only (rmatvec = matvec)."""
    float64_cpu = like.dtype == torch.float64 and like.device.type == "cpu"

    def mv(v: np.ndarray) -> np.ndarray:
        v = np.ascontiguousarray(v, dtype=np.float64)
        t = torch.from_numpy(v) if float64_cpu else torch.as_tensor(v).to(like)
        out = apply(t)
        return out.numpy() if float64_cpu else out.double().cpu().numpy()

    return sla.LinearOperator((size, size), matvec=mv, matmat=mv, rmatvec=mv, dtype=np.float64)


class HessianOperator:
    """v ↦ ∇²L(θ) v on the batch (x, y) at θ (default: the network's current parameters)."""

    def __init__(
        self,
        net: DagNet,
        x: torch.Tensor,
        y: torch.Tensor,
        theta: torch.Tensor | None = None,
        loss: str = "mse",
        mode: str = "auto",
    ) -> None:
        if mode not in HVP_MODES:
            raise ValueError(f"mode must be one of {', '.join(HVP_MODES)}, got {mode!r}")
        check_parameters(net)
        check_batch(net, x, y)
        self.net = net
        self.theta = net.flat_parameters() if theta is None else check_theta(net, theta)
        self.mode = AUTO_HVP_MODE if mode == "auto" else mode
        self.hvp_count = 0
        self.hvp_seconds = 0.0
        """Wall time spent inside the HVPs themselves (benchmarks report the rest as overhead)."""
        self._loss = loss_of_theta(net, x, y, loss)
        if self.mode == "double-backward":
            self._leaf = self.theta.clone().requires_grad_(True)
            (self._grad,) = torch.autograd.grad(self._loss(self._leaf), self._leaf, create_graph=True)
        else:
            self._grad_fn = torch.func.grad(self._loss)

    @property
    def size(self) -> int:
        return self.net.num_parameters

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """∇²L(θ) v for one θ-space vector."""
        if v.shape != (self.size,):
            raise ValueError(f"v must have shape ({self.size},), got {tuple(v.shape)}")
        self.hvp_count += 1
        start = time.perf_counter()
        v = v.to(self.theta)
        if self.mode == "double-backward":
            (hv,) = torch.autograd.grad(self._grad, self._leaf, grad_outputs=v, retain_graph=True)
        else:
            hv = torch.func.jvp(self._grad_fn, (self.theta,), (v,))[1]
        self.hvp_seconds += time.perf_counter() - start
        return hv.detach()

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        """∇²L(θ) V column by column ([P, m] → [P, m])."""
        return (
            torch.stack([self.matvec(V[:, j]) for j in range(V.shape[1])], dim=1) if V.shape[1] else V.clone()
        )

    def dense(self) -> torch.Tensor:
        """The full Hessian ∇²L(θ) = jacfwd(grad L) (forward-mode columns; small networks only)."""
        return torch.func.jacfwd(torch.func.grad(self._loss))(self.theta)

    def to_scipy(self) -> sla.LinearOperator:
        return _torch_to_scipy(
            self.size, lambda v: self.matvec(v) if v.ndim == 1 else self.matmat(v), self.theta
        )


def dense_hessian(
    net: DagNet, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, loss: str = "mse"
) -> torch.Tensor:
    """∇²L(θ) as a dense matrix (:meth:`HessianOperator.dense`)."""
    return HessianOperator(net, x, y, theta, loss).dense()


class NormalHessian:
    """v ↦ P_N ∇²L(θ) P_N v: the Hessian restricted to the normal space of ``projector``'s manifold.

    Its nonzero-subspace is N: it maps θ-space into N and vanishes on the tangent space. ``dense()`` is the
    (dim N × dim N) matrix Nᵀ ∇²L N in the orthonormal basis N of :meth:`LinearManifold.dense_bases`.
    """

    def __init__(self, hessian: HessianOperator, projector: Projector) -> None:
        if not projector.normal:
            raise ValueError("NormalHessian needs a normal-space projector (manifold.normal_projector())")
        if projector.manifold.net.num_parameters != hessian.size:
            raise ValueError(
                f"the projector acts on {projector.size} parameters, the Hessian on {hessian.size}"
            )
        self.hessian = hessian
        self.projector = projector
        self._dimension: int | None = None

    @classmethod
    def at(
        cls,
        manifold: LinearManifold,
        x: torch.Tensor,
        y: torch.Tensor,
        theta: torch.Tensor | None = None,
        loss: str = "mse",
        mode: str = "auto",
    ) -> NormalHessian:
        """The normal-space Hessian of ``manifold`` at θ (default: its network's current parameters)."""
        return cls(HessianOperator(manifold.net, x, y, theta, loss, mode), manifold.normal_projector())

    @property
    def manifold(self) -> LinearManifold:
        return self.projector.manifold

    @property
    def size(self) -> int:
        return self.hessian.size

    @property
    def dimension(self) -> int:
        """dim N, the rank of P_N (closed form, computed once)."""
        if self._dimension is None:
            self._dimension = self.projector.dimension
        return self._dimension

    @property
    def hvp_count(self) -> int:
        return self.hessian.hvp_count

    @property
    def hvp_seconds(self) -> float:
        return self.hessian.hvp_seconds

    @property
    def dtype(self) -> torch.dtype:
        return self.hessian.theta.dtype

    @property
    def device(self) -> torch.device:
        return self.hessian.theta.device

    def project(self, v: torch.Tensor) -> torch.Tensor:
        """P_N v (along dim 0)."""
        return self.projector(v)

    def apply_in_subspace(self, v: torch.Tensor) -> torch.Tensor:
        """P_N ∇²L v for v already in N (one projection fewer than :meth:`matvec`)."""
        return self.projector(self.hessian.matvec(v))

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        return self.apply_in_subspace(self.projector(v.to(self.hessian.theta)))

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        return self.projector(self.hessian.matmat(self.projector(V.to(self.hessian.theta))))

    def basis(self) -> np.ndarray:
        """An orthonormal basis of N as columns (SVD of the constraint matrix; small networks only)."""
        return self.manifold.dense_bases()[1]

    def dense(self) -> np.ndarray:
        """Nᵀ ∇²L(θ) N in float64, symmetrised (dim N × dim N)."""
        N = self.basis()
        H = self.hessian.dense().detach().cpu().double().numpy()
        Hn = N.T @ H @ N
        return (Hn + Hn.T) / 2

    def to_scipy(self) -> sla.LinearOperator:
        return _torch_to_scipy(
            self.size, lambda v: self.matvec(v) if v.ndim == 1 else self.matmat(v), self.hessian.theta
        )

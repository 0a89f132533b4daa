"""Training dynamics on and off the LoP manifolds (Theorem 2.1, Theorem A.1 part 3, Remark 2.4).

* :func:`cloning_report` — how far forward values h, adjoints δ = ∂L/∂h and gradients are from being
  block-constant (Theorem A.1 parts 1–2).
* :func:`tangency_residuals` — ‖P_N ∇L‖ / ‖∇L‖ for each manifold (Definition 2.1: 0 ⇔ tangent).
* :func:`run_trajectory` — k optimizer steps (torch.optim on the DagNet's parameters) with optional
  symmetry breakers, recording the distance to M_D(θ0), to M_C and to M_F(θ0) after every step.
* :func:`linearized_normal_factor` and :func:`growth_factor` — the per-step factor by which GD near a
  critical point of M_C scales a normal perturbation (from the N_C Hessian, Definition A.2), and the
  factor observed along a recorded distance curve (Section 2, "escaping the LoP manifolds").
* :func:`frozen_unit_trajectory` — a unit killed mid-training (Theorem 2.1 part 1): what plain SGD,
  optimizer state carried into M_F and weight decay do to its incoming parameters.

Optimizers are :class:`~dag_nets.optimizers.OptimizerSpec` (a name of the project's one table
:data:`~dag_nets.optimizers.OPTIMIZERS`, a learning rate and options). Symmetry breakers (Section 2,
Remark 2.4, Appendix B.1.2) are small dataclasses, each acting in its first ``steps`` steps (every step
when None): :class:`Dropout` (independent Bernoulli masks on hidden units, inverted scaling),
:class:`GradientNoise` (``noisy_sgd``: the paper's noisy-SGD perturbation g ← g + N(0, σ_t² ‖g_p‖² I) per
parameter tensor, σ_t = σ0 λ^t — :func:`dag_nets.optimizers.gradient_noise`, the same code as
:class:`~dag_nets.optimizers.NoisySGD`) and :class:`UnitNoise` (independent N(0, s²) added to each hidden
pre-activation of each example). A bare name stands for the breaker or optimizer with its defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from dag_nets.backprop import autograd_adjoints
from dag_nets.graph import DagNet, Node, get_loss, loss_of_theta
from dag_nets.manifolds import manifold
from dag_nets.optimizers import (
    OPTIMIZERS,
    PAPER_DECAY,
    PAPER_SIGMA0,
    OptimizerSpec,
    check_noise,
    gradient_noise,
    noise_scale,
)
from dag_nets.partition import Partition
from dag_nets.validation import check_batch, check_int, check_parameters, check_real, check_theta

__all__ = [
    "BREAKERS",
    "OPTIMIZERS",
    "CloningReport",
    "Dropout",
    "GradientNoise",
    "OptimizerSpec",
    "SymmetryBreaker",
    "Trajectory",
    "UnitNoise",
    "cloning_report",
    "frozen_unit_trajectory",
    "gradient",
    "growth_factor",
    "linearized_normal_factor",
    "run_trajectory",
    "tangency_residuals",
]

DEFAULT_DROPOUT = 0.2  # Appendix B.1.3 MLP default
DEFAULT_UNIT_NOISE = 0.01
SEED_LIMIT = 2**63 - 1
"""torch generators take seeds in [0, 2**63 − 1]."""


@dataclass
class CloningReport:
    """Largest within-block deviations from block-constant (0 ⇔ exact cloning).

    ``forward``: max over blocks and examples of max_v h(v) − min_v h(v) within a block;
    ``preactivation``: the same for z; ``backward``: the same for δ = ∂L/∂h;
    ``gradient``: max |g − P_BC g| over edge weights and biases (block-pair means, block bias means).
    """

    forward: float
    preactivation: float
    backward: float
    gradient: float


def _block_spread(values: torch.Tensor, node_block: torch.Tensor, num_blocks: int) -> float:
    """max over examples and blocks of (max − min) of ``values[:, v]`` over v in a block."""
    idx = node_block.unsqueeze(0).expand_as(values)
    hi = torch.full((values.shape[0], num_blocks), -torch.inf, dtype=values.dtype).scatter_reduce(
        1, idx, values, "amax"
    )
    lo = torch.full((values.shape[0], num_blocks), torch.inf, dtype=values.dtype).scatter_reduce(
        1, idx, values, "amin"
    )
    return float((hi - lo).max())


def _prepared(
    net: DagNet,
    partition: Partition | None,
    x: torch.Tensor,
    y: torch.Tensor,
    theta: torch.Tensor | None = None,
) -> torch.Tensor:
    """Validate the common arguments; return θ (default: the network's parameters)."""
    check_parameters(net)
    if partition is not None:
        if not isinstance(partition, Partition):
            raise TypeError(f"partition must be a Partition, got {type(partition).__name__}")
        partition.check_network(net)
    check_batch(net, x, y)
    return net.flat_parameters() if theta is None else check_theta(net, theta)


def gradient(
    net: DagNet, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor | None = None, loss: str = "mse"
) -> torch.Tensor:
    """∇_θ L at θ (default: the current parameters)."""
    theta = _prepared(net, None, x, y, theta).requires_grad_(True)
    (g,) = torch.autograd.grad(loss_of_theta(net, x, y, loss)(theta), theta)
    return g


def cloning_report(
    net: DagNet,
    partition: Partition,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str = "mse",
    theta: torch.Tensor | None = None,
) -> CloningReport:
    """Forward, backward and gradient cloning residuals of Theorem A.1 parts 1–2 on the batch (x, y).

    ``partition`` must belong to ``net``'s graph (its own network or a copy of it,
    :meth:`Partition.check_network`).
    """
    theta = _prepared(net, partition, x, y, theta)
    H, Z, delta, _ = autograd_adjoints(net, theta, x, y, loss)
    nb = partition.node_block_tensor(H.device)
    k = partition.num_blocks
    g = gradient(net, x, y, theta, loss)
    bc = manifold("BC", partition)
    return CloningReport(
        forward=_block_spread(H, nb, k),
        preactivation=_block_spread(Z, nb, k),
        backward=_block_spread(delta, nb, k),
        gradient=float((g - bc.tangent(g)).abs().max()),
    )


def tangency_residuals(
    net: DagNet,
    partition: Partition,
    x: torch.Tensor,
    y: torch.Tensor,
    kinds: Iterable[str] = ("RE", "CE", "C", "BC"),
    loss: str = "mse",
    frozen: Iterable[Node] = (),
) -> dict[str, float]:
    """‖P_N ∇L‖ / ‖∇L‖ for each manifold kind (0 ⇔ the gradient is tangent, Definition 2.1).

    ``D`` has the tangent space of ``BC``; ``F`` needs ``frozen`` (its tangent space ignores the anchor).
    """
    theta = _prepared(net, partition, x, y)
    g = gradient(net, x, y, theta, loss)
    norm = float(torch.linalg.vector_norm(g))
    out = {}
    for kind in kinds:
        if kind == "D":
            M = manifold("BC", partition)
        elif kind == "F":
            M = manifold("F", partition, anchor=theta, frozen=frozen)
        else:
            M = manifold(kind, partition)
        out[kind] = float(torch.linalg.vector_norm(M.normal(g))) / norm if norm > 0 else 0.0
    return out


# ---------------------------------------------------------------------------- symmetry breakers
@dataclass(frozen=True)
class SymmetryBreaker:
    """Something that treats clones differently (Section 2); acts in steps t < ``steps`` (None: always)."""

    steps: int | None = None
    name: ClassVar[str]

    def __post_init__(self) -> None:
        if self.steps is not None:
            check_int(self.steps, "breaker steps", low=0)

    def active(self, t: int) -> bool:
        return self.steps is None or t < self.steps

    @classmethod
    def of(cls, spec: SymmetryBreaker | str | None) -> SymmetryBreaker | None:
        """A breaker as is, None, or a bare name of :data:`BREAKERS` with its defaults."""
        if spec is None or isinstance(spec, SymmetryBreaker):
            return spec
        if isinstance(spec, str) and spec in BREAKERS:
            return BREAKERS[spec]()
        raise ValueError(
            f"unknown symmetry breaker {spec!r}; valid choices: {', '.join(BREAKERS)}, a "
            "SymmetryBreaker, or None"
        )


@dataclass(frozen=True)
class Dropout(SymmetryBreaker):
    """Independent Bernoulli(1 − rate) masks on the hidden units of every example, scaled by 1/(1 − rate)."""

    rate: float = DEFAULT_DROPOUT
    name: ClassVar[str] = "dropout"

    def __post_init__(self) -> None:
        super().__post_init__()
        rate = check_real(self.rate, "dropout rate", low=0.0)
        if not rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")


@dataclass(frozen=True)
class GradientNoise(SymmetryBreaker):
    """Noisy SGD's perturbation (Appendix B.1.2): g_p ← g_p + N(0, σ_t² ‖g_p‖² I), σ_t = σ0 λ^t."""

    sigma0: float = PAPER_SIGMA0
    decay: float = PAPER_DECAY
    norm: str = "tensor"
    name: ClassVar[str] = "noisy_sgd"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_noise(self.sigma0, self.decay, self.norm)


@dataclass(frozen=True)
class UnitNoise(SymmetryBreaker):
    """Independent N(0, std²) added to every hidden pre-activation of every example."""

    std: float = DEFAULT_UNIT_NOISE
    name: ClassVar[str] = "per_unit_noise"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_real(self.std, "unit noise std", low=0.0)


BREAKERS: dict[str, type[SymmetryBreaker]] = {cls.name: cls for cls in (Dropout, GradientNoise, UnitNoise)}


@dataclass
class Trajectory:
    """Per-step records (index 0 = before the first step)."""

    loss: list[float] = field(default_factory=list)
    distance_D: list[float] = field(default_factory=list)
    distance_C: list[float] = field(default_factory=list)
    residual_C: list[float] = field(default_factory=list)
    distance_F: list[float] = field(default_factory=list)
    thetas: list[torch.Tensor] = field(default_factory=list)


def _hidden_mask(net: DagNet) -> torch.Tensor:
    mask = torch.zeros(net.num_nodes, dtype=torch.bool)
    for v in net.bias_nodes:
        if v not in net.outputs:
            mask[net.index[v]] = True
    return mask


def run_trajectory(
    net: DagNet,
    partition: Partition,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: OptimizerSpec | str = "sgd",
    steps: int = 20,
    breaker: SymmetryBreaker | str | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    loss: str = "mse",
    frozen: Iterable[Node] = (),
    keep_thetas: bool = False,
) -> Trajectory:
    """Train a copy of ``net`` for ``steps`` steps and record distances to M_D(θ0), M_C and M_F(θ0).

    θ0 is ``net``'s current parameters (which must lie on M_C for M_D(θ0) to exist). ``batch_size``
    draws a random mini-batch per step (default: the full batch). ``net`` is not modified. Section 2's
    "a single step with noise magnitude 0.01 relative to gradient norms" is
    ``breaker=GradientNoise(sigma0=0.01, decay=1.0, steps=1)``. Mini-batches, dropout masks and unit
    noise come from one generator seeded with ``seed``; gradient noise from its own, seeded the same, so
    SGD with :class:`GradientNoise` is step for step :class:`~dag_nets.optimizers.NoisySGD`.
    """
    spec = OptimizerSpec.of(optimizer)
    breaker = SymmetryBreaker.of(breaker)
    _prepared(net, partition, x, y)
    steps = check_int(steps, "steps", low=0)
    seed = check_int(seed, "seed", low=0, high=SEED_LIMIT)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", low=1, high=x.shape[0])
    model = net.copy_with()
    theta0 = model.flat_parameters()
    M_D = manifold("D", partition, anchor=theta0)
    M_C = manifold("C", partition)
    frozen = tuple(frozen)
    M_F = manifold("F", partition, anchor=theta0, frozen=frozen) if frozen else None
    params = [model.edge_weight, model.bias]
    opt = spec.build(params)
    gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator().manual_seed(seed)
    loss_fn = get_loss(loss)
    hidden = _hidden_mask(model).to(x.device)
    traj = Trajectory()

    def record() -> None:
        th = model.flat_parameters()
        with torch.no_grad():
            traj.loss.append(float(loss_fn(model.functional(th, x), y)))
        traj.distance_D.append(M_D.distance(th))
        traj.distance_C.append(M_C.distance(th))
        traj.residual_C.append(M_C.residual(th))
        if M_F is not None:
            traj.distance_F.append(M_F.distance(th))
        if keep_thetas:
            traj.thetas.append(th)

    record()
    for t in range(steps):
        active = breaker if breaker is not None and breaker.active(t) else None
        if batch_size is None:
            xb, yb = x, y
        else:
            pick = torch.randint(0, x.shape[0], (batch_size,), generator=gen).to(x.device)
            xb, yb = x[pick], y[pick]
        mask = noise = None
        if isinstance(active, Dropout):
            keep = (torch.rand(xb.shape[0], model.num_nodes, generator=gen) >= active.rate).to(x) / (
                1.0 - active.rate
            )
            mask = torch.where(hidden, keep, torch.ones_like(keep))
        elif isinstance(active, UnitNoise):
            noise = (
                torch.randn(xb.shape[0], model.num_nodes, generator=gen, dtype=x.dtype).to(x.device)
                * active.std
                * hidden
            )
        opt.zero_grad()
        out = model.functional(model.theta(), xb, unit_mask=mask, unit_noise=noise)
        loss_fn(out, yb).backward()
        if isinstance(active, GradientNoise):
            sigma = noise_scale(active.sigma0, active.decay, t)
            with torch.no_grad():
                for p, eps in zip(params, gradient_noise(params, sigma, noise_gen, active.norm)):
                    if eps is not None and p.grad is not None:
                        p.grad.add_(eps)
        opt.step()
        record()
    return traj


def linearized_normal_factor(normal_eigenvalues: Sequence[float] | np.ndarray, lr: float) -> float:
    """ρ = max_i |1 − lr·λ_i| over the eigenvalues λ_i of the N_C-restricted Hessian NᵀH N.

    Near a critical point θ* ∈ M_C, GD with step lr maps a normal perturbation e to (I − lr NᵀHN) e + O(‖e‖²)
    (tangent perturbations stay tangent, because M_C is invariant), so ‖e_t‖ ≤ ρ^t ‖e_0‖ to first order, with
    ‖e_t‖^{1/t} → ρ for a generic e_0. When λ_min < 0 and lr·λ_max < 2 − lr·|λ_min|, ρ = 1 − lr·λ_min > 1:
    the perturbation grows (escape); when 0 ≤ λ_i < 2/lr for all i, ρ ≤ 1 and it does not.
    """
    ev = np.asarray(normal_eigenvalues, dtype=np.float64)
    if ev.ndim != 1 or ev.size == 0 or not np.all(np.isfinite(ev)):
        raise ValueError(f"normal_eigenvalues must be a non-empty finite 1-D array, got shape {ev.shape}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    return float(np.max(np.abs(1.0 - lr * ev)))


def growth_factor(distances: Sequence[float], window: int) -> float:
    """Observed per-step factor (d_T / d_{T−k})^{1/k} over the last k = ``window`` steps of a distance
    curve."""
    d = np.asarray(distances, dtype=np.float64)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window < len(d):
        raise ValueError(
            f"window must be an integer in [1, {len(d) - 1}] for {len(d)} distances, got {window!r}"
        )
    if d[-1 - window] <= 0.0 or d[-1] < 0.0:
        raise ValueError(f"distances must be positive at the window's start, got {d[-1 - window]!r}")
    return float((d[-1] / d[-1 - window]) ** (1.0 / window))


def frozen_unit_trajectory(
    net: DagNet,
    unit: Node,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: OptimizerSpec | str = "sgd",
    warm_steps: int = 10,
    steps: int = 20,
    kill_bias: float = -1e3,
    loss: str = "mse",
) -> tuple[list[float], float]:
    """Train ``warm_steps`` with ``unit`` alive, then set its bias to ``kill_bias`` (f' = 0 on the data for a
    ReLU-like unit) and keep training with the *same* optimizer state for ``steps`` steps.

    Returns (‖θ_in(unit) − θ_in at the kill‖ after each later step, largest |f'(z(unit))| seen after the
    kill).
    Theorem 2.1 part 1 predicts 0 for plain SGD; optimizer state carried into M_F and weight decay move θ_in.
    """
    spec = OptimizerSpec.of(optimizer)
    _prepared(net, None, x, y)
    if unit not in net.bias_index or unit in net.outputs:
        raise ValueError(f"unit {unit!r} must be a hidden (non-input, non-output) node")
    warm_steps = check_int(warm_steps, "warm_steps", low=0)
    steps = check_int(steps, "steps", low=1)
    kill_bias = check_real(kill_bias, "kill_bias")
    model = net.copy_with()
    opt = spec.build([model.edge_weight, model.bias])
    loss_fn = get_loss(loss)
    in_edges = [model.edge_index[(u, unit)] for u in model.graph.predecessors(unit)]
    coords = torch.tensor(in_edges + [model.num_edges + model.bias_index[unit]])
    act = model.node_activation[unit]

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(warm_steps):
        step()
    with torch.no_grad():
        model.bias[model.bias_index[unit]] = kill_bias
    anchor = model.flat_parameters()[coords]
    moved, max_fprime = [], 0.0
    for _ in range(steps):
        _, Z = model.node_values(model.flat_parameters(), x)
        max_fprime = max(max_fprime, float(act.torch_derivative(Z[:, model.index[unit]]).abs().max()))
        step()
        moved.append(float(torch.linalg.vector_norm(model.flat_parameters()[coords] - anchor)))
    return moved, max_fprime

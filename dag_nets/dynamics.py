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

Optimizers (``OPTIMIZERS``): sgd, momentum, nesterov, rmsprop, adam, adamw (decoupled decay), l2 (SGD with
coupled L2, torch's ``weight_decay``), adam-l2 (Adam with coupled L2). Symmetry breakers (Section 2,
Appendix B.1.2): ``dropout`` (independent Bernoulli masks on hidden units, inverted scaling),
``noisy-sgd`` (g ← g + N(0, σ_t² ‖g‖² I), σ_t = σ0 λ^t), ``per-unit-noise`` (independent N(0, s²) added
to each hidden pre-activation of each example).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import torch

from dag_nets.backprop import autograd_adjoints
from dag_nets.graph import DagNet, Node, get_loss, loss_of_theta
from dag_nets.manifolds import manifold
from dag_nets.partition import Partition

OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "l2", "adam-l2")
BREAKERS: tuple[str, ...] = ("dropout", "noisy-sgd", "per-unit-noise")
DEFAULT_MOMENTUM = 0.9
DEFAULT_WEIGHT_DECAY = 1e-2
DEFAULT_DROPOUT = 0.2  # Appendix B.1.3 MLP default
DEFAULT_NOISE_SIGMA0 = 0.01  # "noise magnitude 0.01 relative to gradient norms" (Section 2)
DEFAULT_NOISE_DECAY = 0.99
DEFAULT_UNIT_NOISE = 0.01


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
    hi = torch.full((values.shape[0], num_blocks), -torch.inf, dtype=values.dtype).scatter_reduce(1, idx, values, "amax")
    lo = torch.full((values.shape[0], num_blocks), torch.inf, dtype=values.dtype).scatter_reduce(1, idx, values, "amin")
    return float((hi - lo).max())


def gradient(net: DagNet, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor | None = None, loss: str = "mse") -> torch.Tensor:
    """∇_θ L at θ (default: the current parameters)."""
    theta = (net.flat_parameters() if theta is None else theta.detach()).requires_grad_(True)
    (g,) = torch.autograd.grad(loss_of_theta(net, x, y, loss)(theta), theta)
    return g


def cloning_report(
    net: DagNet, partition: Partition, x: torch.Tensor, y: torch.Tensor, loss: str = "mse", theta: torch.Tensor | None = None
) -> CloningReport:
    """Forward, backward and gradient cloning residuals of Theorem A.1 parts 1–2 on the batch (x, y)."""
    theta = net.flat_parameters() if theta is None else theta.detach()
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
    g = gradient(net, x, y, loss=loss)
    norm = float(torch.linalg.vector_norm(g))
    theta = net.flat_parameters()
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


def make_optimizer(name: str, params: list[torch.Tensor], lr: float, weight_decay: float = DEFAULT_WEIGHT_DECAY) -> torch.optim.Optimizer:
    """The torch optimizer for one of :data:`OPTIMIZERS` (weight decay only for adamw, l2 and adam-l2)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=DEFAULT_MOMENTUM)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=DEFAULT_MOMENTUM, nesterov=True)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "l2":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "adam-l2":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; valid choices: {', '.join(OPTIMIZERS)}")


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
    optimizer: str = "sgd",
    steps: int = 20,
    lr: float = 0.05,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    breaker: str | None = None,
    dropout: float = DEFAULT_DROPOUT,
    noise_sigma0: float = DEFAULT_NOISE_SIGMA0,
    noise_decay: float = DEFAULT_NOISE_DECAY,
    unit_noise: float = DEFAULT_UNIT_NOISE,
    batch_size: int | None = None,
    seed: int = 0,
    loss: str = "mse",
    frozen: Iterable[Node] = (),
    keep_thetas: bool = False,
    breaker_steps: int | None = None,
) -> Trajectory:
    """Train a copy of ``net`` for ``steps`` steps and record distances to M_D(θ0), M_C and M_F(θ0).

    θ0 is ``net``'s current parameters (which must lie on M_C for M_D(θ0) to exist). ``batch_size``
    draws a random mini-batch per step (default: the full batch). ``net`` is not modified. The
    ``breaker`` acts in the first ``breaker_steps`` steps only (default: every step), e.g. Section 2's
    "a single step with noise magnitude 0.01 relative to gradient norms" is ``breaker="noisy-sgd",
    noise_sigma0=0.01, breaker_steps=1``.
    """
    if breaker is not None and breaker not in BREAKERS:
        raise ValueError(f"unknown symmetry breaker {breaker!r}; valid choices: {', '.join(BREAKERS)} or None")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if breaker_steps is not None and (isinstance(breaker_steps, bool) or not isinstance(breaker_steps, int)
                                      or breaker_steps < 0):
        raise ValueError(f"breaker_steps must be a non-negative integer or None, got {breaker_steps!r}")
    model = net.copy_with()
    theta0 = model.flat_parameters()
    M_D = manifold("D", partition, anchor=theta0)
    M_C = manifold("C", partition)
    frozen = tuple(frozen)
    M_F = manifold("F", partition, anchor=theta0, frozen=frozen) if frozen else None
    opt = make_optimizer(optimizer, [model.edge_weight, model.bias], lr, weight_decay)
    gen = torch.Generator().manual_seed(seed)
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
        active = breaker if breaker_steps is None or t < breaker_steps else None
        if batch_size is None:
            xb, yb = x, y
        else:
            pick = torch.randint(0, x.shape[0], (batch_size,), generator=gen).to(x.device)
            xb, yb = x[pick], y[pick]
        mask = noise = None
        if active == "dropout":
            keep = (torch.rand(xb.shape[0], model.num_nodes, generator=gen) >= dropout).to(x) / (1.0 - dropout)
            mask = torch.where(hidden, keep, torch.ones_like(keep))
        elif active == "per-unit-noise":
            noise = torch.randn(xb.shape[0], model.num_nodes, generator=gen, dtype=x.dtype).to(x.device) * unit_noise * hidden
        opt.zero_grad()
        out = model.functional(model.theta(), xb, unit_mask=mask, unit_noise=noise)
        loss_fn(out, yb).backward()
        if active == "noisy-sgd":
            sigma = noise_sigma0 * noise_decay**t
            with torch.no_grad():
                gnorm = torch.sqrt(model.edge_weight.grad.pow(2).sum() + model.bias.grad.pow(2).sum())
                for p in (model.edge_weight, model.bias):
                    p.grad.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) * sigma * gnorm)
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
    """Observed per-step factor (d_T / d_{T−k})^{1/k} over the last k = ``window`` steps of a distance curve."""
    d = np.asarray(distances, dtype=np.float64)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window < len(d):
        raise ValueError(f"window must be an integer in [1, {len(d) - 1}] for {len(d)} distances, got {window!r}")
    if d[-1 - window] <= 0.0 or d[-1] < 0.0:
        raise ValueError(f"distances must be positive at the window's start, got {d[-1 - window]!r}")
    return float((d[-1] / d[-1 - window]) ** (1.0 / window))


def frozen_unit_trajectory(
    net: DagNet,
    unit: Node,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: str = "sgd",
    warm_steps: int = 10,
    steps: int = 20,
    lr: float = 0.05,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    kill_bias: float = -1e3,
    loss: str = "mse",
) -> tuple[list[float], float]:
    """Train ``warm_steps`` with ``unit`` alive, then set its bias to ``kill_bias`` (f' = 0 on the data for a
    ReLU-like unit) and keep training with the *same* optimizer state for ``steps`` steps.

    Returns (‖θ_in(unit) − θ_in at the kill‖ after each later step, largest |f'(z(unit))| seen after the kill).
    Theorem 2.1 part 1 predicts 0 for plain SGD; optimizer state carried into M_F and weight decay move θ_in.
    """
    if unit not in net.bias_index or unit in net.outputs:
        raise ValueError(f"unit {unit!r} must be a hidden (non-input, non-output) node")
    model = net.copy_with()
    opt = make_optimizer(optimizer, [model.edge_weight, model.bias], lr, weight_decay)
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


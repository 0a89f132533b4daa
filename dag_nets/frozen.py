"""Frozen units on a batch and whether an optimizer keeps them frozen (Theorem 2.1 part 1).

A unit v is *frozen* on a batch when f_v′(z(v)) = 0 on every example: then ∂L/∂θ_in(v) = δ(v) f_v′(z(v)) h(u)
and ∂L/∂b(v) vanish for any loss, so plain gradient descent leaves θ_in(v) (its incoming weights and bias)
where it is — the manifold M_F(θ0) = {θ : θ_in(v) = θ0_in(v), v ∈ F} is invariant. ``tol`` widens "= 0" to
|f′| ≤ tol (default 0: exactly zero, the theorem's condition; a ReLU unit below its kink, a tanh unit whose
derivative underflows).

Optimizer state (Remark 2.4 and ``frozen_unit_trajectory`` in dynamics.py). A zero gradient is not a zero
update for every optimizer: a momentum buffer or an Adam first moment carried into the frozen coordinates
keeps moving them, weight decay shrinks nonzero θ_in(v), and noisy SGD's noise is scaled by the norm of the
whole parameter tensor. :func:`optimizer_invariance` decides it by running one step of a deep copy of the
model and the optimizer (its state included) and comparing the frozen coordinates, and names the causes
it can see: nonzero :data:`MOVING_STATE` entries at those coordinates, weight decay on nonzero weights,
gradient noise. The frozen set is *invariant* when that step leaves them exactly unchanged and no moving
state remains there after it — by induction every later step with the units still frozen does the same.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from dag_nets.graph import DagNet
from dag_nets.optimizers import NoisySGD
from dag_nets.validation import check_real, check_theta

MOVING_STATE = ("momentum_buffer", "exp_avg")
"""Optimizer state entries that move a parameter with zero gradient (SGD/RMSprop momentum, the first moment
of Adam, AdamW, Adamax, NAdam, RAdam); second moments only rescale and cannot move it."""


def zero_derivative_fraction(
    net: DagNet, x: torch.Tensor, theta: torch.Tensor | None = None, tol: float = 0.0
) -> np.ndarray:
    """For every non-input node (``net.bias_nodes`` order), the fraction of the examples of ``x`` with
    |f_v′(z(v))| ≤ ``tol``."""
    tol = check_real(tol, "tol", low=0.0)
    theta = net.flat_parameters() if theta is None else check_theta(net, theta)
    with torch.no_grad():
        _, Z = net.node_values(theta, x)
    n_in = len(net.inputs)
    z = Z[:, n_in:]
    out = np.zeros(z.shape[1])
    acts = [net.node_activation[v] for v in net.bias_nodes]
    groups: dict[tuple, list[int]] = {}
    for i, act in enumerate(acts):
        groups.setdefault(act.key, []).append(i)
    for cols in groups.values():
        idx = torch.as_tensor(cols)
        fprime = acts[cols[0]].torch_derivative(z.index_select(1, idx.to(z.device)))
        out[cols] = (fprime.abs() <= tol).double().mean(0).cpu().numpy()
    return out


@dataclass
class Invariance:
    """What one optimizer step does to the frozen coordinates (module docstring).

    ``invariant``: the step left them exactly unchanged and no moving state remains there; ``moved_units``:
    frozen units whose θ_in changed; ``max_displacement``: the largest |Δθ| among them; ``causes``: what the
    state and settings show (e.g. "momentum_buffer ≠ 0 on 3 units")."""

    optimizer: str
    invariant: bool
    moved_units: int
    max_displacement: float
    causes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "optimizer": self.optimizer,
            "invariant": self.invariant,
            "moved_units": self.moved_units,
            "max_displacement": self.max_displacement,
            "causes": list(self.causes),
        }


def _optimizer_params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _moving_state(
    optimizer: torch.optim.Optimizer,
    params: Mapping[str, torch.Tensor],
    entries: Mapping[str, np.ndarray],
    unit_of: Mapping[str, np.ndarray],
) -> dict[str, set]:
    """{state key: units} where a :data:`MOVING_STATE` entry is nonzero at a frozen coordinate."""
    found: dict[str, set] = {}
    for name, p in params.items():
        state = optimizer.state.get(p, {})
        for key in MOVING_STATE:
            value = state.get(key)
            if isinstance(value, torch.Tensor) and value.shape == p.shape:
                hit = value.detach().reshape(-1)[torch.as_tensor(entries[name])].cpu().numpy() != 0
                if hit.any():
                    found.setdefault(key, set()).update(unit_of[name][hit].tolist())
    return found


def optimizer_invariance(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    entries: Mapping[str, np.ndarray],
    unit_of: Mapping[str, np.ndarray],
    closure: Callable[[nn.Module], torch.Tensor] | None,
) -> Invariance:
    """Whether ``optimizer`` (None: plain SGD) keeps the frozen coordinates fixed (module docstring).

    ``entries[name]``: flat indices, in module parameter ``name``, of the trainable coordinates of the frozen
    units' θ_in; ``unit_of[name]``: the unit each belongs to. ``closure(model)`` returns the loss on the batch
    (its gradient is what the optimizer sees); None gives every parameter a zero gradient, which is exact for
    the frozen coordinates and ignores only what other coordinates' gradients do through the optimizer
    (noisy SGD's tensor-norm noise, which then counts as moving them)."""
    if optimizer is None:
        return Invariance("sgd (no state)", True, 0, 0.0, ["plain SGD: a zero gradient is a zero update"])
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
    label = type(optimizer).__name__
    owned = {id(p) for p in model.parameters()}
    foreign = [p for p in _optimizer_params(optimizer) if id(p) not in owned]
    if foreign:
        raise ValueError(
            f"the optimizer holds {len(foreign)} tensors that are not parameters of the model; build it on "
            "model.parameters() (or load its state_dict into one that is)"
        )
    params = {name: model.get_parameter(name) for name in entries}
    trained = {id(p) for p in _optimizer_params(optimizer)}
    params = {name: p for name, p in params.items() if id(p) in trained}
    if not params or all(len(entries[n]) == 0 for n in params):
        return Invariance(label, True, 0, 0.0, ["the optimizer does not train the frozen units' parameters"])
    causes: list[str] = []
    before_state = _moving_state(optimizer, params, entries, unit_of)
    for key, units in before_state.items():
        causes.append(f"{key} ≠ 0 on {len(units)} frozen unit(s)")
    group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    decayed: set = set()
    for name, p in params.items():
        if float(group_of[id(p)].get("weight_decay", 0.0) or 0.0) > 0:
            nonzero = p.detach().reshape(-1)[torch.as_tensor(entries[name])].cpu().numpy() != 0
            decayed.update(unit_of[name][nonzero].tolist())
    if decayed:
        causes.append(f"weight decay on the nonzero weights of {len(decayed)} frozen unit(s)")
    if isinstance(optimizer, NoisySGD) and optimizer.sigma > 0:
        causes.append(f"gradient noise σ_t = {optimizer.sigma:.3g} × ‖g‖ of the whole tensor")
    model_copy, opt_copy = copy.deepcopy((model, optimizer))
    copy_params = {name: model_copy.get_parameter(name) for name in params}
    start = {name: p.detach().clone() for name, p in copy_params.items()}
    opt_copy.zero_grad(set_to_none=False)
    if closure is None:
        for p in model_copy.parameters():
            p.grad = torch.zeros_like(p)
    else:
        with torch.enable_grad():
            closure(model_copy).backward()
        for p in model_copy.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
    opt_copy.step()
    moved: set = set()
    displacement = 0.0
    for name, p in copy_params.items():
        idx = torch.as_tensor(entries[name])
        delta = (p.detach().reshape(-1)[idx] - start[name].reshape(-1)[idx]).abs().double().cpu().numpy()
        if delta.size:
            displacement = max(displacement, float(delta.max()))
            moved.update(unit_of[name][delta != 0].tolist())
    after_state = _moving_state(opt_copy, copy_params, entries, unit_of)
    noisy = isinstance(optimizer, NoisySGD) and optimizer.sigma > 0
    invariant = not moved and not after_state and not (noisy and closure is None)
    if moved and not causes:
        causes.append("the optimizer's update is nonzero at zero gradient")
    if invariant and not causes:
        causes.append("zero gradient and zero first-order state: a zero update")
    return Invariance(label, invariant, len(moved), displacement, causes)

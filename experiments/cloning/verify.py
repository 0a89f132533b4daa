"""Verification of a clone against its *base* model (not only among clones), Theorem A.2 items 1–3.

:func:`compare_with_base` runs base and clone on the same batch and reports the largest relative
deviation of

* the outputs, y' = y;
* every module's output (hooks on every module the :class:`ClonePlan` profiles): h'[…u'…] = h[…π(u')…];
* every parameter gradient, entrywise ∂L/∂θ' = ∂L/∂θ[π…] / m_out, and its block sums, Σ_block ∂L/∂θ' =
  m_in · ∂L/∂θ (see :mod:`experiments.cloning.expand`);
* parameters and buffers (running statistics after train-mode passes), θ' = θ[π…] / m_in.

Relative deviation of a tensor a against its reference b: ‖a − b‖ / ‖b‖ (Frobenius norms). Hooks are
removed before returning; nothing is kept between calls.

:func:`collapse` builds the quotient (base-sized) network of a clone — block means, times m_in on the
source axis, i.e. the column sums of Appendix A.3 (corrected) — and :func:`manifold_residual` measures how
far a clone is from the block-constant manifold M_BC of its plan.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from experiments.cloning.expand import ClonePlan
from experiments.models import construct

FLOAT32_RTOL = 1e-5
"""Largest relative clone-vs-base deviation accepted in float32."""
FLOAT64_RTOL = 1e-12
"""Largest relative clone-vs-base deviation accepted in float64."""
_TINY = 1e-30
GRADIENT_FLOOR = 1e-3
"""Each gradient tensor is compared relative to max(its own norm, this fraction of the model's largest
gradient norm): a tensor whose gradient nearly cancels (a bias feeding a GroupNorm) carries the round-off
of the terms it sums, not of its own small size."""
VANISHING_GRADIENT = 1e-9
"""A base gradient tensor whose float64 value is below this fraction of the model's largest gradient
vanishes identically (a bias feeding a train-mode BatchNorm, the key bias of attention: softmax is
shift-invariant); what the clone computes there is round-off, so it is measured against the model's
largest gradient instead of its own (zero) size."""


def tolerance_for(dtype: torch.dtype) -> float:
    return FLOAT64_RTOL if dtype == torch.float64 else FLOAT32_RTOL


def relative_deviation(actual: torch.Tensor, reference: torch.Tensor, floor: float = 0.0) -> float:
    """‖a − b‖_F / max(‖b‖_F, floor, tiny)."""
    if actual.shape != reference.shape:
        raise ValueError(f"shape mismatch {tuple(actual.shape)} vs {tuple(reference.shape)}")
    if not actual.numel():
        return 0.0
    actual, reference = actual.detach(), reference.detach()
    scale = max(float(torch.linalg.vector_norm(reference)), floor, _TINY)
    return float(torch.linalg.vector_norm(actual - reference)) / scale


@dataclass
class CloneReport:
    """Largest relative deviation per category, and the name where it occurs."""

    output: float = 0.0
    activations: dict[str, float] = field(default_factory=dict)
    gradients: dict[str, float] = field(default_factory=dict)
    gradient_block_sums: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, float] = field(default_factory=dict)
    buffers: dict[str, float] = field(default_factory=dict)

    def worst(self) -> tuple[str, float]:
        items = [("output", self.output)]
        for kind in ("activations", "gradients", "gradient_block_sums", "parameters", "buffers"):
            items += [(f"{kind}:{n}", v) for n, v in getattr(self, kind).items()]
        return max(items, key=lambda kv: kv[1])

    def max_deviation(self) -> float:
        return self.worst()[1]


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def compare_with_base(
    base: nn.Module,
    clone: nn.Module,
    plan: ClonePlan,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: LossFn = F.cross_entropy,
    train: bool = False,
    gradient_reference: str = "tensor",
) -> CloneReport:
    """One forward/backward of base and clone on (inputs, targets); see the module docstring.

    ``train`` puts both in train mode (batch statistics, running-stat updates); dropout must then be 0
    for the comparison to be meaningful (independent masks break cloning, Remark A.3).
    ``gradient_reference="tensor"`` measures each gradient relative to max(its own norm, GRADIENT_FLOOR ×
    the model's largest gradient norm); ``"model"`` relative to max(own norm, the largest gradient norm) — the
    float32 criterion, since a tensor whose gradient is 10⁴ times smaller than the rest carries float32
    round-off of the rest.
    """
    if gradient_reference not in ("tensor", "model"):
        raise ValueError(f"gradient_reference must be 'tensor' or 'model', got {gradient_reference!r}")
    report = CloneReport()
    for model in (base, clone):
        model.train(train)
        model.zero_grad(set_to_none=True)
    base_out, base_acts = _run(base, plan, inputs)
    clone_out, clone_acts = _run(clone, plan, inputs)
    report.output = relative_deviation(clone_out, base_out)
    for name, feature in plan.outputs.items():
        b, c = base_acts.get(name), clone_acts.get(name)
        if b is None or c is None:
            continue  # a module not run on this path (e.g. an identity shortcut hook-less)
        axis = feature.axis % b.dim()
        report.activations[name] = relative_deviation(c, feature.profile.gather(b, axis))
    loss_fn(base_out, targets).backward()
    loss_fn(clone_out, targets).backward()
    base_params, clone_params = dict(base.named_parameters()), dict(clone.named_parameters())
    vanishing = _vanishing_gradients(base, inputs, targets, loss_fn, train)
    largest = max(
        (float(torch.linalg.vector_norm(p.grad)) for p in base_params.values() if p.grad is not None),
        default=0.0,
    )
    for name, tmap in plan.params.items():
        bp, cp = base_params[name], clone_params[name]
        report.parameters[name] = relative_deviation(cp.detach(), tmap.apply(bp.detach()))
        if bp.grad is None or cp.grad is None:
            continue
        floor = largest if (name in vanishing or gradient_reference == "model") else GRADIENT_FLOOR * largest
        report.gradients[name] = relative_deviation(cp.grad, tmap.expected_grad(bp.grad), floor)
        summed_floor = floor * float(tmap.in_multiplicity(bp.grad).max())
        report.gradient_block_sums[name] = relative_deviation(
            tmap.block_sums(cp.grad), tmap.in_multiplicity(bp.grad) * bp.grad, summed_floor
        )
    base_bufs, clone_bufs = dict(base.named_buffers()), dict(clone.named_buffers())
    for name, tmap in plan.buffers.items():
        bb, cb = base_bufs[name], clone_bufs[name]
        if bb.is_floating_point():
            report.buffers[name] = relative_deviation(cb, tmap.apply(bb))
        else:
            report.buffers[name] = float(not torch.equal(cb, bb))
    return report


def _vanishing_gradients(
    base: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn: LossFn, train: bool
) -> set[str]:
    """Names of parameters whose gradient vanishes identically, decided on a float64 copy of ``base``
    (the copy does one forward pass; with ``train`` its running statistics move, the original's do not)."""
    ref = copy.deepcopy(base).to(torch.float64)
    ref.train(train)
    ref.zero_grad(set_to_none=True)
    loss_fn(ref(inputs.to(torch.float64)), targets).backward()
    grads = {
        n: float(torch.linalg.vector_norm(p.grad)) for n, p in ref.named_parameters() if p.grad is not None
    }
    largest = max(grads.values(), default=0.0)
    return {n for n, g in grads.items() if g <= VANISHING_GRADIENT * largest}


def _run(
    model: nn.Module, plan: ClonePlan, inputs: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    acts: dict[str, torch.Tensor] = {}
    modules = dict(model.named_modules())
    hooks = [
        modules[name].register_forward_hook(lambda _m, _i, out, n=name: acts.__setitem__(n, out.detach()))
        for name in plan.outputs
    ]
    try:
        out = model(inputs)
    finally:
        for h in hooks:
            h.remove()
    return out, acts


def collapse(clone: nn.Module, plan: ClonePlan) -> nn.Module:
    """The base-sized quotient network of ``clone``: θ = m_in · blockmean(θ'), buffers block-averaged.

    For a clone on the block-constant manifold this base network computes the same function (Remark A.2
    with the corrected base weights w̃ = column sums).
    """
    ref = next(iter(clone.parameters()))
    base = construct(plan.base_spec).to(dtype=ref.dtype, device=ref.device)
    base.train(clone.training)
    clone_params, clone_bufs = dict(clone.named_parameters()), dict(clone.named_buffers())
    with torch.no_grad():
        for name, p in base.named_parameters():
            p.copy_(plan.params[name].collapse(clone_params[name].detach()))
        for name, b in base.named_buffers():
            src = clone_bufs[name]
            b.copy_(plan.buffers[name].collapse(src) if src.is_floating_point() else src)
    _copy_attention_scales(clone, base)
    return base


def _copy_attention_scales(src: nn.Module, dst: nn.Module) -> None:
    src_modules = dict(src.named_modules())
    for name, m in dst.named_modules():
        if hasattr(m, "scale") and hasattr(m, "head_dim"):
            m.scale = src_modules[name].scale  # type: ignore[union-attr]


def manifold_residual(clone: nn.Module, plan: ClonePlan, reference: nn.Module | None = None) -> float:
    """max over parameters of the relative distance of (θ' − θ'_ref) from its block-constant projection.

    With ``reference=None`` this is the distance of the clone from M_BC; with the clone at expansion time
    as reference it is the distance from the affine manifold M_D(θ'_0) of Theorem A.1 part 3.
    """
    ref_params = dict(reference.named_parameters()) if reference is not None else {}
    worst = 0.0
    for name, p in clone.named_parameters():
        tmap = plan.params[name]
        t = p.detach() - (ref_params[name].detach() if name in ref_params else 0.0)
        projected = tmap.apply(tmap.collapse(t))
        worst = max(worst, relative_deviation(t, projected) if float(t.abs().max()) > 0 else 0.0)
    return worst


ULP = 2.0**-52


SENSITIVITY_PROBES = 4


def ulp_sensitivity(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    train: bool = False,
    loss_fn: LossFn = F.cross_entropy,
    probes: int = SENSITIVITY_PROBES,
) -> float:
    """Largest relative change of any gradient of ``model`` when every parameter is multiplied by
    (1 + 2⁻⁵²·ξ), ξ ~ N(0, 1) (max over ``probes`` seeded draws): the float64 conditioning of this
    instance. A clone's weights W/m_in are rounded to the nearest double, so a clone cannot agree with its
    base much better than this."""
    ref = copy.deepcopy(model)
    ref.train(train)
    ref.zero_grad(set_to_none=True)
    loss_fn(ref(inputs), targets).backward()
    worst = 0.0
    for seed in range(probes):
        moved = copy.deepcopy(model)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in moved.parameters():
                p.mul_(1 + ULP * torch.randn(p.shape, generator=g, dtype=torch.float64).to(p))
        moved.train(train)
        moved.zero_grad(set_to_none=True)
        loss_fn(moved(inputs), targets).backward()
        moved_params = dict(moved.named_parameters())
        for n, p in ref.named_parameters():
            if p.grad is not None:
                moved_grad = moved_params[n].grad  # None: no gradient reached it, i.e. zero
                worst = max(
                    worst,
                    relative_deviation(
                        torch.zeros_like(p.grad) if moved_grad is None else moved_grad, p.grad
                    ),
                )
    return worst

"""Continual Backpropagation for the four architectures of Appendix B.1.3 (Section 4, Appendix B.1.2).

:func:`cbp_targets` finds, in a model built by :func:`experiments.models.build`, every layer of
replaceable units as a :class:`~experiments.optim.cbp.UnitLayer` plus the normalization that sits between
the units' ``incoming`` layer and their activation:

* **MLP**: hidden ``Linear`` k → ``Linear`` k+1 (activation: the ``Elementwise`` after the norm);
* **CNN**: conv k → conv k+1 and last conv → flatten → ``fc`` (``spatial_size`` = H·W after pooling),
  then ``fc`` → output layer. The recorded activation h is the *max-pool output*: that is what the next
  layer multiplies by its weights, so the utility |h|·|w_out| and the bias correction W_out·ĥ use the
  values the outgoing layer sees (the activation before pooling has a different mean);
* **ResNet**: inside each basic block, ``conv1`` → ``conv2``. The stem and ``conv2``/shortcut outputs are
  the residual stream, whose channels are shared by every block: they are not replaceable units;
* **ViT**: in each transformer block the MLP's ``fc1`` → ``fc2`` (hidden units, per token); no norm
  sits between ``fc1`` and its activation (pre-norm blocks normalise the residual stream before ``fc1``).

Normalization between ``incoming`` and the activation (MLP/CNN: every layer; ResNet: ``norm1``). A
fresh unit must start like a unit of a freshly built model, and the norm holds per-unit state that CBP's
``UnitLayer`` does not know about:

* BatchNorm normalises each unit by its own statistics, so with BN the *incoming weights hardly matter*:
  the normalised pre-activation is (z − μ)/σ whatever the scale of w_in. A unit killed by BN is killed by
  its affine parameters (γ_i ≈ 0, or β_i/γ_i very negative for ReLU) — redrawing w_in alone leaves it
  dead. Replacement therefore also resets γ_i ← 1, β_i ← 0 (torch's init), the running statistics
  μ_i ← 0, σ²_i ← 1 (else eval-mode outputs use the old unit's mean and variance for the new weights),
  and the optimizer state of γ_i and β_i. ``num_batches_tracked`` is shared by all units and only used
  with ``momentum=None`` (the models use 0.1), so it is left alone;
* LayerNorm / GroupNorm normalise over *all* units of the layer (or group): their statistics are shared,
  so no per-unit reset exists and replacing a unit changes the normalised outputs of the other units of
  its layer/group (unavoidable; noted in docs/continual.md). Their per-unit affine γ_i, β_i and its
  optimizer state are reset as above.

:class:`ModelContinualBackprop` is a :class:`~experiments.optim.cbp.ContinualBackprop` that applies
these resets right after each replacement (a post-replacement hook on the indices ``step`` returns).

Re-initialization of the incoming weights (``init``): ``"default"`` draws them from the distribution a
freshly built model uses (torch's default Linear/Conv init, Kaiming-uniform with a = √5, i.e.
U(±1/√fan_in)), so a replaced unit is distributed like a new one; ``"kaiming"`` uses the activation's
Kaiming gain as in Dohare et al. (U(±g√(3/fan_in))). The incoming bias is set to 0 in both cases (cbp.py).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from experiments.models.cnn import CNN
from experiments.models.layers import Elementwise, Tokenwise
from experiments.models.mlp import MLP
from experiments.models.resnet import BasicBlock, ResNet
from experiments.models.vit import ViT
from experiments.optim.cbp import ContinualBackprop, UnitLayer, WeightLayer, reset_optimizer_entries
from theory.activations import kaiming_gain, leaky_relu_gain

InitName = Literal["default", "kaiming"]
INIT_CHOICES: tuple[str, ...] = ("default", "kaiming")
SUPPORTED_MODELS: tuple[str, ...] = ("MLP", "CNN", "ResNet", "ViT")

TORCH_DEFAULT_GAIN = leaky_relu_gain(math.sqrt(5.0))
"""The gain g = √(1/3) (leaky-ReLU gain at a = √5) whose Kaiming-uniform bound g·√(3/fan_in) is torch's
default Linear/Conv init 1/√fan_in."""

BN_INIT_MEAN = 0.0
BN_INIT_VAR = 1.0
NORM_INIT_WEIGHT = 1.0
NORM_INIT_BIAS = 0.0

PerUnitNorm = nn.BatchNorm1d | nn.BatchNorm2d | nn.LayerNorm | nn.GroupNorm


@dataclass
class CBPTarget:
    """One layer of replaceable units: the :class:`UnitLayer`, the norm between ``incoming`` and the
    activation (``None`` without one) and a readable name (the incoming module's name)."""

    name: str
    unit_layer: UnitLayer
    norm: PerUnitNorm | None = None


def reinit_gain(activation: str, init: InitName) -> float:
    """The gain g of the re-initialization U(±g√(3/fan_in)): torch's default, or the activation's own."""
    return TORCH_DEFAULT_GAIN if init == "default" else kaiming_gain(activation)


def _norm_or_none(module: nn.Module) -> PerUnitNorm | None:
    """The per-unit normalization inside ``module`` (unwrapping :class:`Tokenwise`), None for Identity."""
    if isinstance(module, Tokenwise):
        module = module.norm
    if isinstance(module, nn.Identity):
        return None
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)):
        return module
    raise TypeError(f"unexpected normalization module {type(module).__name__}")


def cbp_targets(model: nn.Module, init: InitName = "default") -> list[CBPTarget]:
    """Every layer of replaceable units of ``model`` (see the module docstring for each architecture).

    Raises TypeError for a model not built by :func:`experiments.models.build` (MLP, CNN, ResNet, ViT).
    """
    if init not in INIT_CHOICES:
        raise ValueError(f"init={init!r} is not valid; choices: {', '.join(INIT_CHOICES)}")
    if isinstance(model, MLP):
        targets = _mlp_targets(model)
    elif isinstance(model, CNN):
        targets = _cnn_targets(model)
    elif isinstance(model, ResNet):
        targets = _resnet_targets(model)
    elif isinstance(model, ViT):
        targets = _vit_targets(model)
    else:
        raise TypeError(
            f"no CBP unit layers known for {type(model).__name__}; "
            "supported models (experiments.models.build): "
            f"{', '.join(SUPPORTED_MODELS)}"
        )
    gain = reinit_gain(model.spec.activation, init)
    for target in targets:
        target.unit_layer.gain = gain
    return targets


def unit_layers(model: nn.Module, init: InitName = "default") -> list[UnitLayer]:
    """The :class:`UnitLayer` list of :func:`cbp_targets` (for a plain :class:`ContinualBackprop`; it
    does not reset normalization parameters — use :class:`ModelContinualBackprop` for that)."""
    return [target.unit_layer for target in cbp_targets(model, init)]


def _names(model: nn.Module) -> dict[int, str]:
    return {id(m): name for name, m in model.named_modules()}


def _weight_layer(module: nn.Module, where: str) -> WeightLayer:
    """``module`` as the Linear or Conv2d a :class:`UnitLayer` needs; a changed model layout is an error."""
    if not isinstance(module, (nn.Linear, nn.Conv2d)):
        raise TypeError(f"{where}: expected nn.Linear or nn.Conv2d, got {type(module).__name__}")
    return module


def _mlp_targets(model: MLP) -> list[CBPTarget]:
    modules = list(model)
    names = _names(model)
    linear_at = [i for i, m in enumerate(modules) if isinstance(m, nn.Linear)]
    targets = []
    for here, nxt in itertools.pairwise(linear_at):
        norm, act = modules[here + 1], modules[here + 2]
        if not isinstance(act, Elementwise):
            raise TypeError(
                f"MLP layout changed: expected an activation at index {here + 2}, got {type(act).__name__}"
            )
        layer = UnitLayer(
            _weight_layer(modules[here], "MLP layout"), _weight_layer(modules[nxt], "MLP layout"), act
        )
        targets.append(CBPTarget(names[id(modules[here])], layer, _norm_or_none(norm)))
    return targets


def _cnn_targets(model: CNN) -> list[CBPTarget]:
    modules = list(model)
    names = _names(model)
    convs = [i for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)]
    linears = [i for i, m in enumerate(modules) if isinstance(m, nn.Linear)]
    if len(linears) != 2:
        raise TypeError(f"CNN layout changed: expected 2 Linear layers (fc, output), found {len(linears)}")
    fc_at, out_at = linears
    targets = []
    for k, here in enumerate(convs):
        norm, pool = modules[here + 1], modules[here + 3]
        if not isinstance(pool, nn.MaxPool2d):
            raise TypeError(f"CNN layout changed: expected max-pooling at index {here + 3}")
        incoming = _weight_layer(modules[here], "CNN layout")
        outgoing = _weight_layer(
            modules[convs[k + 1]] if k + 1 < len(convs) else modules[fc_at], "CNN layout"
        )
        spatial = 1 if isinstance(outgoing, nn.Conv2d) else outgoing.in_features // incoming.weight.shape[0]
        layer = UnitLayer(incoming, outgoing, pool, spatial_size=spatial)
        targets.append(CBPTarget(names[id(modules[here])], layer, _norm_or_none(norm)))
    norm, act = modules[fc_at + 1], modules[fc_at + 2]
    targets.append(
        CBPTarget(
            names[id(modules[fc_at])],
            UnitLayer(
                _weight_layer(modules[fc_at], "CNN layout"), _weight_layer(modules[out_at], "CNN layout"), act
            ),
            _norm_or_none(norm),
        )
    )
    return targets


def _resnet_targets(model: ResNet) -> list[CBPTarget]:
    names = _names(model)
    return [
        CBPTarget(
            names[id(block.conv1)],
            UnitLayer(block.conv1, block.conv2, block.act1),
            _norm_or_none(block.norm1),
        )
        for block in model.modules()
        if isinstance(block, BasicBlock)
    ]


def _vit_targets(model: ViT) -> list[CBPTarget]:
    names = _names(model)
    targets = []
    for block in model.blocks:
        if not isinstance(block.mlp, nn.Sequential):
            raise TypeError(
                f"ViT layout changed: expected an nn.Sequential MLP, got {type(block.mlp).__name__}"
            )
        mlp = list(block.mlp)
        fc1, act, fc2 = (
            _weight_layer(mlp[0], "ViT MLP layout"),
            mlp[1],
            _weight_layer(mlp[3], "ViT MLP layout"),
        )
        targets.append(CBPTarget(names[id(fc1)], UnitLayer(fc1, fc2, act)))
    return targets


@torch.no_grad()
def reset_norm_units_(
    norm: PerUnitNorm, units: torch.Tensor, optimizer: torch.optim.Optimizer | None = None
) -> None:
    """Give ``units`` of ``norm`` the state of a freshly built norm (module docstring): affine γ ← 1,
    β ← 0 with their optimizer state zeroed; for BatchNorm also running mean ← 0, running variance ← 1."""
    if isinstance(norm, nn.LayerNorm) and tuple(norm.normalized_shape) != (norm.normalized_shape[-1],):
        raise ValueError(f"LayerNorm over {tuple(norm.normalized_shape)} is not a norm over one unit axis")
    if isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)) and norm.running_mean is not None:
        assert norm.running_var is not None  # tracked together
        norm.running_mean[units] = BN_INIT_MEAN
        norm.running_var[units] = BN_INIT_VAR
    for parameter, value in ((norm.weight, NORM_INIT_WEIGHT), (norm.bias, NORM_INIT_BIAS)):
        if parameter is None:  # affine=False
            continue
        parameter[units] = value
        if optimizer is not None:
            reset_optimizer_entries(optimizer, parameter, units, 0)


class ModelContinualBackprop(ContinualBackprop):
    """:class:`ContinualBackprop` over :func:`cbp_targets` of a model, resetting the replaced units'
    normalization state after every replacement. Usage as the base class:
    ``loss.backward(); optimizer.step(); cbp.step()``."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        init: InitName = "default",
        **options: Any,
    ) -> None:
        self.targets = cbp_targets(model, init)
        super().__init__([t.unit_layer for t in self.targets], optimizer, **options)

    @torch.no_grad()
    def step(self) -> list[torch.Tensor]:
        replaced = super().step()
        for target, units in zip(self.targets, replaced):
            if units.numel() and target.norm is not None:
                reset_norm_units_(target.norm, units, self.optimizer)
        return replaced

"""Continual Backpropagation (CBP): generate-and-test replacement of low-utility hidden units.

Implements Appendix B.1.2 ("Continual Backpropagation") of the paper, which follows Dohare et al.,
*Loss of plasticity in deep continual learning*, Nature 632 (2024), Algorithm 1. Used by the
bit-flipping study of Section 4 / Appendix B.1.1 (Figures B.1, B.2).

A network is described by a list of :class:`UnitLayer` pairs ``(incoming, outgoing)``: the replaceable
units are the out-features (out-channels) of ``incoming``, which are the in-features (in-channels) of
``outgoing``. A forward hook on ``activation`` (the module whose *output* is the units' activation h)
records the latest activations; :meth:`ContinualBackprop.step` is called after every optimizer step.

Rules, per unit i of a layer with N units (all statistics are per unit; for a batch or a conv feature
map, h_i is averaged over every axis except the unit axis):

* age a_i ← a_i + 1 (first, so every correction below divides by 1 − ρ^{a_i} > 0);
* running mean activation h̄_i ← ρ h̄_i + (1 − ρ) mean(h_i), bias-corrected ĥ_i = h̄_i / (1 − ρ^{a_i});
* instantaneous utility, ``utility="contribution"``:  ũ_i = mean|h_i| · mean_k |W_out[k, i]|,
  ``utility="adaptable_contribution"``:  ũ_i = mean|h_i − ĥ_i| · mean_k |W_out[k, i]| / mean_j |W_in[i, j]|
  (weights after the optimizer step; W_in excludes the bias);
* running utility u_i ← ρ u_i + (1 − ρ) ũ_i, bias-corrected û_i = u_i / (1 − ρ^{a_i});
* eligible units are the mature ones, a_i > τ_maturity; the replacement budget accumulates
  c ← c + r · (number of eligible units) and ⌊c⌋ units are replaced (c ← c − ⌊c⌋), so a fractional
  expected count r·N is carried over until it reaches 1 (Nature 2024, Algorithm 1; both published
  code bases use the number of *eligible* units, which equals N once all units are mature);
* the ⌊c⌋ eligible units with the smallest û are replaced (ties: lowest index first);
* for a replaced unit: the next layer's bias absorbs its mean contribution, b_next ← b_next +
  W_out[:, i] · ĥ_i, computed from ĥ_i *before* h̄_i is reset (so the next layer's output on the mean
  activation is unchanged); incoming weights are redrawn Kaiming-uniform, U(−g√(3/fan_in), g√(3/fan_in))
  with g the gain of the nonlinearity, incoming bias set to 0; outgoing weights set to 0;
  u_i, h̄_i, a_i reset to 0;
* the optimizer state of exactly those entries is zeroed: rows of the incoming weight and bias and
  columns of the outgoing weight, in every per-parameter state tensor shaped like its parameter
  (Adam/AdamW ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``; SGD ``momentum_buffer``). torch keeps
  Adam's ``step`` as one counter per tensor, so it is left unchanged: a reset entry restarts its moment
  estimates from zero but keeps the tensor's (large) bias-correction step, so its first updates are
  up to (1 − β₁)/√(1 − β₂) ≈ 3.2× (for the defaults) the size of a bias-corrected Adam step, settling
  within ~1/(1 − β₂) steps. (Dohare's ``AdamGnT`` keeps a per-entry step instead.)

The two published implementations each miss one of these: Dohare's ``GnT`` zeroes h̄ before using it
in the bias correction (so the correction adds 0), and ``CBPLinear`` resets neither the optimizer
state nor the bias. Both are checked against in ``tests/experiments/test_cbp.py``.

Conv → linear boundaries: when ``outgoing`` is an ``nn.Linear`` fed by a flattened conv feature map,
``spatial_size`` = H·W and unit (channel) i feeds the consecutive inputs i·H·W … (i+1)·H·W − 1
(torch's ``flatten`` order). Its "outgoing weights" are all those columns, and the bias correction uses
ĥ_i at every position (the per-channel mean). For a conv ``outgoing`` the correction sums the kernel,
which is exact away from zero-padded borders.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from theory.activations import RELU_GAIN

UtilityType = Literal["contribution", "adaptable_contribution"]
UTILITY_TYPES: tuple[str, ...] = ("contribution", "adaptable_contribution")

# Defaults of Dohare et al. (2024) for the slowly-changing-regression (bit-flipping) problem.
DEFAULT_REPLACEMENT_RATE = 1e-4
DEFAULT_MATURITY_THRESHOLD = 100
DEFAULT_DECAY_RATE = 0.99

# Per-parameter optimizer state tensors that hold per-entry statistics of a parameter.
PER_ENTRY_STATE_KEYS: tuple[str, ...] = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer")

WeightLayer = nn.Linear | nn.Conv2d
# sampler(shape, bound) -> tensor of U(−bound, bound) draws; injectable so that tests and the vectorized
# engine can share one random stream.
UniformSampler = Callable[[tuple[int, ...], float], torch.Tensor]


@dataclass
class UnitLayer:
    """One layer of replaceable units: out-features of ``incoming`` = in-features of ``outgoing``.

    ``activation`` is the module whose output is h (a forward hook records it). ``spatial_size`` is the
    number of consecutive ``outgoing`` inputs fed by each unit (H·W at a conv → flatten → linear boundary).
    ``gain`` is the g of the Kaiming re-initialization U(±g√(3/fan_in)) (an activation's
    ``theory.activations.Activation.kaiming_gain``; ReLU's √2 by default).
    """

    incoming: WeightLayer
    outgoing: WeightLayer
    activation: nn.Module
    spatial_size: int = 1
    gain: float = RELU_GAIN

    @property
    def num_units(self) -> int:
        return self.incoming.weight.shape[0]


def _validate_unit_layer(layer: UnitLayer) -> None:
    for name in ("incoming", "outgoing"):
        module = getattr(layer, name)
        if not isinstance(module, (nn.Linear, nn.Conv2d)):
            raise TypeError(f"UnitLayer.{name} must be nn.Linear or nn.Conv2d, got {type(module).__name__}")
    if layer.spatial_size < 1:
        raise ValueError(f"UnitLayer.spatial_size must be >= 1, got {layer.spatial_size}")
    if isinstance(layer.outgoing, nn.Conv2d) and layer.spatial_size != 1:
        raise ValueError("spatial_size applies to a conv -> linear boundary; a conv outgoing layer needs 1")
    fed = layer.outgoing.weight.shape[1]
    expected = layer.num_units * layer.spatial_size
    if fed != expected:
        raise ValueError(
            f"outgoing layer takes {fed} inputs but incoming has {layer.num_units} units x spatial_size "
            f"{layer.spatial_size} = {expected}"
        )


def kaiming_uniform_bound(fan_in: int, gain: float = RELU_GAIN) -> float:
    """Kaiming-uniform bound g·√(3/fan_in) (He et al. 2015; the re-init of Dohare et al. 2024)."""
    return gain * math.sqrt(3.0 / fan_in)


def per_unit_activations(h: torch.Tensor, is_conv: bool) -> torch.Tensor:
    """Rearrange activations to [samples, units]; units are the last axis (linear) or axis 1 (conv)."""
    if is_conv:
        return h.movedim(1, -1).reshape(-1, h.shape[1])
    return h.reshape(-1, h.shape[-1])


def outgoing_weight_magnitude(outgoing: WeightLayer, spatial_size: int) -> torch.Tensor:
    """mean_k |W_out[k, i]| per unit i, over every weight the unit feeds (all positions of its channel)."""
    w = outgoing.weight.detach().abs()
    units = w.shape[1] // spatial_size
    w = w.reshape(w.shape[0], units, spatial_size, -1)
    return w.mean(dim=(0, 2, 3))


def incoming_weight_magnitude(incoming: WeightLayer) -> torch.Tensor:
    """mean_j |W_in[i, j]| per unit i (bias excluded)."""
    w = incoming.weight.detach().abs()
    return w.reshape(w.shape[0], -1).mean(dim=1)


def instantaneous_utility(
    utility: UtilityType,
    h: torch.Tensor,
    corrected_mean: torch.Tensor,
    out_magnitude: torch.Tensor,
    in_magnitude: torch.Tensor,
) -> torch.Tensor:
    """ũ per unit (Appendix B.1.2), h of shape [samples, units].

    contribution: mean|h_i| · mean|w_out,i|;
    adaptable_contribution: mean|h_i − ĥ_i| · mean|w_out,i| / mean|w_in,i|.
    """
    if utility == "contribution":
        return h.abs().mean(dim=0) * out_magnitude
    return (h - corrected_mean).abs().mean(dim=0) * out_magnitude / in_magnitude


def _uniform_sampler(generator: torch.Generator | None) -> UniformSampler:
    def sample(shape: tuple[int, ...], bound: float) -> torch.Tensor:
        return (torch.rand(shape, generator=generator, dtype=torch.float64) * 2.0 - 1.0) * bound

    return sample


class _UnitState:
    """Per-unit running statistics of one :class:`UnitLayer`."""

    def __init__(self, num_units: int, device: torch.device) -> None:
        # Kept on the layer's device so that a CUDA model never mixes devices in the updates below.
        self.age = torch.zeros(num_units, dtype=torch.int64, device=device)
        self.utility = torch.zeros(num_units, dtype=torch.float64, device=device)
        self.mean_activation = torch.zeros(num_units, dtype=torch.float64, device=device)
        self.replacement_budget = 0.0


class ContinualBackprop:
    """Generate-and-test unit replacement (Appendix B.1.2; Dohare et al. 2024, Algorithm 1).

    Usage: ``loss.backward(); optimizer.step(); cbp.step()``; ``cbp.close()`` removes the hooks.
    ``step`` returns, per layer, the indices of the units it replaced.
    """

    def __init__(
        self,
        layers: list[UnitLayer],
        optimizer: torch.optim.Optimizer | None = None,
        *,
        replacement_rate: float = DEFAULT_REPLACEMENT_RATE,
        maturity_threshold: int = DEFAULT_MATURITY_THRESHOLD,
        decay_rate: float = DEFAULT_DECAY_RATE,
        utility: UtilityType = "contribution",
        generator: torch.Generator | None = None,
        sampler: UniformSampler | None = None,
    ) -> None:
        if not layers:
            raise ValueError("ContinualBackprop needs at least one UnitLayer")
        for layer in layers:
            _validate_unit_layer(layer)
        if not 0.0 <= replacement_rate <= 1.0:
            raise ValueError(f"replacement_rate must lie in [0, 1], got {replacement_rate}")
        if maturity_threshold < 0:
            raise ValueError(f"maturity_threshold must be >= 0, got {maturity_threshold}")
        if not 0.0 <= decay_rate < 1.0:
            raise ValueError(f"decay_rate must lie in [0, 1), got {decay_rate}")
        if utility not in UTILITY_TYPES:
            raise ValueError(f"utility must be one of {UTILITY_TYPES}, got {utility!r}")
        self.layers = list(layers)
        self.optimizer = optimizer
        self.replacement_rate = float(replacement_rate)
        self.maturity_threshold = int(maturity_threshold)
        self.decay_rate = float(decay_rate)
        self.utility_type: UtilityType = utility
        self.generator = generator if sampler is None else None
        self._own_sampler = sampler is None
        self._sample = sampler if sampler is not None else _uniform_sampler(generator)
        self.states = [_UnitState(layer.num_units, layer.incoming.weight.device) for layer in self.layers]
        self._activations: list[torch.Tensor | None] = [None] * len(self.layers)
        self._hooks = [
            layer.activation.register_forward_hook(self._make_hook(index))
            for index, layer in enumerate(self.layers)
        ]

    def _make_hook(self, index: int) -> Callable[[nn.Module, tuple, torch.Tensor], None]:
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            # Keep only the latest activation (no growing list across the run).
            self._activations[index] = output.detach()

        return hook

    def close(self) -> None:
        """Remove the forward hooks."""
        for handle in self._hooks:
            handle.remove()
        self._hooks = []

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`step` changes, on the CPU: per layer the ages, utilities, mean activations and
        replacement budget, and the state of the re-initialization generator (for a resumable checkpoint).
        A custom ``sampler`` holds state this object cannot see: then this is a ValueError."""
        if not self._own_sampler:
            raise ValueError(
                "ContinualBackprop with a custom sampler cannot save its state; pass a generator"
            )
        return {
            "layers": [
                {
                    "age": s.age.cpu().clone(),
                    "utility": s.utility.cpu().clone(),
                    "mean_activation": s.mean_activation.cpu().clone(),
                    "replacement_budget": s.replacement_budget,
                }
                for s in self.states
            ],
            "generator": None if self.generator is None else self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (tensors go to each layer's device)."""
        if len(state["layers"]) != len(self.states):
            raise ValueError(
                f"the saved CBP state has {len(state['layers'])} layers, this one {len(self.states)}"
            )
        for unit_state, saved in zip(self.states, state["layers"]):
            for name in ("age", "utility", "mean_activation"):
                current = getattr(unit_state, name)
                if saved[name].shape != current.shape:
                    raise ValueError(
                        f"the saved CBP {name} has shape {tuple(saved[name].shape)}, "
                        f"expected {tuple(current.shape)}"
                    )
                current.copy_(saved[name].to(current.device))
            unit_state.replacement_budget = float(saved["replacement_budget"])
        if (state["generator"] is None) != (self.generator is None):
            raise ValueError("the saved CBP state and this one differ in having a generator")
        if self.generator is not None:
            self.generator.set_state(state["generator"])

    def bias_corrected_utility(self, index: int) -> torch.Tensor:
        """û = u / (1 − ρ^age) for layer ``index`` (0 for units of age 0)."""
        state = self.states[index]
        correction = 1.0 - self.decay_rate ** state.age.to(torch.float64)
        return torch.where(state.age > 0, state.utility / correction, torch.zeros_like(state.utility))

    def bias_corrected_mean_activation(self, index: int) -> torch.Tensor:
        """ĥ = h̄ / (1 − ρ^age) for layer ``index`` (0 for units of age 0)."""
        state = self.states[index]
        correction = 1.0 - self.decay_rate ** state.age.to(torch.float64)
        return torch.where(
            state.age > 0, state.mean_activation / correction, torch.zeros_like(state.mean_activation)
        )

    @torch.no_grad()
    def step(self) -> list[torch.Tensor]:
        """Update utilities from the last forward pass and replace low-utility mature units."""
        replaced = []
        for index, layer in enumerate(self.layers):
            activation = self._activations[index]
            if activation is None:
                raise RuntimeError(
                    "ContinualBackprop.step() called before a forward pass recorded activations"
                )
            self._activations[index] = None
            h = per_unit_activations(activation, isinstance(layer.incoming, nn.Conv2d)).to(torch.float64)
            self._update_statistics(index, layer, h)
            chosen = self._select_units(index)
            if chosen.numel() > 0:
                self._replace_units(index, layer, chosen)
            replaced.append(chosen)
        return replaced

    def _update_statistics(self, index: int, layer: UnitLayer, h: torch.Tensor) -> None:
        state = self.states[index]
        rho = self.decay_rate
        state.age += 1
        state.mean_activation.mul_(rho).add_((1.0 - rho) * h.mean(dim=0))
        corrected_mean = self.bias_corrected_mean_activation(index)
        out_magnitude = outgoing_weight_magnitude(layer.outgoing, layer.spatial_size).to(torch.float64)
        in_magnitude = incoming_weight_magnitude(layer.incoming).to(torch.float64)
        new_utility = instantaneous_utility(self.utility_type, h, corrected_mean, out_magnitude, in_magnitude)
        state.utility.mul_(rho).add_((1.0 - rho) * new_utility)

    def _select_units(self, index: int) -> torch.Tensor:
        state = self.states[index]
        eligible = torch.nonzero(state.age > self.maturity_threshold).flatten()
        state.replacement_budget += self.replacement_rate * eligible.numel()
        count = math.floor(state.replacement_budget)
        if count == 0:
            return eligible[:0]
        state.replacement_budget -= count
        order = torch.argsort(self.bias_corrected_utility(index)[eligible], stable=True)
        return eligible[order[:count]]

    def _replace_units(self, index: int, layer: UnitLayer, units: torch.Tensor) -> None:
        state = self.states[index]
        incoming, outgoing = layer.incoming, layer.outgoing
        # Bias correction with the bias-corrected mean activation, BEFORE the mean is reset.
        corrected_mean = self.bias_corrected_mean_activation(index)[units]
        columns = _outgoing_columns(units, layer.spatial_size)
        if outgoing.bias is not None:
            w_out = outgoing.weight[:, columns].to(torch.float64)
            w_out = w_out.reshape(w_out.shape[0], units.numel(), layer.spatial_size, -1).sum(dim=(2, 3))
            outgoing.bias.add_((w_out @ corrected_mean).to(outgoing.bias.dtype))
        fan_in = incoming.weight[0].numel()
        bound = kaiming_uniform_bound(fan_in, layer.gain)
        shape = (units.numel(), *incoming.weight.shape[1:])
        incoming.weight[units] = self._sample(shape, bound).to(incoming.weight.device, incoming.weight.dtype)
        if incoming.bias is not None:
            incoming.bias[units] = 0.0
        outgoing.weight[:, columns] = 0.0
        state.utility[units] = 0.0
        state.mean_activation[units] = 0.0
        state.age[units] = 0
        if self.optimizer is not None:
            self._reset_optimizer_state(self.optimizer, layer, units, columns)

    @staticmethod
    def _reset_optimizer_state(
        optimizer: torch.optim.Optimizer, layer: UnitLayer, units: torch.Tensor, columns: torch.Tensor
    ) -> None:
        targets = [(layer.incoming.weight, units, 0), (layer.outgoing.weight, columns, 1)]
        if layer.incoming.bias is not None:
            targets.append((layer.incoming.bias, units, 0))
        for parameter, entries, dim in targets:
            reset_optimizer_entries(optimizer, parameter, entries, dim)


def _outgoing_columns(units: torch.Tensor, spatial_size: int) -> torch.Tensor:
    """Inputs of the outgoing layer fed by ``units``: i·s … (i+1)·s − 1 for each unit i."""
    offsets = torch.arange(spatial_size, dtype=units.dtype, device=units.device)
    return (units[:, None] * spatial_size + offsets[None, :]).flatten()


def reset_optimizer_entries(
    optimizer: torch.optim.Optimizer, parameter: torch.Tensor, entries: torch.Tensor, dim: int
) -> None:
    """Zero the per-entry optimizer state of ``parameter`` at ``entries`` along ``dim`` (rows or columns).

    Touches every state tensor in :data:`PER_ENTRY_STATE_KEYS` shaped like the parameter; scalar state
    (Adam's per-tensor ``step``) is left alone, see the module docstring.
    """
    state = optimizer.state.get(parameter)
    if not state:
        return
    for key in PER_ENTRY_STATE_KEYS:
        buffer = state.get(key)
        if isinstance(buffer, torch.Tensor) and buffer.shape == parameter.shape:
            buffer.index_fill_(dim, entries, 0.0)

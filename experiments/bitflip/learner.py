"""The online learner of the bit-flipping study and its straightforward per-sample reference.

Appendix B.1.1: a two-layer MLP, one hidden layer of ``width`` units with a configurable activation,
trained online on one sample per step with SGD on the squared error (ŷ − y)² (torch's ``mse_loss`` on a
single output, as in Dohare et al. 2024). Initialization as Dohare's ``FFNN``: hidden weights
Kaiming-uniform U(±g√(3/m)) with the activation's gain g, hidden bias 0, output weights U(±√(3/width))
(gain 1), output bias 0.

:class:`ReferenceLearner` is the textbook implementation — ``nn.Linear`` layers, autograd,
``torch.optim.SGD`` and :class:`experiments.optim.cbp.ContinualBackprop` — one sample at a time. It is
the independent check of the vectorized engine and the baseline of ``benchmarks/bench_bitflip.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from experiments.bitflip.task import BitFlipStreams, BitFlipTask
from experiments.optim.cbp import (
    DEFAULT_DECAY_RATE,
    DEFAULT_MATURITY_THRESHOLD,
    DEFAULT_REPLACEMENT_RATE,
    UTILITY_TYPES,
    ContinualBackprop,
    UniformSampler,
    UnitLayer,
)
from theory.activations import get_activation, kaiming_gain

DEFAULT_WIDTH = 5  # Dohare et al.'s num_features
DEFAULT_LR = 0.01  # Dohare et al.'s step size for SGD (cfg/sgd/bp/relu.json)


@dataclass(frozen=True)
class LearnerParameters:
    """Parameters of one learner: hidden weights [width, m+1] (bias last), output weights [width], bias."""

    hidden: np.ndarray
    output: np.ndarray
    output_bias: float


def init_parameters(
    rng: np.random.Generator, num_bits: int, width: int, activation: str
) -> LearnerParameters:
    """Dohare's FFNN initialization (module docstring), drawn from ``rng`` (hidden weights first)."""
    hidden_bound = kaiming_gain(activation) * math.sqrt(3.0 / num_bits)
    hidden = np.zeros((width, num_bits + 1))
    hidden[:, :num_bits] = uniform_draws(rng, (width, num_bits), hidden_bound)
    output = uniform_draws(rng, (width,), math.sqrt(3.0 / width))
    return LearnerParameters(hidden, output, 0.0)


def uniform_draws(rng: np.random.Generator, shape: tuple[int, ...], bound: float) -> np.ndarray:
    """U(−bound, bound) draws in float64, row-major; shared by init, CBP re-init and the reference."""
    return (rng.random(shape) * 2.0 - 1.0) * bound


def numpy_sampler(rng: np.random.Generator) -> UniformSampler:
    """A :class:`ContinualBackprop` sampler drawing from ``rng`` exactly as the vectorized engine does."""

    def sample(shape: tuple[int, ...], bound: float) -> torch.Tensor:
        return torch.from_numpy(uniform_draws(rng, shape, bound))

    return sample


class TwoLayerNet(nn.Module):
    """x ↦ v·φ(W x + b) + c with ``nn.Linear`` layers (input without the bias bit)."""

    def __init__(
        self, params: LearnerParameters, activation: str, dtype: torch.dtype = torch.float64
    ) -> None:
        super().__init__()
        width, inputs = params.hidden.shape[0], params.hidden.shape[1] - 1
        self.hidden = nn.Linear(inputs, width, dtype=dtype)
        self.activation = _TorchActivation(activation)
        self.out = nn.Linear(width, 1, dtype=dtype)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.from_numpy(params.hidden[:, :inputs]))
            self.hidden.bias.copy_(torch.from_numpy(params.hidden[:, inputs]))
            self.out.weight.copy_(torch.from_numpy(params.output)[None, :])
            self.out.bias.fill_(params.output_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.activation(self.hidden(x)))


class _TorchActivation(nn.Module):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.fn = get_activation(name).torch_fn

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)


@dataclass(frozen=True)
class CBPSettings:
    """Continual Backpropagation settings (Appendix B.1.2; Dohare et al.'s values for this task)."""

    replacement_rate: float = DEFAULT_REPLACEMENT_RATE
    maturity_threshold: int = DEFAULT_MATURITY_THRESHOLD
    decay_rate: float = DEFAULT_DECAY_RATE
    utility: str = "contribution"

    def __post_init__(self) -> None:
        if not 0.0 <= self.replacement_rate <= 1.0:
            raise ValueError(f"replacement_rate must lie in [0, 1], got {self.replacement_rate}")
        if self.maturity_threshold < 0:
            raise ValueError(f"maturity_threshold must be >= 0, got {self.maturity_threshold}")
        if not 0.0 <= self.decay_rate < 1.0:
            raise ValueError(f"decay_rate must lie in [0, 1), got {self.decay_rate}")
        if self.utility not in UTILITY_TYPES:
            raise ValueError(f"utility must be one of {UTILITY_TYPES}, got {self.utility!r}")


class ReferenceLearner:
    """One run, one sample per step: autograd + ``torch.optim.SGD`` (+ :class:`ContinualBackprop` later).

    ``switch_step``: steps before it use SGD only; from it on, CBP acts after every SGD step (its
    statistics start fresh at the switch). ``None`` means SGD throughout.
    """

    def __init__(
        self,
        task: BitFlipTask,
        seed: int,
        width: int = DEFAULT_WIDTH,
        activation: str = "relu",
        lr: float = DEFAULT_LR,
        cbp: CBPSettings | None = None,
        switch_step: int | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        self.data = BitFlipStreams(task, [seed])
        params = init_parameters(self.data.streams[0]["init"], task.num_bits, width, activation)
        self.net = TwoLayerNet(params, activation, dtype)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=lr)
        self.dtype = dtype
        self.activation = activation
        self.cbp_settings = cbp
        self.switch_step = switch_step
        self.cbp: ContinualBackprop | None = None
        self.step_count = 0

    def _start_cbp(self) -> None:
        assert self.cbp_settings is not None
        layer = UnitLayer(
            self.net.hidden, self.net.out, self.net.activation, gain=kaiming_gain(self.activation)
        )
        s = self.cbp_settings
        self.cbp = ContinualBackprop(
            [layer],
            self.optimizer,
            replacement_rate=s.replacement_rate,
            maturity_threshold=s.maturity_threshold,
            decay_rate=s.decay_rate,
            utility=s.utility,  # type: ignore[arg-type]
            sampler=numpy_sampler(self.data.streams[0]["cbp"]),
        )

    def run(self, steps: int) -> tuple[np.ndarray, list[tuple[int, list[int]]]]:
        """Learn ``steps`` samples; return the online losses (before each update) and the CBP replacements."""
        inputs, targets = self.data.next_chunk(steps)
        x_all = torch.from_numpy(inputs[:, 0, :-1]).to(self.dtype)
        y_all = torch.from_numpy(targets[:, 0]).to(self.dtype)
        losses = np.empty(steps)
        replacements: list[tuple[int, list[int]]] = []
        for t in range(steps):
            if (
                self.cbp_settings is not None
                and self.switch_step is not None
                and self.step_count == self.switch_step
            ):
                self._start_cbp()
            self.optimizer.zero_grad()
            prediction = self.net(x_all[t : t + 1])[0, 0]
            loss = (prediction - y_all[t]) ** 2
            loss.backward()
            self.optimizer.step()
            losses[t] = loss.item()
            if self.cbp is not None:
                (replaced,) = self.cbp.step()
                if replaced.numel():
                    replacements.append((self.step_count, replaced.tolist()))
            self.step_count += 1
        return losses, replacements

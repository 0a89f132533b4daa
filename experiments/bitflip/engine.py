"""Many-runs engines for the bit-flipping study (Section 4, Appendix B.1.1, Figures B.1, B.2).

R runs of the same width advance together; each stays a strictly online learner: one sample per run per
step, an SGD update after every sample, the loss recorded *before* the update. Per-run data,
initialization and CBP re-initialization come from the run's own random streams
(:func:`experiments.bitflip.task.run_streams`), so a run's trajectory does not depend on which other
runs share the batch (tested bitwise).

Three engines, one interface (:class:`EngineBase`), chosen by :func:`make_engine`:

* :class:`BitFlipEngine` (``"numpy"``, this module): stacked parameters ([R, width, m+1] hidden weights
  with the bias last, [R, width] output weights, [R] output biases), one batched forward and a
  hand-written backward in numpy per step. The reference: it matches the autograd
  :class:`experiments.bitflip.learner.ReferenceLearner` to float tolerance (tested), and the others are
  tested against it;
* :class:`experiments.bitflip.fused.FusedBitFlipEngine` (``"fused"``, the default on a CPU): one compiled
  numba loop per run over a whole segment of steps, data drawn inside the loop;
* :class:`experiments.bitflip.torch_engine.TorchBitFlipEngine` (``"torch"``, the default on CUDA).

Per step, with x ∈ {0,1}^{m} ⊕ (1), z = W x, h = φ(z), ŷ = v·h + c, e = ŷ − y, loss e² and, for
SGD with step size η on (ŷ − y)²:

    g = −2ηe,   v ← v + g·h,   c ← c + g,   W ← W + (g·v_old ⊙ φ'(z)) xᵀ.

Continual Backpropagation (from ``switch_step`` on) follows exactly the rules of
:mod:`experiments.optim.cbp` after every SGD step, vectorized over runs: ages, bias-corrected running
mean activation and utility (ρ^age kept as a running product), maturity, accumulated replacement
budget r·#eligible, lowest bias-corrected utility replaced (ties to the lower index), output bias
corrected with ĥ before its reset, Kaiming-uniform incoming weights, zero incoming bias and outgoing
weight. Plain SGD has no optimizer state, so there is none to reset. CBP statistics start fresh at the
switch (as if CBP were attached then).
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from experiments.bitflip.learner import CBPSettings, init_parameters, uniform_draws
from experiments.bitflip.task import BitFlipStreams, BitFlipTask
from theory.activations import Activation, get_activation, kaiming_gain

DEFAULT_CHUNK = 1000  # steps of task data generated at once
DTYPES = {"float32": np.float32, "float64": np.float64}


class _Kernel:
    """φ and φ' into preallocated buffers; in-place fast paths for relu and tanh, the registry otherwise."""

    def __init__(self, activation: Activation) -> None:
        self.act = activation
        self.family = activation.family if not activation.is_modulated else None

    def forward(self, z: np.ndarray, out: np.ndarray) -> None:
        if self.family == "relu":
            np.maximum(z, 0.0, out=out)
        elif self.family == "tanh":
            np.tanh(z, out=out)
        else:
            out[...] = self.act.numpy_fn(z)

    def derivative(self, z: np.ndarray, h: np.ndarray, out: np.ndarray) -> None:
        if self.family == "relu":
            np.greater(z, 0.0, out=out)
        elif self.family == "tanh":
            np.multiply(h, h, out=out)
            np.subtract(1.0, out, out=out)
        else:
            out[...] = self.act.numpy_derivative(z)


@dataclass
class _CBPState:
    age: np.ndarray  # int64 [R, n]
    decay_power: np.ndarray  # ρ^age [R, n]
    mean_activation: np.ndarray  # h̄ [R, n]
    utility: np.ndarray  # u [R, n]
    budget: np.ndarray  # float64 [R]
    eligible_count: np.ndarray  # float64 [R]: number of units with age > maturity
    # step -> per-run count of units whose age first exceeds the maturity threshold at that step
    maturing: dict[int, np.ndarray]


def _per_run(value: float | Sequence[float], runs: int, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full(runs, float(array))
    if array.shape != (runs,):
        raise ValueError(
            f"{name} must be a scalar or have one entry per run ({runs}), got shape {array.shape}"
        )
    return array.copy()


class EngineBase(ABC):
    """What every bit-flipping engine shares: arguments, data streams, initial parameters, binning.

    R online learners of one width on R independent bit-flipping streams (one per seed). Subclasses
    implement :meth:`advance`, :meth:`hidden_features` and the parameter views ``hidden`` [R, n, m+1]
    (bias last), ``output`` [R, n], ``output_bias`` [R] (numpy arrays).
    """

    backend = ""  # the engine's name in ENGINE_CHOICES
    fallback_note: str | None = None  # why make_engine("auto") fell back to this engine, if it did

    def __init__(
        self,
        task: BitFlipTask,
        width: int,
        seeds: Sequence[int],
        *,
        activation: str = "relu",
        lr: float | Sequence[float] = 0.01,
        cbp: CBPSettings | None = None,
        switch_step: int | None = None,
        dtype: str = "float32",
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
            raise ValueError(f"width must be an integer >= 1, got {width!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {dtype!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct (each run owns its random streams)")
        if cbp is not None and (switch_step is None or switch_step < 0):
            raise ValueError(f"CBP needs a switch_step >= 0, got {switch_step!r}")
        self.task, self.width, self.seeds = task, int(width), list(seeds)
        self.activation = get_activation(activation)
        self.dtype = DTYPES[dtype]
        self.chunk_size = chunk_size
        runs = len(self.seeds)
        self.data = BitFlipStreams(task, self.seeds, self.dtype)
        self.lr = _per_run(lr, runs, "lr")
        if not np.all(np.isfinite(self.lr)) or np.any(self.lr <= 0):
            raise ValueError(f"lr must be finite and > 0, got {lr!r}")
        m = task.num_bits
        params = [init_parameters(s["init"], m, self.width, activation) for s in self.data.streams]
        self._initial_hidden = np.stack([p.hidden for p in params])  # float64 [R, n, m+1]
        self._initial_output = np.stack([p.output for p in params])  # float64 [R, n]
        self._initial_output_bias = np.array([p.output_bias for p in params])  # float64 [R]
        self.cbp_settings = cbp
        self.switch_step = switch_step
        self.reinit_bound = kaiming_gain(activation) * math.sqrt(3.0 / m)
        self.step = 0
        self.replacements = np.zeros(runs, dtype=np.int64)

    @property
    def num_runs(self) -> int:
        return len(self.seeds)

    def _cbp_starts_now(self) -> bool:
        return self.cbp_settings is not None and self.step == self.switch_step

    def _steps_before_switch(self) -> int | None:
        """Steps until CBP starts, or None when it never starts or has started."""
        if self.cbp_settings is None or self.switch_step is None or self.step >= self.switch_step:
            return None
        return self.switch_step - self.step

    @property
    @abstractmethod
    def hidden(self) -> np.ndarray:
        """W [R, n, m+1], bias last (the engine's storage or a view of it)."""

    @abstractmethod
    def advance(self, steps: int) -> np.ndarray:
        """Learn ``steps`` samples per run; return the online losses (ŷ − y)², pre-update, [steps, R]."""

    def hidden_features(self, inputs: np.ndarray) -> np.ndarray:
        """φ(W x) of every run for probe inputs [P, m+1] or per-run [R, P, m+1] (bias bit included)."""
        x = torch.from_numpy(inputs.astype(self.dtype))  # a fresh copy
        if x.dim() == 2:
            x = x.expand(self.num_runs, -1, -1)
        weights = torch.from_numpy(np.ascontiguousarray(self.hidden.transpose(0, 2, 1)))  # [R, m+1, n]
        # torch's batched product: 10× numpy's stacked matmul at 70 × 1000 × 21 × 100 (measured)
        z = torch.bmm(x, weights).numpy()
        h = np.empty_like(z)
        _Kernel(self.activation).forward(z, h)
        return h

    def run_binned(self, steps: int, bin_size: int, on_bin: Callable[[int, np.ndarray], None]) -> None:
        """Learn ``steps`` samples, calling ``on_bin(step, mean_loss[R])`` at the end of every bin."""
        if bin_size < 1 or steps % bin_size:
            raise ValueError(f"bin_size must be >= 1 and divide steps ({steps}), got {bin_size}")
        for _ in range(steps // bin_size):
            total = np.zeros(self.num_runs)
            for start in range(0, bin_size, self.chunk_size):
                total += self.advance(min(self.chunk_size, bin_size - start)).sum(axis=0, dtype=np.float64)
            on_bin(self.step, total / bin_size)


class BitFlipEngine(EngineBase):
    """The numpy engine: the reference the fused and torch engines are tested against (module docstring)."""

    backend = "numpy"

    def __init__(self, task: BitFlipTask, width: int, seeds: Sequence[int], **kwargs) -> None:
        super().__init__(task, width, seeds, **kwargs)
        self.kernel = _Kernel(self.activation)
        self._hidden = self._initial_hidden.astype(self.dtype)  # W [R, n, m+1]
        self.output = self._initial_output.astype(self.dtype)  # v [R, n]
        self.output_bias = self._initial_output_bias.astype(self.dtype)  # c [R]
        self.cbp_state: _CBPState | None = None

    @property
    def hidden(self) -> np.ndarray:
        return self._hidden

    @hidden.setter
    def hidden(self, value: np.ndarray) -> None:
        self._hidden = value

    def _start_cbp(self) -> None:
        shape = (self.num_runs, self.width)
        self.cbp_state = _CBPState(
            age=np.zeros(shape, dtype=np.int64),
            decay_power=np.ones(shape, dtype=self.dtype),
            mean_activation=np.zeros(shape, dtype=self.dtype),
            utility=np.zeros(shape, dtype=self.dtype),
            budget=np.zeros(self.num_runs),
            eligible_count=np.zeros(self.num_runs),
            maturing={},
        )
        # Age after the CBP step of step t is t − switch + 1: a unit is eligible from step switch + τ on.
        assert self.cbp_settings is not None  # CBP starts only with settings
        self._schedule_maturing(
            self.step + self.cbp_settings.maturity_threshold, np.full(self.num_runs, self.width)
        )

    def _schedule_maturing(self, step: int, counts: np.ndarray) -> None:
        assert self.cbp_state is not None
        maturing = self.cbp_state.maturing
        if step in maturing:
            maturing[step] += counts
        else:
            maturing[step] = counts.astype(np.float64)

    def advance(self, steps: int) -> np.ndarray:
        losses = np.empty((steps, self.num_runs), dtype=self.dtype)
        done = 0
        while done < steps:
            if self.cbp_state is None and self._cbp_starts_now():
                self._start_cbp()
            length = min(self.chunk_size, steps - done)
            before_switch = self._steps_before_switch()
            if before_switch is not None:
                length = min(length, before_switch)
            self._advance_chunk(losses[done : done + length])
            done += length
        return losses

    def _advance_chunk(self, losses: np.ndarray) -> None:
        length = losses.shape[0]
        inputs, targets = self.data.next_chunk(length)
        R, n, dt = self.num_runs, self.width, self.dtype
        W, v, c = self.hidden, self.output, self.output_bias
        neg_two_lr = (-2.0 * self.lr).astype(dt)
        z3 = np.empty((R, n, 1), dtype=dt)
        z = z3[:, :, 0]
        h = np.empty((R, n), dtype=dt)
        y3 = np.empty((R, 1, 1), dtype=dt)
        y = y3[:, 0, 0]
        err = np.empty(R, dtype=dt)
        g = np.empty(R, dtype=dt)
        g_col = g[:, None]
        back = np.empty((R, n), dtype=dt)
        slope = np.empty((R, n), dtype=dt)
        tmp_n = np.empty((R, n), dtype=dt)
        tmp_w = np.empty_like(W)
        self._in_magnitude = np.empty((R, n, 1), dtype=dt)
        self._input_weight_mask = np.ones((W.shape[2], 1), dtype=dt)
        self._input_weight_mask[-1] = 0.0  # the bias column is not an input weight
        v_row, h_col = v[:, None, :], h[:, :, None]
        forward, derivative = self.kernel.forward, self.kernel.derivative
        cbp_step = self._cbp_step if self.cbp_state is not None else None
        for t in range(length):
            x = inputs[t]
            np.matmul(W, x[:, :, None], out=z3)
            forward(z, h)
            np.matmul(v_row, h_col, out=y3)
            np.add(y, c, out=y)
            np.subtract(y, targets[t], out=err)
            np.multiply(err, err, out=losses[t])
            np.multiply(err, neg_two_lr, out=g)
            np.multiply(v, g_col, out=back)  # g·v with v before its update
            np.multiply(h, g_col, out=tmp_n)
            np.add(v, tmp_n, out=v)
            np.add(c, g, out=c)
            derivative(z, h, slope)
            np.multiply(back, slope, out=back)
            np.multiply(back[:, :, None], x[:, None, :], out=tmp_w)
            np.add(W, tmp_w, out=W)
            if cbp_step is not None:
                cbp_step(self.step + t, h, tmp_n, tmp_w)
        self.step += length

    def _cbp_step(self, step: int, h: np.ndarray, tmp_n: np.ndarray, tmp_w: np.ndarray) -> None:
        """One generate-and-test step after the SGD step (rules of :mod:`experiments.optim.cbp`)."""
        state, settings = self.cbp_state, self.cbp_settings
        assert state is not None and settings is not None
        rho = settings.decay_rate
        m = self.task.num_bits
        state.age += 1
        state.decay_power *= rho
        correction = 1.0 - state.decay_power
        state.mean_activation *= rho
        state.mean_activation += (1.0 - rho) * h
        corrected_mean = state.mean_activation / correction
        if settings.utility == "contribution":
            np.abs(h, out=tmp_n)
        else:
            np.subtract(h, corrected_mean, out=tmp_n)
            np.abs(tmp_n, out=tmp_n)
            np.abs(self.hidden, out=tmp_w)
            np.matmul(tmp_w, self._input_weight_mask, out=self._in_magnitude)  # Σ_{j≤m} |W_ij|
            self._in_magnitude /= m
            tmp_n /= self._in_magnitude[:, :, 0]
        tmp_n *= np.abs(self.output)
        state.utility *= rho
        state.utility += (1.0 - rho) * tmp_n
        maturing = state.maturing.pop(step, None)
        if maturing is not None:
            state.eligible_count += maturing
        state.budget += settings.replacement_rate * state.eligible_count
        counts = np.floor(state.budget)
        if not counts.any():
            return
        state.budget -= counts
        for r in np.flatnonzero(counts):
            eligible = state.age[r] > settings.maturity_threshold
            self._replace(int(r), int(counts[r]), eligible, correction[r], corrected_mean[r])
            # The replaced units (age 0 now) are eligible again from step + τ + 1 on.
            state.eligible_count[r] -= counts[r]
            increments = np.zeros(self.num_runs)
            increments[r] = counts[r]
            self._schedule_maturing(step + settings.maturity_threshold + 1, increments)

    def _replace(
        self, r: int, count: int, eligible: np.ndarray, correction: np.ndarray, mean: np.ndarray
    ) -> None:
        state = self.cbp_state
        assert state is not None
        m = self.task.num_bits
        candidates = np.flatnonzero(eligible)
        corrected_utility = state.utility[r, candidates] / correction[candidates]
        units = candidates[np.argsort(corrected_utility, kind="stable")[:count]]
        # Output-bias correction with ĥ of the replaced units, before the mean is reset.
        self.output_bias[r] += self.output[r, units] @ mean[units]
        self.hidden[r, units, :m] = uniform_draws(self.data.streams[r]["cbp"], (count, m), self.reinit_bound)
        self.hidden[r, units, m] = 0.0
        self.output[r, units] = 0.0
        state.utility[r, units] = 0.0
        state.mean_activation[r, units] = 0.0
        state.age[r, units] = 0
        state.decay_power[r, units] = 1.0
        self.replacements[r] += count


ENGINE_CHOICES: tuple[str, ...] = ("auto", "fused", "numpy", "torch")


class EngineFallbackWarning(UserWarning):
    """``engine="auto"`` could not use the fused engine and runs the numpy engine instead."""


def fused_unavailable_reason(activation: str | Activation) -> str | None:
    """Why the fused engine cannot run ``activation`` here (numba missing or broken, no compiled form),
    or None when it can."""
    try:
        from experiments.bitflip import fused
    except ImportError as error:  # numba absent, or built for another numpy
        return f"numba could not be imported ({error}); pip install numba"
    try:
        fused.activation_code(get_activation(activation))
    except ValueError as error:
        return str(error)
    return None


def make_engine(
    task: BitFlipTask,
    width: int,
    seeds: Sequence[int],
    *,
    engine: str = "auto",
    device: str = "cpu",
    **kwargs,
) -> EngineBase:
    """The engine ``engine`` for R = len(seeds) runs of one width; ``kwargs`` as :class:`EngineBase`.

    ``"auto"``: the torch engine on a non-CPU ``device``, else the fused engine, else — numba missing or
    an activation it does not compile — the numpy engine with an :class:`EngineFallbackWarning` that says
    why (also kept in ``engine.fallback_note``). ``"fused"``, ``"numpy"`` and ``"torch"`` ask for one
    engine and fail with the reason if it cannot run. All engines give the same runs (numpy float64
    agreement 1e-12, tested); they differ in speed only.
    """
    if engine not in ENGINE_CHOICES:
        raise ValueError(f"engine must be one of {ENGINE_CHOICES}, got {engine!r}")
    on_cpu = str(device) == "cpu"
    if engine == "torch" or (engine == "auto" and not on_cpu):
        from experiments.bitflip.torch_engine import TorchBitFlipEngine

        return TorchBitFlipEngine(task, width, seeds, device=device, **kwargs)
    if not on_cpu:
        raise ValueError(
            f"engine={engine!r} runs on the CPU; use engine='torch' or 'auto' for device={device!r}"
        )
    if engine == "numpy":
        return BitFlipEngine(task, width, seeds, **kwargs)
    reason = fused_unavailable_reason(kwargs.get("activation", "relu"))
    if reason is None:
        from experiments.bitflip.fused import FusedBitFlipEngine

        return FusedBitFlipEngine(task, width, seeds, **kwargs)
    if engine == "fused":
        raise ValueError(f"the fused engine cannot run here: {reason}")
    warnings.warn(
        f"bit-flipping: using the numpy engine (the same runs, several times slower): {reason}",
        EngineFallbackWarning,
        stacklevel=2,
    )
    fallback = BitFlipEngine(task, width, seeds, **kwargs)
    fallback.fallback_note = reason
    return fallback

"""The bit-flipping ("slowly changing regression") task of Appendix B.1.1 / Section 4.

As in Dohare et al., Nature 2024 (``lop/slowly_changing_regression``), with the flip-one variant the paper
describes. Input: m bits plus a bias bit (constant 1). The first f bits are *flipping bits*: they start
uniform in {0,1} and at every step t = k·T (k ≥ 1) one of them, chosen uniformly, is inverted. The other
m − f bits are drawn fresh, uniform in {0,1}, at every step. The target is a fixed network of n_target
linear threshold units (LTUs) with weights uniform in {−1, +1}:

    h_i = LTU(Σ_j w_ij x_j + w_i,bias − θ_i),   LTU(z) = 1 if z ≥ 0 else 0,   y = Σ_i v_i h_i + b_out,

with v_i, b_out uniform in {−1, +1} as well. Three threshold rules (``threshold_rule``), with
S_i^neg = #{j ≤ m : w_ij < 0} and w_i,bias = the weight on the bias bit:

* ``"original"`` (default; Dohare's ``FixLTUNet``): θ_i = β(m+1) − S_i, S_i = S_i^neg + ½·w_i,bias.
* ``"matching"`` (the intended pattern-matching rule): θ_i = β(m+1) − S_i, S_i = number of negative
  weights among all m+1 (bias included); unit i fires iff at least β(m+1) of the m+1 bits agree with
  the signs of its weights (bit = 1 where w = +1, bit = 0 where w = −1).
* ``"paper"`` (Appendix B.1.1 as printed): θ_i = m·β − S_i, S_i = S_i^neg − ½·w_i,bias.

The printed rule equals "matching" with threshold β(m+1) replaced by β·m + ½; the original code's
+½·w_bias makes a unit with w_bias = −1 need two more matching bits than one with w_bias = +1. For the
defaults (m = 20, β = 0.7) every θ_i is a non-integer, so no pre-activation (an integer) ties with it
and LTU's z ≥ 0 vs the original's strict z > 0 makes no difference.

Randomness: each run's seed is split (``numpy.random.SeedSequence``) into independent streams for the
target network, the learner's initialization, the flip process, the random bits and CBP's
re-initializations. Random bits come from one raw 64-bit draw per step, so the data are identical for
every chunk size and whether runs are generated alone or together.

Targets are computed from a table: while the flipping bits are fixed, y depends only on the m − f random
bits, so y for all 2^(m−f) patterns is computed once per flip (cheap: 32 patterns for the defaults) and
looked up per step. When 2^(m−f) exceeds :data:`MAX_TABLE_PATTERNS` the target network is evaluated on
every sample directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

ThresholdRule = Literal["original", "matching", "paper"]
THRESHOLD_RULES: tuple[str, ...] = ("original", "matching", "paper")

# Defaults of Dohare et al. (2024), slowly-changing regression (cfg/sgd/bp/relu.json, flip_one_prob.json).
DEFAULT_NUM_BITS = 20
DEFAULT_NUM_FLIPPING = 15
DEFAULT_FLIP_PERIOD = 10_000
DEFAULT_TARGET_WIDTH = 100
DEFAULT_BETA = 0.7

MAX_TABLE_PATTERNS = 4096  # 2^(m−f) up to this uses the per-flip target table
MAX_RANDOM_BITS = 64  # one raw 64-bit draw per step supplies the random bits

# Child streams of each run's SeedSequence, in spawn order.
STREAM_NAMES: tuple[str, ...] = ("target", "init", "flips", "bits", "cbp")


def run_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators of one run: ``SeedSequence(seed)`` spawned in :data:`STREAM_NAMES` order."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAM_NAMES))
    return {name: np.random.Generator(np.random.PCG64(child)) for name, child in zip(STREAM_NAMES, children)}


@dataclass(frozen=True)
class BitFlipTask:
    """Parameters of the task (Appendix B.1.1); defaults are Dohare et al.'s."""

    num_bits: int = DEFAULT_NUM_BITS  # m (the bias bit comes on top)
    num_flipping: int = DEFAULT_NUM_FLIPPING  # f
    flip_period: int = DEFAULT_FLIP_PERIOD  # T
    target_width: int = DEFAULT_TARGET_WIDTH  # n_target
    beta: float = DEFAULT_BETA
    threshold_rule: ThresholdRule = "original"

    def __post_init__(self) -> None:
        if self.num_bits < 1:
            raise ValueError(f"num_bits must be >= 1, got {self.num_bits}")
        if not 0 <= self.num_flipping <= self.num_bits:
            raise ValueError(
                f"num_flipping must lie in [0, num_bits={self.num_bits}], got {self.num_flipping}"
            )
        if self.num_random > MAX_RANDOM_BITS:
            raise ValueError(f"num_bits - num_flipping must be <= {MAX_RANDOM_BITS}, got {self.num_random}")
        if self.flip_period < 1:
            raise ValueError(f"flip_period must be >= 1, got {self.flip_period}")
        if self.target_width < 1:
            raise ValueError(f"target_width must be >= 1, got {self.target_width}")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta must lie in [0, 1], got {self.beta}")
        if self.threshold_rule not in THRESHOLD_RULES:
            raise ValueError(f"threshold_rule must be one of {THRESHOLD_RULES}, got {self.threshold_rule!r}")

    @property
    def num_random(self) -> int:
        """m − f: bits drawn fresh every step."""
        return self.num_bits - self.num_flipping

    @property
    def input_size(self) -> int:
        """m + 1: the bits and the bias bit."""
        return self.num_bits + 1

    @property
    def uses_table(self) -> bool:
        return 2**self.num_random <= MAX_TABLE_PATTERNS


@dataclass(frozen=True)
class TargetNetwork:
    """The fixed LTU network of one run: weights [n_target, m+1] (bias-bit weight last), θ, output layer."""

    weights: np.ndarray  # float64, entries ±1
    thresholds: np.ndarray  # θ_i
    output_weights: np.ndarray  # v_i ∈ {±1}
    output_bias: float  # b_out ∈ {±1}

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """y for inputs [..., m+1] (bias bit included), directly from the definition."""
        hidden = (inputs @ self.weights.T - self.thresholds >= 0.0).astype(np.float64)
        return hidden @ self.output_weights + self.output_bias


def ltu_thresholds(weights: np.ndarray, beta: float, rule: ThresholdRule) -> np.ndarray:
    """θ_i for weights [n, m+1] (last column: bias-bit weight), see the module docstring for the rules."""
    m = weights.shape[1] - 1
    negative_inputs = (weights[:, :m] < 0).sum(axis=1).astype(np.float64)
    bias_weight = weights[:, m]
    if rule == "original":
        return beta * (m + 1) - (negative_inputs + 0.5 * bias_weight)
    if rule == "matching":
        return beta * (m + 1) - (negative_inputs + (bias_weight < 0))
    if rule == "paper":
        return beta * m - (negative_inputs - 0.5 * bias_weight)
    raise ValueError(f"threshold_rule must be one of {THRESHOLD_RULES}, got {rule!r}")


def make_target(task: BitFlipTask, rng: np.random.Generator) -> TargetNetwork:
    """Draw the target network: input weights, bias-bit weights, output weights, output bias, all ±1."""
    n, m = task.target_width, task.num_bits

    def signs(size: int | tuple[int, ...]) -> np.ndarray:
        return rng.integers(0, 2, size=size).astype(np.float64) * 2.0 - 1.0

    weights = np.concatenate([signs((n, m)), signs((n, 1))], axis=1)
    output_weights = signs(n)
    output_bias = float(signs(1)[0])
    return TargetNetwork(
        weights, ltu_thresholds(weights, task.beta, task.threshold_rule), output_weights, output_bias
    )


def unpack_bits(patterns: np.ndarray, count: int) -> np.ndarray:
    """Bit j of each integer pattern (j < count), as uint8 [..., count]."""
    shifts = np.arange(count, dtype=np.uint64)
    return ((patterns[..., None] >> shifts) & np.uint64(1)).astype(np.uint8)


class BitFlipStreams:
    """Data of R independent runs, produced in chunks: inputs [C, R, m+1] and targets [C, R]."""

    def __init__(self, task: BitFlipTask, seeds: list[int], dtype: type = np.float64) -> None:
        if not seeds:
            raise ValueError("at least one seed is needed")
        self.task = task
        self.dtype = dtype
        self.streams = [run_streams(seed) for seed in seeds]
        self.targets = [make_target(task, streams["target"]) for streams in self.streams]
        f = task.num_flipping
        self.flip_bits = np.stack(
            [streams["flips"].integers(0, 2, size=f) for streams in self.streams]
        ).astype(np.uint8)
        self.step = 0
        self._mask = np.uint64((1 << task.num_random) - 1) if task.num_random < 64 else np.uint64(2**64 - 1)
        if task.uses_table:
            self._random_patterns = unpack_bits(
                np.arange(2**task.num_random, dtype=np.uint64), task.num_random
            )
            self._pattern_inputs = self._random_patterns.astype(dtype)
            self._table = self._target_table()

    @property
    def num_runs(self) -> int:
        return len(self.streams)

    def _target_table(self) -> np.ndarray:
        """y[r, p] for every random-bit pattern p under the current flipping bits of run r."""
        task = self.task
        count = self._random_patterns.shape[0]
        table = np.empty((self.num_runs, count))
        for r, target in enumerate(self.targets):
            inputs = np.empty((count, task.input_size))
            inputs[:, : task.num_flipping] = self.flip_bits[r]
            inputs[:, task.num_flipping : task.num_bits] = self._random_patterns
            inputs[:, task.num_bits] = 1.0
            table[r] = target(inputs)
        return table

    def _flip(self) -> None:
        for r, streams in enumerate(self.streams):
            bit = streams["flips"].integers(0, self.task.num_flipping)
            self.flip_bits[r, bit] ^= 1
        if self.task.uses_table:
            self._table = self._target_table()

    def next_chunk(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``length`` steps: inputs [length, R, m+1] (bias bit last) and targets [length, R]."""
        task, R = self.task, self.num_runs
        f, m = task.num_flipping, task.num_bits
        raw = np.empty((R, length), dtype=np.uint64)
        for r, streams in enumerate(self.streams):
            raw[r] = streams["bits"].bit_generator.random_raw(length)
        raw &= self._mask
        patterns = raw.T  # [length, R]
        inputs = np.empty((length, R, task.input_size), dtype=self.dtype)
        if task.uses_table:
            inputs[:, :, f:m] = self._pattern_inputs[patterns.astype(np.intp)]
        else:
            inputs[:, :, f:m] = unpack_bits(patterns, task.num_random)
        inputs[:, :, m] = 1.0
        targets = np.empty((length, R), dtype=self.dtype)
        start = 0
        while start < length:
            if f > 0 and self.step > 0 and self.step % task.flip_period == 0:
                self._flip()
            stop = min(length, start + task.flip_period - self.step % task.flip_period)
            inputs[start:stop, :, :f] = self.flip_bits[None, :, :]
            if task.uses_table:
                targets[start:stop] = np.take_along_axis(
                    self._table, raw[:, start:stop].astype(np.intp), axis=1
                ).T
            else:
                segment = inputs[start:stop].astype(np.float64)
                for r, target in enumerate(self.targets):
                    targets[start:stop, r] = target(segment[:, r])
            self.step += stop - start
            start = stop
        return inputs, targets

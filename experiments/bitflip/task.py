"""The bit-flipping ("slowly changing regression") task of Appendix B.1.1 / Section 4.

As in Dohare et al., Nature 2024 (``lop/slowly_changing_regression``, docs/bitflip.md gives file and line).
Input: m bits plus a bias bit (constant 1). The first f bits are *flipping bits*: uniform in {0,1} at step
0 and changed at every step t = k·T (k ≥ 1) in one of two ways (``flip``):

* ``"one"`` (default): one flipping bit, chosen uniformly, is inverted — the process the Nature paper and
  Appendix B.1.1 describe, and Dohare's code with ``flip_one: true`` (their ``cfg/flip_one/*.json``);
* ``"redraw"``: all f flipping bits are drawn afresh, each uniform in {0,1} (so on average f/2 of them
  change) — the default data path of Dohare's code (``flip_one`` absent, as in ``cfg/prob.json``, which
  generated the data of their ``cfg/sgd/bp`` and ``cfg/sgd/cbp`` runs).

The other m − f bits are drawn fresh, uniform in {0,1}, at every step. The target is a fixed network of
n_target linear threshold units with weights uniform in {−1, +1}:

    z_i = Σ_{j≤m} w_ij x_j + w_i,bias,   h_i = [unit i fires],   y = Σ_i v_i h_i + b_out,

with v_i, b_out uniform in {−1, +1} as well. Three firing rules (``threshold_rule``), with
S_i^neg = #{j ≤ m : w_ij < 0} and w_i,bias the weight on the bias bit:

* ``"original"`` (default; Dohare's ``FixLTUNet`` and ``LTU``): fires iff z_i > τ_i (strict), with
  τ_i = β(m+1) − S_i, S_i = S_i^neg + ½·w_i,bias, computed as their code does: β(m+1) in float64 rounded
  to float32, then the float32 subtraction.
* ``"matching"`` (the intended pattern-matching rule): fires iff z_i ≥ θ_i, θ_i = β(m+1) − #{negative
  weights among all m+1}: iff at least β(m+1) of the m+1 bits agree with the signs of its weights
  (bit = 1 where w = +1, bit = 0 where w = −1).
* ``"paper"`` (Appendix B.1.1 as printed): LTU(z_i − θ_i), LTU(u) = 1 iff u ≥ 0, θ_i = m·β − S_i,
  S_i = S_i^neg − ½·w_i,bias.

For ``matching`` and ``paper`` β is taken as the decimal it is written as (``Fraction(repr(β))``), so a
tie z_i = θ_i is decided exactly, not by the rounding of β·m in binary. The pre-activation z_i is an
integer, so every rule is "z_i ≥ k_i" for an integer k_i (:attr:`TargetNetwork.firing_threshold`):
k = ⌊τ⌋ + 1 for the strict rule, k = ⌈θ⌉ for the others. At β = 0.7, m = 20 the original and printed rules
never tie (fractional parts .2, .7); at ties (β(m+1) mod 1 = ½, e.g. β = 0.5) the strict and non-strict
comparisons give different targets, which is why the original rule is strict.

Randomness: each run's seed is split (``numpy.random.SeedSequence``) into independent streams for the
target network, the learner's initialization, the flip process, the random bits, CBP's re-initializations
and the run's probe batch (:data:`STREAM_NAMES`). Random bits come from one raw 64-bit draw per step, so
the data are identical for every chunk size and whether runs are generated alone or together.

Targets are computed from a table: while the flipping bits are fixed, y depends only on the m − f random
bits, so y for all 2^(m−f) patterns is computed once per flip (32 patterns for the defaults, integer
arithmetic) and looked up per step. When 2^(m−f) exceeds :data:`MAX_TABLE_PATTERNS` the target network
is evaluated on every sample directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

ThresholdRule = Literal["original", "matching", "paper"]
THRESHOLD_RULES: tuple[str, ...] = ("original", "matching", "paper")
FlipMode = Literal["one", "redraw"]
FLIP_MODES: tuple[str, ...] = ("one", "redraw")

# Defaults of Dohare et al. (2024), slowly-changing regression (cfg/sgd/bp/relu.json, flip_one_prob.json).
DEFAULT_NUM_BITS = 20
DEFAULT_NUM_FLIPPING = 15
DEFAULT_FLIP_PERIOD = 10_000
DEFAULT_TARGET_WIDTH = 100
DEFAULT_BETA = 0.7

MAX_TABLE_PATTERNS = 4096  # 2^(m−f) up to this uses the per-flip target table
MAX_RANDOM_BITS = 64  # one raw 64-bit draw per step supplies the random bits

# Child streams of each run's SeedSequence, in spawn order. Child k depends only on (seed, k), so
# appending a stream leaves the earlier ones unchanged.
STREAM_NAMES: tuple[str, ...] = ("target", "init", "flips", "bits", "cbp", "probe")


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
    flip: FlipMode = "one"

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
        if not (isinstance(self.beta, (int, float)) and math.isfinite(self.beta) and 0.0 <= self.beta <= 1.0):
            raise ValueError(f"beta must be a number in [0, 1], got {self.beta!r}")
        if self.threshold_rule not in THRESHOLD_RULES:
            raise ValueError(f"threshold_rule must be one of {THRESHOLD_RULES}, got {self.threshold_rule!r}")
        if self.flip not in FLIP_MODES:
            raise ValueError(f"flip must be one of {FLIP_MODES}, got {self.flip!r}")

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
    """The fixed LTU network of one run: weights [n_target, m+1] (bias-bit weight last), its rule, output.

    ``thresholds`` are τ_i or θ_i as the rule defines them; ``strict`` says whether the unit fires on
    z > τ (original) or z ≥ θ; ``firing_threshold`` is the equivalent integer k_i with "fires iff z ≥ k_i".
    """

    weights: np.ndarray  # float64, entries ±1
    thresholds: np.ndarray  # τ_i (original, strict) or θ_i (matching, paper)
    strict: bool
    firing_threshold: np.ndarray  # int64 k_i
    output_weights: np.ndarray  # v_i ∈ {±1}
    output_bias: float  # b_out ∈ {±1}

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """y for inputs [..., m+1] (bias bit included), directly from the rule's comparison."""
        z = inputs @ self.weights.T
        fires = z > self.thresholds if self.strict else z >= self.thresholds
        return fires.astype(np.float64) @ self.output_weights + self.output_bias


def _exact_beta(beta: float) -> Fraction:
    """β as the decimal it is written as: 0.7 → 7/10 (not the binary double nearest to 0.7)."""
    return Fraction(repr(float(beta)))


def ltu_thresholds(weights: np.ndarray, beta: float, rule: ThresholdRule) -> np.ndarray:
    """τ_i or θ_i for weights [n, m+1] (last column: bias-bit weight); rules in the module docstring."""
    return _rule_thresholds(weights, beta, rule)[0]


def _rule_thresholds(weights: np.ndarray, beta: float, rule: ThresholdRule) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds as floats, integer k_i with "fires iff z ≥ k_i") for integer pre-activations z."""
    m = weights.shape[1] - 1
    negative_inputs = (weights[:, :m] < 0).sum(axis=1)
    bias_weight = weights[:, m]
    if rule == "original":
        # τ = β(m+1) − S in float32 as FixLTUNet computes it (S = negatives + ½·w_bias, a half-integer).
        s = (negative_inputs + 0.5 * bias_weight).astype(np.float32)
        tau = (np.float32(beta * (m + 1)) - s).astype(np.float64)
        return tau, np.floor(tau).astype(np.int64) + 1
    if rule == "matching":
        level = _exact_beta(beta) * (m + 1)
        exact = [level - int(n) - int(w < 0) for n, w in zip(negative_inputs, bias_weight)]
    elif rule == "paper":
        level = _exact_beta(beta) * m
        exact = [level - int(n) + Fraction(int(w), 2) for n, w in zip(negative_inputs, bias_weight)]
    else:
        raise ValueError(f"threshold_rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    theta = np.array([float(t) for t in exact])
    return theta, np.array([math.ceil(t) for t in exact], dtype=np.int64)


def make_target(task: BitFlipTask, rng: np.random.Generator) -> TargetNetwork:
    """Draw the target network: input weights, bias-bit weights, output weights, output bias, all ±1."""
    n, m = task.target_width, task.num_bits

    def signs(size: int | tuple[int, ...]) -> np.ndarray:
        return rng.integers(0, 2, size=size).astype(np.float64) * 2.0 - 1.0

    weights = np.concatenate([signs((n, m)), signs((n, 1))], axis=1)
    output_weights = signs(n)
    output_bias = float(signs(1)[0])
    thresholds, firing = _rule_thresholds(weights, task.beta, task.threshold_rule)
    return TargetNetwork(
        weights, thresholds, task.threshold_rule == "original", firing, output_weights, output_bias
    )


def unpack_bits(patterns: np.ndarray, count: int) -> np.ndarray:
    """Bit j of each integer pattern (j < count), as uint8 [..., count]."""
    shifts = np.arange(count, dtype=np.uint64)
    return ((patterns[..., None] >> shifts) & np.uint64(1)).astype(np.uint8)


class BitFlipStreams:
    """Data of R independent runs, in segments between flips (a fused engine's interface) or dense chunks.

    A *segment* is a run of steps with fixed flipping bits: :meth:`next_segment` returns the random-bit
    patterns [R, L] (bit j of the pattern is input f + j); :attr:`flip_bits` [R, f] and, on the table
    path, :attr:`table` [R, 2^(m−f)] (y of every pattern) describe it. :meth:`next_chunk` gives the same
    data as dense inputs [C, R, m+1] and targets [C, R] for any C.
    """

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
        self.table: np.ndarray | None = None
        self._bits_taken = False
        if task.uses_table:
            self._prepare_table()

    @property
    def num_runs(self) -> int:
        return len(self.streams)

    def _prepare_table(self) -> None:
        """The random-bit patterns of the table, as inputs f … m−1 (float64: integer arithmetic is exact)."""
        count = self.task.num_random
        self._pattern_inputs = unpack_bits(np.arange(2**count, dtype=np.uint64), count).astype(np.float64)
        self.table = self._target_table()

    def _target_table(self) -> np.ndarray:
        """y[r, p] for every random-bit pattern p under the current flipping bits (exact small integers)."""
        f, m = self.task.num_flipping, self.task.num_bits
        table = np.empty((self.num_runs, self._pattern_inputs.shape[0]))
        for r, target in enumerate(self.targets):
            fixed = target.weights[:, :f] @ self.flip_bits[r].astype(np.float64) + target.weights[:, m]
            z = self._pattern_inputs @ target.weights[:, f:m].T + fixed  # [P, n]
            table[r] = (z >= target.firing_threshold).astype(np.float64) @ target.output_weights
            table[r] += target.output_bias
        return table

    def _flip(self) -> None:
        f = self.task.num_flipping
        for r, streams in enumerate(self.streams):
            if self.task.flip == "one":
                self.flip_bits[r, streams["flips"].integers(0, f)] ^= 1
            else:
                self.flip_bits[r] = streams["flips"].integers(0, 2, size=f)
        if self.task.uses_table:
            self.table = self._target_table()

    def steps_to_flip(self) -> int:
        """Steps left in the current segment: a flip happens before step k·T (k ≥ 1)."""
        return self.task.flip_period - self.step % self.task.flip_period

    def begin_segment(self, length: int) -> None:
        """Start the next ``length`` steps without drawing their random bits (the caller draws them).

        At a segment start (a step k·T, k ≥ 1) the flip happens first, so :attr:`flip_bits` and
        :attr:`table` describe the segment. ``length`` must stay within the segment.
        """
        if not 1 <= length <= self.steps_to_flip():
            raise ValueError(f"segment length must lie in [1, {self.steps_to_flip()}], got {length}")
        if self.task.num_flipping > 0 and self.step > 0 and self.step % self.task.flip_period == 0:
            self._flip()
        self.step += length

    def next_segment(self, length: int) -> np.ndarray:
        """Random-bit patterns [R, length] of the next steps (:meth:`begin_segment`, then the draws)."""
        if self._bits_taken:
            raise RuntimeError("the random-bit streams were taken over by take_over_bits()")
        self.begin_segment(length)
        patterns = np.empty((self.num_runs, length), dtype=np.uint64)
        for r, streams in enumerate(self.streams):
            patterns[r] = streams["bits"].bit_generator.random_raw(length)
        patterns &= self._mask
        return patterns

    def take_over_bits(self) -> tuple[list[np.random.Generator], np.uint64]:
        """Hand the random-bit generators to compiled code, with the pattern mask (low m − f bits).

        The caller then draws one raw 64-bit value per run per step itself (the numbers ``random_raw``
        would give, :mod:`experiments.bitflip.pcg64`) and uses :meth:`begin_segment`;
        :meth:`next_segment` and :meth:`next_chunk` refuse from then on.
        """
        self._bits_taken = True
        return [streams["bits"] for streams in self.streams], self._mask

    def segment_targets(self, patterns: np.ndarray) -> np.ndarray:
        """y [R, L] of the segment just returned by :meth:`next_segment` (table or the network itself)."""
        if self.table is not None:
            return np.take_along_axis(self.table, patterns.astype(np.intp), axis=1)
        return np.stack([target(self._segment_inputs(patterns, r)) for r, target in enumerate(self.targets)])

    def _segment_inputs(self, patterns: np.ndarray, r: int) -> np.ndarray:
        task = self.task
        f, m = task.num_flipping, task.num_bits
        inputs = np.empty((patterns.shape[1], task.input_size))
        inputs[:, :f] = self.flip_bits[r]
        inputs[:, f:m] = unpack_bits(patterns[r], task.num_random)
        inputs[:, m] = 1.0
        return inputs

    def next_chunk(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``length`` steps: inputs [length, R, m+1] (bias bit last) and targets [length, R]."""
        task, R = self.task, self.num_runs
        f, m = task.num_flipping, task.num_bits
        inputs: np.ndarray = np.empty((length, R, task.input_size), dtype=self.dtype)
        inputs[:, :, m] = 1.0
        targets: np.ndarray = np.empty((length, R), dtype=self.dtype)
        start = 0
        while start < length:
            stop = start + min(length - start, self.steps_to_flip())
            patterns = self.next_segment(stop - start)
            inputs[start:stop, :, :f] = self.flip_bits[None, :, :]
            inputs[start:stop, :, f:m] = unpack_bits(patterns.T, task.num_random)
            targets[start:stop] = self.segment_targets(patterns).T
            start = stop
        return inputs, targets

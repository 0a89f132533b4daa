"""The fused bit-flipping engine: one compiled (numba) loop per run over a whole segment of steps.

The numpy engine (:class:`experiments.bitflip.engine.BitFlipEngine`) issues ≈ 16 numpy calls per step for
all runs together, so at width 5 it is bound by call overhead (1.3 % of this CPU's FLOP limit) and a
single run is ≈ 100× slower than its arithmetic. Here one compiled function advances every run through a
segment of up to ``chunk_size`` steps (never across a flip or the SGD → CBP switch), runs in parallel
over the CPU's cores (``prange``), with the same per-step rules as the numpy engine (its module
docstring), data decoded inside the loop:

* input x: flipping bits (fixed within a segment), random bits from the step's raw 64-bit pattern,
  bias bit 1; target y = table[pattern] (the per-flip table of :class:`BitFlipStreams`) or, when there
  is no table, y computed per sample in numpy beforehand;
* forward z = W x (sum over inputs in order j = 0 … m), h = φ(z), ŷ = Σ_i v_i h_i + c; backward and SGD
  update as the numpy engine; then, from ``switch_step`` on, one CBP step (ages, ρ-averages, utility,
  eligible = age > maturity counted, budget, replacement of the lowest bias-corrected utility with
  ties to the lower index, output-bias correction, Kaiming-uniform re-init from :class:`DrawPool`).

Hidden weights are stored [R, n, m+1] for widths up to :data:`UNIT_MAJOR_MAX_WIDTH` (one dot product per
unit) and transposed, [R, m+1, n], above (loops over contiguous units); both give the same numbers bit
for bit. No fast-math: the order of every floating-point sum is fixed, so a run's
trajectory is bitwise identical whether it runs alone or with others, for any chunk size and thread
count (tested), and agrees with the numpy engine to 1e-12 in float64 (tested; the two differ only in
summation order).

numba is a dependency of the package; if it cannot be imported (or an activation has no compiled form)
:func:`experiments.bitflip.engine.make_engine` falls back to the numpy engine and says why.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence

import numba
import numpy as np
from numba import njit, prange

from experiments.bitflip.draw_pool import DrawPool
from experiments.bitflip.engine import EngineBase
from experiments.bitflip.pcg64 import next_raw, pcg64_state
from experiments.bitflip.task import BitFlipTask
from theory.activations import Activation

# numba's own thread pool (workqueue) rather than OpenMP, unless the user chose a layer: on the shared
# 2-core machine (load ≈ 7) OpenMP's spinning workers made 16 runs 4× and 70 runs 1.5× slower (wall).
# The workqueue layer takes one parallel launch at a time, so _LAUNCH serializes the launches.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]  # set at run time by numba
_LAUNCH = threading.Lock()

# Activation families with a compiled φ, φ' (the registry's numpy formulas, same branch conventions).
FAMILY_CODES: dict[str, int] = {
    "relu": 0,
    "leaky_relu": 1,
    "tanh": 2,
    "sigmoid": 3,
    "silu": 4,
    "elu": 5,
    "softplus": 6,
    "gelu": 7,
    "sin": 8,
    "erf": 9,
    "abs": 10,
    "square": 11,
    "linear": 12,
}
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)
UNIT_MAJOR_MAX_WIDTH = 12  # measured crossover of the two weight layouts (see _forward)


def activation_code(activation: Activation) -> tuple[int, float]:
    """(code, parameter) of the compiled form of ``activation``; ValueError naming the choices if none."""
    if activation.is_modulated or activation.family not in FAMILY_CODES:
        raise ValueError(
            f"the fused engine has no compiled form of activation {activation.name!r}; "
            f"it has {', '.join(FAMILY_CODES)} (unmodulated)"
        )
    parameter = activation.parameter
    return FAMILY_CODES[activation.family], 0.0 if parameter is None else float(parameter)


@njit(cache=True, inline="always", error_model="numpy")
def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, inline="always", error_model="numpy")
def _phi(code: int, a, z, zero, one):
    """φ(z) in z's precision for the fast families, through float64 for the transcendental ones."""
    if code == 0:
        return zero if z <= zero else z  # noqa: FURB136 -- NaN propagates, as np.maximum's
    if code == 1:
        return z if z > zero else a * z
    if code == 2:
        return np.tanh(z)
    if code == 12:
        return z
    if code == 10:
        return abs(z)
    if code == 11:
        return z * z
    x = float(z)
    if code == 3:
        value = _expit(x)
    elif code == 4:
        value = x * _expit(x)
    elif code == 5:
        value = x if x > 0.0 else float(a) * math.expm1(min(x, 0.0))
    elif code == 6:
        u = float(a) * x
        value = (max(u, 0.0) + math.log1p(math.exp(-abs(u)))) / float(a)
    elif code == 7:
        value = x * 0.5 * math.erfc(-x * _INV_SQRT2)
    elif code == 8:
        value = math.sin(x)
    else:
        value = math.erf(x)
    return zero + value


@njit(cache=True, inline="always", error_model="numpy")
def _slope(code: int, a, z, h, zero, one):
    """φ'(z), given h = φ(z)."""
    if code == 0:
        return one if z > zero else zero
    if code == 1:
        return one if z > zero else a
    if code == 2:
        return one - h * h
    if code == 12:
        return one
    if code == 10:
        return one if z > zero else (-one if z < zero else zero)
    if code == 11:
        return (one + one) * z
    x = float(z)
    if code == 3:
        value = _expit(x) * _expit(-x)
    elif code == 4:
        s = _expit(x)
        value = s * (1.0 + x * (1.0 - s))
    elif code == 5:
        value = 1.0 if x > 0.0 else float(a) * math.exp(min(x, 0.0))
    elif code == 6:
        value = _expit(float(a) * x)
    elif code == 7:
        value = 0.5 * math.erfc(-x * _INV_SQRT2) + x * _INV_SQRT2PI * math.exp(-0.5 * x * x)
    elif code == 8:
        value = math.cos(x)
    else:
        value = _TWO_OVER_SQRTPI * math.exp(-x * x)
    return zero + value


@njit(cache=True, error_model="numpy")
def activation_values(code: int, a, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """φ(z), φ'(z) elementwise for a 1-D array, through the kernel's own scalar forms (for tests)."""
    zero = np.zeros(1, z.dtype)[0]
    one = np.ones(1, z.dtype)[0]
    h = np.empty_like(z)
    d = np.empty_like(z)
    for k in range(z.shape[0]):
        h[k] = _phi(code, a, z[k], zero, one)
        d[k] = _slope(code, a, z[k], h[k], zero, one)
    return h, d


@njit(cache=True, inline="always", error_model="numpy")
def _before(a, b) -> bool:
    """Order of a stable ascending sort with NaN last: a strictly before b."""
    if np.isnan(a):
        return False
    return np.isnan(b) or a < b


# The weights of one run, w_r, are [n, m+1] when unit_major (a dot product per unit: fastest for narrow
# layers) and [m+1, n] otherwise (loops over contiguous units: fastest for wide ones). Every unit's sum
# runs over j = 0 … m in order from 0 in both, so the two layouts give bitwise the same numbers.


@njit(cache=True, inline="always", error_model="numpy")
def _forward(w_r, x, z, unit_major, zero) -> None:
    """z_i = Σ_j w_ij x_j."""
    if unit_major:
        n, inputs = w_r.shape[0], w_r.shape[1]
        blocked = n - n % 4
        for i in range(0, blocked, 4):  # four independent sums in flight (each still in j order)
            t0, t1, t2, t3 = zero, zero, zero, zero
            for j in range(inputs):
                xj = x[j]
                t0 += w_r[i, j] * xj
                t1 += w_r[i + 1, j] * xj
                t2 += w_r[i + 2, j] * xj
                t3 += w_r[i + 3, j] * xj
            z[i], z[i + 1], z[i + 2], z[i + 3] = t0, t1, t2, t3
        for i in range(blocked, n):
            total = zero
            for j in range(inputs):
                total += w_r[i, j] * x[j]
            z[i] = total
    else:
        for i in range(w_r.shape[1]):
            z[i] = zero
        for j in range(w_r.shape[0]):
            xj = x[j]
            for i in range(w_r.shape[1]):
                z[i] += w_r[j, i] * xj


@njit(cache=True, inline="always", error_model="numpy")
def _rank_one_update(w_r, x, back, unit_major, magnitude, with_magnitude, zero) -> None:
    """w_ij += back_i · x_j; with ``with_magnitude`` also magnitude_i = Σ_{j<m} |w_ij| of the new weights
    (CBP's adaptable-contribution denominator, bias column excluded) in the same pass."""
    if unit_major:
        n, m = w_r.shape[0], w_r.shape[1] - 1
        for i in range(n):
            b = back[i]
            if with_magnitude:
                total = zero
                for j in range(m):
                    w_r[i, j] += b * x[j]
                    total += abs(w_r[i, j])
                magnitude[i] = total
            else:
                for j in range(m):
                    w_r[i, j] += b * x[j]
            w_r[i, m] += b * x[m]
    else:
        n, m = w_r.shape[1], w_r.shape[0] - 1
        if with_magnitude:
            for i in range(n):
                magnitude[i] = zero
        for j in range(m):
            xj = x[j]
            if with_magnitude:
                for i in range(n):
                    w_r[j, i] += back[i] * xj
                    magnitude[i] += abs(w_r[j, i])
            else:
                for i in range(n):
                    w_r[j, i] += back[i] * xj
        for i in range(n):
            w_r[m, i] += back[i] * x[m]


@njit(cache=True, inline="always", error_model="numpy")
def _set_weight(w_r, unit, j, value, unit_major) -> None:
    if unit_major:
        w_r[unit, j] = value
    else:
        w_r[j, unit] = value


@njit(cache=True, error_model="numpy")
def _run_segment(
    r,
    w,
    unit_major,
    v,
    c,
    neg_two_lr,
    flip_bits,
    words,
    mask,
    patterns,
    table,
    targets,
    losses,
    code,
    a,
    cbp_on,
    adaptable,
    rho,
    one_minus_rho,
    rate,
    maturity,
    age,
    decay_power,
    mean_act,
    utility,
    budget,
    pool,
    pool_start,
    pool_stop,
    bound,
    replacements,
) -> bool:
    """Advance run r through the segment; False if the draw pool ran short (an internal error)."""
    w_r, v_r = w[r], v[r]
    n = v_r.shape[0]
    m = w_r.shape[1] - 1 if unit_major else w_r.shape[0] - 1
    f = flip_bits.shape[1]
    random_bits = m - f
    length = losses.shape[1]
    draw_bits = patterns.shape[1] == 0  # else the patterns (and targets) were drawn beforehand
    use_table = table.shape[1] > 0
    zero = np.zeros(1, v.dtype)[0]
    one = np.ones(1, v.dtype)[0]
    m_as_dtype = np.full(1, m, v.dtype)[0]
    x = np.empty(m + 1, v.dtype)
    z = np.empty(n, v.dtype)
    h = np.empty(n, v.dtype)
    back = np.empty(n, v.dtype)
    corrected_mean = np.empty(n, v.dtype)
    corrected_utility = np.empty(n, v.dtype)
    in_magnitude = np.empty(n, v.dtype)
    chosen = np.zeros(n, np.bool_)
    order = np.empty(n, np.int64)
    for j in range(f):
        x[j] = one if flip_bits[r, j] else zero
    x[m] = one
    bit = np.uint64(1)
    c_r = c[r]
    for t in range(length):
        pattern = (next_raw(words, r) & mask) if draw_bits else patterns[r, t]
        for j in range(random_bits):
            x[f + j] = one if (pattern >> np.uint64(j)) & bit else zero
        _forward(w_r, x, z, unit_major, zero)
        total = zero
        for i in range(n):
            h[i] = _phi(code, a, z[i], zero, one)
            total += v_r[i] * h[i]
        target = table[r, np.intp(pattern)] if use_table else targets[r, t]
        err = (total + c_r) - target
        losses[r, t] = err * err
        g = err * neg_two_lr[r]
        # backward with v before its update, then SGD
        for i in range(n):
            back[i] = v_r[i] * g
            v_r[i] += h[i] * g
            back[i] *= _slope(code, a, z[i], h[i], zero, one)
        c_r += g
        _rank_one_update(w_r, x, back, unit_major, in_magnitude, cbp_on and adaptable, zero)
        if not cbp_on:
            continue
        # CBP: statistics after the SGD step
        eligible = 0
        for i in range(n):
            age[r, i] += 1
            decay_power[r, i] *= rho
            mean_act[r, i] = mean_act[r, i] * rho + one_minus_rho * h[i]
            corrected_mean[i] = mean_act[r, i] / (one - decay_power[r, i])
            if age[r, i] > maturity:
                eligible += 1
            if adaptable:
                instant = abs(h[i] - corrected_mean[i]) / (in_magnitude[i] / m_as_dtype)
            else:
                instant = abs(h[i])
            instant *= abs(v_r[i])
            utility[r, i] = utility[r, i] * rho + one_minus_rho * instant
        budget[r] += rate * eligible
        count = math.floor(budget[r])
        if count == 0:
            continue
        budget[r] -= count
        if pool_start[r] + count * m > pool_stop[r]:
            c[r] = c_r
            return False
        for i in range(n):
            chosen[i] = False
            corrected_utility[i] = utility[r, i] / (one - decay_power[r, i])
        for k in range(count):
            best = -1
            for i in range(n):
                candidate = age[r, i] > maturity and not chosen[i]
                if candidate and (best < 0 or _before(corrected_utility[i], corrected_utility[best])):
                    best = i
            chosen[best] = True
            order[k] = best
        correction_sum = zero
        for k in range(count):
            correction_sum += v_r[order[k]] * corrected_mean[order[k]]
        c_r += correction_sum
        position = pool_start[r]
        for k in range(count):
            unit = order[k]
            for j in range(m):
                _set_weight(w_r, unit, j, (pool[r, position] * 2.0 - 1.0) * bound, unit_major)
                position += 1
            _set_weight(w_r, unit, m, zero, unit_major)
            v_r[unit] = zero
            utility[r, unit] = zero
            mean_act[r, unit] = zero
            age[r, unit] = 0
            decay_power[r, unit] = one
        pool_start[r] = position
        replacements[r] += count
    c[r] = c_r
    return True


@njit(parallel=True, cache=True, error_model="numpy")
def _advance_parallel(
    w,
    unit_major,
    v,
    c,
    neg_two_lr,
    flip_bits,
    words,
    mask,
    patterns,
    table,
    targets,
    losses,
    code,
    a,
    cbp_on,
    adaptable,
    rho,
    one_minus_rho,
    rate,
    maturity,
    age,
    decay_power,
    mean_act,
    utility,
    budget,
    pool,
    pool_start,
    pool_stop,
    bound,
    replacements,
    pool_ok,
) -> None:
    for r in prange(w.shape[0]):
        pool_ok[r] = _run_segment(
            r,
            w,
            unit_major,
            v,
            c,
            neg_two_lr,
            flip_bits,
            words,
            mask,
            patterns,
            table,
            targets,
            losses,
            code,
            a,
            cbp_on,
            adaptable,
            rho,
            one_minus_rho,
            rate,
            maturity,
            age,
            decay_power,
            mean_act,
            utility,
            budget,
            pool,
            pool_start,
            pool_stop,
            bound,
            replacements,
        )


@njit(cache=True, error_model="numpy")
def _advance_serial(
    w,
    unit_major,
    v,
    c,
    neg_two_lr,
    flip_bits,
    words,
    mask,
    patterns,
    table,
    targets,
    losses,
    code,
    a,
    cbp_on,
    adaptable,
    rho,
    one_minus_rho,
    rate,
    maturity,
    age,
    decay_power,
    mean_act,
    utility,
    budget,
    pool,
    pool_start,
    pool_stop,
    bound,
    replacements,
    pool_ok,
) -> None:
    for r in range(w.shape[0]):
        pool_ok[r] = _run_segment(
            r,
            w,
            unit_major,
            v,
            c,
            neg_two_lr,
            flip_bits,
            words,
            mask,
            patterns,
            table,
            targets,
            losses,
            code,
            a,
            cbp_on,
            adaptable,
            rho,
            one_minus_rho,
            rate,
            maturity,
            age,
            decay_power,
            mean_act,
            utility,
            budget,
            pool,
            pool_start,
            pool_stop,
            bound,
            replacements,
        )


class FusedBitFlipEngine(EngineBase):
    """R runs advanced by the compiled per-run loop (module docstring); same interface as the numpy engine."""

    backend = "fused"

    def __init__(self, task: BitFlipTask, width: int, seeds: Sequence[int], **kwargs) -> None:
        super().__init__(task, width, seeds, **kwargs)
        self._code, parameter = activation_code(self.activation)
        dt = self.dtype
        self._param = dt(parameter)
        self._unit_major = self.width <= UNIT_MAJOR_MAX_WIDTH
        initial = self._initial_hidden if self._unit_major else self._initial_hidden.transpose(0, 2, 1)
        self._w = np.ascontiguousarray(initial, dtype=dt)  # [R, n, m+1] or [R, m+1, n]
        self.output = self._initial_output.astype(dt)
        self.output_bias = self._initial_output_bias.astype(dt)
        self._neg_two_lr = (-2.0 * self.lr).astype(dt)
        shape = (self.num_runs, self.width)
        self._age = np.zeros(shape, dtype=np.int64)
        self._decay_power = np.ones(shape, dtype=dt)
        self._mean_activation = np.zeros(shape, dtype=dt)
        self._utility = np.zeros(shape, dtype=dt)
        self._budget = np.zeros(self.num_runs)
        self._cbp_on = False
        self._pool = DrawPool([s["cbp"] for s in self.data.streams])
        self._no_targets = np.zeros((self.num_runs, 0), dtype=dt)
        self._no_patterns = np.zeros((self.num_runs, 0), dtype=np.uint64)
        if self.data.table is not None:  # random bits drawn in the loop (the table gives the targets)
            generators, self._mask = self.data.take_over_bits()
            self._words = np.stack([pcg64_state(g) for g in generators])
        else:
            self._words, self._mask = np.zeros((self.num_runs, 4), dtype=np.uint64), np.uint64(0)
        self._pool_ok = np.ones(self.num_runs, dtype=np.bool_)

    @property
    def hidden(self) -> np.ndarray:
        """W [R, n, m+1] (a view of the storage)."""
        return self._w if self._unit_major else self._w.transpose(0, 2, 1)

    def _start_cbp(self) -> None:
        self._age[:] = 0
        self._decay_power[:] = 1.0
        self._mean_activation[:] = 0.0
        self._utility[:] = 0.0
        self._budget[:] = 0.0
        self._cbp_on = True

    def advance(self, steps: int) -> np.ndarray:
        losses = np.empty((self.num_runs, steps), dtype=self.dtype)  # [R, steps]: each run writes a row
        done = 0
        while done < steps:
            if not self._cbp_on and self._cbp_starts_now():
                self._start_cbp()
            length = min(self.chunk_size, steps - done, self.data.steps_to_flip())
            before_switch = self._steps_before_switch()
            if before_switch is not None:
                length = min(length, before_switch)
            # a contiguous buffer per segment keeps one compiled array layout
            segment = np.empty((self.num_runs, length), dtype=self.dtype)
            self._advance_segment(segment)
            losses[:, done : done + length] = segment
            done += length
        return losses.T

    def _advance_segment(self, losses: np.ndarray) -> None:
        length = losses.shape[1]
        dt = self.dtype
        if self.data.table is not None:
            self.data.begin_segment(length)
            patterns, table, targets = self._no_patterns, self.data.table.astype(dt), self._no_targets
        else:
            patterns = self.data.next_segment(length)
            table, targets = self._no_targets, self.data.segment_targets(patterns).astype(dt)
        settings = self.cbp_settings
        if self._cbp_on:
            assert settings is not None
            # At most ⌊budget + r·n·L⌋ replacements of m draws each in L steps (eligible ≤ n per step).
            most = np.floor(self._budget + settings.replacement_rate * self.width * length) + 1
            self._pool.reserve(most.astype(np.int64) * self.task.num_bits)
        rho = 0.0 if settings is None else settings.decay_rate
        advance = _advance_parallel if self.num_runs > 1 else _advance_serial
        with _LAUNCH:
            advance(
                self._w,
                self._unit_major,
                self.output,
                self.output_bias,
                self._neg_two_lr,
                self.data.flip_bits,
                self._words,
                self._mask,
                patterns,
                table,
                targets,
                losses,
                self._code,
                self._param,
                self._cbp_on,
                settings is not None and settings.utility == "adaptable_contribution",
                dt(rho),
                dt(1.0 - rho),
                0.0 if settings is None else settings.replacement_rate,
                0 if settings is None else settings.maturity_threshold,
                self._age,
                self._decay_power,
                self._mean_activation,
                self._utility,
                self._budget,
                self._pool.values,
                self._pool.start,
                self._pool.stop,
                self.reinit_bound,
                self.replacements,
                self._pool_ok,
            )
        if not self._pool_ok.all():
            raise RuntimeError("fused engine: CBP draw pool ran short (internal bound violated)")
        self.step += length

"""The bit-flipping engine in torch, for a CUDA device (or any torch device).

The same per-step rules as the numpy engine (:mod:`experiments.bitflip.engine`), vectorized over runs
with torch tensors on ``device``, and written without a host synchronization inside a segment: CBP's
replacement is a masked update of every run at every step. The ⌊budget⌋ units to replace are the first
⌊budget⌋ eligible units in ascending bias-corrected utility (a stable sort, NaN last, ties to the lower
index, as the numpy engine's ``argsort(kind="stable")``), and their new incoming weights come from each
run's :class:`~experiments.bitflip.draw_pool.DrawPool` uploaded to the device, the k-th replaced unit of
a step taking the next m draws — the numpy engine's draws, value for value.

The data (bits, flips, targets) are generated on the host by :class:`BitFlipStreams`, one segment at a
time, and copied to the device once per segment. On a CPU this engine is the tested form of the CUDA path
(float64 agreement with the numpy engine to 1e-12, tests/experiments/test_bitflip_engine.py); it is not
the fast CPU engine (that is :mod:`experiments.bitflip.fused`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from experiments.bitflip.draw_pool import DrawPool
from experiments.bitflip.engine import EngineBase
from experiments.bitflip.task import BitFlipTask

TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


class TorchBitFlipEngine(EngineBase):
    """R runs as torch tensors on ``device`` (module docstring); the numpy engine's interface."""

    backend = "torch"

    def __init__(self, task: BitFlipTask, width: int, seeds: Sequence[int], *, device: str = "cpu", **kwargs):
        super().__init__(task, width, seeds, **kwargs)
        try:
            self.device = torch.device(device)
            torch.zeros(1, device=self.device)
        except (RuntimeError, AssertionError) as error:
            raise ValueError(f"device={device!r} cannot be used: {error}") from None
        self.torch_dtype = TORCH_DTYPES[self.dtype]
        self._w = torch.tensor(self._initial_hidden.astype(self.dtype), device=self.device)  # [R, n, m+1]
        self._v = torch.tensor(self._initial_output.astype(self.dtype), device=self.device)
        self._c = torch.tensor(self._initial_output_bias.astype(self.dtype), device=self.device)
        self._neg_two_lr = torch.tensor((-2.0 * self.lr).astype(self.dtype), device=self.device)
        shape = (self.num_runs, self.width)
        self._age = torch.zeros(shape, dtype=torch.int64, device=self.device)
        self._decay_power = torch.ones(shape, dtype=self.torch_dtype, device=self.device)
        self._mean_activation = torch.zeros(shape, dtype=self.torch_dtype, device=self.device)
        self._utility = torch.zeros(shape, dtype=self.torch_dtype, device=self.device)
        self._budget = torch.zeros(self.num_runs, dtype=torch.float64, device=self.device)
        self._replacements = torch.zeros(self.num_runs, dtype=torch.int64, device=self.device)
        self._cbp_on = False
        self._pool = DrawPool([s["cbp"] for s in self.data.streams])
        self._pool_values = torch.zeros((self.num_runs, 0), dtype=torch.float64, device=self.device)
        self._pool_start = torch.zeros(self.num_runs, dtype=torch.int64, device=self.device)
        self._units = torch.arange(self.width, device=self.device)
        self._draw_offsets = torch.arange(task.num_bits, device=self.device)
        self._shifts = torch.arange(task.num_random, device=self.device)

    @property
    def hidden(self) -> np.ndarray:
        return self._w.cpu().numpy()

    @property
    def output(self) -> np.ndarray:
        return self._v.cpu().numpy()

    @property
    def output_bias(self) -> np.ndarray:
        return self._c.cpu().numpy()

    def _start_cbp(self) -> None:
        self._age.zero_()
        self._decay_power.fill_(1.0)
        self._mean_activation.zero_()
        self._utility.zero_()
        self._budget.zero_()
        self._cbp_on = True

    def advance(self, steps: int) -> np.ndarray:
        losses = torch.empty((steps, self.num_runs), dtype=self.torch_dtype, device=self.device)
        done = 0
        while done < steps:
            if not self._cbp_on and self._cbp_starts_now():
                self._start_cbp()
            length = min(self.chunk_size, steps - done, self.data.steps_to_flip())
            before_switch = self._steps_before_switch()
            if before_switch is not None:
                length = min(length, before_switch)
            self._advance_segment(losses[done : done + length])
            done += length
        self.replacements[:] = self._replacements.cpu().numpy()
        return losses.cpu().numpy()

    def _segment_data(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs [L, R, m+1] and targets [L, R] of the next segment, on the device."""
        task = self.task
        f, m = task.num_flipping, task.num_bits
        patterns = self.data.next_segment(length)
        targets = self.data.segment_targets(patterns)
        raw = torch.from_numpy(patterns.view(np.int64)).to(self.device)  # bit j survives the reinterpretation
        inputs = torch.empty((length, self.num_runs, m + 1), dtype=self.torch_dtype, device=self.device)
        inputs[:, :, :f] = torch.from_numpy(self.data.flip_bits).to(self.device, self.torch_dtype)
        inputs[:, :, f:m] = ((raw.T[:, :, None] >> self._shifts) & 1).to(self.torch_dtype)
        inputs[:, :, m] = 1.0
        return inputs, torch.from_numpy(targets.T.astype(self.dtype)).to(self.device)

    def _sync_pool(self, length: int) -> None:
        """Reserve the segment's bound on draws (see the fused engine) and upload the pool if it changed."""
        settings = self.cbp_settings
        assert settings is not None
        self._pool.start[:] = self._pool_start.cpu().numpy()
        most = np.floor(self._budget.cpu().numpy() + settings.replacement_rate * self.width * length) + 1
        if self._pool.reserve(most.astype(np.int64) * self.task.num_bits):
            self._pool_values = torch.from_numpy(self._pool.values).to(self.device)
            self._pool_start = torch.from_numpy(self._pool.start.copy()).to(self.device)

    def _advance_segment(self, losses: torch.Tensor) -> None:
        length = losses.shape[0]
        inputs, targets = self._segment_data(length)
        if self._cbp_on:
            self._sync_pool(length)
        phi, slope = self.activation.torch_fn, self.activation.torch_derivative
        w, v, c = self._w, self._v, self._c
        for t in range(length):
            x = inputs[t]
            z = torch.bmm(w, x[:, :, None])[:, :, 0]
            h = phi(z)
            err = ((v * h).sum(dim=1) + c) - targets[t]
            losses[t] = err * err
            g = err * self._neg_two_lr
            back = v * g[:, None]
            v += h * g[:, None]
            c += g
            back *= slope(z)
            w += back[:, :, None] * x[:, None, :]
            if self._cbp_on:
                self._cbp_step(h)
        self.step += length

    def _cbp_step(self, h: torch.Tensor) -> None:
        settings = self.cbp_settings
        assert settings is not None
        rho, m = settings.decay_rate, self.task.num_bits
        w, v = self._w, self._v
        self._age += 1
        self._decay_power *= rho
        correction = 1.0 - self._decay_power
        self._mean_activation.mul_(rho).add_((1.0 - rho) * h)
        corrected_mean = self._mean_activation / correction
        if settings.utility == "contribution":
            instant = h.abs()
        else:
            instant = (h - corrected_mean).abs() / (w[:, :, :m].abs().sum(dim=2) / m)
        instant = instant * v.abs()
        self._utility.mul_(rho).add_((1.0 - rho) * instant)
        eligible = self._age > settings.maturity_threshold
        self._budget += settings.replacement_rate * eligible.sum(dim=1).to(torch.float64)
        counts = torch.floor(self._budget)
        self._budget -= counts
        # replacement order: eligible units first, each group in stable ascending corrected utility
        by_utility = torch.sort(self._utility / correction, dim=1, stable=True).indices
        ineligible = (~eligible).gather(1, by_utility).to(torch.int8)
        order = by_utility.gather(1, torch.sort(ineligible, dim=1, stable=True).indices)
        rank = torch.empty_like(order).scatter_(1, order, self._units.expand_as(order))
        selected = rank < counts.to(torch.int64)[:, None]
        self._c += torch.where(selected, v * corrected_mean, torch.zeros_like(v)).sum(dim=1)
        positions = self._pool_start[:, None, None] + rank[:, :, None] * m + self._draw_offsets
        positions = positions.clamp(max=max(self._pool_values.shape[1] - 1, 0)).reshape(self.num_runs, -1)
        if self._pool_values.shape[1] > 0:
            draws = self._pool_values.gather(1, positions).reshape(self.num_runs, self.width, m)
            fresh = ((draws * 2.0 - 1.0) * self.reinit_bound).to(self.torch_dtype)
            w[:, :, :m] = torch.where(selected[:, :, None], fresh, w[:, :, :m])
        w[:, :, m] = torch.where(selected, torch.zeros_like(v), w[:, :, m])
        for state, value in (
            (v, 0.0),
            (self._utility, 0.0),
            (self._mean_activation, 0.0),
            (self._decay_power, 1.0),
        ):
            state.masked_fill_(selected, value)
        self._age.masked_fill_(selected, 0)
        taken = counts.to(torch.int64)
        self._replacements += taken
        self._pool_start += taken * m

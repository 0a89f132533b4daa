"""Throughput of the bit-flipping engines, side by side in one run: fused (numba) vs numpy vs autograd.

Peers, measured in the same process (issue 12, goal 4):

* the plain autograd loop a user would write — ``nn.Linear`` layers, ``loss.backward()``,
  ``torch.optim.SGD`` (+ :class:`experiments.optim.cbp.ContinualBackprop`), one sample at a time
  (:class:`experiments.bitflip.learner.ReferenceLearner`, one intra-op thread: the layers are tiny);
* the numpy engine (:class:`experiments.bitflip.engine.BitFlipEngine`, all runs batched per step);
* the fused engine (:class:`experiments.bitflip.fused.FusedBitFlipEngine`, one compiled loop per run).

Printed: sample-steps per second (one sample-step = one run learning one sample), the ratio to the
peers, the fraction of this CPU's FLOP limit (fp32 GEMM 215 GFLOP/s on 2 cores; a sample-step costs
≈ 4(m+1)n + 6n flops, + (m + 15)n with CBP), how throughput grows with runs and with width, the data
generation rate next to the learning rate, and the Figure B.2 grid (4 widths × 70 seeds × 5M samples,
SGD then CBP, probe metrics every 20,000 steps) estimated from the rates measured at each width.
Goals: ≥ 20M sample-steps/s at 1,024 runs × width 5, ≥ 5M/s for one run, the grid ≤ 6 minutes.

    python benchmarks/bench_bitflip.py            # ≈ 2 minutes on an idle 2-core machine
    python benchmarks/bench_bitflip.py --quick    # shorter measurements, noisier
    python benchmarks/bench_bitflip.py --json     # only the headline figures, as JSON (benchmarks/run_all.py)

Rates are per wall second and per CPU-second of the process. On a shared machine the parallel fused
engine waits for descheduled workers, so its wall rate there understates it; the idle-machine estimates
(1,024 runs, the grid) therefore scale its one-thread CPU-time rate by the number of cores. Figures taken
on a shared machine are provisional; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from common import Figure, emit, parse_args

from experiments.bitflip.engine import BitFlipEngine, EngineBase, fused_unavailable_reason
from experiments.bitflip.learner import CBPSettings, ReferenceLearner
from experiments.bitflip.probe import feature_metrics, run_probe_inputs
from experiments.bitflip.task import BitFlipStreams, BitFlipTask

FP32_FLOP_LIMIT = 215e9  # measured fp32 GEMM, 2 cores (README)
GOAL_MANY_RUNS = 20e6  # sample-steps/s at 1,024 runs x width 5
GOAL_ONE_RUN = 5e6
GOAL_GRID_MINUTES = 6.0
GRID_WIDTHS = (5, 10, 50, 100)
GRID_SEEDS = 70
GRID_SAMPLES = 5_000_000
GRID_SWITCH = 2_500_000
GRID_BIN = 20_000  # the paper preset's bin: one probe-metric evaluation per bin
PROBE_SIZE = 1000
CBP = CBPSettings(utility="adaptable_contribution")  # the paper's CBP (r = 1e-4, maturity 100, rho 0.99)


def flops_per_step(task: BitFlipTask, width: int, cbp: bool) -> float:
    m = task.num_bits
    return 4.0 * (m + 1) * width + 6.0 * width + ((m + 15.0) * width if cbp else 0.0)


@dataclass(frozen=True)
class Rate:
    """Units per wall-clock second, and per CPU-second of this process (all its threads)."""

    wall: float
    cpu: float

    def __mul__(self, factor: float) -> Rate:
        return Rate(self.wall * factor, self.cpu * factor)


def timed(step: Callable[[int], object], chunk: int, min_seconds: float) -> Rate:
    """Run ``step(chunk)`` (after one warm-up call) until ``min_seconds`` have passed; units per second."""
    step(chunk)  # warm-up (compilation, caches)
    done, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        step(chunk)
        done += chunk
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return Rate(done / elapsed, done / max(time.process_time() - cpu_start, 1e-9))


def engine_rate(
    cls: type[EngineBase],
    task: BitFlipTask,
    width: int,
    runs: int,
    cbp: bool,
    seconds: float,
    one_thread=False,
) -> Rate:
    """Aggregate sample-steps/s of ``runs`` runs (SGD, or SGD + CBP from step 0), float32; ``one_thread``
    runs the fused engine on one core (its CPU-time rate is then the per-core rate, free of the other
    cores' waiting)."""
    engine = cls(task, width, list(range(runs)), cbp=CBP if cbp else None, switch_step=0 if cbp else None)
    chunk = max(200, min(20_000, 1_000_000 // (runs * width)))
    if not one_thread:
        return timed(engine.advance, chunk, seconds) * runs
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return timed(engine.advance, chunk, seconds) * runs
    finally:
        numba.set_num_threads(before)


def autograd_rate(task: BitFlipTask, cbp: bool, seconds: float) -> Rate:
    learner = ReferenceLearner(
        task, 0, width=5, cbp=CBP if cbp else None, switch_step=0 if cbp else None, dtype=torch.float32
    )
    torch.set_num_threads(1)
    return timed(lambda steps: learner.run(steps), 200, seconds)


def probe_seconds(task: BitFlipTask, engine: EngineBase) -> float:
    """Median seconds of one probe-metric evaluation of all runs (per-run batches of PROBE_SIZE inputs)."""
    probe = run_probe_inputs(engine.seeds, task.num_bits, PROBE_SIZE)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        feature_metrics(engine.hidden_features(probe))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def row(name: str, rate: Rate, peers: dict[str, Rate], flops: float) -> str:
    """Wall rate, rate per CPU-second, share of the FLOP limit, wall ratio to each peer."""
    ratios = "  ".join(f"{rate.wall / value.wall:8.1f}x {label}" for label, value in peers.items())
    share = 100 * rate.wall * flops / FP32_FLOP_LIMIT
    return f"  {name:<30}{rate.wall:>14,.0f}/s {rate.cpu:>14,.0f}/cpu-s {share:6.2f}% of limit {ratios}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurements (noisier)")
    args = parse_args(parser)
    seconds = 0.4 if args.quick else 1.5
    task = BitFlipTask()
    reason = fused_unavailable_reason("relu")
    if reason is not None:
        print(
            f"fused engine unavailable ({reason}); only the numpy engine and the autograd loop are measured"
        )
        fused_cls: type[EngineBase] | None = None
    else:
        from experiments.bitflip.fused import FusedBitFlipEngine

        fused_cls = FusedBitFlipEngine
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; float32; ReLU; m = 20, f = 15")

    print("\nOne run, width 5 (sample-steps per wall second and per CPU-second; wall ratio to each peer)")
    for cbp in (False, True):
        label = "SGD+CBP" if cbp else "SGD"
        autograd = autograd_rate(task, cbp, seconds)
        numpy_one = engine_rate(BitFlipEngine, task, 5, 1, cbp, seconds)
        flops = flops_per_step(task, 5, cbp)
        print(row(f"autograd loop, {label}", autograd, {}, flops))
        print(row(f"numpy engine, {label}", numpy_one, {"autograd": autograd}, flops))
        if not cbp:
            one_run = {"autograd": autograd, "numpy": numpy_one}
        if fused_cls is not None:
            fused_one = engine_rate(fused_cls, task, 5, 1, cbp, seconds)
            one_run.setdefault("fused", fused_one)
            flag = "" if cbp else ("  goal 5M: " + ("ok" if fused_one.wall >= GOAL_ONE_RUN else "BELOW"))
            peers = {"autograd": autograd, "numpy": numpy_one}
            print(row(f"fused engine, {label}", fused_one, peers, flops) + flag)

    print("\nGrowth with the number of runs, width 5, SGD")
    for runs in (1, 16, 256, 1024):
        numpy_rate = engine_rate(BitFlipEngine, task, 5, runs, False, seconds)
        print(row(f"numpy, {runs} run(s)", numpy_rate, {}, flops_per_step(task, 5, False)))
        if fused_cls is not None:
            fused_rate = engine_rate(fused_cls, task, 5, runs, False, seconds)
            print(
                row(
                    f"fused, {runs} run(s)", fused_rate, {"numpy": numpy_rate}, flops_per_step(task, 5, False)
                )
            )
    if fused_cls is not None:
        core = engine_rate(fused_cls, task, 5, 1024, False, seconds, one_thread=True).cpu
        cores = os.cpu_count() or 1
        idle = core * cores
        many_runs_idle = idle
        print(
            f"  fused, 1024 runs, one core: {core:,.0f}/cpu-s -> {idle:,.0f}/s on {cores} idle cores "
            f"(estimate); goal 20M: {'ok' if idle >= GOAL_MANY_RUNS else 'BELOW'} "
            f"(measured here: {'ok' if fused_rate.wall >= GOAL_MANY_RUNS else 'BELOW'})"
        )
    if fused_cls is not None:
        fused_cbp = engine_rate(fused_cls, task, 5, 1024, True, seconds)
        numpy_cbp = engine_rate(BitFlipEngine, task, 5, 1024, True, seconds)
        print(row("numpy, 1024 runs, SGD+CBP", numpy_cbp, {}, flops_per_step(task, 5, True)))
        print(
            row("fused, 1024 runs, SGD+CBP", fused_cbp, {"numpy": numpy_cbp}, flops_per_step(task, 5, True))
        )

    print("\nData generation vs learning (sample-steps/s)")
    streams = BitFlipStreams(task, list(range(GRID_SEEDS)), np.float32)
    dense = timed(lambda steps: streams.next_chunk(steps), 1000, seconds) * GRID_SEEDS
    print(f"  {'numpy engine data (dense chunks, 70 runs)':<44}{dense.wall:>14,.0f}/s")
    if fused_cls is not None:
        from experiments.bitflip.pcg64 import pcg64_state, raw_draws

        words = np.stack([pcg64_state(np.random.default_rng(s)) for s in range(1024)])
        draws = timed(lambda steps: raw_draws(words, steps), 1000, seconds) * 1024
        print(
            f"  {'fused engine data (compiled PCG64, 1 thread)':<44}{draws.wall:>14,.0f}/s  "
            f"(the fused loop draws one value per sample-step)"
        )

    print(
        f"\nFigure B.2 grid: widths {GRID_WIDTHS} x {GRID_SEEDS} seeds x {GRID_SAMPLES:,} samples "
        f"(SGD to {GRID_SWITCH:,}, then CBP), probes every {GRID_BIN:,} steps"
    )
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    probes = 0.0
    engines: list[tuple[str, type[EngineBase]]] = [("numpy", BitFlipEngine)]
    if fused_cls is not None:
        engines.append(("fused", fused_cls))
    for width in GRID_WIDTHS:
        parts = []
        for name, cls in engines:
            one_thread = name == "fused"  # per-core rates (CPU time), scaled to the cores below
            sgd = engine_rate(cls, task, width, GRID_SEEDS, False, seconds, one_thread=one_thread)
            cbp = engine_rate(cls, task, width, GRID_SEEDS, True, seconds, one_thread=one_thread)
            probe = probe_seconds(task, cls(task, width, list(range(GRID_SEEDS)))) * GRID_SAMPLES / GRID_BIN
            probes += probe if name == "numpy" else 0.0
            sgd_work, cbp_work = GRID_SWITCH * GRID_SEEDS, (GRID_SAMPLES - GRID_SWITCH) * GRID_SEEDS
            wall[name] = wall.get(name, 0.0) + sgd_work / sgd.wall + cbp_work / cbp.wall + probe
            cpu[name] = cpu.get(name, 0.0) + sgd_work / sgd.cpu + cbp_work / cbp.cpu + probe
            share = 100 * sgd.cpu * flops_per_step(task, width, False) / (FP32_FLOP_LIMIT / 2)  # of one core
            parts.append(
                f"{name} SGD {sgd.cpu / 1e6:6.2f}M/cpu-s ({share:4.1f}%) CBP {cbp.cpu / 1e6:6.2f}M/cpu-s"
            )
        print(f"  width {width:>3}: " + "  |  ".join(parts))
    cores = os.cpu_count() or 1
    print(f"  probe metrics (the same for every engine): {probes / 60:4.1f} min of the totals below")
    print(
        f"  numpy engine (one core): {wall['numpy'] / 60:5.1f} min wall here, "
        f"{cpu['numpy'] / 60:5.1f} min of CPU"
    )
    if "fused" in wall:
        idle = cpu["fused"] / cores / 60
        print(
            f"  fused engine: {cpu['fused'] / 60:5.1f} min on one core -> {idle:4.1f} min on "
            f"{cores} idle cores "
            f"(estimate); {cpu['numpy'] / cpu['fused']:.1f}x the numpy engine per core; "
            f"goal {GOAL_GRID_MINUTES:.0f} min: {'ok' if idle <= GOAL_GRID_MINUTES else 'BELOW'}"
        )
    emit(
        headline_figures(
            task,
            one_run,
            numpy_rate,
            fused_rate if fused_cls is not None else None,
            many_runs_idle if fused_cls is not None else None,
            cpu,
            cores,
        ),
        args.json,
    )


def headline_figures(
    task: BitFlipTask,
    one_run: dict[str, Rate],
    numpy_many: Rate,
    fused_many: Rate | None,
    fused_many_idle: float | None,
    grid_cpu: dict[str, float],
    cores: int,
) -> list[Figure]:
    """The goals' figures in M sample-steps/s and grid minutes; without the fused engine the numpy engine's
    figures stand against the goals (issue 12, goal 4)."""
    flops = flops_per_step(task, 5, False)
    engine = "fused" if "fused" in one_run else "numpy"
    one = one_run[engine]
    peer_one = (
        ("numpy engine", one_run["numpy"]) if engine == "fused" else ("autograd loop", one_run["autograd"])
    )
    many = fused_many if fused_many is not None else numpy_many
    figures = [
        Figure(
            f"bit flipping, {engine} engine, 1 run × width 5, SGD",
            one.wall / 1e6,
            "M/s",
            peer_one[0],
            peer_one[1].wall / 1e6,
            one.wall * flops / FP32_FLOP_LIMIT,
            f"value ≥ {GOAL_ONE_RUN / 1e6:g}",
        ),
        Figure(
            f"bit flipping, {engine} engine, 1,024 runs × width 5, SGD",
            many.wall / 1e6,
            "M/s",
            "numpy engine, same runs",
            numpy_many.wall / 1e6,
            many.wall * flops / FP32_FLOP_LIMIT,
            f"value ≥ {GOAL_MANY_RUNS / 1e6:g}",
        ),
    ]
    if fused_many_idle is not None:
        figures.append(
            Figure(
                f"bit flipping, fused engine, 1,024 runs × width 5, SGD, idle-machine estimate "
                f"(one-core CPU rate × {cores} cores)",
                fused_many_idle / 1e6,
                "M/s",
                "numpy engine, same runs",
                numpy_many.wall / 1e6,
                fused_many_idle * flops / FP32_FLOP_LIMIT,
                f"value ≥ {GOAL_MANY_RUNS / 1e6:g}",
            )
        )
    where = f"estimate on {cores} idle cores" if engine == "fused" else "one core"
    grid = grid_cpu[engine] / (cores if engine == "fused" else 1) / 60
    figures.append(
        Figure(
            f"Figure B.2 grid, {engine} engine ({where})",
            grid,
            "min",
            "numpy engine, one core",
            grid_cpu["numpy"] / 60,
            None,
            f"value ≤ {GOAL_GRID_MINUTES:g}",
        )
    )
    return figures


if __name__ == "__main__":
    main()

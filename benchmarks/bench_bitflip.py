"""Throughput of the vectorized bit-flipping engine vs a straightforward per-sample autograd loop.

Claim (docs/bitflip.md): on a 2-core CPU the engine runs ≥ 20,000 samples/s for a single run,
≥ 1,000,000 sample-steps/s in aggregate for 256 runs of width 5 and ≥ 3,000,000 for 1,024 runs; the
whole Figure B.2 grid (widths 5/10/50/100 × 70 seeds × 5,000,000 samples, SGD then CBP) takes well under
an hour. Baseline: :class:`experiments.bitflip.learner.ReferenceLearner` (nn.Linear + autograd +
torch.optim.SGD, one sample at a time), measured in the same process.

    python benchmarks/bench_bitflip.py            # ~1-2 minutes
    python benchmarks/bench_bitflip.py --quick    # fewer steps, noisier
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from experiments.bitflip.engine import BitFlipEngine
from experiments.bitflip.learner import CBPSettings, ReferenceLearner
from experiments.bitflip.probe import feature_metrics, probe_inputs
from experiments.bitflip.task import BitFlipTask

GRID_WIDTHS = (5, 10, 50, 100)
GRID_SEEDS = 70
GRID_SAMPLES = 5_000_000
GRID_SWITCH = 2_500_000
GRID_BIN = 20_000  # the paper preset's bin: one probe-metric evaluation per bin
PROBE_SIZE = 1000
WARMUP_STEPS = 500


def engine_rate(
    task: BitFlipTask, width: int, runs: int, steps: int, cbp: bool, dtype: str = "float32"
) -> float:
    """Aggregate sample-steps per second of ``runs`` runs (SGD, or SGD+CBP from the start)."""
    settings = CBPSettings(utility="adaptable_contribution") if cbp else None
    engine = BitFlipEngine(
        task, width, list(range(runs)), cbp=settings, switch_step=0 if cbp else None, dtype=dtype
    )
    engine.advance(WARMUP_STEPS)
    start = time.perf_counter()
    engine.advance(steps)
    return steps * runs / (time.perf_counter() - start)


def reference_rate(task: BitFlipTask, steps: int, cbp: bool) -> float:
    settings = CBPSettings(utility="adaptable_contribution") if cbp else None
    learner = ReferenceLearner(
        task, 0, width=5, cbp=settings, switch_step=0 if cbp else None, dtype=torch.float32
    )
    learner.run(WARMUP_STEPS // 5)
    start = time.perf_counter()
    learner.run(steps)
    return steps / (time.perf_counter() - start)


def probe_seconds(task: BitFlipTask, width: int, runs: int, repeats: int = 5) -> float:
    """Median seconds of one probe-metric evaluation (features + effective rank, duplicates, dead units)."""
    engine = BitFlipEngine(task, width, list(range(runs)))
    probe = probe_inputs(task.num_bits, PROBE_SIZE, np.random.default_rng(0))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        feature_metrics(engine.hidden_features(probe))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps per measurement")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    task = BitFlipTask()

    base_sgd = reference_rate(task, int(2000 * scale), cbp=False)
    base_cbp = reference_rate(task, int(2000 * scale), cbp=True)
    print(
        f"baseline per-sample autograd loop (width 5): SGD {base_sgd:,.0f} samples/s, SGD+CBP {base_cbp:,.0f}"
    )
    print(f"{'setting':<34}{'samples/s':>14}{'target':>12}{'vs baseline':>13}")
    checks = [
        ("1 run, width 5, SGD", 1, 5, False, 20_000, 40_000),
        ("1 run, width 5, SGD+CBP", 1, 5, True, 20_000, 40_000),
        ("256 runs, width 5, SGD", 256, 5, False, 1_000_000, 4_000),
        ("256 runs, width 5, SGD+CBP", 256, 5, True, 1_000_000, 4_000),
        ("1024 runs, width 5, SGD", 1024, 5, False, 3_000_000, 2_000),
        ("1024 runs, width 5, SGD+CBP", 1024, 5, True, 3_000_000, 2_000),
    ]
    for name, runs, width, cbp, target, steps in checks:
        rate = engine_rate(task, width, runs, int(steps * scale), cbp)
        baseline = base_cbp if cbp else base_sgd
        flag = "ok" if rate >= target else "BELOW"
        print(f"{name:<34}{rate:>14,.0f}{target:>12,}{rate / baseline:>12.0f}x  {flag}")

    print(
        f"\nFigure B.2 grid: widths {GRID_WIDTHS} x {GRID_SEEDS} seeds x {GRID_SAMPLES:,} samples "
        f"(SGD to {GRID_SWITCH:,}, then CBP), float32, one process"
    )
    total = 0.0
    for width in GRID_WIDTHS:
        steps = int(3000 * scale)
        sgd = engine_rate(task, width, GRID_SEEDS, steps, cbp=False)
        cbp = engine_rate(task, width, GRID_SEEDS, steps, cbp=True)
        probes = probe_seconds(task, width, GRID_SEEDS) * GRID_SAMPLES / GRID_BIN
        seconds = GRID_SWITCH * GRID_SEEDS / sgd + (GRID_SAMPLES - GRID_SWITCH) * GRID_SEEDS / cbp + probes
        total += seconds
        print(
            f"  width {width:>3}: SGD {sgd:>11,.0f}/s  CBP {cbp:>11,.0f}/s  "
            f"probes {probes:5.0f} s  -> {seconds / 60:6.1f} min"
        )
    baseline_hours = len(GRID_WIDTHS) * GRID_SEEDS * GRID_SAMPLES / base_sgd / 3600
    print(
        f"  whole grid: {total / 60:.1f} min (per-sample autograd loop at width 5: {baseline_hours:,.0f} h; "
        f"ratio {baseline_hours * 3600 / total:,.0f}x)"
    )


if __name__ == "__main__":
    main()

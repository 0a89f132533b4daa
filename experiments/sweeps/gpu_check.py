"""``python -m experiments gpu-check``: the first command to run on a GPU machine.

For each paper preset it times a few hundred training steps of the real step function at paper size —
cloning: clone (factor 2) and base trained side by side on CIFAR-10-shaped batches with augmentation;
continual: Adam with the masked loss on Tiny-ImageNet-shaped batches, plus the metric suite every
``log_interval`` steps; bitflip: the paper preset's engine (``engine=auto``: the fused numba engine, on the
CPU) with the paper's seeds, SGD and CBP phases — on CUDA
with bfloat16 autocast and batches from pinned host memory, and prints steps/s, the peak GPU memory and
the estimated wall time of every figure sweep at paper scale (:mod:`experiments.sweeps.figures`): each
point's steps (:data:`experiments.studies.registry.STEP_UNITS`) over the measured rate of its study and
architecture (bitflip: width), summed in GPU-hours and divided over ``--gpus`` (one run per GPU).

The batches are random tensors of the datasets' shapes (the data need not be on the machine); the
estimate leaves out the cloning metric evaluations (every 5 epochs) and continual's task-end held-out
evaluation, both small next to training. ``--device cpu`` is its CPU form (no autocast, no pinning), which
the test suite runs with tiny ``--steps`` and ``--batch-size``; its numbers are then not paper-scale.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from experiments.cloning import expand_with_plan
from experiments.config import ConfigError, resolve_config, resolve_device
from experiments.data import DATASET_SHAPES, normalize, random_crop_flip
from experiments.models import build
from experiments.optim import make_optimizer
from experiments.precision import Precision
from experiments.studies import bitflip, cloning
from experiments.studies.cloning import Side
from experiments.studies.cloning import train_step as cloning_train_step
from experiments.studies.continual import resolve_continual_config
from experiments.studies.continual.loop import train_step as continual_train_step
from experiments.studies.continual.model import model_options as continual_model_options
from experiments.studies.continual.suite import metric_suite
from experiments.studies.registry import get_study
from experiments.sweeps.figures import FIGURE_SWEEPS
from experiments.sweeps.grid import SweepError, expand

ARCHS = ("mlp", "cnn", "resnet", "vit")
WIDTHS = (5, 10, 50, 100)
DEFAULT_STEPS, DEFAULT_WARMUP = 200, 20
BITFLIP_STEPS_PER_CHECK_STEP = 100
"""The bit-flipping engine does one sample per step in microseconds: it runs this many samples per step."""
AUGMENT_PADDING = 4
SECONDS_PER_HOUR = 3600.0


@dataclass
class Measurement:
    study: str
    case: str
    batch: int
    steps_per_s: float
    """Steps per second in the study's step unit (cloning batches, continual optimizer steps with the
    metric suite amortised, bitflip online updates summed over the seeds)."""
    peak_memory_mib: float | None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _timed(step: Any, steps: int, warmup: int, device: str) -> float:
    """Seconds per call of ``step`` over ``steps`` calls after ``warmup`` calls (CUDA synchronised)."""
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - start) / max(1, steps)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _reset_memory(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_memory(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None


def _host_batch(
    shape: tuple[int, int, int], classes: int, batch: int, pin: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch, *shape), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, classes, (batch,), generator=g)
    return (images.pin_memory(), labels.pin_memory()) if pin else (images, labels)


def _prep(images: torch.Tensor, device: str) -> torch.Tensor:
    x = images.to(device, non_blocking=True).float() / 255.0
    return normalize(
        x, torch.full((x.shape[1],), 0.5, device=device), torch.full((x.shape[1],), 0.25, device=device)
    )


def measure_cloning(arch: str, device: str, steps: int, warmup: int, batch: int | None) -> Measurement:
    cfg = resolve_config(cloning.CloningConfig, "paper", [f"arch={arch}", "device=cpu"])
    shape, classes, _ = DATASET_SHAPES[cfg.dataset]
    batch = batch or cfg.batch_size
    precision = Precision.resolve("bf16" if device.startswith("cuda") else "off", device)
    _reset_memory(device)
    base = build(arch, shape, classes, **cloning.model_options(cfg, shape)).to(device)
    clone, _ = expand_with_plan(base, cfg.clone_factor)
    sides = [
        Side("clone", clone, make_optimizer("sgd", clone.parameters(), lr=cfg.lr)),
        Side("base", base, make_optimizer("sgd", base.parameters(), lr=cfg.lr)),
    ]
    images, labels = _host_batch(shape, classes, batch, device.startswith("cuda"))
    generator = (
        torch.Generator(device=device).manual_seed(0) if device.startswith("cuda") else torch.Generator()
    )

    def step() -> None:
        x = random_crop_flip(_prep(images, device), AUGMENT_PADDING, True, generator)
        y = labels.to(device, non_blocking=True)
        for side in sides:
            cloning_train_step(side, x, y, precision, None)

    seconds = _timed(step, steps, warmup, device)
    return Measurement("cloning", arch, batch, 1.0 / seconds, _peak_memory(device))


def measure_continual(arch: str, device: str, steps: int, warmup: int, batch: int | None) -> Measurement:
    cfg = resolve_continual_config("paper", [f"arch={arch}", "device=cpu"])
    shape, classes, _ = DATASET_SHAPES[cfg.dataset]
    batch = batch or cfg.batch_size
    amp = torch.bfloat16 if device.startswith("cuda") else None
    _reset_memory(device)
    model = build(arch, shape, classes, **continual_model_options(cfg, shape)).to(device)
    assert cfg.lr is not None
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    images, labels = _host_batch(shape, cfg.classes_per_task, batch, device.startswith("cuda"))
    task = torch.arange(cfg.classes_per_task, device=device)
    metric_images, metric_labels = _host_batch(
        shape, classes, min(cfg.metric_batch_size, max(batch, 8)), False
    )
    metric_x, metric_y = _prep(metric_images, device), metric_labels.to(device)

    def step() -> None:
        x, y = _prep(images, device), labels.to(device, non_blocking=True)
        continual_train_step(model, optimizer, x, y, task, amp, None)

    train = _timed(step, steps, warmup, device)
    suite = _timed(
        lambda: metric_suite(model, metric_x, metric_y, 0), max(1, steps // cfg.log_interval), 1, device
    )
    per_step = train + suite / cfg.log_interval
    return Measurement("continual", arch, batch, 1.0 / per_step, _peak_memory(device))


def measure_bitflip(width: int, steps: int, warmup: int) -> Measurement:
    """The paper preset's engine (``engine=auto``: fused, on the CPU whatever ``--device``): the harmonic
    mean of the SGD and the CBP phase's rate (the paper spends half its samples in each)."""
    rates = []
    for phase in ([], ["switch_step=0"]):  # SGD (the paper's first half), then SGD + CBP
        cfg = resolve_config(bitflip.BitFlipConfig, "paper", [f"width={width}", *phase])
        engine = bitflip.make_engines(cfg)[width]
        seconds = _timed(
            lambda engine=engine: engine.advance(BITFLIP_STEPS_PER_CHECK_STEP), steps, warmup, "cpu"
        )
        rates.append(BITFLIP_STEPS_PER_CHECK_STEP * len(cfg.run_seeds()) / seconds)
    return Measurement("bitflip", str(width), len(cfg.run_seeds()), 2.0 / sum(1.0 / r for r in rates), None)


def point_case(study: str, config: Any) -> str:
    return str(config.width[0]) if study == "bitflip" else str(config.arch)


def estimate_sweeps(measured: dict[tuple[str, str], Measurement], gpus: int) -> list[dict[str, Any]]:
    """Per figure sweep at paper scale: points, steps, GPU-hours (one run per GPU) and wall hours on
    ``gpus``."""
    rows = []
    for figure in FIGURE_SWEEPS:
        _, grid = figure.grid("paper")
        points = expand(
            get_study(figure.study), figure.scales["paper"].study_preset, grid, figure.fixed("paper")
        )
        seconds, unmeasured = 0.0, set()
        for point in points:
            key = (figure.study, point_case(figure.study, point.config))
            if key in measured:
                seconds += point.steps / measured[key].steps_per_s
            else:
                unmeasured.add(key[1])
        hours = seconds / SECONDS_PER_HOUR
        rows.append(
            {
                "name": figure.name,
                "figures": list(figure.figures),
                "points": len(points),
                "steps": sum(p.steps for p in points),
                "device_hours": None if unmeasured else hours,
                "wall_hours": None if unmeasured else hours / gpus if figure.study != "bitflip" else hours,
                "unmeasured": sorted(unmeasured),
            }
        )
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for the CPU form")
    parser.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help=f"timed steps per case (default {DEFAULT_STEPS})"
    )
    parser.add_argument(
        "--warmup", type=int, default=DEFAULT_WARMUP, help=f"untimed steps first (default {DEFAULT_WARMUP})"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="instead of the presets' (then not paper-scale)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="STUDY:CASE",
        help="cases to time, e.g. cloning:resnet continual:vit bitflip:100 (default: all)",
    )
    parser.add_argument(
        "--gpus", type=int, default=1, help="GPUs to divide each sweep's GPU-hours over (default 1)"
    )
    parser.add_argument(
        "--json", default=None, metavar="PATH", help="also write the results as JSON (a new file)"
    )


def cases(only: list[str] | None) -> list[tuple[str, str]]:
    every = (
        [("cloning", a) for a in ARCHS]
        + [("continual", a) for a in ARCHS]
        + [("bitflip", str(w)) for w in WIDTHS]
    )
    if only is None:
        return every
    chosen = []
    for text in only:
        study, _, case = text.partition(":")
        match = [c for c in every if c[0] == study and (not case or c[1] == case)]
        if not match:
            raise SweepError(
                f"--only {text!r} names no case; cases: {', '.join(f'{s}:{c}' for s, c in every)}"
            )
        chosen += [c for c in match if c not in chosen]
    return chosen


def main(args: argparse.Namespace) -> int:
    for name in ("steps", "gpus"):
        if getattr(args, name) < 1:
            raise SweepError(f"--{name}={getattr(args, name)} must be at least 1")
    if args.warmup < 0 or (args.batch_size is not None and args.batch_size < 1):
        raise SweepError("--warmup must be ≥ 0 and --batch-size ≥ 1")
    device = resolve_device(args.device)
    if args.json and Path(args.json).exists():
        raise FileExistsError(f"--json {args.json} already exists; results are never overwritten")
    chosen = cases(args.only)
    where = (
        torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU (no autocast, no pinning)"
    )
    scale = "paper-scale batches" if args.batch_size is None else f"batch {args.batch_size}: NOT paper-scale"
    print(
        f"gpu-check on {device} ({where}); {args.steps} timed steps after {args.warmup}; {scale}", flush=True
    )
    print(f"{'study':10} {'case':7} {'batch':>5} {'steps/s':>10} {'peak GPU MiB':>13}")
    measured: dict[tuple[str, str], Measurement] = {}
    for study, case in chosen:
        try:
            if study == "cloning":
                m = measure_cloning(case, device, args.steps, args.warmup, args.batch_size)
            elif study == "continual":
                m = measure_continual(case, device, args.steps, args.warmup, args.batch_size)
            else:
                m = measure_bitflip(int(case), args.steps, args.warmup)
        except ConfigError:
            raise
        except RuntimeError as err:  # e.g. CUDA out of memory: report the case, go on
            print(f"{study:10} {case:7} failed: {' '.join(str(err).split())[:200]}", flush=True)
            continue
        measured[(study, case)] = m
        memory = "-" if m.peak_memory_mib is None else f"{m.peak_memory_mib:,.0f}"
        print(f"{study:10} {case:7} {m.batch:>5} {m.steps_per_s:>10,.1f} {memory:>13}", flush=True)
    rows = estimate_sweeps(measured, args.gpus)
    print(
        f"\nestimated cost of each figure sweep at paper scale ({args.gpus} GPU(s); "
        "bitflip runs on CPU cores):"
    )
    print(f"{'figure sweep':16} {'figures':28} {'points':>6} {'device-hours':>13} {'wall hours':>11}")
    for row in rows:
        if row["unmeasured"]:
            hours = f"n/a (not measured: {', '.join(row['unmeasured'])})"
            print(f"{row['name']:16} {', '.join(row['figures']):28} {row['points']:>6}  {hours}")
        else:
            print(
                f"{row['name']:16} {', '.join(row['figures']):28} {row['points']:>6} "
                f"{row['device_hours']:>13,.1f} {row['wall_hours']:>11,.1f}"
            )
    if args.json:
        body = {
            "device": device,
            "device_name": where,
            "steps": args.steps,
            "batch_size": args.batch_size,
            "measurements": [m.to_dict() for m in measured.values()],
            "sweeps": rows,
        }
        Path(args.json).write_text(json.dumps(body, indent=2, allow_nan=False) + "\n")
    return 0 if measured else 1

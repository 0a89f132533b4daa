"""One continual run: check everything, then train every seed into one new run directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from experiments.checkpoint import Checkpointer, load_checkpoint
from experiments.config import ConfigError, config_from_dict
from experiments.data import ImageDataset, resolve_pin_memory
from experiments.models import make_spec
from experiments.precision import resolve_amp
from experiments.runs import (
    MetricsLog,
    ProgressBar,
    check_out_root,
    check_resumable,
    open_run,
    torch_threads,
    tracked_run,
)
from experiments.studies.continual.config import STUDY, ContinualConfig, with_arch_defaults
from experiments.studies.continual.figures import FIGURE_NAMES, FIGURES_DIR, plot_run
from experiments.studies.continual.loop import PIN_MEMORY, SeedCheckpoints, run_seed
from experiments.studies.continual.model import model_options
from experiments.studies.continual.summary import SUMMARY_FILE, summarize
from experiments.studies.continual.tasks import load_data, task_classes


def check_against_data(cfg: ContinualConfig, train: ImageDataset) -> None:
    """The checks that need the data (task split, model sizes, batch sizes that the data would silently
    cut); raises :class:`ConfigError`."""
    try:
        task_classes(train.num_classes, cfg.tasks, cfg.classes_per_task, 0)
        make_spec(cfg.arch, train.input_shape, train.num_classes, **model_options(cfg, train.input_shape))
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None
    if cfg.metric_batch_size > len(train):
        raise ConfigError(
            f"metric_batch_size={cfg.metric_batch_size} exceeds the {len(train)} training images; "
            f"give at most {len(train)}"
        )
    per_class = torch.bincount(train.labels, minlength=train.num_classes)
    for seed in cfg.run_seeds():
        for task, classes in enumerate(
            task_classes(train.num_classes, cfg.tasks, cfg.classes_per_task, seed)
        ):
            images = int(per_class[classes].sum())
            if cfg.batch_size > images:
                raise ConfigError(
                    f"batch_size={cfg.batch_size} exceeds the {images} training images of task {task} "
                    f"(seed {seed}): "
                    f"every batch would hold them all; give at most {images}"
                )


def run(cfg: ContinualConfig) -> Path:
    """Run every seed of ``cfg`` into one new run directory; returns it (config.json, status.json,
    metrics.jsonl, summary.json, figures/). ``out``, the data and every setting are checked before the
    directory is created, so a mistake (or a missing dataset: DatasetNotFound) leaves nothing behind.
    A diverging seed stops the run: :class:`experiments.runs.Diverged`, status ``diverged``."""
    cfg = with_arch_defaults(cfg)
    check_out_root(cfg.out, STUDY)
    train, test = load_data(cfg)
    check_against_data(cfg, train)
    resolved = {
        "amp": str(resolve_amp(cfg.amp, cfg.device)),
        "seeds": cfg.run_seeds(),
        "pin_memory": resolve_pin_memory(PIN_MEMORY[cfg.pin_memory], cfg.device),
        "input_shape": list(train.input_shape),
        "num_classes": train.num_classes,
        "train_samples": len(train),
        "test_samples": len(test),
    }
    # threads: tiny CPU models are ~10× faster with one thread on a loaded 2-core machine (measured)
    with torch_threads(cfg.threads), open_run(cfg.out, STUDY, cfg, extra={"resolved": resolved}) as run_dir:
        train_seeds(cfg, train, test, run_dir, None)
    return run_dir


def resume(run_dir: str | Path) -> Path:
    """Continue the killed run ``run_dir`` from its checkpoint (from its start when it has none), in the
    same directory and at the torch thread count it ran with; returns the directory."""
    run_dir = Path(run_dir)
    body = check_resumable(run_dir)
    cfg = config_from_dict(ContinualConfig, body["config"])
    cfg.check_machine()
    checkpoint = load_checkpoint(run_dir, STUDY, body["config"])
    train, test = load_data(cfg)
    at = "the start (no checkpoint)"
    if checkpoint is not None:
        at = (
            f"seed {cfg.run_seeds()[checkpoint['state']['seed_index']]}"
            if checkpoint["state"]["seed_state"] is None
            else f"step {checkpoint['step']} of seed {cfg.run_seeds()[checkpoint['state']['seed_index']]}"
        )
    with torch_threads(int(body["environment"]["torch_threads"])), tracked_run(run_dir, f"resumed from {at}"):
        train_seeds(cfg, train, test, run_dir, checkpoint)
    return run_dir


def train_seeds(
    cfg: ContinualConfig,
    train: ImageDataset,
    test: ImageDataset,
    run_dir: Path,
    checkpoint: dict[str, Any] | None,
) -> None:
    """Every seed of ``cfg`` into ``run_dir`` (from ``checkpoint`` on when given), then summary and figures.

    A checkpoint's ``state`` is ``seed_index`` (the seed being trained, or the next one when
    ``seed_state`` is None: taken after a seed ended), ``wall_s`` (the finished seeds' wall times) and
    ``seed_state`` (:func:`experiments.studies.continual.loop.capture_seed_state`)."""
    seeds = cfg.run_seeds()
    saver = Checkpointer(
        run_dir, STUDY, json.loads(json.dumps(cfg.to_dict(), allow_nan=False)), cfg.checkpoint_every
    )
    first, wall_s, lines = 0, {}, 0
    if checkpoint is not None:
        first, wall_s, lines = (
            checkpoint["state"]["seed_index"],
            dict(checkpoint["state"]["wall_s"]),
            checkpoint["metric_lines"],
        )
    with (
        MetricsLog(run_dir, keep_lines=lines) as log,
        ProgressBar(cfg.total_steps(), desc=STUDY, enabled=cfg.progress) as bar,
    ):
        bar.count = first * cfg.tasks * cfg.steps_per_task
        for index in range(first, len(seeds)):
            seed = seeds[index]

            def save(step: int, metric_lines: int, seed_state: dict[str, Any], index: int = index) -> None:
                saver.save(
                    step, metric_lines, {"seed_index": index, "wall_s": wall_s, "seed_state": seed_state}
                )

            resume_here = (
                checkpoint
                if checkpoint is not None and index == first and checkpoint["state"]["seed_state"]
                else None
            )
            wall_s[str(seed)] = run_seed(
                cfg, seed, train, test, log, bar, SeedCheckpoints(saver, save), resume_here
            )
            if saver.every and index + 1 < len(seeds):  # a seed is long: never redo a finished one
                log.sync()
                saver.save(
                    cfg.tasks * cfg.steps_per_task,
                    log.lines,
                    {"seed_index": index + 1, "wall_s": wall_s, "seed_state": None},
                )
    summary = summarize(run_dir)
    summary["wall_s_per_seed"] = wall_s
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    if cfg.figures:
        figures = run_dir / FIGURES_DIR
        drawn = [name for name in FIGURE_NAMES if (figures / name).exists()]
        if not drawn:
            plot_run([run_dir], figures)
        elif len(drawn) < len(FIGURE_NAMES):  # killed while drawing them: never overwrite, say so
            print(
                f"note: {figures} holds only {', '.join(drawn)} (the run was killed while drawing); "
                f"redraw with python -m experiments plot {run_dir}",
                file=sys.stderr,
            )

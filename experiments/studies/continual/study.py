"""One continual run: check everything, then train every seed into one new run directory."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from experiments.config import ConfigError
from experiments.data import ImageDataset, resolve_pin_memory
from experiments.models import make_spec
from experiments.precision import resolve_amp
from experiments.runs import MetricsLog, ProgressBar, check_out_root, open_run, torch_threads
from experiments.studies.continual.config import STUDY, ContinualConfig, with_arch_defaults
from experiments.studies.continual.figures import FIGURES_DIR, plot_run
from experiments.studies.continual.loop import PIN_MEMORY, run_seed
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
            f"metric_batch_size={cfg.metric_batch_size} exceeds the {len(train)} training images; give at most {len(train)}"
        )
    per_class = torch.bincount(train.labels, minlength=train.num_classes)
    for seed in cfg.run_seeds():
        for task, classes in enumerate(task_classes(train.num_classes, cfg.tasks, cfg.classes_per_task, seed)):
            images = int(per_class[classes].sum())
            if cfg.batch_size > images:
                raise ConfigError(
                    f"batch_size={cfg.batch_size} exceeds the {images} training images of task {task} (seed {seed}): "
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
    seeds = cfg.run_seeds()
    wall_s: dict[str, float] = {}
    # threads: tiny CPU models are ~10× faster with one thread on a loaded 2-core machine (measured)
    with torch_threads(cfg.threads), open_run(cfg.out, STUDY, cfg, extra={"resolved": resolved}) as run_dir:
        with (
            MetricsLog(run_dir) as log,
            ProgressBar(len(seeds) * cfg.tasks * cfg.steps_per_task, desc=STUDY, enabled=cfg.progress) as bar,
        ):
            for seed in seeds:
                wall_s[str(seed)] = run_seed(cfg, seed, train, test, log, bar)
        summary = summarize(run_dir)
        summary["wall_s_per_seed"] = wall_s
        (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        if cfg.figures:
            plot_run([run_dir], run_dir / FIGURES_DIR)
    return run_dir

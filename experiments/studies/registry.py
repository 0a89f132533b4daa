"""The studies as sweeps see them: one :class:`Study` per study, with the same interface for all three.

A sweep (:mod:`experiments.sweeps`) needs, of a study: its configuration class and how a configuration is
resolved from a preset and ``key=value`` overrides; the checks that would otherwise need the data (model
sizes, the task split), made from the datasets' known shapes (:data:`experiments.data.DATASET_SHAPES`)
before anything runs; how many steps a configuration trains (to print a sweep's size); how to run one and
resume one; the key that carries a point's seed; and its figure set.

Steps, in each study's own unit of work: cloning — training batches (base and side-by-side epochs ×
batches per epoch); continual — optimizer steps over all seeds; bitflip — online updates, samples ×
widths × seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.config import BaseConfig, ConfigError, resolve_config
from experiments.data import DATASET_SHAPES
from experiments.models import make_spec
from experiments.studies import bitflip, cloning, continual
from experiments.studies.continual.model import model_options as continual_model_options
from experiments.studies.continual.tasks import task_classes
from experiments.studies.figure_files import StudyFigures

STEP_UNITS: dict[str, str] = {
    "cloning": "training batches",
    "continual": "optimizer steps",
    "bitflip": "online updates (samples × widths × seeds)",
}
SYNTHETIC_CLASSES = 10
"""Classes of the cloning study's synthetic task (``make_synthetic``'s default)."""


@dataclass(frozen=True)
class Study:
    """One study's interface for sweeps (module docstring)."""

    name: str
    config_class: type[BaseConfig]
    resolve: Callable[[str, list[str]], BaseConfig]
    precheck: Callable[[Any], None]
    steps: Callable[[Any], int]
    run: Callable[[Any], Path]
    resume: Callable[[Path], Path]
    seed_key: str
    figures: StudyFigures

    @property
    def step_unit(self) -> str:
        return STEP_UNITS[self.name]


def _input(
    dataset: str, synthetic_shape: tuple[int, ...], synthetic_classes: int
) -> tuple[tuple[int, int, int], int, int]:
    if dataset == "synthetic":
        c, h, w = synthetic_shape
        return (c, h, w), synthetic_classes, 0
    return DATASET_SHAPES[dataset]


def _spec_error(build: Callable[[], Any]) -> None:
    try:
        build()
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None


def cloning_train_samples(cfg: cloning.CloningConfig) -> int:
    """The training images a cloning run will use (``train_samples``, else the dataset's split)."""
    if cfg.dataset == "synthetic":
        return cfg.train_samples or cloning.SYNTHETIC_TRAIN_DEFAULT
    full = DATASET_SHAPES[cfg.dataset][2]
    if cfg.train_samples > full:
        raise ConfigError(f"train_samples={cfg.train_samples} exceeds the {full} images of {cfg.dataset}")
    return cfg.train_samples or full


def cloning_precheck(cfg: cloning.CloningConfig) -> None:
    shape, classes, _ = _input(cfg.dataset, cfg.synthetic_shape, SYNTHETIC_CLASSES)
    _spec_error(lambda: make_spec(cfg.arch, shape, classes, **cloning.model_options(cfg, shape)))
    images = cloning_train_samples(cfg)
    for key, size in (("metric_batch", cfg.metric_batch), ("batch_size", cfg.batch_size)):
        if size > images:
            raise ConfigError(f"{key}={size} exceeds the {images} training images; give at most {images}")


def continual_precheck(cfg: continual.ContinualConfig) -> None:
    classes_needed = cfg.tasks * cfg.classes_per_task
    shape, classes, _ = _input(cfg.dataset, cfg.synthetic_shape, classes_needed)
    _spec_error(lambda: task_classes(classes, cfg.tasks, cfg.classes_per_task, 0))
    _spec_error(lambda: make_spec(cfg.arch, shape, classes, **continual_model_options(cfg, shape)))


def bitflip_precheck(cfg: bitflip.BitFlipConfig) -> None:
    _spec_error(lambda: (cfg.task(), cfg.cbp()))


STUDIES: dict[str, Study] = {
    "cloning": Study(
        "cloning",
        cloning.CloningConfig,
        lambda preset, overrides: resolve_config(cloning.CloningConfig, preset, overrides),
        cloning_precheck,
        lambda cfg: cfg.total_steps(cloning_train_samples(cfg)),
        cloning.run,
        cloning.resume,
        "seed",
        cloning.FIGURES,
    ),
    "continual": Study(
        "continual",
        continual.ContinualConfig,
        continual.resolve_continual_config,
        continual_precheck,
        lambda cfg: cfg.total_steps(),
        continual.run,
        continual.resume,
        "seeds",
        continual.FIGURES,
    ),
    "bitflip": Study(
        "bitflip",
        bitflip.BitFlipConfig,
        lambda preset, overrides: resolve_config(bitflip.BitFlipConfig, preset, overrides),
        bitflip_precheck,
        lambda cfg: cfg.total_steps(),
        bitflip.run_study,
        bitflip.resume,
        "seeds",
        bitflip.FIGURES,
    ),
}
"""Every study a sweep can run, by its command name."""


def get_study(name: str) -> Study:
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; studies: {', '.join(STUDIES)}")
    return STUDIES[name]

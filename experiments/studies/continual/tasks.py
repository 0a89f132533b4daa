"""The task sequence of the continual study (Appendix B.1.1): data, class split, per-task batches.

Per seed the classes are a seeded permutation of all classes, split into consecutive disjoint tasks
(:func:`task_classes`). Each task trains on batches of its own training images only, reshuffled at every
pass (:class:`TaskBatches`), and is evaluated on its own held-out images (:func:`task_test_sets`).
"""

from __future__ import annotations

from typing import Any

import torch

from experiments.data import ImageDataset, load_dataset, make_synthetic, shuffle_generator
from experiments.studies.continual.config import ContinualConfig

SYNTHETIC_DATA_SEED = 0
"""The synthetic dataset is one fixed dataset (like a real one); run seeds change class order and model."""
SYNTHETIC_TEST_SEED_OFFSET = 10_000


def load_data(cfg: ContinualConfig) -> tuple[ImageDataset, ImageDataset]:
    """(train, held-out) splits; the synthetic set has tasks × classes_per_task classes."""
    if cfg.dataset == "synthetic":
        classes = cfg.tasks * cfg.classes_per_task
        channels, height, width = cfg.synthetic_shape
        shape = (channels, height, width)
        train = make_synthetic(
            cfg.synthetic_train_per_class * classes,
            classes,
            shape,
            cfg.synthetic_noise,
            seed=SYNTHETIC_DATA_SEED,
        )
        test = make_synthetic(
            cfg.synthetic_test_per_class * classes,
            classes,
            shape,
            cfg.synthetic_noise,
            seed=SYNTHETIC_DATA_SEED,
            sample_seed=SYNTHETIC_DATA_SEED + SYNTHETIC_TEST_SEED_OFFSET,
        )
        return train, test
    return load_dataset(cfg.dataset, cfg.data_dir, True, cfg.download), load_dataset(
        cfg.dataset, cfg.data_dir, False, cfg.download
    )


def task_classes(num_classes: int, tasks: int, classes_per_task: int, seed: int) -> list[list[int]]:
    """The class subsets of the tasks: a permutation of range(num_classes) seeded by ``seed``, cut into
    ``tasks`` consecutive blocks of ``classes_per_task`` (disjoint; covering when the product is
    ``num_classes``)."""
    if tasks * classes_per_task > num_classes:
        raise ValueError(
            f"tasks × classes_per_task = {tasks} × {classes_per_task} exceeds the "
            f"{num_classes} classes of the dataset"
        )
    order = torch.randperm(num_classes, generator=torch.Generator().manual_seed(seed)).tolist()
    return [order[t * classes_per_task : (t + 1) * classes_per_task] for t in range(tasks)]


def task_test_sets(test: ImageDataset, order: list[list[int]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The held-out (images, labels) of each task's classes."""
    out = []
    for classes in order:
        mask = torch.isin(test.labels, torch.tensor(classes))
        out.append((test.images[mask], test.labels[mask]))
    return out


class TaskBatches:
    """The endless stream of one task's training batches from a seeded, shuffling loader: each pass over
    the task's images is a fresh shuffle. The state is explicit: ``passes`` started, ``position``
    (batches drawn in the current pass) and ``pass_start`` (the state of the loader's shuffling generator
    when the current pass began): :meth:`state` / :meth:`restore` rebuild the stream at the same batch."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.passes = 0
        self.position = 0
        self.pass_start: torch.Tensor | None = None
        self._iterator: Any = None

    def state(self) -> dict[str, Any]:
        return {"passes": self.passes, "position": self.position, "pass_start": self.pass_start}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue at ``state``: the shuffling generator is set back to the start of the pass and the
        pass replayed up to ``position`` (starting an iterator draws its base seed from torch's global
        generator: the caller restores that generator afterwards)."""
        self.passes, self.position, self.pass_start = state["passes"], 0, state["pass_start"]
        if self.pass_start is None:
            return
        generator = shuffle_generator(self.loader)
        if generator is not None:
            generator.set_state(self.pass_start)
        self._iterator = iter(self.loader)
        for _ in range(state["position"]):
            next(self._iterator)
            self.position += 1

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (images, labels) batch, starting a new pass when the current one is exhausted."""
        while True:
            if self._iterator is None:
                generator = shuffle_generator(self.loader)
                self.pass_start = None if generator is None else generator.get_state()
                self._iterator = iter(self.loader)
                self.passes += 1
                self.position = 0
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                continue
            self.position += 1
            return batch

"""Checkpoints of a run: everything training changes, saved atomically, so a killed run resumes exactly.

A checkpoint is one file, ``checkpoint.pt`` in the run directory, holding a dict:

* ``format`` (:data:`CHECKPOINT_FORMAT`), ``study`` and ``step`` (the study's own step unit: cloning
  epochs, continual optimizer steps, bit-flipping samples — the ``step`` of ``metrics.jsonl``);
* ``metric_lines``: how many lines of ``metrics.jsonl`` were written (and flushed to disk) when it was
  saved. A resumed run first cuts ``metrics.jsonl`` back to these lines (a line torn by the kill and the
  lines logged after the checkpoint go; they are written again, identically);
* ``rng``: every global random state — python's ``random``, numpy's legacy global generator, torch's
  CPU generator and each CUDA device's (:func:`capture_global_rng` / :func:`restore_global_rng`);
* ``state``: the study's own state (model, optimizer, CBP, gradient scaler, its private generators, the
  data-order position, its loop counters), built by the study.

Atomicity (:func:`save_checkpoint`): the dict is written to a temporary file in the run directory,
flushed and ``fsync``-ed, then renamed over ``checkpoint.pt`` (``os.replace`` is atomic on POSIX), and
the directory entry is synced. Until the rename the previous checkpoint is untouched; a crash during
the save leaves it loadable and at most a stale temporary file (``.checkpoint.pt.*``, ignored on load
and removed by the next save).

Loading uses ``torch.load(weights_only=True)``: a checkpoint holds only tensors, numbers, strings and
containers, never pickled code, so loading one cannot execute anything. Numpy arrays are stored as
tensors (:func:`array_to_tensor`), numpy generator states as their plain dicts.

Resuming reproduces an uninterrupted run exactly on the CPU at the same thread count (tested for every
study). The order of restoration matters: the study rebuilds its objects (which may draw from the global
generators, e.g. a model's default init or a DataLoader iterator's base seed) and loads their states,
and only then are the global generators restored (:func:`restore_global_rng` last).
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from experiments.runs import RunFileError

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
TEMP_PREFIX = f".{CHECKPOINT_FILE}."
NUMPY_LEGACY_KEY = "MT19937"
WALL_CLOCK_KEYS: frozenset[str] = frozenset({"elapsed_s"})
"""Metric keys that hold wall-clock time: the only entries in which a resumed run's metrics may differ
from an uninterrupted run's."""


class CheckpointMismatch(RunFileError):
    """A checkpoint that does not belong to the run it was found in (another study or configuration)."""


def capture_global_rng() -> dict[str, Any]:
    """The states of python's, numpy's (legacy global) and torch's (CPU and every CUDA device) generators."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_global_rng(state: dict[str, Any]) -> None:
    """Set every global generator to ``state`` (from :func:`capture_global_rng`)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        if not torch.cuda.is_available() or torch.cuda.device_count() < len(state["cuda"]):
            raise RunFileError(
                f"the checkpoint holds the random states of {len(state['cuda'])} CUDA device(s), "
                f"which this machine does not have; resume it on a machine like the one it ran on"
            )
        torch.cuda.set_rng_state_all(state["cuda"])


def array_to_tensor(array: np.ndarray) -> torch.Tensor:
    """A numpy array as a tensor that owns a copy (checkpoints store tensors, not pickled arrays)."""
    return torch.from_numpy(np.array(array, copy=True))


def tensor_to_array(tensor: torch.Tensor, like: np.ndarray | None = None) -> np.ndarray:
    """A stored tensor back as a numpy array (of ``like``'s dtype when given)."""
    array = tensor.detach().cpu().numpy().copy()
    return array if like is None else array.astype(like.dtype, copy=False)


def checkpoint_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_FILE


def save_checkpoint(run_dir: str | Path, body: dict[str, Any]) -> Path:
    """Write ``body`` atomically to ``run_dir/checkpoint.pt`` (module docstring); returns the path."""
    path = checkpoint_path(run_dir)
    for stale in path.parent.glob(f"{TEMP_PREFIX}*"):  # left by a save that was killed
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save({"format": CHECKPOINT_FORMAT, **body}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _sync_directory(path.parent)
    return path


def load_checkpoint(run_dir: str | Path, study: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint of ``run_dir`` (None when it has none), checked to belong to ``study`` and to the
    saved ``config``; a damaged or foreign checkpoint is a :class:`RunFileError` naming the file."""
    path = checkpoint_path(run_dir)
    if not path.is_file():
        return None
    try:
        body = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- torch raises several types for a damaged file; none is a bug here
        raise RunFileError(f"{path} cannot be read as a checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(body, dict) or body.get("format") != CHECKPOINT_FORMAT:
        raise RunFileError(f"{path} is not a checkpoint of format {CHECKPOINT_FORMAT}")
    if body.get("study") != study:
        raise CheckpointMismatch(
            f"{path} is a checkpoint of the {body.get('study')!r} study, not of {study!r}"
        )
    if body.get("config") != config:
        raise CheckpointMismatch(
            f"{path} was saved with another configuration than {Path(run_dir) / 'config.json'}"
        )
    return body


def _sync_directory(folder: Path) -> None:
    """fsync the directory so that the rename itself survives a crash (POSIX; a no-op elsewhere)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def module_to_cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict with every tensor copied to the CPU (a checkpoint is device-independent)."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def optimizer_to_cpu_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """An optimizer's state dict with its tensors on the CPU, plus the state torch's dict does not hold:
    noisy SGD's step counter and noise generator (:class:`dag_nets.optimizers.NoisySGD`)."""
    body = _to_cpu(optimizer.state_dict())
    extra: dict[str, Any] = {}
    if hasattr(optimizer, "t"):
        extra["t"] = int(optimizer.t)  # type: ignore[attr-defined]
    generator = getattr(optimizer, "_generator", None)
    if isinstance(generator, torch.Generator):
        extra["generator"] = generator.get_state()
    return {"torch": body, "extra": extra}


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Inverse of :func:`optimizer_to_cpu_state` (torch moves the tensors to the parameters' device)."""
    optimizer.load_state_dict(state["torch"])
    extra = state["extra"]
    if "t" in extra:
        optimizer.t = extra["t"]  # type: ignore[attr-defined]
    if "generator" in extra:
        optimizer._generator.set_state(extra["generator"])  # type: ignore[attr-defined]


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


class Checkpointer:
    """Saves a run's checkpoint every ``every`` steps (0: never), with the metric-line count and the
    global random states; the study supplies its own state. ``config`` is the run's saved ``config.json``
    configuration, which :func:`load_checkpoint` compares on resume."""

    def __init__(self, run_dir: str | Path, study: str, config: dict[str, Any], every: int) -> None:
        self.run_dir, self.study, self.config, self.every = Path(run_dir), study, config, every

    def due(self, step: int, previous: int | None = None) -> bool:
        """Whether a checkpoint is due after advancing from ``previous`` (default ``step − 1``) to ``step``:
        a multiple of ``every`` lies in (previous, step] (for studies that stop only at bin ends)."""
        previous = step - 1 if previous is None else previous
        return self.every > 0 and step > 0 and step // self.every > previous // self.every

    def save(self, step: int, metric_lines: int, state: dict[str, Any]) -> Path:
        """Write the checkpoint after ``step``; the caller has synced ``metric_lines`` lines to disk."""
        return save_checkpoint(
            self.run_dir,
            {
                "study": self.study,
                "config": self.config,
                "step": int(step),
                "metric_lines": int(metric_lines),
                "rng": capture_global_rng(),
                "state": state,
            },
        )


def running_accuracy_state(accuracy: Any) -> dict[str, Any]:
    """The whole state of a :class:`experiments.metrics.RunningAccuracy`."""
    return {
        "correct": int(accuracy.correct),
        "seen": int(accuracy.seen),
        "loss_sum": float(accuracy.loss_sum),
    }


def load_running_accuracy(accuracy: Any, state: dict[str, Any]) -> None:
    accuracy.correct, accuracy.seen, accuracy.loss_sum = state["correct"], state["seen"], state["loss_sum"]

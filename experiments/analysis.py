"""Saved runs for every study's figures and summaries: load, check completeness, group over seeds, series.

:func:`load_run` reads a run directory (``config.json``, ``status.json``, ``metrics.jsonl``; see
:mod:`experiments.runs`) into a :class:`Run`, asking the study (:class:`StudyKind`) whether its records
are all there. :func:`group_runs` groups runs into settings to average over seeds, by these rules,
which every figure and summary over several runs follows:

1. A setting is the saved configuration without its bookkeeping keys (:data:`BOOKKEEPING_KEYS`, keys
   that never change a number: seeds, output folders, progress bars, …) and without the keys that have
   no effect in that configuration (:meth:`BaseConfig.inert_keys`, e.g. other methods' parameters),
   **plus the environment that changes results** (:attr:`StudyKind.environment_keys`; for the torch
   studies :data:`experiments.runs.RESULT_ENVIRONMENT_KEYS`: torch and numpy versions, torch's thread
   count, the default dtype; and the resolved autocast dtype).
   Runs that differ in any of these are never pooled: they form separate groups whose labels name the
   difference, and a note says that the environment differs.
2. Only runs whose records are complete are pooled. An incomplete run (killed, still running,
   diverged, failed) is drawn on its own, labelled with its directory, and a note says what it lacks.
3. A group never holds the same seed twice (:class:`AnalysisError`): repeated seeds would be counted
   as independent samples.
4. A label lists the keys that differ between the groups (``normalization=batch``); when nothing
   differs, the study's default label.

:func:`unit_points` and :func:`pool` turn a group's records into one curve per seed and the mean, the
standard deviation and the number of seeds at every step (:class:`Series`); no step is dropped because
one seed lacks it — the count says how many seeds each point averages.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from experiments.config import BaseConfig, ConfigError, config_from_dict
from experiments.runs import (
    COMPLETE,
    CONFIG_FILE,
    RESULT_ENVIRONMENT_KEYS,
    RUNNING,
    RunFileError,
    read_config_file,
    read_metrics,
    read_status,
)

UNKNOWN_STATE = "unknown"
"""State of a run written before ``status.json`` existed: its completeness comes from its records."""
BOOKKEEPING_KEYS: frozenset[str] = frozenset(
    {
        "seed",
        "seeds",
        "out",
        "progress",
        "figures",
        "plot_window",
        "data_dir",
        "download",
        "pin_memory",
        "num_workers",
        "threads",
        "amp",
        "checkpoint_every",
    }
)
"""Keys that never change a run's numbers. ``threads`` and ``amp`` do, but through what they resolve to,
which is compared instead (``torch_threads`` from the environment, ``amp_dtype`` from ``resolved``)."""
AMP_KEY = "amp_dtype"


class AnalysisError(ValueError):
    """Runs that cannot be combined as asked (another study, a seed counted twice, …)."""


@dataclass(frozen=True)
class StudyKind:
    """What the analysis needs to know of a study: its configuration class, when its records are
    complete, the label of a group when no key differs, its own bookkeeping keys and the entries of
    the saved environment that change its numbers."""

    name: str
    config_class: type[BaseConfig]
    missing: Callable[[Any, list[dict[str, Any]]], str | None]
    """``missing(config, records)``: what the records lack for a finished run, None when complete."""
    default_label: Callable[[dict[str, Any]], str]
    bookkeeping: frozenset[str] = frozenset()
    environment_keys: tuple[str, ...] = RESULT_ENVIRONMENT_KEYS


@dataclass(frozen=True)
class Run:
    """One loaded run directory."""

    path: Path
    kind: StudyKind
    config: Any
    saved: dict[str, Any]
    environment: dict[str, Any]
    resolved: dict[str, Any]
    records: list[dict[str, Any]]
    state: str
    message: str
    torn_last_line: bool
    missing: str | None

    @property
    def complete(self) -> bool:
        """All records a finished run has are there (the run may be pooled with others)."""
        return self.missing is None

    def describe_incomplete(self) -> str:
        """Why the run is not complete, in words (empty for a complete run)."""
        if self.complete:
            return ""
        if self.state == RUNNING:
            head = "status running: killed or still running"
        elif self.state == UNKNOWN_STATE:
            head = "no status.json"
        elif self.state == COMPLETE:
            head = "status.json says complete, but the records are not"
        else:
            head = f"{self.state}" + (f": {self.message}" if self.message else "")
        return f"{head}; {self.missing}"

    def signature(self) -> dict[str, Any]:
        """The environment entries that change results (rule 1 of the module docstring)."""
        out = {key: self.environment.get(key, "unrecorded") for key in self.kind.environment_keys}
        if "amp" in self.resolved:
            out[AMP_KEY] = self.resolved["amp"]
        return out

    def setting(self) -> dict[str, Any]:
        """The configuration keys that define this run's setting (rule 1 of the module docstring)."""
        skip = BOOKKEEPING_KEYS | self.kind.bookkeeping | set(self.config.inert_keys())
        return {k: v for k, v in self.saved.items() if k not in skip}


def load_run(path: str | Path, kind: StudyKind) -> Run:
    """Read ``path`` as a run of ``kind``; a corrupt file is a :class:`RunFileError` naming it."""
    path = Path(path)
    body = read_config_file(path)
    if body.get("config_class") != kind.config_class.__name__:
        raise AnalysisError(
            f"{path} holds a {body.get('config_class') or 'unnamed'} run, "
            f"not a {kind.config_class.__name__} run"
        )
    try:
        config = config_from_dict(kind.config_class, body["config"])
    except ConfigError as err:
        raise RunFileError(f"{path / CONFIG_FILE}: the saved configuration is not valid ({err})") from None
    status = read_status(path)
    contents = read_metrics(path)
    return Run(
        path=path,
        kind=kind,
        config=config,
        saved=dict(body["config"]),
        environment=dict(body.get("environment") or {}),
        resolved=dict(body.get("resolved") or {}),
        records=contents.records,
        state=status["state"] if status else UNKNOWN_STATE,
        message=str(status.get("message", "")) if status else "",
        torn_last_line=contents.torn_last_line,
        missing=kind.missing(config, contents.records),
    )


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories given directly or found (recursively, sorted) under the given folders."""
    out: list[Path] = []
    names = [str(p) for p in paths]
    for p in map(Path, names):
        if (p / CONFIG_FILE).is_file():
            out.append(p)
        elif p.is_dir():
            out += sorted(d for d in p.rglob("*") if (d / CONFIG_FILE).is_file())
        else:
            raise FileNotFoundError(f"{p} is not a run directory (no {CONFIG_FILE}) nor a folder of runs")
    if not out:
        raise FileNotFoundError(
            f"no run directories (folders with {CONFIG_FILE}) found under {', '.join(names)}"
        )
    return out


def study_of(run_dir: str | Path) -> str:
    """The configuration class name a run directory was written by."""
    return str(read_config_file(run_dir).get("config_class") or "")


class Groups(dict[str, list[Run]]):
    """Label → runs of that setting (:func:`group_runs`), with ``notes`` to show the reader."""

    def __init__(self, groups: dict[str, list[Run]], notes: list[str]) -> None:
        super().__init__(groups)
        self.notes = notes


def group_runs(runs: Sequence[Run]) -> Groups:
    """Group ``runs`` into settings by the rules of the module docstring; notes say what was kept apart."""
    if not runs:
        raise AnalysisError("no runs to group")
    kinds = {run.kind.name for run in runs}
    if len(kinds) != 1:
        raise AnalysisError(f"runs of several studies were given ({', '.join(sorted(kinds))}); use one study")
    described = [(run, {**run.setting(), **run.signature()}) for run in runs]
    keys = sorted({k for _, d in described for k in d})
    varying = [k for k in keys if len({json.dumps(d[k], sort_keys=True) for _, d in described if k in d}) > 1]
    notes: list[str] = []
    env_keys = [k for k in varying if k in (*runs[0].kind.environment_keys, AMP_KEY)]
    for key in env_keys:
        values = sorted({str(d.get(key, "unrecorded")) for _, d in described})
        notes.append(
            f"the runs differ in {key} ({', '.join(values)}), which changes results: "
            f"they are grouped separately by it, never pooled"
        )
    groups: dict[str, list[Run]] = defaultdict(list)
    for run, d in described:
        label = ", ".join(f"{k}={_format(d[k])}" for k in varying if k in d) or run.kind.default_label(
            run.saved
        )
        if not run.complete:
            label = f"{label} [incomplete: {run.path.name}]"
            notes.append(
                f"{run.path} is incomplete ({run.describe_incomplete()}); drawn on its own, not pooled"
            )
        elif run.state not in (COMPLETE, UNKNOWN_STATE):
            notes.append(
                f"{run.path} has all its records but status {run.state!r} ({run.message or 'no message'})"
            )
        if run.torn_last_line:
            notes.append(
                f"{run.path / 'metrics.jsonl'}: the last line is torn (the run was killed while "
                f"writing it) and was ignored"
            )
        groups[label].append(run)
    for members in groups.values():
        _check_seeds_once(members)
    return Groups(dict(groups), notes)


def _check_seeds_once(runs: list[Run]) -> None:
    """Rule 3: a seed found in two runs of one group is an :class:`AnalysisError`."""
    owner: dict[Hashable, Path] = {}
    for run in runs:
        for seed in {record_seed(run, record) for record in run.records} or {run.saved.get("seed")}:
            if owner.setdefault(seed, run.path) != run.path:
                raise AnalysisError(
                    f"seed {seed} appears in two runs of one setting ({owner[seed]}, {run.path}); "
                    "it would be "
                    f"counted twice: plot them separately"
                )


def _format(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


@dataclass(frozen=True)
class Series:
    """Mean and standard deviation over seeds at each step, and how many seeds each point averages."""

    steps: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def n_label(self) -> str:
        """``n=3``, or ``n=1–3`` when some steps average fewer seeds (an incomplete run)."""
        if not len(self.count):
            return "n=0"
        low, high = int(self.count.min()), int(self.count.max())
        return f"n={high}" if low == high else f"n={low}–{high}"


def is_number(value: Any) -> TypeGuard[float]:
    """A finite-or-nan float/int that is not a bool (metrics.jsonl values that can be averaged)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def windowed(points: dict[int, float], window: int) -> dict[int, float]:
    """Average of the values in each window of steps ((k−1)·w, k·w], plotted at k·w (step 0 alone)."""
    if window <= 1:
        return dict(points)
    bins: dict[int, list[float]] = defaultdict(list)
    for step, value in points.items():
        bins[math.ceil(step / window) * window].append(value)
    return {b: float(np.mean(v)) for b, v in bins.items()}


def record_seed(run: Run, record: dict[str, Any]) -> Hashable:
    """The seed a record belongs to: its ``seed`` field, else the run's configured seed."""
    return record.get("seed", run.saved.get("seed"))


def unit_points(
    runs: Sequence[Run],
    key: str,
    select: Callable[[dict[str, Any]], bool] = lambda record: True,
    unit: Callable[[Run, dict[str, Any]], Hashable] = record_seed,
    window: int = 1,
    x: str = "step",
) -> dict[Hashable, dict[int, float]]:
    """Per seed (``unit``), the points x → value of ``key`` over the selected records of ``runs`` (non-
    numbers and NaN skipped), averaged over windows of ``window`` steps. ``runs`` come from one group of
    :func:`group_runs`, which checked that no seed appears in two of them."""
    per_unit: dict[Hashable, dict[int, float]] = defaultdict(dict)
    for run in runs:
        for record in run.records:
            value = record.get(key)
            if not select(record) or not is_number(value) or math.isnan(value):
                continue
            per_unit[unit(run, record)][int(record[x])] = float(value)
    return {u: windowed(points, window) for u, points in per_unit.items()}


def pool(points: dict[Hashable, dict[int, float]]) -> Series:
    """Mean, std and count over units at every step any unit has (:class:`Series`)."""
    steps = sorted({s for p in points.values() for s in p})
    if not steps:
        return Series(np.array([]), np.array([]), np.array([]), np.array([], dtype=int))
    table = np.array([[p.get(s, math.nan) for s in steps] for p in points.values()], dtype=float)
    present = ~np.isnan(table)
    count = present.sum(axis=0)
    mean = np.nansum(table, axis=0) / count
    std = np.sqrt(np.nansum((table - mean) ** 2, axis=0) / count)
    return Series(np.array(steps), mean, std, count)


def series(
    runs: Sequence[Run],
    key: str,
    select: Callable[[dict[str, Any]], bool] = lambda record: True,
    window: int = 1,
    unit: Callable[[Run, dict[str, Any]], Hashable] = record_seed,
) -> Series:
    """:func:`pool` of :func:`unit_points`: mean ± std over seeds of ``key`` at every step."""
    return pool(unit_points(runs, key, select, unit, window))


def per_unit_means(
    runs: Sequence[Run],
    key: str,
    select: Callable[[dict[str, Any]], bool] = lambda record: True,
    unit: Callable[[Run, dict[str, Any]], Hashable] = record_seed,
) -> list[float]:
    """Each seed's mean of ``key`` over its selected records (a bar of a summary figure averages these)."""
    return [float(np.mean(list(p.values()))) for p in unit_points(runs, key, select, unit).values() if p]

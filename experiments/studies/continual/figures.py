"""Figures of the continual study, mean ± std over seeds per setting (Figures 3.1, 3.2, 4.1, B.3–B.6).

``curves.png`` (online accuracy, dead and duplicate fraction, effective rank vs step), ``task_accuracy.png``,
``layers.png`` (per-layer duplicate and dead fractions), ``lop_scatter.png`` (Figure B.4) and
``summary_bars.png`` (Figure B.3). Runs are grouped by :func:`experiments.analysis.group_runs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.analysis import Groups, Run, find_runs, group_runs, load_run, per_unit_means, series
from experiments.studies.continual.loop import INTERVAL, TASK_END
from experiments.studies.continual.summary import KIND
from experiments.studies.figure_files import StudyFigures, destinations, save_figure, setup_matplotlib

FIGURES_DIR = "figures"
FIGURE_NAMES = ("curves.png", "task_accuracy.png", "layers.png", "lop_scatter.png", "summary_bars.png")
LEGEND_COLUMNS = 2
MAX_TASK_BOUNDARIES = 50
CURVE_PANELS = (
    ("online_accuracy", "online accuracy"),
    ("dead_fraction", "dead fraction"),
    ("duplicate_fraction", "duplicate fraction"),
    ("effective_rank", "effective rank (layer mean)"),
)
BAR_PANELS = (
    ("dead_fraction", "dead fraction"),
    ("duplicate_fraction", "duplicate fraction"),
    ("online_accuracy", "online accuracy"),
)


def is_interval(record: dict[str, Any]) -> bool:
    return record.get("event") == INTERVAL


def is_task_end(record: dict[str, Any]) -> bool:
    return record.get("event") == TASK_END


def plot_run(run_dirs: Sequence[Path | str], out_dir: Path | str) -> list[Path]:
    """Draw every figure for ``run_dirs`` (grouped by configuration) into the folder ``out_dir``, which
    must not hold them yet; returns the written files."""
    runs = [load_run(d, KIND) for d in find_runs(run_dirs)]
    return draw(group_runs(runs), destinations(FIGURES, [r.path for r in runs], out_dir))


def draw(groups: Groups, targets: dict[str, Path]) -> list[Path]:
    """Draw the five figures of the module docstring for ``groups`` to ``targets[name]``."""
    plt = setup_matplotlib()
    names = sorted(groups)
    first = groups[names[0]][0]
    written = []

    fig, axes = plt.subplots(1, len(CURVE_PANELS), figsize=(4.3 * len(CURVE_PANELS), 3.5))
    for ax, (key, title) in zip(axes, CURVE_PANELS):
        for gi, label in enumerate(names):
            members = groups[label]
            s = series(members, key, is_interval, _window(members))
            if not len(s):
                continue
            ax.plot(
                s.steps,
                s.mean,
                linestyle=_style(members),
                color=f"C{gi % 10}",
                label=f"{label} ({s.n_label})",
            )
            ax.fill_between(s.steps, s.mean - s.std, s.mean + s.std, color=f"C{gi % 10}", alpha=0.2)
        _task_boundaries(ax, first)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    written.append(_save(fig, targets["curves.png"], *axes[0].get_legend_handles_labels()))

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for gi, label in enumerate(names):
        s = series(groups[label], "task_accuracy", is_task_end)
        if len(s):
            ax.errorbar(
                np.arange(1, len(s) + 1),
                s.mean,
                yerr=s.std,
                fmt="o-",
                color=f"C{gi % 10}",
                capsize=2,
                label=f"{label} ({s.n_label})",
            )
    ax.set_xlabel("task")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("held-out accuracy at task end")
    ax.grid(alpha=0.3)
    written.append(_save(fig, targets["task_accuracy.png"], *ax.get_legend_handles_labels()))

    fig, axes = plt.subplots(len(names), 2, figsize=(10, 3.2 * len(names)), squeeze=False)
    for row, label in enumerate(names):
        members = groups[label]
        layers = _layer_names(members)
        for col, key in enumerate(("duplicate_fraction", "dead_fraction")):
            ax = axes[row, col]
            for li, layer in enumerate(layers):
                s = series(members, f"layer/{layer}/{key}", is_interval, _window(members))
                ax.plot(s.steps, s.mean, color=plt.cm.viridis(li / max(1, len(layers) - 1)), label=layer)
            ax.set_title(f"{key.replace('_', ' ')} per layer\n{label}", fontsize=8)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        if layers:
            axes[row, 0].legend(fontsize=6, ncol=2, title="layer", title_fontsize=6)
    written.append(_save(fig, targets["layers.png"]))

    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.8), squeeze=False)
    for ax, label in zip(axes[0], names):
        members = groups[label]
        window = _window(members)
        pick = {
            k: dict(zip(s.steps, s.mean))
            for k in ("duplicate_fraction", "dead_fraction", "online_accuracy")
            for s in [series(members, k, is_interval, window)]
        }
        common = sorted(set(pick["duplicate_fraction"]) & set(pick["online_accuracy"]))
        if common:
            acc = np.array([pick["online_accuracy"][s] for s in common])
            points = ax.scatter(
                [pick["duplicate_fraction"][s] for s in common],
                [pick["dead_fraction"][s] for s in common],
                c=common,
                cmap="viridis",
                s=10 + 120 * acc,
            )
            fig.colorbar(points, ax=ax, label="step")
        ax.set_xlabel("duplicate fraction")
        ax.set_ylabel("dead fraction")
        ax.set_title(f"{label}\n(point size: online accuracy)", fontsize=8)
    written.append(_save(fig, targets["lop_scatter.png"]))

    fig, axes = plt.subplots(1, len(BAR_PANELS), figsize=(4.3 * len(BAR_PANELS), 3.5))
    for ax, (key, title) in zip(axes, BAR_PANELS):
        means, stds = [], []
        for label in names:
            per_seed = per_unit_means(groups[label], key, is_interval)
            means.append(float(np.mean(per_seed)) if per_seed else math.nan)
            stds.append(float(np.std(per_seed)) if per_seed else math.nan)
        patches = ax.bar(
            range(len(names)), means, yerr=stds, color=[f"C{i % 10}" for i in range(len(names))], capsize=3
        )
        ax.set_xticks([])
        ax.set_title(f"{title}\nmean over training (± std over seeds)", fontsize=9)
    written.append(_save(fig, targets["summary_bars.png"], list(patches), names))
    return written


def _window(runs: list[Run]) -> int:
    cfg = runs[0].saved
    return int(cfg.get("plot_window") or cfg.get("log_interval") or 1)


def _style(runs: list[Run]) -> str:
    """Figure 4.1's convention: dotted lines for normalization with affine parameters."""
    cfg = runs[0].saved
    return ":" if cfg.get("affine") and cfg.get("normalization") not in ("none",) else "-"


def _layer_names(runs: list[Run]) -> list[str]:
    """The layers of the first interval record with per-layer keys (none for runs without records)."""
    for run in runs:
        for record in run.records:
            if is_interval(record):
                return [
                    k[len("layer/") : -len("/dead_fraction")]
                    for k in record
                    if k.startswith("layer/") and k.endswith("/dead_fraction")
                ]
    return []


def _task_boundaries(ax: Any, run: Run) -> None:
    tasks, steps = int(run.saved.get("tasks", 0)), int(run.saved.get("steps_per_task", 0))
    if 1 < tasks <= MAX_TASK_BOUNDARIES:
        for t in range(1, tasks):
            ax.axvline(t * steps, color="grey", linewidth=0.5, alpha=0.4)


def _save(fig: Any, path: Path, handles: list | None = None, labels: list[str] | None = None) -> Path:
    """Save and close ``fig``; with ``handles``, one legend for the whole figure below the panels."""
    if handles:
        rows = math.ceil(len(handles) / LEGEND_COLUMNS)
        height = fig.get_size_inches()[1]
        fig.legend(handles, labels, loc="lower center", ncol=LEGEND_COLUMNS, fontsize=7)
        fig.tight_layout(rect=(0, min(0.5, (0.1 + 0.17 * rows) / height), 1, 1))
    else:
        fig.tight_layout()
    return save_figure(fig, path)


FIGURES = StudyFigures(KIND, FIGURE_NAMES, lambda run_dir: run_dir / FIGURES_DIR, draw)
"""The continual study's figure set for ``python -m experiments plot``."""

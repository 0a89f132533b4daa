"""What a finished continual run holds (:data:`KIND`) and its headline numbers (``summary.json``)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from experiments.analysis import Groups, StudyKind, load_run
from experiments.analysis import group_runs as group_loaded_runs
from experiments.runs import load_metrics
from experiments.studies.continual.config import STUDY, ContinualConfig
from experiments.studies.continual.loop import INTERVAL, TASK_END
from experiments.studies.continual.suite import SUITE

SUMMARY_FILE = "summary.json"


def missing_records(cfg: ContinualConfig, records: list[dict[str, Any]]) -> str | None:
    """What a finished run has and ``records`` lack: every seed's task-end record of the last task."""
    last_task, total = cfg.tasks - 1, cfg.tasks * cfg.steps_per_task
    problems = []
    for seed in cfg.run_seeds():
        mine = [r for r in records if r.get("seed") == seed]
        if any(r.get("event") == TASK_END and r.get("task") == last_task for r in mine):
            continue
        if not mine:
            problems.append(f"seed {seed} has no records")
        else:
            problems.append(
                f"seed {seed} stops at step {max(int(r.get('step', 0)) for r in mine)} of {total}"
            )
    return "; ".join(problems) or None


def default_label(config: dict[str, Any]) -> str:
    return f"{config.get('arch')}, norm={config.get('normalization')}"


KIND = StudyKind(STUDY, ContinualConfig, missing_records, default_label)
"""The continual study for :mod:`experiments.analysis`."""


def group_runs(run_dirs: list[Path | str]) -> Groups:
    """Continual run directories grouped by setting (:func:`experiments.analysis.group_runs`)."""
    return group_loaded_runs([load_run(d, KIND) for d in run_dirs])


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def summarize(run_dir: Path) -> dict[str, Any]:
    """Headline numbers of a complete run, mean and std over seeds: online accuracy of the first and last
    task and over the whole run (Figure B.3), task-end accuracy of the first and last task, and the
    layer-mean metric suite at step 0 and at the end."""
    return summarize_records(load_metrics(run_dir))


def summarize_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`summarize` of the records of a complete run."""
    seeds = sorted({r["seed"] for r in records})
    out: dict[str, Any] = {"seeds": seeds}
    rows: dict[str, list[float]] = defaultdict(list)
    for s in seeds:
        intervals = [r for r in records if r["seed"] == s and r["event"] == INTERVAL]
        ends = [r for r in records if r["seed"] == s and r["event"] == TASK_END]
        online = [r for r in intervals if "online_accuracy" in r]
        last_task = ends[-1]["task"]
        rows["online_accuracy_mean"].append(float(np.mean([r["online_accuracy"] for r in online])))
        rows["online_accuracy_first_task"].append(ends[0]["task_online_accuracy"])
        rows["online_accuracy_last_task"].append(ends[-1]["task_online_accuracy"])
        rows["task_accuracy_first_task"].append(ends[0]["task_accuracy"])
        rows["task_accuracy_last_task"].append(ends[-1]["task_accuracy"])
        rows["mean_task_accuracy"].append(ends[-1]["mean_task_accuracy"])
        for key in SUITE:
            rows[f"{key}_start"].append(intervals[0][key])
            rows[f"{key}_end"].append(intervals[-1][key])
        out.setdefault("tasks", last_task + 1)
    out.update({k: _mean_std(v) for k, v in rows.items()})
    return out

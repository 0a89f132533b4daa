"""``python -m experiments plot SWEEP_DIR``: a sweep's figures from its finished points, mean ± std over
seeds.

The figures go into a new folder ``SWEEP_DIR/plots/<UTC stamp>-NNN/`` (or ``--output``, a new or empty
folder), never into a run's own directory and never over an earlier figure. A named figure sweep
(:mod:`experiments.sweeps.figures`) draws each of its :class:`~experiments.sweeps.figures.Facet` s — one
file (cloning) or one folder of the study's figure set (continual, bitflip) — with one curve per setting
(the point's grid labels) over the seeds of that setting; any other sweep draws the study's own figures
with one curve per grid point. Only complete runs are drawn. Every point that is missing (pending,
running, failed) or whose run is incomplete is named — on stderr and in ``notes.txt`` beside the
figures — together with how many of each figure's points it draws; nothing is dropped silently. Runs
of one curve whose environment differs (thread count, versions) are never pooled
(:func:`experiments.analysis.group_runs`): they get separate curves and a note.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from experiments.analysis import Groups, Run, group_runs, load_run
from experiments.runs import new_run_dir
from experiments.studies.registry import Study, get_study
from experiments.sweeps.figures import Facet, figure_sweep_named
from experiments.sweeps.grid import SweepError
from experiments.sweeps.state import DONE, SweepDir, require_sweep_dir

PLOTS_DIR = "plots"
NOTES_FILE = "notes.txt"


def plot_sweep(path: str | Path, output: str | Path | None = None) -> tuple[list[Path], list[str]]:
    """Draw the figures of the sweep at ``path`` (module docstring); returns the files and the notes."""
    sweep = require_sweep_dir(path)
    sweep.refresh()
    study = get_study(sweep.study)
    notes: list[str] = []
    finished: list[tuple[dict[str, Any], Run]] = []
    for entry in sweep.points:
        where = f"point {entry['name']} ({describe(entry['labels'])})"
        if entry["state"] != DONE:
            error = f": {entry['error']}" if entry.get("error") else ""
            notes.append(f"{where} is missing: {entry['state']}{error}")
            continue
        run = load_run(sweep.path / entry["run_dir"], study.figures.kind)
        if not run.complete:
            notes.append(f"{where} is incomplete: {run.describe_incomplete()}")
            continue
        finished.append((entry, run))
    if not finished:
        counts = ", ".join(f"{n} {state}" for state, n in sweep.counts().items() if n)
        raise SweepError(f"{sweep.path}: no finished point to draw yet ({counts}); see sweep --status")
    target = plot_folder(sweep, output)
    written: list[Path] = []
    for facet in facets_of(sweep, study):
        expected = [e for e in sweep.points if facet.select(e["config"])]
        members = [(e, r) for e, r in finished if facet.select(e["config"])]
        if len(members) < len(expected):
            absent = sorted({e["name"] for e in expected} - {e["name"] for e, _ in members})
            notes.append(
                f"{facet.name} ({facet.title}) draws {len(members)} of its {len(expected)} points "
                f"(not drawn: {', '.join(absent)})"
            )
        if not members:
            continue
        groups = curve_groups(members, facet, study, notes)
        written += draw_facet(study, facet, groups, target)
    lines = notes or [f"every one of the {len(sweep.points)} points is drawn"]
    (target / NOTES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [*written, target / NOTES_FILE], notes


def describe(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())


def plot_folder(sweep: SweepDir, output: str | Path | None) -> Path:
    """``output`` (created; must be empty), else a new ``plots/<stamp>`` folder in the sweep directory."""
    if output is None:
        return new_run_dir(sweep.path, PLOTS_DIR)
    out = Path(output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(
            f"--output {out} exists and is not an empty folder; figures are never overwritten"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def facets_of(sweep: SweepDir, study: Study) -> tuple[Facet, ...]:
    """The named figure sweep's facets, else one facet with every point, a curve per grid point."""
    named = figure_sweep_named(sweep.body.get("figure_sweep"))
    if named is not None:
        return named.facets
    seed_axis = study.seed_key

    def curve(config: dict[str, Any], labels: dict[str, str]) -> str:
        return (
            describe({k: v for k, v in labels.items() if k not in (seed_axis, "seed", "seeds")})
            or sweep.study
        )

    return (Facet(sweep.study, f"{sweep.study} sweep", lambda config: True, curve),)


def curve_groups(
    members: list[tuple[dict[str, Any], Run]], facet: Facet, study: Study, notes: list[str]
) -> Groups:
    """The runs of each curve, pooled over seeds by :func:`experiments.analysis.group_runs` (which keeps
    apart runs whose environment differs). The bit-flipping curve holds one run per width: those are
    pooled when their environment agrees (``figure_b1``/``figure_b2`` separate the widths)."""
    by_curve: dict[str, list[Run]] = defaultdict(list)
    for entry, run in members:
        by_curve[facet.curve(entry["config"], entry["labels"])].append(run)
    groups: dict[str, list[Run]] = {}
    for label, runs in by_curve.items():
        if study.name == "bitflip":
            signatures = {repr(sorted(run.signature().items())) for run in runs}
            if len(signatures) == 1:
                groups[label] = runs
                continue
            notes.append(
                f"{facet.name}: the runs of {label!r} differ in their environment; drawn apart, never pooled"
            )
        pooled = group_runs(runs)
        notes.extend(f"{facet.name}: {note}" for note in pooled.notes)
        if len(pooled) == 1:
            groups[label] = next(iter(pooled.values()))
        else:
            groups.update({f"{label} [{sub}]": rs for sub, rs in pooled.items()})
    return Groups(groups, [])


def draw_facet(study: Study, facet: Facet, groups: Groups, target: Path) -> list[Path]:
    """The study's figure set for ``groups``: one file ``<facet>.png`` for a one-figure study, else a
    folder ``<facet>/`` with every figure."""
    names = study.figures.names
    if len(names) == 1:
        targets = {names[0]: target / f"{facet.name}.png"}
    else:
        (target / facet.name).mkdir()
        targets = {name: target / facet.name / name for name in names}
    return study.figures.draw(groups, targets)

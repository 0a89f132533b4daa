"""Where a study's figures go and how they are written: never over an earlier figure.

Every figure file is created exclusively (:func:`experiments.runs.create_exclusive`), after checking
that none of a figure set's files exists, so a plot never replaces an earlier one:

* ``--output PATH``: a folder (created when missing) that must not hold any of the figures yet; for a
  study with one figure, a path ending in ``.png`` names that file;
* no ``--output``, one run whose own figure folder does not hold its figures yet (``figures=false``, or
  a killed run): that folder;
* otherwise a new folder beside the runs, ``<folder of the first run>/plots/<UTC stamp>-NNN/``, created
  exclusively like a run directory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.analysis import Groups, StudyKind, find_runs, group_runs, load_run
from experiments.runs import create_exclusive, new_run_dir

PLOTS_DIR = "plots"
FIGURE_DPI = 110


@dataclass(frozen=True)
class StudyFigures:
    """A study's figure set: its kind, the file names it draws, a run's own figure folder, and
    ``draw(groups, targets)`` writing the figure of each name to ``targets[name]``."""

    kind: StudyKind
    names: tuple[str, ...]
    in_run: Callable[[Path], Path]
    draw: Callable[[Groups, dict[str, Path]], list[Path]]


def destinations(
    figures: StudyFigures, run_dirs: Sequence[Path], output: str | Path | None
) -> dict[str, Path]:
    """The file of every figure of ``figures`` by the rules of the module docstring; a file that already
    exists is a FileExistsError naming it (nothing is written then)."""
    if output is not None:
        out = Path(output)
        if len(figures.names) == 1 and out.suffix == ".png":
            targets = {figures.names[0]: out}
        else:
            if out.exists() and not out.is_dir():
                raise FileExistsError(f"--output {out} is a file; give a folder for the figures")
            targets = {name: out / name for name in figures.names}
    else:
        own = {name: figures.in_run(Path(run_dirs[0])) / name for name in figures.names}
        if len(run_dirs) == 1 and not any(p.exists() for p in own.values()):
            targets = own
        else:
            fresh = new_run_dir(Path(run_dirs[0]).parent, PLOTS_DIR)
            targets = {name: fresh / name for name in figures.names}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing:
        raise FileExistsError(
            f"{', '.join(existing)} already exist(s); figures are never overwritten: give a new --output"
        )
    for path in targets.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    return targets


def save_figure(fig: Any, path: Path, dpi: int = FIGURE_DPI) -> Path:
    """Write ``fig`` as PNG to ``path`` (which must not exist) and close it."""
    import matplotlib.pyplot as plt

    try:
        with create_exclusive(path) as handle:
            fig.savefig(handle, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path


def redraw(
    figures: StudyFigures, paths: Sequence[str | Path], output: str | Path | None
) -> tuple[list[Path], list[str]]:
    """Load the runs under ``paths``, group them (:func:`experiments.analysis.group_runs`) and draw the
    study's figures (:func:`destinations`); returns the written files and the notes for the reader."""
    runs = [load_run(d, figures.kind) for d in find_runs(paths)]
    groups = group_runs(runs)
    empty = [run for run in runs if not run.records]
    if len(empty) == len(runs):
        raise FileNotFoundError(
            f"no records to draw: {', '.join(str(r.path) for r in empty)} hold no metrics yet"
        )
    targets = destinations(figures, [run.path for run in runs], output)
    return figures.draw(groups, targets), groups.notes


def setup_matplotlib() -> Any:
    """pyplot with the non-interactive Agg backend (figures are only ever written to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

"""``python -m experiments plot RUN_DIR ...``: redraw a study's figures from saved runs.

The study is read from each run's ``config.json`` (``config_class``); all runs given must belong to one
study. Runs are grouped into settings by :func:`experiments.analysis.group_runs` (the configuration
without seeds and bookkeeping keys, plus the environment that changes results; incomplete runs apart)
and drawn with the mean and spread (± one standard deviation) over the seeds of each setting; notes on
stderr say what was kept apart and why. Figures never overwrite earlier ones
(:mod:`experiments.studies.figure_files`): they go to ``--output`` (a new or empty folder; for the
single cloning figure also a ``.png`` path), else into the run's own figure folder when it has none yet
(one run), else into a new folder ``plots/<UTC stamp>-NNN`` beside the runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from experiments.analysis import AnalysisError, find_runs, study_of
from experiments.studies import bitflip, cloning, continual
from experiments.studies.figure_files import StudyFigures, redraw
from experiments.sweeps.plot import plot_sweep
from experiments.sweeps.state import SWEEP_FILE

STUDY_FIGURES: dict[str, StudyFigures] = {
    figures.kind.config_class.__name__: figures
    for figures in (cloning.FIGURES, continual.FIGURES, bitflip.FIGURES)
}
"""Each study's figure set, by the configuration class a run's ``config.json`` names."""


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "runs",
        nargs="+",
        help="run directories (or folders containing run directories), or one "
        "sweep directory (its figure goes into SWEEP_DIR/plots/<stamp>/)",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="a new folder for the figures (cloning: also a .png file); default: the run's own figure folder "
        "when it has none yet, else a new folder plots/<stamp> beside the runs. Nothing is overwritten.",
    )


def figures_of(paths: list[str]) -> StudyFigures:
    """The figure set of the one study the runs under ``paths`` belong to."""
    studies = {study_of(d) for d in find_runs(paths)}
    if len(studies) != 1:
        raise AnalysisError(
            f"runs of several studies were given ({', '.join(sorted(studies))}); plot one study at a time"
        )
    study = studies.pop()
    if study not in STUDY_FIGURES:
        raise AnalysisError(
            f"{paths[0]} holds a {study or 'unnamed'} run; plot knows {', '.join(STUDY_FIGURES)}"
        )
    return STUDY_FIGURES[study]


def main(args: Any) -> int:
    """Draw the figures and print every written file; notes go to stderr. One sweep directory (it holds
    ``sweep.json``) draws that sweep's figure into the sweep directory (:mod:`experiments.sweeps.plot`)."""
    if len(args.runs) == 1 and (Path(args.runs[0]) / SWEEP_FILE).is_file():
        paths, notes = plot_sweep(args.runs[0], args.output)
    else:
        paths, notes = redraw(figures_of(args.runs), args.runs, args.output)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for path in paths:
        print(path)
    return 0

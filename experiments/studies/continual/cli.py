"""``python -m experiments continual``: run the study, or redraw figures with ``--plot``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.config import ConfigError
from experiments.studies.continual.config import ContinualConfig, resolve_continual_config
from experiments.studies.continual.figures import FIGURES
from experiments.studies.continual.study import resume, run
from experiments.studies.figure_files import redraw
from experiments.studies.resume_cli import add_resume_argument, check_resume_alone

USAGE = """``python -m experiments continual [--preset smoke|paper] [key=value ...] [--out DIR]``
``python -m experiments continual --resume RUN_DIR`` (continue a killed run from its checkpoint)
``python -m experiments continual --plot RUN_DIR [RUN_DIR ...] [--output DIR]`` (redraw figures)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        default=None,
        choices=list(ContinualConfig.PRESETS),
        help="configuration preset (default: smoke)",
    )
    parser.add_argument("--out", default=None, help="root folder of run directories (same as out=DIR)")
    parser.add_argument(
        "--plot",
        nargs="+",
        default=None,
        metavar="RUN_DIR",
        help="only redraw the figures of these run directories",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="with --plot: a new folder for the figures (default: the run's figures/ when it has none "
        "yet, else a new folder plots/<stamp> beside the runs; figures are never overwritten)",
    )
    add_resume_argument(parser)
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="configuration overrides")
    parser.epilog = "keys:\n" + ContinualConfig.describe()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    """Run the study (or redraw figures with ``--plot``) and print the run directory / figure files."""
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(
            prog="python -m experiments continual", description=USAGE.splitlines()[0]
        )
        add_arguments(parser)
        args = parser.parse_args(args)
    if args.resume:
        check_resume_alone(args)
        print(resume(args.resume))
        return 0
    stray = [p for p in args.plot or [] if "=" in p and not Path(p).exists()]
    if args.plot and (args.overrides or args.out or stray):
        given = " ".join(stray + list(args.overrides)) or f"--out {args.out}"
        raise ConfigError(
            f"--plot redraws saved runs: it takes no key=value overrides and no --out (got {given})"
        )
    if args.output and not args.plot:
        raise ConfigError("--output only acts with --plot (runs go to --out)")
    if args.plot:
        paths, notes = redraw(FIGURES, args.plot, args.output)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        for path in paths:
            print(path)
        return 0
    overrides = list(args.overrides) + ([f"out={args.out}"] if args.out else [])
    cfg = resolve_continual_config(args.preset or "smoke", overrides)
    print(run(cfg))
    return 0

"""``python -m experiments sweep``: run a grid of configurations of one study, or one of the paper's figures.

    python -m experiments sweep STUDY [--preset P] --grid KEY=V1,V2,… [--grid …] [key=value …]
                                [--executor local|slurm|debug] [--jobs N] [--threads-per-run N] [--out DIR]
    python -m experiments sweep --figure ID [--preset smoke|paper] [--seeds 0..4] [key=value …]
                                [executor options]
    python -m experiments sweep --list [--json]
    python -m experiments sweep --status SWEEP_DIR
    python -m experiments sweep --resume SWEEP_DIR [executor options]
    python -m experiments plot SWEEP_DIR [--output DIR]

Every point is checked before anything runs (:mod:`experiments.sweeps.grid`); the number of runs and of
steps is printed; ``--dry-run`` stops there and lists the points. Slurm options: ``--slurm-partition``,
``--slurm-account``, ``--gpus-per-run``, ``--cpus-per-run``, ``--timeout-min``, ``--array-parallelism``.
Exit status: 0 when every point is done (or submitted), 1 when some point failed, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from experiments.studies.registry import STUDIES, Study, get_study
from experiments.sweeps.executors import EXECUTORS, ExecutorOptions, check_slurm, run_points, slurm_job_active
from experiments.sweeps.figures import FIGURE_SWEEPS, PRESETS, FigureSweep, find_figure_sweep
from experiments.sweeps.grid import Block, Grid, Point, SweepError, expand, parse_grid_option, split_values
from experiments.sweeps.state import (
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    SweepDir,
    now_utc,
    process_alive,
    require_sweep_dir,
)
from experiments.sweeps.worker import DIVERGED_PREFIX

DEFAULT_OUT = "runs"
DEFAULT_PRESET = {"cloning": "smoke", "continual": "smoke", "bitflip": "default"}
EXIT_SOME_FAILED = 1
EXECUTOR_FLAGS = (
    "jobs",
    "threads_per_run",
    "slurm_partition",
    "slurm_account",
    "gpus_per_run",
    "cpus_per_run",
    "timeout_min",
    "array_parallelism",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", nargs="?", default=None, help=f"the study to sweep: {', '.join(STUDIES)}")
    parser.add_argument("--preset", default=None, help="the study's preset (with --figure: smoke or paper)")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,…",
        help="an axis of the grid (repeat for a Cartesian product); list values: KEY=1,2;3,4",
    )
    parser.add_argument(
        "--figure", default=None, metavar="ID", help="a named figure sweep (2.1, B.7, …; see --list)"
    )
    parser.add_argument("--seeds", default=None, help="with --figure: the seeds to run (e.g. 0..9)")
    parser.add_argument("--list", action="store_true", help="list the named figure sweeps")
    parser.add_argument("--json", action="store_true", help="with --list: as JSON")
    parser.add_argument("--status", default=None, metavar="SWEEP_DIR", help="print the state of every point")
    parser.add_argument(
        "--resume", default=None, metavar="SWEEP_DIR", help="finish every point that is not done"
    )
    parser.add_argument("--dry-run", action="store_true", help="check and list the points, run nothing")
    parser.add_argument(
        "--out", default=None, help=f"root folder of sweep directories (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--executor", default=None, choices=EXECUTORS, help="where points run (default local)"
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="local: points at a time (default: the core count)"
    )
    parser.add_argument(
        "--threads-per-run", type=int, default=None, help="torch/BLAS threads per point (default 1)"
    )
    parser.add_argument("--slurm-partition", default=None)
    parser.add_argument("--slurm-account", default=None)
    parser.add_argument(
        "--gpus-per-run", type=int, default=None, help="slurm: GPUs per job (default 1; bitflip 0)"
    )
    parser.add_argument("--cpus-per-run", type=int, default=None, help="slurm: CPUs per job (default 2)")
    parser.add_argument(
        "--timeout-min", type=int, default=None, help="slurm: time limit per job (default 240)"
    )
    parser.add_argument(
        "--array-parallelism", type=int, default=None, help="slurm: jobs of the array at a time"
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="keys fixed for every point")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__


def main(args: argparse.Namespace) -> int:
    if args.study is not None and "=" in args.study:  # a key=value caught by the optional positional
        args.overrides, args.study = [args.study, *args.overrides], None
    modes = [name for name in ("list", "status", "resume") if getattr(args, name)]
    if len(modes) > 1:
        raise SweepError(f"give one of --list, --status, --resume (got {', '.join('--' + m for m in modes)})")
    if args.json and not args.list:
        raise SweepError("--json only acts with --list")
    if modes:
        stray = _new_sweep_arguments(args)
        if stray:
            raise SweepError(f"--{modes[0]} takes no {', '.join(stray)}")
    if args.list:
        return list_figure_sweeps(args.json)
    if args.status:
        if _executor_arguments(args):
            raise SweepError(
                f"--status takes no executor options (got {', '.join(_executor_arguments(args))})"
            )
        return print_status(require_sweep_dir(args.status))
    if args.resume:
        return resume_sweep(args)
    return new_sweep(args)


def _new_sweep_arguments(args: argparse.Namespace) -> list[str]:
    given = []
    for name in ("study", "preset", "figure", "seeds", "out"):
        if getattr(args, name) is not None:
            given.append(f"--{name}" if name != "study" else f"study {args.study}")
    given += ["--grid"] * bool(args.grid) + ["--dry-run"] * args.dry_run + list(args.overrides)
    return given


def _executor_arguments(args: argparse.Namespace) -> list[str]:
    names = ["executor", *EXECUTOR_FLAGS]
    return [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is not None]


def executor_options(args: argparse.Namespace, base: ExecutorOptions | None = None) -> ExecutorOptions:
    """The executor of the command line; on ``--resume`` the recorded one, changed by what is given."""
    values: dict[str, Any] = {} if base is None or args.executor not in (None, base.kind) else base.to_dict()
    values["kind"] = args.executor or (base.kind if base is not None else "local")
    values.update({name: getattr(args, name) for name in EXECUTOR_FLAGS if getattr(args, name) is not None})
    options = ExecutorOptions(**values)
    options.check()
    if options.kind == "slurm":
        check_slurm()
    return options


def plan(args: argparse.Namespace) -> tuple[Study, str, Grid, list[str], FigureSweep | None, str]:
    """(study, study preset, grid, fixed keys, figure sweep, scale) of a new sweep's command line."""
    if args.figure is not None:
        figure = find_figure_sweep(args.figure)
        if args.study is not None:
            raise SweepError(
                f"--figure {args.figure} sweeps the {figure.study} study; give no study (got {args.study})"
            )
        if args.grid:
            raise SweepError(f"--figure {args.figure} has its own grid; --grid does not act with it")
        scale_name = args.preset or "smoke"
        if scale_name not in PRESETS:
            raise SweepError(f"--preset {scale_name!r} with --figure: choices {', '.join(PRESETS)}")
        study = get_study(figure.study)
        seeds = parse_seeds(args.seeds)
        scale, grid = figure.grid(scale_name, seeds)
        given = {o.partition("=")[0].strip() for o in args.overrides}
        fixed = [f for f in figure.fixed(scale_name, seeds) if f.partition("=")[0] not in given] + list(
            args.overrides
        )
        return study, scale.study_preset, grid, fixed, figure, scale_name
    if args.study is None:
        raise SweepError(
            f"give a study ({', '.join(STUDIES)}) with --grid KEY=V1,V2,…, or --figure ID (see --list)"
        )
    study = get_study(args.study)
    if args.seeds is not None:
        raise SweepError(f"--seeds only acts with --figure; sweep seeds with --grid {study.seed_key}=0..4")
    preset = args.preset or DEFAULT_PRESET[study.name]
    if preset not in study.config_class.PRESETS:
        raise SweepError(
            f"unknown preset {preset!r} for {study.name}; presets: {', '.join(study.config_class.PRESETS)}"
        )
    if not args.grid:
        raise SweepError(f"give at least one --grid KEY=V1,V2,… for the {study.name} sweep (or --figure ID)")
    axes = tuple(parse_grid_option(study, text) for text in args.grid)
    return study, preset, Grid((Block(axes),)), list(args.overrides), None, preset


def parse_seeds(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        seeds = tuple(int(s) for s in split_values("seeds", tuple[int, ...], text))
    except ValueError:
        raise SweepError(f"--seeds {text!r} must list integer seeds (e.g. 0,1,2 or 0..4)") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise SweepError(f"--seeds {text!r} must list distinct seeds (e.g. 0..4)")
    return seeds


def new_sweep(args: argparse.Namespace) -> int:
    options = executor_options(args)
    study, preset, grid, fixed, figure, scale = plan(args)
    points = expand(study, preset, grid, fixed, check_machine=options.kind != "slurm")
    total = sum(p.steps for p in points)
    what = (
        f"figure sweep {figure.name} ({', '.join(figure.figures)}), {scale}"
        if figure
        else f"{study.name}, preset {preset}"
    )
    print(
        f"{len(points)} runs, {total:,} {study.step_unit} in total ({what}; executor {options.kind})",
        flush=True,
    )
    if args.dry_run:
        for point in points:
            print(f"  {point.name}  {point.describe()}  ({point.steps:,} steps)")
        return 0
    header = {
        "study": study.name,
        "preset": preset,
        "figure_sweep": figure.name if figure else None,
        "figures": list(figure.figures) if figure else [],
        "scale": scale,
        "grid": grid.to_dict(),
        "fixed": fixed,
        "executor": options.to_dict(),
        "executors": [{**options.to_dict(), "started_utc": now_utc()}],
        "argv": sys.argv,
    }
    sweep = SweepDir.create(args.out or DEFAULT_OUT, header, points)
    print(f"sweep directory: {sweep.path}", flush=True)
    return execute(sweep, [p.index for p in points], options)


def execute(sweep: SweepDir, indices: list[int], options: ExecutorOptions) -> int:
    """Run ``indices`` with ``options``, one line per point as it ends; the exit status."""
    finished = 0

    def report(index: int) -> None:
        nonlocal finished
        finished += 1
        entry = sweep.points[index]
        error = f": {entry['error']}" if entry.get("error") else ""
        verb = "submitted" if options.kind == "slurm" else entry["state"]
        print(
            f"[{finished}/{len(indices)}] point {entry['name']} ({_labels(entry)}) {verb}{error}", flush=True
        )

    try:
        run_points(sweep, indices, options, report)
    except KeyboardInterrupt:
        sweep.refresh()
        print(
            f"interrupted; continue with: python -m experiments sweep --resume {sweep.path}", file=sys.stderr
        )
        return EXIT_SOME_FAILED
    counts = sweep.counts()
    print(", ".join(f"{n} {state}" for state, n in counts.items() if n))
    if options.kind == "slurm":
        print(f"follow with: python -m experiments sweep --status {sweep.path}")
        return 0
    if counts[FAILED]:
        print(f"some points failed; see python -m experiments sweep --status {sweep.path}", file=sys.stderr)
        return EXIT_SOME_FAILED
    print(f"draw the figure with: python -m experiments plot {sweep.path}")
    return 0


def _labels(entry: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in entry["labels"].items())


def resume_sweep(args: argparse.Namespace) -> int:
    """Finish every point of the sweep that is not done (module docstring of
    :mod:`experiments.sweeps.state`)."""
    sweep = require_sweep_dir(args.resume)
    sweep.refresh()
    options = executor_options(args, ExecutorOptions.from_dict(sweep.body["executor"]))
    todo, skipped = [], []
    for index, entry in enumerate(sweep.points):
        where = f"point {entry['name']} ({_labels(entry)})"
        state = entry["state"]
        if state == DONE:
            continue
        if state == RUNNING:
            if process_alive(entry.get("host"), entry.get("pid"), str(sweep.path)):
                raise SweepError(
                    f"{where} is still running (pid {entry['pid']} on this host); wait for it or stop it"
                )
            if entry.get("job_id") and slurm_job_active(sweep, str(entry["job_id"])):
                skipped.append(f"{where}: its Slurm job {entry['job_id']} is still queued or running")
                continue
            sweep.set_point(index, PENDING, error="")
        elif state == FAILED:
            if str(entry.get("error", "")).startswith(DIVERGED_PREFIX):
                skipped.append(f"{where}: not retried, {entry['error']} (it would diverge again)")
                continue
            sweep.set_point(index, PENDING, error="")
        elif entry.get("job_id") and slurm_job_active(sweep, str(entry["job_id"])):
            skipped.append(f"{where}: its Slurm job {entry['job_id']} is still queued")
            continue
        todo.append(index)
    sweep.body["executor"] = options.to_dict()
    sweep.body.setdefault("executors", []).append({**options.to_dict(), "started_utc": now_utc()})
    sweep.refresh()
    for line in skipped:
        print(f"note: {line}", file=sys.stderr)
    total = sum(sweep.points[i]["steps"] for i in todo)
    print(
        f"{len(todo)} of {len(sweep.points)} points to run, "
        f"{total:,} {get_study(sweep.study).step_unit} at most "
        f"(those with a checkpoint continue from it; executor {options.kind})",
        flush=True,
    )
    if not todo:
        return EXIT_SOME_FAILED if sweep.counts()[FAILED] else 0
    return execute(sweep, todo, options)


def print_status(sweep: SweepDir) -> int:
    sweep.refresh()
    counts = sweep.counts()
    name = sweep.body.get("figure_sweep") or sweep.study
    print(
        f"{sweep.path}: {name}, {len(sweep.points)} points: "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    )
    for entry in sweep.points:
        if entry["state"] == FAILED:
            print(
                f"  failed  {entry['name']} ({_labels(entry)}): {entry.get('error') or 'no error recorded'}"
            )
        elif entry["state"] == RUNNING:
            where = (
                f"job {entry['job_id']}"
                if entry.get("job_id")
                else f"pid {entry.get('pid')} on {entry.get('host')}"
            )
            print(
                f"  running {entry['name']} ({_labels(entry)}): {where}, attempt {entry.get('attempts', 1)}"
            )
    return 0


def list_figure_sweeps(as_json: bool) -> int:
    rows: list[dict[str, Any]] = []
    for figure in FIGURE_SWEEPS:
        study = get_study(figure.study)
        counts: dict[str, dict[str, int]] = {}
        for scale in PRESETS:
            _, grid = figure.grid(scale)
            points: list[Point] = expand(study, figure.scales[scale].study_preset, grid, figure.fixed(scale))
            counts[scale] = {"points": len(points), "steps": sum(p.steps for p in points)}
        rows.append(
            {
                "name": figure.name,
                "figure": ", ".join(figure.figures),
                "figures": list(figure.figures),
                "study": figure.study,
                "points": counts["paper"]["points"],
                "description": figure.description,
                "presets": counts,
                "step_unit": study.step_unit,
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':16} {'figures':34} {'study':10} {'points smoke/paper':>18}  steps at paper scale")
    for row in rows:
        p = row["presets"]
        print(
            f"{row['name']:16} {row['figure']:34} {row['study']:10} "
            f"{p['smoke']['points']:>8} / {p['paper']['points']:<7}  "
            f"{p['paper']['steps']:,} {row['step_unit']}"
        )
    print("run one: python -m experiments sweep --figure ID [--preset smoke|paper]")
    return 0

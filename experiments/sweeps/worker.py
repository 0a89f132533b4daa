"""Running one sweep point, wherever it runs: a local worker process, submitit's debug executor, a Slurm job.

:func:`run_point` marks the point ``running`` (host, pid, attempt, Slurm job id), then runs it: a fresh
run when the point has no run directory yet, a resume (``study.resume``) when it has one that is not
complete — so a worker that was killed, a sweep that was interrupted and a Slurm job that was preempted
all continue from the run's last checkpoint — and nothing when it is complete. It ends ``done`` or
``failed`` with the error in one line (a divergence says so: resuming would only repeat it). It never
raises for a failing run (submitit's debug executor would open a debugger on an exception); it returns the
final state. An interruption (Ctrl-C, or the ``SystemExit`` with which submitit ends a job it has just
requeued) sets the point back to ``pending`` and is re-raised.

:class:`PointJob` is the callable submitted through submitit: a ``submitit.helpers.Checkpointable``, so
on a preemption or a time-out Slurm requeues it with the same arguments (submitit's checkpointing
protocol) and the requeued job resumes the run from its checkpoint.

``python -m experiments.sweeps.worker SWEEP_DIR INDEX THREADS`` is the local executor's worker process.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

import submitit
import torch

from experiments.config import config_from_dict
from experiments.runs import COMPLETE, Diverged, read_status, torch_threads
from experiments.studies.registry import get_study
from experiments.sweeps.state import DONE, FAILED, PENDING, RUNNING, SweepDir, find_point_run, worker_identity

DIVERGED_PREFIX = "the run diverged: "
"""Start of a failed point's error when its run diverged (``--resume`` does not retry those)."""
PR_SET_PDEATHSIG = 1


def run_point(sweep_dir: str | Path, index: int, threads: int = 1) -> str:
    """Run (or continue) point ``index`` of the sweep at ``sweep_dir`` with ``threads`` torch threads;
    returns ``done`` or ``failed`` (module docstring)."""
    sweep = SweepDir.load(sweep_dir)
    entry = sweep.points[index]
    previous = sweep.read_point(index)
    sweep.set_point(index, RUNNING, attempts=int(previous.get("attempts", 0)) + 1, **worker_identity())
    try:
        run_dir = _run(sweep, index, entry, threads)
    except Diverged as err:
        sweep.set_point(index, FAILED, error=DIVERGED_PREFIX + err.message, run_dir=_relative(sweep, index))
        return FAILED
    except (KeyboardInterrupt, SystemExit) as err:  # Ctrl-C, or submitit requeueing a preempted job
        why = "requeued by Slurm" if isinstance(err, SystemExit) else "interrupted"
        sweep.set_point(
            index,
            PENDING,
            note=f"{why}; continues from the run's last checkpoint",
            run_dir=_relative(sweep, index),
        )
        raise
    except Exception as err:  # noqa: BLE001 -- any error fails the point alone; the sweep goes on
        traceback.print_exc()
        sweep.set_point(
            index, FAILED, error=one_line(f"{type(err).__name__}: {err}"), run_dir=_relative(sweep, index)
        )
        return FAILED
    sweep.set_point(index, DONE, run_dir=str(run_dir.relative_to(sweep.path)))
    return DONE


def _run(sweep: SweepDir, index: int, entry: dict[str, Any], threads: int) -> Path:
    study = get_study(sweep.study)
    existing = find_point_run(sweep, index)
    with torch_threads(threads):
        if existing is None:
            cfg = config_from_dict(
                study.config_class, {**entry["config"], "out": str(sweep.point_dir(index))}
            )
            cfg = dataclasses.replace(cfg, device=cfg.resolved_device())  # where the point runs
            cfg.check_machine()
            return study.run(cfg)
        status = read_status(existing)
        if status is not None and status["state"] == COMPLETE:
            return existing
        return study.resume(existing)


def _relative(sweep: SweepDir, index: int) -> str | None:
    try:
        run_dir = find_point_run(sweep, index)
    except Exception:  # noqa: BLE001 -- the error being reported matters more than the run directory
        return None
    return None if run_dir is None else str(run_dir.relative_to(sweep.path))


def one_line(text: str) -> str:
    return " ".join(str(text).split())


class PointJob(submitit.helpers.Checkpointable):
    """``PointJob()(sweep_dir, index, threads)`` runs one point (:func:`run_point`); requeued by Slurm
    on preemption or time-out with the same arguments, it resumes the run from its checkpoint."""

    def __call__(self, sweep_dir: str, index: int, threads: int) -> str:
        return run_point(sweep_dir, index, threads)


def die_with_parent() -> None:
    """Ask Linux to kill this process when the thread that started it ends (a killed sweep leaves no
    orphan workers writing into its points); elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    sweep_dir, index, threads = sys.argv[1:] if argv is None else argv
    die_with_parent()
    torch.set_num_threads(int(threads))
    return 0 if run_point(sweep_dir, int(index), int(threads)) == DONE else 1


if __name__ == "__main__":
    sys.exit(main())

"""Where a sweep's points run: ``local`` (a pool of worker processes here), ``slurm`` (submitit job arrays)
or ``debug`` (submitit's in-process executor, for tests). None of them schedules anything itself.

* ``local`` — a ``concurrent.futures`` pool of ``--jobs`` slots (default: the core count), each running one
  point at a time in its own worker process (``python -m experiments.sweeps.worker``) with
  ``--threads-per-run`` threads (default 1: torch's intra-op threads and the BLAS variables). A point runs
  in a process of its own rather than inside a ``ProcessPoolExecutor`` worker because a worker that dies
  there (killed, out of memory) breaks the whole pool and every point in flight; here it fails its point
  alone — ``failed``, with the signal or exit status and its ``log.txt`` — and the sweep goes on. Workers
  die with the sweep process (Linux ``PR_SET_PDEATHSIG``), so a killed sweep leaves none writing.
* ``slurm`` — ``submitit.AutoExecutor(cluster="slurm")`` and one job array (``map_array``) for the points,
  with ``--slurm-partition``, ``--slurm-account``, ``--gpus-per-run``, ``--cpus-per-run``,
  ``--timeout-min`` and ``--array-parallelism`` passed through ``update_parameters``. The submitted
  callable is :class:`experiments.sweeps.worker.PointJob` (a ``Checkpointable``): on a preemption or a
  time-out submitit requeues it and it resumes its run from the last checkpoint. The command returns once
  the array is submitted; ``--status`` follows it. Without Slurm on the machine it is a one-line error.
* ``debug`` — ``submitit.DebugExecutor``: every point in this process, one after the other.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from typing import ClassVar

import submitit

from experiments.runs import THREAD_ENVIRONMENT
from experiments.sweeps.grid import SweepError
from experiments.sweeps.state import FAILED, LOG_FILE, POINTS_DIR, SUBMITIT_DIR, SweepDir
from experiments.sweeps.worker import PointJob, one_line

EXECUTORS: tuple[str, ...] = ("local", "slurm", "debug")
SLURM_COMMANDS = ("sbatch", "srun")
DEFAULT_TIMEOUT_MIN = 240
"""Slurm time limit per job (4 h); a point that needs longer is requeued from its checkpoint by submitit."""
DEFAULT_CPUS_PER_RUN = 2
IMAGE_STUDY_GPUS = 1
"""GPUs per Slurm job for the image studies (cloning, continual) unless ``--gpus-per-run`` says; bitflip 0."""
WORKER_MODULE = "experiments.sweeps.worker"
Report = Callable[[int], None]


@dataclass
class ExecutorOptions:
    """An executor and its options as recorded in ``sweep.json`` (None: the executor's default)."""

    kind: str = "local"
    jobs: int | None = None
    threads_per_run: int | None = None
    slurm_partition: str | None = None
    slurm_account: str | None = None
    gpus_per_run: int | None = None
    cpus_per_run: int | None = None
    timeout_min: int | None = None
    array_parallelism: int | None = None

    OWN: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = (
        ("jobs", ("local",)),
        ("slurm_partition", ("slurm",)),
        ("slurm_account", ("slurm",)),
        ("gpus_per_run", ("slurm",)),
        ("cpus_per_run", ("slurm",)),
        ("timeout_min", ("slurm",)),
        ("array_parallelism", ("slurm",)),
    )

    def check(self) -> None:
        """A :class:`SweepError` for an unknown executor, an option of another executor or a bad value."""
        if self.kind not in EXECUTORS:
            raise SweepError(f"--executor {self.kind!r} is not valid; choices: {', '.join(EXECUTORS)}")
        for name, kinds in self.OWN:
            if getattr(self, name) is not None and self.kind not in kinds:
                raise SweepError(
                    f"--{name.replace('_', '-')} only acts with --executor {' or '.join(kinds)} "
                    f"(here --executor {self.kind}); drop it"
                )
        for name in ("jobs", "threads_per_run", "cpus_per_run", "timeout_min", "array_parallelism"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise SweepError(f"--{name.replace('_', '-')}={value} must be at least 1")
        if self.gpus_per_run is not None and self.gpus_per_run < 0:
            raise SweepError(f"--gpus-per-run={self.gpus_per_run} must be at least 0")

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> ExecutorOptions:
        return cls(**values)  # type: ignore[arg-type]

    def threads(self) -> int:
        """Threads per run: ``--threads-per-run``, else the Slurm job's CPUs, else 1."""
        if self.threads_per_run is not None:
            return self.threads_per_run
        if self.kind == "slurm":
            return self.cpus_per_run or DEFAULT_CPUS_PER_RUN
        return 1


def run_points(sweep: SweepDir, indices: list[int], options: ExecutorOptions, report: Report) -> None:
    """Run (local, debug) or submit (slurm) the points ``indices`` of ``sweep``; ``report(index)`` is
    called after each point ends (local, debug) or is submitted (slurm)."""
    if options.kind == "local":
        run_local(sweep, indices, options.jobs or os.cpu_count() or 1, options.threads(), report)
    elif options.kind == "debug":
        run_debug(sweep, indices, options.threads(), report)
    else:
        submit_slurm(sweep, indices, options, report)


def worker_environment(threads: int) -> dict[str, str]:
    """This process's environment with the BLAS thread pools set to ``threads``."""
    return {**os.environ, **{name: str(threads) for name in THREAD_ENVIRONMENT}}


def run_local(sweep: SweepDir, indices: list[int], jobs: int, threads: int, report: Report) -> None:
    """Each point in its own worker process, at most ``jobs`` at a time (module docstring)."""
    env = worker_environment(threads)
    lock = threading.Lock()

    def launch(index: int) -> int:
        log_path = sweep.point_dir(index) / LOG_FILE
        with log_path.open("ab") as log:
            command = [sys.executable, "-m", WORKER_MODULE, str(sweep.path), str(index), str(threads)]
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env).wait()

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="sweep-point") as pool:
        futures = {pool.submit(launch, index): index for index in indices}
        for future in as_completed(futures):
            index, code = futures[future], future.result()
            with lock:
                if code != 0 and sweep.read_point(index)["state"] != FAILED:  # died without saying why
                    how = (
                        f"killed by {signal.Signals(-code).name}" if code < 0 else f"ended with status {code}"
                    )
                    log = f"{POINTS_DIR}/{sweep.points[index]['name']}/{LOG_FILE}"
                    sweep.set_point(index, FAILED, error=f"the worker process was {how} (see {log})")
                sweep.refresh()
                report(index)


def run_debug(sweep: SweepDir, indices: list[int], threads: int, report: Report) -> None:
    """Every point in this process through submitit's debug executor."""
    executor = submitit.DebugExecutor(folder=sweep.path / SUBMITIT_DIR / "%j")
    jobs = [(index, executor.submit(PointJob(), str(sweep.path), index, threads)) for index in indices]
    for index, job in jobs:
        job.result()  # PointJob never raises: a failure is the point's state
        sweep.refresh()
        report(index)


def check_slurm() -> None:
    """A one-line :class:`SweepError` when this machine has no Slurm commands."""
    missing = [name for name in SLURM_COMMANDS if shutil.which(name) is None]
    if missing:
        raise SweepError(
            f"--executor slurm needs Slurm, but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} "
            f"not on PATH on this machine: run the sweep from a Slurm login node, or use --executor local"
        )


def slurm_parameters(options: ExecutorOptions, study: str, threads: int) -> dict[str, object]:
    """The ``update_parameters`` of the Slurm job array (module docstring)."""
    gpus = (
        options.gpus_per_run
        if options.gpus_per_run is not None
        else (0 if study == "bitflip" else IMAGE_STUDY_GPUS)
    )
    params: dict[str, object] = {
        "name": f"lop-{study}",
        "timeout_min": options.timeout_min or DEFAULT_TIMEOUT_MIN,
        "cpus_per_task": options.cpus_per_run or max(threads, DEFAULT_CPUS_PER_RUN),
        "gpus_per_node": gpus,
        "tasks_per_node": 1,
        "nodes": 1,
    }
    for name, key in (
        ("slurm_partition", "slurm_partition"),
        ("slurm_account", "slurm_account"),
        ("array_parallelism", "slurm_array_parallelism"),
    ):
        value = getattr(options, name)
        if value is not None:
            params[key] = value
    return params


def submit_slurm(sweep: SweepDir, indices: list[int], options: ExecutorOptions, report: Report) -> None:
    """One Slurm job array for ``indices`` (module docstring); records each point's job id."""
    check_slurm()
    threads = options.threads()
    executor = submitit.AutoExecutor(folder=sweep.path / SUBMITIT_DIR / "%j", cluster="slurm")
    try:
        executor.update_parameters(**slurm_parameters(options, sweep.study, threads))
        jobs = executor.map_array(
            PointJob(), [str(sweep.path)] * len(indices), indices, [threads] * len(indices)
        )
    except (ValueError, RuntimeError, subprocess.CalledProcessError) as err:
        raise SweepError(f"submitting the job array to Slurm failed: {one_line(str(err))}") from None
    for index, job in zip(indices, jobs):
        sweep.note_point(index, job_id=str(job.job_id))
        report(index)
    sweep.refresh()


ACTIVE_SLURM_STATES = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED")


def slurm_job_active(sweep: SweepDir, job_id: str) -> bool:
    """Whether the Slurm job ``job_id`` of a point is still queued or running (asked through submitit,
    which runs ``sacct``); a machine without Slurm cannot tell, which is a :class:`SweepError`."""
    check_slurm()
    try:
        state = submitit.SlurmJob(folder=sweep.path / SUBMITIT_DIR / "%j", job_id=job_id).state
    except Exception as err:  # noqa: BLE001 -- sacct missing or failing: do not guess (a second copy would write the same run)
        raise SweepError(
            f"cannot tell whether Slurm job {job_id} still runs ({one_line(str(err))}); "
            f"cancel it (scancel {job_id}) or wait, then resume again"
        ) from None
    return str(state).upper().split()[0] in ACTIVE_SLURM_STATES

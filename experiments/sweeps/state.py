"""A sweep directory: ``sweep.json``, one folder per point, and the state of every point.

Layout of ``<out>/sweeps/<UTC stamp>-NNN/`` (created exclusively, like a run directory):

* ``sweep.json`` — the study, preset, grid (:meth:`experiments.sweeps.grid.Grid.to_dict`), fixed keys, the
  named figure sweep (or none), the executor and its options (and every later executor, ``executors``),
  the total steps, and per point: index, axis labels, overrides, resolved configuration, steps, and its
  state, error, run directory, attempts and Slurm job id;
* ``points/NNN/`` — the point's ``out``: its run directory ``points/NNN/<study>/<stamp>/`` is a normal run
  directory (config.json, status.json, metrics.jsonl, checkpoint.pt, figures); ``point.json`` holds the
  point's state as its worker last wrote it; ``log.txt`` the worker's output (local executor);
* ``submitit/`` — submitit's job files (debug and Slurm executors); ``plots/<stamp>/`` — sweep figures.

States (:data:`POINT_STATES`): ``pending`` → ``running`` → ``done`` | ``failed``; a sweep that is resumed
sets ``failed`` points and ``running`` points whose worker is gone back to ``pending``; a Slurm job
requeued after a preemption reports ``running`` again (:data:`TRANSITIONS`; anything else is a bug,
raised as ValueError). Each ``point.json`` has one writer at a time — the worker running the point, or
after the worker died the coordinator — and is replaced atomically; ``sweep.json`` is written only by
the process that runs ``sweep`` (start, ``--resume``, ``--status``), which folds the ``point.json`` files
into it (:meth:`SweepDir.refresh`). Nothing needs a lock, so a sweep directory on a cluster's shared
file system works the same.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.runs import CONFIG_FILE, RunFileError, new_run_dir, read_status
from experiments.sweeps.grid import Point, SweepError

SWEEP_FILE = "sweep.json"
POINT_FILE = "point.json"
POINTS_DIR = "points"
LOG_FILE = "log.txt"
SWEEPS_DIR = "sweeps"
SUBMITIT_DIR = "submitit"
SWEEP_FORMAT = 1
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
POINT_STATES: tuple[str, ...] = (PENDING, RUNNING, DONE, FAILED)
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({RUNNING, FAILED}),
    RUNNING: frozenset({RUNNING, DONE, FAILED, PENDING}),
    FAILED: frozenset({PENDING}),
    DONE: frozenset(),
}
"""Allowed state changes (running → running: a requeued Slurm job starting again)."""


def check_transition(old: str, new: str) -> None:
    if new not in TRANSITIONS.get(old, frozenset()):
        raise ValueError(
            f"a point cannot go from {old!r} to {new!r}; allowed from {old!r}: "
            f"{', '.join(sorted(TRANSITIONS.get(old, ()))) or 'none (final)'}"
        )


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path: Path, body: Any) -> None:
    """``path`` replaced by ``body`` as JSON (temporary file in the same folder, then ``os.replace``)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(body, indent=2, allow_nan=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: is {path.parent} {what}?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunFileError(f"{path} is not valid JSON ({err})") from None


@dataclass
class SweepDir:
    """A sweep directory and its ``sweep.json`` body (module docstring)."""

    path: Path
    body: dict[str, Any]

    @classmethod
    def create(cls, root: str | Path, header: dict[str, Any], points: list[Point]) -> SweepDir:
        """A new sweep directory under ``root/sweeps`` with every point ``pending``."""
        path = new_run_dir(root, SWEEPS_DIR).resolve()
        entries = []
        for point in points:
            (path / POINTS_DIR / point.name).mkdir(parents=True)
            entries.append(
                {
                    "index": point.index,
                    "name": point.name,
                    "labels": point.labels,
                    "overrides": point.overrides,
                    "config": point.stored_config(f"{POINTS_DIR}/{point.name}"),
                    "steps": point.steps,
                    "state": PENDING,
                    "error": "",
                    "run_dir": None,
                    "attempts": 0,
                    "job_id": None,
                    "updated_utc": now_utc(),
                }
            )
        body = {
            "format": SWEEP_FORMAT,
            "created_utc": now_utc(),
            **header,
            "total_steps": sum(p.steps for p in points),
            "points": entries,
        }
        sweep = cls(path, body)
        sweep.save()
        return sweep

    @classmethod
    def load(cls, path: str | Path) -> SweepDir:
        path = Path(path).resolve()
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: no such sweep directory")
        body = read_json(path / SWEEP_FILE, "a sweep directory")
        if (
            not isinstance(body, dict)
            or body.get("format") != SWEEP_FORMAT
            or not isinstance(body.get("points"), list)
        ):
            raise RunFileError(f"{path / SWEEP_FILE} is not a sweep file of format {SWEEP_FORMAT}")
        return cls(path, body)

    @property
    def points(self) -> list[dict[str, Any]]:
        return self.body["points"]

    @property
    def study(self) -> str:
        return str(self.body["study"])

    def point_dir(self, index: int) -> Path:
        return self.path / POINTS_DIR / self.points[index]["name"]

    def save(self) -> None:
        write_json_atomic(self.path / SWEEP_FILE, self.body)

    def read_point(self, index: int) -> dict[str, Any]:
        """The point's ``point.json`` (its entry in ``sweep.json`` when the worker has not written one)."""
        path = self.point_dir(index) / POINT_FILE
        if not path.is_file():
            return {k: self.points[index][k] for k in ("state", "error", "run_dir", "attempts", "job_id")}
        body = read_json(path, "a sweep point")
        if not isinstance(body, dict) or body.get("state") not in POINT_STATES:
            raise RunFileError(f"{path} has no valid 'state'; states: {', '.join(POINT_STATES)}")
        return body

    def set_point(self, index: int, state: str, **info: Any) -> dict[str, Any]:
        """Move point ``index`` to ``state`` in its ``point.json`` (checked by :data:`TRANSITIONS`)."""
        current = self.read_point(index)
        check_transition(current["state"], state)
        body = {**current, **info, "state": state, "updated_utc": now_utc()}
        if state != FAILED and "error" not in info:
            body["error"] = ""
        if "note" not in info:  # a note speaks of the change it came with only
            body.pop("note", None)
        write_json_atomic(self.point_dir(index) / POINT_FILE, body)
        return body

    def note_point(self, index: int, **info: Any) -> dict[str, Any]:
        """Record ``info`` (a Slurm job id, …) in point ``index``'s ``point.json``, its state unchanged."""
        body = {**self.read_point(index), **info, "updated_utc": now_utc()}
        write_json_atomic(self.point_dir(index) / POINT_FILE, body)
        return body

    def refresh(self) -> None:
        """Fold every ``point.json`` into ``sweep.json`` (and find each point's run directory)."""
        for index, entry in enumerate(self.points):
            entry.update(self.read_point(index))
            run_dir = find_point_run(self, index)
            entry["run_dir"] = None if run_dir is None else str(run_dir.relative_to(self.path))
        self.save()

    def counts(self) -> dict[str, int]:
        return {state: sum(p["state"] == state for p in self.points) for state in POINT_STATES}


def find_point_run(sweep: SweepDir, index: int) -> Path | None:
    """The run directory of point ``index`` (None before its run started); two are a RunFileError."""
    parent = sweep.point_dir(index) / sweep.study
    runs = sorted(d for d in parent.glob("*") if (d / CONFIG_FILE).is_file()) if parent.is_dir() else []
    if len(runs) > 1:
        raise RunFileError(f"{parent} holds {len(runs)} run directories; a sweep point has one")
    return runs[0] if runs else None


def run_state(run_dir: Path | None) -> str | None:
    """The run's ``status.json`` state (None without a run or a status)."""
    if run_dir is None:
        return None
    status = read_status(run_dir)
    return None if status is None else str(status["state"])


def worker_identity() -> dict[str, Any]:
    """Who runs a point: host, process id and, on Slurm, the job id."""
    job = os.environ.get("SLURM_ARRAY_JOB_ID")
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    job_id = f"{job}_{task}" if job and task else os.environ.get("SLURM_JOB_ID")
    return {"host": socket.gethostname(), "pid": os.getpid(), **({"job_id": job_id} if job_id else {})}


def process_alive(host: str | None, pid: int | None, marker: str) -> bool:
    """Whether process ``pid`` on this host still runs a command mentioning ``marker`` (the sweep
    directory); False for another host (its processes cannot be seen from here)."""
    if not pid or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.is_file():
        return marker in cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return True


def require_sweep_dir(path: str | Path) -> SweepDir:
    path = Path(path)
    if not (path / SWEEP_FILE).is_file():
        raise SweepError(f"{path} is not a sweep directory (no {SWEEP_FILE})")
    return SweepDir.load(path)

"""Run directories, their status, metric logs and a progress bar: where every experiment's results live.

A run is a fresh directory ``<root>/<study>/<UTC timestamp>-<counter>`` that is created exclusively
(``mkdir(exist_ok=False)``), so a run never overwrites an earlier one, even when two start in the same
second. Studies create it only after the whole configuration has been checked (:func:`open_run`), so a
mistake leaves nothing behind. It holds:

* ``config.json`` — the fully resolved configuration and the environment that can change results
  (:func:`result_environment`: torch and numpy versions, torch's intra-op thread count, the default
  dtype; the device is a configuration key);
* ``status.json`` — the run's state (:data:`RUN_STATES`), rewritten atomically (``os.replace``):
  ``running`` from the start (a run killed with ``kill -9`` stays ``running``), then ``complete`` once
  every artefact is written, ``diverged`` when training produced a non-finite loss or features
  (:class:`Diverged`: the run stops and keeps its metrics so far), or ``failed`` when it raised;
  ``message`` says what happened;
* ``metrics.jsonl`` — one JSON object per logged step, flushed as it is written, so a crashed run keeps
  what it logged. A killed run may leave a torn last line: :func:`read_metrics` drops it and says so;
  any other unreadable line is a :class:`RunFileError` naming the file and line;
* ``checkpoint.pt`` — with ``checkpoint_every=N``, the state to resume from
  (:mod:`experiments.checkpoint`); ``python -m experiments STUDY --resume RUN_DIR`` continues the run in
  the same directory, cutting ``metrics.jsonl`` back to the lines the checkpoint counted
  (``MetricsLog(keep_lines=…)``) and marking it ``running`` again until it ends;
* its figures (never overwritten: :func:`create_exclusive`).

Non-finite floats are written as JSON ``null`` (JSON has no NaN); :func:`load_metrics` reads them back
as ``nan``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import torch

from experiments.config import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Self

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
STATUS_FILE = "status.json"
RUNNING, COMPLETE, DIVERGED, FAILED = "running", "complete", "diverged", "failed"
RUN_STATES: tuple[str, ...] = (RUNNING, COMPLETE, DIVERGED, FAILED)
MAX_RUN_DIR_ATTEMPTS = 10_000
PROGRESS_WIDTH = 24
PROGRESS_MIN_INTERVAL_S = 0.1
THREAD_ENVIRONMENT = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""Environment variables that set the BLAS thread pools (recorded when set)."""


class RunFileError(ValueError):
    """A run directory's file is missing, unreadable or inconsistent; the message names the file."""


class Diverged(Exception):
    """Training produced a non-finite loss or non-finite features: the run stops with this message, its
    metrics so far are kept and its status becomes ``diverged``. ``where`` says where (seed, step, …);
    ``run_dir`` is set by :func:`open_run`."""

    def __init__(self, message: str, **where: Any) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.run_dir: Path | None = None

    @classmethod
    def at(cls, what: str, **where: Any) -> Diverged:
        """``Diverged("<what> at seed 0, task 1, step 57", seed=0, task=1, step=57)``."""
        place = ", ".join(f"{k} {v}" for k, v in where.items())
        return cls(f"{what} at {place}" if place else what, **where)


def require_finite(value: float, what: str, **where: Any) -> float:
    """``value`` when it is finite; else :class:`Diverged` naming ``what`` and ``where``."""
    if not math.isfinite(value):
        raise Diverged.at(f"{what} is {value}", **where)
    return value


def check_out_root(root: str | Path, study: str) -> Path:
    """``root`` as a Path after checking that run directories can be made under ``root/study``: no
    existing part of that path may be a file. Raises :class:`ConfigError` (before any work is done)."""
    target = Path(root) / study
    for path in (target, *target.parents):
        if path.exists():
            if not path.is_dir():
                raise ConfigError(
                    f"out={root}: {path} is a file, not a folder; give a folder for run directories"
                )
            if not os.access(path, os.W_OK | os.X_OK):
                raise ConfigError(f"out={root}: {path} is not writable; give a folder you can write to")
            break
    return Path(root)


def new_run_dir(root: str | Path, study: str) -> Path:
    """Create and return a new, empty run directory ``root/study/YYYYmmdd-HHMMSS-NNN`` (never reused)."""
    if not study or "/" in study or study.startswith("."):
        raise ValueError(
            f"study name {study!r} must be a non-empty plain name (no '/', not starting with '.')"
        )
    parent = check_out_root(root, study) / study
    parent.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    for counter in range(MAX_RUN_DIR_ATTEMPTS):
        candidate = parent / f"{stamp}-{counter:03d}"
        try:
            candidate.mkdir(exist_ok=False)
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(
        f"could not create a fresh run directory under {parent} after {MAX_RUN_DIR_ATTEMPTS} tries"
    )


def _installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, None when it is not installed (nothing is imported)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def result_environment() -> dict[str, Any]:
    """What besides the configuration changes a run's numbers: torch and numpy versions, torch's
    intra-op thread count (threads=2 and threads=1 give different float sums), the default dtype, the
    numba version (the bit-flipping study's fused engine; None without numba) and the BLAS thread variables
    that are set. Studies call it while their thread setting is in force."""
    return {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "numba": _installed_version("numba"),
        "torch_threads": torch.get_num_threads(),
        "default_dtype": str(torch.get_default_dtype()),
        **{name.lower(): os.environ[name] for name in THREAD_ENVIRONMENT if name in os.environ},
    }


RESULT_ENVIRONMENT_KEYS: tuple[str, ...] = ("torch", "numpy", "torch_threads", "default_dtype")
"""The entries of :func:`result_environment` that runs must share to be pooled (analysis.group_runs)."""


def save_config(run_dir: str | Path, cfg: Any, extra: dict[str, Any] | None = None) -> Path:
    """Write ``config.json``: the resolved configuration plus the software environment.

    ``cfg`` is a configuration with ``to_dict()`` or a plain dict. Refuses to overwrite an existing file.
    """
    path = Path(run_dir) / CONFIG_FILE
    if path.exists():
        raise FileExistsError(f"{path} already exists; every run writes its own directory")
    body = {
        "config": cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg),
        "config_class": type(cfg).__name__,
        "environment": {
            "python": platform.python_version(),
            **result_environment(),
            "cuda_available": torch.cuda.is_available(),
            "platform": platform.platform(),
            "argv": sys.argv,
        },
    }
    if extra:
        body.update(_sanitize(extra))
    path.write_text(json.dumps(body, indent=2, allow_nan=False) + "\n")
    return path


def read_config_file(run_dir: str | Path) -> dict[str, Any]:
    """The whole ``config.json`` of a run (config, config_class, environment, resolved)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a run directory?")
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunFileError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
        raise RunFileError(f"{path} has no 'config' object; it was not written by a study")
    return body


def load_config(run_dir: str | Path) -> dict[str, Any]:
    """The ``config`` section of a run's ``config.json``."""
    return read_config_file(run_dir)["config"]


def write_status(run_dir: str | Path, state: str, message: str = "", **details: Any) -> Path:
    """Atomically (re)write ``status.json`` with ``state`` ∈ :data:`RUN_STATES`, a message and details."""
    if state not in RUN_STATES:
        raise ValueError(f"run state {state!r} is not one of {', '.join(RUN_STATES)}")
    path = Path(run_dir) / STATUS_FILE
    body = {
        "state": state,
        "message": message,
        "updated_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **_sanitize(details),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{STATUS_FILE}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(body, indent=2, allow_nan=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def read_status(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's ``status.json`` (None for runs written before status files existed)."""
    path = Path(run_dir) / STATUS_FILE
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunFileError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(body, dict) or body.get("state") not in RUN_STATES:
        raise RunFileError(f"{path} has no valid 'state'; states: {', '.join(RUN_STATES)}")
    return body


@contextlib.contextmanager
def open_run(root: str | Path, study: str, cfg: Any, extra: dict[str, Any] | None = None) -> Iterator[Path]:
    """Create the run directory, write ``config.json`` and ``status.json`` (``running``) and yield the
    directory; on leaving, the status becomes ``complete``, or ``diverged`` (:class:`Diverged`, re-raised
    with ``run_dir`` set) or ``failed`` (any other exception, re-raised). Call it only once the whole
    configuration has been checked: this is where the directory first exists."""
    run_dir = new_run_dir(root, study)
    save_config(run_dir, cfg, extra)
    with tracked_run(run_dir):
        yield run_dir


@contextlib.contextmanager
def tracked_run(run_dir: Path, message: str = "") -> Iterator[Path]:
    """Mark ``run_dir`` ``running`` (with ``message``), yield it, then mark it ``complete``, ``diverged``
    or ``failed`` as :func:`open_run` does. A resumed run goes through it again (``running`` until it
    ends)."""
    write_status(run_dir, RUNNING, message)
    try:
        yield run_dir
    except Diverged as err:
        err.run_dir = run_dir
        write_status(run_dir, DIVERGED, err.message, **err.where)
        raise
    except (KeyboardInterrupt, SystemExit) as err:  # Ctrl-C, or a Slurm job requeued by submitit
        write_status(
            run_dir, FAILED, f"interrupted ({type(err).__name__}); continue it with --resume {run_dir}"
        )
        raise
    except BaseException as err:
        write_status(run_dir, FAILED, f"{type(err).__name__}: {err}")
        raise
    write_status(run_dir, COMPLETE)


def check_resumable(run_dir: str | Path) -> dict[str, Any]:
    """The ``config.json`` body of a run that ``--resume`` may continue; a complete run, or a directory that
    is not a run, is a :class:`RunFileError` (a FileNotFoundError for a missing one)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"--resume {run_dir}: no such run directory")
    body = read_config_file(run_dir)
    status = read_status(run_dir)
    if status is not None and status["state"] == COMPLETE:
        raise RunFileError(
            f"--resume {run_dir}: the run is complete already (status.json: complete); nothing to do"
        )
    return body


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` intra-op torch threads (0: leave torch's setting), then restore."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class MetricsLog:
    """Append-only ``metrics.jsonl`` writer: ``log(step=..., **metrics)`` writes one flushed line.

    ``keep_lines=N`` (a resumed run) first cuts the file back to its first N lines — those its checkpoint
    counted; a torn last line and the lines logged after the checkpoint are dropped. ``lines`` is the
    number of lines the file holds; :meth:`sync` forces them to disk (before a checkpoint counts them).
    """

    def __init__(self, run_dir: str | Path, keep_lines: int | None = None) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.lines = 0 if keep_lines is None else truncate_lines(self.path, keep_lines)
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")

    def log(self, step: int, **metrics: Any) -> dict[str, Any]:
        if self._file is None:
            raise ValueError(f"MetricsLog for {self.path} is closed")
        record = {"step": int(step), **_sanitize(metrics)}
        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()
        self.lines += 1
        return record

    def sync(self) -> None:
        """Flush the lines written so far to the disk (``fsync``)."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def truncate_lines(path: Path, keep: int) -> int:
    """Cut ``path`` back to its first ``keep`` newline-terminated lines; returns ``keep``. A file with fewer
    complete lines is a :class:`RunFileError` (it was changed after the checkpoint that counted them)."""
    data = path.read_bytes() if path.is_file() else b""
    offset = 0
    for number in range(keep):
        end = data.find(b"\n", offset)
        if end < 0:
            raise RunFileError(
                f"{path} has {number} complete lines, but the run's checkpoint counted {keep}: the file was "
                f"changed after the checkpoint; it cannot be resumed"
            )
        offset = end + 1
    if offset != len(data) or not path.is_file():
        with path.open("ab") as handle:
            handle.truncate(offset)
    return keep


@dataclass(frozen=True)
class MetricsContents:
    """The records of a ``metrics.jsonl`` and whether a torn last line (a killed run) was dropped."""

    records: list[dict[str, Any]]
    torn_last_line: bool


def read_metrics(run_dir: str | Path) -> MetricsContents:
    """Every record of a run's ``metrics.jsonl`` in order (``null`` read back as ``nan``).

    A last line without its newline that does not parse is a record torn by a kill: it is dropped and
    ``torn_last_line`` is set. Any other line that is not a JSON object is a :class:`RunFileError`
    naming the file and the line number.
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a run directory?")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RunFileError(f"{path} is not UTF-8 text ({err})") from None
    lines = text.split("\n")  # a complete file ends with "\n": its last piece is empty
    records, torn = [], False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as err:
            record, problem = None, str(err)
        else:
            problem = "" if isinstance(record, dict) else f"a JSON {type(record).__name__}"
        if problem:
            if number == len(lines):  # the last piece had no newline: written when the run was killed
                torn = True
                break
            raise RunFileError(f"{path}, line {number}: not a JSON object ({problem})")
        records.append({k: (math.nan if v is None else v) for k, v in record.items()})
    return MetricsContents(records, torn)


def load_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every record of a run's ``metrics.jsonl`` (:func:`read_metrics`, a torn last line dropped)."""
    return read_metrics(run_dir).records


def create_exclusive(path: str | Path) -> IO[bytes]:
    """Open ``path`` for writing only if it does not exist yet (figures are never overwritten)."""
    try:
        return Path(path).open("xb")
    except FileExistsError:
        raise FileExistsError(
            f"{path} already exists; figures are never overwritten (give a new --output)"
        ) from None


def _sanitize(value: Any) -> Any:
    """Tensors and numpy scalars to python numbers, non-finite floats to None, containers recursively."""
    if isinstance(value, dict):
        return {str(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return _sanitize(value.item() if value.numel() == 1 else value.tolist())
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ProgressBar:
    """A one-line progress bar on stderr: ``[#####-----] 50/100 loss=0.31 ETA 0:00:12``.

    Enabled only when ``enabled`` is true and the stream is a terminal (``force=True`` skips the tty
    test, for tests). Redraws at most every ``PROGRESS_MIN_INTERVAL_S`` seconds.
    """

    def __init__(
        self,
        total: int,
        desc: str = "",
        enabled: bool = True,
        stream: IO[str] | None = None,
        force: bool = False,
    ) -> None:
        if total < 0:
            raise ValueError(f"total must be ≥ 0, got {total}")
        self.total = total
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled and (is_tty or force)
        self.count = 0
        self.postfix: dict[str, Any] = {}
        self._start = time.monotonic()
        self._last_draw = -math.inf

    def update(self, n: int = 1, **postfix: Any) -> None:
        self.count += n
        self.postfix.update(postfix)
        now = time.monotonic()
        if self.enabled and (now - self._last_draw >= PROGRESS_MIN_INTERVAL_S or self.count >= self.total):
            self._last_draw = now
            self.stream.write("\r" + self.render(now))
            self.stream.flush()

    def render(self, now: float | None = None) -> str:
        elapsed = (time.monotonic() if now is None else now) - self._start
        frac = min(1.0, self.count / self.total) if self.total else 1.0
        filled = round(frac * PROGRESS_WIDTH)
        eta = elapsed / self.count * (self.total - self.count) if self.count else math.nan
        extras = " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.postfix.items()
        )
        eta_text = "?" if math.isnan(eta) else str(_dt.timedelta(seconds=int(eta)))
        head = f"{self.desc} " if self.desc else ""
        return (
            f"{head}[{'#' * filled}{'-' * (PROGRESS_WIDTH - filled)}] {self.count}/{self.total} "
            f"{extras} ETA {eta_text}"
        )

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

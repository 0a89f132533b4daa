"""Run directories, metric logs and a progress bar: where every experiment's results live on disk.

A run is a fresh directory ``<root>/<study>/<UTC timestamp>-<counter>`` that is created exclusively
(``mkdir(exist_ok=False)``), so a run never overwrites an earlier one, even when two start in the same
second. It holds ``config.json`` (the fully resolved configuration), ``metrics.jsonl`` (one JSON object
per logged step, flushed as it is written, so a crashed run keeps what it logged) and its figures.

Non-finite floats are written as JSON ``null`` (JSON has no NaN); :func:`load_metrics` reads them back
as ``nan``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import IO, Any

import torch

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
MAX_RUN_DIR_ATTEMPTS = 10_000
PROGRESS_WIDTH = 24
PROGRESS_MIN_INTERVAL_S = 0.1


def new_run_dir(root: str | Path, study: str) -> Path:
    """Create and return a new, empty run directory ``root/study/YYYYmmdd-HHMMSS-NNN`` (never reused)."""
    if not study or "/" in study or study.startswith("."):
        raise ValueError(f"study name {study!r} must be a non-empty plain name (no '/', not starting with '.')")
    parent = Path(root) / study
    parent.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    for counter in range(MAX_RUN_DIR_ATTEMPTS):
        candidate = parent / f"{stamp}-{counter:03d}"
        try:
            candidate.mkdir(exist_ok=False)
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"could not create a fresh run directory under {parent} after {MAX_RUN_DIR_ATTEMPTS} tries")


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
            "torch": torch.__version__,
            "cuda_available": torch.cuda.is_available(),
            "platform": platform.platform(),
            "argv": sys.argv,
        },
    }
    if extra:
        body.update(_sanitize(extra))
    path.write_text(json.dumps(body, indent=2, allow_nan=False) + "\n")
    return path


def load_config(run_dir: str | Path) -> dict[str, Any]:
    """The ``config`` section of a run's ``config.json``."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a run directory?")
    return json.loads(path.read_text())["config"]


class MetricsLog:
    """Append-only ``metrics.jsonl`` writer: ``log(step=..., **metrics)`` writes one flushed line."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")

    def log(self, step: int, **metrics: Any) -> dict[str, Any]:
        if self._file is None:
            raise ValueError(f"MetricsLog for {self.path} is closed")
        record = {"step": int(step), **_sanitize(metrics)}
        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "MetricsLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every record of a run's ``metrics.jsonl`` in order (``null`` read back as ``nan``)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a run directory?")
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            records.append({k: (math.nan if v is None else v) for k, v in json.loads(line).items()})
    return records


def _sanitize(value: Any) -> Any:
    """Tensors and numpy scalars to python numbers, non-finite floats to None, containers recursively."""
    if isinstance(value, dict):
        return {str(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
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
        self, total: int, desc: str = "", enabled: bool = True, stream: IO[str] | None = None, force: bool = False
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
        filled = int(round(frac * PROGRESS_WIDTH))
        eta = elapsed / self.count * (self.total - self.count) if self.count else math.nan
        extras = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.postfix.items())
        eta_text = "?" if math.isnan(eta) else str(_dt.timedelta(seconds=int(eta)))
        head = f"{self.desc} " if self.desc else ""
        return f"{head}[{'#' * filled}{'-' * (PROGRESS_WIDTH - filled)}] {self.count}/{self.total} {extras} ETA {eta_text}"

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

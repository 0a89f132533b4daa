"""Shared pieces of the benchmarks: timing, the machine's limits, peak memory, and the printed report.

Every benchmark prints, per figure, the value, the peer measured in the same run (what a user would pick
instead), their ratio and the fraction of this machine's limit, then small tables of how the cost
grows. Timings are medians after a warm-up; the lead re-measures on a quiet machine.
"""

from __future__ import annotations

import ctypes
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FP32_GFLOPS = 215.0
"""fp32 GEMM limit of the 2-core reference CPU (GFLOP/s, measured, issue 12)."""
FP64_GFLOPS = 111.0
"""fp64 GEMM limit of the same CPU."""
COPY_GBS = 43.0
"""Memory copy bandwidth of the same CPU (GB/s)."""


def gflops_limit(dtype_name: str) -> float:
    return FP64_GFLOPS if dtype_name == "float64" else FP32_GFLOPS


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_memory(fn: Callable[[], object], interval: float = 0.0005) -> float:
    """Peak resident memory above the level before the call, in bytes (Linux; sampled every ``interval``).

    glibc's free lists are trimmed first so that memory freed by earlier calls is not silently reused.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    base = _rss_bytes()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    peak[0] = max(peak[0], _rss_bytes())
    return float(peak[0] - base)


@dataclass
class Figure:
    """One benchmark figure beside its peer from the same run."""

    name: str
    value: float
    unit: str
    peer: str
    peer_value: float
    limit_fraction: float | None = None
    goal: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.peer_value if self.peer_value else float("inf")


def print_figures(figures: list[Figure]) -> None:
    print(f"{'figure':<52} {'value':>12} {'peer':<40} {'peer value':>12} {'ratio':>8} {'% limit':>8}  goal")
    for f in figures:
        lim = "" if f.limit_fraction is None else f"{100 * f.limit_fraction:.2f}"
        print(f"{f.name:<52} {f.value:>9.3f} {f.unit:<2} {f.peer:<40} {f.peer_value:>9.3f} {f.unit:<2} "
              f"{f.ratio:>8.2f} {lim:>8}  {f.goal}")


def print_table(title: str, headers: list[str], rows: list[list[object]]) -> None:
    """A small fixed-width table."""
    print(f"\n{title}")
    cells = [[h for h in headers]] + [[c if isinstance(c, str) else f"{c:.4g}" for c in r] for r in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    for r in cells:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))

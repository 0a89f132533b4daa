"""Shared pieces of the benchmarks: timing, the machine's limits, peak memory, and the printed report.

Every benchmark prints, per figure, the value, the peer measured in the same run (what a user would pick
instead), their ratio and the fraction of this machine's limit, then small tables of how the cost
grows. Timings are medians after a warm-up; the lead re-measures on a quiet machine.

The report format lives here, once: a benchmark builds its parser, calls :func:`parse_args` (which adds
``--json``) and ends with :func:`emit`. With ``--json`` everything else it prints goes to stderr and stdout
holds only the JSON list of its headline figures (:data:`FIGURE_KEYS`), which benchmarks/run_all.py reads.
A goal is text; one of the form ``ratio|value <op> <number> [note]`` (op one of ≤ < ≥ >, ``<=`` ``>=``) is
numeric and :func:`judge_goal` decides it.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import re
import statistics
import sys
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


FIGURE_KEYS = ("name", "value", "unit", "peer", "peer_value", "ratio", "limit_fraction", "goal", "goal_met")
"""The keys of one figure in a benchmark's ``--json`` output (``goal_met``: true, false, or null for text)."""

_NUMERIC_GOAL = re.compile(
    r"^(ratio|value)\s*(≤|<=|<|≥|>=|>)\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(?:\s.*)?$"
)
_COMPARE = {
    "≤": lambda a, b: a <= b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "≥": lambda a, b: a >= b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


def judge_goal(goal: str, value: float | None, ratio: float | None) -> bool | None:
    """Whether a numeric goal (``ratio ≤ 5``, ``value < 10 s``, …) holds; None for a text goal or a
    missing operand. A goal that starts with ``ratio`` or ``value`` but does not parse is an error, not
    text."""
    goal = goal.strip()
    if not goal.startswith(("ratio", "value")):
        return None
    match = _NUMERIC_GOAL.match(goal)
    if match is None:
        raise ValueError(
            f"goal {goal!r} starts like a numeric goal but does not parse; write 'ratio|value OP NUMBER "
            f"[note]' with OP one of {', '.join(_COMPARE)} (no unit prefixes such as 20M: the unit goes in "
            "Figure.unit)"
        )
    quantity, op, bound = match.groups()
    operand = ratio if quantity == "ratio" else value
    if operand is None or not math.isfinite(operand):
        return None
    return _COMPARE[op](operand, float(bound))


@dataclass
class Figure:
    """One benchmark figure beside its peer from the same run; ``ratio`` = value / peer value."""

    name: str
    value: float
    unit: str
    peer: str
    peer_value: float
    limit_fraction: float | None = None
    goal: str = ""

    def __post_init__(self) -> None:
        judge_goal(self.goal, self.value, self.ratio)  # a malformed numeric goal fails when it is written

    @property
    def ratio(self) -> float:
        return self.value / self.peer_value if self.peer_value else float("inf")

    @property
    def goal_met(self) -> bool | None:
        return judge_goal(self.goal, self.value, self.ratio)

    def as_dict(self) -> dict[str, object]:
        """The figure as one object of the ``--json`` list (non-finite numbers become null)."""

        def finite(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "name": self.name,
            "value": finite(self.value),
            "unit": self.unit,
            "peer": self.peer,
            "peer_value": finite(self.peer_value),
            "ratio": finite(self.ratio),
            "limit_fraction": finite(self.limit_fraction),
            "goal": self.goal,
            "goal_met": self.goal_met,
        }


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """``parser.parse_args`` with the common ``--json`` flag; with it, ``sys.stdout`` is routed to stderr so
    that the tables and notes a benchmark prints leave stdout to :func:`emit`'s JSON."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print to stdout only the headline figures as a JSON list (everything else goes to stderr)",
    )
    args = parser.parse_args(argv)
    if args.json:
        sys.stdout = sys.stderr
    return args


def emit(figures: list[Figure], as_json: bool) -> None:
    """The headline figures: a fixed-width table, or with ``as_json`` the JSON list on the process's own
    stdout (:func:`parse_args` has routed ``sys.stdout`` elsewhere). Called once per benchmark."""
    if not as_json:
        print_figures(figures)
        return
    stream = sys.__stdout__ if sys.__stdout__ is not None else sys.stdout
    stream.write(json.dumps([f.as_dict() for f in figures], allow_nan=False) + "\n")
    stream.flush()


def print_figures(figures: list[Figure]) -> None:
    print(f"{'figure':<52} {'value':>12} {'peer':<40} {'peer value':>12} {'ratio':>8} {'% limit':>8}  goal")
    for f in figures:
        lim = "" if f.limit_fraction is None else f"{100 * f.limit_fraction:.2f}"
        met = {None: "", True: "  (met)", False: "  (NOT met)"}[f.goal_met]
        print(
            f"{f.name:<52} {f.value:>9.3f} {f.unit:<2} {f.peer:<40} {f.peer_value:>9.3f} {f.unit:<2} "
            f"{f.ratio:>8.2f} {lim:>8}  {f.goal}{met}"
        )


def print_table(title: str, headers: list[str], rows: list[list[object]]) -> None:
    """A small fixed-width table."""
    print(f"\n{title}")
    cells = [[h for h in headers]] + [[c if isinstance(c, str) else f"{c:.4g}" for c in r] for r in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    for r in cells:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))

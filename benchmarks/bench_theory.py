"""theory: ``kernel(…, method="auto")`` against each method, the CLI's start-up, and cost against scale.

Three measurements, each against its peer in the same run (issue: performance, goal 5):

* K(r) at 1,000 r per registered family: ``auto`` and the Mehler ``series`` (expansion cached, as in any
  repeated use) against the family's closed form where one exists — else against the series; the ``direct``
  2-D integral is timed on a subset of r and scaled to 1,000 (it costs the same per r);
* ``python -m theory describe relu`` wall time against ``python -c "import numpy, scipy, sympy, mpmath"``
  (the libraries it needs), and whether torch was imported;
* ``describe tanh --scale A`` for A = 1 … 10³⁰⁰: wall time and peak memory of a fresh process, against A = 1.

Timings are medians of repeats after a warm-up; on a loaded machine they are provisional, the ratios less so.
No FLOP fraction is printed: these are special-function evaluations and Python start-up, not GEMMs.
``--json`` prints only the headline figures (benchmarks/common.py's format): auto against the peer per
family, the CLI, and the largest scale against A = 1; the tables go to stderr.

    python benchmarks/bench_theory.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import Figure, emit, parse_args

from theory.activations import Activation, get_activation, registered_names
from theory.kernels import kernel, kernel_direct, kernel_series

R_POINTS = 1000
CLI_GOAL_SECONDS = 0.6
"""Issue 12, goal 5: ``python -m theory`` starts within this wall time."""
ROOT = Path(__file__).resolve().parents[1]


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: caches, allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _time_family(
    act: Activation, r: np.ndarray, direct_r: np.ndarray, repeats: int
) -> tuple[bool, float, float, float, float]:
    """(has a closed form, auto, series, direct scaled to len(r), peer) in seconds."""
    closed = act.closed_form_kernel(r) is not None
    t_auto = median_time(lambda: kernel(act, r), repeats)
    t_series = median_time(lambda: kernel_series(act, r), repeats)
    t_direct = median_time(lambda: kernel_direct(act, direct_r), 1) * len(r) / len(direct_r)
    t_peer = median_time(lambda: act.closed_form_kernel(r), repeats) if closed else t_series
    return closed, t_auto, t_series, t_direct, t_peer


def kernel_rows(quick: bool) -> list[dict[str, object]]:
    r = np.linspace(-1.0, 1.0, R_POINTS)
    direct_r = r[:: 200 if quick else 50]
    repeats = 3 if quick else 7
    rows: list[dict[str, object]] = []
    for name in registered_names():
        act = get_activation(name)
        closed, t_auto, t_series, t_direct, t_peer = _time_family(act, r, direct_r, repeats)
        rows.append(
            {
                "figure": f"kernel {name}, {R_POINTS} r",
                "auto_ms": 1e3 * t_auto,
                "series_ms": 1e3 * t_series,
                "direct_ms": 1e3 * t_direct,
                "peer": "closed form" if closed else "series",
                "peer_ms": 1e3 * t_peer,
                "ratio": t_auto / t_peer,
            }
        )
    return rows


def _wall(argv: list[str], repeats: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeats + 1):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=True)
        times.append(time.perf_counter() - start)
        out = proc.stdout
    return statistics.median(times[1:] or times), out


def cli_rows(quick: bool) -> list[dict[str, object]]:
    repeats = 3 if quick else 7
    probe = (
        "import runpy, sys; sys.argv = ['theory', 'describe', 'relu']\n"
        "try:\n    runpy.run_module('theory', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('TORCH', 'torch' in sys.modules)"
    )
    t_cli, _ = _wall([sys.executable, "-m", "theory", "describe", "relu"], repeats)
    t_peer, _ = _wall([sys.executable, "-c", "import numpy, scipy, sympy, mpmath"], repeats)
    _, out = _wall([sys.executable, "-c", probe], 0)
    return [
        {
            "figure": "python -m theory describe relu (wall)",
            "s": t_cli,
            "peer": "python -c 'import numpy, scipy, sympy, mpmath'",
            "peer_s": t_peer,
            "ratio": t_cli / t_peer,
            "imports_torch": "TORCH True" in out,
        }
    ]


def scale_rows(quick: bool) -> list[dict[str, object]]:
    scales = ("1", "1e6", "1e300") if quick else ("1", "1e3", "1e6", "1e12", "1e100", "1e300")
    code = (
        "import resource, runpy, sys; sys.argv = ['theory', 'describe', 'tanh', '--scale', {a!r}]\n"
        "try:\n    runpy.run_module('theory', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    rows: list[dict[str, object]] = []
    base_s = base_kb = 1.0
    for a in scales:
        t, out = _wall([sys.executable, "-c", code.format(a=a)], 1 if quick else 3)
        kb = float(out.rsplit("PEAK_KB", 1)[1])
        if a == "1":
            base_s, base_kb = t, kb
        rows.append(
            {
                "figure": f"describe tanh --scale {a}",
                "s": t,
                "peak_MB": kb / 1024,
                "peer": "--scale 1",
                "ratio": t / base_s,
                "memory_ratio": kb / base_kb,
            }
        )
    return rows


def headline_figures(result: dict[str, list[dict[str, object]]]) -> list[Figure]:
    """K(r) by ``auto`` against the peer per family; the CLI against its libraries' import time; the largest
    ``--scale`` against A = 1, in time and in memory. (The series and direct columns stay in the tables.)"""
    out = [
        Figure(
            f"{row['figure']}, auto",
            row["auto_ms"],
            "ms",
            str(row["peer"]),
            row["peer_ms"],
            None,
            "auto uses the closed form" if row["peer"] == "closed form" else "",
        )
        for row in result["kernel"]
    ]
    for row in result["cli"]:
        torch_note = "imports torch" if row["imports_torch"] else "no torch"
        out.append(
            Figure(
                f"{row['figure']}, {torch_note}",
                row["s"],
                "s",
                str(row["peer"]),
                row["peer_s"],
                None,
                f"value ≤ {CLI_GOAL_SECONDS:g}",
            )
        )
    base, top = result["scale"][0], result["scale"][-1]
    out.append(Figure(f"{top['figure']} (wall)", top["s"], "s", str(base["figure"]), base["s"]))
    out.append(
        Figure(f"{top['figure']} (peak memory)", top["peak_MB"], "MB", str(base["figure"]), base["peak_MB"])
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats and r values (seconds)")
    args = parse_args(p)
    result = {"kernel": kernel_rows(args.quick), "cli": cli_rows(args.quick), "scale": scale_rows(args.quick)}
    print(
        f"{'kernel at 1,000 r':26s} {'auto ms':>9s} {'series ms':>10s} {'direct ms':>10s} {'peer':>12s} "
        f"{'peer ms':>9s} {'auto/peer':>9s}"
    )
    for row in result["kernel"]:
        print(
            f"{row['figure']:26s} {row['auto_ms']:9.3f} {row['series_ms']:10.3f} {row['direct_ms']:10.0f} "
            f"{row['peer']:>12s} {row['peer_ms']:9.3f} {row['ratio']:9.2f}"
        )
    for row in result["cli"]:
        print(
            f"\n{row['figure']}: {row['s']:.2f} s; {row['peer']}: {row['peer_s']:.2f} s; ratio "
            f"{row['ratio']:.2f}; imports torch: {row['imports_torch']}"
        )
    print(f"\n{'figure':32s} {'wall s':>7s} {'peak MB':>8s} {'time vs a=1':>12s} {'memory vs a=1':>14s}")
    for row in result["scale"]:
        print(
            f"{row['figure']:32s} {row['s']:7.2f} {row['peak_MB']:8.1f} {row['ratio']:12.2f} "
            f"{row['memory_ratio']:14.2f}"
        )
    print()
    emit(headline_figures(result), args.json)


if __name__ == "__main__":
    main()

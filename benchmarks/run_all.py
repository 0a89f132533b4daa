"""Run every benchmark and print one table of its headline figures (issue 12, goal 6).

Every ``bench_*.py`` beside this file is found automatically and run in its own process (its own memory
and threads) as ``python bench_X.py --json [--quick]``, with a wall-clock limit; its stdout must be the JSON
list of figures that benchmarks/common.py's ``emit`` writes. The combined table has, per figure: the
benchmark, the figure, its value, the peer measured in the same run, the peer's value, the ratio
(value / peer value: below 1 is faster for times, above 1 is faster for rates), the fraction of this
machine's limit, the goal and whether a numeric goal is met. A benchmark that fails, times out or prints
something other than its figures is reported in the table with the tail of its stderr, and this script then
exits with status 1; a goal not met is a measurement, not a failure. The machine (CPU, cores, load, library
versions, threads) heads the output. Benchmarks import the packages of this checkout (PYTHONPATH).

    python benchmarks/run_all.py [--quick] [--markdown | --json] [--only bench_refine ...] [--timeout S]
                                 [--threads N] [--log-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from common import FIGURE_KEYS, judge_goal

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_TIMEOUT_S = 1800.0
"""Wall-clock limit of one benchmark (the full bench_dag_lanczos.py ran 265 s on a loaded machine)."""
QUICK_TIMEOUT_S = 600.0
"""The same with --quick."""
STDERR_TAIL_LINES = 15
"""How much of a failed benchmark's stderr the report shows."""
REQUIRED_KEYS = tuple(k for k in FIGURE_KEYS if k != "goal_met")
"""What a benchmark's JSON figure must hold; ``goal_met`` is recomputed here from the goal (one rule)."""
NUMBER_KEYS = ("value", "peer_value", "ratio", "limit_fraction")
"""Keys holding a number or null (a non-finite number is shown as null)."""


@dataclass
class Outcome:
    """One benchmark's run: ``status`` is ok, failed or timeout; ``figures`` the JSON objects it printed."""

    script: str
    status: str
    seconds: float
    returncode: int | None
    figures: list[dict[str, object]] = field(default_factory=list)
    problem: str = ""
    stderr_tail: str = ""
    stderr: str = ""

    def as_dict(self) -> dict[str, object]:
        out = {
            k: getattr(self, k) for k in ("script", "status", "seconds", "returncode", "figures", "problem")
        }
        out["stderr_tail"] = self.stderr_tail if self.status != "ok" else ""
        return out


def discover(directory: Path) -> list[Path]:
    """The benchmarks of ``directory``: every ``bench_*.py``, by name."""
    return sorted(p for p in directory.glob("bench_*.py") if p.is_file())


def child_environment(threads: int | None) -> dict[str, str]:
    """The benchmarks' environment: this checkout first on PYTHONPATH, and with ``threads`` the thread
    count of torch (OpenMP), MKL and numba."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    if threads is not None:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env[name] = str(threads)
    return env


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def parse_figures(stdout: str) -> list[dict[str, object]]:
    """The figures a benchmark printed, checked: a non-empty JSON list of objects with :data:`REQUIRED_KEYS`;
    ``goal_met`` is recomputed from the goal, value and ratio. ValueError / TypeError name what is wrong."""
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError as exc:
        start = stdout.strip()[:120]
        raise ValueError(
            f"stdout is not JSON ({exc.msg} at line {exc.lineno}); it starts {start!r}"
        ) from None
    if not isinstance(data, list) or not data:
        raise ValueError(
            f"stdout must be a non-empty JSON list of figures, got {type(data).__name__} {data!r:.80}"
        )
    figures = []
    for i, fig in enumerate(data):
        if not isinstance(fig, dict):
            raise TypeError(f"figure {i} is a {type(fig).__name__}, not an object with keys {REQUIRED_KEYS}")
        missing = [k for k in REQUIRED_KEYS if k not in fig]
        if missing:
            raise ValueError(f"figure {i} ({fig.get('name', '?')!r}) lacks the keys {missing}")
        fig = dict(fig)
        for key in NUMBER_KEYS:
            x = fig[key]
            if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float))):
                raise ValueError(f"figure {i} ({fig['name']!r}): {key} must be a number or null, got {x!r}")
            fig[key] = None if x is None or not math.isfinite(x) else float(x)
        fig["goal_met"] = judge_goal(str(fig["goal"]), fig["value"], fig["ratio"])
        figures.append(fig)
    return figures


def run_one(script: Path, quick: bool, timeout: float, env: dict[str, str]) -> Outcome:
    """Run one benchmark in its own process group (killed whole on timeout) and read its figures."""
    argv = [sys.executable, str(script), "--json", *(["--quick"] if quick else [])]
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=script.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the benchmark and any process it started
        except ProcessLookupError:
            pass  # it ended between the deadline and the kill
        stdout, stderr = proc.communicate()
        seconds = time.perf_counter() - start
        return Outcome(
            script.name,
            "timeout",
            seconds,
            None,
            problem=f"timed out after {timeout:g} s",
            stderr_tail=_tail(stderr),
            stderr=stderr,
        )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        return Outcome(
            script.name,
            "failed",
            seconds,
            proc.returncode,
            problem=f"exit status {proc.returncode}",
            stderr_tail=_tail(stderr),
            stderr=stderr,
        )
    try:
        figures = parse_figures(stdout)
    except (ValueError, TypeError) as exc:
        return Outcome(
            script.name,
            "failed",
            seconds,
            proc.returncode,
            problem=str(exc),
            stderr_tail=_tail(stderr),
            stderr=stderr,
        )
    return Outcome(script.name, "ok", seconds, 0, figures, stderr=stderr)


def machine(env: dict[str, str]) -> dict[str, object]:
    """CPU model, cores, load, Python / torch / numpy versions and torch's thread count, as the benchmarks see
    them (torch is asked in a child process with the benchmarks' environment)."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model
            )
    except OSError:
        pass
    probe = "import numpy, torch; print(torch.__version__, numpy.__version__, torch.get_num_threads())"
    try:
        out = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True
        ).stdout.split()
        torch_version, numpy_version, threads = out[0], out[1], int(out[2])
    except (subprocess.SubprocessError, OSError, IndexError, ValueError) as exc:
        torch_version = numpy_version = f"unavailable ({type(exc).__name__})"
        threads = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        commit = "unknown"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "torch": torch_version,
        "numpy": numpy_version,
        "torch_threads": threads,
        "commit": commit,
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _number(x: object) -> str:
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
        return "—"
    if abs(x) >= 1_000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _met(flag: object) -> str:
    return "yes" if flag is True else "NO" if flag is False else "—"


HEADERS = ["benchmark", "figure", "value", "peer", "peer value", "ratio", "% of limit", "goal", "met"]


def rows(outcomes: list[Outcome]) -> list[list[str]]:
    """One row per figure; a benchmark that did not finish gets one row saying so."""
    out = []
    for o in outcomes:
        name = o.script.removesuffix(".py")
        if o.status != "ok":
            out.append([name, f"{o.status.upper()}: {o.problem}", *["—"] * (len(HEADERS) - 2)])
            continue
        for f in o.figures:
            unit = str(f["unit"])
            lim = f["limit_fraction"]
            out.append(
                [
                    name,
                    str(f["name"]),
                    f"{_number(f['value'])} {unit}",
                    str(f["peer"]),
                    f"{_number(f['peer_value'])} {unit}",
                    _number(f["ratio"]),
                    _number(100 * lim) if isinstance(lim, (int, float)) else "—",
                    str(f["goal"]) or "—",
                    _met(f["goal_met"]),
                ]
            )
    return out


def machine_line(info: dict[str, object], quick: bool) -> str:
    return (
        f"{info['cpu']}, {info['cores']} cores ({info['cores_usable']} usable), "
        f"load {info['load_average_1min']}"
        f" at start; Python {info['python']}, torch {info['torch']} ({info['torch_threads']} threads), "
        f"numpy {info['numpy']}; commit {info['commit']}, {info['date_utc']}"
        f"{'; --quick (smaller sizes: goals are judged on the sizes shown)' if quick else ''}"
    )


def failures_text(outcomes: list[Outcome], markdown: bool) -> str:
    parts = []
    for o in outcomes:
        if o.status == "ok":
            continue
        head = f"{o.script}: {o.status} after {o.seconds:.1f} s ({o.problem}); stderr tail:"
        body = o.stderr_tail or "(empty)"
        parts.append(f"**{head}**\n\n```\n{body}\n```" if markdown else f"{head}\n{body}")
    return "\n\n".join(parts)


def markdown_table(outcomes: list[Outcome]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows(outcomes)]
    return "\n".join(lines)


def plain_table(outcomes: list[Outcome]) -> str:
    table = [HEADERS, *rows(outcomes)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table)


def report(outcomes: list[Outcome], info: dict[str, object], quick: bool, fmt: str) -> str:
    """The whole output: machine, table, per-benchmark times, failures (``fmt``: plain, markdown or json)."""
    if fmt == "json":
        return json.dumps(
            {"machine": info, "quick": quick, "benchmarks": [o.as_dict() for o in outcomes]},
            indent=1,
            allow_nan=False,
        )
    markdown = fmt == "markdown"
    times = ", ".join(f"{o.script.removesuffix('.py')} {o.seconds:.0f} s" for o in outcomes)
    parts = [
        f"Machine: {machine_line(info, quick)}",
        markdown_table(outcomes) if markdown else plain_table(outcomes),
        f"Ratio = value / peer value. Wall time per benchmark: {times}.",
    ]
    failed = failures_text(outcomes, markdown)
    if failed:
        parts.append(failed)
    return "\n\n".join(parts)


def write_logs(outcomes: list[Outcome], log_dir: Path) -> None:
    """Each benchmark's stderr (its tables and notes) as ``<benchmark>.log`` in ``log_dir`` (new, made by
    main before any benchmark runs)."""
    for o in outcomes:
        (log_dir / f"{o.script.removesuffix('.py')}.log").write_text(o.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true", help="a pipe table (the README's performance table)")
    fmt.add_argument(
        "--json", action="store_true", help="machine and every benchmark's figures as one JSON object"
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these benchmarks (bench_refine or bench_refine.py)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help=f"seconds per benchmark (default {DEFAULT_TIMEOUT_S:g}, {QUICK_TIMEOUT_S:g} with --quick)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of torch, MKL and numba in every benchmark (default: the libraries' own)",
    )
    p.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="write each benchmark's stderr (its tables) to DIR/<benchmark>.log; DIR must not exist",
    )
    p.add_argument("--bench-dir", type=Path, default=HERE, help=argparse.SUPPRESS)  # for the tests
    args = p.parse_args(argv)
    if args.timeout is not None and args.timeout <= 0:
        p.error(f"--timeout must be positive, got {args.timeout:g}")
    if args.threads is not None and args.threads < 1:
        p.error(f"--threads must be at least 1, got {args.threads}")
    if args.log_dir is not None:
        try:
            args.log_dir.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            p.error(
                f"--log-dir {args.log_dir} exists; name a new directory (earlier logs are never overwritten)"
            )
    scripts = discover(args.bench_dir)
    if not scripts:
        p.error(f"no bench_*.py in {args.bench_dir}")
    if args.only:
        known = {s.stem: s for s in scripts}
        wanted = [name.removesuffix(".py") for name in args.only]
        unknown = [n for n in wanted if n not in known]
        if unknown:
            p.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(known)}")
        scripts = [known[n] for n in dict.fromkeys(wanted)]
    timeout = args.timeout or (QUICK_TIMEOUT_S if args.quick else DEFAULT_TIMEOUT_S)
    env = child_environment(args.threads)
    info = machine(env)
    outcomes = []
    for script in scripts:
        print(f"running {script.name} …", file=sys.stderr, flush=True)
        outcome = run_one(script, args.quick, timeout, env)
        print(
            f"  {outcome.status} in {outcome.seconds:.1f} s"
            + (f": {outcome.problem}" if outcome.problem else ""),
            file=sys.stderr,
            flush=True,
        )
        outcomes.append(outcome)
    if args.log_dir is not None:
        write_logs(outcomes, args.log_dir)
    print(
        report(outcomes, info, args.quick, "json" if args.json else "markdown" if args.markdown else "plain")
    )
    failed = [o.script for o in outcomes if o.status != "ok"]
    if failed:
        print(f"{len(failed)} benchmark(s) did not complete: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

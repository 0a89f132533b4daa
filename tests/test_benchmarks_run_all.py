"""benchmarks/run_all.py on a generated benchmark directory (no real benchmark runs, nothing timed), the
common figure format, and every real benchmark's --json / --quick flags (through --help, in one process)."""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RUN_ALL = BENCH / "run_all.py"

GOOD = f"""
import argparse, sys
sys.path.insert(0, {str(BENCH)!r})
from common import Figure, emit, parse_args

p = argparse.ArgumentParser()
p.add_argument("--quick", action="store_true")
args = parse_args(p)
print("a growth table that must not reach stdout")
emit([
    Figure("fast thing", 2.0, "ms", "slow peer", 8.0, 0.5, "ratio ≤ 5"),
    Figure("rate", 3.0, "M/s", "numpy", 1.0, None, "value ≥ 20"),
    Figure("quick flag seen" if args.quick else "no quick flag", 1.0, "s", "itself", 1.0, None, "text goal"),
], args.json)
"""
FAIL = """
import sys
print("setting up", file=sys.stderr)
raise RuntimeError("boom: the measured engine broke")
"""
SLOW = """
import subprocess, sys, time
print("about to hang", file=sys.stderr, flush=True)
# the grandchild holds the pipes: run_all must kill the whole process group, not only this process
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
time.sleep(120)
"""
NOT_JSON = """
print("figure: 3 ms")
"""


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    d = tmp_path / "benches"
    d.mkdir()
    for name, code in (("good", GOOD), ("fail", FAIL), ("slow", SLOW), ("text", NOT_JSON)):
        (d / f"bench_{name}.py").write_text(textwrap.dedent(code))
    (d / "helper_not_a_bench.py").write_text("raise SystemExit('must not be run')\n")
    return d


def run_all(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN_ALL), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_run_all_reports_figures_failures_and_timeouts(bench_dir: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    proc = run_all(
        "--bench-dir", str(bench_dir), "--quick", "--timeout", "4", "--json", "--log-dir", str(logs)
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert set(report["machine"]) >= {"cpu", "cores", "torch", "numpy", "torch_threads", "load_average_1min"}
    assert report["quick"] is True
    by_name = {b["script"]: b for b in report["benchmarks"]}
    assert list(by_name) == [
        "bench_fail.py",
        "bench_good.py",
        "bench_slow.py",
        "bench_text.py",
    ]  # discovered, sorted

    good = by_name["bench_good.py"]
    assert good["status"] == "ok" and good["returncode"] == 0
    assert [f["name"] for f in good["figures"]] == ["fast thing", "rate", "quick flag seen"]
    fast, rate, text = good["figures"]
    assert fast["ratio"] == pytest.approx(0.25) and fast["limit_fraction"] == 0.5 and fast["goal_met"] is True
    assert rate["goal_met"] is False and text["goal_met"] is None

    fail = by_name["bench_fail.py"]
    assert fail["status"] == "failed" and fail["returncode"] == 1 and fail["figures"] == []
    assert "boom: the measured engine broke" in fail["stderr_tail"]

    slow = by_name["bench_slow.py"]
    assert slow["status"] == "timeout" and "timed out after 4 s" in slow["problem"]
    assert "about to hang" in slow["stderr_tail"] and slow["seconds"] < 60

    text_bench = by_name["bench_text.py"]
    assert text_bench["status"] == "failed" and "stdout is not JSON" in text_bench["problem"]

    assert "a growth table that must not reach stdout" in (logs / "bench_good.log").read_text()
    assert "3 benchmark(s) did not complete: bench_fail.py, bench_slow.py, bench_text.py" in proc.stderr


def test_run_all_markdown_table(bench_dir: Path) -> None:
    proc = run_all("--bench-dir", str(bench_dir), "--only", "bench_good", "bench_fail.py", "--markdown")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Machine: ") and "torch" in lines[0]
    header = "| benchmark | figure | value | peer | peer value | ratio | % of limit | goal | met |"
    table = lines[lines.index(header) :]
    assert table[1] == "|---|---|---|---|---|---|---|---|---|"
    assert table[2:6] == [  # in the order --only names them
        "| bench_good | fast thing | 2 ms | slow peer | 8 ms | 0.25 | 50 | ratio ≤ 5 | yes |",
        "| bench_good | rate | 3 M/s | numpy | 1 M/s | 3 | — | value ≥ 20 | NO |",
        "| bench_good | no quick flag | 1 s | itself | 1 s | 1 | — | text goal | — |",
        "| bench_fail | FAILED: exit status 1 | — | — | — | — | — | — | — |",
    ]
    assert "**bench_fail.py: failed after" in proc.stdout and "boom: the measured engine broke" in proc.stdout


def test_run_all_all_good_exits_zero(bench_dir: Path) -> None:
    proc = run_all("--bench-dir", str(bench_dir), "--only", "bench_good")
    assert proc.returncode == 0, proc.stderr
    assert "fast thing" in proc.stdout and "NO" in proc.stdout  # a goal not met is reported, not a failure


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "bench_nope"], "unknown benchmark(s) bench_nope; choose from bench_fail, bench_good"),
        (["--timeout", "0"], "--timeout must be positive"),
        (["--threads", "0"], "--threads must be at least 1"),
    ],
)
def test_run_all_bad_arguments(bench_dir: Path, args: list[str], message: str) -> None:
    proc = run_all("--bench-dir", str(bench_dir), *args)
    assert proc.returncode == 2 and message in proc.stderr


def test_run_all_never_overwrites_logs(bench_dir: Path, tmp_path: Path) -> None:
    proc = run_all("--bench-dir", str(bench_dir), "--log-dir", str(tmp_path))
    assert proc.returncode == 2 and "exists; name a new directory" in proc.stderr


@functools.cache
def _common():
    """benchmarks/common.py under a name of its own (benchmarks/ is scripts, not a package)."""
    name = "benchmarks_common_under_test"
    spec = importlib.util.spec_from_file_location(name, BENCH / "common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("goal", "value", "ratio", "met"),
    [
        ("ratio ≤ 5", 1.0, 5.0, True),
        ("ratio <= 5 (at 1M parameters)", 1.0, 5.01, False),
        ("value < 10 s", 10.0, 1.0, False),
        ("value ≥ 20", 20.0, 0.1, True),
        ("value > 2e-3", 3e-3, 1.0, True),
        ("auto uses the closed form", 1.0, 1.0, None),
        ("", 1.0, 1.0, None),
        ("ratio ≤ 5", 1.0, None, None),
    ],
)
def test_judge_goal(goal: str, value: float, ratio: float | None, met: bool | None) -> None:
    assert _common().judge_goal(goal, value, ratio) is met


@pytest.mark.parametrize("goal", ["value ≥ 20M", "ratio about 5", "ratio ≤"])
def test_malformed_numeric_goal_is_an_error(goal: str) -> None:
    common = _common()
    with pytest.raises(ValueError, match="does not parse"):
        common.Figure("f", 1.0, "s", "peer", 1.0, None, goal)


def test_figure_json_has_the_common_keys_and_no_nan() -> None:
    common = _common()
    d = common.Figure("f", 1.0, "s", "peer", 0.0, None, "ratio ≤ 5").as_dict()
    assert tuple(d) == common.FIGURE_KEYS
    # ratio to a zero peer is infinite: null, not Infinity
    assert d["ratio"] is None and d["goal_met"] is None
    json.dumps(d, allow_nan=False)


HELP_PROBE = """
import contextlib, io, json, runpy, sys
sys.path[:0] = [{bench!r}, {root!r}]
out = {{}}
for path in {paths!r}:
    sys.argv = [path, "--help"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit:
            pass
    out[path] = buf.getvalue()
print(json.dumps(out))
"""


def test_every_benchmark_accepts_json_and_quick() -> None:
    paths = [str(p) for p in sorted(BENCH.glob("bench_*.py"))]
    assert paths, "no benchmarks found"
    code = HELP_PROBE.format(bench=str(BENCH), root=str(ROOT), paths=paths)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    helps = json.loads(proc.stdout)
    for path in paths:
        assert "--json" in helps[path] and "--quick" in helps[path], f"{path}: --help lacks --json/--quick"

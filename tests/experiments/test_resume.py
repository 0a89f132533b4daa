"""A run killed with SIGKILL mid-way and resumed has the metrics of an uninterrupted run, for every study.

Each case runs the study twice at one torch thread: once uninterrupted (in this process), once in a
fresh process killed with SIGKILL after it has written a checkpoint and some records past it; a torn last
line is added (a kill in the middle of a write), then ``python -m experiments STUDY --resume RUN_DIR``
finishes it in another fresh process. The records must be equal, every value, except the wall-clock
``elapsed_s``. (The numpy engine of bitflip runs with the BLAS threads of this process's environment in
all three.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.__main__ import main as cli_main
from experiments.checkpoint import CHECKPOINT_FILE, WALL_CLOCK_KEYS
from experiments.runs import COMPLETE, METRICS_FILE, RUNNING, load_metrics, read_status

REPO = Path(__file__).resolve().parents[2]
KILL_TIMEOUT_S = 240
POLL_S = 0.02
TORN_LINE = '{"step": 99999, "loss": 0.'


def study_env() -> dict[str, str]:
    """This process's environment (torch's threads come from the configurations' ``threads=1``)."""
    return {**os.environ, "PYTHONPATH": str(REPO)}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "experiments", *args],
        check=False,
        capture_output=True,
        text=True,
        env=study_env(),
        timeout=KILL_TIMEOUT_S,
    )


def run_dirs(out: Path, study: str) -> list[Path]:
    return sorted(p for p in (out / study).glob("*") if p.is_dir())


def line_count(run_dir: Path) -> int:
    path = run_dir / METRICS_FILE
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def run_and_kill(study: str, args: list[str], out: Path, min_lines: int) -> Path:
    """Start the study, SIGKILL it once it has a checkpoint and at least ``min_lines`` records."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments", study, *args, f"out={out}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=study_env(),
    )
    deadline = time.monotonic() + KILL_TIMEOUT_S
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            runs = run_dirs(out, study)
            if runs and (runs[0] / CHECKPOINT_FILE).is_file() and line_count(runs[0]) >= min_lines:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(POLL_S)
        proc.wait(timeout=KILL_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, (
        f"the run ended before it could be killed: {proc.stderr.read()!r}"
    )
    (run_dir,) = run_dirs(out, study)
    assert read_status(run_dir)["state"] == RUNNING  # a killed run stays marked running
    return run_dir


def without_wall_clock(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK_KEYS} for r in records]


CASES = {
    "cloning-clone-phase-noisy-dropout-augment": (
        "cloning",
        [
            "--preset",
            "smoke",
            "optimizer=noisy_sgd",
            "dropout=0.1",
            "augment=true",
            "train_samples=512",
            "test_samples=128",
            "base_epochs=2",
            "clone_epochs=16",
            "metric_every=3",
            "metric_batch=64",
            "checkpoint_every=4",
        ],
        6,
    ),
    "bitflip-cbp-phase-second-width": (
        "bitflip",
        [
            "width=5,9",
            "seeds=0,1",
            "samples=60000",
            "switch_step=20000",
            "bin_size=2500",
            "maturity=20",
            "replacement_rate=0.002",
            "probe_size=100",
            "summary_window=10000",
            "checkpoint_every=7500",
            "figures=false",
        ],
        72,
    ),
    # 48 records per width: killed at 30,000 samples of width 9, in its CBP phase
}
SLOW_CASES = {  # with --runslow (each ~30 s on the loaded 2-core machine: three processes)
    "continual-cbp-augment-second-seed": (
        "continual",
        [
            "--preset",
            "smoke",
            "tasks=2",
            "steps_per_task=60",
            "log_interval=10",
            "seeds=0,1",
            "method=cbp",
            "replacement_rate=0.05",
            "maturity_threshold=5",
            "augment=true",
            "checkpoint_every=25",
            "figures=false",
        ],
        17,
    ),
    "cloning-base-phase-adam-cnn": (
        "cloning",
        [
            "--preset",
            "smoke",
            "arch=cnn",
            "optimizer=adam",
            "lr=0.001",
            "train_samples=128",
            "test_samples=64",
            "base_epochs=3",
            "clone_epochs=12",
            "metric_every=4",
            "metric_batch=64",
            "checkpoint_every=1",
        ],
        1,
    ),
    "continual-shrink-perturb-first-seed": (
        "continual",
        [
            "--preset",
            "smoke",
            "arch=cnn",
            "tasks=3",
            "steps_per_task=40",
            "log_interval=10",
            "seeds=3",
            "method=shrink_perturb",
            "checkpoint_every=30",
            "figures=false",
        ],
        4,
    ),
}
ALL_CASES = {**CASES, **SLOW_CASES}


@pytest.mark.parametrize(
    "case", [*CASES, *(pytest.param(case, marks=pytest.mark.slow) for case in SLOW_CASES)]
)
def test_a_run_killed_mid_way_resumes_to_the_metrics_of_an_uninterrupted_run(
    case: str, tmp_path: Path
) -> None:
    study, args, min_lines = ALL_CASES[case]
    assert cli_main([study, *args, f"out={tmp_path / 'whole'}"]) == 0
    (reference,) = run_dirs(tmp_path / "whole", study)
    killed = run_and_kill(study, args, tmp_path / "killed", min_lines)
    with (killed / METRICS_FILE).open("a") as handle:
        handle.write(TORN_LINE)  # as if the kill had come in the middle of a write
    resumed = cli(study, "--resume", str(killed))
    assert resumed.returncode == 0, resumed.stderr
    assert Path(resumed.stdout.strip().splitlines()[-1]) == killed
    assert read_status(killed)["state"] == COMPLETE
    expected, got = load_metrics(reference), load_metrics(killed)
    assert len(got) == len(expected)
    assert without_wall_clock(got) == without_wall_clock(expected)
    again = cli(study, "--resume", str(killed))
    assert (
        again.returncode == 2
        and again.stderr.startswith("error: --resume")
        and "complete already" in again.stderr
    )


@pytest.mark.parametrize("study", ["cloning", "continual", "bitflip"])
def test_resume_takes_no_other_settings_and_names_a_missing_run(
    study: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli_main([study, "--resume", str(tmp_path), "lr=0.1"]) == 2
    assert "it takes no other settings (got lr=0.1)" in capsys.readouterr().err
    assert cli_main([study, "--resume", str(tmp_path), "--preset", "paper"]) == 2
    assert "(got --preset paper)" in capsys.readouterr().err
    assert cli_main([study, "--resume", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no such run directory" in err and len(err.strip().splitlines()) == 1
    assert cli_main([study, "--resume", str(tmp_path)]) == 2
    assert "config.json not found" in capsys.readouterr().err

"""Sweeps (experiments.sweeps): grids and their checks, point states, the debug and local executors, a
worker and a whole sweep killed with SIGKILL and resumed, Slurm missing, --status, --list, figure sweeps,
sweep plots, gpu-check's CPU form.

The sweeps are of the bit-flipping study at a tiny size (its engines are the fastest to run); the runs
killed mid-way use the numpy engine, slow enough to be caught between two checkpoints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import submitit
from submitit.slurm.slurm import SlurmExecutor

from experiments.__main__ import main as cli_main
from experiments.checkpoint import CHECKPOINT_FILE, WALL_CLOCK_KEYS
from experiments.runs import COMPLETE, METRICS_FILE, load_metrics, read_status
from experiments.studies.registry import get_study
from experiments.sweeps import executors, worker
from experiments.sweeps.executors import ExecutorOptions, slurm_parameters
from experiments.sweeps.figures import FIGURE_SWEEPS
from experiments.sweeps.grid import Axis, Block, Grid, SweepError, expand, parse_grid_option
from experiments.sweeps.plot import NOTES_FILE, PLOTS_DIR
from experiments.sweeps.state import (
    DONE,
    FAILED,
    PENDING,
    POINTS_DIR,
    RUNNING,
    SWEEP_FILE,
    TRANSITIONS,
    SweepDir,
    check_transition,
)

REPO = Path(__file__).resolve().parents[2]
BITFLIP = get_study("bitflip")
TINY = [
    "width=5",
    "seeds=0,1",
    "samples=8000",
    "switch_step=4000",
    "bin_size=2000",
    "summary_window=2000",
    "probe_size=40",
    "maturity=20",
    "replacement_rate=0.002",
    "figures=false",
]
"""A bit-flipping point that runs in a fraction of a second (in process)."""
KILLABLE = [
    "width=5",
    "seeds=0,1",
    "samples=30000",
    "switch_step=16000",
    "bin_size=2000",
    "summary_window=4000",
    "probe_size=40",
    "maturity=20",
    "replacement_rate=0.002",
    "checkpoint_every=6000",
    "engine=numpy",
    "figures=false",
]
"""A point of a few seconds (numpy engine), checkpointed every 3 bins of 2 records."""
KILL_AFTER_LINES = 8  # 4 bins: past the checkpoint at 6,000 samples, so resuming cuts records back
TIMEOUT_S = 240
POLL_S = 0.02


def only_sweep(out: Path) -> SweepDir:
    (path,) = sorted((out / "sweeps").iterdir())
    return SweepDir.load(path)


def records(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK_KEYS} for r in load_metrics(run_dir)]


def reference_records(tmp_path: Path, lr: str) -> list[dict]:
    """The metrics of the point ``lr=…`` of the killable sweep, run whole in this process."""
    assert (
        cli_main(["bitflip", *KILLABLE, f"lr={lr}", "progress=false", f"out={tmp_path / 'whole' / lr}"]) == 0
    )
    (run_dir,) = (tmp_path / "whole" / lr / "bitflip").iterdir()
    return records(run_dir)


def point_run(sweep: SweepDir, index: int) -> Path:
    fresh = SweepDir.load(sweep.path)  # as the last command left it
    fresh.refresh()
    return sweep.path / fresh.points[index]["run_dir"]


def wait_for_checkpoint(out: Path, index: int, proc: subprocess.Popen) -> SweepDir:
    """Poll until point ``index`` of the only sweep under ``out`` has a checkpoint and records past it."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.communicate()}"
        runs = list((out / "sweeps").glob(f"*/{POINTS_DIR}/{index:03d}/bitflip/*"))
        if (
            runs
            and (runs[0] / CHECKPOINT_FILE).is_file()
            and (runs[0] / METRICS_FILE).is_file()
            and (runs[0] / METRICS_FILE).read_bytes().count(b"\n") >= KILL_AFTER_LINES
        ):
            return only_sweep(out)
        time.sleep(POLL_S)
    raise AssertionError("the point never reached its checkpoint")


def start_sweep(out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "experiments", "sweep", "bitflip", *args, *KILLABLE, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err  # one line, no traceback
    return err


# ----------------------------------------------------------------------------------------------- grids


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "lrr=0.1,0.2"], "unknown key 'lrr' for the bitflip study; valid keys: seed, device"),
        (["--grid", "lr="], "--grid lr= lists no values"),
        ([], "give at least one --grid"),
        (["--grid", "lr=0.1,0.2", "lr=0.3"], "lr is both in the grid (axis lr) and fixed (lr=0.3)"),
        (["--grid", "lr=0.1,-1"], "grid point (lr=-1): lr=-1 is out of range"),
        (
            ["--grid", "width=5;5,6", "switch_step=7"],
            "grid point (width=5): bin_size=10000 must divide switch_step=7",
        ),
        (["--grid", "lr=0.1,0.1"], "--grid lr lists 0.1 more than once"),
        (["--grid", "out=a,b"], "out is set by the sweep"),
        (["--grid", "lr=0.1", "out=x"], "out= is set by the sweep"),
        (
            ["--grid", "lr=0.1", "--jobs", "2", "--executor", "debug"],
            "--jobs only acts with --executor local",
        ),
    ],
)
def test_bad_grids_are_one_error_naming_the_key_before_anything_is_created(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli_main(["sweep", "bitflip", *args, "--out", str(tmp_path / "out")]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_bug_class_constants_were_listed_as_grid_keys(capsys: pytest.CaptureFixture) -> None:
    """The valid keys named by an unknown-key error began with PRESETS (a class constant, not a key),
    and --grid PRESETS=… was taken as an axis."""
    with pytest.raises(SweepError, match="unknown key 'PRESETS'") as err:
        parse_grid_option(BITFLIP, "PRESETS=1,2")
    assert "PRESETS" not in str(err.value).split("valid keys:")[1]


def test_grid_blocks_share_a_point_once_and_identical_points_are_refused() -> None:
    block = Block((Axis.of("lr", ["0.01", "0.02"]),))
    assert len(expand(BITFLIP, "default", Grid((block, Block((Axis.of("lr", ["0.01"]),)))), TINY)) == 2
    with pytest.raises(
        SweepError, match=r"grid points \(lr=0.01\) and \(lr=1e-2\) have the same configuration"
    ):
        expand(BITFLIP, "default", Grid((Block((Axis.of("lr", ["0.01", "1e-2"]),)),)), TINY)
    with pytest.raises(SweepError, match="the grid axis lr lists no values"):
        expand(BITFLIP, "default", Grid((Block((Axis("lr", ()),)),)), TINY)


def test_dry_run_prints_the_runs_and_steps_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    fixed = [item for item in TINY if not item.startswith("width=")]
    assert (
        cli_main(
            [
                "sweep",
                "bitflip",
                "--grid",
                "lr=0.01,0.02",
                "--grid",
                "width=5,7",
                *fixed,
                "--dry-run",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("4 runs, 64,000 online updates (samples × widths × seeds) in total")
    assert "003  lr=0.02, width=7  (16,000 steps)" in out
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------------------------- states


def test_point_states_move_only_along_the_transition_table(tmp_path: Path) -> None:
    for old, allowed in TRANSITIONS.items():
        for new in (PENDING, RUNNING, DONE, FAILED):
            if new in allowed:
                check_transition(old, new)
            else:
                with pytest.raises(ValueError, match=f"cannot go from '{old}' to '{new}'"):
                    check_transition(old, new)
    points = expand(BITFLIP, "default", Grid((Block((Axis.of("lr", ["0.01"]),)),)), TINY)
    sweep = SweepDir.create(tmp_path, {"study": "bitflip"}, points)
    assert sweep.read_point(0)["state"] == PENDING
    sweep.set_point(0, RUNNING, pid=1)
    sweep.set_point(0, FAILED, error="boom")
    assert sweep.read_point(0)["error"] == "boom"
    sweep.set_point(0, PENDING)
    assert sweep.read_point(0)["error"] == ""  # a retried point forgets its old error
    sweep.set_point(0, RUNNING)
    sweep.set_point(0, DONE)
    with pytest.raises(ValueError, match="none \\(final\\)"):
        sweep.set_point(0, RUNNING)
    again = SweepDir.create(tmp_path, {"study": "bitflip"}, points)  # never over an earlier sweep
    assert again.path != sweep.path and (sweep.path / SWEEP_FILE).is_file()


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit])
def test_an_interrupted_point_goes_back_to_pending_and_the_interruption_goes_on(
    interruption: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    points = expand(BITFLIP, "default", Grid((Block((Axis.of("lr", ["0.01"]),)),)), TINY)
    sweep = SweepDir.create(tmp_path, {"study": "bitflip"}, points)

    def interrupted(*args: object) -> Path:
        raise interruption()

    monkeypatch.setattr(worker, "_run", interrupted)
    with pytest.raises(interruption):
        worker.run_point(sweep.path, 0)
    state = sweep.read_point(0)
    assert state["state"] == PENDING and "continues from the run's last checkpoint" in state["note"]


# ----------------------------------------------------------------------------------------------- executors


def test_debug_executor_runs_every_point_like_the_study_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert (
        cli_main(
            [
                "sweep",
                "bitflip",
                "--grid",
                "lr=0.01,0.03",
                *TINY,
                "--executor",
                "debug",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    sweep = only_sweep(tmp_path / "out")
    assert [p["state"] for p in sweep.points] == [DONE, DONE]
    assert sweep.body["executor"] == {"kind": "debug"} and sweep.body["grid"]["blocks"][0][0]["axis"] == "lr"
    assert [p["config"]["lr"] for p in sweep.points] == [0.01, 0.03]
    for index, lr in enumerate(("0.01", "0.03")):
        run_dir = point_run(sweep, index)
        assert run_dir.parent.parent == sweep.path / POINTS_DIR / f"{index:03d}"
        assert read_status(run_dir)["state"] == COMPLETE
        assert cli_main(["bitflip", *TINY, f"lr={lr}", f"out={tmp_path / 'alone' / lr}"]) == 0
        (alone,) = (tmp_path / "alone" / lr / "bitflip").iterdir()
        assert records(run_dir) == records(alone)
    capsys.readouterr()
    assert cli_main(["sweep", "--status", str(sweep.path)]) == 0
    assert "2 points: 2 done" in capsys.readouterr().out
    assert cli_main(["sweep", "--resume", str(sweep.path)]) == 0
    assert "0 of 2 points to run" in capsys.readouterr().out


def test_local_executor_a_killed_worker_fails_its_point_the_sweep_goes_on_and_resume_finishes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    expected = reference_records(tmp_path, "0.01")
    out = tmp_path / "out"
    proc = start_sweep(out, "--grid", "lr=0.01,0.02", "--jobs", "2")
    try:
        sweep = wait_for_checkpoint(out, 0, proc)
        os.kill(int(sweep.read_point(0)["pid"]), signal.SIGKILL)
        _, stderr = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, stderr  # some point failed
    sweep.refresh()
    assert [p["state"] for p in sweep.points] == [FAILED, DONE]
    assert "the worker process was killed by SIGKILL (see points/000/log.txt)" in sweep.points[0]["error"]
    capsys.readouterr()
    assert cli_main(["sweep", "--status", str(sweep.path)]) == 0
    status = capsys.readouterr().out
    assert "1 done, 1 failed" in status and "failed  000 (lr=0.01): the worker process was killed" in status
    assert cli_main(["sweep", "--resume", str(sweep.path)]) == 0  # the local executor again
    assert "1 of 2 points to run" in capsys.readouterr().out
    assert records(point_run(sweep, 0)) == expected
    assert [p["state"] for p in SweepDir.load(sweep.path).points] == [DONE, DONE]


def test_a_sweep_killed_with_sigkill_resumes_to_the_metrics_of_uninterrupted_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    expected = [reference_records(tmp_path, lr) for lr in ("0.01", "0.02")]
    out = tmp_path / "out"
    proc = start_sweep(out, "--grid", "lr=0.01,0.02", "--jobs", "1")
    try:
        sweep = wait_for_checkpoint(out, 0, proc)
        worker_pid = int(sweep.read_point(0)["pid"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT_S)
        deadline = time.monotonic() + TIMEOUT_S
        while Path(f"/proc/{worker_pid}").exists() and time.monotonic() < deadline:  # dies with its sweep
            time.sleep(POLL_S)
        assert not Path(f"/proc/{worker_pid}").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [sweep.read_point(i)["state"] for i in (0, 1)] == [RUNNING, PENDING]  # as the kill left them
    assert cli_main(["sweep", "--resume", str(sweep.path), "--executor", "debug"]) == 0  # here, at one thread
    assert "2 of 2 points to run" in capsys.readouterr().out
    assert [records(point_run(sweep, i)) for i in (0, 1)] == expected
    assert [e["kind"] for e in SweepDir.load(sweep.path).body["executors"]] == ["local", "debug"]
    assert sweep.read_point(0)["attempts"] == 2


def test_slurm_missing_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(executors.shutil, "which", lambda name: None)
    assert (
        cli_main(
            ["sweep", "bitflip", "--grid", "lr=0.01,0.02", "--executor", "slurm", "--out", str(tmp_path)]
        )
        == 2
    )
    assert "--executor slurm needs Slurm, but sbatch and srun are not on PATH" in error_line(capsys)
    assert not any(tmp_path.iterdir())


def test_slurm_options_are_submitit_parameters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = ExecutorOptions(
        "slurm",
        slurm_partition="gpu",
        slurm_account="lab",
        gpus_per_run=2,
        cpus_per_run=8,
        timeout_min=90,
        array_parallelism=16,
    )
    params = slurm_parameters(options, "cloning", options.threads())
    assert params == {
        "name": "lop-cloning",
        "timeout_min": 90,
        "cpus_per_task": 8,
        "gpus_per_node": 2,
        "tasks_per_node": 1,
        "nodes": 1,
        "slurm_partition": "gpu",
        "slurm_account": "lab",
        "slurm_array_parallelism": 16,
    }
    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # as if srun were here
    slurm = submitit.AutoExecutor(folder=tmp_path, cluster="slurm")
    slurm.update_parameters(**params)  # submitit refuses a name it does not know
    assert slurm._executor.parameters == {
        "job_name": "lop-cloning",
        "time": 90,
        "cpus_per_task": 8,
        "gpus_per_node": 2,
        "ntasks_per_node": 1,
        "nodes": 1,
        "partition": "gpu",
        "account": "lab",
        "array_parallelism": 16,
    }
    assert slurm_parameters(ExecutorOptions("slurm"), "bitflip", 2)["gpus_per_node"] == 0


FAKE_SBATCH = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/sbatch.calls"
echo "Submitted batch job 4242"
"""


def test_a_slurm_sweep_is_one_job_array_through_submitit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Against a stand-in ``sbatch`` (what submitit runs): one array of two jobs, their ids recorded."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", "#!/bin/sh\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert (
        cli_main(
            [
                "sweep",
                "bitflip",
                "--grid",
                "lr=0.01,0.02",
                *TINY,
                "--executor",
                "slurm",
                "--slurm-partition",
                "cpu",
                "--timeout-min",
                "30",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "point 001 (lr=0.02) submitted" in out and "follow with: python -m experiments sweep --status" in out
    )
    sweep = only_sweep(tmp_path / "out")
    assert [p["job_id"] for p in sweep.points] == ["4242_0", "4242_1"]
    assert [p["state"] for p in sweep.points] == [PENDING, PENDING]
    assert sweep.body["executor"] == {"kind": "slurm", "slurm_partition": "cpu", "timeout_min": 30}
    (script,) = (tmp_path / "bin" / "sbatch.calls").read_text().split()
    text = Path(script).read_text()
    assert "#SBATCH --array=0-1" in text and "#SBATCH --partition=cpu" in text and "#SBATCH --time=30" in text


# ----------------------------------------------------------------------------------------------- figures


def test_list_names_every_figure_of_the_issue_as_text_and_json(capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["sweep", "--list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["name"] for row in rows} == {s.name for s in FIGURE_SWEEPS}
    assert all({"name", "figure", "study", "points"} <= row.keys() and row["points"] > 0 for row in rows)
    figures = {f for row in rows for f in row["figures"]}
    assert figures == {
        "2.1",
        "B.7",
        "B.8",
        "B.9",
        "B.10",
        "B.11",
        "B.12",
        "B.13",
        "B.14",
        "3.1",
        "3.2",
        "4.1",
        "B.3",
        "B.4",
        "B.5",
        "B.6",
        "B.1",
        "B.2",
    }
    by_name = {row["name"]: row for row in rows}
    assert by_name["bitflip"]["points"] == 4  # one point per width, the seeds vectorized
    assert by_name["continual"]["points"] == 4 * 3 * 2 * 5
    assert cli_main(["sweep", "--list"]) == 0
    assert "cloning-escape" in capsys.readouterr().out


@pytest.mark.parametrize("figure", ["2.1", "B.8", "B.12", "B.13", "B.14", "3.1", "B.2"])
def test_figure_sweeps_resolve_at_both_presets(
    figure: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for preset in ("smoke", "paper"):
        assert (
            cli_main(["sweep", "--figure", figure, "--preset", preset, "--dry-run", "--out", str(tmp_path)])
            == 0
        )
        assert " runs, " in capsys.readouterr().out.splitlines()[0]
    assert cli_main(["sweep", "--figure", figure, "--preset", "huge", "--out", str(tmp_path)]) == 2
    assert "choices smoke, paper" in error_line(capsys)
    assert not any(tmp_path.iterdir())


def test_an_unknown_figure_names_the_figure_sweeps(capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["sweep", "--figure", "Z.9"]) == 2
    assert "names no figure sweep; figure sweeps: cloning-escape (2.1, B.7)" in error_line(capsys)


def test_plot_draws_into_the_sweep_dir_and_names_missing_and_incomplete_points(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with_figures = [item for item in TINY if not item.startswith("figures=")]
    # lr=1000 diverges
    assert (
        cli_main(
            [
                "sweep",
                "bitflip",
                "--grid",
                "lr=0.01,0.02,1000",
                *with_figures,
                "--executor",
                "debug",
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )
    sweep = only_sweep(tmp_path)
    assert [p["state"] for p in sweep.points] == [DONE, DONE, FAILED]
    assert sweep.points[2]["error"].startswith(worker.DIVERGED_PREFIX)
    metrics = point_run(sweep, 1) / METRICS_FILE
    metrics.write_text("".join(metrics.read_text().splitlines(keepends=True)[:2]))  # as if cut short
    before = {p: p.stat().st_mtime_ns for p in (sweep.path / POINTS_DIR).rglob("*") if p.is_file()}
    capsys.readouterr()
    assert cli_main(["plot", str(sweep.path)]) == 0
    captured = capsys.readouterr()
    (folder,) = (sweep.path / PLOTS_DIR).iterdir()
    assert sorted(p.name for p in folder.rglob("*.png")) == ["figure_b1.png", "figure_b2.png"]
    notes = (folder / NOTES_FILE).read_text()
    assert "point 002 (lr=1000) is missing: failed: the run diverged" in notes
    assert "point 001 (lr=0.02) is incomplete" in notes
    assert "draws 1 of its 3 points (not drawn: 001, 002)" in notes
    assert "point 002 (lr=1000) is missing" in captured.err
    for path, stamp in before.items():  # nothing of the points and their runs is touched
        assert path.stat().st_mtime_ns == stamp
    assert cli_main(["plot", str(sweep.path)]) == 0
    assert len(list((sweep.path / PLOTS_DIR).iterdir())) == 2  # a new folder: never over an earlier figure
    capsys.readouterr()
    assert cli_main(["plot", str(sweep.path), "--output", str(folder)]) == 2
    assert "figures are never overwritten" in error_line(capsys)


# ----------------------------------------------------------------------------------------------- gpu-check


def test_gpu_check_cpu_form_measures_and_estimates_every_figure_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    report = tmp_path / "check.json"
    assert (
        cli_main(
            [
                "gpu-check",
                "--device",
                "cpu",
                "--steps",
                "2",
                "--warmup",
                "1",
                "--batch-size",
                "2",
                "--only",
                "cloning:mlp",
                "continual:mlp",
                "bitflip:5",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "batch 2: NOT paper-scale" in out and "estimated cost of each figure sweep" in out
    body = json.loads(report.read_text())
    assert [(m["study"], m["case"]) for m in body["measurements"]] == [
        ("cloning", "mlp"),
        ("continual", "mlp"),
        ("bitflip", "5"),
    ]
    assert all(m["steps_per_s"] > 0 and m["peak_memory_mib"] is None for m in body["measurements"])
    rows = {row["name"]: row for row in body["sweeps"]}
    assert set(rows) == {s.name for s in FIGURE_SWEEPS}
    assert rows["adam-mlp"]["device_hours"] > 0 and rows["adam-mlp"]["unmeasured"] == []
    assert rows["cloning-escape"]["device_hours"] is None and rows["cloning-escape"]["unmeasured"] == [
        "cnn",
        "resnet",
        "vit",
    ]
    assert cli_main(["gpu-check", "--device", "cpu", "--only", "bitflip:5", "--json", str(report)]) == 2
    assert "already exists" in error_line(capsys)

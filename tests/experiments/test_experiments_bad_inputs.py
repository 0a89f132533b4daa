"""The bad-input suite of ``python -m experiments`` (robustness issue, §6): one case per kind of mistake.

Every case of :data:`ERROR_CASES` and :data:`DIVERGED_CASES` ends with a non-zero exit status and ONE line
on stderr, ``error: …``, that names the problem (and the valid choices, or what would make a key act),
without a traceback, and leaves no run directory behind (a diverged run keeps its directory, marked
``diverged``). ``--debug`` shows the traceback instead. Saved-run mistakes (:data:`PLOT_ERROR_CASES`)
end the same way; damaged but readable runs (:func:`test_plot_of_damaged_runs_draws_and_says_what_it_did`)
are drawn with one note per problem on stderr. The named ``test_bug_*`` tests pin each reported bug.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from experiments.__main__ import EXIT_BAD_INPUT, EXIT_DIVERGED
from experiments.__main__ import main as cli
from experiments.analysis import load_run
from experiments.runs import STATUS_FILE, load_config, read_status
from experiments.studies import bitflip, cloning, continual

TINY_CLONING = [
    "train_samples=128",
    "test_samples=64",
    "width=0.0625",
    "base_epochs=1",
    "clone_epochs=2",
    "metric_every=1",
    "metric_batch=40",
    "batch_size=32",
    "progress=false",
]
TINY_CONTINUAL = [
    "tasks=2",
    "steps_per_task=4",
    "log_interval=2",
    "batch_size=16",
    "metric_batch_size=32",
    "width=0.0625",
    "synthetic_train_per_class=20",
    "synthetic_test_per_class=10",
    "progress=false",
    "figures=false",
    "seeds=0,1",
]
TINY_BITFLIP = [
    "seeds=0,1",
    "samples=4000",
    "switch_step=2000",
    "bin_size=1000",
    "width=3,4",
    "summary_window=2000",
    "probe_size=64",
    "flip_period=500",
    "progress=false",
    "figures=false",
]
DIVERGING_LR = "1e6"
"""A step size that sends every tiny model to NaN within a few steps (measured: steps 1–3)."""

ERROR_CASES: list[tuple[str, list[str], str]] = [
    # --- §2: explicit overrides that have no effect under the other settings
    (
        "cloning sigma0 without noisy SGD",
        ["cloning", "sigma0=0.02"],
        "sigma0 only act with optimizer=noisy_sgd",
    ),
    ("cloning decay without noisy SGD", ["cloning", "decay=0.9"], "decay only act with optimizer=noisy_sgd"),
    (
        "cloning perturb_scale with perturb=none",
        ["cloning", "perturb_scale=0.2"],
        "perturb_scale only act with perturb=",
    ),
    (
        "cloning patch_size without vit",
        ["cloning", "patch_size=4"],
        "patch_size only act with arch=vit (here arch=mlp)",
    ),
    ("continual patch_size without vit", ["continual", "patch_size=4"], "patch_size only act with arch=vit"),
    (
        "cloning download with synthetic data",
        ["cloning", "download=true"],
        "download only act with a dataset other than synthetic",
    ),
    (
        "cloning data_dir with synthetic data",
        ["cloning", "data_dir=elsewhere"],
        "data_dir only act with a dataset",
    ),
    (
        "continual data_dir with synthetic data",
        ["continual", "data_dir=elsewhere"],
        "data_dir only act with a dataset",
    ),
    (
        "continual affine with normalization=none",
        ["continual", "normalization=none", "affine=false"],
        "affine only act with a normalization other than none",
    ),
    (
        "bitflip CBP keys without CBP",
        [
            "bitflip",
            "switch_step=600000",
            "replacement_rate=0.001",
            "maturity=5",
            "decay=0.9",
            "utility=contribution",
        ],
        "replacement_rate, maturity, decay, utility only act with switch_step < samples",
    ),
    ("cloning width that rounds", ["cloning", "width=0.001"], "width=0.001 gives 0.128 units for hidden=128"),
    ("continual width that rounds", ["continual", "width=0.3"], "width=0.3 gives 38.4 units"),
    (
        "continual method key at its default",
        ["continual", "replacement_rate=0.0001"],
        "replacement_rate only act with method=cbp (here method=none)",
    ),
    (
        "continual another method's key",
        ["continual", "method=cbp", "weight_decay=0.1"],
        "weight_decay only act with method=l2",
    ),
    (
        "cloning base_lr without base phase",
        ["cloning", "base_epochs=0", "base_lr=0.1"],
        "base_lr only act with base_epochs ≥ 1",
    ),
    (
        "bitflip flip_period without flipping bits",
        ["bitflip", "flipping_bits=0", "flip_period=10"],
        "flip_period only act with flipping_bits ≥ 1",
    ),
    (
        "continual synthetic key with real data",
        ["continual", "--preset", "paper", "synthetic_noise=1"],
        "synthetic_noise only act with dataset=synthetic",
    ),
    (
        "cloning pin_memory on the CPU",
        ["cloning", "device=cpu", "pin_memory=true"],
        "pin_memory only act with a CUDA device",
    ),
    (
        "continual CBP keys without replacements",
        ["continual", "method=cbp", "replacement_rate=0", "maturity_threshold=5"],
        "maturity_threshold only act with replacement_rate > 0",
    ),
    (
        "bitflip CBP keys without replacements",
        ["bitflip", "replacement_rate=0", "utility=contribution"],
        "utility only act with replacement_rate > 0",
    ),
    (
        "cloning metric batch larger than the data",
        ["cloning", "metric_batch=5000"],
        "metric_batch=5000 exceeds the 2048 training images",
    ),
    (
        "cloning batch larger than the data",
        ["cloning", "batch_size=4096"],
        "batch_size=4096 exceeds the 2048 training images",
    ),
    (
        "continual batch larger than a task",
        ["continual", "batch_size=1000"],
        "batch_size=1000 exceeds the 600 training images of task 0 (seed 0)",
    ),
    (
        "continual metric batch larger than the data",
        ["continual", "metric_batch_size=5000"],
        "metric_batch_size=5000 exceeds the 2400 training images",
    ),
    ("continual seed and seeds", ["continual", "seed=3", "seeds=1,2"], "give either seed=3 or seeds=1,2"),
    ("bitflip seed and seeds", ["bitflip", "seed=3", "seeds=1,2"], "give either seed=3 or seeds=1,2"),
    (
        "continual --plot with overrides",
        ["continual", "--plot", "some_run", "lr=0.1"],
        "--plot redraws saved runs",
    ),
    (
        "continual --output without --plot",
        ["continual", "--output", "figs"],
        "--output only acts with --plot",
    ),
    # --- §2: duplicate keys, empty values, ranges, parsing
    ("cloning duplicate key", ["cloning", "lr=0.1", "lr=0.2"], "lr is given twice (lr=0.1, lr=0.2)"),
    ("continual duplicate key", ["continual", "lr=0.1", "lr=0.2"], "lr is given twice"),
    ("bitflip duplicate key", ["bitflip", "lr=0.1", "lr=0.2"], "lr is given twice"),
    ("--out and out=", ["cloning", "--out", "a", "out=b"], "out is given twice"),
    ("cloning empty value", ["cloning", "lr="], "lr= has no value; give lr=<float>"),
    ("continual empty value", ["continual", "lr="], "lr= has no value"),
    ("bitflip empty value", ["bitflip", "lr="], "lr= has no value"),
    ("empty string value", ["cloning", "activation="], "activation= has no value"),
    (
        "cloning seed out of range",
        ["cloning", "seed=1e23"],
        "seed=1e23 is out of range; valid: [0, 4294967295]",
    ),
    ("continual seed out of range", ["continual", "seed=1e23"], "seed=1e23 is out of range"),
    ("bitflip seed out of range", ["bitflip", "seeds=0,1e23"], "seeds=0,1e23 is out of range"),
    ("negative seed", ["continual", "seed=-1"], "seed=-1 is out of range"),
    ("empty seed range", ["continual", "seeds=5..2"], "range '5..2' is empty"),
    ("repeated seed", ["bitflip", "seeds=0,1,0"], "repeats a seed"),
    ("non-integer seed", ["continual", "seed=2.5"], "seed='2.5' is not an integer"),
    ("non-finite number", ["cloning", "lr=nan"], "lr=nan must be a finite number"),
    ("optional number", ["continual", "lr=fast"], "lr='fast' is not valid; give a float or none"),
    ("unknown key", ["bitflip", "widht=5"], "unknown key 'widht'; valid keys:"),
    ("unknown choice", ["cloning", "optimizer=rmsprop"], "choices: sgd, adam, noisy_sgd"),
    ("not key=value", ["continual", "--preset", "smoke", "lr"], "override 'lr' must look like key=value"),
    ("unknown option", ["cloning", "--bogus"], "unrecognized arguments: --bogus"),
    ("unknown preset", ["bitflip", "--preset", "huge"], "invalid choice: 'huge'"),
    ("unknown study", ["study"], "invalid choice: 'study'"),
    # --- §3: mistakes found only with the data / before a run directory exists
    (
        "cloning vit patch that does not divide",
        ["cloning", "arch=vit", "patch_size=3"],
        "patch_size=3 must divide the image size 8×8",
    ),
    (
        "continual vit patch that does not divide",
        ["continual", "arch=vit", "patch_size=3"],
        "patch_size=3 must divide the image size 8×8",
    ),
    ("missing dataset", ["continual", "--preset", "paper", "data_dir=@nowhere"], "Tiny ImageNet not found"),
]
"""(case, argv, text the error line contains); ``--out`` is added; ``@`` stands for a temporary folder."""

OUT_FILE_CASES = ["cloning", "continual", "bitflip"]
DIVERGED_CASES: list[tuple[str, list[str]]] = [
    ("cloning", ["cloning", *TINY_CLONING, "normalization=none", f"lr={DIVERGING_LR}"]),
    (
        "continual",
        ["continual", *TINY_CONTINUAL, "optimizer=sgd", "normalization=none", f"lr={DIVERGING_LR}"],
    ),
    ("bitflip", ["bitflip", *TINY_BITFLIP, "lr=3"]),
]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``python -m experiments argv`` run in this process."""
    try:
        code = cli(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(("case", "argv", "needle"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_bad_input_ends_in_one_error_line(
    case: str, argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = [a.replace("@", str(tmp_path) + "/") for a in argv]
    keep = (
        argv[0] == "study"
        or {"--out", "--plot", "--output"} & set(argv)
        or any(a.startswith("out=") for a in argv)
    )
    if not keep:
        argv = [*argv, "--out", str(tmp_path / "runs")]
    code, _, err = run_cli(argv, capsys)
    assert code == EXIT_BAD_INPUT
    assert needle in one_error_line(err)
    assert not list(tmp_path.rglob("config.json"))  # no run directory was created


@pytest.mark.parametrize("study", OUT_FILE_CASES)
def test_bug_out_that_is_a_file_is_not_rejected_before_work(
    study: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("")
    for out in (a_file, a_file / "below"):
        code, _, err = run_cli([study, "--out", str(out)], capsys)
        assert code == EXIT_BAD_INPUT
        assert f"{a_file} is a file, not a folder" in one_error_line(err)
    assert a_file.read_text() == ""


def test_bug_vit_patch_size_leaves_an_orphan_run_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: ``cloning arch=vit patch_size=3`` created runs/cloning/<stamp> and then failed."""
    for study in ("cloning", "continual"):
        code, _, err = run_cli([study, "arch=vit", "patch_size=3", "--out", str(tmp_path)], capsys)
        assert code == EXIT_BAD_INPUT and "patch_size=3" in one_error_line(err)
    assert not (tmp_path / "cloning").exists() and not (tmp_path / "continual").exists()


@pytest.mark.parametrize(("study", "argv"), DIVERGED_CASES, ids=[c[0] for c in DIVERGED_CASES])
def test_bug_divergent_training_raises_linalgerror(
    study: str, argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: a raw LinAlgError from svdvals / eigvalsh. Now: one line, exit 3, status ``diverged``,
    the metrics logged before the divergence kept."""
    code, out, err = run_cli([*argv, "--out", str(tmp_path)], capsys)
    assert code == EXIT_DIVERGED and out == ""
    line = one_error_line(err)
    assert line.startswith("error: the run diverged:")
    assert any(word in line for word in ("not finite", " is nan", " is inf", "NaN or inf")) and " at " in line
    (run_dir,) = (tmp_path / study).iterdir()
    assert str(run_dir) in line
    status = read_status(run_dir)
    assert status is not None and status["state"] == "diverged" and status["message"] in line
    assert (run_dir / "metrics.jsonl").is_file()
    run = load_run(
        run_dir, {"cloning": cloning.KIND, "continual": continual.KIND, "bitflip": bitflip.KIND}[study]
    )
    assert not run.complete and "diverged" in run.describe_incomplete()


def test_divergence_keeps_the_records_before_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, _ = run_cli(
        [
            "continual",
            *TINY_CONTINUAL,
            "optimizer=sgd",
            "normalization=none",
            f"lr={DIVERGING_LR}",
            "--out",
            str(tmp_path),
        ],
        capsys,
    )
    (run_dir,) = (tmp_path / "continual").iterdir()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert code == EXIT_DIVERGED and records[0]["step"] == 0 and records[0]["event"] == "interval"
    assert all(np.isfinite(r["effective_rank"]) for r in records if "effective_rank" in r)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="lr is given twice"):
        cli(["cloning", "lr=0.1", "lr=0.2", "--debug"])


# ----------------------------------------------------------------------------------------------- saved runs


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One complete tiny run of each study (figures off: their figure folders are empty)."""
    root = tmp_path_factory.mktemp("saved")
    return {
        "cloning": cloning.run(cloning_config(root)),
        "continual": continual.run(
            continual.resolve_continual_config("smoke", [*TINY_CONTINUAL, f"out={root}"])
        ),
        "bitflip": bitflip.run_study(bitflip_config(root)),
    }


def cloning_config(root: Path, *extra: str) -> cloning.CloningConfig:
    from experiments.config import resolve_config

    return resolve_config(cloning.CloningConfig, "smoke", [*TINY_CLONING, f"out={root}", *extra])


def bitflip_config(root: Path) -> bitflip.BitFlipConfig:
    from experiments.config import resolve_config

    return resolve_config(bitflip.BitFlipConfig, "smoke", [*TINY_BITFLIP, f"out={root}"])


def copy_run(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def kill(run_dir: Path, keep_lines: int, torn: str = "") -> Path:
    """Make ``run_dir`` look killed: its first ``keep_lines`` records (plus a torn fragment), status
    running."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "metrics.jsonl").write_text("".join(lines[:keep_lines]) + torn)
    status = json.loads((run_dir / STATUS_FILE).read_text())
    (run_dir / STATUS_FILE).write_text(json.dumps({**status, "state": "running"}))
    for png in run_dir.rglob("*.png"):
        png.unlink()
    return run_dir


PLOT_ERROR_CASES = [
    "no such run",
    "a file",
    "two studies",
    "figures exist in --output",
    "--output is a file",
    "corrupt metrics line",
    "corrupt config.json",
    "corrupt status.json",
    "seed in two runs",
    "unknown study",
]


@pytest.mark.parametrize("case", PLOT_ERROR_CASES)
def test_plot_of_bad_runs_ends_in_one_error_line(
    case: str, saved: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = copy_run(saved["continual"], tmp_path / "run")
    argv, needle = ["plot", str(run)], ""
    if case == "no such run":
        argv, needle = ["plot", str(tmp_path / "nothing")], "is not a run directory (no config.json)"
    elif case == "a file":
        (tmp_path / "f.txt").write_text("x")
        argv, needle = ["plot", str(tmp_path / "f.txt")], "is not a run directory"
    elif case == "two studies":
        argv, needle = ["plot", str(run), str(saved["bitflip"])], "runs of several studies were given"
    elif case == "figures exist in --output":
        (tmp_path / "figs").mkdir()
        (tmp_path / "figs" / "curves.png").write_bytes(b"earlier figure")
        argv += ["--output", str(tmp_path / "figs")]
        needle = "curves.png already exist(s); figures are never overwritten"
    elif case == "--output is a file":
        (tmp_path / "figs").write_text("")
        argv += ["--output", str(tmp_path / "figs")]
        needle = "is a file; give a folder for the figures"
    elif case == "corrupt metrics line":
        lines = (run / "metrics.jsonl").read_text().splitlines()
        (run / "metrics.jsonl").write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
        needle = f"{run / 'metrics.jsonl'}, line 2: not a JSON object"
    elif case == "corrupt config.json":
        (run / "config.json").write_text("{")
        needle = f"{run / 'config.json'} is not valid JSON"
    elif case == "corrupt status.json":
        (run / STATUS_FILE).write_text('{"state": "sleeping"}')
        needle = f"{run / STATUS_FILE} has no valid 'state'; states: running, complete, diverged, failed"
    elif case == "seed in two runs":
        again = copy_run(run, tmp_path / "again")
        argv, needle = ["plot", str(run), str(again)], "seed 0 appears in two runs of one setting"
    elif case == "unknown study":
        body = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**body, "config_class": "OtherConfig"}))
        needle = "holds a OtherConfig run; plot knows CloningConfig, ContinualConfig, BitFlipConfig"
    code, _, err = run_cli(argv, capsys)
    assert code == EXIT_BAD_INPUT and needle in one_error_line(err)
    assert not (tmp_path / "plots").exists() and not (run / "figures" / "curves.png").exists()


def test_bug_plot_of_killed_bitflip_run_raises_axiserror(
    saved: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: numpy AxisError (a bin logged for some seeds only). Now: drawn, n=1–2, a note."""
    # width 4, step 2000: seed 0 only
    killed = kill(copy_run(saved["bitflip"], tmp_path / "killed"), keep_lines=11)
    code, out, err = run_cli(["plot", str(killed)], capsys)
    assert code == 0 and {Path(p).name for p in out.split()} == {"figure_b1.png", "figure_b2.png"}
    assert all(Path(p).parent == killed for p in out.split())  # its own figures did not exist yet
    assert f"note: {killed} is incomplete (status running: killed or still running; width 4" in err


def test_bug_killed_continual_run_silently_cuts_the_pooled_curves(
    saved: dict[str, Path], tmp_path: Path
) -> None:
    """Before: pooled with a complete run, a killed run cut every curve to its last step, labelled n=4."""
    complete = copy_run(saved["continual"], tmp_path / "a")
    other = continual.run(
        continual.resolve_continual_config(
            "smoke",
            [
                *[t for t in TINY_CONTINUAL if not t.startswith("seeds=")],
                "seeds=2,3",
                f"out={tmp_path / 'b'}",
            ],
        )
    )
    killed = kill(other, keep_lines=4)
    groups = continual.group_runs([complete, killed])
    assert sorted(groups) == ["mlp, norm=default", f"mlp, norm=default [incomplete: {killed.name}]"]
    assert [r.path for r in groups["mlp, norm=default"]] == [complete]
    (note,) = [note for note in groups.notes if "is incomplete" in note]
    assert (
        note.startswith(f"{killed} is incomplete")
        and "seed 2 stops at step 4 of 8; seed 3 has no records" in note
    )


def test_bug_torn_last_metrics_line_raises_jsondecodeerror(
    saved: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: a JSONDecodeError naming no file. Now: the torn last line is dropped, and a note says so."""
    run = copy_run(saved["cloning"], tmp_path / "torn")
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    kill(run, keep_lines=len(lines) - 1, torn=lines[-1][: len(lines[-1]) // 2])
    code, out, err = run_cli(["plot", str(run)], capsys)
    assert code == 0 and Path(out.split()[0]) == run / "figures" / "cloning.png"
    assert f"note: {run / 'metrics.jsonl'}: the last line is torn" in err
    assert "the clone phase stops at epoch 1 of 2" in err


def test_bug_corrupt_metrics_line_names_no_file(
    saved: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = copy_run(saved["bitflip"], tmp_path / "bad")
    text = (run / "metrics.jsonl").read_text()
    (run / "metrics.jsonl").write_text(text.replace("\n", "\n[1, 2]\n", 1))
    code, _, err = run_cli(["plot", str(run)], capsys)
    assert code == EXIT_BAD_INPUT and f"{run / 'metrics.jsonl'}, line 2" in one_error_line(err)


def test_bug_plot_overwrites_first_run_figures(
    saved: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: ``plot runA runB`` rewrote runA's figures with the combined plot, and cloning plots defaulted
    to a shared <runs>/cloning.png that the next plot overwrote. Now each plot of several runs goes to a
    new folder beside them, and runA's own figure stays as its run drew it."""
    a = copy_run(saved["cloning"], tmp_path / "runs" / "a")
    b = cloning.run(cloning_config(tmp_path / "runs", "seed=1"))
    own = (a / "figures" / "cloning.png").read_bytes()
    first = [Path(p) for p in run_cli(["plot", str(a), str(b)], capsys)[1].split()]
    second = [Path(p) for p in run_cli(["plot", str(a), str(b)], capsys)[1].split()]
    assert len(first) == len(second) == 1 and first != second
    assert all(p.is_file() and p.parent.parent == a.parent / "plots" for p in first + second)
    assert (a / "figures" / "cloning.png").read_bytes() == own
    assert not (a.parent / "cloning.png").exists()


def test_bug_plot_pools_runs_with_different_thread_counts(saved: dict[str, Path], tmp_path: Path) -> None:
    """Thread counts change results: runs that differ in them are grouped apart, with a note."""
    a = copy_run(saved["continual"], tmp_path / "a")
    b = copy_run(saved["continual"], tmp_path / "b")
    body = json.loads((b / "config.json").read_text())
    body["environment"]["torch_threads"] = 2
    body["config"]["seeds"] = [5, 6]  # another pair of seeds: otherwise the seeds would repeat
    (b / "config.json").write_text(json.dumps(body))
    (b / "metrics.jsonl").write_text(
        (b / "metrics.jsonl").read_text().replace('"seed": 0', '"seed": 5').replace('"seed": 1', '"seed": 6')
    )
    groups = continual.group_runs([a, b])
    assert sorted(groups) == ["torch_threads=1", "torch_threads=2"]
    assert groups.notes == [
        (
            "the runs differ in torch_threads (1, 2), which changes results: "
            "they are grouped separately by it, "
            "never pooled"
        )
    ]


def test_bug_thread_count_is_not_recorded(saved: dict[str, Path]) -> None:
    for study, run_dir in saved.items():
        environment = json.loads((run_dir / "config.json").read_text())["environment"]
        assert {"torch", "numpy", "torch_threads", "default_dtype"} <= set(environment), study
        assert load_config(run_dir)["device"] == "cpu"


def test_plot_of_damaged_runs_draws_and_says_what_it_did(
    saved: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A run without status.json (written before it existed) counts as complete when its records are."""
    legacy = copy_run(saved["bitflip"], tmp_path / "legacy")
    (legacy / STATUS_FILE).unlink()
    for png in legacy.glob("*.png"):
        png.unlink()
    code, out, err = run_cli(["plot", str(legacy)], capsys)
    assert code == 0 and err == "" and len(out.split()) == 2


def test_bitflip_runs_saved_with_a_seed_count_still_load(saved: dict[str, Path], tmp_path: Path) -> None:
    """Runs written when bitflip's ``seeds`` was a count (seeds=2 meant seeds 0, 1) are read as such."""
    old = copy_run(saved["bitflip"], tmp_path / "old")
    body = json.loads((old / "config.json").read_text())
    body["config"]["seeds"] = 2
    body["config"].pop("out")
    (old / "config.json").write_text(json.dumps(body))
    run = load_run(old, bitflip.KIND)
    assert run.config.run_seeds() == [0, 1] and run.complete

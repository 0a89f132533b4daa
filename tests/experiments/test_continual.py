"""The continual-learning study (experiments/studies/continual/; Section 3.1, Appendix B.1.1): task
split, masked loss, head reset, online-accuracy bookkeeping, metrics.jsonl records, run directories,
configuration errors, a missing dataset, and tiny end-to-end runs of every architecture and method."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from experiments.__main__ import main as cli_main
from experiments.config import ConfigError
from experiments.data import DatasetNotFound
from experiments.models import ARCHITECTURES, build
from experiments.runs import load_metrics
from experiments.studies import continual
from experiments.studies.continual import (
    INTERVAL,
    TASK_END,
    ContinualConfig,
    RunningAccuracy,
    main,
    masked_cross_entropy,
    output_layer,
    plot_run,
    resolve_continual_config,
    run,
    task_classes,
    train_step,
)

TINY_TASKS, TINY_STEPS, TINY_INTERVAL = 2, 4, 2
FLOAT64_RTOL = 1e-12


def tiny(tmp_path: Path, *extra: str) -> list[str]:
    """A run of seconds: 2 tasks × 2 classes × 4 steps on 8×8 synthetic images, tiny widths; ``extra``
    replaces a default of the same key (a key given twice is an error)."""
    given = {item.partition("=")[0] for item in extra}
    base = [
        "dataset=synthetic",
        "synthetic_shape=3,8,8",
        f"tasks={TINY_TASKS}",
        "classes_per_task=2",
        f"steps_per_task={TINY_STEPS}",
        f"log_interval={TINY_INTERVAL}",
        "batch_size=16",
        "metric_batch_size=32",
        "eval_batch_size=64",
        "width=0.0625",
        "synthetic_train_per_class=20",
        "synthetic_test_per_class=10",
        "progress=false",
        "figures=false",
        "threads=1",
        "seeds=0",
        f"out={tmp_path}",
    ]
    return [item for item in base if item.partition("=")[0] not in given] + list(extra)


def tiny_run(tmp_path: Path, *extra: str) -> Path:
    return run(resolve_continual_config("smoke", tiny(tmp_path, *extra)))


# ---------------------------------------------------------------------------------------------- tasks


@given(st.integers(2, 30), st.integers(1, 6), st.integers(0, 10_000))
def test_task_split_is_disjoint_covering_and_seeded(classes_per_task: int, tasks: int, seed: int) -> None:
    num_classes = classes_per_task * tasks
    split = task_classes(num_classes, tasks, classes_per_task, seed)
    flat = [c for task in split for c in task]
    assert [len(t) for t in split] == [classes_per_task] * tasks
    assert sorted(flat) == list(range(num_classes))  # disjoint and covering
    assert split == task_classes(num_classes, tasks, classes_per_task, seed)
    partial = task_classes(num_classes + 7, tasks, classes_per_task, seed)
    assert len({c for t in partial for c in t}) == num_classes  # fewer tasks than classes: still disjoint


def test_task_split_depends_on_the_seed_and_rejects_too_many_tasks() -> None:
    assert task_classes(200, 40, 5, 0) != task_classes(200, 40, 5, 1)
    with pytest.raises(ValueError, match="exceeds the 10 classes"):
        task_classes(10, 3, 4, 0)


# ---------------------------------------------------------------------------------------------- loss


def test_masked_loss_gives_zero_gradient_to_other_logits() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 10, generator=g, dtype=torch.float64, requires_grad=True)
    classes = torch.tensor([7, 2, 5])
    targets = classes[torch.randint(0, 3, (6,), generator=g)]
    loss, predictions = masked_cross_entropy(logits, targets, classes)
    (grad,) = torch.autograd.grad(loss, logits)
    others = torch.ones(10, dtype=torch.bool)
    others[classes] = False
    assert torch.all(grad[:, others] == 0)
    # Reference: explicit log-softmax over the task's columns only.
    sub = logits.detach()[:, classes]
    local = torch.tensor([int((classes == t).nonzero()) for t in targets])
    reference = -(sub - sub.logsumexp(1, keepdim=True))[torch.arange(6), local].mean()
    assert float(loss.detach()) == pytest.approx(float(reference), rel=FLOAT64_RTOL)
    assert torch.all(torch.isin(predictions, classes))
    assert not bool(grad[:, classes].eq(0).all())


def test_unmasked_loss_is_cross_entropy_and_bad_targets_are_rejected() -> None:
    logits, targets = torch.randn(4, 5), torch.tensor([0, 1, 4, 2])
    loss, predictions = masked_cross_entropy(logits, targets, None)
    assert torch.equal(loss, F.cross_entropy(logits, targets)) and torch.equal(predictions, logits.argmax(1))
    with pytest.raises(ValueError, match="not one of the task's classes"):
        masked_cross_entropy(logits, targets, torch.tensor([0, 1]))


# ---------------------------------------------------------------------------------------------- head reset


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_output_layer_is_the_classifier(arch: str) -> None:
    model = build(arch, (3, 8, 8), 7, width=0.0625, **({"patch_size": 4} if arch == "vit" else {}))
    head = output_layer(model)
    assert head.out_features == 7
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 7)


@pytest.mark.parametrize("reset", [True, False])
def test_head_is_reset_at_every_task_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reset: bool
) -> None:
    calls = []
    real = continual.reset_head_

    def spy(head, optimizer=None):
        real(head, optimizer)
        calls.append((head.weight.detach().clone(), head.bias.detach().clone(), optimizer))

    monkeypatch.setattr(continual.loop, "reset_head_", spy)
    tiny_run(tmp_path, f"reset_head={str(reset).lower()}", "arch=mlp")
    assert len(calls) == (TINY_TASKS if reset else 0)
    for _weight, bias, optimizer in calls:
        assert torch.all(bias == 0) and optimizer is not None
    if reset:
        assert not torch.equal(calls[0][0], calls[1][0])  # redrawn, not restored


# ------------------------------------------------------------------------------------------- online accuracy


def test_running_accuracy_weights_batches_by_size() -> None:
    acc = RunningAccuracy()
    assert acc.result() == {}
    acc.update(3, 4, 1.0)
    acc.update(1, 6, 2.0)
    assert acc.result() == {"accuracy": 0.4, "loss": pytest.approx(1.6)}
    acc.reset()
    assert acc.seen == 0


def test_train_step_scores_the_batch_before_its_update() -> None:
    torch.manual_seed(0)
    model = build("mlp", (3, 8, 8), 6, width=0.0625, dropout=0.0)
    before = copy.deepcopy(model).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    x, y = torch.randn(32, 3, 8, 8), torch.randint(0, 6, (32,))
    loss, correct, logits = train_step(model, optimizer, x, y, None, None, None)
    expected = before(x).detach()
    assert torch.equal(logits, expected) and correct == int((expected.argmax(1) == y).sum())
    assert loss == pytest.approx(float(F.cross_entropy(expected, y)))
    assert not torch.equal(model(x), expected)  # the update did happen


def test_logged_online_accuracy_averages_the_intervals_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int]] = []
    real = continual.train_step

    def spy(model, optimizer, x, y, classes, amp, scaler):
        out = real(model, optimizer, x, y, classes, amp, scaler)
        seen.append((out[1], len(y)))
        return out

    monkeypatch.setattr(continual.loop, "train_step", spy)
    run_dir = tiny_run(tmp_path, "batch_size=7")  # 40 training images per task: batches of 7, 7, …, 5
    logged = [r for r in load_metrics(run_dir) if r["event"] == INTERVAL and r["step"] > 0 and r["seed"] == 0]
    assert len(logged) == TINY_TASKS * TINY_STEPS // TINY_INTERVAL
    for k, record in enumerate(logged):
        chunk = seen[k * TINY_INTERVAL : (k + 1) * TINY_INTERVAL]
        assert record["online_accuracy"] == pytest.approx(sum(c for c, _ in chunk) / sum(n for _, n in chunk))


# ---------------------------------------------------------------------------------------------- records


def test_records_carry_task_step_seed_and_the_metric_suite(tmp_path: Path) -> None:
    run_dir = tiny_run(tmp_path, "seeds=3,5", "figures=true")
    records = load_metrics(run_dir)
    assert all({"task", "step", "seed", "event"} <= set(r) for r in records)
    assert [r["seed"] for r in records] == [3] * (len(records) // 2) + [5] * (len(records) // 2)
    for seed in (3, 5):
        intervals = [r for r in records if r["seed"] == seed and r["event"] == INTERVAL]
        ends = [r for r in records if r["seed"] == seed and r["event"] == TASK_END]
        assert [r["step"] for r in intervals] == list(range(0, TINY_TASKS * TINY_STEPS + 1, TINY_INTERVAL))
        assert [r["task"] for r in intervals] == [0, 0, 0, 1, 1]
        assert [(r["task"], r["step"]) for r in ends] == [
            (t, (t + 1) * TINY_STEPS) for t in range(TINY_TASKS)
        ]
        layers = {k.split("/")[1] for k in intervals[0] if k.startswith("layer/")}
        assert len(layers) == 5  # the MLP's five hidden layers
        for r in intervals:
            for name in layers:
                for metric in ("dead_fraction", "duplicate_fraction", "effective_rank", "saturated_fraction"):
                    assert f"layer/{name}/{metric}" in r
            assert {"dead_fraction", "duplicate_fraction", "effective_rank"} <= set(r)
            assert ("online_accuracy" in r) == (r["step"] > 0)
        for r in ends:
            assert {
                "task_accuracy",
                "mean_task_accuracy",
                "seen_tasks_accuracy",
                "task_online_accuracy",
            } <= set(r)
            assert 0.0 <= r["task_accuracy"] <= 1.0
        assert sorted(c for r in ends for c in r["classes"]) == [0, 1, 2, 3]
        assert ends[1]["mean_task_accuracy"] == pytest.approx(
            (ends[0]["task_accuracy"] + ends[1]["task_accuracy"]) / 2
        )
    classes = {
        seed: [r["classes"] for r in records if r["seed"] == seed and r["event"] == TASK_END]
        for seed in (3, 5)
    }
    assert classes[3] == task_classes(4, 2, 2, 3) and classes[5] == task_classes(4, 2, 2, 5)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["lr"] == 1e-3 and config["config"]["dropout"] == 0.2
    assert config["resolved"]["seeds"] == [3, 5]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["seeds"] == [3, 5] and set(summary["online_accuracy_mean"]) == {"mean", "std"}
    figures = {p.name for p in (run_dir / "figures").iterdir()}
    assert figures == {"curves.png", "task_accuracy.png", "layers.png", "lop_scatter.png", "summary_bars.png"}


def test_records_are_written_as_the_run_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = continual.train_step

    def failing(*args):
        calls["n"] += 1
        if calls["n"] > TINY_STEPS:  # crash at the first step of the second task
            raise RuntimeError("simulated crash")
        return real(*args)

    monkeypatch.setattr(continual.loop, "train_step", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        tiny_run(tmp_path)
    (run_dir,) = (tmp_path / "continual").iterdir()
    records = load_metrics(run_dir)
    assert [r["event"] for r in records][-1] == TASK_END and records[-1]["task"] == 0


def test_every_run_gets_a_new_directory(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--preset", "smoke", *tiny(tmp_path)]) == 0
    assert main(["--preset", "smoke", *tiny(tmp_path)]) == 0
    first, second = capsys.readouterr().out.split()
    assert first != second
    for d in (first, second):
        assert (Path(d) / "config.json").is_file() and load_metrics(d)


def test_runs_are_reproducible(tmp_path: Path) -> None:
    def strip(records: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]

    first = strip(
        load_metrics(tiny_run(tmp_path, "method=cbp", "replacement_rate=0.2", "maturity_threshold=1"))
    )
    second = strip(
        load_metrics(tiny_run(tmp_path, "method=cbp", "replacement_rate=0.2", "maturity_threshold=1"))
    )
    assert first == second


def test_plot_redraws_from_saved_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = tiny_run(tmp_path / "runs", "normalization=none")
    b = tiny_run(tmp_path / "runs", "normalization=batch")
    assert main(["--plot", str(a), str(b), "--output", str(tmp_path / "fig")]) == 0
    assert len(capsys.readouterr().out.split()) == 5
    groups = continual.group_runs([a, b])
    assert sorted(groups) == ["normalization=batch", "normalization=none"]
    assert {p.name for p in plot_run([a], tmp_path / "one")} >= {"curves.png", "layers.png"}


# ---------------------------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["colour=red"], "unknown key 'colour'; valid keys: .*arch.*mask_loss"),
        (["log_interval=7"], "log_interval=7 must divide steps_per_task=150"),
        (["replacement_rate=0.01"], "replacement_rate only act with method=cbp"),
        (["noise_std=0.1", "method=cbp"], "noise_std only act with method=shrink_perturb"),
        (["seed=3", "seeds=1,2"], "either seed=3 or seeds=1,2"),
        (["arch=transformer"], "choices: mlp, cnn, resnet, vit"),
        (["lr=0"], "out of range"),
        (["activation=nope"], "activation='nope'"),
    ],
)
def test_configuration_errors_name_the_problem(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_continual_config("smoke", overrides)


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["cbp", "shrink_perturb"])
def test_replacement_methods_run_on_cuda(method: str, tmp_path: Path) -> None:
    """CBP's unit statistics and shrink-and-perturb's noise follow the parameters onto the GPU."""
    cfg = resolve_continual_config(
        "smoke", [f"method={method}", "device=cuda", "tasks=2", "steps_per_task=5", f"out={tmp_path}"]
    )
    run_dir = continual.run(cfg)
    assert (run_dir / "metrics.jsonl").stat().st_size > 0


def test_paper_preset_and_learning_rate_defaults() -> None:
    cfg = resolve_continual_config("paper", [])
    assert (cfg.dataset, cfg.tasks, cfg.classes_per_task, cfg.steps_per_task) == ("tiny_imagenet", 40, 5, 500)
    assert cfg.optimizer == "adam" and cfg.lr == 1e-3 and cfg.run_seeds() == [0, 1, 2, 3, 4]
    assert cfg.reset_head and cfg.mask_loss
    assert resolve_continual_config("paper", ["arch=vit"]).lr == 1e-4
    assert resolve_continual_config("paper", ["arch=vit", "lr=0.01"]).lr == 0.01
    assert resolve_continual_config("paper", ["arch=cnn"]).dropout == 0.1
    assert isinstance(resolve_continual_config("paper", ["dropout=none"]), ContinualConfig)


def test_missing_dataset_fails_clearly_and_leaves_no_run_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cfg = resolve_continual_config("paper", [f"data_dir={tmp_path / 'data'}", f"out={tmp_path / 'runs'}"])
    with pytest.raises(DatasetNotFound, match="tiny-imagenet-200"):
        run(cfg)
    assert not (tmp_path / "runs").exists()
    assert (
        cli_main(["continual", "--preset", "paper", f"data_dir={tmp_path / 'data'}", f"out={tmp_path}"]) == 2
    )
    assert "error: Tiny ImageNet not found" in capsys.readouterr().err


def test_too_many_tasks_for_the_dataset_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = continual.load_data(resolve_continual_config("smoke", tiny(tmp_path)))
    monkeypatch.setattr(continual.study, "load_data", lambda cfg: small)
    with pytest.raises(ConfigError, match="exceeds the 4 classes"):
        tiny_run(tmp_path, "tasks=3")
    assert not (tmp_path / "continual").exists()


def test_bad_model_options_are_configuration_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["continual", *tiny(tmp_path, "arch=vit", "patch_size=3")]) == 2
    assert "error: patch_size=3 must divide the image size 8×8" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_each_architecture_runs_end_to_end(tmp_path: Path, arch: str) -> None:
    run_dir = tiny_run(tmp_path, f"arch={arch}", "method=cbp", "replacement_rate=0.2", "maturity_threshold=1")
    records = load_metrics(run_dir)
    intervals = [r for r in records if r["event"] == INTERVAL and r["step"] > 0]
    assert sum(r["cbp_replaced"] for r in intervals) > 0
    assert all(0.0 <= r["online_accuracy"] <= 1.0 and r["effective_rank"] > 0 for r in intervals)


@pytest.mark.parametrize(
    "extra",
    [
        ["method=shrink_perturb", "noise_std=0.01"],
        ["method=l2", "weight_decay=0.1"],
        ["mask_loss=false", "reset_head=false", "augment=true", "normalization=layer"],
    ],
)
def test_methods_and_protocol_switches_run(tmp_path: Path, extra: list[str]) -> None:
    records = load_metrics(tiny_run(tmp_path, *extra))
    assert [r["event"] for r in records].count(TASK_END) == TINY_TASKS


def test_bfloat16_autocast_path_on_cpu(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build("mlp", (3, 8, 8), 4, width=0.0625, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(8, 3, 8, 8), torch.randint(0, 4, (8,))
    loss, _, logits = train_step(model, optimizer, x, y, torch.tensor([0, 1, 2, 3]), torch.bfloat16, None)
    assert logits.dtype == torch.bfloat16 and math.isfinite(loss)
    records = load_metrics(tiny_run(tmp_path, "amp=bf16"))
    assert (
        json.loads((next((tmp_path / "continual").iterdir()) / "config.json").read_text())["resolved"]["amp"]
        == "torch.bfloat16"
    )
    assert all(r["online_accuracy"] >= 0 for r in records if r["event"] == INTERVAL and r["step"] > 0)


def test_a_crashed_run_is_marked_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(continual.loop, "train_step", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        tiny_run(tmp_path)
    (run_dir,) = (tmp_path / "continual").iterdir()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and "simulated crash" in status["message"]


def test_task_batches_reshuffle_every_pass_like_the_loader() -> None:
    """TaskBatches with explicit (passes, position) yields what cycling over the seeded loader yields."""
    from experiments.data import make_loader

    images, labels = torch.arange(10 * 3 * 2 * 2, dtype=torch.float32).reshape(10, 3, 2, 2), torch.arange(10)
    expected = []
    loader = make_loader(images, labels, 4, shuffle=True, seed=7)
    for _ in range(3):
        expected += [y.tolist() for _, y in loader]
    stream = continual.TaskBatches(make_loader(images, labels, 4, shuffle=True, seed=7))
    got = [stream.next()[1].tolist() for _ in range(len(expected))]
    assert got == expected and (stream.passes, stream.position) == (3, 3)
    assert sorted(label for batch in got[:3] for label in batch) == list(range(10))

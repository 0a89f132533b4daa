"""Checkpoints (experiments.checkpoint): atomic saves, random states, metric lines, the studies' state
capture."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from exp_fixtures import batch, moved_model

from experiments.checkpoint import (
    CHECKPOINT_FILE,
    Checkpointer,
    CheckpointMismatch,
    capture_global_rng,
    load_checkpoint,
    load_optimizer_state,
    optimizer_to_cpu_state,
    restore_global_rng,
    save_checkpoint,
)
from experiments.config import resolve_config
from experiments.data import make_loader
from experiments.optim import make_optimizer
from experiments.optim.cbp_targets import ModelContinualBackprop
from experiments.runs import METRICS_FILE, MetricsLog, RunFileError, read_metrics
from experiments.studies import bitflip
from experiments.studies.bitflip_state import EngineMismatch, capture_engine, restore_engine
from experiments.studies.continual.tasks import TaskBatches

CONFIG = {"lr": 0.1, "seeds": [0, 1]}


def body(value: float) -> dict:
    return {
        "study": "toy",
        "config": CONFIG,
        "step": 1,
        "metric_lines": 0,
        "state": {"x": torch.tensor([value])},
    }


def test_save_then_load_round_trips_and_checks_study_and_config(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, body(1.0))
    loaded = load_checkpoint(tmp_path, "toy", CONFIG)
    assert loaded is not None and torch.equal(loaded["state"]["x"], torch.tensor([1.0]))
    assert load_checkpoint(tmp_path / "none", "toy", CONFIG) is None
    with pytest.raises(CheckpointMismatch, match="another configuration"):
        load_checkpoint(tmp_path, "toy", {**CONFIG, "lr": 0.2})
    with pytest.raises(CheckpointMismatch, match="'toy' study"):
        load_checkpoint(tmp_path, "cloning", CONFIG)


def test_a_crash_during_save_leaves_the_previous_checkpoint_loadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_checkpoint(tmp_path, body(1.0))
    real_save = torch.save

    def half_then_crash(obj: object, handle: object) -> None:
        real_save(obj, handle)
        handle.seek(0)  # type: ignore[attr-defined]
        handle.truncate(10)  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, body(2.0))
    monkeypatch.setattr(torch, "save", real_save)
    loaded = load_checkpoint(tmp_path, "toy", CONFIG)
    assert loaded is not None and float(loaded["state"]["x"]) == 1.0
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_FILE]  # no temporary file left


def test_a_save_killed_before_the_rename_leaves_a_stale_file_that_is_ignored_then_removed(
    tmp_path: Path,
) -> None:
    save_checkpoint(tmp_path, body(1.0))
    stale = tmp_path / f".{CHECKPOINT_FILE}.killed"
    stale.write_bytes(b"half a checkpoint")  # what a SIGKILL in the middle of a save leaves
    loaded = load_checkpoint(tmp_path, "toy", CONFIG)
    assert loaded is not None and float(loaded["state"]["x"]) == 1.0
    save_checkpoint(tmp_path, body(3.0))
    assert not stale.exists()


def test_a_damaged_checkpoint_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(RunFileError, match=CHECKPOINT_FILE):
        load_checkpoint(tmp_path, "toy", CONFIG)


def test_checkpoints_never_unpickle_code(tmp_path: Path) -> None:
    torch.save(
        {"format": 1, "study": "toy", "config": CONFIG, "state": Path("x")}, tmp_path / CHECKPOINT_FILE
    )
    with pytest.raises(RunFileError, match="cannot be read"):
        load_checkpoint(tmp_path, "toy", CONFIG)


def test_global_random_states_round_trip() -> None:
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.standard_normal()  # leaves a cached gaussian in numpy's state
    state = capture_global_rng()
    first = (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist())
    restore_global_rng(state)
    assert (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist()) == first


def test_checkpointer_is_due_when_a_multiple_is_crossed() -> None:
    saver = Checkpointer(Path("."), "toy", {}, 100)
    assert [s for s in range(1, 301) if saver.due(s)] == [100, 200, 300]
    assert saver.due(120, previous=90) and not saver.due(190, previous=120)
    assert not any(Checkpointer(Path("."), "toy", {}, 0).due(s) for s in range(1, 10))


def test_metrics_log_cuts_back_to_the_counted_lines(tmp_path: Path) -> None:
    with MetricsLog(tmp_path) as log:
        for step in range(3):
            log.log(step=step, loss=1.0)
    with (tmp_path / METRICS_FILE).open("a") as handle:
        handle.write('{"step": 3, "lo')  # torn by a kill
    with MetricsLog(tmp_path, keep_lines=2) as log:
        assert log.lines == 2
        log.log(step=2, loss=0.5)
    assert [r["loss"] for r in read_metrics(tmp_path).records] == [1.0, 1.0, 0.5]
    with pytest.raises(RunFileError, match="3 complete lines, but the run's checkpoint counted 5"):
        MetricsLog(tmp_path, keep_lines=5)


def test_noisy_sgd_state_includes_its_step_counter_and_noise_generator() -> None:
    model = moved_model("mlp", "none", torch.float32)
    x, y = batch(torch.float32)

    def steps(optimizer: torch.optim.Optimizer, n: int) -> None:
        for _ in range(n):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()

    optimizer = make_optimizer("noisy_sgd", model.parameters(), lr=0.01, sigma0=0.5, decay=0.9, seed=3)
    steps(optimizer, 2)
    saved_model = {k: v.clone() for k, v in model.state_dict().items()}
    saved = optimizer_to_cpu_state(optimizer)
    steps(optimizer, 3)
    after = [p.detach().clone() for p in model.parameters()]
    model.load_state_dict(saved_model)
    fresh = make_optimizer("noisy_sgd", model.parameters(), lr=0.01, sigma0=0.5, decay=0.9, seed=3)
    load_optimizer_state(fresh, saved)
    assert fresh.t == 2  # type: ignore[attr-defined]
    steps(fresh, 3)
    assert all(torch.equal(a, b) for a, b in zip(after, model.parameters()))


def test_cbp_state_round_trips_and_continues_identically() -> None:
    def make() -> tuple[torch.nn.Module, torch.optim.Optimizer, ModelContinualBackprop]:
        model = moved_model("mlp", "batch", torch.float64)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        cbp = ModelContinualBackprop(
            model,
            optimizer,
            replacement_rate=0.2,
            maturity_threshold=1,
            generator=torch.Generator().manual_seed(5),
        )
        return model, optimizer, cbp

    def steps(
        model: torch.nn.Module, optimizer: torch.optim.Optimizer, cbp: ModelContinualBackprop, n: int
    ) -> int:
        replaced = 0
        for i in range(n):
            x, y = batch(torch.float64, seed=10 + i)
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            replaced += sum(int(r.numel()) for r in cbp.step())
        return replaced

    model, optimizer, cbp = make()
    steps(model, optimizer, cbp, 3)
    saved = (
        cbp.state_dict(),
        {k: v.clone() for k, v in model.state_dict().items()},
        optimizer_to_cpu_state(optimizer),
    )
    assert steps(model, optimizer, cbp, 4) > 0  # units are replaced after the checkpoint
    expected = [p.detach().clone() for p in model.parameters()]
    model2, optimizer2, cbp2 = make()
    cbp2.load_state_dict(saved[0])
    model2.load_state_dict(saved[1])
    load_optimizer_state(optimizer2, saved[2])
    steps(model2, optimizer2, cbp2, 4)
    assert all(torch.equal(a, b) for a, b in zip(expected, model2.parameters()))


def test_task_batches_restore_at_the_same_batch_across_passes() -> None:
    images, labels = torch.arange(10).reshape(10, 1).float(), torch.arange(10)
    stream = TaskBatches(make_loader(images, labels, 3, shuffle=True, seed=4))
    for _ in range(6):  # two passes of 4 batches: into the second pass
        stream.next()
    saved = stream.state()
    expected = [stream.next()[1].tolist() for _ in range(5)]
    again = TaskBatches(make_loader(images, labels, 3, shuffle=True, seed=4))
    again.restore(saved)
    assert (again.passes, again.position) == (saved["passes"], saved["position"]) == (2, 2)
    assert [again.next()[1].tolist() for _ in range(5)] == expected


ENGINE_CASES = [
    pytest.param(
        engine,
        stop,
        table,
        id=f"{engine}-{'cbp' if stop > 2000 else 'sgd'}-{table}",
        marks=[pytest.mark.slow] if engine == "torch" and (stop, table) != (3_000, "table") else [],
    )
    for engine in ("numpy", "fused", "torch")
    for stop in (1_000, 3_000)
    for table in ("table", "network")
]
"""Every engine, stopped in the SGD phase and in the CBP phase (maturing units scheduled, draws pooled),
on the table path (the fused engine draws the random bits in compiled code) and the network path; the
torch engine (slow on a CPU) by default in its CBP phase on the table path only."""


@pytest.mark.parametrize(("engine", "stop", "table"), ENGINE_CASES)
def test_bitflip_engine_capture_restore_continues_bit_for_bit(engine: str, stop: int, table: str) -> None:
    overrides = [
        "width=7",
        "seeds=0,1",
        "samples=5000",
        "switch_step=2000",
        "bin_size=500",
        "maturity=20",
        "replacement_rate=0.01",
        "chunk_size=300",
        "flip_period=450",
        f"engine={engine}",
        *(["num_bits=30", "flipping_bits=5"] if table == "network" else []),
    ]
    cfg = resolve_config(bitflip.BitFlipConfig, "default", overrides)
    assert cfg.task().uses_table == (table == "table")
    reference = bitflip.make_engines(cfg)[7]
    reference.advance(stop)
    saved = capture_engine(reference)
    expected = reference.advance(5_000 - stop)
    resumed = bitflip.make_engines(cfg)[7]
    restore_engine(resumed, saved)
    np.testing.assert_array_equal(resumed.advance(5_000 - stop), expected)
    np.testing.assert_array_equal(resumed.hidden, reference.hidden)
    np.testing.assert_array_equal(resumed.replacements, reference.replacements)
    assert reference.backend == engine and reference.replacements.sum() > 0


def test_a_checkpoint_of_one_bitflip_engine_is_refused_by_another() -> None:
    overrides = ["width=7", "seeds=0,1", "samples=2000", "bin_size=1000"]
    numpy_cfg = resolve_config(bitflip.BitFlipConfig, "default", [*overrides, "engine=numpy"])
    saved = capture_engine(bitflip.make_engines(numpy_cfg)[7])
    fused = bitflip.make_engines(
        resolve_config(bitflip.BitFlipConfig, "default", [*overrides, "engine=fused"])
    )[7]
    with pytest.raises(
        EngineMismatch, match="state of the numpy engine, but this run builds the fused engine"
    ):
        restore_engine(fused, saved)


def test_bug_bitflip_auto_device_resolves_to_cpu() -> None:
    """BitFlipConfig resolved device=auto to cuda on a GPU machine, and its saved configuration could then
    not be read back (validate accepts only auto and cpu): the numpy engine always resolves to cpu."""
    cfg = resolve_config(bitflip.BitFlipConfig, "default", [])
    assert cfg.device == "cpu" and cfg.resolved_device() == "cpu"

"""experiments.analysis: the grouping rules and the series every study's figures use."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from experiments.analysis import (
    UNKNOWN_STATE,
    AnalysisError,
    Run,
    group_runs,
    per_unit_means,
    pool,
    series,
    windowed,
)
from experiments.runs import COMPLETE
from experiments.studies.bitflip import KIND as BITFLIP
from experiments.studies.continual import KIND as CONTINUAL
from experiments.studies.continual import ContinualConfig

ENVIRONMENT = {"torch": "2.13.0+cpu", "numpy": "2.4", "torch_threads": 1, "default_dtype": "torch.float32"}


def fake_run(name: str, seeds: tuple[int, ...] = (0,), records: list[dict] | None = None, **config) -> Run:
    cfg = ContinualConfig(**{"seeds": seeds, **config})
    saved = cfg.to_dict()
    if records is None:
        records = [
            {"step": step, "seed": s, "task": 0, "event": "interval", "loss": float(s + step)}
            for s in seeds
            for step in (0, 10)
        ] + [{"step": 10 * cfg.tasks, "seed": s, "task": cfg.tasks - 1, "event": "task_end"} for s in seeds]
    return Run(
        path=Path(name),
        kind=CONTINUAL,
        config=cfg,
        saved=saved,
        environment=dict(ENVIRONMENT),
        resolved={"amp": "None"},
        records=records,
        state=COMPLETE,
        message="",
        torn_last_line=False,
        missing=CONTINUAL.missing(cfg, records),
    )


def test_bookkeeping_keys_and_inert_keys_do_not_split_a_setting() -> None:
    a = fake_run("a", seeds=(0, 1), out="x", progress=False, threads=1)
    b = fake_run("b", seeds=(2,), out="y", figures=False, plot_window=7)
    c = fake_run("c", seeds=(3,), replacement_rate=0.5)  # method=none: the CBP key changes nothing
    groups = group_runs([a, b, c])
    assert list(groups) == ["mlp, norm=default"] and groups.notes == []


def test_a_differing_key_labels_the_groups() -> None:
    groups = group_runs([fake_run("a"), fake_run("b", seeds=(1,), method="cbp", replacement_rate=0.5)])
    assert sorted(groups) == ["method=cbp", "method=none"]  # a key only one group has does not vary
    groups = group_runs(
        [
            fake_run("a"),
            fake_run("b", seeds=(1,), method="cbp", replacement_rate=0.5),
            fake_run("c", seeds=(2,), method="cbp", replacement_rate=0.25),
        ]
    )
    assert sorted(groups) == [
        "method=cbp, replacement_rate=0.25",
        "method=cbp, replacement_rate=0.5",
        "method=none",
    ]


@pytest.mark.parametrize(
    "key, value", [("torch_threads", 2), ("torch", "2.1.0"), ("default_dtype", "torch.float64")]
)
def test_environment_that_changes_results_is_never_pooled(key: str, value: object) -> None:
    other = fake_run("b", seeds=(1,))
    other.environment[key] = value
    groups = group_runs([fake_run("a"), other])
    assert len(groups) == 2 and all(key in label for label in groups)
    assert len(groups.notes) == 1 and f"differ in {key}" in groups.notes[0]


def test_unrecorded_environment_counts_as_different() -> None:
    old = fake_run("old", seeds=(1,))
    del old.environment["torch_threads"]
    assert sorted(group_runs([fake_run("a"), old])) == ["torch_threads=1", "torch_threads=unrecorded"]


def test_bitflip_environment_names_every_library_its_numbers_depend_on() -> None:
    """The engines are numba (fused) or numpy and the probe metrics use torch's batched kernels, so runs
    that differ in the numpy, numba or torch version or in torch's thread count are never pooled."""
    assert {"numpy", "numba", "torch", "torch_threads"} <= set(BITFLIP.environment_keys)


def test_incomplete_runs_are_drawn_apart_and_named() -> None:
    killed = fake_run(
        "killed", seeds=(1,), records=[{"step": 0, "seed": 1, "event": "interval", "loss": 1.0}]
    )
    killed = dataclasses.replace(killed, state="running")
    groups = group_runs([fake_run("a"), killed])
    assert sorted(groups) == ["mlp, norm=default", "mlp, norm=default [incomplete: killed]"]
    assert groups.notes == [
        (
            "killed is incomplete (status running: killed or still running; "
            "seed 1 stops at step 0 of 20000); "
            "drawn on its own, not pooled"
        )
    ]


def test_a_seed_is_never_counted_twice() -> None:
    with pytest.raises(AnalysisError, match="seed 0 appears in two runs of one setting"):
        group_runs([fake_run("a"), fake_run("b")])
    assert len(group_runs([fake_run("a"), fake_run("b", normalization="none")])) == 2  # other settings: fine


def test_runs_of_two_studies_are_refused() -> None:
    other = dataclasses.replace(fake_run("b", seeds=(1,)), kind=BITFLIP)
    with pytest.raises(AnalysisError, match="runs of several studies"):
        group_runs([fake_run("a"), other])


def test_pool_is_mean_and_population_std_over_the_seeds_present() -> None:
    points = {0: {0: 1.0, 10: 2.0, 20: 3.0}, 1: {0: 3.0, 10: 6.0}, 2: {0: 5.0}}
    s = pool(points)
    assert s.steps.tolist() == [0, 10, 20] and s.count.tolist() == [3, 2, 1] and s.n_label == "n=1–3"
    for i, values in enumerate(([1.0, 3.0, 5.0], [2.0, 6.0], [3.0])):
        assert s.mean[i] == pytest.approx(np.mean(values), rel=1e-15)
        assert s.std[i] == pytest.approx(np.std(values), rel=1e-15, abs=1e-15)
    assert pool({0: {0: 1.0}, 1: {0: 2.0}}).n_label == "n=2" and len(pool({})) == 0


def test_windowed_averages_each_window_at_its_right_end() -> None:
    assert windowed({0: 1.0, 5: 2.0, 10: 4.0, 15: 6.0, 20: 8.0}, 10) == {0: 1.0, 10: 3.0, 20: 7.0}
    assert windowed({3: 1.0}, 1) == {3: 1.0}


def test_series_skips_non_numbers_and_nan() -> None:
    records = [
        {"step": 0, "seed": 0, "event": "interval", "loss": 1.0},
        {"step": 10, "seed": 0, "event": "interval", "loss": math.nan},
        {"step": 20, "seed": 0, "event": "interval", "loss": True},
        {"step": 20, "seed": 0, "event": "task_end", "loss": 5.0},
    ]
    run = fake_run("a", records=records)
    s = series([run], "loss", lambda r: r["event"] == "interval")
    assert s.steps.tolist() == [0] and s.mean.tolist() == [1.0]
    assert per_unit_means([run], "loss") == [3.0]


def test_legacy_runs_without_status_are_complete_when_their_records_are() -> None:
    legacy = dataclasses.replace(fake_run("a"), state=UNKNOWN_STATE)
    assert legacy.complete and group_runs([legacy]).notes == []

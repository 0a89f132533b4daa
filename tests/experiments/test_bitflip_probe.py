"""Probe metrics of the bit-flipping study against independent computations (Appendix B.1.2)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from experiments import metrics
from experiments.bitflip.engine import BitFlipEngine
from experiments.bitflip.probe import (
    DUPLICATE_COSINE,
    EFFECTIVE_RANK_TOL,
    dead_fraction,
    duplicate_fraction,
    effective_rank,
    feature_metrics,
    probe_inputs,
    run_probe_inputs,
)
from experiments.bitflip.task import BitFlipTask
from experiments.studies.bitflip import main as study_main


def _effective_rank_svd(h: np.ndarray) -> float:
    sigma = torch.linalg.svdvals(torch.from_numpy(h)).numpy()
    if sigma.sum() == 0:
        return 0.0
    p = sigma / sigma.sum()
    return math.exp(-sum(pi * math.log(pi) for pi in p if pi > 0))


@given(seed=st.integers(0, 10_000), rank=st.integers(1, 6))
def test_effective_rank_matches_svd(seed: int, rank: int) -> None:
    rng = np.random.default_rng(seed)
    features = np.stack(
        [np.maximum(rng.standard_normal((40, rank)) @ rng.standard_normal((rank, 6)), 0.0) for _ in range(3)]
    )
    expected = [_effective_rank_svd(h) for h in features]
    np.testing.assert_allclose(
        effective_rank(features), expected, rtol=EFFECTIVE_RANK_TOL, atol=EFFECTIVE_RANK_TOL
    )


def test_effective_rank_extremes() -> None:
    identity = np.eye(4)[None]
    assert effective_rank(identity)[0] == 4.0 or abs(effective_rank(identity)[0] - 4.0) < 1e-12
    assert effective_rank(np.zeros((1, 5, 3)))[0] == 0.0
    clones = np.repeat(np.arange(1.0, 6.0)[None, :, None], 3, axis=2)
    assert abs(effective_rank(clones)[0] - 1.0) < 1e-6


def _duplicate_fraction_loops(h: np.ndarray) -> float:
    n = h.shape[1]
    norms = [np.linalg.norm(h[:, j]) for j in range(n)]
    duplicated = 0
    for j in range(n):
        for k in range(n):
            if (
                j != k
                and norms[j] > 0
                and norms[k] > 0
                and h[:, j] @ h[:, k] / (norms[j] * norms[k]) > DUPLICATE_COSINE
            ):
                duplicated += 1
                break
    return duplicated / n


@given(seed=st.integers(0, 10_000))
def test_duplicate_fraction_matches_loops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = np.maximum(rng.standard_normal((30, 4)), 0.0)
    # columns: 4 random, 2 noisy copies, 1 dead
    features = np.concatenate([base, base[:, :2] + 0.01 * rng.random((30, 2)), np.zeros((30, 1))], axis=1)[
        None
    ]
    assert duplicate_fraction(features)[0] == _duplicate_fraction_loops(features[0])


def test_dead_fraction_counts_units_inactive_on_95_percent() -> None:
    features = np.ones((1, 100, 3))
    features[0, :96, 0] = 0.0  # dead (96% inactive)
    features[0, :95, 1] = 0.0  # exactly 95%: not more than τ_dead
    assert dead_fraction(features)[0] == 1 / 3


def test_feature_metrics_agree_with_the_single_metric_functions() -> None:
    features = np.maximum(np.random.default_rng(1).standard_normal((4, 50, 7)), 0.0)
    metrics = feature_metrics(features)
    np.testing.assert_array_equal(metrics["effective_rank"], effective_rank(features))
    np.testing.assert_array_equal(metrics["duplicate_fraction"], duplicate_fraction(features))
    np.testing.assert_array_equal(metrics["dead_fraction"], dead_fraction(features))


def test_batched_metrics_equal_the_single_matrix_metrics_on_engine_features() -> None:
    engine = BitFlipEngine(BitFlipTask(), 12, [0, 1, 2], dtype="float64")
    engine.advance(3000)
    engine.hidden[0, 5] = engine.hidden[0, 4] * 1.01  # a duplicate pair
    engine.hidden[1, 2, :] = -1.0  # a dead unit
    features = engine.hidden_features(probe_inputs(20, 300, np.random.default_rng(4)))
    batched = feature_metrics(features)
    for r in range(3):
        h = torch.from_numpy(features[r])
        assert batched["duplicate_fraction"][r] == metrics.duplicate_fraction(h)
        assert batched["dead_fraction"][r] == metrics.dead_fraction(h)
        assert abs(batched["effective_rank"][r] - metrics.effective_rank(h)) < EFFECTIVE_RANK_TOL * 12
    assert batched["duplicate_fraction"][0] >= 2 / 12 and batched["dead_fraction"][1] >= 1 / 12


def _study_records(tmp_path: Path, name: str, first: int, count: int) -> dict[int, list[dict]]:
    args = [
        "--out",
        str(tmp_path / name),
        f"seeds={first}..{first + count - 1}",
        "samples=3000",
        "switch_step=1500",
        "bin_size=500",
        "width=6",
        "summary_window=1000",
        "probe_size=64",
        "flip_period=300",
        "progress=false",
        "figures=false",
    ]
    assert study_main(args) == 0
    (run_dir,) = (tmp_path / name / "bitflip").iterdir()
    records: dict[int, list[dict]] = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        records.setdefault(record["seed"], []).append(record)
    return records


def test_bug_probe_metrics_depend_on_base_seed(tmp_path: Path) -> None:
    """Issue 9: run seed 6 in `seed=0 seeds=8` and in `seed=4 seeds=4` had the same losses but different
    effective rank and dead fractions (the probe batch came from the base seed). Now every logged
    value of a run is the same whichever study it belongs to."""
    wide = _study_records(tmp_path, "wide", first=0, count=8)  # seeds 0..7 (formerly seed=0 seeds=8)
    narrow = _study_records(tmp_path, "narrow", first=4, count=4)  # seeds 4..7
    assert len(wide[6]) == len(narrow[6]) == 6
    for a, b in zip(wide[6], narrow[6]):
        assert a == b


def test_each_run_has_its_own_probe_batch_from_its_own_seed() -> None:
    probes = run_probe_inputs([3, 5], 20, 50)
    np.testing.assert_array_equal(probes[1], run_probe_inputs([5], 20, 50)[0])
    assert not np.array_equal(probes[0], probes[1])
    assert probes.shape == (2, 50, 21) and np.all(probes[:, :, -1] == 1)

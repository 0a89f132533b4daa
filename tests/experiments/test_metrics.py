"""Metrics of Appendix B.1.2, each against a hand-computed example, and the hook-based collection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from exp_fixtures import TINY_INPUT, batch, moved_model

from experiments.cloning import Profile, expand_with_plan
from experiments.metrics import (
    NonFiniteFeatures,
    as_rows,
    cloning_r2,
    dead_fraction,
    duplicate_fraction,
    effective_rank,
    feature_layers,
    gram_renyi2_rank,
    layer_features,
    layer_summary,
    prediction_agreement,
    renyi2_feature_rank,
    saturated_fraction,
    stratified_indices,
)
from experiments.models import build
from theory.ranks import shannon_rank


def test_dead_units_by_hand():
    # unit 0: all zero (dead); unit 1: zero on 19/20 samples (0.95, not > 0.95: alive); unit 2: active
    H = torch.ones(20, 3)
    H[:, 0] = 0.0
    H[:19, 1] = 1e-8
    assert dead_fraction(H) == pytest.approx(1 / 3)
    assert dead_fraction(H, tau=0.9) == pytest.approx(2 / 3)


def test_duplicates_by_hand():
    # units 0 and 1 are parallel (cos = 1), unit 2 orthogonal, unit 3 at cos 0.9 to unit 2, unit 4 zero
    H = torch.tensor(
        [[1.0, 2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.9, 0.0], [0.0, 0.0, 0.0, math.sqrt(1 - 0.81), 0.0]]
    )
    assert duplicate_fraction(H) == pytest.approx(2 / 5)
    assert duplicate_fraction(H, tau=0.85) == pytest.approx(4 / 5)


def test_saturated_by_hand():
    H = torch.ones(200, 2)
    G = torch.ones(200, 2)
    G[:, 0] = 1e-6  # ratio 1e-6 < 1e-4 on every sample: saturated
    G[:199, 1] = 1e-6  # on 199/200 = 99.5 % > 99 %: saturated
    assert saturated_fraction(H, G) == 1.0
    G[:197, 1] = 1e-6
    G[197:, 1] = 1.0  # 98.5 %: not saturated
    assert saturated_fraction(H, G) == 0.5


def test_effective_rank_by_hand_and_against_theory():
    H = torch.diag(torch.tensor([3.0, 1.0]))  # σ = (3, 1), p = (3/4, 1/4)
    expected = math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert effective_rank(H) == pytest.approx(expected, rel=1e-12)
    assert effective_rank(torch.ones(5, 4)) == pytest.approx(1.0)
    A = torch.randn(30, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sqrt_gram = torch.linalg.svd(A, full_matrices=False)
    M = (sqrt_gram.Vh.T * sqrt_gram.S) @ sqrt_gram.Vh  # (AᵀA)^{1/2}: eigenvalues = singular values of A
    assert effective_rank(A) == pytest.approx(shannon_rank(M.numpy()), rel=1e-10)


def test_stable_and_renyi2_rank_by_hand():
    # centred H with singular values (2, 1): ‖H‖_F⁴ / tr((HᵀH)²) = (4+1)² / (16+1)
    H = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]]) / math.sqrt(2)
    assert gram_renyi2_rank(H) == pytest.approx(25 / 17)
    assert renyi2_feature_rank(H) == pytest.approx(2.0)  # uncorrelated units: C = I
    assert renyi2_feature_rank(torch.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.1]])) == pytest.approx(
        1.0, abs=1e-3
    )


def test_cloning_r2_by_hand():
    blocks = Profile.interleaved(2, 2)
    perfect = torch.tensor([[1.0, 1.0, 3.0, 3.0], [2.0, 2.0, 5.0, 5.0]])
    assert cloning_r2(perfect, blocks) == 1.0
    H = torch.tensor([[0.0, 2.0, 3.0, 3.0], [1.0, 1.0, 3.0, 3.0]])
    # block means per sample: (1,1,3,3) and (1,1,3,3); residual SS = 1+1 = 2; layer mean 2,
    # total SS = 4+0+1+1+1+1+1+1 = 10
    assert cloning_r2(H, blocks) == pytest.approx(1 - 2 / 10)
    with pytest.raises(ValueError, match="profile covers"):
        cloning_r2(H, Profile.interleaved(3, 2))


def test_stratified_batch_mixes_all_classes():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 5)
    idx = stratified_indices(labels, 12, seed=0)
    counts = torch.bincount(labels[idx], minlength=3).tolist()
    assert counts == [4, 4, 4] and len(set(idx.tolist())) == 12
    assert torch.equal(idx, stratified_indices(labels, 12, seed=0))
    assert torch.bincount(labels[stratified_indices(labels, 20, seed=1)]).tolist() == [8, 7, 5]


def test_hooks_are_removed_and_clone_r2_is_one_then_lower_after_breaking():
    base = moved_model("cnn", "batch", torch.float64)
    clone, plan = expand_with_plan(base, 2)
    x, y = batch(torch.float64)
    layers = feature_layers(clone)
    out, feats, grads = layer_features(clone, x, y, layers, max_rows=100, seed=0)
    assert all(not m._forward_hooks for m in clone.modules())
    assert all(p.grad is None for p in clone.parameters())
    assert set(feats) == set(layers) and all(
        f.shape[0] == min(100, 32 * (8 // 2**i) ** 2) for i, f in enumerate(feats.values())
    )
    profiles = {n: plan.outputs[n].profile for n in layers}
    assert all(cloning_r2(feats[n], profiles[n]) == pytest.approx(1.0, abs=1e-12) for n in layers)
    assert all(cloning_r2(grads[n], profiles[n]) == pytest.approx(1.0, abs=1e-12) for n in layers)
    base_out, _, _ = layer_features(base, x)
    assert prediction_agreement(out, base_out) == 1.0
    noisy, nplan = expand_with_plan(base, 2, perturb="forward", perturb_scale=1.0)
    _, _, ngrads = layer_features(noisy, x, y, layers)
    assert min(cloning_r2(ngrads[n], nplan.outputs[n].profile) for n in layers) < 0.999


def test_rows_and_summary_shapes():
    assert as_rows(torch.zeros(2, 3, 4, 5)).shape == (40, 3)
    assert as_rows(torch.zeros(2, 7, 6)).shape == (14, 6)
    model = build("mlp", TINY_INPUT, 3, width=0.0625)
    x, y = torch.randn(16, *TINY_INPUT), torch.randint(0, 3, (16,))
    _, feats, grads = layer_features(model, x, y)
    s = layer_summary(feats[feature_layers(model)[0]], grads[feature_layers(model)[0]])
    assert set(s) == {"dead", "duplicate", "effective_rank", "gram_renyi2_rank", "renyi2_rank", "saturated"}
    assert all(np.isfinite(v) for v in s.values())


def test_bug_metric_batch_larger_than_the_data_is_silently_smaller():
    labels = torch.tensor([0, 1, 0, 1, 2])
    assert sorted(stratified_indices(labels, 5).tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="a metric batch of 6 exceeds the 5 samples"):
        stratified_indices(labels, 6)


def test_non_finite_features_are_a_clear_error():
    H = torch.ones(4, 3)
    H[1, 2] = math.nan
    for metric in (effective_rank, dead_fraction, duplicate_fraction, gram_renyi2_rank):
        with pytest.raises(NonFiniteFeatures, match="NaN or inf"):
            metric(H)
    with pytest.raises(NonFiniteFeatures, match="gradient matrix"):
        saturated_fraction(torch.ones(4, 3), H)

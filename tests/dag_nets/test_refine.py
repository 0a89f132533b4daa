"""Coarsest equitable partition: planted clones recovered exactly, noise behaviour, tolerance rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dag_nets.base_network import clone_network
from dag_nets.equitability import is_equitable
from dag_nets.manifolds import manifold
from dag_nets.refine import coarsest_equitable_partition, tolerance_classes
from tests.dag_nets.helpers import small_base

SIZES = {"h0_0": 2, "h0_1": 3, "h1_0": 2, "h1_2": 4}


@pytest.mark.parametrize("mode", ["constant", "equitable"])
def test_recovers_planted_clones(mode: str) -> None:
    net, planted = clone_network(small_base(1), SIZES, mode=mode, generator=torch.Generator().manual_seed(1))
    found = coarsest_equitable_partition(net, tol=1e-9)
    assert found.as_sets() == planted.as_sets()
    assert manifold("C", found).residual(net.flat_parameters()) < 1e-12


def test_generic_base_is_discrete() -> None:
    base = small_base(2)
    assert coarsest_equitable_partition(base).is_trivial


def test_noise_splits_only_beyond_tolerance() -> None:
    net, planted = clone_network(small_base(3), SIZES, mode="constant")
    theta = net.flat_parameters()
    noise = torch.randn(theta.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    net.set_flat_parameters(theta + 1e-7 * noise)
    assert coarsest_equitable_partition(net, tol=1e-4).as_sets() == planted.as_sets()
    assert coarsest_equitable_partition(net, tol=1e-12).is_trivial


def test_result_is_equitable_for_each_pair() -> None:
    net, _ = clone_network(small_base(4), SIZES, mode="equitable", generator=torch.Generator().manual_seed(2))
    part = coarsest_equitable_partition(net)
    w = net.edge_weight.detach().numpy()
    for pair in part.pairs:
        X = pair.dense(w)
        assert is_equitable(X, [list(range(X.shape[0]))], [list(range(X.shape[1]))], tol=1e-10)


def test_tolerance_classes_chain_rule() -> None:
    vals = np.array([0.0, 0.9, 1.8, 5.0, 5.05])
    assert tolerance_classes(vals, 1.0).tolist() == [0, 0, 0, 1, 1]
    assert tolerance_classes(vals, 0.0).tolist() == [0, 1, 2, 3, 4]
    assert tolerance_classes(vals[::-1], 1.0).tolist() == [1, 1, 0, 0, 0]


def test_bad_tol() -> None:
    with pytest.raises(ValueError, match="tol"):
        coarsest_equitable_partition(small_base(0), tol=-1.0)

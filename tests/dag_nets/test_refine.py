"""Coarsest equitable partition: planted clones recovered exactly, noise behaviour, tolerance rule, and
identical colourings to the former implementation (tests/dag_nets/reference_refine.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dag_nets import refine
from dag_nets.base_network import clone_network
from dag_nets.builders import cloned_random_dag
from dag_nets.equitability import is_equitable
from dag_nets.manifolds import manifold
from dag_nets.refine import coarsest_equitable_partition, equitable_colouring, tolerance_classes
from tests.dag_nets.helpers import small_base
from tests.dag_nets.reference_refine import reference_colouring
from tests.dag_nets.strategies import cloned_dags

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


# ---------------------------------------------------------------------- against the former implementation
REFERENCE_CASES = [
    # (noise on θ, tol, quantize θ to a grid of 0.4·tol: chains of gaps ≤ tol wider than tol)
    (0.0, 0.0, False),
    (0.0, 1e-9, False),
    (1e-7, 1e-4, False),
    (1e-7, 1e-12, False),
    (1e-3, 1e-3, False),
    (0.3, 0.5, True),
    (0.05, 0.1, True),
]


@pytest.mark.parametrize("noise, tol, quantize", REFERENCE_CASES)
@pytest.mark.parametrize("mode", ["constant", "equitable"])
def test_matches_former_implementation(noise: float, tol: float, quantize: bool, mode: str) -> None:
    """Identical colourings (same classes, same numbering) as the former loop-over-blocks refinement, also
    after one round and where chains wider than ``tol`` make the split order matter."""
    for seed in range(6):
        net, _, _ = cloned_random_dag(seed=seed, n_nodes=14, n_edges=40, mode=mode)
        theta = net.flat_parameters()
        theta = theta + noise * torch.randn(
            theta.shape, generator=torch.Generator().manual_seed(seed), dtype=theta.dtype
        )
        if quantize:
            theta = torch.round(theta / (0.4 * tol)) * (0.4 * tol)
        net = net.copy_with(theta)
        for rounds in (None, 1):
            assert np.array_equal(
                equitable_colouring(net, tol, rounds), reference_colouring(net, tol, rounds)
            )


@given(cloned_dags(mode="constant"), st.sampled_from([0.0, 1e-12, 1e-9]))
def test_matches_former_implementation_on_random_dags(case, tol: float) -> None:
    assert np.array_equal(equitable_colouring(case.net, tol), reference_colouring(case.net, tol))


def test_chained_rounds_take_the_in_order_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights on a grid of 0.4·tol give sums whose tolerance classes are chains wider than tol (steps of
    0.4·tol link values 0.8·tol apart and more): the split order matters, and the round must run split by
    split in the documented order (module docstring)."""
    calls = []
    original = refine._round_in_order
    monkeypatch.setattr(refine, "_round_in_order", lambda *a: calls.append(1) or original(*a))
    net, _, _ = cloned_random_dag(seed=0, n_nodes=14, n_edges=40)
    net = net.copy_with(torch.round(net.flat_parameters() / 0.2) * 0.2)
    assert np.array_equal(equitable_colouring(net, 0.5), reference_colouring(net, 0.5))
    assert calls


def test_hash_collision_falls_back_to_exact_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a hash that maps everything to 0 every deviating node collides; the exact check must catch it."""
    monkeypatch.setattr(refine, "_mix", lambda x, salt: np.zeros(len(x), dtype=np.uint64))
    for seed in range(4):
        net, planted = clone_network(
            small_base(seed), SIZES, mode="equitable", generator=torch.Generator().manual_seed(seed)
        )
        assert np.array_equal(equitable_colouring(net), reference_colouring(net, refine.DEFAULT_REFINE_TOL))
        assert coarsest_equitable_partition(net).as_sets() == planted.as_sets()


def test_bad_max_rounds() -> None:
    with pytest.raises(ValueError, match="max_rounds"):
        coarsest_equitable_partition(small_base(0), max_rounds=-1)
    with pytest.raises(ValueError, match="tol"):
        coarsest_equitable_partition(small_base(0), tol=True)
    with pytest.raises(TypeError, match="DagNet"):
        coarsest_equitable_partition("net")

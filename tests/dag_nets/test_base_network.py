"""Base (quotient) network and cloning (Appendix A.3, Remark A.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dag_nets.base_network import base_correspondence, base_network, clone_network
from dag_nets.builders import mlp, random_dag, teacher_batch
from dag_nets.manifolds import manifold

EXACT = 1e-12


@pytest.mark.parametrize("mode", ["constant", "equitable"])
def test_clone_then_quotient_recovers_base(mode: str) -> None:
    base = mlp(2, [3, 2], 2, skip=True, seed=5)
    net, part = clone_network(
        base, {"h0_0": 3, "h0_2": 2, "h1_1": 4}, mode=mode, generator=torch.Generator().manual_seed(1)
    )
    back = base_network(part)
    sizes = {"h0_0": 3, "h0_2": 2, "h1_1": 4}
    # base nodes are named by a block's first node
    label = {v: (v, 0) if v in sizes else v for v in base.nodes}
    for (u, v), w in base.edge_weights().items():
        assert back.edge_weights()[(label[u], label[v])] == pytest.approx(w, abs=EXACT)
    assert manifold("C", part).residual(net.flat_parameters()) < EXACT
    bc = manifold("BC", part).residual(net.flat_parameters())
    assert (bc < EXACT) == (mode == "constant")
    x, y = teacher_batch(2, 2, 8, seed=0)
    c = base_correspondence(part, x, y)
    assert c["forward"] < EXACT and c["backward_scaled"] < EXACT and c["backward_paper"] > 1e-6


def test_paper_definition_differs_only_for_unequal_sizes() -> None:
    base = mlp(2, [3], 1, seed=0)
    _, part = clone_network(base, {"h0_0": 2})
    x, y = teacher_batch(2, 1, 8, seed=0)
    assert base_correspondence(part, x, y, "paper")["output"] > 1e-3
    _, epart = clone_network(base, {})
    assert base_correspondence(epart, x, y, "paper")["output"] < EXACT


def test_random_dag_builder_valid() -> None:
    net = random_dag(60, 300, n_in=4, n_out=3, seed=2)
    assert net.num_nodes == 60 and net.num_edges <= 300
    x, _ = teacher_batch(4, 3, 5, seed=0)
    assert torch.isfinite(net(x)).all()


def test_clone_errors() -> None:
    base = mlp(2, [3], 1, seed=0)
    with pytest.raises(ValueError, match="cannot be cloned"):
        clone_network(base, {"x0": 2})
    with pytest.raises(ValueError, match="positive integer"):
        clone_network(base, {"h0_0": 0})
    with pytest.raises(ValueError, match="mode"):
        clone_network(base, {}, mode="noisy")
    with pytest.raises(ValueError, match="definition"):
        base_network(clone_network(base, {})[1], definition="quotient")
    assert np.isfinite(base.flat_parameters().numpy()).all()

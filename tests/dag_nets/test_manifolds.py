"""Manifolds: closed-form projections vs dense SVD projectors, dimensions (Remark A.1), membership."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from dag_nets.base_network import clone_network
from dag_nets.equitability import equitability_residuals
from dag_nets.graph import DagNet
from dag_nets.manifolds import KINDS, manifold
from dag_nets.partition import Partition
from tests.dag_nets.helpers import small_base

PROJ_TOL = 1e-12


def _cloned(seed: int = 0, mode: str = "equitable"):
    base = small_base(seed)
    return clone_network(base, {"h0_0": 2, "h0_1": 3, "h1_0": 2, "h1_2": 4}, mode=mode,
                         generator=torch.Generator().manual_seed(seed))


def _make(kind: str, net, part):
    theta0 = net.flat_parameters()
    if kind == "D":
        return manifold("D", part, anchor=theta0)
    if kind == "F":
        return manifold("F", part, anchor=theta0, frozen=[net.bias_nodes[0], net.bias_nodes[-1]])
    return manifold(kind, part)


@pytest.mark.parametrize("kind", KINDS)
def test_projector_matches_dense_svd(kind: str) -> None:
    net, part = _cloned()
    M = _make(kind, net, part)
    P_dense = M.dense_tangent_projector()
    eye = torch.eye(net.num_parameters, dtype=torch.float64)
    P_free = torch.stack([M.tangent(eye[i]) for i in range(net.num_parameters)], dim=1).numpy()
    assert np.max(np.abs(P_free - P_dense)) < PROJ_TOL
    assert M.dimension() == M.dense_dimension() == round(np.trace(P_dense))


def test_incomplete_pair_projection_matches_dense() -> None:
    # Block pair {a,b} -> {c,d} with edges a->c, a->d, b->c only (not biregular).
    G = nx.DiGraph()
    for v in "abcd":
        G.add_node(v, activation="tanh")
    G.add_node("y")
    for u, v in [("x", "a"), ("x", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("c", "y"), ("d", "y")]:
        G.add_edge(u, v, weight=1.0)
    net = DagNet.from_networkx(G, inputs=["x"], outputs=["y"])
    part = Partition(net, [["x"], ["a", "b"], ["c", "d"], ["y"]])
    assert not part.all_pairs_biregular
    for kind in ("RE", "CE", "C", "BC"):
        M = manifold(kind, part)
        eye = torch.eye(net.num_parameters, dtype=torch.float64)
        P_free = torch.stack([M.tangent(eye[i]) for i in range(net.num_parameters)], dim=1).numpy()
        assert np.max(np.abs(P_free - M.dense_tangent_projector())) < PROJ_TOL


def test_dimension_formulas_remark_a1() -> None:
    net, part = _cloned()
    C, D = manifold("C", part), manifold("D", part, anchor=net.flat_parameters())
    expected_c = sum((m - 1) * (n - 1) + 1 for m, n in (p.shape for p in part.pairs)) + part.num_bias_blocks
    assert C.dimension() == expected_c
    assert D.dimension() == len(part.pairs) + part.num_bias_blocks


def test_random_points_are_members_and_not_block_constant() -> None:
    net, part = _cloned()
    gen = torch.Generator().manual_seed(3)
    C = manifold("C", part)
    theta = C.random_point(gen)
    assert C.residual(theta) < PROJ_TOL
    assert manifold("BC", part).residual(theta) > 0.1
    w = theta[: net.num_edges].numpy()
    for pair in part.pairs:
        assert max(equitability_residuals(pair.dense(w), [list(range(pair.shape[0]))], [list(range(pair.shape[1]))])) < PROJ_TOL
    D = manifold("D", part, anchor=theta)
    pt = D.random_point(gen)
    assert D.residual(pt) < PROJ_TOL and D.distance(pt) < PROJ_TOL
    assert C.residual(pt) < 1e-10


def test_cloned_network_is_in_m_c_and_distance() -> None:
    net, part = _cloned(mode="equitable")
    theta = net.flat_parameters()
    C = manifold("C", part)
    assert C.residual(theta) < PROJ_TOL and C.distance(theta) < PROJ_TOL
    kick = torch.zeros_like(theta)
    kick[0] = 1.0
    assert C.distance(theta + kick) == pytest.approx(float(torch.linalg.vector_norm(C.normal(kick))))


def test_errors() -> None:
    net, part = _cloned()
    with pytest.raises(ValueError, match="valid choices"):
        manifold("XX", part)
    with pytest.raises(ValueError, match="anchor"):
        manifold("D", part)
    bad = net.flat_parameters()
    bad[0] += 1.0
    with pytest.raises(ValueError, match="M_C"):
        manifold("D", part, anchor=bad)
    with pytest.raises(ValueError, match="non-input"):
        manifold("F", part, anchor=bad, frozen=["x0"])
    with pytest.raises(ValueError, match="inside block"):
        Partition(net, [[v] for v in net.nodes if v not in (("h0_0", 0), ("h1_0", 0))] + [[("h0_0", 0), ("h1_0", 0)]])
    with pytest.raises(ValueError, match="singleton"):
        Partition(net, [["x0", "x1"]] + [[v] for v in net.nodes if v not in ("x0", "x1")])

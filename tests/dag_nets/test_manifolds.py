"""Manifolds: closed-form projections vs dense SVD projectors, dimensions (Remark A.1), membership, the
index cache on the Partition."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp
from dag_nets.equitability import equitability_residuals
from dag_nets.graph import DagNet
from dag_nets.manifolds import (
    KINDS,
    MANIFOLD_CLASSES,
    FrozenUnits,
    LinearManifold,
    _index,
    _projection_plan,
    _segment_normal_component,
    manifold,
    weight_normal_component,
)
from dag_nets.partition import MAX_CACHED_VIEWS, Partition
from tests.dag_nets.cases import Case, build

PROJ_TOL = 1e-12


def _make(kind: str, case: Case) -> LinearManifold:
    net, part = case.net, case.partition
    theta0 = net.flat_parameters()
    if kind == "D":
        return manifold("D", part, anchor=theta0)
    if kind == "F":
        return manifold("F", part, anchor=theta0, frozen=[net.bias_nodes[0], net.bias_nodes[-1]])
    return manifold(kind, part)


@pytest.mark.parametrize("kind", KINDS)
def test_projector_matches_dense_svd(case: Case, kind: str) -> None:
    if kind == "D" and not case.spec["on_manifold"]:  # M_D(θ0) exists only for θ0 ∈ M_C
        with pytest.raises(ValueError, match="needs θ0 ∈ M_C"):
            _make(kind, case)
        return
    M = _make(kind, case)
    assert type(M) is MANIFOLD_CLASSES[kind] and M.kind == kind
    P_dense = M.dense_tangent_projector()
    eye = torch.eye(case.net.num_parameters, dtype=torch.float64)
    P_free = torch.stack([M.tangent(eye[i]) for i in range(case.net.num_parameters)], dim=1).numpy()
    assert np.max(np.abs(P_free - P_dense)) < PROJ_TOL
    assert np.max(np.abs(M.tangent(eye).numpy() - P_dense)) < PROJ_TOL  # a [P, m] matrix, column by column
    assert M.dimension() == M.dense_dimension() == round(np.trace(P_dense))


@pytest.mark.parametrize("kind", KINDS)
def test_residual_is_zero_exactly_on_the_manifold(case: Case, kind: str) -> None:
    if kind == "D" and not case.spec["on_manifold"]:  # M_D(θ0) exists only for θ0 ∈ M_C
        with pytest.raises(ValueError, match="needs θ0 ∈ M_C"):
            _make(kind, case)
        return
    M = _make(kind, case)
    gen = torch.Generator().manual_seed(5)
    on = M.random_point(gen)
    assert M.residual(on) < PROJ_TOL and M.distance(on) < PROJ_TOL
    A = M.constraint_matrix()  # independent: the defining equalities, from the definitions
    base = on if M.anchor is None else on - M.anchor
    assert np.max(np.abs(A @ base.numpy()), initial=0.0) < PROJ_TOL
    off = on + torch.randn(on.shape, generator=gen, dtype=on.dtype)
    violated = float(np.max(np.abs(A @ (off if M.anchor is None else off - M.anchor).numpy())))
    assert M.residual(off) >= violated - PROJ_TOL > 0  # the residual is at least the largest violated row


def test_incomplete_pair_residual_counts_missing_rows() -> None:
    case = build("incomplete-pair")
    assert not case.partition.all_pairs_biregular
    re = manifold("RE", case.partition)
    theta = case.net.flat_parameters()
    w = theta[: case.net.num_edges].numpy()
    expected = 0.0
    for pair in case.partition.pairs:
        sums = pair.dense(w).sum(axis=1)
        expected = max(expected, float(sums.max() - sums.min()))
    b = theta[case.net.num_edges :].numpy()
    for g in range(case.partition.num_bias_blocks):
        vals = b[case.partition.bias_group == g]
        expected = max(expected, float(vals.max() - vals.min()))
    assert re.residual(theta) == pytest.approx(expected, abs=PROJ_TOL)


def test_dimension_formulas_remark_a1(cloned_case: Case) -> None:
    part = cloned_case.partition
    C, D = manifold("C", part), manifold("D", part, anchor=cloned_case.net.flat_parameters())
    expected_c = sum((m - 1) * (n - 1) + 1 for m, n in (p.shape for p in part.pairs)) + part.num_bias_blocks
    assert C.dimension() == expected_c
    assert D.dimension() == len(part.pairs) + part.num_bias_blocks
    assert C.normal_dimension() == cloned_case.net.num_parameters - expected_c


def test_random_points_are_members_and_not_block_constant() -> None:
    case = build("mlp-mixed-skip-equitable")
    net, part = case.net, case.partition
    gen = torch.Generator().manual_seed(3)
    C = manifold("C", part)
    theta = C.random_point(gen)
    assert C.residual(theta) < PROJ_TOL
    assert manifold("BC", part).residual(theta) > 0.1
    w = theta[: net.num_edges].numpy()
    for pair in part.pairs:
        assert (
            max(
                equitability_residuals(
                    pair.dense(w), [list(range(pair.shape[0]))], [list(range(pair.shape[1]))]
                )
            )
            < PROJ_TOL
        )
    D = manifold("D", part, anchor=theta)
    pt = D.random_point(gen)
    assert D.residual(pt) < PROJ_TOL and D.distance(pt) < PROJ_TOL
    assert C.residual(pt) < 1e-10


def test_cloned_network_is_in_m_c_and_distance(cloned_case: Case) -> None:
    theta = cloned_case.net.flat_parameters()
    C = manifold("C", cloned_case.partition)
    assert C.residual(theta) < PROJ_TOL and C.distance(theta) < PROJ_TOL
    kick = torch.zeros_like(theta)
    kick[0] = 1.0
    assert C.distance(theta + kick) == pytest.approx(float(torch.linalg.vector_norm(C.normal(kick))))


def test_frozen_manifold_needs_only_the_network() -> None:
    case = build("mlp-tanh-equitable")
    net = case.net
    theta = net.flat_parameters()
    F = FrozenUnits(net, [net.bias_nodes[0]], theta)
    assert np.array_equal(
        F.dense_tangent_projector(),
        manifold("F", case.partition, anchor=theta, frozen=[net.bias_nodes[0]]).dense_tangent_projector(),
    )
    assert F.dimension() == net.num_parameters - len(list(net.graph.predecessors(net.bias_nodes[0]))) - 1


def test_bug_index_cache_keyed_by_id() -> None:
    """The projection index was cached in a module dict keyed by id(partition): every Partition stayed alive
    forever, and a reused id could serve another partition's index. Now it lives on the Partition."""
    case = build("mlp-tanh-equitable")
    net = case.net
    v = torch.randn(net.num_parameters, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    refs = []
    for trial in range(4):  # alternating partitions of the same net: ids get reused after collection
        blocks = case.partition.blocks if trial % 2 == 0 else [[u] for u in net.nodes]
        part = Partition(net, blocks)
        M = manifold("C", part)
        assert np.max(np.abs(M.tangent(v).numpy() - M.dense_tangent_projector() @ v.numpy())) < PROJ_TOL
        refs.append(weakref.ref(part))
        del part, M
        gc.collect()
    assert all(r() is None for r in refs), "nothing may keep a Partition alive"
    part = case.partition
    for dtype in (torch.float64, torch.float32):
        for kind in ("RE", "CE", "C", "BC"):
            manifold(kind, part).tangent(v.to(dtype))
    assert len(part._views) <= MAX_CACHED_VIEWS


def test_errors() -> None:
    case = build("mlp-mixed-skip-equitable")
    net, part = case.net, case.partition
    with pytest.raises(ValueError, match="valid choices"):
        manifold("XX", part)
    with pytest.raises(ValueError, match="anchor"):
        manifold("D", part)
    with pytest.raises(ValueError, match="takes no anchor"):
        manifold("C", part, anchor=net.flat_parameters())
    bad = net.flat_parameters()
    bad[0] += 1.0
    with pytest.raises(ValueError, match="M_C"):
        manifold("D", part, anchor=bad)
    with pytest.raises(ValueError, match="non-input"):
        manifold("F", part, anchor=bad, frozen=["x0"])
    with pytest.raises(ValueError, match="at least one frozen"):
        manifold("F", part, anchor=bad)
    with pytest.raises(ValueError, match="length"):
        manifold("C", part).tangent(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="inside block"):
        Partition(
            net,
            [[v] for v in net.nodes if v not in (("h0_0", 0), ("h1_0", 0))] + [[("h0_0", 0), ("h1_0", 0)]],
        )
    with pytest.raises(ValueError, match="singleton"):
        Partition(net, [["x0", "x1"]] + [[v] for v in net.nodes if v not in ("x0", "x1")])


def _grid_net(sizes: int | dict) -> tuple[DagNet, Partition]:
    """A cloned MLP whose 18 × 18 hidden layer is a dense view block of the fast engine (≥ 256 edges)."""
    base = mlp(3, [6, 6], 2, activation="tanh", seed=3)
    hidden = [v for v in base.bias_nodes if v not in base.outputs]
    factors = {v: sizes for v in hidden} if isinstance(sizes, int) else {v: sizes.get(v, 3) for v in hidden}
    return clone_network(
        base, factors, mode="equitable", generator=torch.Generator().manual_seed(3), scale=0.5
    )


@pytest.mark.parametrize("kind", ["RE", "CE", "C", "BC", "D"])
def test_grid_projections_match_dense_svd_and_segment_sums(kind: str) -> None:
    """Block pairs tiling a layer are projected by reshapes (the grid path); the other layers by segment
    sums. Both against the dense SVD projector, and the grid path against segment sums alone."""
    net, part = _grid_net(3)
    plan = _projection_plan(part, torch.device("cpu"), torch.float64)
    assert len(plan.grids) == 1 and plan.rest is not None and not plan.rest_is_all
    M = manifold(kind, part, anchor=net.flat_parameters()) if kind == "D" else manifold(kind, part)
    P_dense = M.dense_tangent_projector()
    eye = torch.eye(net.num_parameters, dtype=torch.float64)
    assert np.max(np.abs(M.tangent(eye).numpy() - P_dense)) < PROJ_TOL  # [P, m], column by column
    V = torch.randn(net.num_parameters, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    strided = V[:, 1]  # a non-contiguous vector
    assert torch.allclose(
        M.normal(strided), torch.as_tensor(V.numpy()[:, 1] - P_dense @ V.numpy()[:, 1]), rtol=0, atol=PROJ_TOL
    )
    E = net.num_edges
    segment = torch.empty(E, 3, dtype=torch.float64)
    _segment_normal_component(part, M.rule, _index(part, V.device, V.dtype), "all", V[:E], segment)
    assert torch.allclose(weight_normal_component(part, M.rule, V[:E]), segment, rtol=0, atol=1e-14)


def test_unequal_clone_sizes_fall_back_to_segment_sums() -> None:
    net, part = _grid_net({"h0_0": 2, "h1_3": 4})
    assert _projection_plan(part, torch.device("cpu"), torch.float64).rest_is_all
    M = manifold("C", part)
    eye = torch.eye(net.num_parameters, dtype=torch.float64)
    assert np.max(np.abs(M.tangent(eye).numpy() - M.dense_tangent_projector())) < PROJ_TOL

"""Theorems 2.1 and A.1, part by part, as hypothesis properties over random cloned DAGs (float64)."""

from __future__ import annotations

import math

import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from dag_nets.base_network import base_correspondence
from dag_nets.dynamics import (
    OptimizerSpec,
    cloning_report,
    frozen_unit_trajectory,
    run_trajectory,
    tangency_residuals,
)
from dag_nets.manifolds import manifold
from dag_nets.partition import Partition
from dag_nets.refine import coarsest_equitable_partition
from tests.dag_nets.strategies import SMOOTH_ACTIVATIONS, ClonedCase, cloned_dags

EXACT = 1e-11
"""Bound for float64 identities on O(1) weights (sums of ≤ 50 terms, a few steps)."""


@given(cloned_dags())
def test_theorem_a1_part1_ce_gives_forward_cloning(case: ClonedCase) -> None:
    theta = manifold("CE", case.partition).random_point(torch.Generator().manual_seed(case.seed))
    net = case.net.copy_with(theta)
    assert cloning_report(net, case.partition, case.x, case.y).forward < EXACT


@given(cloned_dags())
def test_theorem_a1_part2_equitable_gives_backward_and_gradient_cloning(case: ClonedCase) -> None:
    rep = cloning_report(case.net, case.partition, case.x, case.y)
    assert rep.forward < EXACT and rep.backward < EXACT and rep.gradient < EXACT


@given(cloned_dags(), st.sampled_from(["sgd", "momentum", "adam"]))
def test_theorem_a1_part3_trajectory_stays_on_m_d(case: ClonedCase, optimizer: str) -> None:
    traj = run_trajectory(
        case.net,
        case.partition,
        case.x,
        case.y,
        optimizer=OptimizerSpec(optimizer, 1e-3),
        steps=4,
        keep_thetas=True,
    )
    assume(all(map(math.isfinite, traj.loss)))  # the claim is about structure, not convergence
    # Relative to ‖θ_t‖: plain SGD may diverge on some draws, and round-off scales with the weights.
    for d_d, d_c, theta in zip(traj.distance_D, traj.distance_C, traj.thetas):
        scale = max(1.0, float(torch.linalg.vector_norm(theta)))
        assert d_d < EXACT * scale and d_c < EXACT * scale


@given(cloned_dags())
def test_theorem_21_gradient_tangent_to_m_c_and_bc(case: ClonedCase) -> None:
    res = tangency_residuals(case.net, case.partition, case.x, case.y, kinds=("C", "BC"))
    assert max(res.values()) < EXACT


@given(cloned_dags(activations=("relu",)), st.data())
def test_theorem_21_frozen_relu_unit_persists_under_sgd(case: ClonedCase, data: st.DataObject) -> None:
    hidden = [v for v in case.net.bias_nodes if v not in case.net.outputs]
    unit = data.draw(st.sampled_from(hidden))
    moved, fprime = frozen_unit_trajectory(case.net, unit, case.x, case.y, warm_steps=0, steps=3)
    assert fprime == 0.0 and max(moved) == 0.0


@given(cloned_dags())
def test_corrected_base_network_matches(case: ClonedCase) -> None:
    c = base_correspondence(case.partition, case.x, case.y, "corrected")
    assert c["forward"] < EXACT and c["output"] < EXACT and c["backward_scaled"] < EXACT


@given(cloned_dags(activations=SMOOTH_ACTIVATIONS))
def test_refinement_recovers_planted_clones(case: ClonedCase) -> None:
    found = coarsest_equitable_partition(case.net, tol=1e-9)
    # Generic base weights have no symmetry of their own, so the planted partition is the coarsest.
    assert found.as_sets() == case.partition.as_sets()


@given(cloned_dags())
def test_projectors_idempotent_and_orthogonal(case: ClonedCase) -> None:
    gen = torch.Generator().manual_seed(case.seed)
    v = torch.randn(case.net.num_parameters, generator=gen, dtype=torch.float64)
    u = torch.randn(case.net.num_parameters, generator=gen, dtype=torch.float64)
    for kind in ("RE", "CE", "C", "BC"):
        M = manifold(kind, case.partition)
        t = M.tangent(v)
        assert torch.allclose(M.tangent(t), t, atol=EXACT)
        assert abs(float(M.tangent(u) @ v - u @ M.tangent(v))) < EXACT * 10
        assert abs(float(M.normal(v) @ t)) < EXACT * 10


@given(cloned_dags())
def test_trivial_partition_manifolds_are_everything(case: ClonedCase) -> None:
    part = Partition.trivial(case.net)
    v = torch.randn(case.net.num_parameters, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(manifold("C", part).tangent(v), v, atol=EXACT)

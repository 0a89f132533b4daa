"""Dynamics: cloning report, tangency, optimizer trajectories, breakers, frozen units."""

from __future__ import annotations

import pytest
import torch

from dag_nets.builders import cloned_random_dag, mlp, teacher_batch
from dag_nets.dynamics import (
    BREAKERS,
    OPTIMIZERS,
    cloning_report,
    frozen_unit_trajectory,
    run_trajectory,
    tangency_residuals,
)
from dag_nets.manifolds import manifold

EXACT = 1e-12
ESCAPE = 1e-6


@pytest.fixture(scope="module")
def case():
    net, part, _ = cloned_random_dag(seed=4)
    x, y = teacher_batch(2, 2, 16, seed=4)
    return net, part, x, y


def test_report_zero_on_manifold_positive_off(case) -> None:
    net, part, x, y = case
    assert max(vars(cloning_report(net, part, x, y)).values()) < EXACT
    theta = net.flat_parameters() + 0.1 * torch.randn(net.num_parameters, dtype=torch.float64,
                                                      generator=torch.Generator().manual_seed(0))
    off = cloning_report(net.copy_with(theta), part, x, y)
    assert off.forward > ESCAPE and off.backward > ESCAPE and off.gradient > ESCAPE


def test_tangency(case) -> None:
    net, part, x, y = case
    res = tangency_residuals(net, part, x, y, kinds=("RE", "CE", "C", "BC", "D"))
    assert max(res.values()) < EXACT


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_optimizer_predictions(case, optimizer: str) -> None:
    net, part, x, y = case
    traj = run_trajectory(net, part, x, y, optimizer=optimizer, steps=8, lr=0.05)
    assert len(traj.distance_D) == 9
    if optimizer in ("adamw", "l2"):
        assert max(traj.distance_C) < EXACT and traj.distance_D[-1] > ESCAPE
    elif optimizer == "adam-l2":
        assert traj.distance_C[-1] > ESCAPE
    else:
        assert max(traj.distance_D) < EXACT and max(traj.distance_C) < EXACT


@pytest.mark.parametrize("breaker", BREAKERS)
def test_breakers_leave_m_c(case, breaker: str) -> None:
    net, part, x, y = case
    traj = run_trajectory(net, part, x, y, steps=3, breaker=breaker)
    assert traj.distance_C[0] < EXACT and traj.distance_C[-1] > ESCAPE


def test_noisy_sgd_with_zero_sigma_is_sgd(case) -> None:
    net, part, x, y = case
    a = run_trajectory(net, part, x, y, steps=3, breaker="noisy-sgd", noise_sigma0=0.0)
    b = run_trajectory(net, part, x, y, steps=3)
    assert a.loss == b.loss


def test_frozen_unit() -> None:
    net = mlp(3, [4], 1, activation="relu", seed=1)
    x, y = teacher_batch(3, 1, 16, seed=1)
    moved, fprime = frozen_unit_trajectory(net, "h0_0", x, y, optimizer="sgd", warm_steps=3, steps=5)
    assert fprime == 0.0 and max(moved) == 0.0
    moved, _ = frozen_unit_trajectory(net, "h0_0", x, y, optimizer="momentum", warm_steps=3, steps=5)
    assert max(moved) > ESCAPE
    moved, _ = frozen_unit_trajectory(net, "h0_0", x, y, optimizer="l2", warm_steps=0, steps=5)
    assert max(moved) > ESCAPE


def test_frozen_manifold_trajectory(case) -> None:
    net, part, x, y = case
    unit = net.bias_nodes[0]
    traj = run_trajectory(net, part, x, y, steps=2, frozen=[unit])
    assert traj.distance_F[0] == 0.0 and len(traj.distance_F) == 3
    assert manifold("F", part, anchor=net.flat_parameters(), frozen=[unit]).dimension() < net.num_parameters


def test_errors(case) -> None:
    net, part, x, y = case
    with pytest.raises(ValueError, match="valid choices"):
        run_trajectory(net, part, x, y, optimizer="lion")
    with pytest.raises(ValueError, match="valid choices"):
        run_trajectory(net, part, x, y, breaker="mixup")
    with pytest.raises(ValueError, match="hidden"):
        frozen_unit_trajectory(net, net.outputs[0], x, y)

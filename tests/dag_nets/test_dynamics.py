"""Dynamics: cloning report, tangency, optimizer trajectories, breakers, frozen units."""

from __future__ import annotations

import math

import pytest
import torch

from dag_nets.builders import cloned_random_dag, mlp, teacher_batch
from dag_nets.dynamics import (
    BREAKERS,
    OPTIMIZERS,
    cloning_report,
    frozen_unit_trajectory,
    gradient,
    growth_factor,
    linearized_normal_factor,
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
def test_every_optimizer_runs_and_records_each_step(case, optimizer: str) -> None:
    """The bookkeeping of run_trajectory; what each optimizer does to M_C and M_D(θ0) (Remark 2.4) is the
    remark-2.4/* checks of proofs_check, run by tests/paper/test_remark_2_4.py on two seeds."""
    net, part, x, y = case
    traj = run_trajectory(net, part, x, y, optimizer=optimizer, steps=8, lr=0.05)
    assert len(traj.distance_D) == len(traj.distance_C) == len(traj.loss) == 9
    assert traj.distance_C[0] < EXACT and all(map(math.isfinite, traj.loss))


@pytest.mark.parametrize("breaker", BREAKERS)
def test_breakers_act_from_the_first_step(case, breaker: str) -> None:
    """Bookkeeping: a breaker moves θ off M_C at step 1 (how far, and that it stays off, is remark-2.4/*)."""
    net, part, x, y = case
    traj = run_trajectory(net, part, x, y, steps=1, breaker=breaker)
    assert traj.distance_C[0] < EXACT and traj.distance_C[1] > ESCAPE


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


def test_breaker_steps_limits_the_breaker_to_the_first_steps(case) -> None:
    net, part, x, y = case
    kick = run_trajectory(net, part, x, y, steps=6, lr=0.05, breaker="noisy-sgd", breaker_steps=1, keep_thetas=True)
    assert kick.distance_C[1] > ESCAPE
    for before, now in zip(kick.thetas[1:-1], kick.thetas[2:]):  # after the first step: plain GD
        torch.testing.assert_close(now, before - 0.05 * gradient(net, x, y, before), rtol=0.0, atol=EXACT)
    none = run_trajectory(net, part, x, y, steps=3, lr=0.05, breaker="noisy-sgd", breaker_steps=0)
    assert max(none.distance_C) < EXACT
    with pytest.raises(ValueError, match="breaker_steps"):
        run_trajectory(net, part, x, y, steps=1, breaker="noisy-sgd", breaker_steps=-1)


def test_linearized_normal_factor_is_the_norm_growth_of_the_gd_map() -> None:
    gen = torch.Generator().manual_seed(1)
    B = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    A = (B + B.T) / 4  # symmetric, indefinite
    lr, k = 0.3, 40
    ev = torch.linalg.eigvalsh(A).numpy()
    step = torch.eye(6, dtype=torch.float64) - lr * A
    norm_k = float(torch.linalg.matrix_norm(torch.linalg.matrix_power(step, k), ord=2))
    assert linearized_normal_factor(ev, lr) == pytest.approx(norm_k ** (1.0 / k), rel=1e-12)
    e = torch.randn(6, generator=gen, dtype=torch.float64)
    curve = [float(torch.linalg.vector_norm(torch.linalg.matrix_power(step, t) @ e)) for t in range(400)]
    assert growth_factor(curve, 50) == pytest.approx(linearized_normal_factor(ev, lr), rel=1e-6)


def test_growth_factor_of_a_geometric_curve_and_bad_input() -> None:
    assert growth_factor([2.0 * 1.1**t for t in range(10)], 4) == pytest.approx(1.1, rel=1e-14)
    with pytest.raises(ValueError, match="window"):
        growth_factor([1.0, 2.0], 2)
    with pytest.raises(ValueError, match="positive"):
        growth_factor([0.0, 0.0, 1.0], 2)
    with pytest.raises(ValueError, match="lr"):
        linearized_normal_factor([0.1], 0.0)
    with pytest.raises(ValueError, match="non-empty"):
        linearized_normal_factor([], 0.1)

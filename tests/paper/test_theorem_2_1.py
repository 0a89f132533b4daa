"""Theorem 2.1 reproduced: frozen units and cloned units trap (S)GD, with the paper's own caveats tested."""

from __future__ import annotations

import torch

from dag_nets.builders import cloned_random_dag, mlp, teacher_batch
from dag_nets.dynamics import OptimizerSpec, frozen_unit_trajectory, run_trajectory
from dag_nets.threads import single_threaded

EXACT = 1e-12


def test_part1_dead_relu_unit_is_trapped() -> None:
    net = mlp(3, [5], 1, activation="relu", seed=0)
    x, y = teacher_batch(3, 1, 32, seed=0)
    with single_threaded():
        moved, fprime = frozen_unit_trajectory(net, "h0_2", x, y, optimizer="sgd", warm_steps=5, steps=20)
    assert fprime == 0.0 and max(moved) == 0.0


def test_part1_tanh_is_never_exactly_frozen() -> None:
    z = torch.tensor([5.0, 10.0, 15.0], dtype=torch.float64)
    assert bool((1 - torch.tanh(z) ** 2 > 0).all())


def test_part2_cloned_units_stay_cloned_under_minibatch_sgd() -> None:
    net, part, _ = cloned_random_dag(seed=21)
    x, y = teacher_batch(2, 2, 32, seed=21)
    with single_threaded():
        traj = run_trajectory(net, part, x, y, optimizer=OptimizerSpec("sgd", 0.05), steps=30, batch_size=4)
    assert max(traj.distance_C) < EXACT and max(traj.distance_D) < EXACT
    assert traj.loss[-1] < traj.loss[0]

"""Remark 2.4 reproduced per optimizer: stateful optimizers born at cloning stay on M_D(θ0); weight decay
leaves M_D(θ0) but not M_C; Adam with coupled L2 leaves M_C."""

from __future__ import annotations

import pytest

from dag_nets.builders import cloned_random_dag, teacher_batch
from dag_nets.dynamics import OptimizerSpec, run_trajectory
from dag_nets.threads import single_threaded

EXACT = 1e-12
ESCAPE = 1e-6


@pytest.mark.parametrize(
    "optimizer, stays_d, stays_c",
    [("sgd", True, True), ("momentum", True, True), ("nesterov", True, True), ("rmsprop", True, True),
     ("adam", True, True), ("adamw", False, True), ("l2", False, True), ("adam_l2", False, False)],
)
def test_optimizer(optimizer: str, stays_d: bool, stays_c: bool) -> None:
    net, part, _ = cloned_random_dag(seed=31)
    x, y = teacher_batch(2, 2, 16, seed=31)
    with single_threaded():
        traj = run_trajectory(net, part, x, y, optimizer=OptimizerSpec(optimizer, 0.05), steps=10)
    assert (max(traj.distance_D) < EXACT) == stays_d
    assert (max(traj.distance_C) < EXACT) == stays_c
    if not stays_d:
        assert traj.distance_D[-1] > ESCAPE

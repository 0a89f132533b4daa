"""Theorem 2.1 reproduced: frozen units and cloned units trap (S)GD, with the paper's own caveats tested.

The claims are the proofs_check checks of Theorem 2.1 (run once per session, tests/check_runs.py); what is
tested here beyond them is that the project's own tanh unit is never exactly frozen.
"""

from __future__ import annotations

import pytest
import torch

from dag_nets.builders import mlp, teacher_batch
from dag_nets.dynamics import frozen_unit_trajectory
from tests.check_runs import CHECKS, assert_as_expected
from theory.activations import get_activation

THEOREM_2_1 = sorted(i for i in CHECKS if i.startswith("theorem-2.1/"))


@pytest.mark.parametrize("check_id", THEOREM_2_1)
def test_theorem_2_1_check(check_id: str) -> None:
    assert_as_expected(check_id)


def test_part1_the_projects_tanh_is_never_exactly_frozen() -> None:
    """The derivative the DAG networks use (theory's tanh, float64) is positive at every saturated z, and a
    unit pushed there by its bias still sees f' > 0 and moves: M_F is only approximate for tanh."""
    tanh = get_activation("tanh")
    z = torch.tensor([5.0, 10.0, 15.0], dtype=torch.float64)
    assert bool((tanh.torch_derivative(z) > 0).all())
    assert (tanh.numpy_derivative(z.numpy()) > 0).all()
    net = mlp(3, [4, 3], 1, activation="tanh", seed=3)
    assert net.node_activation["h0_1"].torch_derivative(z).min() > 0  # the unit's own activation object
    x, y = teacher_batch(3, 1, 32, seed=3)
    moved, fprime = frozen_unit_trajectory(
        net, "h0_1", x, y, optimizer="sgd", warm_steps=0, steps=5, kill_bias=-15.0
    )
    assert fprime > 0.0 and max(moved) > 0.0

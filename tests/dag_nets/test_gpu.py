"""DagNet, the manifold projections and trajectories on every available device agree with a CPU reference.

The device path (``net.to(device)``, data and anchors moved, projection indices built per device, masks
drawn on the CPU generator and moved) runs on the CPU always and on CUDA where a GPU is present.
"""

from __future__ import annotations

import pytest
import torch

from dag_nets.builders import cloned_random_dag, teacher_batch
from dag_nets.dynamics import Dropout, run_trajectory
from dag_nets.manifolds import manifold

AGREE = 1e-12
ESCAPE = 1e-6
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("device", DEVICES)
def test_device_matches_cpu_reference(device: str) -> None:
    net, part, _ = cloned_random_dag(seed=3)
    x, y = teacher_batch(2, 2, 8, seed=3)
    theta = net.flat_parameters()
    ref_out = net(x)
    ref_proj = manifold("C", part).tangent(theta + 1.0)
    ref_traj = run_trajectory(net, part, x, y, steps=3, breaker=Dropout())
    moved = net.copy_with().to(device)
    dev_x, dev_y = x.to(device), y.to(device)
    assert torch.allclose(moved(dev_x).cpu(), ref_out, atol=AGREE)
    assert torch.allclose(manifold("C", part).tangent(theta.to(device) + 1.0).cpu(), ref_proj, atol=AGREE)
    traj = run_trajectory(moved, part, dev_x, dev_y, steps=3, breaker=Dropout())
    for name in ("loss", "distance_C", "distance_D", "residual_C"):
        got, want = getattr(traj, name), getattr(ref_traj, name)
        assert max(abs(a - b) for a, b in zip(got, want)) < AGREE, name
    assert (
        traj.distance_C[0] < AGREE and traj.distance_C[-1] > ESCAPE
    )  # dropout breaks cloning, on any device

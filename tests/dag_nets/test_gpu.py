"""DagNet and the manifold projections on CUDA agree with CPU (run only where a GPU is present)."""

from __future__ import annotations

import pytest
import torch

from dag_nets.builders import cloned_random_dag, teacher_batch
from dag_nets.dynamics import run_trajectory
from dag_nets.manifolds import manifold


@pytest.mark.gpu
def test_cuda_matches_cpu() -> None:
    net, part, _ = cloned_random_dag(seed=3)
    x, y = teacher_batch(2, 2, 8, seed=3)
    cpu_out = net(x)
    theta = net.flat_parameters()
    cpu_proj = manifold("C", part).tangent(theta + 1.0)
    net_gpu = net.to("cuda")
    assert torch.allclose(net_gpu(x.cuda()).cpu(), cpu_out, atol=1e-12)
    assert torch.allclose(manifold("C", part).tangent(theta.cuda() + 1.0).cpu(), cpu_proj, atol=1e-12)
    traj = run_trajectory(net_gpu, part, x.cuda(), y.cuda(), steps=3, breaker="dropout")
    assert traj.distance_C[0] < 1e-12

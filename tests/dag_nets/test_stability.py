"""Normal-space stability (Definition A.2): dense vs Lanczos, HVP modes, N_C vs N_D, classification."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp, teacher_batch
from dag_nets.graph import loss_of_theta
from dag_nets.stability import classify, dense_hessian, hvp_function, normal_stability

AGREE = 1e-8
"""Dense vs Lanczos eigenvalue agreement required in float64."""


def _case(seed: int = 0):
    base = mlp(3, [3, 4], 1, activation="tanh", seed=seed)
    net, part = clone_network(base, {"h0_0": 2, "h0_2": 3, "h1_1": 2, "h1_3": 3}, mode="equitable",
                              generator=torch.Generator().manual_seed(seed), scale=0.5)
    x, y = teacher_batch(3, 1, 24, seed=seed)
    return net, part, x, y


@pytest.mark.parametrize("space", ["C", "D"])
def test_lanczos_matches_dense(space: str) -> None:
    net, part, x, y = _case()
    dense = normal_stability(net, part, x, y, space=space, method="dense")
    lanczos = normal_stability(net, part, x, y, space=space, method="lanczos", k=3)
    ev = dense.eigenvalues
    assert np.max(np.abs(lanczos.eigenvalues[:3] - ev[:3])) < AGREE
    assert np.max(np.abs(lanczos.eigenvalues[-3:] - ev[-3:])) < AGREE
    assert lanczos.classification == dense.classification
    assert sum(dense.inertia) == dense.normal_dimension == len(ev)


def test_hvp_modes_and_dense_hessian_agree_with_double_backward_reference() -> None:
    net, _, x, y = _case(1)
    theta = net.flat_parameters()
    H = dense_hessian(net, x, y, theta)
    H_ref = torch.autograd.functional.hessian(loss_of_theta(net, x, y), theta)
    assert torch.allclose(H, H_ref, atol=1e-12)
    v = torch.randn(net.num_parameters, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for mode in ("double-backward", "forward-over-reverse"):
        assert torch.allclose(hvp_function(net, x, y, theta, mode=mode)(v), H_ref @ v, atol=1e-12)


def test_n_d_is_n_c_plus_zeros() -> None:
    net, part, x, y = _case(2)
    c = normal_stability(net, part, x, y, space="C")
    d = normal_stability(net, part, x, y, space="D")
    extra = d.normal_dimension - c.normal_dimension
    assert extra > 0
    merged = np.sort(np.concatenate([c.eigenvalues, np.zeros(extra)]))
    assert np.max(np.abs(merged - d.eigenvalues)) < 1e-10
    assert d.inertia[2] >= extra


@pytest.mark.parametrize(
    "ev, label",
    [([1.0, 2.0], "stable"), ([-1.0, -2.0], "unstable"), ([-1.0, 2.0], "saddle"), ([0.0, 2.0], "degenerate"), ([], "degenerate")],
)
def test_classify(ev, label) -> None:
    assert classify(np.array(ev), 1e-9)[1] == label


def test_errors() -> None:
    net, part, x, y = _case()
    with pytest.raises(ValueError, match="space"):
        normal_stability(net, part, x, y, space="X")
    with pytest.raises(ValueError, match="method"):
        normal_stability(net, part, x, y, method="power")
    with pytest.raises(ValueError, match="mode"):
        hvp_function(net, x, y, net.flat_parameters(), mode="fd")

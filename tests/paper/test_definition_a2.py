"""Definition A.2 on a cloned network: N_D adds only exact zeros to the N_C spectrum."""

from __future__ import annotations

import numpy as np
import torch

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp, teacher_batch
from dag_nets.stability import normal_stability
from dag_nets.threads import single_threaded


def test_normal_spaces() -> None:
    base = mlp(2, [3], 1, seed=3)
    net, part = clone_network(base, {"h0_0": 2, "h0_1": 3}, mode="equitable", generator=torch.Generator().manual_seed(3))
    x, y = teacher_batch(2, 1, 16, seed=3)
    with single_threaded():
        c = normal_stability(net, part, x, y, space="C")
        d = normal_stability(net, part, x, y, space="D")
    extra = d.normal_dimension - c.normal_dimension
    assert np.allclose(np.sort(np.concatenate([c.eigenvalues, np.zeros(extra)])), d.eigenvalues, atol=1e-10)
    assert d.classification != "stable"

"""The tolerance rule of dag_nets.approximate_clones and the frozen-unit fractions of dag_nets.frozen, on
networks from the builders, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dag_nets.approximate_clones import (
    CEILING_RTOL,
    LADDER_STEP,
    approximate_equitable_partition,
    roundoff_floor,
    tolerance_ladder,
)
from dag_nets.base_network import clone_network
from dag_nets.builders import mlp
from dag_nets.frozen import optimizer_invariance, zero_derivative_fraction


def _cloned(noise: float = 0.0, seed: int = 0):
    base = mlp(3, [3, 3], 2, "tanh", seed=seed)
    net, part = clone_network(base, {v: 2 for v in base.bias_nodes if v not in base.outputs})
    if noise:
        gen = torch.Generator().manual_seed(seed + 1)
        theta = net.flat_parameters()
        net.set_flat_parameters(theta + noise * torch.randn(theta.shape, generator=gen, dtype=theta.dtype))
    return net, part


def _blocks(net, colouring: np.ndarray) -> list[frozenset]:
    groups: dict[int, set] = {}
    for v, c in zip(net.nodes, colouring):
        groups.setdefault(int(c), set()).add(v)
    return sorted((frozenset(g) for g in groups.values() if len(g) > 1), key=sorted)


def test_ladder_runs_a_decade_apart_from_floor_to_ceiling() -> None:
    net, _ = _cloned()
    ladder = tolerance_ladder(net)
    w = net.edge_weight.detach()
    assert ladder[0] == roundoff_floor(net)
    assert ladder[-1] == pytest.approx(CEILING_RTOL * float(torch.sqrt((w * w).mean())), rel=1e-15)
    np.testing.assert_allclose(ladder[1:-1] / ladder[:-2], LADDER_STEP, rtol=1e-12)
    assert ladder[-1] / ladder[-2] <= LADDER_STEP * (1 + 1e-12)


@pytest.mark.parametrize("noise", [0.0, 1e-9, 1e-6])
def test_cloned_network_blocks_recovered(noise: float) -> None:
    net, part = _cloned(noise)
    found = approximate_equitable_partition(net)
    expected = sorted((frozenset(b) for b in part.blocks if len(b) > 1), key=sorted)
    assert _blocks(net, found.colouring) == expected
    assert found.exact is (noise == 0.0)
    if noise:
        assert found.tol > found.floor and found.chosen_by == "plateau"


def test_given_tolerance_is_used_as_is() -> None:
    net, _ = _cloned(1e-6)
    tight = approximate_equitable_partition(net, tol=0.0)
    assert tight.chosen_by == "given" and tight.trivial  # noise separates every pair at tol 0
    with pytest.raises(ValueError, match="tol"):
        approximate_equitable_partition(net, tol=-1.0)


def test_zero_derivative_fraction_matches_direct_preactivations() -> None:
    net = mlp(3, [5], 1, "relu", seed=3)
    x = torch.randn(40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    frac = zero_derivative_fraction(net, x)
    _, Z = net.node_values(net.flat_parameters(), x)
    hidden = [net.index[v] for v in net.bias_nodes if v not in net.outputs]
    direct = (Z[:, hidden] <= 0).double().mean(0).numpy()
    np.testing.assert_array_equal(frac[: len(hidden)], direct)
    assert frac[-1] == 0.0  # the linear output's derivative is 1


def test_invariance_without_optimizer_is_plain_sgd() -> None:
    inv = optimizer_invariance(torch.nn.Linear(2, 2), None, {}, {}, None)
    assert inv.invariant and inv.optimizer.startswith("sgd")
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        optimizer_invariance(torch.nn.Linear(2, 2), "adam", {}, {}, None)  # type: ignore[arg-type]

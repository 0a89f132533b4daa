"""DagNet: forward pass, parameter round trips, explicit δ recursion vs autograd, input validation."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from dag_nets.backprop import autograd_adjoints, explicit_backprop, explicit_forward
from dag_nets.graph import DagNet, loss_of_theta
from tests.dag_nets.helpers import skip_graph

TOL64 = 1e-12


def _net(seed: int = 0, dtype=torch.float64) -> DagNet:
    G, ins, outs = skip_graph(seed)
    return DagNet.from_networkx(G, inputs=ins, outputs=outs, dtype=dtype)


def test_forward_matches_explicit_formula() -> None:
    net = _net()
    x = torch.randn(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out = net(x).detach().numpy()
    h, _ = explicit_forward(net, x.numpy())
    ref = np.stack([h[v] for v in net.outputs], axis=1)
    assert np.max(np.abs(out - ref)) < TOL64


def test_forward_hand_computed() -> None:
    G = nx.DiGraph()
    G.add_node("h", activation="relu", bias=0.5)
    G.add_node("y", bias=-1.0)
    G.add_edge("x", "h", weight=2.0)
    G.add_edge("h", "y", weight=3.0)
    G.add_edge("x", "y", weight=-1.0)
    net = DagNet.from_networkx(G, inputs=["x"], outputs=["y"])
    x = torch.tensor([[1.0], [-2.0]], dtype=torch.float64)
    # x=1: h = relu(2.5) = 2.5, y = 7.5 − 1 − 1 = 5.5; x=−2: h = relu(−3.5) = 0, y = 0 + 2 − 1 = 1.
    assert net(x).squeeze(1).tolist() == [5.5, 1.0]


def test_explicit_delta_recursion_matches_autograd() -> None:
    net = _net(3)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(5, 2, dtype=torch.float64, generator=gen)
    y = torch.randn(5, 2, dtype=torch.float64, generator=gen)
    theta = net.flat_parameters().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_of_theta(net, x, y)(theta), theta)
    ref = explicit_backprop(net, x.numpy(), y.numpy())
    assert np.max(np.abs(g.numpy() - ref.grad)) < TOL64
    _, _, delta, _ = autograd_adjoints(net, net.flat_parameters(), x, y)
    for v in net.nodes:
        assert np.max(np.abs(delta[:, net.index[v]].numpy() - ref.delta[v])) < TOL64


def test_round_trip_networkx_and_parameters() -> None:
    net = _net()
    G2 = net.to_networkx()
    net2 = DagNet.from_networkx(G2, inputs=net.inputs, outputs=net.outputs)
    assert net2.edge_weights() == net.edge_weights()
    assert net2.node_biases() == net.node_biases()
    theta = net.flat_parameters() + 1.0
    net.set_flat_parameters(theta)
    assert torch.equal(net.flat_parameters(), theta)
    assert net.copy_with().edge_weights() == net.edge_weights()


def test_float32_and_functional_transforms() -> None:
    net32 = _net(dtype=torch.float32)
    net64 = _net()
    x = torch.randn(4, 2, dtype=torch.float64)
    assert net32(x.float()).dtype == torch.float32
    assert torch.allclose(net32(x.float()).double(), net64(x), atol=1e-5)
    f = loss_of_theta(net64, x, torch.zeros(4, 2, dtype=torch.float64))
    H = torch.func.hessian(f)(net64.flat_parameters())
    assert H.shape == (net64.num_parameters,) * 2
    assert torch.allclose(H, H.T, atol=TOL64)


def _base_graph() -> nx.DiGraph:
    G = nx.DiGraph()
    G.add_node("h", activation="tanh")
    G.add_edge("x", "h", weight=1.0)
    G.add_edge("h", "y", weight=1.0)
    return G


@pytest.mark.parametrize(
    "mutate, inputs, outputs, exc, match",
    [
        (lambda G: G.add_edge("y", "h", weight=1.0), ["x"], ["y"], ValueError, "cycle"),
        (lambda G: G.nodes["h"].update(activation="nope"), ["x"], ["y"], ValueError, "unknown activation"),
        (lambda G: G.edges["x", "h"].pop("weight"), ["x"], ["y"], ValueError, "no 'weight'"),
        (lambda G: G.edges["x", "h"].update(weight=float("nan")), ["x"], ["y"], ValueError, "finite"),
        (lambda G: G.add_edge("h", "x", weight=1.0), ["x"], ["y"], ValueError, "cycle"),
        (lambda G: G.add_edge("z", "y", weight=1.0), ["x"], ["y"], ValueError, "not reachable"),
        (lambda G: G.add_edge("h", "dead", weight=1.0), ["x"], ["y"], ValueError, "do not reach"),
        (lambda G: None, ["x", "q"], ["y"], ValueError, "not in the graph"),
        (lambda G: None, ["x"], [], ValueError, "at least one"),
        (lambda G: None, ["x"], ["x"], ValueError, "both as inputs"),
        (lambda G: None, ["h"], ["y"], ValueError, "incoming edges"),
    ],
)
def test_errors(mutate, inputs, outputs, exc, match) -> None:
    G = _base_graph()
    mutate(G)
    with pytest.raises(exc, match=match):
        DagNet.from_networkx(G, inputs=inputs, outputs=outputs)


def test_bad_x_shape_and_dtype() -> None:
    net = DagNet.from_networkx(_base_graph(), inputs=["x"], outputs=["y"])
    with pytest.raises(ValueError, match="shape"):
        net(torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="dtype"):
        DagNet.from_networkx(_base_graph(), inputs=["x"], outputs=["y"], dtype=torch.int64)


def test_bug_float32_net_accepts_weight_1e300() -> None:
    """The finite check ran before the cast to the network's dtype: 1e300 became inf in float32."""
    G = nx.DiGraph()
    G.add_node("h", activation="tanh", bias=0.5)
    G.add_node("y")
    G.add_edge("x", "h", weight=1e300)
    G.add_edge("h", "y", weight=1.0)
    with pytest.raises(
        ValueError,
        match=r"weight of edge \('x', 'h'\) must be finite in torch.float32: 1e\+300 "
        r"lies outside its range ±3.40282e\+38",
    ):
        DagNet.from_networkx(G, inputs=["x"], outputs=["y"], dtype=torch.float32)
    # fine in float64
    assert DagNet.from_networkx(G, inputs=["x"], outputs=["y"]).edge_weight.dtype == torch.float64
    G.edges["x", "h"]["weight"] = 1.0
    G.nodes["h"]["bias"] = -1e39
    with pytest.raises(ValueError, match=r"bias of node 'h' must be finite in torch.float32: -1e\+39"):
        DagNet.from_networkx(G, inputs=["x"], outputs=["y"], dtype=torch.float32)
    with pytest.raises(ValueError, match=r"weight of edge \('x', 'h'\) must be finite, got nan"):
        DagNet(
            ["x", "h", "y"],
            ["x"],
            ["y"],
            [("x", "h"), ("h", "y")],
            [float("nan"), 1.0],
            {},
            {v: DagNet.from_networkx(G, ["x"], ["y"]).node_activation[v] for v in ("h", "y")},
        )

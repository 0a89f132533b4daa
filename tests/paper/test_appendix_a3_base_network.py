"""Appendix A.3's base-network weight (1/|S_i|)Σw is wrong when |S_i| ≠ |S_j|; (1/|S_j|)Σw is right."""

from __future__ import annotations

import math

import networkx as nx
import torch

from dag_nets.base_network import base_network
from dag_nets.graph import DagNet
from dag_nets.partition import Partition


def _net() -> tuple[DagNet, Partition]:
    G = nx.DiGraph()
    for v in "ab":
        G.add_node(v, activation="tanh")
    G.add_node("y")
    for u, v, w in [("x", "a", 1.0), ("x", "b", 1.0), ("a", "y", 0.5), ("b", "y", 0.5)]:
        G.add_edge(u, v, weight=w)
    net = DagNet.from_networkx(G, inputs=["x"], outputs=["y"])
    return net, Partition(net, [["x"], ["a", "b"], ["y"]])


def test_paper_weights_give_wrong_output() -> None:
    net, part = _net()
    x = torch.tensor([[1.0]], dtype=torch.float64)
    with torch.no_grad():
        assert net(x).item() == math.tanh(1.0)
        assert abs(base_network(part, "paper")(x).item() - 0.5 * math.tanh(2.0)) < 1e-15
        assert abs(base_network(part, "corrected")(x).item() - math.tanh(1.0)) < 1e-15

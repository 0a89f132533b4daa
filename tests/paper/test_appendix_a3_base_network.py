"""Appendix A.3's base-network weight (1/|S_i|)Σw is wrong when |S_i| ≠ |S_j|; (1/|S_j|)Σw is right."""

from __future__ import annotations

import math

import torch

from dag_nets.base_network import base_network
from dag_nets.builders import two_clone_net
from dag_nets.graph import DagNet
from dag_nets.partition import Partition


def _net() -> tuple[DagNet, Partition]:
    return two_clone_net(w_in=(1.0, 1.0), w_out=(0.5, 0.5))


def test_paper_weights_give_wrong_output() -> None:
    net, part = _net()
    x = torch.tensor([[1.0]], dtype=torch.float64)
    with torch.no_grad():
        assert net(x).item() == math.tanh(1.0)
        assert abs(base_network(part, "paper")(x).item() - 0.5 * math.tanh(2.0)) < 1e-15
        assert abs(base_network(part, "corrected")(x).item() - math.tanh(1.0)) < 1e-15

"""Appendix A.3's base-network weight (1/|S_i|)Σw is wrong when |S_i| ≠ |S_j|; (1/|S_j|)Σw is right.

The claims are the proofs_check checks; this file adds the exact values of the counterexample.
"""

from __future__ import annotations

import math

import pytest
import torch

from dag_nets.base_network import base_network
from dag_nets.builders import two_clone_net
from tests.check_runs import assert_as_expected


@pytest.mark.parametrize(
    "check_id",
    [
        "appendix-A.3/base-network",
        "appendix-A.3/base-network-corrected",
        "remark-A.2/forward-RE",
        "remark-A.2/backward",
        "remark-A.2/corrected",
    ],
)
def test_base_network_check(check_id: str) -> None:
    assert_as_expected(check_id)


def test_paper_weights_give_exactly_half_tanh_two() -> None:
    net, part = two_clone_net(w_in=(1.0, 1.0), w_out=(0.5, 0.5))
    x = torch.tensor([[1.0]], dtype=torch.float64)
    with torch.no_grad():
        assert net(x).item() == math.tanh(1.0)
        assert abs(base_network(part, "paper")(x).item() - 0.5 * math.tanh(2.0)) < 1e-15
        assert abs(base_network(part, "corrected")(x).item() - math.tanh(1.0)) < 1e-15

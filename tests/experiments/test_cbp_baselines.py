"""Baselines of Continual Backpropagation: shrink-and-perturb, L2, head re-initialization (Section 4)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from experiments.optim.plasticity_baselines import l2_optimizer, reset_head_, shrink_and_perturb_


def test_shrink_and_perturb_is_lambda_w_plus_sigma_noise() -> None:
    w = torch.randn(4, 3, dtype=torch.float64)
    original = w.clone()
    shrink_and_perturb_([w], shrink=0.9, noise_std=0.01, generator=torch.Generator().manual_seed(5))
    noise = torch.randn(4, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.testing.assert_close(w, 0.9 * original + 0.01 * noise, rtol=1e-15, atol=1e-15)


def test_shrink_and_perturb_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="shrink"):
        shrink_and_perturb_([torch.zeros(2)], shrink=1.5, noise_std=0.0)
    with pytest.raises(ValueError, match="noise_std"):
        shrink_and_perturb_([torch.zeros(2)], shrink=1.0, noise_std=-1.0)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_l2_optimizer_adds_lambda_w_to_the_gradient(name: str) -> None:
    w = nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = l2_optimizer([w], name, lr=0.1, weight_decay=0.5)
    w.grad = torch.zeros_like(w)  # zero loss gradient: the step is driven by λw alone
    opt.step()
    if name == "sgd":
        torch.testing.assert_close(
            w.detach(), torch.tensor([1.0, -2.0], dtype=torch.float64) * (1 - 0.1 * 0.5)
        )
    else:  # Adam normalizes g = λw: the first step moves each weight by lr against its sign
        torch.testing.assert_close(w.detach(), torch.tensor([0.9, -1.9], dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown optimizer"):
        l2_optimizer([w], "rmsprop", lr=0.1, weight_decay=0.0)


def test_reset_head_redraws_weights_zeroes_bias_and_clears_state() -> None:
    torch.manual_seed(0)
    head = nn.Linear(4, 3)
    opt = torch.optim.Adam(head.parameters(), lr=0.1)
    head(torch.randn(2, 4)).sum().backward()
    opt.step()
    before = head.weight.detach().clone()
    reset_head_(head, opt)
    assert not torch.equal(head.weight, before)
    assert torch.all(head.bias == 0)
    bound = 1 / 4**0.5  # torch's default Linear init: U(±1/√fan_in)
    assert torch.all(head.weight.abs() <= bound)
    for p in head.parameters():
        assert torch.all(opt.state[p]["exp_avg"] == 0) and torch.all(opt.state[p]["exp_avg_sq"] == 0)
    with pytest.raises(TypeError, match="nn.Linear"):
        reset_head_(nn.ReLU())  # type: ignore[arg-type]

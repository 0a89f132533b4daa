"""NoisySGD (Appendix B.1.2) and the optimizer factory."""

from __future__ import annotations

import math

import pytest
import torch

from experiments.optim import NoisySGD, make_optimizer

NOISE_SAMPLES = 20_000
STD_RTOL = 0.05


def _noise_of_one_step(
    norm: str, sigma0: float, decay: float, steps_before: int
) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.nn.Parameter(torch.zeros(NOISE_SAMPLES))
    b = torch.nn.Parameter(torch.zeros(NOISE_SAMPLES))
    opt = NoisySGD([a, b], lr=1.0, sigma0=sigma0, decay=decay, norm=norm, seed=3)
    opt.t = steps_before
    a.grad = torch.full_like(a, 3.0 / math.sqrt(NOISE_SAMPLES))  # ‖g_a‖ = 3
    b.grad = torch.full_like(b, 4.0 / math.sqrt(NOISE_SAMPLES))  # ‖g_b‖ = 4, global norm 5
    opt.step()
    return -a.detach() - a.grad, -b.detach() - b.grad  # the noise ε (lr = 1)


@pytest.mark.parametrize("norm, expected", [("tensor", (3.0, 4.0)), ("global", (5.0, 5.0))])
def test_noise_std_is_sigma_t_times_gradient_norm(norm, expected):
    sigma0, decay, t = 0.1, 0.9, 5
    eps_a, eps_b = _noise_of_one_step(norm, sigma0, decay, t)
    sigma_t = sigma0 * decay**t
    for eps, g_norm in zip((eps_a, eps_b), expected):
        assert abs(float(eps.std()) / (sigma_t * g_norm) - 1) < STD_RTOL
        assert abs(float(eps.mean())) < 5 * sigma_t * g_norm / math.sqrt(NOISE_SAMPLES)


def test_sigma_zero_is_plain_sgd_and_schedule_decays():
    torch.manual_seed(0)
    p1 = torch.nn.Parameter(torch.randn(5))
    p2 = torch.nn.Parameter(p1.detach().clone())
    noisy, plain = NoisySGD([p1], lr=0.1, sigma0=0.0), torch.optim.SGD([p2], lr=0.1)
    for _ in range(3):
        for p, opt in ((p1, noisy), (p2, plain)):
            opt.zero_grad()
            (p**2).sum().backward()
            opt.step()
    assert torch.equal(p1, p2)
    assert noisy.t == 3 and NoisySGD([p1], lr=1, sigma0=0.01, decay=0.999).sigma == 0.01


def test_factory_validates():
    p = [torch.nn.Parameter(torch.zeros(1))]
    assert isinstance(make_optimizer("adam", p, lr=1e-3), torch.optim.Adam)
    assert isinstance(make_optimizer("noisy_sgd", p, lr=1e-2, sigma0=0.01, decay=0.999), NoisySGD)
    with pytest.raises(ValueError, match="choices: sgd, adam, noisy_sgd"):
        make_optimizer("rmsprop", p, lr=1)
    with pytest.raises(ValueError, match="valid: lr, momentum"):
        make_optimizer("sgd", p, lr=1, sigma0=0.1)
    with pytest.raises(ValueError, match="decay"):
        NoisySGD(p, lr=1, decay=1.5)

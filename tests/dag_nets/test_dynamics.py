"""Dynamics: cloning report, tangency, optimizer trajectories, breakers, frozen units."""

from __future__ import annotations

import math

import pytest
import torch

from dag_nets.builders import mlp, teacher_batch
from dag_nets.dynamics import (
    BREAKERS,
    OPTIMIZERS,
    Dropout,
    GradientNoise,
    OptimizerSpec,
    UnitNoise,
    cloning_report,
    frozen_unit_trajectory,
    gradient,
    growth_factor,
    linearized_normal_factor,
    run_trajectory,
    tangency_residuals,
)
from dag_nets.graph import get_loss
from dag_nets.manifolds import manifold
from dag_nets.optimizers import PAPER_DECAY, NoisySGD
from tests.dag_nets.cases import Case, build

EXACT = 1e-12
ESCAPE = 1e-6


@pytest.fixture
def case() -> tuple:
    c = build("random-dag-equitable")
    return c.net, c.partition, c.x, c.y


def test_report_zero_on_manifold_positive_off(cloned_case: Case) -> None:
    net, part, x, y = cloned_case.net, cloned_case.partition, cloned_case.x, cloned_case.y
    assert max(vars(cloning_report(net, part, x, y)).values()) < EXACT
    theta = net.flat_parameters() + 0.1 * torch.randn(
        net.num_parameters, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    off = cloning_report(net.copy_with(theta), part, x, y)
    assert off.forward > ESCAPE and off.backward > ESCAPE and off.gradient > ESCAPE


def test_tangency(cloned_case: Case) -> None:
    net, part, x, y = cloned_case.net, cloned_case.partition, cloned_case.x, cloned_case.y
    res = tangency_residuals(net, part, x, y, kinds=("RE", "CE", "C", "BC", "D"))
    assert max(res.values()) < EXACT


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_runs_and_records_each_step(case, optimizer: str) -> None:
    """The bookkeeping of run_trajectory; what each optimizer does to M_C and M_D(θ0) (Remark 2.4) is the
    remark-2.4/* checks of proofs_check, run by tests/paper/test_remark_2_4.py on two seeds."""
    net, part, x, y = case
    traj = run_trajectory(net, part, x, y, optimizer=OptimizerSpec(optimizer, 0.05), steps=8)
    assert len(traj.distance_D) == len(traj.distance_C) == len(traj.loss) == 9
    assert traj.distance_C[0] < EXACT and all(map(math.isfinite, traj.loss))


@pytest.mark.parametrize("breaker", BREAKERS)
def test_breakers_act_from_the_first_step(case, breaker: str) -> None:
    """Bookkeeping: a breaker moves θ off M_C at step 1 (how far, and that it stays off, is remark-2.4/*)."""
    net, part, x, y = case
    traj = run_trajectory(net, part, x, y, steps=1, breaker=breaker)
    assert traj.distance_C[0] < EXACT and traj.distance_C[1] > ESCAPE


def test_noisy_sgd_with_zero_sigma_is_sgd(case) -> None:
    net, part, x, y = case
    a = run_trajectory(net, part, x, y, steps=3, breaker=GradientNoise(sigma0=0.0))
    b = run_trajectory(net, part, x, y, steps=3)
    assert a.loss == b.loss


def test_noisy_sgd_breaker_is_the_papers_noisy_sgd(case) -> None:
    """SGD + the noisy_sgd breaker is step for step NoisySGD (Appendix B.1.2), the experiments' optimizer."""
    net, part, x, y = case
    breaker = GradientNoise(sigma0=0.3, decay=0.9)
    traj = run_trajectory(
        net,
        part,
        x,
        y,
        optimizer=OptimizerSpec("sgd", 0.05),
        steps=4,
        breaker=breaker,
        seed=7,
        keep_thetas=True,
    )
    model = net.copy_with()
    opt = NoisySGD([model.edge_weight, model.bias], lr=0.05, sigma0=0.3, decay=0.9, seed=7)
    for t in range(4):
        opt.zero_grad()
        get_loss("mse")(model(x), y).backward()
        opt.step()
        assert torch.equal(model.flat_parameters(), traj.thetas[t + 1])
    assert traj.distance_C[-1] > ESCAPE
    assert GradientNoise().decay == PAPER_DECAY == 0.999 and GradientNoise().norm == "tensor"


def test_gradient_noise_is_per_tensor_and_decays(case) -> None:
    """The noise of one step is N(0, σ_t² ‖g_p‖² I) with the norm of each parameter tensor p alone."""
    net, part, x, y = case
    sigma0, decay, t = 0.2, 0.5, 2
    plain = run_trajectory(
        net, part, x, y, optimizer=OptimizerSpec("sgd", 1.0), steps=t + 1, keep_thetas=True
    )
    noisy = run_trajectory(
        net,
        part,
        x,
        y,
        optimizer=OptimizerSpec("sgd", 1.0),
        steps=t + 1,
        keep_thetas=True,
        breaker=GradientNoise(sigma0=sigma0, decay=decay, steps=None),
        seed=3,
    )
    before = noisy.thetas[t]
    g = gradient(net, x, y, before)
    eps = -(noisy.thetas[t + 1] - before) - g  # lr = 1: θ' = θ − (g + ε)
    E = net.num_edges
    gen = torch.Generator().manual_seed(3)
    for _ in range(t):  # the draws of the earlier steps
        for size in (E, net.num_biases):
            torch.randn(size, generator=gen, dtype=torch.float32)
    sigma_t = sigma0 * decay**t
    for sl in (slice(0, E), slice(E, None)):
        z = torch.randn(g[sl].shape, generator=gen, dtype=torch.float32).to(g)
        torch.testing.assert_close(
            eps[sl], sigma_t * torch.linalg.vector_norm(g[sl]) * z, rtol=1e-9, atol=1e-12
        )
    assert plain.thetas[0].equal(noisy.thetas[0])


def test_frozen_unit() -> None:
    net = mlp(3, [4], 1, activation="relu", seed=1)
    x, y = teacher_batch(3, 1, 16, seed=1)
    moved, fprime = frozen_unit_trajectory(net, "h0_0", x, y, optimizer="sgd", warm_steps=3, steps=5)
    assert fprime == 0.0 and max(moved) == 0.0
    moved, _ = frozen_unit_trajectory(
        net, "h0_0", x, y, optimizer=OptimizerSpec("sgd", 0.05), warm_steps=3, steps=5
    )
    assert max(moved) == 0.0
    moved, _ = frozen_unit_trajectory(net, "h0_0", x, y, optimizer="momentum", warm_steps=3, steps=5)
    assert max(moved) > ESCAPE
    moved, _ = frozen_unit_trajectory(net, "h0_0", x, y, optimizer="l2", warm_steps=0, steps=5)
    assert max(moved) > ESCAPE


def test_frozen_manifold_trajectory(case) -> None:
    net, part, x, y = case
    unit = net.bias_nodes[0]
    traj = run_trajectory(net, part, x, y, steps=2, frozen=[unit])
    assert traj.distance_F[0] == 0.0 and len(traj.distance_F) == 3
    assert manifold("F", part, anchor=net.flat_parameters(), frozen=[unit]).dimension() < net.num_parameters


def test_errors(case) -> None:
    net, part, x, y = case
    with pytest.raises(ValueError, match="choices: sgd, momentum"):
        run_trajectory(net, part, x, y, optimizer="lion")
    with pytest.raises(ValueError, match="valid choices: dropout, noisy_sgd, per_unit_noise"):
        run_trajectory(net, part, x, y, breaker="mixup")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['momentum'\] for optimizer 'adam'"):
        OptimizerSpec("adam", 0.1, {"momentum": 0.9})
    with pytest.raises(ValueError, match="lr must be > 0"):
        OptimizerSpec("sgd", -5.0)
    with pytest.raises(ValueError, match="dropout rate must be in"):
        Dropout(rate=1.0)
    with pytest.raises(ValueError, match="decay"):
        GradientNoise(decay=0.0)
    with pytest.raises(ValueError, match="std must be ≥ 0"):
        UnitNoise(std=-1.0)
    with pytest.raises(ValueError, match="hidden"):
        frozen_unit_trajectory(net, net.outputs[0], x, y)


def test_breaker_steps_limits_the_breaker_to_the_first_steps(case) -> None:
    net, part, x, y = case
    kick = run_trajectory(net, part, x, y, steps=6, breaker=GradientNoise(steps=1), keep_thetas=True)
    assert kick.distance_C[1] > ESCAPE
    for before, now in zip(kick.thetas[1:-1], kick.thetas[2:]):  # after the first step: plain GD
        torch.testing.assert_close(now, before - 0.05 * gradient(net, x, y, before), rtol=0.0, atol=EXACT)
    none = run_trajectory(net, part, x, y, steps=3, breaker=GradientNoise(steps=0))
    assert max(none.distance_C) < EXACT
    with pytest.raises(ValueError, match="breaker steps"):
        GradientNoise(steps=-1)


def test_linearized_normal_factor_is_the_norm_growth_of_the_gd_map() -> None:
    gen = torch.Generator().manual_seed(1)
    B = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    A = (B + B.T) / 4  # symmetric, indefinite
    lr, k = 0.3, 40
    ev = torch.linalg.eigvalsh(A).numpy()
    step = torch.eye(6, dtype=torch.float64) - lr * A
    norm_k = float(torch.linalg.matrix_norm(torch.linalg.matrix_power(step, k), ord=2))
    assert linearized_normal_factor(ev, lr) == pytest.approx(norm_k ** (1.0 / k), rel=1e-12)
    e = torch.randn(6, generator=gen, dtype=torch.float64)
    curve = [float(torch.linalg.vector_norm(torch.linalg.matrix_power(step, t) @ e)) for t in range(400)]
    assert growth_factor(curve, 50) == pytest.approx(linearized_normal_factor(ev, lr), rel=1e-6)


def test_growth_factor_of_a_geometric_curve_and_bad_input() -> None:
    assert growth_factor([2.0 * 1.1**t for t in range(10)], 4) == pytest.approx(1.1, rel=1e-14)
    with pytest.raises(ValueError, match="window"):
        growth_factor([1.0, 2.0], 2)
    with pytest.raises(ValueError, match="positive"):
        growth_factor([0.0, 0.0, 1.0], 2)
    with pytest.raises(ValueError, match="lr"):
        linearized_normal_factor([0.1], 0.0)
    with pytest.raises(ValueError, match="non-empty"):
        linearized_normal_factor([], 0.1)

"""diagnose on planted cases (issue 13 §3), each checked against an independent computation: clone blocks
against identical rows of the module's own weights, frozen units against the module's pre-activations,
the normal spectrum against the dense Hessian (torch.func.jacfwd) on an SVD basis of the normal space,
the escape direction against the module's own loss."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from dag_nets.approximate_clones import CEILING_RTOL
from dag_nets.curvature import dense_hessian
from dag_nets.diagnose import diagnose
from dag_nets.manifolds import manifold
from dag_nets.stability import normal_stability
from experiments.cloning.expand import expand
from experiments.models.mlp import MLP
from experiments.models.spec import make_spec

EIG_ATOL = 1e-10
EXACT_DISTANCE = 1e-14
NOISE = 1e-7


def _mlp(
    activation: str = "tanh", hidden: int = 3, depth: int = 2, inputs: int = 4, seed: int = 0
) -> nn.Module:
    torch.manual_seed(seed)
    spec = make_spec(
        "mlp", (1, 1, inputs), 2, hidden=hidden, depth=depth, normalization="none", activation=activation
    )
    return MLP(spec).double().eval()


def _batch(n: int = 16, inputs: int = 4, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, 1, 1, inputs, generator=gen, dtype=torch.float64),
        torch.randn(n, 2, generator=gen, dtype=torch.float64),
    )


def _identical_rows(linear: nn.Linear) -> list[list[int]]:
    """Groups (size ≥ 2) of output units of ``linear`` whose incoming weights and bias are identical."""
    rows = torch.cat([linear.weight, linear.bias[:, None]], dim=1).detach().numpy()
    _, inverse = np.unique(rows, axis=0, return_inverse=True)
    groups: dict[int, list[int]] = {}
    for i, g in enumerate(inverse.ravel()):
        groups.setdefault(int(g), []).append(i)
    return sorted(g for g in groups.values() if len(g) > 1)


def _hidden_linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model if isinstance(m, nn.Linear)][:-1]


@pytest.mark.parametrize("factor", [2, 3])
def test_expanded_model_every_block_found_exact(factor: int) -> None:
    model = expand(_mlp(), factor)
    x, y = _batch()
    d = diagnose(model, x, y)
    hidden = [layer for layer in d.layers if layer.activation != "linear"]
    expected = [_identical_rows(lin) for lin in _hidden_linears(model)]
    assert [sorted(layer.clone_blocks) for layer in hidden] == expected
    assert all(len(b) == factor for blocks in expected for b in blocks) and len(expected[0]) == 3
    assert d.clones.exact and d.clones.relative_distance <= EXACT_DISTANCE
    assert d.manifold is not None and d.manifold.normal_gradient_fraction <= 1e-12  # Theorem 2.1: tangent


def test_noisy_clones_found_within_tolerance_and_reported_inexact() -> None:
    model = expand(_mlp(), 2)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(NOISE * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    x, y = _batch()
    d = diagnose(model, x, y)
    clean = expand(_mlp(), 2)
    expected = [_identical_rows(lin) for lin in _hidden_linears(clean)]
    hidden = [layer for layer in d.layers if layer.activation != "linear"]
    assert [sorted(layer.clone_blocks) for layer in hidden] == expected
    c = d.clones
    assert not c.exact and c.floor < c.tol < CEILING_RTOL * 10
    assert NOISE / 100 < c.relative_distance < NOISE * 10  # how far from exact equitability, measured
    # evaluated at P_C θ: the gradient there is tangent again
    assert d.manifold is not None and d.manifold.normal_gradient_fraction <= 1e-10
    assert 0 < d.manifold.distance_to_projection < 100 * NOISE


def _preactivations(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    hooks = [
        lin.register_forward_hook(lambda _m, _a, out: seen.append(out.detach()))
        for lin in _hidden_linears(model)
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return seen


def test_killed_units_all_found() -> None:
    model = _mlp("relu", hidden=8)
    planted = {0: [1, 4, 6], 1: [0, 7]}
    with torch.no_grad():
        for layer, units in planted.items():
            _hidden_linears(model)[layer].bias[units] = -1e3
    x, y = _batch(64)
    d = diagnose(model, x, y)
    hidden = [layer for layer in d.layers if layer.activation == "relu"]
    direct = [torch.nonzero((z <= 0).all(0)).ravel().tolist() for z in _preactivations(model, x)]
    assert [layer.frozen for layer in hidden] == direct
    for layer, units in planted.items():
        assert set(units) <= set(hidden[layer].frozen)
    for layer, z in zip(hidden, _preactivations(model, x)):
        np.testing.assert_allclose(layer.zero_fraction, (z <= 0).double().mean(0).numpy(), rtol=0, atol=0)
    assert d.invariance is not None and d.invariance.invariant


def test_fresh_model_nothing_found() -> None:
    x, y = _batch(32)
    d = diagnose(_mlp("tanh", hidden=6), x, y)
    assert all(not layer.frozen and not layer.clone_blocks for layer in d.layers)
    assert d.clones.trivial and d.manifold is None and d.invariance is None


def _dense_restricted(net, part, X, Y, theta, trainable=None) -> np.ndarray:
    """Eigenvalues of the dense Hessian on an orthonormal basis of N_C (∩ the trainable coordinates)."""
    M = manifold("C", part)
    PN = M.normal_projector().dense().double().numpy()
    blocks = [np.eye(len(PN)) - PN]
    if trainable is not None:
        blocks.append(np.diag((~trainable).double().numpy()))
    B = scipy.linalg.null_space(np.vstack(blocks), rcond=1e-10)
    H = dense_hessian(net, X, Y, theta).double().numpy()
    return np.linalg.eigvalsh(B.T @ H @ B)


def test_normal_spectrum_matches_dense_hessian_and_escape_lowers_the_module_loss() -> None:
    model = expand(_mlp(), 2)
    x, y = _batch()
    d = diagnose(model, x, y, method="dense")
    m = d.manifold
    assert m is not None and m.complete
    md = d.module_dag
    X, Y = md.inputs(x), y
    reference = normal_stability(md.net, d.clones.partition, X, Y, method="dense")
    np.testing.assert_allclose(m.eigenvalues, reference.eigenvalues, rtol=0, atol=EIG_ATOL)
    assert m.classification == reference.classification
    np.testing.assert_allclose(
        m.eigenvalues, _dense_restricted(md.net, d.clones.partition, X, Y, md.theta()), rtol=0, atol=EIG_ATOL
    )
    assert m.escape is not None and m.escape_eigenvalue == pytest.approx(m.eigenvalues[0], abs=EIG_ATOL)
    # the module's own loss along the escape direction: L(p + εd) − L(p) = ε²λ/2 + O(ε³) (gradient tangent)
    eps = 1e-3
    moved = copy.deepcopy(model)
    with torch.no_grad():
        for name, delta in m.escape.items():
            moved.get_parameter(name).add_(eps * delta)
        change = float(((moved(x) - y) ** 2).mean() - ((model(x) - y) ** 2).mean())
    assert change == pytest.approx(eps**2 * m.escape_eigenvalue / 2, rel=1e-2)


def test_lanczos_extremes_match_the_complete_spectrum() -> None:
    model = expand(_mlp(hidden=3), 3)
    x, y = _batch()
    dense = diagnose(model, x, y, method="dense").manifold
    lanczos = diagnose(model, x, y, method="lanczos", k=2).manifold
    assert dense is not None and lanczos is not None and lanczos.certified and not lanczos.complete
    ev = dense.eigenvalues
    np.testing.assert_allclose(lanczos.eigenvalues, np.concatenate([ev[:2], ev[-2:]]), rtol=0, atol=1e-9)
    assert lanczos.classification == dense.classification
    if lanczos.escape_eigenvalue is not None:
        assert lanczos.escape_eigenvalue == pytest.approx(ev[0], abs=1e-9)


class ClonedResidual(nn.Module):
    """h1 = tanh(W1 x + b1), h2 = h1 + tanh(W2 h1 + b2), out = W3 h2: skip edges are fixed coordinates."""

    def __init__(self, d: int = 3, h: int = 2, copies: int = 2, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        W1, b1 = torch.randn(h, d, generator=gen), torch.randn(h, generator=gen)
        W2, b2 = torch.randn(h, h, generator=gen), torch.randn(h, generator=gen)
        W3 = torch.randn(2, h, generator=gen)
        self.l1, self.l2, self.l3 = (
            nn.Linear(d, h * copies),
            nn.Linear(h * copies, h * copies),
            nn.Linear(h * copies, 2),
        )
        with torch.no_grad():  # unit j of a hidden layer copies base unit j // copies
            self.l1.weight.copy_(W1.repeat_interleave(copies, 0))
            self.l1.bias.copy_(b1.repeat_interleave(copies))
            self.l2.weight.copy_(W2.repeat_interleave(copies, 0).repeat_interleave(copies, 1) / copies)
            self.l2.bias.copy_(b2.repeat_interleave(copies))
            self.l3.weight.copy_(W3.repeat_interleave(copies, 1) / copies)
        self.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h1 = torch.tanh(self.l1(x))
        h2 = h1 + torch.tanh(self.l2(h1))
        return self.l3(h2)


def test_residual_clones_curvature_on_trainable_normal_space_matches_dense() -> None:
    model = ClonedResidual()
    gen = torch.Generator().manual_seed(2)
    x, y = (
        torch.randn(12, 3, generator=gen, dtype=torch.float64),
        torch.randn(12, 2, generator=gen, dtype=torch.float64),
    )
    d = diagnose(model, x, y)
    md, m = d.module_dag, d.manifold
    assert md.parameter_map.num_fixed > 0 and m is not None and not m.skipped
    reference = _dense_restricted(
        md.net, d.clones.partition, md.inputs(x), y, md.theta(), md.parameter_map.trainable
    )
    assert m.normal_dimension == len(reference)
    np.testing.assert_allclose(m.eigenvalues, reference, rtol=0, atol=EIG_ATOL)


def _killed_relu(momentum: float, weight_decay: float = 0.0, adam: bool = False):
    model = _mlp("relu", hidden=6)
    x, y = _batch(32)
    opt = (
        torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=weight_decay)
        if adam
        else torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay)
    )
    for _ in range(2):  # build optimizer state while the units are alive
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    with torch.no_grad():
        model[1].bias[[0, 2]] = -1e3
    return model, opt, x, y


@pytest.mark.parametrize(
    "momentum, weight_decay, adam, invariant",
    [
        (0.0, 0.0, False, True),
        (0.9, 0.0, False, False),  # the momentum buffer keeps moving the frozen rows
        (0.0, 1e-2, False, False),  # weight decay shrinks them
        (0.0, 0.0, True, False),  # Adam's first moment
    ],
)
def test_frozen_invariance_matches_a_real_optimizer_step(momentum, weight_decay, adam, invariant) -> None:
    model, opt, x, y = _killed_relu(momentum, weight_decay, adam)
    d = diagnose(model, x, y, optimizer=opt)
    assert d.invariance is not None and d.invariance.invariant is invariant
    frozen = d.layers[0].frozen
    assert {0, 2} <= set(frozen)
    before = torch.cat([model[1].weight, model[1].bias[:, None]], 1)[frozen].detach().clone()
    opt.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    opt.step()
    after = torch.cat([model[1].weight, model[1].bias[:, None]], 1)[frozen].detach()
    assert torch.equal(before, after) is invariant


def test_cross_entropy_with_class_indices_equals_one_hot_rows() -> None:
    model = expand(_mlp(), 2)
    x, _ = _batch()
    labels = torch.arange(16) % 2
    a = diagnose(model, x, labels, loss="cross_entropy").manifold
    b = diagnose(model, x, nn.functional.one_hot(labels, 2).double(), loss="cross_entropy").manifold
    assert a is not None and b is not None
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'; valid choices: mse, cross_entropy"),
        ({"method": "qr"}, ValueError, "method must be one of auto, dense, lanczos"),
        ({"k": 0}, ValueError, "k"),
        ({"frozen_tol": -1.0}, ValueError, "frozen_tol"),
        ({"targets": torch.zeros(3, 2)}, ValueError, r"targets must have shape \[16, 2\]"),
        ({"targets": torch.full((16,), 5), "loss": "cross_entropy"}, ValueError, r"in \[0, 2\)"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, error, match) -> None:
    x, y = _batch()
    kwargs = {"targets": y, **kwargs}
    with pytest.raises(error, match=match):
        diagnose(_mlp(), x, **kwargs)

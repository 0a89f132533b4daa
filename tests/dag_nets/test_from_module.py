"""from_module: a traced torch module as a DagNet, checked against the module's own float64 forward and
autograd gradients (issue 13 §1), with the parameter map both ways and clear errors for what has no
node-per-unit form."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dag_nets.from_module import SUPPORTED, UnsupportedModuleError, from_module
from dag_nets.graph import loss_of_theta
from experiments.cloning.expand import expand
from experiments.models.mlp import MLP
from experiments.models.spec import make_spec

FORWARD_ATOL = 1e-12
GRAD_ATOL = 1e-12


def _mlp(activation: str = "tanh", hidden: int = 6, depth: int = 2, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    spec = make_spec(
        "mlp", (1, 3, 3), 4, hidden=hidden, depth=depth, normalization="none", activation=activation
    )
    return MLP(spec).double().eval()


class ResidualMLP(nn.Module):
    """Skip connections, functional activations, a scaled branch and a concatenation."""

    def __init__(self, d: int = 5, h: int = 7) -> None:
        super().__init__()
        self.inp = nn.Linear(d, h)
        self.a = nn.Linear(h, h)
        self.b = nn.Linear(h, h, bias=False)
        self.out = nn.Linear(2 * h, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.inp(x))
        h = h + F.relu(self.a(h))  # residual
        g = 0.5 * F.gelu(self.b(h)) - h  # scaled branch minus the skip
        return self.out(torch.cat([h, g], dim=1))


def _check_against_module(model: nn.Module, x: torch.Tensor) -> None:
    md = from_module(model, x)
    X = md.inputs(x)
    out = model(x).reshape(x.shape[0], -1)
    torch.testing.assert_close(md.net(X), out, rtol=0, atol=FORWARD_ATOL)
    y = torch.randn_like(out)
    # gradients: autograd on the module against the DagNet's ∂L/∂θ mapped back by the chain rule
    model.zero_grad()
    ((out - y) ** 2).mean().backward()
    theta = md.theta().requires_grad_(True)
    (g_theta,) = torch.autograd.grad(loss_of_theta(md.net, X, y)(theta), theta)
    grads = md.parameter_map.gradient_to_parameters(g_theta)
    assert set(grads) == {n for n, p in model.named_parameters() if p.requires_grad}
    for name, g in grads.items():
        torch.testing.assert_close(g, model.get_parameter(name).grad, rtol=0, atol=GRAD_ATOL)


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu", "sigmoid"])
def test_experiments_mlp_matches_forward_and_gradients(activation: str) -> None:
    model = _mlp(activation)
    x = torch.randn(9, 1, 3, 3, dtype=torch.float64)
    _check_against_module(model, x)
    md = from_module(model, x)
    assert [layer.size for layer in md.layers] == [9, 6, 6, 4]
    assert md.net.num_parameters == sum(p.numel() for p in model.parameters())
    assert md.parameter_map.num_fixed == 0


def test_residual_module_matches_forward_and_gradients() -> None:
    torch.manual_seed(1)
    model = ResidualMLP().double()
    x = torch.randn(8, 5, dtype=torch.float64)
    _check_against_module(model, x)
    md = from_module(model, x)
    assert md.parameter_map.num_fixed > 0  # the skip edges of weight 1 and the sum nodes' zero biases


def test_cloned_mlp_has_twice_the_hidden_units() -> None:
    model = _mlp("tanh")
    big = expand(model, 2)
    x = torch.randn(6, 1, 3, 3, dtype=torch.float64)
    _check_against_module(big, x)
    assert [layer.size for layer in from_module(big, x).layers] == [9, 12, 12, 4]


def test_parameter_map_round_trip_is_exact() -> None:
    torch.manual_seed(2)
    model = ResidualMLP().double()
    x = torch.randn(4, 5, dtype=torch.float64)
    md = from_module(model, x)
    theta = md.theta()
    assert torch.equal(theta, md.net.flat_parameters())
    back = md.parameter_map.parameters_from(theta)
    for name, value in back.items():
        assert torch.equal(value, model.get_parameter(name).detach())
    moved = theta.clone()
    moved[md.parameter_map.trainable] += 0.25
    other = ResidualMLP().double()
    md.parameter_map.load(other, moved)
    assert torch.equal(md.parameter_map.theta_from(other), moved)
    fixed = ~md.parameter_map.trainable
    bad = theta.clone()
    bad[torch.nonzero(fixed)[0, 0]] += 1.0
    with pytest.raises(ValueError, match="fixed coordinate"):
        md.parameter_map.parameters_from(bad)


def test_part_traces_the_head_of_a_cnn() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Sequential(nn.Linear(32, 5), nn.Tanh(), nn.Linear(5, 2)),
    ).double()
    x = torch.randn(4, 1, 4, 4, dtype=torch.float64)
    with pytest.raises(UnsupportedModuleError, match="Conv2d"):
        from_module(model, x)
    md = from_module(model, x, part="3")
    torch.testing.assert_close(md.net(md.inputs(x)), model(x), rtol=0, atol=FORWARD_ATOL)
    assert md.parameter_map.names == ("3.0.weight", "3.0.bias", "3.2.weight", "3.2.bias")


class _Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x)[0]


class _Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(torch.tanh(self.lin(x)))


class _Branching(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return self.lin(x)
        return x


class _Product(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) * x


@pytest.mark.parametrize(
    "model, needle",
    [
        (nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)), "LayerNorm"),
        (nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)), "BatchNorm1d"),
        (nn.Sequential(nn.Linear(4, 4), nn.Softplus()), "Softplus"),
        (nn.Sequential(nn.Linear(4, 4), nn.GELU(approximate="tanh")), "approximate='tanh'"),
        (nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)), "Dropout"),
        (_Attention(), "attn"),
        (_Shared(), "used a second time"),
        (_Branching(), "torch.fx cannot trace"),
        (_Product(), "product of two tensors"),
    ],
)
def test_unsupported_layers_name_the_layer(model: nn.Module, needle: str) -> None:
    model = model.double()
    x = torch.randn(3, 4, dtype=torch.float64)
    with pytest.raises(UnsupportedModuleError) as info:
        from_module(model, x)
    message = str(info.value)
    assert needle in message
    err = info.value  # no torch/fx traceback chained to it
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    if needle not in ("used a second time", "torch.fx cannot trace"):
        assert SUPPORTED in message


@pytest.mark.parametrize(
    "bad, match",
    [
        ("not a module", "torch.nn.Module"),
    ],
)
def test_bad_model_type(bad: object, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        from_module(bad, torch.zeros(2, 4))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "x, match",
    [
        (torch.zeros(4, dtype=torch.float64), "batch tensor"),
        (torch.zeros(2, 4, dtype=torch.int64), "finite floating"),
        (torch.full((2, 4), float("nan"), dtype=torch.float64), "finite floating"),
    ],
)
def test_bad_example_input(x: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        from_module(nn.Linear(4, 2).double(), x)


def test_unknown_part_lists_the_submodules() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    with pytest.raises(ValueError, match="no submodule 'head'.*0, 1, 2"):
        from_module(model, torch.zeros(2, 4, dtype=torch.float64), part="head")


def test_cross_entropy_loss_matches_torch() -> None:
    model = _mlp("tanh")
    x = torch.randn(7, 1, 3, 3, dtype=torch.float64)
    labels = torch.tensor([0, 3, 1, 2, 2, 0, 1])
    md = from_module(model, x)
    theta = md.theta().requires_grad_(True)
    ours = loss_of_theta(md.net, md.inputs(x), F.one_hot(labels, 4).double(), "cross_entropy")(theta)
    reference = F.cross_entropy(model(x), labels)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-14)
    (g_theta,) = torch.autograd.grad(ours, theta)
    model.zero_grad()
    reference.backward()
    for name, g in md.parameter_map.gradient_to_parameters(g_theta).items():
        torch.testing.assert_close(g, model.get_parameter(name).grad, rtol=0, atol=GRAD_ATOL)

"""CBP on the four architectures (experiments/optim/cbp_targets.py, Appendix B.1.2, Section 4).

For every architecture × normalization a replacement must change exactly: the replaced units' incoming
weight rows (fresh draws) and biases (0), their outgoing columns (0, except where a later layer redraws
those rows), the next layer's bias (by W_out·ĥ, recomputed here from hook-recorded activations), the
replaced units' normalization entries (γ=1, β=0, BN running mean 0 / variance 1) and the optimizer state
of exactly those entries. Every other parameter, buffer and optimizer-state entry stays bit-identical.
"""

from __future__ import annotations

import math

import pytest
import torch
from exp_fixtures import TINY_CLASSES, TINY_INPUT, moved_model
from torch import nn

from experiments.models import build
from experiments.optim.cbp import ContinualBackprop
from experiments.optim.cbp_targets import (
    ModelContinualBackprop,
    cbp_targets,
    reset_norm_units_,
    unit_layers,
)

BIAS_CORRECTION_TOL = 1e-10  # float64: ĥ is a geometric-series average of identical batch means
REPLACEMENT_RATE = 0.5
MATURITY = 3
DECAY = 0.9
# CNN with two conv stages: 8×8 → 2×2 after pooling, so the conv → fc boundary has spatial_size 4.
CASE_OPTIONS = {"mlp": {"depth": 3}, "cnn": {"channels": (64, 128)}, "resnet": {}, "vit": {}}
ARCHS = tuple(CASE_OPTIONS)
NORMS = ("none", "batch", "layer", "group")


def _columns(units: torch.Tensor, spatial: int) -> torch.Tensor:
    return (units[:, None] * spatial + torch.arange(spatial)[None, :]).flatten()


def _mean_input(x: torch.Tensor, units: int) -> torch.Tensor:
    """Per-unit mean of a layer input: channels of a map, features of tokens, or (unit, position) blocks of
    a flattened map (unit i feeds columns i·s … (i+1)·s − 1)."""
    x = x.detach()
    if x.dim() == 4:
        return x.transpose(0, 1).reshape(units, -1).mean(1)
    return x.reshape(-1, units, x.shape[-1] // units).mean(dim=(0, 2))


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    tensors = {n: t.detach().clone() for n, t in list(model.named_parameters()) + list(model.named_buffers())}
    names = {p: n for n, p in model.named_parameters()}
    state = {
        (names[p], key): value.clone()
        for p, entry in optimizer.state.items()
        for key, value in entry.items()
        if isinstance(value, torch.Tensor)
    }
    return tensors, state


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("arch", ARCHS)
def test_replacement_changes_exactly_the_stated_entries(arch: str, norm: str) -> None:
    model = moved_model(arch, norm, torch.float64, **CASE_OPTIONS[arch])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0)  # builds moment state, never moves weights
    cbp = ModelContinualBackprop(
        model,
        optimizer,
        replacement_rate=REPLACEMENT_RATE,
        maturity_threshold=MATURITY,
        decay_rate=DECAY,
        generator=torch.Generator().manual_seed(3),
    )
    targets = cbp.targets
    means: dict[int, torch.Tensor] = {}
    hooks = [  # the mean per unit of what the OUTGOING layer receives (independent of CBP's own hook)
        t.unit_layer.outgoing.register_forward_pre_hook(
            lambda _m, inputs, k=k, units=t.unit_layer.num_units: means.__setitem__(
                k, _mean_input(inputs[0], units)
            )
        )
        for k, t in enumerate(targets)
    ]
    g = torch.Generator().manual_seed(7)
    x = torch.randn(16, *TINY_INPUT, generator=g, dtype=torch.float64)
    y = torch.randint(0, TINY_CLASSES, (16,), generator=g)
    model.train()
    for step in range(MATURITY + 1):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if step == MATURITY:
            before, state_before = _snapshot(model, optimizer)
        replaced = cbp.step()
        if step < MATURITY:
            assert all(r.numel() == 0 for r in replaced), "immature units were replaced"
    for h in hooks:
        h.remove()
    after, state_after = _snapshot(model, optimizer)
    names = {id(m): n for n, m in model.named_modules()}

    may_change = {n: torch.zeros_like(t, dtype=torch.bool) for n, t in before.items()}
    state_zeroed = {n: torch.zeros_like(t, dtype=torch.bool) for n, t in before.items()}
    redrawn_rows: dict[str, torch.Tensor] = {}
    for t, units in zip(targets, replaced):
        assert units.numel() == t.unit_layer.num_units // 2
        incoming = names[id(t.unit_layer.incoming)]
        redrawn_rows[incoming] = units
    for k, (t, units) in enumerate(zip(targets, replaced)):
        layer = t.unit_layer
        incoming, outgoing = names[id(layer.incoming)], names[id(layer.outgoing)]
        cols = _columns(units, layer.spatial_size)
        w_in = after[f"{incoming}.weight"][units]
        bound = 1.0 / math.sqrt(layer.incoming.weight[0].numel())  # torch's default init bound
        assert torch.all(w_in.abs() <= bound) and not torch.equal(w_in, before[f"{incoming}.weight"][units])
        assert torch.all(after[f"{incoming}.bias"][units] == 0)
        for suffix in (".weight", ".bias"):
            may_change[incoming + suffix][units] = True
            state_zeroed[incoming + suffix][units] = True
        may_change[f"{outgoing}.weight"][:, cols] = True
        state_zeroed[f"{outgoing}.weight"][:, cols] = True
        later_rows = redrawn_rows.get(outgoing, units[:0])
        keep = torch.ones(layer.outgoing.weight.shape[0], dtype=torch.bool)
        keep[later_rows] = False
        assert torch.all(after[f"{outgoing}.weight"][keep][:, cols] == 0)
        # Next-layer bias: b ← b + Σ_{i replaced} (Σ over the unit's columns / kernel of W_out) · ĥ_i.
        w_out = before[f"{outgoing}.weight"][:, cols]
        w_out = w_out.reshape(w_out.shape[0], units.numel(), layer.spatial_size, -1).sum(dim=(2, 3))
        expected = before[f"{outgoing}.bias"] + w_out @ means[k][units]
        expected[later_rows] = 0.0
        torch.testing.assert_close(after[f"{outgoing}.bias"], expected, rtol=0, atol=BIAS_CORRECTION_TOL)
        may_change[f"{outgoing}.bias"][:] = True
        if t.norm is not None:
            prefix = names[id(t.norm)]
            if t.norm.weight is not None:
                assert torch.all(after[f"{prefix}.weight"][units] == 1) and torch.all(
                    after[f"{prefix}.bias"][units] == 0
                )
                for suffix in (".weight", ".bias"):
                    may_change[prefix + suffix][units] = True
                    state_zeroed[prefix + suffix][units] = True
            if isinstance(t.norm, nn.BatchNorm1d | nn.BatchNorm2d):
                assert torch.all(after[f"{prefix}.running_mean"][units] == 0)
                assert torch.all(after[f"{prefix}.running_var"][units] == 1)
                may_change[f"{prefix}.running_mean"][units] = True
                may_change[f"{prefix}.running_var"][units] = True
    if arch != "vit":  # the ViT's MLP sub-block has no norm between fc1 and its activation
        assert all((t.norm is None) == (norm == "none") for t in targets)
    for name, old in before.items():
        same = after[name] == old
        assert torch.all(same | may_change[name]), f"{name} changed outside the replaced units' entries"
    nonzero_reset = 0
    for (name, key), old in state_before.items():
        new = state_after[(name, key)]
        if old.shape != before[name].shape:  # Adam's per-tensor step counter
            assert torch.equal(new, old), f"{name}:{key} changed"
            continue
        assert torch.all(new[state_zeroed[name]] == 0), f"{name}:{key} not zeroed on the replaced entries"
        assert torch.equal(new[~state_zeroed[name]], old[~state_zeroed[name]]), (
            f"{name}:{key} changed elsewhere"
        )
        nonzero_reset += int((old[state_zeroed[name]] != 0).sum())
    assert nonzero_reset > 0, "test vacuous: the optimizer state was already zero on the replaced entries"


def test_layouts_of_each_architecture() -> None:
    mlp = build("mlp", TINY_INPUT, TINY_CLASSES, width=0.0625, depth=3)
    assert [(t.unit_layer.num_units, t.unit_layer.spatial_size) for t in cbp_targets(mlp)] == [(8, 1)] * 3
    cnn = build("cnn", TINY_INPUT, TINY_CLASSES, width=0.0625, channels=(64, 128))
    layers = unit_layers(cnn)
    assert [type(u.activation).__name__ for u in layers] == ["MaxPool2d", "MaxPool2d", "Elementwise"]
    assert [(u.num_units, u.spatial_size) for u in layers] == [(4, 1), (8, 4), (32, 1)]
    assert layers[-1].outgoing is cnn[-1]
    resnet = build("resnet", TINY_INPUT, TINY_CLASSES, width=0.0625)
    assert [t.name for t in cbp_targets(resnet)] == [f"{i}.conv1" for i in range(3, 11)]
    vit = build("vit", TINY_INPUT, TINY_CLASSES, width=0.0625, patch_size=4, depth=2)
    assert [t.name for t in cbp_targets(vit)] == ["blocks.0.mlp.0", "blocks.1.mlp.0"]
    assert all(t.norm is None for t in cbp_targets(vit))


def test_unsupported_model_and_init_are_named() -> None:
    with pytest.raises(TypeError, match="supported models.*MLP, CNN, ResNet, ViT"):
        cbp_targets(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="choices: default, kaiming"):
        cbp_targets(build("mlp", TINY_INPUT, TINY_CLASSES, width=0.0625), init="xavier")  # type: ignore[arg-type]


def test_kaiming_init_uses_the_activation_gain() -> None:
    mlp = build("mlp", TINY_INPUT, TINY_CLASSES, width=0.0625, activation="tanh")
    layer = unit_layers(mlp, init="kaiming")[0]
    assert layer.gain == pytest.approx(nn.init.calculate_gain("tanh"), rel=1e-15)
    # torch's default init: Kaiming-uniform with a = √5
    assert unit_layers(mlp)[0].gain == pytest.approx(
        nn.init.calculate_gain("leaky_relu", math.sqrt(5.0)), rel=1e-15
    )


def test_batchnorm_dead_unit_is_revived_only_with_the_norm_reset() -> None:
    """With BN, a unit killed by β ≪ 0 stays dead when only its incoming weights are redrawn."""
    x = torch.randn(64, *TINY_INPUT, generator=torch.Generator().manual_seed(0))
    outcomes = {}
    for cls in (ContinualBackprop, ModelContinualBackprop):
        torch.manual_seed(0)
        mlp = build(
            "mlp", TINY_INPUT, TINY_CLASSES, width=0.0625, depth=1, normalization="batch", dropout=0.0
        )
        with torch.no_grad():
            mlp[2].bias[0] = -10.0  # unit 0: BN output −10 + N(0,1) → ReLU is always 0
        rate = 1.0 / 8  # exactly one replacement (the lowest utility: the dead unit)
        cbp = (
            ModelContinualBackprop(mlp, replacement_rate=rate, maturity_threshold=0)
            if cls is ModelContinualBackprop
            else ContinualBackprop(unit_layers(mlp), replacement_rate=rate, maturity_threshold=0)
        )
        mlp(x)
        assert cbp.step()[0].tolist() == [0]
        hidden = x
        for module in list(mlp)[:4]:  # flatten → Linear → BN → activation
            hidden = module(hidden)
        outcomes[cls.__name__] = float((hidden[:, 0] > 0).double().mean())
    assert outcomes["ContinualBackprop"] == 0.0
    assert outcomes["ModelContinualBackprop"] > 0.25


def test_reset_norm_units_touches_only_the_given_units() -> None:
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
            t.copy_(torch.arange(2.0, 6.0))
    reset_norm_units_(bn, torch.tensor([1, 3]))
    assert bn.weight.tolist() == [2.0, 1.0, 4.0, 1.0] and bn.bias.tolist() == [2.0, 0.0, 4.0, 0.0]
    assert bn.running_mean.tolist() == [2.0, 0.0, 4.0, 0.0] and bn.running_var.tolist() == [
        2.0,
        1.0,
        4.0,
        1.0,
    ]
    with pytest.raises(ValueError, match="one unit axis"):
        reset_norm_units_(nn.LayerNorm((2, 3)), torch.tensor([0]))

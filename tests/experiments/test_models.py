"""experiments.models: the Appendix B.1.3 architectures and their option validation."""

from __future__ import annotations

import pytest
import torch
from exp_fixtures import ARCH_OPTIONS, TINY_INPUT
from torch import nn

from experiments.models import ARCHITECTURES, build
from experiments.models.layers import auto_group_count


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("normalization", ["none", "batch", "layer", "group"])
def test_every_arch_and_norm_maps_images_to_logits(arch, normalization):
    model = build(arch, TINY_INPUT, 7, width=0.0625, normalization=normalization, **ARCH_OPTIONS[arch])
    out = model(torch.randn(4, *TINY_INPUT))
    assert out.shape == (4, 7) and torch.isfinite(out).all()


def test_paper_defaults():
    mlp = build("mlp", (3, 32, 32), 10)
    assert [m.out_features for m in mlp if isinstance(m, nn.Linear)] == [128] * 5 + [10]
    assert mlp.spec.dropout == 0.2 and mlp.spec.normalization == "batch"
    cnn = build("cnn", (3, 32, 32), 10)
    assert [m.out_channels for m in cnn if isinstance(m, nn.Conv2d)] == [64, 128, 256]
    assert [m.out_features for m in cnn if isinstance(m, nn.Linear)] == [512, 10]
    resnet = build("resnet", (3, 32, 32), 10)
    # stem, 8 blocks × 2, 3 shortcuts
    assert sum(isinstance(m, nn.Conv2d) for m in resnet.modules()) == 1 + 16 + 3
    vit = build("vit", (3, 32, 32), 10)
    assert vit.patch_embed.proj.kernel_size == (8, 8) and vit.pos_embed.shape == (1, 17, 384)
    assert (
        len(vit.blocks) == 6 and vit.blocks[0].attn.heads == 6 and vit.blocks[0].mlp[0].out_features == 1536
    )
    assert vit.spec.activation == "gelu" and vit.spec.normalization == "layer"


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"arch": "transformer"}, "choices: mlp, cnn, resnet, vit"),
        ({"arch": "mlp", "kernel": 3}, "valid options:"),
        ({"arch": "mlp", "activation": "swishy"}, "valid choices"),
        ({"arch": "mlp", "normalization": "instance"}, "choices: none, batch, layer, group"),
        ({"arch": "mlp", "dropout": 1.0}, "dropout must be in [0, 1)"),
        ({"arch": "cnn", "normalization": "group", "groups": 3}, "valid group counts"),
        ({"arch": "vit", "patch_size": 3}, "must divide the image size"),
    ],
)
def test_bad_options_are_clear_errors(kwargs, needle):
    arch = kwargs.pop("arch")
    with pytest.raises((ValueError, TypeError)) as info:
        build(arch, TINY_INPUT, 5, **kwargs)
    assert needle in str(info.value)


def test_activation_comes_from_the_theory_registry():
    model = build("mlp", TINY_INPUT, 3, width=0.0625, activation="tanh", normalization="none")
    x = torch.randn(5, *TINY_INPUT)
    h = model[1](model[0](x))
    assert torch.allclose(model[3](h), torch.tanh(h))


def test_group_count_divides_every_width_and_keeps_groups_of_four():
    assert auto_group_count([64, 128, 256, 512]) == 8
    assert auto_group_count([8, 16]) == 2
    assert auto_group_count([6]) == 1
    model = build("cnn", TINY_INPUT, 5, width=0.0625, normalization="group")
    groups = {m.num_groups for m in model.modules() if isinstance(m, nn.GroupNorm)}
    assert groups == {model.spec.groups}

"""Function-preserving width expansion ("cloning", Section 2 and Remark A.4 / Appendix B.1.2).

``expand(model, factor)`` returns a model ``factor`` times wider (hidden units, channels, attention heads
and feed-forward width; inputs and class outputs unchanged) that computes exactly the same function, in
train and in eval mode, with the same running statistics. The construction is modular (Theorem A.2):
each module is cloned from its input profile and hands its output profile to the next one; profiles
match at every interface by construction. Per module (π = profile, m = multiplicity, see
:mod:`experiments.cloning.profile`):

* Linear / Conv2d: W'[o', i'(, a, b)] = W[π(o'), π(i')(, a, b)] / m_in, b'[o'] = b[π(o')]. Every block is
  constant (M_BC ⊂ RE ∩ CE), per kernel position for convolutions.
* BatchNorm: γ, β, running mean and variance duplicated; the batch statistics of a copy are the base's.
* LayerNorm over a cloned vector: the mean and variance over k copies of each unit equal the base's
  (the ε too), so duplicating γ, β is exact; requires a uniform multiplicity (checked).
* GroupNorm (and "layer" on feature maps = GroupNorm(1, C)): same G; clone group g holds k copies of
  base group g's channels (checked); γ, β duplicated.
* Attention: heads duplicated (clone head h' copies base head ⌊h'/k⌋); q, k, v, out are Linear maps with
  head-block profiles; d_head and the stored scale 1/sqrt(d_head) are kept (checked).
* Patch embedding (conv), class token and position embedding duplicated along the feature axis;
  residual additions see the same profile on both branches; flatten uses ``Profile.repeat_inner``.

Gradient relation (outputs un-cloned, Theorem A.1 part 2 with the corrected δ(v) = δ̃(ṽ)/|S_v|):
∂L/∂θ'[…u'_out…u'_in…] = ∂L/∂θ[…π(u'_out)…π(u'_in)…] / m_out; block sums of the clone gradient are
m_in · ∂L/∂θ (m_in = 1 for biases and per-unit parameters). An SGD step on the clone therefore equals the
expansion of a base step whose learning rate is scaled by m_in/m_out per tensor: the clone stays on the
cloning manifold (it remains the expansion of *some* base network,
:func:`experiments.cloning.verify.collapse`) but does not follow the base's own trajectory.

``perturb`` gives symmetry-breaking variants that still preserve the function at expansion time:
``equitable`` adds noise whose every block row sum and column sum is zero (stays in RE ∩ CE: the clone
lands on M_D(w) with w not block-constant and stays cloned under training); ``forward`` adds noise with
zero sums over the source units of each block only (CE but not RE: forward exact, backward not cloned,
training leaves the manifold); ``backward`` keeps the row sums only (RE but not CE: the forward pass is
no longer cloned — the counterexample to Lemma A.2's proof as printed).
:func:`experiments.cloning.certificate.certify` tells which one a model is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from experiments.cloning.groupnorm import group_cover
from experiments.cloning.profile import Profile, TensorMap
from experiments.models import ModelSpec, construct
from experiments.models.layers import Elementwise, Tokenwise
from experiments.models.resnet import BasicBlock
from experiments.models.vit import Attention, PatchEmbed, ViT

Perturbation = Literal["none", "equitable", "forward", "backward"]
PERTURBATIONS: tuple[str, ...] = ("none", "equitable", "forward", "backward")
_PASSTHROUGH = (Elementwise, nn.Dropout, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Identity, nn.Softmax)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)


@dataclass(frozen=True)
class Feature:
    """The profile of a module's output along one axis (negative axes count from the end)."""

    axis: int
    profile: Profile


@dataclass
class ClonePlan:
    """Everything needed to compare a clone with its base: tensor maps and per-module output profiles."""

    base_spec: ModelSpec
    factor: int
    params: dict[str, TensorMap] = field(default_factory=dict)
    buffers: dict[str, TensorMap] = field(default_factory=dict)
    outputs: dict[str, Feature] = field(default_factory=dict)

    def compose(self, outer: ClonePlan) -> ClonePlan:
        """The plan base → clone-of-clone from this (base → clone) and ``outer`` (clone → clone-of-clone)."""
        return ClonePlan(
            self.base_spec,
            self.factor * outer.factor,
            {n: m.compose(outer.params[n]) for n, m in self.params.items()},
            {n: m.compose(outer.buffers[n]) for n, m in self.buffers.items()},
            {
                n: Feature(f.axis, f.profile.compose(outer.outputs[n].profile))
                for n, f in self.outputs.items()
            },
        )


def expand(
    model: nn.Module, factor: int, perturb: Perturbation = "none", perturb_scale: float = 0.1, seed: int = 0
) -> nn.Module:
    """A ``factor``-times wider model computing the same function (see the module docstring)."""
    return expand_with_plan(model, factor, perturb, perturb_scale, seed)[0]


def expand_with_plan(
    model: nn.Module, factor: int, perturb: Perturbation = "none", perturb_scale: float = 0.1, seed: int = 0
) -> tuple[nn.Module, ClonePlan]:
    """:func:`expand` and the :class:`ClonePlan` relating the clone to ``model``."""
    spec = getattr(model, "spec", None)
    if not isinstance(spec, ModelSpec):
        raise TypeError("expand needs a model built by experiments.models.build (it carries a ModelSpec)")
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
        raise ValueError(f"factor must be an integer ≥ 2, got {factor!r}")
    if perturb not in PERTURBATIONS:
        raise ValueError(f"unknown perturb {perturb!r}; choices: {', '.join(PERTURBATIONS)}")
    ref = next(iter(model.parameters()))
    clone = construct(spec.scaled(factor)).to(dtype=ref.dtype, device=ref.device)
    clone.train(model.training)
    for m_clone, m_base in zip(clone.modules(), model.modules()):
        m_clone.training = m_base.training
    plan = ClonePlan(spec, factor)
    _Cloner(model, clone, plan).run()
    if perturb != "none":
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, param in clone.named_parameters():
                tmap = plan.params[name]
                if tmap.in_axis is not None and tmap.out_axis is not None:
                    param.add_(symmetry_breaking_noise(param, tmap, perturb, perturb_scale, generator))
    return clone, plan


def symmetry_breaking_noise(
    weight: torch.Tensor, tmap: TensorMap, kind: Perturbation, scale: float, generator: torch.Generator
) -> torch.Tensor:
    """Gaussian noise (std ``scale``·RMS(weight)) projected so the clone's function is unchanged.

    ``equitable``: P − P̄_in − P̄_out + P̄_in,out (block means over source / target units): every block row
    and column sum vanishes, so RE ∩ CE are kept. ``forward``: P − P̄_in: sums over the source units of
    each block vanish (CE kept, so the forward pass is unchanged), row sums do not (RE broken).
    ``backward``: P − P̄_out: sums over the target units vanish (RE kept, CE broken: forward changes).
    """
    noise = torch.randn(weight.shape, generator=generator, dtype=torch.float64).to(weight)
    noise = noise * scale * weight.detach().pow(2).mean().sqrt()
    if tmap.in_axis is None or tmap.out_axis is None:
        raise ValueError("symmetry-breaking noise needs a tensor with both a source and a target unit axis")
    in_axis, out_axis = tmap.in_axis, tmap.out_axis
    p_in, p_out = tmap.axes[in_axis], tmap.axes[out_axis]

    def mean_in(t: torch.Tensor) -> torch.Tensor:
        return p_in.gather(p_in.block_mean(t, in_axis), in_axis)

    def mean_out(t: torch.Tensor) -> torch.Tensor:
        return p_out.gather(p_out.block_mean(t, out_axis), out_axis)

    if kind == "forward":
        return noise - mean_in(noise)
    if kind == "backward":
        return noise - mean_out(noise)
    return noise - mean_in(noise) - mean_out(noise) + mean_out(mean_in(noise))


class _Cloner:
    """Walks base and clone in parallel, threading the output profile of each module into the next."""

    def __init__(self, base: nn.Module, clone: nn.Module, plan: ClonePlan) -> None:
        self.base, self.clone, self.plan = base, clone, plan
        self.base_modules = dict(base.named_modules())
        self.clone_modules = dict(clone.named_modules())
        self.base_params = dict(base.named_parameters())
        self.clone_params = dict(clone.named_parameters())
        self.base_buffers = dict(base.named_buffers())
        self.clone_buffers = dict(clone.named_buffers())
        self.input_shapes = _probe_input_shapes(base)

    def run(self) -> None:
        start = Feature(1, Profile.identity(self.plan.base_spec.input_shape[0]))
        out = self.module("", start)
        if not out.profile.is_identity:
            raise AssertionError("the model output must not be cloned")
        missing = set(self.clone_params) - set(self.plan.params)
        if missing:
            raise AssertionError(f"parameters left uncloned: {sorted(missing)}")

    # --- bookkeeping -------------------------------------------------------------------------------
    def _copy(self, name: str, tmap: TensorMap, buffer: bool = False) -> None:
        src = (self.base_buffers if buffer else self.base_params)[name]
        dst = (self.clone_buffers if buffer else self.clone_params)[name]
        value = tmap.apply(src.detach()) if src.is_floating_point() else src.detach().clone()
        if value.shape != dst.shape:
            raise AssertionError(
                f"{name}: cloned shape {tuple(value.shape)} ≠ clone shape {tuple(dst.shape)}"
            )
        with torch.no_grad():
            dst.copy_(value)
        (self.plan.buffers if buffer else self.plan.params)[name] = tmap

    def _record(self, name: str, feature: Feature) -> Feature:
        self.plan.outputs[name] = feature
        return feature

    @staticmethod
    def _join(prefix: str, name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    # --- dispatch ------------------------------------------------------------------------------------
    def module(self, name: str, inp: Feature) -> Feature:
        base, clone = self.base_modules[name], self.clone_modules[name]
        if isinstance(base, ViT):
            return self.vit(name, inp)
        if isinstance(base, BasicBlock):
            return self.basic_block(name, inp)
        if isinstance(base, Attention):
            return self.attention(name, inp)
        if isinstance(base, PatchEmbed):
            out = self.module(self._join(name, "proj"), inp)
            return self._record(name, Feature(-1, out.profile))
        if isinstance(base, nn.Sequential):
            feature = inp
            for child, _ in base.named_children():
                feature = self.module(self._join(name, child), feature)
            return self._record(name, feature)
        if isinstance(base, nn.Linear):
            return self.linear(name, base, clone, inp)
        if isinstance(base, nn.Conv2d):
            return self.conv(name, base, clone, inp)
        if isinstance(base, Tokenwise):
            self.norm(self._join(name, "norm"), base.norm, inp.profile)
            self._record(self._join(name, "norm"), Feature(-1, inp.profile))
            return self._record(name, inp)
        if isinstance(base, _NORMS):
            self.norm(name, base, inp.profile)
            return self._record(name, inp)
        if isinstance(base, nn.Flatten):
            if base.start_dim != 1 or base.end_dim != -1:
                raise NotImplementedError("only Flatten(start_dim=1) is clone-aware")
            inner = 1
            for s in self.input_shapes[name][0][2:]:
                inner *= s
            return self._record(name, Feature(1, inp.profile.repeat_inner(inner)))
        if isinstance(base, _PASSTHROUGH):
            return self._record(name, inp)
        raise NotImplementedError(f"no cloning rule for module {name!r} of type {type(base).__name__}")

    # --- leaves --------------------------------------------------------------------------------------
    def linear(self, name: str, base: nn.Linear, clone: nn.Linear, inp: Feature, inner: int = 1) -> Feature:
        if inp.profile.n_base != base.in_features or inp.profile.n_clone != clone.in_features:
            raise AssertionError(f"{name}: input profile does not match in_features")
        out = Profile.between(base.out_features, clone.out_features, inner)
        self._copy(self._join(name, "weight"), TensorMap({0: out, 1: inp.profile}, in_axis=1, out_axis=0))
        if base.bias is not None:
            self._copy(self._join(name, "bias"), TensorMap({0: out}, out_axis=0))
        return self._record(name, Feature(-1, out))

    def conv(self, name: str, base: nn.Conv2d, clone: nn.Conv2d, inp: Feature) -> Feature:
        if base.groups != 1:
            raise NotImplementedError(f"{name}: grouped convolutions are not clonable here")
        out = Profile.between(base.out_channels, clone.out_channels)
        self._copy(self._join(name, "weight"), TensorMap({0: out, 1: inp.profile}, in_axis=1, out_axis=0))
        if base.bias is not None:
            self._copy(self._join(name, "bias"), TensorMap({0: out}, out_axis=0))
        return self._record(name, Feature(1, out))

    def norm(self, name: str, base: nn.Module, profile: Profile) -> None:
        if isinstance(base, nn.LayerNorm):
            if len(base.normalized_shape) != 1:
                raise NotImplementedError(f"{name}: LayerNorm over more than the feature axis")
            if profile.uniform_multiplicity() is None:
                raise ValueError(
                    f"{name}: LayerNorm is exact only when every unit has the same number of clones"
                )
        if isinstance(base, nn.GroupNorm):
            _check_groups(name, base.num_groups, profile)
        vector = TensorMap({0: profile}, out_axis=0)
        for pname, _ in base.named_parameters(recurse=False):
            self._copy(self._join(name, pname), vector)
        for bname, buf in base.named_buffers(recurse=False):
            self._copy(self._join(name, bname), vector if buf.dim() == 1 else TensorMap(), buffer=True)

    # --- composite modules ---------------------------------------------------------------------------
    def basic_block(self, name: str, inp: Feature) -> Feature:
        x = inp
        for child in ("conv1", "norm1", "act1", "drop", "conv2", "norm2"):
            x = self.module(self._join(name, child), x)
        short = self.module(self._join(name, "shortcut"), inp)
        if not torch.equal(short.profile.index, x.profile.index):
            raise AssertionError(f"{name}: residual branches carry different profiles")
        x = self.module(self._join(name, "act2"), x)
        return self._record(name, x)

    def attention(self, name: str, inp: Feature) -> Feature:
        base, clone = self.base_modules[name], self.clone_modules[name]
        assert isinstance(base, Attention) and isinstance(clone, Attention)
        if clone.head_dim != base.head_dim:
            raise AssertionError(f"{name}: cloning must duplicate heads, not widen them")
        clone.scale = base.scale  # 1/sqrt(d_head) of the base, kept exactly
        heads = Feature(
            -1, Profile.between(base.heads * base.head_dim, clone.heads * clone.head_dim, base.head_dim)
        )
        for proj in ("q", "k", "v"):
            pname = self._join(name, proj)
            self.linear(pname, self.base_modules[pname], self.clone_modules[pname], inp, inner=base.head_dim)  # type: ignore[arg-type]
        per_head = Feature(1, Profile.between(base.heads, clone.heads))
        self._record(self._join(name, "softmax"), per_head)
        self._record(self._join(name, "attn_drop"), per_head)
        out_name = self._join(name, "out")
        out = self.linear(out_name, self.base_modules[out_name], self.clone_modules[out_name], heads)  # type: ignore[arg-type]
        self._record(self._join(name, "out_drop"), out)
        return self._record(name, out)

    def vit(self, name: str, inp: Feature) -> Feature:
        tokens = self.module(self._join(name, "patch_embed"), inp)
        embed = TensorMap({2: tokens.profile}, out_axis=2)
        self._copy(self._join(name, "cls_token"), embed)
        self._copy(self._join(name, "pos_embed"), embed)
        x = self.module(self._join(name, "embed_drop"), tokens)
        for i in range(len(self.base_modules[self._join(name, "blocks")])):  # type: ignore[arg-type]
            block = self._join(name, f"blocks.{i}")
            h = self.module(self._join(block, "attn"), self.module(self._join(block, "norm1"), x))
            _same(block, h, x)
            h = self.module(self._join(block, "mlp"), self.module(self._join(block, "norm2"), x))
            _same(block, h, x)
            self._record(block, x)
        self._record(self._join(name, "blocks"), x)
        x = self.module(self._join(name, "norm"), x)
        return self.module(self._join(name, "head"), x)


def _same(name: str, a: Feature, b: Feature) -> None:
    if not torch.equal(a.profile.index, b.profile.index):
        raise AssertionError(f"{name}: residual branches carry different profiles")


def _check_groups(name: str, groups: int, profile: Profile) -> None:
    """The clone GroupNorm keeps the base's G: it is exact iff every clone group covers one base group
    uniformly (:mod:`experiments.cloning.groupnorm`, where the condition is proved)."""
    if profile.n_clone % groups or profile.n_base % groups:
        raise ValueError(
            f"{name}: {groups} groups must divide base ({profile.n_base}) "
            f"and clone ({profile.n_clone}) widths"
        )
    cover = group_cover(profile, groups, groups)
    if not cover.exact:
        raise ValueError(f"{name}: GroupNorm would not be exact: {cover.why_not()}")


def _probe_input_shapes(model: nn.Module) -> dict[str, list[tuple[int, ...]]]:
    """Input shape of every module on a 2-sample dummy input (eval mode, no state changed)."""
    shapes: dict[str, list[tuple[int, ...]]] = {}
    hooks = [
        m.register_forward_hook(lambda _m, inp, _o, n=n: shapes.setdefault(n, []).append(tuple(inp[0].shape)))
        for n, m in model.named_modules()
    ]
    spec = getattr(model, "spec", None)
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"{type(model).__name__} has no ModelSpec: build it with experiments.models.build")
    was_training = [m.training for m in model.modules()]
    ref = next(iter(model.parameters()))
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((2, *spec.input_shape), dtype=ref.dtype, device=ref.device))
    finally:
        for h in hooks:
            h.remove()
        for m, t in zip(model.modules(), was_training):
            m.training = t
    return shapes

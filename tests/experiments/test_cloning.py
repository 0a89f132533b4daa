"""Function-preserving expansion verified against the *base* model (Theorem A.2, Remark A.4)."""

from __future__ import annotations

import pytest
import torch
from exp_fixtures import TINY_INPUT, batch, moved_model
from hypothesis import given
from hypothesis import strategies as st

from experiments.cloning import (
    FLOAT32_RTOL,
    FLOAT64_RTOL,
    Profile,
    TensorMap,
    collapse,
    compare_with_base,
    expand,
    expand_with_plan,
    manifold_residual,
)
from experiments.cloning.certificate import certify
from experiments.models import ARCHITECTURES, build

NORMS = ["none", "batch", "layer", "group"]
SGD_STEPS = 3
SGD_LR = 0.05


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("normalization", NORMS)
def test_float64_clone_of_clone_matches_base_everywhere(arch, normalization):
    base = moved_model(arch, normalization, torch.float64)
    factors = (2, 3) if normalization != "group" else (3, 2)
    c1, p1 = expand_with_plan(base, factors[0])
    c2, p2 = expand_with_plan(c1, factors[1])
    plan = p1.compose(p2)
    x, y = batch(torch.float64)
    for train in (False, True):
        report = compare_with_base(base, c2, plan, x, y, train=train)
        assert report.max_deviation() <= FLOAT64_RTOL, report.worst()
        assert len(report.activations) >= 5 and report.gradients and report.gradient_block_sums
        if normalization == "batch":
            assert report.buffers and max(report.buffers.values()) <= FLOAT64_RTOL


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("normalization", NORMS)
def test_float32_clone_matches_base(arch, normalization):
    base = moved_model(arch, normalization, torch.float32)
    clone, plan = expand_with_plan(base, 3)
    x, y = batch(torch.float32)
    for train in (False, True):
        report = compare_with_base(base, clone, plan, x, y, train=train, gradient_reference="model")
        assert report.max_deviation() <= FLOAT32_RTOL, report.worst()


def test_eval_mode_with_dropout_is_exact_and_train_mode_dropout_is_not():
    base = moved_model("mlp", "batch", torch.float64, dropout=0.3)
    clone, plan = expand_with_plan(base, 2)
    x, y = batch(torch.float64)
    assert compare_with_base(base, clone, plan, x, y, train=False).max_deviation() <= FLOAT64_RTOL
    torch.manual_seed(0)
    assert compare_with_base(base, clone, plan, x, y, train=True).output > 1e-3  # independent masks


def test_attention_keeps_base_scale_and_duplicates_heads():
    base = moved_model("vit", "layer", torch.float64)
    clone = expand(base, 3)
    for b, c in zip(base.blocks, clone.blocks):
        assert c.attn.heads == 3 * b.attn.heads and c.attn.head_dim == b.attn.head_dim
        assert c.attn.scale == b.attn.scale == b.attn.head_dim**-0.5


def test_gradient_relation_on_a_hand_sized_mlp():
    """W' = W[π_out, π_in]/m_in; ∂L/∂W' = ∂L/∂W[π_out, π_in]/m_out, checked by hand for a 2-layer net."""
    torch.manual_seed(0)
    base = build("mlp", (1, 1, 2), 2, depth=1, hidden=2, normalization="none", dropout=0.0).double()
    clone, _ = expand_with_plan(base, 2)
    w1, w2 = base[1].weight, base[5].weight
    assert torch.equal(clone[1].weight, w1[[0, 0, 1, 1]])
    assert torch.allclose(clone[5].weight, w2[:, [0, 0, 1, 1]] / 2)
    x = torch.randn(3, 1, 1, 2, dtype=torch.float64)
    y = torch.tensor([0, 1, 1])
    for m in (base, clone):
        torch.nn.functional.cross_entropy(m(x), y).backward()
    assert torch.allclose(clone[1].weight.grad, w1.grad[[0, 0, 1, 1]] / 2, rtol=0, atol=1e-14)
    assert torch.allclose(clone[5].weight.grad, w2.grad[:, [0, 0, 1, 1]], rtol=0, atol=1e-14)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_persistence_sgd_stays_on_manifold_and_follows_rescaled_base(arch):
    """Theorem A.2 item 3: SGD keeps the clone block-constant; its quotient follows base SGD with
    per-tensor learning rate lr · m_in / m_out (see experiments.cloning.expand)."""
    base = moved_model(arch, "batch", torch.float64)
    clone, plan = expand_with_plan(base, 2)
    opt_c = torch.optim.SGD(clone.parameters(), lr=SGD_LR)
    groups = []
    for name, p in base.named_parameters():
        tmap = plan.params[name]
        m_in = tmap.axes[tmap.in_axis].multiplicity()[0] if tmap.in_axis is not None else 1
        m_out = tmap.axes[tmap.out_axis].multiplicity()[0] if tmap.out_axis is not None else 1
        groups.append({"params": [p], "lr": SGD_LR * float(m_in) / float(m_out)})
    opt_b = torch.optim.SGD(groups, lr=SGD_LR)
    for step in range(SGD_STEPS):
        x, y = batch(torch.float64, seed=10 + step)
        for model, opt in ((base, opt_b), (clone, opt_c)):
            model.train()
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    assert manifold_residual(clone, plan) <= FLOAT64_RTOL
    x, y = batch(torch.float64, seed=99)
    assert compare_with_base(base, clone, plan, x, y).max_deviation() <= 1e-10
    quotient = collapse(clone, plan)
    quotient.eval(), clone.eval()
    assert torch.allclose(quotient(x), clone(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_certificates_and_symmetry_breaking_variants(arch):
    base = moved_model(arch, "batch", torch.float64)
    x, y = batch(torch.float64)
    plain, plan = expand_with_plan(base, 2)
    assert certify(plain, plan).manifold().startswith("M_BC")
    equitable, plan_e = expand_with_plan(base, 2, perturb="equitable", perturb_scale=0.2)
    cert_e = certify(equitable, plan_e)
    assert cert_e.certified and cert_e.manifold().startswith("M_D(w)")
    report_e = compare_with_base(base, equitable, plan_e, x, y)
    assert report_e.output <= FLOAT64_RTOL and max(report_e.activations.values()) <= FLOAT64_RTOL
    assert manifold_residual(equitable, plan_e) > 1e-3  # not block-constant
    forward, plan_f = expand_with_plan(base, 2, perturb="forward", perturb_scale=0.2)
    cert_f = certify(forward, plan_f)
    assert not cert_f.certified and {c for _, c in cert_f.failing()} == {"MC2", "MC3"}
    report_f = compare_with_base(base, forward, plan_f, x, y)
    assert report_f.output <= FLOAT64_RTOL  # the function is still the base's
    assert max(report_f.gradients.values()) > 1e-3  # but the backward pass is no longer cloned


def test_equitable_clone_stays_on_its_affine_manifold_under_sgd():
    base = moved_model("mlp", "none", torch.float64)
    clone, plan = expand_with_plan(base, 2, perturb="equitable", perturb_scale=0.3)
    start = expand(base, 2, perturb="equitable", perturb_scale=0.3)
    opt = torch.optim.SGD(clone.parameters(), lr=SGD_LR)
    for step in range(SGD_STEPS):
        x, y = batch(torch.float64, seed=step)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(clone(x), y).backward()
        opt.step()
    assert manifold_residual(clone, plan, reference=start) <= 1e-12


def test_profiles_compose_and_flatten():
    p = Profile.interleaved(3, 2)
    assert p.index.tolist() == [0, 0, 1, 1, 2, 2]
    assert p.compose(Profile.interleaved(6, 3)).index.tolist() == Profile.interleaved(3, 6).index.tolist()
    assert p.repeat_inner(2).index.tolist() == [0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5]
    assert Profile.interleaved(4, 2, inner=2).index.tolist() == [0, 1, 0, 1, 2, 3, 2, 3]
    assert p.blocks() == [[0, 1], [2, 3], [4, 5]]


@pytest.mark.parametrize("bad", [1, 0, 2.0, True])
def test_bad_factor(bad):
    with pytest.raises(ValueError, match="integer ≥ 2"):
        expand(build("mlp", TINY_INPUT, 2, width=0.0625), bad)


def test_expand_needs_a_built_model():
    with pytest.raises(TypeError, match="experiments.models.build"):
        expand(torch.nn.Linear(2, 2), 2)


@given(
    n=st.integers(1, 6),
    k1=st.integers(1, 4),
    k2=st.integers(1, 4),
    inner=st.integers(1, 3),
    seed=st.integers(0, 99),
)
def test_profile_and_tensor_map_properties(n, k1, k2, inner, seed):
    p1 = Profile.interleaved(n * inner, k1, inner)
    p2 = Profile.interleaved(n * inner * k1, k2, inner)
    assert torch.equal(p1.compose(p2).index, Profile.interleaved(n * inner, k1 * k2, inner).index)
    out, inp = Profile.interleaved(n, k1), Profile.interleaved(n * inner, k2)
    tmap = TensorMap({0: out, 1: inp}, in_axis=1, out_axis=0)
    w = torch.randn(n, n * inner, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    wide = tmap.apply(w)
    assert torch.allclose(tmap.collapse(wide), w, rtol=0, atol=1e-14)  # quotient of an expansion is the base
    # column sums = base weight, per row
    assert torch.allclose(tmap.block_sums(wide), k1 * w, rtol=0, atol=1e-13)

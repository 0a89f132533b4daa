"""The fast DagNet engine (dag_nets/propagation.py) against the autograd-traced reference engine.

Every case of the zoo (tests/dag_nets/engine_cases.py) × every block mode, float64, relative 1e-12:
outputs and node values, gradients (incl. w.r.t. inputs, noise and mask), double-backward and
forward-over-reverse Hessian-vector products, dense Hessians, vmap over inputs and over parameters,
per-sample gradients; torch's own gradcheck/gradgradcheck (with forward AD and batched gradients) on
every primitive; the adjoint sweep against the paper's δ recursion; hypothesis-generated DAGs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given

from dag_nets import propagation
from dag_nets.backprop import explicit_backprop, mse_output_adjoint
from dag_nets.builders import mlp, random_dag
from dag_nets.graph import ENGINES, DagNet, get_loss, loss_of_theta
from dag_nets.propagation import DENSE_MIN_EDGES, propagate, sddmm, solve, spmm
from tests.dag_nets.engine_cases import CASES, FAST_ENGINES
from tests.dag_nets.strategies import ClonedCase, cloned_dags

REL64 = 1e-12
"""Relative agreement (to the largest reference entry) required between engines in float64."""
REL32 = 1e-5
"""The same for float32 (sums of ≤ a few hundred O(1) products)."""
BATCH = 5


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = float(b.abs().max()) if b.numel() else 0.0
    return float((a - b).abs().max()) / max(scale, 1e-300) if a.numel() else 0.0


def _data(net: DagNet, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, len(net.inputs), generator=gen, dtype=torch.float64)
    y = torch.randn(BATCH, len(net.outputs), generator=gen, dtype=torch.float64)
    theta = net.flat_parameters() + 0.05 * torch.randn(net.num_parameters, generator=gen, dtype=torch.float64)
    v = torch.randn(net.num_parameters, generator=gen, dtype=torch.float64)
    noise = 0.2 * torch.randn(BATCH, net.num_nodes, generator=gen, dtype=torch.float64)
    mask = (torch.rand(BATCH, net.num_nodes, generator=gen) > 0.3).to(torch.float64) / 0.7
    return x, y, theta, v, noise, mask


def _quantities(net: DagNet, engine: str, data) -> dict[str, torch.Tensor]:
    """Every derived quantity the engines must agree on."""
    net.engine = engine
    x, y, theta, v, noise, mask = data
    f = loss_of_theta(net, x, y)
    out: dict[str, torch.Tensor] = {"output": net.functional(theta, x)}
    H, Z = net.node_values(theta, x, unit_mask=mask, unit_noise=noise)
    out["H"], out["Z"] = H, Z
    leaf = theta.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(leaf), leaf, create_graph=True)
    out["grad"] = g.detach()
    out["hvp_double_backward"] = torch.autograd.grad(g, leaf, v)[0]
    out["hvp_jvp_of_grad"] = torch.func.jvp(torch.func.grad(f), (theta,), (v,))[1]
    out["hessian"] = (
        torch.func.jacfwd(torch.func.grad(f))(theta) if net.num_parameters <= 200 else torch.zeros(1)
    )
    leaves = [t.clone().requires_grad_(True) for t in (theta, x, noise, mask)]
    Hs, Zs = net.node_values(leaves[0], leaves[1], unit_mask=leaves[3], unit_noise=leaves[2])
    probe = Hs.square().sum() + (Zs * Hs).sum() + Zs.sin().sum()
    for name, grad in zip(("d_theta", "d_x", "d_noise", "d_mask"), torch.autograd.grad(probe, leaves)):
        out[name] = grad
    tangents = torch.func.jvp(
        lambda t, a, n, m: net.node_values(t, a, unit_mask=m, unit_noise=n),
        (theta, x, noise, mask),
        (v, x.flip(0), noise.flip(1), mask.flip(0)),
    )[1]
    out["jvp_H"], out["jvp_Z"] = tangents
    per_sample = torch.func.vmap(
        torch.func.grad(lambda t, xi, yi: get_loss("mse")(net.functional(t, xi[None]), yi[None])),
        in_dims=(None, 0, 0),
    )
    out["per_sample_grad"] = per_sample(theta, x, y)
    out["vmap_x"] = torch.func.vmap(lambda xx: net.functional(theta, xx))(torch.stack([x, 2 * x, -x]))
    out["jacrev"] = torch.func.jacrev(net.functional)(theta, x)
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_engines_match_reference(case: str) -> None:
    net = CASES[case]()
    data = _data(net)
    with warnings.catch_warnings():
        # the reference's index_copy_ under vmap
        warnings.filterwarnings("ignore", message=".*batching rule.*")
        ref = _quantities(net, "reference", data)
    for engine in FAST_ENGINES:
        got = _quantities(net, engine, data)
        errs = {k: _rel(got[k], ref[k]) for k in ref}
        worst = max(errs, key=errs.__getitem__)
        assert errs[worst] < REL64, f"{case}/{engine}: {worst} differs by {errs[worst]:.1e} (all: {errs})"


@pytest.mark.parametrize("engine", FAST_ENGINES)
def test_vmap_over_parameters_matches_a_loop(engine: str) -> None:
    net = CASES["mlp_skip"]()
    net.engine = engine
    x, y, theta, v, _, _ = _data(net)
    thetas = torch.stack([theta, theta + v, 0.5 * theta])
    looped = torch.stack([net.functional(t, x) for t in thetas])
    assert _rel(torch.func.vmap(net.functional, in_dims=(0, None))(thetas, x), looped) < REL64
    grads = torch.func.vmap(torch.func.grad(loss_of_theta(net, x, y)))(thetas)
    assert _rel(grads, torch.stack([torch.func.grad(loss_of_theta(net, x, y))(t) for t in thetas])) < REL64


@pytest.mark.parametrize("case", ["mixed_generation", "mlp_wide", "random_dag"])
def test_transforms_raise_no_batching_fallback_warning(case: str) -> None:
    net = CASES[case]()
    x, y, theta, v, _, _ = _data(net)
    f = loss_of_theta(net, x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.func.vmap(lambda t: torch.func.jvp(torch.func.grad(f), (theta,), (t,))[1])(
            torch.stack([v, 2 * v])
        )
        torch.func.vmap(net.functional, in_dims=(0, None))(torch.stack([theta, v]), x)
        if net.num_parameters < 300:
            torch.func.jacfwd(torch.func.grad(f))(theta)
            torch.func.hessian(f)(theta)


@pytest.mark.parametrize("case", ["skip_graph", "mlp_skip", "random_dag"])
def test_float32_fast_matches_reference(case: str) -> None:
    net64 = CASES[case]()
    net = net64.copy_with()
    net = DagNet(
        net.nodes,
        net.inputs,
        net.outputs,
        net.edges,
        net.edge_weight.tolist(),
        net.node_biases(),
        net.node_activation,
        dtype=torch.float32,
    )
    x, y, theta, v, _, _ = _data(net64)
    th32 = theta.float()
    outs = {}
    for engine in ("reference", "auto"):
        net.engine = engine
        f = loss_of_theta(net, x.float(), y.float())
        leaf = th32.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(leaf), leaf, create_graph=True)
        outs[engine] = (
            net.functional(th32, x.float()),
            g.detach(),
            torch.autograd.grad(g, leaf, v.float())[0],
        )
        assert all(t.dtype == torch.float32 for t in outs[engine])
    for a, b in zip(outs["auto"], outs["reference"]):
        assert _rel(a, b) < REL32
    assert _rel(outs["auto"][0].double(), net64.functional(theta, x)) < REL32


def test_adjoint_sweep_is_the_papers_delta_recursion() -> None:
    """solve(…, transpose=True) with g = ∂L/∂h on the outputs returns δ = ∂L/∂h of Appendix A.3."""
    net = CASES["mixed_generation"]()
    x, y, *_ = _data(net)
    ref = explicit_backprop(net, x.numpy(), y.numpy())
    plan = net.propagation_plan()
    w, _ = net.split(net.flat_parameters())
    H, Z = propagate(plan, w, net.bias.detach(), x.T.contiguous())
    out = H[net.output_positions].T
    g = torch.zeros_like(H)
    g[net.output_positions] = torch.from_numpy(mse_output_adjoint(out.numpy(), y.numpy())).T
    delta = solve(plan, w, plan.node_map(Z, derivative=True), g, transpose=True)
    for v in net.nodes:
        assert (
            np.max(np.abs(delta[net.index[v]].numpy() - ref.delta[v]))
            < REL64 * np.abs(ref.delta[v]).max() + 1e-15
        )
    gs = delta * plan.node_map(Z, derivative=True)
    assert (
        np.max(np.abs(sddmm(plan, gs, H).numpy() - ref.grad_weights)) < REL64 * np.abs(ref.grad_weights).max()
    )


GRADCHECK_CASES = {
    "skip_graph/sparse": (lambda: CASES["skip_graph"](), "sparse"),  # CSR rows only
    "skip_graph/dense": (lambda: CASES["skip_graph"](), "dense"),  # zero-padded and gathered blocks
    "mlp/dense": (lambda: mlp(2, [3, 3], 1, seed=0), "dense"),  # complete blocks as views of θ
}


@pytest.mark.parametrize("case", sorted(GRADCHECK_CASES))
def test_primitives_pass_gradcheck(case: str) -> None:
    """torch's finite-difference checks of first and second derivatives (reverse and forward mode)."""
    build, mode = GRADCHECK_CASES[case]
    net = build()
    plan = net.propagation_plan(mode=mode)
    gen = torch.Generator().manual_seed(0)
    V, B, E = net.num_nodes, 2, net.num_edges

    def rnd(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)

    w, X, Y = rnd(E), rnd(V, B), rnd(V, B)
    d = (0.5 * torch.rand(V, B, generator=gen, dtype=torch.float64)).requires_grad_(True)
    b, x = rnd(net.num_biases), rnd(len(net.inputs), B)
    noise, mask = rnd(V, B), rnd(V, B)
    checks = [
        (lambda w_, X_: spmm(plan, w_, X_), (w, X)),
        (lambda w_, X_: spmm(plan, w_, X_, True), (w, X)),
        (lambda Y_, X_: sddmm(plan, Y_, X_), (Y, X)),
        (lambda w_, d_, r_: solve(plan, w_, d_, r_), (w, d, Y)),
        (lambda w_, d_, r_: solve(plan, w_, d_, r_, True), (w, d, Y)),
        (lambda w_, b_, x_, n_, m_: propagate(plan, w_, b_, x_, n_, m_), (w, b, x, noise, mask)),
    ]
    for fn, args in checks:
        # Batched checks stay off: gradcheck batches with torch's legacy vmap, which the engine refuses
        # (test_legacy_vmap_gets_a_clear_error); torch.func's vmap over vjp and jvp is checked against the
        # reference in test_fast_engines_match_reference (jacrev, jacfwd, per-sample gradients).
        assert torch.autograd.gradcheck(fn, args, check_forward_ad=True, fast_mode=True)
        assert torch.autograd.gradgradcheck(fn, args, check_fwd_over_rev=True, fast_mode=True)


@given(cloned_dags())
def test_random_dags_match_reference(case: ClonedCase) -> None:
    net = case.net
    theta = net.flat_parameters()
    v = torch.linspace(-1, 1, net.num_parameters, dtype=torch.float64)
    res = {}
    for engine in ("reference", "auto", "dense"):
        net.engine = engine
        f = loss_of_theta(net, case.x, case.y)
        leaf = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(leaf), leaf, create_graph=True)
        res[engine] = (
            net.functional(theta, case.x),
            g.detach(),
            torch.autograd.grad(g, leaf, v)[0],
            torch.func.jvp(torch.func.grad(f), (theta,), (v,))[1],
        )
    for engine in ("auto", "dense"):
        for a, b in zip(res[engine], res["reference"]):
            assert _rel(a, b) < REL64


def test_plan_blocks_follow_the_graph_structure() -> None:
    layered = mlp(3, [24, 24], 2, seed=0).propagation_plan().summary()
    # only the 24×24 block is big enough
    assert layered["dense_blocks"] == 1 and layered["dense_view_blocks"] == 1
    assert layered["dense_edges"] == 24 * 24 and layered["sparse_edges"] == 3 * 24 + 24 * 2
    skip = mlp(4, [20, 17], 3, skip=True, seed=1).propagation_plan().summary()
    # 20×17 interleaves with the skip edges
    assert skip["dense_blocks"] == 1 and skip["dense_view_blocks"] == 0
    sparse = random_dag(60, 500, n_in=4, n_out=3, seed=4)
    assert sparse.propagation_plan().summary()["dense_blocks"] == 0
    padded = sparse.propagation_plan(mode="dense").summary()
    assert padded["sparse_edges"] == 0 and padded["padded_blocks"] > 0
    assert padded["dense_edges"] == sparse.num_edges
    assert mlp(3, [8, 8], 2).propagation_plan(mode="sparse").summary()["dense_blocks"] == 0
    assert 24 * 24 >= DENSE_MIN_EDGES > 20 * 2


def test_engine_choice_is_validated_and_kept() -> None:
    net = CASES["skip_graph"]()
    assert net.engine == "auto" and set(ENGINES) == {"auto", "dense", "sparse", "reference"}
    with pytest.raises(ValueError, match="engine must be one of"):
        net.engine = "fast"
    with pytest.raises(ValueError, match="engine must be one of"):
        DagNet.from_networkx(net.to_networkx(), inputs=net.inputs, outputs=net.outputs, engine="gpu")
    net.engine = "sparse"
    assert net.copy_with().engine == "sparse"
    assert (
        DagNet.from_networkx(net.to_networkx(), net.inputs, net.outputs, engine="reference").engine
        == "reference"
    )


def test_plan_moves_between_devices_unchanged() -> None:
    """The device path (what CUDA runs) on CPU: a plan rebuilt through ``to(device)`` gives the same
    values."""
    net = CASES["mlp_skip"]()
    x, *_ = _data(net)
    plan = net.propagation_plan("cpu").to(torch.device("cpu"))
    w, b = net.split(net.flat_parameters())
    H, _ = propagate(plan, w, b, x.T.contiguous())
    assert torch.equal(H[net.output_positions].T, net(x).detach())


def test_bug_breaker_and_theta_shapes_unchecked() -> None:
    """A wrong-shaped θ, unit_mask or unit_noise used to surface as a raw torch indexing error."""
    net = CASES["skip_graph"]()
    x, *_ = _data(net)
    theta = net.flat_parameters()
    for engine in ("auto", "reference"):
        net.engine = engine
        with pytest.raises(ValueError, match="θ must be a tensor of shape"):
            net.functional(theta[:-1], x)
        with pytest.raises(ValueError, match="unit_mask must be a tensor of shape"):
            net.functional(theta, x, unit_mask=torch.ones(BATCH, net.num_nodes - 1))
        with pytest.raises(ValueError, match="unit_noise must be a tensor of shape"):
            net.functional(theta, x, unit_noise=torch.ones(BATCH + 1, net.num_nodes))


@pytest.mark.parametrize("case", ["mixed_generation", "mlp_skip"])
def test_batch_chunked_sweeps_match_whole_ones(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide batches are swept in column chunks (SWEEP_CHUNK_BYTES): force chunks of 3 columns."""
    net = CASES[case]()
    x, y, theta, v, noise, mask = _data(net)
    x, noise, mask = (torch.cat([t, 2 * t, -t]) for t in (x, noise, mask))  # batch 15
    f = loss_of_theta(net, x, torch.cat([y, y, y]))
    whole = (
        net.node_values(theta, x, unit_mask=mask, unit_noise=noise),
        torch.func.jvp(torch.func.grad(f), (theta,), (v,))[1],
    )
    monkeypatch.setattr(propagation, "SWEEP_CHUNK_BYTES", 1)
    monkeypatch.setattr(propagation, "MIN_SWEEP_CHUNK", 3)
    chunked = (
        net.node_values(theta, x, unit_mask=mask, unit_noise=noise),
        torch.func.jvp(torch.func.grad(f), (theta,), (v,))[1],
    )
    for a, b in zip((*whole[0], whole[1]), (*chunked[0], chunked[1])):
        assert _rel(b, a) < REL64


def test_legacy_vmap_gets_a_clear_error() -> None:
    net = CASES["skip_graph"]()
    x, _, theta, *_ = _data(net)
    leaf = theta.clone().requires_grad_(True)
    out = net.functional(leaf, x)
    with pytest.raises(RuntimeError, match="legacy vmap.*torch.func"):
        torch.autograd.grad(out, leaf, torch.ones(3, *out.shape, dtype=out.dtype), is_grads_batched=True)
    net.engine = "reference"
    out = net.functional(leaf, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.autograd.grad(
            out, leaf, torch.ones(3, *out.shape, dtype=out.dtype), is_grads_batched=True
        )


def test_empty_batch() -> None:
    net = CASES["mlp_skip"]()
    x = torch.zeros(0, len(net.inputs), dtype=torch.float64)
    for engine in ("reference", "auto", "sparse"):
        net.engine = engine
        assert net(x).shape == (0, len(net.outputs))


@pytest.mark.gpu
def test_cuda_engine_matches_cpu() -> None:
    net = CASES["mlp_skip"]()
    x, y, theta, v, _, _ = _data(net)
    cpu = _quantities(
        net,
        "auto",
        (
            x,
            y,
            theta,
            v,
            torch.zeros(BATCH, net.num_nodes, dtype=torch.float64),
            torch.ones(BATCH, net.num_nodes, dtype=torch.float64),
        ),
    )
    gpu_net = net.copy_with().to("cuda")
    dev = [t.cuda() for t in (x, y, theta, v)]
    gpu = _quantities(
        gpu_net,
        "auto",
        (
            *dev,
            torch.zeros(BATCH, net.num_nodes, dtype=torch.float64, device="cuda"),
            torch.ones(BATCH, net.num_nodes, dtype=torch.float64, device="cuda"),
        ),
    )
    for k in cpu:
        assert _rel(gpu[k].cpu(), cpu[k]) < REL64, k

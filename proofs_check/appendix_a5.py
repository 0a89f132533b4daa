"""Checks of Appendix A.5: Definition A.2 (normal-space stability) on worked examples, with the N_C vs
N_D distinction. Computations live in ``dag_nets.stability``; each check states one claim and tests it."""

from __future__ import annotations

import functools

import numpy as np
import torch

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp, teacher_batch
from dag_nets.manifolds import manifold
from dag_nets.stability import dense_hessian, normal_stability
from proofs_check.registry import Context, Outcome, claim

AGREE_TOL = 1e-8
"""Dense and Lanczos restricted eigenvalues must agree to this (float64, Appendix A.5 task contract)."""
EXACT_TOL = 1e-10
"""‖H Z‖ / ‖H‖ bound for directions in the Hessian's kernel."""

DEFINITION = (
    r"The stability of \mathcal{M} is characterized by the Hessian $\nabla_\theta^2 \mathcal{L}(\theta)$ "
    r"in directions normal to \mathcal{M} :*"
)
SADDLE = (
    r"**Saddle LoP:** $\exists v_1, v_2 \in N_\theta \mathcal{M}$ s.t. $v_1^\top \nabla_\theta^2 "
    r"\mathcal{L}(\theta) v_1 > 0$ and $v_2^\top \nabla_\theta^2 \mathcal{L}(\theta) v_2 < 0$."
)
STABLE = (
    r"**Stable LoP:** $\forall v \in N_\theta \mathcal{M} \setminus \{0\} : v^\top \nabla_\theta^2 "
    r"\mathcal{L}(\theta) v > 0$."
)


@functools.lru_cache(maxsize=4)
def _trained(seed: int, steps: int = 80):
    """A base tanh MLP trained briefly (full-batch SGD) on a teacher task."""
    base = mlp(3, [3, 3], 1, activation="tanh", seed=seed)
    teacher = mlp(3, [6, 6], 1, activation="tanh", seed=seed + 1000, gain=2.0)
    x, _ = teacher_batch(3, 1, 48, seed=seed)
    with torch.no_grad():
        y = teacher(x)
    opt = torch.optim.SGD(base.parameters(), lr=0.2)
    for _ in range(steps):
        opt.zero_grad()
        ((base(x) - y) ** 2).mean().backward()
        opt.step()
    return base, x, y


def _worked_example(ctx: Context):
    """The trained base (cached), cloned ×2 with equitable redistribution."""
    base, x, y = _trained(ctx.seed)
    sizes = {v: 2 for v in base.bias_nodes if v not in base.outputs}
    net, part = clone_network(
        base, sizes, mode="equitable", generator=torch.Generator().manual_seed(ctx.seed), scale=0.3
    )
    return net, part, x, y


@claim(
    "definition-A.2/worked-classification",
    "Worked example: a cloned tanh MLP after training is a saddle LoP manifold (N_C), dense = Lanczos",
    method="numeric",
    subject="extension",
    quote=SADDLE,
    location="Definition A.2",
    reading="Definition A.2 applied to M_C of one trained cloned network, normal space N_C",
)
def worked_example_is_a_saddle(ctx: Context) -> Outcome:
    net, part, x, y = _worked_example(ctx)
    dense = normal_stability(net, part, x, y, space="C", method="dense")
    lanczos = normal_stability(net, part, x, y, space="C", method="lanczos", k=3)
    ev = dense.eigenvalues
    gap = max(
        float(np.abs(lanczos.eigenvalues[:3] - ev[:3]).max()),
        float(np.abs(lanczos.eigenvalues[-3:] - ev[-3:]).max()),
    )
    ok = gap < AGREE_TOL and dense.classification == lanczos.classification
    return Outcome(
        "holds" if ok and dense.classification == "saddle" else "refuted",
        margin=gap,
        detail=f"P={net.num_parameters}, dim N_C={dense.normal_dimension}; inertia (+,−,0)={dense.inertia} "
        f"→ {dense.classification}; λ ∈ [{ev[0]:.4g}, {ev[-1]:.4g}]; Lanczos extremes "
        f"{np.array2string(lanczos.eigenvalues, precision=4)} in {lanczos.hvp_count} HVPs, "
        f"max gap to dense {gap:.2g}",
    )


@claim(
    "definition-A.2/normal-space-D",
    "On M_C, ∇²L·Z = 0 for equitable non-BC Z: the N_D spectrum = N_C spectrum + dim M_C − dim M_D zeros",
    method="numeric",
    subject="extension",
    quote=DEFINITION,
    location="Definition A.2",
    reading="which normal space: N_D (of the affine leaf M_D) against N_C (of the cloning subspace M_C)",
)
def normal_space_of_m_d_adds_only_zeros(ctx: Context) -> Outcome:
    net, part, x, y = _worked_example(ctx)
    C, BC = manifold("C", part), manifold("BC", part)
    H = dense_hessian(net, x, y, net.flat_parameters()).numpy()
    T_c, _ = C.dense_bases()
    Z = T_c - BC.dense_tangent_projector() @ T_c  # tangent to M_C, normal to BC: the extra N_D directions
    u, s, _ = np.linalg.svd(Z, full_matrices=False)
    Z = u[:, s > 1e-8]
    kernel = float(np.abs(H @ Z).max() / np.abs(H).max())
    dc = normal_stability(net, part, x, y, space="C").eigenvalues
    dd = normal_stability(net, part, x, y, space="D").eigenvalues
    extra = C.dimension() - manifold("D", part, anchor=net.flat_parameters()).dimension()
    merged = np.sort(np.concatenate([dc, np.zeros(extra)]))
    spec_gap = float(np.abs(merged - dd).max())
    ok = kernel < EXACT_TOL and spec_gap < AGREE_TOL and Z.shape[1] == extra
    return Outcome(
        "holds" if ok else "refuted",
        margin=max(kernel, spec_gap),
        detail=f"{extra} equitable non-block-constant directions; max|H Z|/max|H| = {kernel:.2g}; "
        f"N_D spectrum vs N_C spectrum + {extra} zeros: max gap {spec_gap:.2g}. So on N_D the "
        "classification is never 'stable'/'unstable' (zeros), and negative curvature there is "
        "the N_C curvature: it signals escape from cloning, the extra directions never do.",
    )


@claim(
    "definition-A.2/stable-at-interpolation",
    "At an exact fit (zero loss) the N_C-restricted Hessian is positive semidefinite: no 'unstable'/'saddle'",
    method="numeric",
    subject="extension",
    quote=STABLE,
    location="Definition A.2",
    reading="an interpolating cloned network; its zero eigenvalues fit none of the three classes",
)
def interpolation_is_never_unstable(ctx: Context) -> Outcome:
    base = mlp(3, [3, 3], 1, activation="tanh", seed=ctx.seed)
    x, _ = teacher_batch(3, 1, 48, seed=ctx.seed)
    with torch.no_grad():
        y = base(x)  # the base network fits its own outputs exactly
    sizes = {v: 2 for v in base.bias_nodes if v not in base.outputs}
    net, part = clone_network(
        base, sizes, mode="equitable", generator=torch.Generator().manual_seed(ctx.seed), scale=0.3
    )
    res = normal_stability(net, part, x, y, space="C")
    ev = res.eigenvalues
    ok = res.inertia[1] == 0
    return Outcome(
        "holds" if ok else "refuted",
        margin=float(ev.min()),
        detail=f"zero residual ⇒ H = (2/B) JᵀJ ⪰ 0: inertia (+,−,0) = {res.inertia} → {res.classification} "
        f"(λ_min = {ev.min():.3g}; zero eigenvalues are degenerate directions the network cannot "
        "see on this batch — Definition A.2 has no name for them)",
    )

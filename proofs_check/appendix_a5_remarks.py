"""Checks of Definition A.2 and Remark A.6 (Appendix A.5): what the stability classification depends on, which
classes a cloning manifold can be in, and stability in the normal space against convexity.

Normal-space spectra come from :func:`dag_nets.stability.normal_stability` (dense: Nᵀ∇²L N for an orthonormal
basis N of the normal space) and full Hessians from :func:`dag_nets.stability.dense_hessian`.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp, teacher_batch
from dag_nets.graph import DagNet, loss_of_theta
from dag_nets.manifolds import manifold
from dag_nets.partition import Partition
from dag_nets.stability import ZERO_EIG_RTOL, classify, dense_hessian, normal_stability
from proofs_check.appendix_a5 import DEFINITION
from proofs_check.registry import Context, Outcome, ReadingOutcome, claim, judge_readings
from proofs_check.section2_manifolds import mirror_data, mirror_net

EXACT_TOL = 1e-12
POINTS, POINTS_THOROUGH = 6, 24
STEPS_T = (-1.0, -0.3, 0.3, 1.0)
"""Steps t of the line θ + t·v along which the loss is evaluated (the isotropic normal direction v)."""


def _cloned(seed: int, widths: tuple[int, ...] = (2,)) -> tuple[DagNet, Partition]:
    base = mlp(2, list(widths), 1, activation="tanh", seed=seed)
    return clone_network(base, {v: 2 for v in base.bias_nodes if v not in base.outputs})


def _fitted_targets(net: DagNet, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net.functional(theta, x)


STABILITY_QUOTE = DEFINITION
"""Definition A.2's opening sentence (shared with proofs_check.appendix_a5)."""
FITTED, TEACHER, OTHER_POINT = "θ1, data fitted by θ1", "θ1, teacher data", "θ2, data fitted by θ1"


def _rotated_class(net: DagNet, part: Partition, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor,
                   seed: int) -> str:
    """Definition A.2's class at θ computed with another orthonormal basis N·Q of N_θM_C (Q a random rotation):
    eigenvalues of (NQ)ᵀ∇²L(NQ), classified as dag_nets.stability does."""
    _, N = manifold("C", part).dense_bases()
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((N.shape[1], N.shape[1])))
    B = N @ q
    H = dense_hessian(net, x, y, theta).numpy()
    ev = np.linalg.eigvalsh(B.T @ H @ B)
    return classify(ev, ZERO_EIG_RTOL * max(1.0, float(np.abs(ev).max())))[1]


@functools.lru_cache(maxsize=4)
def _classes(ctx: Context) -> tuple[dict[str, str], dict[str, str]]:
    """Classes of M_C at two points θ1, θ2 of one cloned net for two datasets (see the check's detail): by
    dag_nets.stability.normal_stability, and with a rotated basis of the normal space."""
    net, part = _cloned(ctx.seed)
    x, y_teacher = teacher_batch(2, 1, 16, seed=ctx.seed)
    theta1 = net.flat_parameters()
    theta2 = manifold("C", part).random_point(torch.Generator().manual_seed(ctx.seed), scale=1.0)
    fit1 = _fitted_targets(net, theta1, x)
    out, rotated = {}, {}
    for name, theta, y in ((FITTED, theta1, fit1), (TEACHER, theta1, y_teacher), (OTHER_POINT, theta2, fit1)):
        out[name] = normal_stability(net, part, x, y, space="C", theta=theta).classification
        rotated[name] = _rotated_class(net, part, x, y, theta, ctx.seed)
    return out, rotated


@claim("definition-A.2/classification-depends-on-data",
       "Definition A.2 classifies a manifold: stable, unstable or saddle is a property of M",
       method="numeric", expected="imprecise", quote=STABILITY_QUOTE, location="Definition A.2",
       reading="'The stability of M' names a property of the manifold, while the conditions are stated at a point θ "
               "and through ∇²L, which depends on the data: A, a property of M alone; B, of M and the data (the loss "
               "L); C, of the point θ ∈ M and L.")
def classification_depends_on_data(ctx: Context) -> Outcome:
    classes, rotated = _classes(ctx)
    listed = "; ".join(f"{k}: {v}" for k, v in classes.items())
    readings = [
        ReadingOutcome("a property of M alone", "refuted" if len(set(classes.values())) > 1 else "holds",
                       f"one M_C, three (point, data) pairs: {listed}"),
        ReadingOutcome("a property of M and the data", "refuted" if classes[FITTED] != classes[OTHER_POINT] else "holds",
                       f"same data, two points of M_C: {classes[FITTED]} at θ1, {classes[OTHER_POINT]} at θ2"),
        ReadingOutcome("a property of the point θ and the loss L", "holds" if classes == rotated else "refuted",
                       "at each (θ, L) the class is well defined — it does not depend on how N_θM is represented: "
                       f"the restricted Hessian in a randomly rotated orthonormal basis gives {'; '.join(rotated.values())}"),
    ]
    return judge_readings(
        readings, margin=float(len(set(classes.values()))),
        detail=f"M_C of a 2× clone of mlp(2, [2], 1, 'tanh', seed={ctx.seed}) (one linear subspace, the same normal "
               f"space N_C everywhere), x = teacher_batch(2, 1, 16, seed={ctx.seed})[0]; θ1 = the clone, θ2 = a random "
               "point of M_C.",
        summary=f"one manifold, several classes: {classes[FITTED]} at θ1 with the data θ1 fits, {classes[TEACHER]} with "
                f"teacher data, {classes[OTHER_POINT]} at another point — a property of (θ, L), not of M")


@claim("definition-A.2/classification-of-point-and-loss",
       "Corrected: Definition A.2 classifies a point θ ∈ M for a loss L — for M_C (a linear subspace defined by the "
       "partition alone) N_θM is data-free, and the class depends on θ and the data through ∇²L only",
       method="numeric", subject="correction", corrects="definition-A.2/classification-depends-on-data",
       quote=STABILITY_QUOTE, location="Definition A.2")
def classification_of_point_and_loss(ctx: Context) -> Outcome:
    net, part = _cloned(ctx.seed)
    x, y_teacher = teacher_batch(2, 1, 16, seed=ctx.seed)
    M = manifold("C", part)
    gen = torch.Generator().manual_seed(ctx.seed)
    probe = torch.randn(net.num_parameters, generator=gen, dtype=torch.float64)
    theta2 = M.random_point(gen)
    same_normal = float((M.normal(probe) - manifold("C", Partition(net, part.blocks)).normal(probe)).abs().max())
    classes, _ = _classes(ctx)
    dense = normal_stability(net, part, x, y_teacher, space="C")
    ok = same_normal == 0.0 and len(set(classes.values())) >= 2 and dense.classification in ("saddle", "degenerate")
    return Outcome("holds" if ok else "refuted",
                   detail=f"N_C projector independent of data and point (rebuilt: max difference {same_normal:g}; it is "
                          f"built from the partition); classes {classes}; at θ1 with teacher data λ(N_C) ∈ "
                          f"[{dense.eigenvalues[0]:.4g}, {dense.eigenvalues[-1]:.4g}] ({dense.classification}). "
                          f"(θ2 = M_C.random_point, |θ2| = {float(theta2.norm()):.3g}.)")


def _isotropic_direction(net: DagNet, part: Partition) -> tuple[torch.Tensor, str]:
    """v = r·1ᵀ on the outgoing edges of the first cloned block (rows r = (1, −1, 0, …), zero column sums)."""
    for pair in part.pairs:
        if len(pair.rows) >= 2:
            v = torch.zeros(net.num_parameters, dtype=torch.float64)
            r = {pair.rows[0]: 1.0, pair.rows[1]: -1.0}
            for e in pair.edge_ids:
                u, _ = net.edges[int(e)]
                v[int(e)] = r.get(u, 0.0)
            return v, f"{pair.rows[0]}, {pair.rows[1]} → {list(pair.cols)}"
    raise ValueError("the partition has no cloned block with outgoing edges")


@claim("definition-A.2/cloning-manifold-never-stable",
       "M_C is never 'stable' or 'unstable' (Definition A.2) when a cloned block feeds another block: the normal "
       "direction v = r1ᵀ (Σr = 0) on its outgoing edges leaves the loss exactly constant, so vᵀ∇²L v = 0",
       method="numeric", subject="extension",
       quote="**Stable LoP:** $\\forall v \\in N_\\theta \\mathcal{M} \\setminus \\{0\\} : v^\\top \\nabla_\\theta^2 "
             "\\mathcal{L}(\\theta) v > 0$. (Perturbations revert to LoP)",
       location="Definition A.2",
       reading="Along θ + t·v the clones of the block keep equal values and every unit they feed receives Σ_u "
               "v_uv·h = h·Σ_u r_u = 0 extra input: the forward pass, hence L, is unchanged for every t.")
def cloning_manifold_never_stable(ctx: Context) -> Outcome:
    rows: list[str] = []
    worst = 0.0
    classes: dict[str, int] = {}
    points = POINTS_THOROUGH if ctx.thorough else POINTS
    for k in range(points):
        seed = ctx.seed + k
        net, part = _cloned(seed, widths=(2,) if k % 2 == 0 else (2, 2))
        x, y = teacher_batch(2, 1, 16, seed=seed)
        theta = manifold("C", part).random_point(torch.Generator().manual_seed(seed)) if k % 3 else net.flat_parameters()
        v, where = _isotropic_direction(net, part)
        M = manifold("C", part)
        tangent = float(torch.linalg.vector_norm(M.tangent(v)))
        L = loss_of_theta(net, x, y)
        flat = max(abs(float(L(theta + t * v) - L(theta))) for t in STEPS_T)
        H = dense_hessian(net, x, y, theta)
        curvature = abs(float(v @ H @ v))
        worst = max(worst, tangent, flat, curvature)
        label = normal_stability(net, part, x, y, space="C", theta=theta).classification
        classes[label] = classes.get(label, 0) + 1
        if k < 2:
            rows.append(f"{where}: ‖P_T v‖ = {tangent:.1g}, max |L(θ + tv) − L(θ)| = {flat:.1g}, |vᵀHv| = {curvature:.1g}")
    ok = worst < EXACT_TOL and not {"stable", "unstable"} & set(classes)
    return Outcome("holds" if ok else "refuted", margin=worst,
                   detail=f"{points} points of M_C of 2× clones of tanh MLPs 2 → 2 → 1 and 2 → 2 → 2 → 1 (the clones and "
                          f"random points of M_C), teacher data: worst of ‖P_T v‖, |ΔL| along the line, |vᵀHv| = "
                          f"{worst:.1g}; e.g. " + "; ".join(rows) + f". Classes found: {classes}. Only 'saddle' or "
                          "'degenerate' can occur, so the 'strongest form of LoP' (Appendix A.5) is never a stable "
                          "cloning manifold.")


MIRROR_WIDTH = 2
"""Remark A.6's network: the mirror example with two hidden units (a 2-dimensional normal space)."""


def _mirror_blocks(seed: int, theta: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues of the Hessian restricted to the normal space of M = {w(x1, ·) = 0}, of the full Hessian)."""
    net, idx = mirror_net(seed, MIRROR_WIDTH)
    x, y = mirror_data(seed)
    H = dense_hessian(net, x, y, theta).numpy()
    i = idx.numpy()
    return np.linalg.eigvalsh(H[np.ix_(i, i)]), np.linalg.eigvalsh(H)


@claim("remark-A.6/normal-stability-not-convexity",
       "Remark A.6: a positive definite Hessian on the normal space does not make the loss convex — at such a point "
       "the full Hessian can have negative eigenvalues, and the class is local (it changes along M)",
       method="numeric",
       quote="Stability in the normal space to the manifold (convexity of the loss in these directions) does not imply "
             "that the loss is convex in general (i.e., also within the manifold or in other directions). These "
             "conditions are local characterizations of the loss landscape geometry around the manifold.",
       location="Remark A.6",
       reading="On an LoP manifold with a definite normal Hessian: M = {every weight out of input x1 = 0} of a tanh "
               "MLP 2 → 2 → 1 trained on mirror-symmetric data (an affine LoP manifold of the full loss: "
               "remark-2.1/affine-sgd-invariance).")
def normal_stability_not_convexity(ctx: Context) -> Outcome:
    net, idx = mirror_net(ctx.seed, MIRROR_WIDTH)
    gen = torch.Generator().manual_seed(ctx.seed)
    found, other, tried = None, None, 0
    for scale in (0.3, 1.0, 2.0):
        for _ in range(POINTS):
            theta = net.flat_parameters() + scale * torch.randn(net.num_parameters, generator=gen, dtype=torch.float64)
            theta[idx] = 0.0
            normal, full = _mirror_blocks(ctx.seed, theta)
            tried += 1
            label = classify(normal, 1e-10 * max(1.0, float(np.abs(normal).max())))[1]
            if label == "stable" and full[0] < 0 and found is None:
                found = (scale, normal, full)
            elif label != "stable" and other is None:
                other = (scale, label, normal)
        if found and other:
            break
    if found is None or other is None:
        return Outcome("refuted", None, f"no point with a positive definite normal Hessian and an indefinite full "
                                        f"Hessian (or no point of another class) among {tried}")
    scale, normal, full = found
    s2, label2, normal2 = other
    return Outcome("holds", margin=float(-full[0]),
                   detail=f"mirror example, mlp(2, [{MIRROR_WIDTH}], 1, 'tanh', seed={ctx.seed}), data mirror_data({ctx.seed}); points of M: the net's weights plus N(0, s²) noise, x1-weights "
                          f"zeroed. At s = {scale:g}: normal-space eigenvalues in [{normal[0]:.4g}, {normal[-1]:.4g}] "
                          f"(stable) while the full Hessian's smallest eigenvalue is {full[0]:.4g} < 0 (not convex). At "
                          f"another point of M (s = {s2:g}) the normal eigenvalues lie in [{normal2[0]:.4g}, "
                          f"{normal2[-1]:.4g}] ({label2}): the class is a local property.")

"""Checks of Definition 2.1 and Remarks 2.1–2.2 (LoP manifolds, discrete updates, functional LoP), of
Definition 2.1 applied to Theorem 2.1's frozen-unit manifold M_F, and of what Theorems 2.1 (2) and A.1 need
of the input and output nodes. Networks, manifolds, gradients and trajectories come from ``dag_nets``.
"""

from __future__ import annotations

import functools
import itertools

import networkx as nx
import torch

from dag_nets.builders import cloned_random_dag, mlp, teacher_batch
from dag_nets.dynamics import cloning_report, gradient, run_trajectory, tangency_residuals
from dag_nets.graph import DagNet, Node
from dag_nets.manifolds import frozen_coordinates, manifold
from dag_nets.optimizers import OptimizerSpec
from dag_nets.partition import Partition
from proofs_check.registry import Context, Outcome, Verdict, claim

EXACT_TOL = 1e-12
"""Float64 round-off bound for quantities that vanish exactly (O(1) weights, ≤ 200 steps)."""
ESCAPE_TOL = 1e-6
"""A distance above this counts as having left a manifold (≥ 1e6 × round-off)."""
STEPS, LR = 40, 0.05
SATURATION_MARGIN = 0.5
"""A dead ReLU unit is given the bias −(max pre-activation on the batch) − SATURATION_MARGIN."""
REVIVE_MARGINS = (0.05, 0.02, 0.01)
REVIVE_STEPS = 400
"""GD from a point of M_F where the unit is dead by a small margin: searched for a run that revives it."""
RANDOM_POINTS = 6
STEP_SIZES = (0.1, 0.03, 0.01)
"""Remark 2.1: GD step sizes η over a fixed time T = 1 (1/η steps); the drift off a curved invariant set ∝ η."""


# ---------------------------------------------------------------------------- Definition 2.1 on M_F
def _relu_net(seed: int = 3) -> tuple[DagNet, torch.Tensor, torch.Tensor]:
    net = mlp(3, [4, 3], 1, activation="relu", seed=seed)
    x, y = teacher_batch(3, 1, 32, seed=seed)
    return net, x, y


def _preactivation(net: DagNet, theta: torch.Tensor, x: torch.Tensor, unit: Node) -> torch.Tensor:
    _, Z = net.node_values(theta, x)
    return Z[:, net.index[unit]]


def _killed(net: DagNet, x: torch.Tensor, unit: Node, margin: float) -> DagNet:
    """``net`` with ``unit``'s bias set so that its pre-activation is ≤ −margin on every example (dead ReLU)."""
    theta = net.flat_parameters()
    b = net.num_edges + net.bias_index[unit]
    z = _preactivation(net, theta, x, unit) - theta[b]
    theta[b] = -float(z.max()) - margin
    return net.copy_with(theta)


def _gd(net: DagNet, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> list[torch.Tensor]:
    """Full-batch gradient descent θ ← θ − lr·∇L(θ) from the net's parameters: every iterate (index 0 = start)."""
    thetas = [net.flat_parameters()]
    for _ in range(steps):
        thetas.append(thetas[-1] - lr * gradient(net, x, y, thetas[-1]))
    return thetas


def _saturated(net: DagNet, theta: torch.Tensor, x: torch.Tensor, unit: Node) -> bool:
    act = net.node_activation[unit]
    return bool((act.torch_derivative(_preactivation(net, theta, x, unit)) == 0).all())


def _upstream_point(net: DagNet, unit: Node, generator: torch.Generator) -> torch.Tensor:
    """A point of M_F(θ): θ_in(unit) kept, every other coordinate moved by N(0, s²), s = 3 × the mean |θ_i|."""
    theta = net.flat_parameters()
    frozen = manifold("F", Partition.trivial(net), anchor=theta, frozen=[unit])
    other = torch.randn(theta.shape, generator=generator, dtype=theta.dtype) * 3.0 * theta.abs().mean()
    return theta + frozen.tangent(other)


def _frozen_tangency(net: DagNet, theta: torch.Tensor, x, y, unit: Node) -> float:
    moved = net.copy_with(theta)
    return tangency_residuals(moved, Partition.trivial(moved), x, y, kinds=("F",), frozen=[unit])["F"]


@claim("definition-2.1/frozen-manifold-every-point",
       "Theorem 2.1 (1): the affine set M_F = {θ_in(v) = const} satisfies ∇L ∈ T_θ M_F (Definition 2.1) and GD "
       "started in M_F stays in it",
       method="numeric", expected="refuted",
       quote="writing the linear constraints as $\\theta_{\\text{in}}(v) = \\text{const}$ for all $v \\in F$, the "
             "affine subspace $\\mathcal{M}_F := \\{\\theta : \\theta_{\\text{in}}(v) = \\text{const} \\forall v \\in F\\}$ "
             "satisfies $\\nabla \\mathcal{L}(\\theta) \\in T_{\\theta} \\mathcal{M}_F$ and GD/SGD updates initialized in "
             "\\mathcal{M}_F remain in \\mathcal{M}_F .",
       location="Theorem 2.1 (1), read with Definition 2.1",
       reading="Definition 2.1 asks ∇L ∈ T_θM at every θ ∈ M, and M_F is the whole affine set. (The other reading — "
               "only along a trajectory on which v stays saturated, the theorem's hypothesis — holds: "
               "theorem-2.1/frozen-sgd.)")
def frozen_manifold_every_point(ctx: Context) -> Outcome:
    net, x, y = _relu_net()
    unit = "h1_0"  # second hidden layer: its pre-activation depends on upstream weights too
    dead = _killed(net, x, unit, SATURATION_MARGIN)
    theta0 = dead.flat_parameters()
    at_dead = _frozen_tangency(dead, theta0, x, y, unit)
    gen = torch.Generator().manual_seed(ctx.seed)
    counter = None
    for _ in range(RANDOM_POINTS * 4):
        theta = _upstream_point(dead, unit, gen)
        if not _saturated(dead, theta, x, unit):
            counter = theta
            break
    revived = None
    coords = torch.as_tensor(frozen_coordinates(net, [unit]))
    for margin in REVIVE_MARGINS:
        thetas = _gd(_killed(net, x, unit, margin), x, y, LR, REVIVE_STEPS)
        moved = [float(torch.linalg.vector_norm(t[coords] - thetas[0][coords])) for t in thetas]
        if moved[-1] > ESCAPE_TOL:
            revived = (margin, moved)
            break
    if counter is None or revived is None:
        return Outcome("holds", None, "no point of M_F with the unit unsaturated and no reviving GD run was found")
    on_mf = manifold("F", Partition.trivial(dead), anchor=theta0, frozen=[unit]).distance(counter)
    resid = _frozen_tangency(dead, counter, x, y, unit)
    frac = float((_preactivation(dead, counter, x, unit) > 0).double().mean())
    margin, moved = revived
    first = next(t for t, d in enumerate(moved) if d > 0)
    return Outcome(
        "refuted", resid,
        summary=f"at a point of M_F where {unit} (second hidden layer) is active on {frac:.0%} of the batch, "
                f"‖P_N ∇L‖/‖∇L‖ = {resid:.3g} > 0; GD from a barely dead start revives it and leaves M_F by "
                f"{moved[-1]:.3g}",
        detail=f"ReLU MLP mlp(3, [4, 3], 1, 'relu', seed=3), x, y = teacher_batch(3, 1, 32, seed=3), F = {{{unit}}} (second "
        f"hidden layer). At θ0 (bias of {unit} = −max z − {SATURATION_MARGIN}) the unit is dead and "
        f"‖P_N ∇L‖/‖∇L‖ = {at_dead:g}. The point θ' of M_F(θ0) (distance {on_mf:.1g}: θ_in({unit}) unchanged, every "
        f"other coordinate moved by N(0, s²), s = 3·mean|θ_i|, generator seed {ctx.seed}) makes {unit} active on {frac:.0%} of the "
        f"batch, and there ‖P_N ∇L‖/‖∇L‖ = {resid:.3g} > 0: the gradient is not tangent to M_F, so M_F is not an LoP "
        f"manifold in the sense of Definition 2.1. Nor does GD from a saturated point stay in M_F: started with the "
        f"unit dead by a margin {margin} (f' = 0 on every example), GD (lr {LR}) moves the upstream weights until "
        f"{unit} revives; θ_in({unit}) starts moving at step {first} and is {moved[-1]:.3g} away from M_F "
        f"after {REVIVE_STEPS} steps.")


@claim("definition-2.1/frozen-manifold-corrected",
       "Corrected: ∇L ∈ T_θ M_F exactly where every v ∈ F has f′(z_v) = 0 on the batch; for first-hidden-layer units "
       "that is all of M_F (an LoP manifold for that data), for deeper units only part of it",
       method="numeric", subject="correction", corrects="definition-2.1/frozen-manifold-every-point",
       quote="writing the linear constraints as $\\theta_{\\text{in}}(v) = \\text{const}$ for all $v \\in F$, the "
             "affine subspace $\\mathcal{M}_F := \\{\\theta : \\theta_{\\text{in}}(v) = \\text{const} \\forall v \\in F\\}$ "
             "satisfies $\\nabla \\mathcal{L}(\\theta) \\in T_{\\theta} \\mathcal{M}_F$ and GD/SGD updates initialized in "
             "\\mathcal{M}_F remain in \\mathcal{M}_F .",
       location="Theorem 2.1 (1), read with Definition 2.1")
def frozen_manifold_corrected(ctx: Context) -> Outcome:
    net, x, y = _relu_net()
    gen = torch.Generator().manual_seed(ctx.seed)
    rows, ok, checked = [], True, 0
    for unit in ("h0_1", "h1_0"):
        dead = _killed(net, x, unit, SATURATION_MARGIN)
        agree, sat_points = 0, 0
        for _ in range(RANDOM_POINTS):
            theta = _upstream_point(dead, unit, gen)
            saturated = _saturated(dead, theta, x, unit)
            tangent = _frozen_tangency(dead, theta, x, y, unit) == 0.0
            agree += saturated == tangent
            sat_points += saturated
            checked += 1
        ok &= agree == RANDOM_POINTS
        rows.append(f"{unit}: tangency holds exactly (residual 0) at {sat_points}/{RANDOM_POINTS} random points of "
                    f"M_F and the unit is saturated at exactly those ({agree}/{RANDOM_POINTS} agree)")
        if unit == "h0_1":
            ok &= sat_points == RANDOM_POINTS
            traj = run_trajectory(dead, Partition.trivial(dead), x, y, optimizer=OptimizerSpec("sgd", LR), steps=STEPS,
                                  frozen=[unit], batch_size=4, seed=ctx.seed)
            ok &= max(traj.distance_F) == 0.0
            rows[-1] += f"; mini-batch SGD ({STEPS} steps) keeps θ_in exactly fixed (max distance {max(traj.distance_F):g})"
    return Outcome("holds" if ok else "refuted",
                   detail=f"ReLU MLP mlp(3, [4, 3], 1, seed=3), teacher batch of 32; unit killed with margin "
                          f"{SATURATION_MARGIN}; points of M_F: θ_in(v) kept, all else moved by N(0, s²), s = 3·mean|θ_i|: "
                          + "; ".join(rows) + ". A first-layer unit's z_v = θ_in(v)·(x, 1) depends on nothing else, "
                          "so on this data it is saturated on all of M_F, which is then an LoP manifold; a deeper "
                          "unit's saturation depends on upstream weights, and M_F ∩ {f′(z_v) = 0 on the data} is not "
                          "affine (nor invariant: definition-2.1/frozen-manifold-every-point).")


# ---------------------------------------------------------------------------- Remark 2.1
def _rescaling_charge(net: DagNet, theta: torch.Tensor, unit: Node) -> tuple[torch.Tensor, torch.Tensor]:
    """Index tensors of θ_in(unit) (incoming edges and bias) and θ_out(unit) (outgoing edges)."""
    incoming = [net.edge_index[(u, unit)] for u in net.graph.predecessors(unit)] + [net.num_edges + net.bias_index[unit]]
    outgoing = [net.edge_index[(unit, k)] for k in net.graph.successors(unit)]
    return torch.tensor(incoming), torch.tensor(outgoing)


def _charge(theta: torch.Tensor, idx: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Q_v(θ) = ‖θ_in(v)‖² − ‖θ_out(v)‖², conserved by gradient flow for a ReLU unit v (rescaling symmetry)."""
    return float(theta[idx[0]].pow(2).sum() - theta[idx[1]].pow(2).sum())


@claim("remark-2.1/curved-manifold-discrete-escape",
       "For a curved LoP manifold, gradient flow stays on it but discrete GD steps leave it (ReLU rescaling level sets)",
       method="numeric",
       quote="For a general* curved manifold this need not imply invariance under discrete updates $\\theta_{k+1} = "
             "\\theta_k - \\eta_k \\nabla_{\\theta} \\mathcal{L}(\\theta_k)$, as discretization step can lead to an "
             "escape from the manifold.",
       location="Remark 2.1",
       reading="A curved LoP manifold of a real network: for a ReLU unit v the level set {Q_v = c}, Q_v = ‖θ_in(v)‖² − "
               "‖θ_out(v)‖², is a quadric to which ∇L is tangent (rescaling symmetry: ⟨θ_in, ∇_in L⟩ = ⟨θ_out, ∇_out L⟩).")
def curved_manifold_discrete_escape(ctx: Context) -> Outcome:
    net, x, y = _relu_net()
    unit = "h0_2"
    idx = _rescaling_charge(net, net.flat_parameters(), unit)
    gen = torch.Generator().manual_seed(ctx.seed)
    worst_tangency = 0.0
    for _ in range(RANDOM_POINTS):
        theta = net.flat_parameters() + 0.3 * torch.randn(net.num_parameters, generator=gen, dtype=torch.float64)
        g = gradient(net, x, y, theta)
        euler = float(theta[idx[0]] @ g[idx[0]] - theta[idx[1]] @ g[idx[1]])
        scale = float(theta[idx[0]].abs() @ g[idx[0]].abs() + theta[idx[1]].abs() @ g[idx[1]].abs())
        worst_tangency = max(worst_tangency, abs(euler) / scale)
    theta = net.flat_parameters()
    g = gradient(net, x, y, theta)
    predicted = {eta: eta**2 * float(g[idx[0]].pow(2).sum() - g[idx[1]].pow(2).sum()) for eta in STEP_SIZES}
    one_step = {eta: _charge(theta - eta * g, idx) - _charge(theta, idx) for eta in STEP_SIZES}
    identity = max(abs(one_step[e] - predicted[e]) / abs(predicted[e]) for e in STEP_SIZES)
    drift = {eta: abs(_charge(_gd(net, x, y, eta, round(1 / eta))[-1], idx) - _charge(theta, idx)) for eta in STEP_SIZES}
    ratios = [drift[a] / drift[b] for a, b in itertools.pairwise(STEP_SIZES)]
    expected = [a / b for a, b in itertools.pairwise(STEP_SIZES)]
    ok = (worst_tangency < EXACT_TOL and identity < 1e-9 and abs(one_step[STEP_SIZES[0]]) > ESCAPE_TOL
          and all(0.5 * e < r < 2.0 * e for r, e in zip(ratios, expected)))
    return Outcome("holds" if ok else "refuted", margin=abs(one_step[STEP_SIZES[0]]),
                   detail=f"ReLU MLP mlp(3, [4, 3], 1, seed=3), unit {unit}: |⟨θ_in, ∇_in L⟩ − ⟨θ_out, ∇_out L⟩| / scale ≤ "
                          f"{worst_tangency:.1g} at {RANDOM_POINTS} random points (∇L tangent to the level sets of Q_v, "
                          f"so gradient flow conserves Q_v). One GD step changes Q_v by η²(‖g_in‖² − ‖g_out‖²): "
                          + ", ".join(f"η = {e:g}: {one_step[e]:.3g}" for e in STEP_SIZES)
                          + f" (identity to {identity:.1g}). Over the fixed time T = 1 the drift |ΔQ_v| is "
                          + ", ".join(f"{drift[e]:.3g} (η = {e:g})" for e in STEP_SIZES)
                          + f": it shrinks ∝ η (ratios {', '.join(f'{r:.3g}' for r in ratios)} for step ratios "
                          + ", ".join(f"{e:.3g}" for e in expected) + "), vanishing in the flow "
                          "limit, while every finite step leaves the manifold.")


def mirror_data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch closed under x1 ↦ −x1 (each example with its mirror image, same target)."""
    x, y = teacher_batch(2, 1, 16, seed=seed)
    mirrored = x.clone()
    mirrored[:, 1] = -mirrored[:, 1]
    return torch.cat([x, mirrored]), torch.cat([y, y])


def mirror_net(seed: int, width: int = 6) -> tuple[DagNet, torch.Tensor]:
    """A tanh MLP 2 → width → 1 with every weight out of input x1 set to 0; returns (net, indices of those weights)."""
    net = mlp(2, [width], 1, activation="tanh", seed=seed)
    idx = torch.tensor([net.edge_index[("x1", v)] for v in net.graph.successors("x1")])
    theta = net.flat_parameters()
    theta[idx] = 0.0
    return net.copy_with(theta), idx


def _mirror_sgd(net: DagNet, x, y, batches: list[torch.Tensor], lr: float) -> torch.Tensor:
    theta = net.flat_parameters()
    for pick in batches:
        theta = theta - lr * gradient(net, x[pick], y[pick], theta)
    return theta


@claim("remark-2.1/affine-sgd-invariance",
       "Remark 2.1: for affine LoP manifolds, both gradient flow and (stochastic) gradient descent stay on them",
       method="numeric", expected="refuted",
       quote="However, for affine LoP manifolds, both gradient flow and (stochastic) gradient descent dynamics are "
             "invariant once they enter \\mathcal{M} , as the discretization step cannot lead to an escape.",
       location="Remark 2.1",
       reading="An affine LoP manifold in the sense of Definition 2.1, i.e. tangent to the gradient of the training "
               "loss L (the sum over the data); SGD steps use the gradients of mini-batch losses.")
def affine_sgd_invariance(ctx: Context) -> Outcome:
    net, idx = mirror_net(ctx.seed)
    x, y = mirror_data(ctx.seed)
    gen = torch.Generator().manual_seed(ctx.seed)
    tangency = 0.0
    for _ in range(RANDOM_POINTS):
        theta = net.flat_parameters() + torch.randn(net.num_parameters, generator=gen, dtype=torch.float64)
        theta[idx] = 0.0
        g = gradient(net, x, y, theta)
        tangency = max(tangency, float(g[idx].abs().max() / g.abs().max()))
    gd = _mirror_sgd(net, x, y, [torch.arange(len(x))] * STEPS, LR)
    singles = [torch.randint(0, len(x), (1,), generator=gen) for _ in range(STEPS)]
    sgd = _mirror_sgd(net, x, y, singles, LR)
    left = float(sgd[idx].abs().max())
    status: Verdict = "refuted" if tangency < EXACT_TOL and float(gd[idx].abs().max()) < EXACT_TOL and left > ESCAPE_TOL else "holds"
    return Outcome(status, margin=left,
                   summary=f"M = {{weights out of x1 = 0}} is an affine LoP manifold of a tanh MLP on mirror-symmetric "
                           f"data (full-batch GD stays on it), yet {STEPS} one-example SGD steps leave it by {left:.3g}",
                   detail=f"tanh MLP mlp(2, [6], 1, seed={ctx.seed}) on teacher_batch(2, 1, 16, seed={ctx.seed}) plus "
                          "the mirror image x1 ↦ −x1 of every example (same target). M = {every weight out of x1 = 0} "
                          "is an affine (linear) LoP manifold of L: by the mirror symmetry ∂L/∂w(x1, ·) = 0 on all of "
                          f"M (max |∂L/∂w(x1,·)|/max|∇L| = {tangency:.1g} at {RANDOM_POINTS} random points of M), and "
                          f"{STEPS} full-batch GD steps stay on it ({float(gd[idx].abs().max()):.1g}). {STEPS} SGD steps "
                          f"with one example each (lr {LR}, generator seed {ctx.seed}) leave it: max |w(x1, ·)| = "
                          f"{left:.3g}. A single example's loss has no mirror symmetry, so its gradient is not tangent.")


@claim("remark-2.1/affine-sgd-invariance-corrected",
       "Corrected: an affine manifold tangent to the gradient of every mini-batch loss is invariant under SGD; "
       "tangency for L alone gives gradient flow and full-batch GD only",
       method="numeric", subject="correction", corrects="remark-2.1/affine-sgd-invariance",
       quote="However, for affine LoP manifolds, both gradient flow and (stochastic) gradient descent dynamics are "
             "invariant once they enter \\mathcal{M} , as the discretization step cannot lead to an escape.",
       location="Remark 2.1")
def affine_sgd_invariance_corrected(ctx: Context) -> Outcome:
    net, idx = mirror_net(ctx.seed)
    x, y = mirror_data(ctx.seed)
    half = len(x) // 2
    gen = torch.Generator().manual_seed(ctx.seed)
    pairs = []
    for _ in range(STEPS):  # mini-batches of mirror pairs: each batch loss has the mirror symmetry
        i = torch.randint(0, half, (2,), generator=gen)
        pairs.append(torch.cat([i, i + half]))
    paired = _mirror_sgd(net, x, y, pairs, LR)
    cloned, part, _ = cloned_random_dag(seed=ctx.seed)
    xc, yc = teacher_batch(2, 2, 16, seed=ctx.seed)
    traj = run_trajectory(cloned, part, xc, yc, optimizer=OptimizerSpec("sgd", LR), steps=STEPS, batch_size=1, seed=ctx.seed)
    worst = max(float(paired[idx].abs().max()), max(traj.distance_C))
    return Outcome("holds" if worst < EXACT_TOL else "refuted", margin=worst,
                   detail=f"mirror example of remark-2.1/affine-sgd-invariance: SGD whose mini-batches are unions of "
                          f"mirror pairs stays on M (max |w(x1, ·)| after {STEPS} steps: "
                          f"{float(paired[idx].abs().max()):.1g}); cloning manifold M_C of cloned_random_dag(seed="
                          f"{ctx.seed}), tangent for every example's loss (functional LoP, Remark 2.2): SGD with one "
                          f"example per step stays on it (max distance {max(traj.distance_C):.1g} over {STEPS} steps).")


# ---------------------------------------------------------------------------- Remark 2.2
def _datasets(seed: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    gauss = teacher_batch(2, 2, 24, seed=seed)
    shifted = (1.0 + torch.rand(24, 2, generator=gen, dtype=torch.float64),
               torch.rand(24, 2, generator=gen, dtype=torch.float64) - 2.0)
    bits = (torch.randint(0, 2, (24, 2), generator=gen).double(), torch.randn(24, 2, generator=gen, dtype=torch.float64))
    return [("Gaussian inputs and targets", *gauss), ("inputs U[1, 2], targets U[−2, −1]", *shifted),
            ("binary inputs, Gaussian targets", *bits)]


@claim("remark-2.2/functional-lop-persists",
       "Remark 2.2: functional LoP (tangency for every data distribution) persists when the task or data change — "
       "M_C of a cloned network",
       method="numeric",
       quote="Such LoP arises from the network architecture and gradient descent dynamics alone and is particularly "
             "relevant as it persists even if the task or data distribution evolves.",
       location="Remark 2.2",
       reading="The cloning manifold M_C (Theorem 2.1 (2)) as the functional LoP manifold: tangency for unrelated "
               "datasets, and persistence through a change of task during training.")
def functional_lop_persists(ctx: Context) -> Outcome:
    rows, worst = [], 0.0
    for s in range(ctx.seed, ctx.seed + (4 if ctx.thorough else 2)):
        net, part, _ = cloned_random_dag(seed=s)
        data = _datasets(s)
        tangency = max(tangency_residuals(net, part, x, y, kinds=("C",))["C"] for _, x, y in data)
        distance = 0.0
        model = net
        for _, x, y in data:  # task changes: train on each dataset in turn from where the last one ended
            traj = run_trajectory(model, part, x, y, optimizer=OptimizerSpec("sgd", LR), steps=STEPS, batch_size=4, seed=s,
                                  keep_thetas=True)
            distance = max(distance, max(traj.distance_C))
            model = model.copy_with(traj.thetas[-1])
            part = Partition(model, part.blocks)
        worst = max(worst, tangency, distance)
        rows.append(f"cloned_random_dag(seed={s}): max tangency residual {tangency:.1g}, max distance to M_C "
                    f"{distance:.1g} (loss on the last task {traj.loss[0]:.3g} → {traj.loss[-1]:.3g})")
    return Outcome("holds" if worst < EXACT_TOL else "refuted", margin=worst,
                   detail="datasets: " + "; ".join(n for n, _, _ in _datasets(ctx.seed)) + ". ‖P_N ∇L‖/‖∇L‖ on M_C for "
                          f"each, then {STEPS} mini-batch SGD steps on each dataset in turn (the task changes twice): "
                          + "; ".join(rows) + ". M_C is defined by the partition alone, without reference to data.")


@claim("remark-2.2/frozen-manifold-data-dependent",
       "M_F is not functional: a unit dead on one input distribution is alive on another, and M_F then stops being "
       "an LoP manifold (unless θ_in(v) has zero weights and a negative bias)",
       method="numeric", subject="extension",
       quote="If the conditions in Definition 2.1 hold irrespective of the specific data distribution generating the "
             "loss \\mathcal{L} , which we can think of as functional LoP, and is our primary area of interest.",
       location="Remark 2.2")
def frozen_manifold_data_dependent(ctx: Context) -> Outcome:
    net, x, y = _relu_net()
    unit = "h0_1"
    dead = _killed(net, x, unit, SATURATION_MARGIN)
    on_a = _frozen_tangency(dead, dead.flat_parameters(), x, y, unit)
    shifted = -3.0 * x  # the same unit sees the reflected, scaled inputs
    on_b = _frozen_tangency(dead, dead.flat_parameters(), shifted, y, unit)
    theta = dead.flat_parameters()
    idx = [dead.edge_index[(u, unit)] for u in dead.graph.predecessors(unit)]
    theta[idx] = 0.0
    zeroed = dead.copy_with(theta)
    universal = max(_frozen_tangency(zeroed, theta, xb, y, unit) for xb in (x, shifted, 100.0 * x))
    ok = on_a == 0.0 and on_b > ESCAPE_TOL and universal == 0.0
    return Outcome("holds" if ok else "refuted", margin=on_b,
                   detail=f"ReLU unit {unit} of mlp(3, [4, 3], 1, seed=3), killed on x = teacher_batch(3, 1, 32, seed=3) "
                          f"(bias −max z − {SATURATION_MARGIN}): ‖P_N ∇L‖/‖∇L‖ on M_F = {on_a:g} on x, {on_b:.3g} on "
                          f"−3x. With its incoming weights set to 0 (bias < 0) it is dead for every input: residual "
                          f"{universal:g} on x, −3x and 100x — the only functional frozen manifold of a ReLU unit.")


# ---------------------------------------------------------------------------- input and output nodes
def _input_block_net(equal_inputs: bool) -> tuple[DagNet, Partition, torch.Tensor, torch.Tensor]:
    """x0, x1 (one block) → {a, b} with a doubly equitable 2×2 block → y."""
    G = nx.DiGraph()
    for v in "ab":
        G.add_node(v, activation="tanh")
    G.add_node("y", activation="linear")
    for (u, v), w in {("x0", "a"): 0.3, ("x1", "a"): 0.5, ("x0", "b"): 0.5, ("x1", "b"): 0.3,
                      ("a", "y"): 0.7, ("b", "y"): 0.7}.items():
        G.add_edge(u, v, weight=w)
    net = DagNet.from_networkx(G, inputs=["x0", "x1"], outputs=["y"])
    part = Partition(net, [["x0", "x1"], ["a", "b"], ["y"]], io_singletons=False)
    x, y = teacher_batch(2, 1, 16, seed=5)
    if equal_inputs:
        x = x[:, :1].repeat(1, 2)
    return net, part, x, y


def _output_block_net(equal_targets: bool) -> tuple[DagNet, Partition, torch.Tensor, torch.Tensor]:
    """x → {a, b} → {y0, y1} (one block) with a doubly equitable 2×2 block."""
    G = nx.DiGraph()
    for v in "ab":
        G.add_node(v, activation="tanh")
    for v in ("y0", "y1"):
        G.add_node(v, activation="linear")
    for (u, v), w in {("x", "a"): 0.6, ("x", "b"): 0.6, ("a", "y0"): 0.2, ("a", "y1"): 0.4, ("b", "y0"): 0.4,
                      ("b", "y1"): 0.2}.items():
        G.add_edge(u, v, weight=w)
    net = DagNet.from_networkx(G, inputs=["x"], outputs=["y0", "y1"])
    part = Partition(net, [["x"], ["a", "b"], ["y0", "y1"]], io_singletons=False)
    x, y = teacher_batch(1, 2, 16, seed=6)
    if equal_targets:
        y = y[:, :1].repeat(1, 2)
    return net, part, x, y


@functools.cache
def _io_outcomes(equal: bool) -> tuple[tuple[str, float, float, float, float], ...]:
    """(case, forward spread, backward spread, gradient spread, distance to M_C after GD) for both cases."""
    out = []
    for name, build in (("input block {x0, x1}", _input_block_net), ("output block {y0, y1}", _output_block_net)):
        net, part, x, y = build(equal)
        rep = cloning_report(net, part, x, y)
        traj = run_trajectory(net, part, x, y, optimizer=OptimizerSpec("sgd", LR), steps=STEPS)
        out.append((name, rep.forward, rep.backward, rep.gradient, max(traj.distance_C)))
    return tuple(out)


def _io_rows(rows: tuple[tuple[str, float, float, float, float], ...]) -> str:
    return "; ".join(f"{n}: forward spread {f:.3g}, δ spread {b:.3g}, gradient off block-constant {g:.3g}, distance "
                     f"to M_C after {STEPS} GD steps {d:.3g}" for n, f, b, g, d in rows)


IO_SETUP = ("weights on the manifold (doubly equitable 2×2 blocks, row and column sums equal, not block-constant); "
            "x = teacher_batch(2, 1, 16, seed=5) (input case), teacher_batch(1, 2, 16, seed=6) (output case)")


def _io_refuted(theorem: str) -> Outcome:
    rows = _io_outcomes(equal=False)
    (_, f_in, _, g_in, d_in), (_, _, b_out, _, d_out) = rows
    broken = f_in > ESCAPE_TOL and g_in > ESCAPE_TOL and d_in > ESCAPE_TOL and b_out > ESCAPE_TOL and d_out > ESCAPE_TOL
    return Outcome("refuted" if broken else "holds", margin=min(f_in, b_out),
                   summary=f"two inputs in one block feed clones that differ by {f_in:.3g}, two outputs in one block "
                           f"have adjoints that differ by {b_out:.3g}; GD leaves M_C (by {d_in:.3g} and {d_out:.3g})",
                   detail=f"{theorem} as stated puts no condition on input and output nodes. Counterexamples, {IO_SETUP}: "
                          + _io_rows(rows) + ". Two inputs in one block carry different values, so the clones they "
                          "feed differ (and ∂L/∂w(x_i, ·) = x_i δ is not block-constant); two outputs in one block have "
                          "different adjoints when their targets differ. The proof assumes both are singleton blocks "
                          "('cloning does not apply to input units', 'output units are not themselves cloned').")


def _io_corrected() -> Outcome:
    rows = _io_outcomes(equal=True)
    worst = max(max(r[1:]) for r in rows)
    return Outcome("holds" if worst < EXACT_TOL else "refuted", margin=worst,
                   detail=f"same networks, {IO_SETUP}, but the input block's coordinates equal on every example and the "
                          "output block's targets equal: " + _io_rows(rows) + ". Singleton input and output blocks are "
                          "the special case the proof uses (every existing theorem-2.1 / theorem-A.1 check).")


A1_QUOTE = ("Let $G = (V, E, W)$, denote a network that is partitioned with S_1, \\dots, S_k . Furthermore, units "
            "within a single block share the same activation function $\\forall u, v \\in S_k : f_v = f_u$, and "
            "there are no edges within a block.")
T21_QUOTE = ("Assume a partitioning of nodes into disjoint blocks $\\{S_1, \\dots, S_k\\}$ exists with following "
             "properties.")
IO_READING = ("'A partitioning of nodes' includes the input and output nodes; the statement does not require them to "
              "be singleton blocks (only the proof does).")


@claim("theorem-A.1/input-output-blocks",
       "Theorem A.1 holds for any partition of V (input and output nodes may share blocks)",
       method="numeric", expected="refuted", quote=A1_QUOTE, location="Theorem A.1 (hypotheses)", reading=IO_READING)
def theorem_a1_input_output_blocks(ctx: Context) -> Outcome:
    return _io_refuted("Theorem A.1")


@claim("theorem-A.1/input-output-blocks-corrected",
       "Corrected: Theorem A.1 needs every input block's coordinates equal on each example and every output block's "
       "adjoints ∂L/∂h equal (e.g. singleton input and output blocks)",
       method="numeric", subject="correction", corrects="theorem-A.1/input-output-blocks",
       quote=A1_QUOTE, location="Theorem A.1 (hypotheses)")
def theorem_a1_input_output_blocks_corrected(ctx: Context) -> Outcome:
    return _io_corrected()


@claim("theorem-2.1/input-output-blocks",
       "Theorem 2.1 (2) holds for any partition of the nodes into blocks (inputs and outputs included)",
       method="numeric", expected="refuted", quote=T21_QUOTE, location="Theorem 2.1 (2)", reading=IO_READING)
def theorem_2_1_input_output_blocks(ctx: Context) -> Outcome:
    return _io_refuted("Theorem 2.1 (2)")


@claim("theorem-2.1/input-output-blocks-corrected",
       "Corrected: Theorem 2.1 (2) holds when input blocks carry equal coordinates and output blocks equal adjoints "
       "(e.g. singleton input and output blocks)",
       method="numeric", subject="correction", corrects="theorem-2.1/input-output-blocks",
       quote=T21_QUOTE, location="Theorem 2.1 (2)")
def theorem_2_1_input_output_blocks_corrected(ctx: Context) -> Outcome:
    return _io_corrected()

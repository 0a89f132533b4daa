"""Approximate clone blocks: the coarsest equitable partition at a tolerance chosen from the weights.

:func:`dag_nets.refine.coarsest_equitable_partition` compares block sums with an absolute tolerance
``tol`` (single linkage: values closer than ``tol`` merge). Exact clones (Theorem 2.1 part 2, e.g. made
by ``experiments.cloning.expand``) agree up to float64 round-off; clones that training, float32 storage
or a small perturbation has moved apart agree only approximately. The rule that picks ``tol``:

1. **Floor** t₀ = d · ε · S, the float64 round-off bound of the sums refinement compares (d the largest
   node degree, ε = 2⁻⁵², S the largest of max_v Σ_u |w(u, v)|, max_u Σ_v |w(u, v)| and max |b|): sums
   of exact clones differ by at most about this.
2. **Ceiling** t_max = :data:`CEILING_RTOL` · RMS(w) (1 % of the root-mean-square edge weight): units whose
   weights differ by more are not called clones, however stable their partition is.
3. **Ladder** t_j = t₀ · :data:`LADDER_STEP`^j (a decade apart) up to t_max, with the ceiling itself as
   the last rung, and the partition P_j at each.
4. **Pick** the largest j ≥ 1 whose partition equals the one a rung below, P_j = P_{j−1}: the coarsest
   partition that persists over a decade of tolerance (clone noise lies at one scale, the spacing of
   distinct units' sums at another; a decade between them is the evidence). Its ``tol`` is the lowest
   rung of that plateau (the tightest tolerance that gives it); without any plateau the floor is used.

``exact`` says whether the partition already appears at the floor (equitable to round-off). How far the
weights are from exact equitability is measured on the result itself: the M_C residual (the largest
spread of row sums, column sums and block biases, :meth:`Cloning.residual`) and the relative distance
‖θ − P_C θ‖ / ‖θ‖ to the cloning manifold (its orthogonal projection P_C). Inputs and outputs stay
singletons (the paper's "cloning does not apply to input units").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from dag_nets.graph import DagNet
from dag_nets.manifolds import manifold
from dag_nets.partition import Partition
from dag_nets.refine import equitable_colouring, partition_of_colouring
from dag_nets.validation import check_parameters, check_real

CEILING_RTOL = 1e-2
"""Largest tolerance tried, relative to the RMS edge weight (rule step 2)."""
LADDER_STEP = 10.0
"""Ratio of consecutive tolerances; a partition must persist over one step (a decade) to be picked."""
EPS64 = float(np.finfo(np.float64).eps)


def roundoff_floor(net: DagNet) -> float:
    """t₀ = d · ε · S (module docstring, rule step 1)."""
    w = net.edge_weight.detach().double().cpu().numpy()
    src, dst = net.edge_src.cpu().numpy(), net.edge_dst.cpu().numpy()
    n = net.num_nodes
    aw = np.abs(w)
    into = np.bincount(dst, weights=aw, minlength=n)
    out = np.bincount(src, weights=aw, minlength=n)
    degree = np.bincount(dst, minlength=n) + np.bincount(src, minlength=n)
    b = net.bias.detach().double().abs().cpu().numpy()
    scale = max(float(into.max(initial=0.0)), float(out.max(initial=0.0)), float(b.max(initial=0.0)))
    return float(degree.max(initial=1)) * EPS64 * scale


def tolerance_ladder(net: DagNet) -> np.ndarray:
    """t₀, 10 t₀, … below t_max, then t_max (rule step 3); just [t₀] when t_max ≤ t₀."""
    floor = roundoff_floor(net)
    w = net.edge_weight.detach().double()
    ceiling = CEILING_RTOL * float(torch.sqrt((w * w).mean())) if w.numel() else 0.0
    if not ceiling > floor or floor == 0.0:
        return np.array([floor])
    count = int(np.floor(np.log(ceiling / floor) / np.log(LADDER_STEP) + 1e-9))
    rungs = floor * LADDER_STEP ** np.arange(count + 1)
    if rungs[-1] < ceiling:
        rungs = np.append(rungs, ceiling)
    return rungs


@dataclass
class ApproximatePartition:
    """The chosen partition and how it was chosen (module docstring).

    ``colouring``: block id of every node (``net.nodes`` order); ``partition``: the validated
    :class:`Partition`, or None when every block is a singleton (nothing cloned; building it would cost time
    for nothing); ``ladder``/``blocks``: the tolerances tried and the number of blocks at each; ``plateau``:
    the tolerance range over which the chosen partition was seen; ``residual``/``relative_distance``: the
    M_C residual and ‖θ − P_C θ‖/‖θ‖ (0 for a trivial partition)."""

    colouring: np.ndarray
    partition: Partition | None
    tol: float
    floor: float
    ladder: np.ndarray
    blocks: list[int]
    plateau: tuple[float, float]
    exact: bool
    residual: float
    relative_distance: float
    chosen_by: str
    sizes: list[int] = field(default_factory=list)

    @property
    def num_blocks(self) -> int:
        return int(self.colouring.max()) + 1 if len(self.colouring) else 0

    @property
    def trivial(self) -> bool:
        return self.partition is None


def _finish(
    net: DagNet,
    colour: np.ndarray,
    tol: float,
    floor: float,
    ladder: np.ndarray,
    blocks: list[int],
    plateau: tuple[float, float],
    exact: bool,
    chosen_by: str,
) -> ApproximatePartition:
    sizes = np.bincount(colour)
    if np.all(sizes == 1):
        part = None
        residual = distance = 0.0
    else:
        part = partition_of_colouring(net, colour)
        theta = net.flat_parameters()
        M = manifold("C", part)
        residual = M.residual(theta)
        norm = float(torch.linalg.vector_norm(theta))
        distance = M.distance(theta) / norm if norm > 0 else 0.0
    return ApproximatePartition(
        colour,
        part,
        tol,
        floor,
        ladder,
        blocks,
        plateau,
        exact,
        residual,
        distance,
        chosen_by,
        sorted((int(s) for s in sizes if s > 1), reverse=True),
    )


def approximate_equitable_partition(net: DagNet, tol: float | None = None) -> ApproximatePartition:
    """The coarsest approximately equitable partition of ``net`` with the tolerance of the module docstring's
    rule, or at the given ``tol`` (then ``chosen_by`` is "given" and no ladder is run)."""
    check_parameters(net)
    floor = roundoff_floor(net)
    if tol is not None:
        tol = check_real(tol, "tol", low=0.0)
        colour = equitable_colouring(net, tol)
        exact = tol <= floor or np.array_equal(colour, equitable_colouring(net, floor))
        return _finish(
            net, colour, tol, floor, np.array([tol]), [int(colour.max()) + 1], (tol, tol), exact, "given"
        )
    ladder = tolerance_ladder(net)
    colours = [equitable_colouring(net, float(t)) for t in ladder]
    blocks = [int(c.max()) + 1 for c in colours]
    pick = 0
    for j in range(len(ladder) - 1, 0, -1):
        if np.array_equal(colours[j], colours[j - 1]):
            pick = j
            break
    low = pick
    while low > 0 and np.array_equal(colours[low - 1], colours[pick]):
        low -= 1
    chosen_by = "plateau" if pick > 0 else "floor (no partition persisted over a decade)"
    return _finish(
        net,
        colours[pick],
        float(ladder[low]),
        floor,
        ladder,
        blocks,
        (float(ladder[low]), float(ladder[pick])),
        low == 0,
        chosen_by,
    )

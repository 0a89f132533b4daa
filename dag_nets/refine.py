"""Coarsest equitable partition by weighted colour refinement (Theorem 2.1 part 2, Appendix A.3).

Find the coarsest partition of a DagNet's nodes — inputs and outputs fixed as singletons, one
activation per block, equal biases within a block — whose inter-block weight matrices are all row-
and column-equitable (missing edges count as weight 0). This is the largest cloning structure the
weights certify: by Theorem A.1 the units of each block are clones.

Algorithm (weighted 1-dimensional Weisfeiler–Leman refinement). Start from the colouring
(input/output identity, topological depth, activation, bias class). Repeat until no block splits: for
every node v and every current block B compute the incoming sum Σ_{u∈B} w(u, v) (column sums, CE)
and the outgoing sum Σ_{u∈B} w(v, u) (row sums, RE); split each block so that its nodes agree on
all these sums. With exact arithmetic this converges to the coarsest equitable partition refining
the start colouring (the stable colouring of colour refinement is the unique coarsest one).

What ``tol`` means. Real numbers are compared with an absolute tolerance by 1-D single-linkage
clustering: the values of one block are sorted (ties broken by node position, so the result is
deterministic) and a new class starts wherever two *consecutive* sorted values differ by more than
``tol``. Values closer than ``tol`` are therefore merged, and chains of such steps can merge values
further apart than ``tol`` (a, a+0.9 tol, a+1.8 tol form one class). A class's spread is at most
(size − 1)·tol. Biases use the same rule. ``tol=0`` demands exact equality.

Order within a round. The sums of a round are taken over the blocks at the start of the round; the
blocks are then split by one sum at a time — block by block in order of their first node, the
incoming sums before the outgoing ones — each split acting on the classes the previous splits left.
Where every tolerance class has spread ≤ ``tol`` (always for ``tol=0``, and whenever the sums of clones
agree to within ``tol`` and differ from the others by more) the order does not matter and the round is
the common refinement of all the splits, computed at once: one sort of the edges by (node, neighbour
block) for the sums, one sort of the sums by (block, direction, neighbour block, value) for the
classes, and a node's new colour is its old colour with the set of tolerance classes in which it
deviates from the block's zero class (hashed with two independent 64-bit mixes, the resulting
partition then verified exactly). Otherwise — a chain wider than ``tol``, or a hash collision — the
round is redone split by split in the order above. A round costs O((E + n) log E), the same as a
plain sort-based colour refinement.

Depth. Blocks never mix topological depths (longest path from an input); this guarantees no edge
lies inside a block. For weights without cancellations (e.g. generic or all-nonzero block sums) clones
always share their depth, so nothing is lost; an equitable partition that needs mixed depths exists
only when some block sums cancel to zero.
"""

from __future__ import annotations

import itertools

import numpy as np

from dag_nets.graph import DagNet
from dag_nets.partition import Partition

DEFAULT_REFINE_TOL = 1e-9
"""Default absolute tolerance: float64 round-off of sums of O(1) weights over moderately sized blocks."""

_MIX_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_B = np.uint64(0xBF58476D1CE4E5B9)
_MIX_C = np.uint64(0x94D049BB133111EB)


def tolerance_classes(values: np.ndarray, tol: float) -> np.ndarray:
    """Class labels 0, 1, … of 1-D single-linkage clustering at gap ``tol`` (see the module docstring).

    Labels increase with value; equal values (and values chained within ``tol``) share a label.
    """
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    gaps = np.diff(values[order]) > tol
    labels_sorted = np.concatenate([[0], np.cumsum(gaps)])
    labels = np.empty(len(values), dtype=np.int64)
    labels[order] = labels_sorted
    return labels


def _first_occurrence(labels: np.ndarray) -> np.ndarray:
    """Renumber integer labels 0, 1, … in order of their first occurrence (node order)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]


def _mix(x: np.ndarray, salt: np.uint64) -> np.ndarray:
    """splitmix64 of ``x + salt`` (a fixed, well-spread 64-bit hash of integers)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + salt
        z = (z ^ (z >> np.uint64(30))) * _MIX_B
        z = (z ^ (z >> np.uint64(27))) * _MIX_C
        return z ^ (z >> np.uint64(31))


def _clusters(group: np.ndarray, values: np.ndarray, tol: float) -> tuple[np.ndarray, bool]:
    """Single-linkage classes of ``values`` within each ``group`` at gap ``tol``.

    Returns (cluster id of each entry — distinct across groups and increasing with the value inside a
    group, whether some class is a chain wider than ``tol``).
    """
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    start = np.ones(len(g), dtype=bool)
    start[1:] = (g[1:] != g[:-1]) | (np.diff(v) > tol)
    cid_sorted = np.cumsum(start) - 1
    cluster = np.empty(len(g), dtype=np.int64)
    cluster[order] = cid_sorted
    first = np.flatnonzero(start)
    last = np.concatenate([first[1:], [len(g)]]) - 1
    chained = bool(np.any(v[last] - v[first] > tol)) if len(g) else False
    return cluster, chained


def _split_by_column(colour: np.ndarray, values: np.ndarray, tol: float) -> np.ndarray:
    """Refine ``colour`` so that nodes of one class also agree (within tol) on ``values`` (one column)."""
    cluster, _ = _clusters(colour, values, tol)
    return _first_occurrence(cluster)


def _block_sums(target: np.ndarray, neighbour_colour: np.ndarray, w: np.ndarray, k: int):
    """Σ w over edges grouped by (target node, colour of the other end), summed in edge order."""
    key = target * k + neighbour_colour
    uniq, inverse = np.unique(key, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=w, minlength=len(uniq))
    return uniq // k, uniq % k, sums


def _round_entries(colour: np.ndarray, src: np.ndarray, dst: np.ndarray, w: np.ndarray):
    """Every (node, direction, neighbour block, sum) of a round, for nodes of non-singleton classes.

    Direction 0: incoming sums (column sums), 1: outgoing sums (row sums).
    """
    k = int(colour.max()) + 1
    size = np.bincount(colour, minlength=k)
    parts = []
    for side, (mine, other) in enumerate(((dst, src), (src, dst))):
        keep = size[colour[mine]] > 1
        node, blk, sums = _block_sums(mine[keep], colour[other[keep]], w[keep], k)
        parts.append((node, np.full(len(node), side, dtype=np.int64), blk, sums))
    node, direction, blk, sums = (np.concatenate(x) for x in zip(*parts))
    return node, direction, blk, sums, size, k


def _round_at_once(colour, node, direction, blk, sums, size, k, tol) -> np.ndarray | None:
    """The round as the common refinement of all its splits, or None where the order matters (a chain
    wider than ``tol``) or the hashed partition fails its exact check."""
    n = len(colour)
    if len(node) == 0:
        return colour
    gkey = (colour[node] * 2 + direction) * k + blk
    groups, ginv, gcount = np.unique(gkey, return_inverse=True, return_counts=True)
    ginv = ginv.ravel()
    untouched = size[groups // (2 * k)] - gcount
    virtual = np.flatnonzero(untouched > 0)  # groups whose other members have the implicit sum 0
    m = len(node)
    all_group = np.concatenate([ginv, virtual])
    all_value = np.concatenate([sums, np.zeros(len(virtual))])
    cluster, chained = _clusters(all_group, all_value, tol)
    if chained:
        return None
    zero_cluster = np.full(len(groups), -1, dtype=np.int64)
    zero_cluster[virtual] = cluster[m:]
    real = cluster[:m]
    deviating = real != zero_cluster[ginv]
    dev_node, dev_cluster, dev_group = node[deviating], real[deviating], ginv[deviating]
    h1 = np.zeros(n, dtype=np.uint64)
    h2 = np.zeros(n, dtype=np.uint64)
    if len(dev_node):
        np.add.at(h1, dev_node, _mix(dev_cluster, _MIX_A))
        np.add.at(h2, dev_node, _mix(dev_cluster, _MIX_B))
    order = np.lexsort((h2, h1, colour))
    c, a, b = colour[order], h1[order], h2[order]
    new_sorted = np.concatenate([[0], np.cumsum((c[1:] != c[:-1]) | (a[1:] != a[:-1]) | (b[1:] != b[:-1]))])
    new = np.empty(n, dtype=np.int64)
    new[order] = new_sorted
    # Exact check: inside every new class, each group's deviating entries are all present and agree.
    if len(dev_node):
        new_size = np.bincount(new)
        key = new[dev_node] * len(groups) + dev_group
        kuniq, kinv, kcount = np.unique(key, return_inverse=True, return_counts=True)
        kinv = kinv.ravel()
        lo = np.full(len(kuniq), np.iinfo(np.int64).max)
        hi = np.full(len(kuniq), -1)
        np.minimum.at(lo, kinv, dev_cluster)
        np.maximum.at(hi, kinv, dev_cluster)
        if np.any(lo != hi) or np.any(kcount != new_size[kuniq // len(groups)]):
            return None
    return _first_occurrence(new)


def _round_in_order(colour, node, direction, blk, sums, tol) -> np.ndarray:
    """The round split by split: block by block (first-node order), incoming before outgoing sums."""
    new = colour.copy()
    size = np.bincount(new, minlength=len(new)).astype(np.int64)
    next_id = int(new.max()) + 1
    order = np.lexsort((direction, blk))
    col = blk[order] * 2 + direction[order]
    bounds = np.flatnonzero(np.concatenate([[True], col[1:] != col[:-1], [True]]))
    for a, b in itertools.pairwise(bounds):
        ids = order[a:b]
        ns, vs = node[ids], sums[ids]
        cls = new[ns]
        uniq, inv, count = np.unique(cls, return_inverse=True, return_counts=True)
        inv = inv.ravel()
        virtual = np.flatnonzero(size[uniq] > count)
        m = len(ns)
        cluster, _ = _clusters(
            np.concatenate([inv, virtual]), np.concatenate([vs, np.zeros(len(virtual))]), tol
        )
        keep = np.full(len(uniq), -1, dtype=np.int64)
        keep[virtual] = cluster[m:]
        # Classes without untouched members keep the cluster of their smallest sum.
        touched_all = keep < 0
        if np.any(touched_all):
            first_cluster = np.full(len(uniq), np.iinfo(np.int64).max)
            np.minimum.at(first_cluster, inv, cluster[:m])
            keep[touched_all] = first_cluster[touched_all]
        moving = cluster[:m] != keep[inv]
        if not np.any(moving):
            continue
        move_nodes, move_cluster = ns[moving], cluster[:m][moving]
        fresh, fresh_inv = np.unique(move_cluster, return_inverse=True)
        np.subtract.at(size, new[move_nodes], 1)
        new[move_nodes] = next_id + fresh_inv.ravel()
        size = np.concatenate([size, np.zeros(len(fresh), dtype=np.int64)])
        np.add.at(size, new[move_nodes], 1)
        next_id += len(fresh)
    return _first_occurrence(new)


def start_colouring(net: DagNet, tol: float) -> np.ndarray:
    """The refinement's start: inputs and outputs singletons, others by (depth, activation), split by bias."""
    n, n_in = net.num_nodes, len(net.inputs)
    io = np.zeros(n, dtype=bool)
    io[[net.index[v] for v in list(net.inputs) + list(net.outputs)]] = True
    act_ids: dict[tuple, int] = {}
    acts = np.full(n, -1, dtype=np.int64)
    for i, v in enumerate(net.bias_nodes):
        acts[n_in + i] = act_ids.setdefault(net.node_activation[v].key, len(act_ids))
    ident = np.where(io, np.arange(n), -1)
    keys = np.stack([ident, net.node_depths(), acts], axis=1)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    colour = _first_occurrence(inverse.ravel())
    bias = np.zeros(n)
    bias[n_in:] = net.bias.detach().cpu().numpy()
    return _split_by_column(colour, bias, tol)


def equitable_colouring(
    net: DagNet, tol: float = DEFAULT_REFINE_TOL, max_rounds: int | None = None
) -> np.ndarray:
    """Colour of every node (``net.nodes`` order, numbered by first occurrence) of the coarsest equitable
    partition (module docstring); :func:`coarsest_equitable_partition` wraps it in a :class:`Partition`."""
    if not isinstance(net, DagNet):
        raise TypeError(f"net must be a DagNet, got {type(net).__name__}")
    if isinstance(tol, bool) or not (isinstance(tol, (int, float)) and np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number ≥ 0, got {tol!r}")
    if max_rounds is not None and (
        isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 0
    ):
        raise ValueError(f"max_rounds must be None or an integer ≥ 0, got {max_rounds!r}")
    src = net.edge_src.cpu().numpy()
    dst = net.edge_dst.cpu().numpy()
    w = net.edge_weight.detach().cpu().numpy().astype(np.float64)
    colour = start_colouring(net, tol)
    limit = net.num_nodes if max_rounds is None else max_rounds
    for _ in range(limit):
        node, direction, blk, sums, size, k = _round_entries(colour, src, dst, w)
        new = _round_at_once(colour, node, direction, blk, sums, size, k, tol)
        if new is None:
            new = _round_in_order(colour, node, direction, blk, sums, tol)
        if int(new.max()) == int(colour.max()):
            break
        colour = new
    return colour


def coarsest_equitable_partition(
    net: DagNet, tol: float = DEFAULT_REFINE_TOL, max_rounds: int | None = None
) -> Partition:
    """The coarsest equitable partition of ``net`` (module docstring), as a validated :class:`Partition`."""
    return partition_of_colouring(net, equitable_colouring(net, tol, max_rounds))


def partition_of_colouring(net: DagNet, colour: np.ndarray) -> Partition:
    """The validated :class:`Partition` whose blocks are the colour classes (``net.nodes`` order)."""
    order = np.argsort(colour, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(colour))])
    nodes = net.nodes
    blocks = [[nodes[i] for i in order[a:b]] for a, b in itertools.pairwise(bounds)]
    return Partition(net, blocks)

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

Depth. Blocks never mix topological depths (longest path from an input); this guarantees no edge
lies inside a block. For weights without cancellations (e.g. generic or all-nonzero block sums) clones
always share their depth, so nothing is lost; an equitable partition that needs mixed depths exists
only when some block sums cancel to zero.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from dag_nets.graph import DagNet
from dag_nets.partition import Partition

DEFAULT_REFINE_TOL = 1e-9
"""Default absolute tolerance: float64 round-off of sums of O(1) weights over moderately sized blocks."""


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


def _depths(net: DagNet) -> np.ndarray:
    depth = np.zeros(net.num_nodes, dtype=np.int64)
    src, dst = net.edge_src.cpu().numpy(), net.edge_dst.cpu().numpy()
    for e in range(len(src)):  # edges are sorted by target position, a topological order
        depth[dst[e]] = max(depth[dst[e]], depth[src[e]] + 1)
    return depth


def _relabel(keys: list[tuple]) -> np.ndarray:
    """Dense integer colours, numbered by first occurrence in node order (deterministic)."""
    table: dict[tuple, int] = {}
    return np.asarray([table.setdefault(k, len(table)) for k in keys], dtype=np.int64)


def _split_by(colour: np.ndarray, column: np.ndarray, tol: float) -> np.ndarray:
    """Refine ``colour`` so that nodes of one class also agree (within tol) on ``column``."""
    keys = []
    sub = np.zeros(len(colour), dtype=np.int64)
    for c in np.unique(colour):
        members = np.flatnonzero(colour == c)
        vals = column[members]
        if np.ptp(vals) > tol:
            sub[members] = tolerance_classes(vals, tol)
    keys = list(zip(colour.tolist(), sub.tolist()))
    return _relabel(keys)


def coarsest_equitable_partition(net: DagNet, tol: float = DEFAULT_REFINE_TOL, max_rounds: int | None = None) -> Partition:
    """The coarsest equitable partition of ``net`` (module docstring), as a validated :class:`Partition`."""
    if not isinstance(net, DagNet):
        raise TypeError(f"net must be a DagNet, got {type(net).__name__}")
    if not (isinstance(tol, (int, float)) and np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number ≥ 0, got {tol!r}")
    n = net.num_nodes
    src = net.edge_src.cpu().numpy()
    dst = net.edge_dst.cpu().numpy()
    w = net.edge_weight.detach().cpu().numpy().astype(np.float64)
    W = sp.csr_matrix((w, (src, dst)), shape=(n, n))
    io = {net.index[v] for v in list(net.inputs) + list(net.outputs)}
    depth = _depths(net)
    act_ids: dict[tuple, int] = {}
    acts = [-1 if i < len(net.inputs) else act_ids.setdefault(net.node_activation[net.nodes[i]].key, len(act_ids))
            for i in range(n)]
    start = [(i if i in io else -1, int(depth[i]), acts[i]) for i in range(n)]
    colour = _relabel(start)
    bias = np.zeros(n)
    bias[len(net.inputs) :] = net.bias.detach().cpu().numpy()
    colour = _split_by(colour, bias, tol)
    rounds = 0
    limit = n if max_rounds is None else max_rounds
    while rounds < limit:
        rounds += 1
        k = int(colour.max()) + 1
        indicator = sp.csr_matrix((np.ones(n), (np.arange(n), colour)), shape=(n, k))
        into = (W.T @ indicator).toarray() if k * n <= 50_000_000 else None
        outof = (W @ indicator).toarray() if into is not None else None
        new = colour
        for b in range(k):
            col_in = into[:, b] if into is not None else np.asarray((W.T @ indicator[:, b]).todense()).ravel()
            col_out = outof[:, b] if outof is not None else np.asarray((W @ indicator[:, b]).todense()).ravel()
            new = _split_by(new, col_in, tol)
            new = _split_by(new, col_out, tol)
        if int(new.max()) == int(colour.max()):
            break
        colour = new
    blocks: dict[int, list] = {}
    for i, c in enumerate(colour.tolist()):
        blocks.setdefault(c, []).append(net.nodes[i])
    return Partition(net, list(blocks.values()))

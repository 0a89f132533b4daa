"""The colour refinement as it was before the sort-based rounds (kept verbatim as the tests' reference).

Per round it forms the in- and out-sums of every node into every block (dense when small) and splits
block by block in order, each split a loop over the classes with a full scan.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from dag_nets.graph import DagNet
from dag_nets.refine import tolerance_classes


def _depths(net: DagNet) -> np.ndarray:
    depth = np.zeros(net.num_nodes, dtype=np.int64)
    src, dst = net.edge_src.cpu().numpy(), net.edge_dst.cpu().numpy()
    for e in range(len(src)):  # edges are sorted by target position, a topological order
        depth[dst[e]] = max(depth[dst[e]], depth[src[e]] + 1)
    return depth


def _relabel(keys: list[tuple]) -> np.ndarray:
    table: dict[tuple, int] = {}
    return np.asarray([table.setdefault(k, len(table)) for k in keys], dtype=np.int64)


def _split_by(colour: np.ndarray, column: np.ndarray, tol: float) -> np.ndarray:
    sub = np.zeros(len(colour), dtype=np.int64)
    for c in np.unique(colour):
        members = np.flatnonzero(colour == c)
        vals = column[members]
        if np.ptp(vals) > tol:
            sub[members] = tolerance_classes(vals, tol)
    keys = list(zip(colour.tolist(), sub.tolist()))
    return _relabel(keys)


def reference_colouring(net: DagNet, tol: float, max_rounds: int | None = None) -> np.ndarray:
    """Colour per node (first-occurrence numbering) exactly as the former implementation computed it."""
    n = net.num_nodes
    src = net.edge_src.cpu().numpy()
    dst = net.edge_dst.cpu().numpy()
    w = net.edge_weight.detach().cpu().numpy().astype(np.float64)
    W = sp.csr_matrix((w, (src, dst)), shape=(n, n))
    io = {net.index[v] for v in list(net.inputs) + list(net.outputs)}
    depth = _depths(net)
    act_ids: dict[tuple, int] = {}
    acts = [
        -1 if i < len(net.inputs) else act_ids.setdefault(net.node_activation[net.nodes[i]].key, len(act_ids))
        for i in range(n)
    ]
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
        into = (W.T @ indicator).toarray()
        outof = (W @ indicator).toarray()
        new = colour
        for b in range(k):
            new = _split_by(new, into[:, b], tol)
            new = _split_by(new, outof[:, b], tol)
        if int(new.max()) == int(colour.max()):
            break
        colour = new
    return colour

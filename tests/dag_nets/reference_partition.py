"""Partition construction as it was before the sort-based index (kept as the tests' reference).

Per-edge Python loops: the validation of every edge and block, the grouping of the edges into block
pairs, and the numbering of the (pair, row) and (pair, column) keys by first appearance.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from dag_nets.graph import DagNet, Node


def reference_index(net: DagNet, blocks: Sequence[Sequence[Hashable]], io_singletons: bool = True) -> dict:
    """The canonical blocks and every index array of ``Partition(net, blocks)``; raises the same errors."""
    block_of: dict[Node, int] = {}
    canon: list[list[Node]] = []
    for b, block in enumerate(blocks):
        members = list(block)
        if not members:
            raise ValueError(f"block {b} is empty")
        for v in members:
            if v not in net.index:
                raise ValueError(f"block {b} contains {v!r}, which is not a node of the network")
            if v in block_of:
                raise ValueError(
                    f"node {v!r} is in block {block_of[v]} and block {b}; blocks must be disjoint"
                )
            block_of[v] = b
        canon.append(sorted(members, key=net.index.__getitem__))
    missing = [v for v in net.nodes if v not in block_of]
    if missing:
        raise ValueError(f"the blocks do not cover nodes {missing[:10]!r}")
    canon.sort(key=lambda blk: net.index[blk[0]])
    blocks_t = [tuple(b) for b in canon]
    block_of = {v: i for i, b in enumerate(blocks_t) for v in b}
    for u, v in net.edges:
        if block_of[u] == block_of[v]:
            raise ValueError(f"edge {(u, v)!r} lies inside block {block_of[u]}; blocks may not contain edges")
    input_set = set(net.inputs)
    for i, block in enumerate(blocks_t):
        kinds = {v in input_set for v in block}
        if len(kinds) > 1:
            raise ValueError(f"block {i} mixes input and non-input nodes: {block!r}")
        if io_singletons and len(block) > 1:
            io = [v for v in block if v in input_set or v in net.outputs]
            if io:
                raise ValueError(f"block {i} puts input/output nodes {io!r} with others")
        if not kinds.pop():
            acts = {net.node_activation[v].key: net.node_activation[v].name for v in block}
            if len(acts) > 1:
                raise ValueError(
                    f"block {i} mixes activations {sorted(acts.values())}; one activation per block"
                )
    pos_in_block = {v: j for b in blocks_t for j, v in enumerate(b)}
    groups: dict[tuple[int, int], list[int]] = {}
    for e, (u, v) in enumerate(net.edges):
        groups.setdefault((block_of[u], block_of[v]), []).append(e)
    pairs = []
    for (i, j), eids in sorted(groups.items()):
        rows = [pos_in_block[net.edges[e][0]] for e in eids]
        cols = [pos_in_block[net.edges[e][1]] for e in eids]
        pairs.append((i, j, np.asarray(eids), np.asarray(rows), np.asarray(cols)))
    E = net.num_edges
    edge_pair = np.empty(E, dtype=np.int64)
    edge_row_key = np.empty(E, dtype=np.int64)
    edge_col_key = np.empty(E, dtype=np.int64)
    row_keys: dict[tuple[int, int], int] = {}
    col_keys: dict[tuple[int, int], int] = {}
    for p, (_, _, ids, rows, cols) in enumerate(pairs):
        edge_pair[ids] = p
        for e, r, c in zip(ids, rows, cols):
            edge_row_key[e] = row_keys.setdefault((p, int(r)), len(row_keys))
            edge_col_key[e] = col_keys.setdefault((p, int(c)), len(col_keys))
    bias_block = np.array([block_of[v] for v in net.bias_nodes], dtype=np.int64)
    bias_ids = {b: i for i, b in enumerate(sorted(set(bias_block.tolist())))}
    return {
        "blocks": blocks_t,
        "block_of": block_of,
        "pairs": pairs,
        "edge_pair": edge_pair,
        "edge_row_key": edge_row_key,
        "edge_col_key": edge_col_key,
        "row_key_pair": np.array([p for (p, _) in row_keys], dtype=np.int64),
        "col_key_pair": np.array([p for (p, _) in col_keys], dtype=np.int64),
        "pair_shape": np.array([(len(blocks_t[i]), len(blocks_t[j])) for i, j, *_ in pairs]).reshape(-1, 2),
        "pair_complete": np.array(
            [len(ids) == len(blocks_t[i]) * len(blocks_t[j]) for i, j, ids, *_ in pairs]
        ),
        "bias_block": bias_block,
        "bias_group": np.array([bias_ids[b] for b in bias_block], dtype=np.int64),
    }

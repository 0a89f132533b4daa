"""Node partitions S_1, …, S_k of a DagNet and their block-pair index structure (Appendix A.3).

A :class:`Partition` is validated against its network: blocks are disjoint and cover the nodes, no edge
joins two nodes of the same block, all nodes of a block share one activation (Theorem A.1's
hypotheses), and by default every input and output node is a singleton block (the paper's proof
assumes "cloning does not apply to input units"; pass ``io_singletons=False`` to lift this).

For the manifolds it precomputes, for every ordered block pair (S_i, S_j) joined by at least one
edge, the pair's edges with their local row (source) and column (target) positions. Missing edges
inside a block pair are structural zeros. A pair is *complete* when all |S_i|·|S_j| edges exist and
*biregular* when every source has the same number of edges into S_j and every target the same number
from S_i; block-constant weights are row- and column-equitable exactly on biregular pairs, which is
what the persistence half of Theorem 2.1 silently needs (see ``theorem-2.1/cloning-incomplete-pairs``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dag_nets.graph import DagNet, Node

MAX_CACHED_VIEWS = 8
"""Derived index structures kept on one Partition (e.g. projection indices per device × dtype × rule);
the least recently used is dropped beyond this, so a long-lived partition's memory stays bounded."""


@dataclass(frozen=True)
class BlockPair:
    """One ordered block pair (S_i → S_j) with at least one edge."""

    source_block: int
    target_block: int
    rows: tuple[Node, ...]  # S_i in partition order
    cols: tuple[Node, ...]  # S_j in partition order
    edge_ids: np.ndarray  # positions in the flat edge vector
    local_rows: np.ndarray  # row (source) index of each edge inside S_i
    local_cols: np.ndarray  # column (target) index of each edge inside S_j

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.cols)

    @property
    def complete(self) -> bool:
        return len(self.edge_ids) == len(self.rows) * len(self.cols)

    @property
    def biregular(self) -> bool:
        out_deg = np.bincount(self.local_rows, minlength=len(self.rows))
        in_deg = np.bincount(self.local_cols, minlength=len(self.cols))
        return bool(np.all(out_deg == out_deg[0]) and np.all(in_deg == in_deg[0]))

    def dense(self, w: np.ndarray) -> np.ndarray:
        """The |S_i|×|S_j| matrix w[S_i, S_j] with zeros at missing edges."""
        out = np.zeros(self.shape)
        out[self.local_rows, self.local_cols] = w[self.edge_ids]
        return out


def _keys(
    order: np.ndarray, pair: np.ndarray, local: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ids of the (pair, local position) keys of the edges listed in ``order`` (their pairs ``pair`` and local
    row or column positions ``local`` < ``width``), numbered by first appearance in that order: (the key of
    every edge in θ order, the pair of every key)."""
    full = pair * width + local
    uniq, first, inverse = np.unique(full, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    keys = np.empty(len(order), dtype=np.int64)
    keys[order] = rank[inverse.reshape(-1)]
    key_pair = np.empty(len(uniq), dtype=np.int64)
    key_pair[rank] = uniq // width
    return keys, key_pair


class Partition:
    """A validated partition of a DagNet's nodes into blocks (see the module docstring)."""

    def __init__(self, net: DagNet, blocks: Sequence[Sequence[Hashable]], io_singletons: bool = True) -> None:
        if not isinstance(net, DagNet):
            raise TypeError(f"net must be a DagNet, got {type(net).__name__}")
        if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__"):
            raise TypeError("blocks must be a sequence of node sequences")
        index = net.index
        given = np.full(net.num_nodes, -1, dtype=np.int64)  # block (as given) of every node position
        positions: list[np.ndarray] = []
        for b, block in enumerate(blocks):
            if isinstance(block, (str, bytes)) or not hasattr(block, "__iter__"):
                raise TypeError(f"block {b} must be a sequence of nodes, got {block!r}")
            members = list(block)
            if not members:
                raise ValueError(f"block {b} is empty")
            pos = np.fromiter((index.get(v, -1) for v in members), dtype=np.int64, count=len(members))
            if pos.min() < 0:
                v = members[int(np.argmin(pos))]
                raise ValueError(f"block {b} contains {v!r}, which is not a node of the network")
            pos = np.sort(pos)
            twice = np.flatnonzero(pos[1:] == pos[:-1])
            if len(twice) or np.any(given[pos] >= 0):
                i = int(pos[twice[0]]) if len(twice) else int(pos[given[pos] >= 0][0])
                earlier = b if len(twice) else int(given[i])
                raise ValueError(
                    f"node {net.nodes[i]!r} is in block {earlier} and block {b}; blocks must be disjoint"
                )
            given[pos] = b
            positions.append(pos)
        if np.any(given < 0):
            missing = [net.nodes[i] for i in np.flatnonzero(given < 0)[:10]]
            raise ValueError(f"the blocks do not cover nodes {missing!r}")
        # Canonical order: members by position, blocks sorted by their first node's position.
        positions.sort(key=lambda pos: int(pos[0]))
        nodes = net.nodes
        self.net = net
        self.blocks: list[tuple[Node, ...]] = [tuple(nodes[i] for i in pos.tolist()) for pos in positions]
        self.node_block = np.empty(net.num_nodes, dtype=np.int64)
        """Block id of every node, in ``net.nodes`` order."""
        self.position_in_block = np.empty(net.num_nodes, dtype=np.int64)
        """Position of every node inside its block (canonical order)."""
        for i, pos in enumerate(positions):
            self.node_block[pos] = i
            self.position_in_block[pos] = np.arange(len(pos))
        self.block_of: dict[Node, int] = dict(zip(nodes, self.node_block.tolist()))
        self.io_singletons = io_singletons
        self._views: OrderedDict[Hashable, Any] = OrderedDict()
        self._pairs: list[BlockPair] | None = None
        self._validate(np.array([pos[0] for pos in positions], dtype=np.int64))
        self._index_pairs()

    def _validate(self, first_nodes: np.ndarray) -> None:
        """Theorem A.1's hypotheses (module docstring); ``first_nodes``: each block's first node position."""
        net = self.net
        src, dst = net.edge_endpoints()
        inside = np.flatnonzero(self.node_block[src] == self.node_block[dst])
        if len(inside):
            u, v = net.edges[int(inside[0])]
            raise ValueError(
                f"edge {(u, v)!r} lies inside block {self.block_of[u]}; blocks may not contain edges"
            )
        is_input = np.zeros(net.num_nodes, dtype=bool)
        is_input[: len(net.inputs)] = True  # inputs come first in net.nodes
        is_io = is_input.copy()
        is_io[[net.index[v] for v in net.outputs]] = True
        nb = self.node_block
        inputs_per_block = np.bincount(nb, weights=is_input, minlength=self.num_blocks)
        io_per_block = np.bincount(nb, weights=is_io, minlength=self.num_blocks)
        sizes = np.bincount(nb, minlength=self.num_blocks)
        act_ids = np.full(net.num_nodes, -1, dtype=np.int64)
        act_ids[len(net.inputs) :] = net.node_activation_ids()
        first = act_ids[first_nodes]
        mixed_act = np.bincount(nb, weights=act_ids != first[nb], minlength=self.num_blocks)
        io_shared = self.io_singletons & (sizes > 1) & (io_per_block > 0)
        for i in np.flatnonzero((inputs_per_block % sizes != 0) | io_shared | (mixed_act > 0)).tolist():
            block = self.blocks[i]
            if 0 < inputs_per_block[i] < sizes[i]:
                raise ValueError(f"block {i} mixes input and non-input nodes: {block!r}")
            if self.io_singletons and sizes[i] > 1 and io_per_block[i] > 0:
                io = [v for v in block if is_io[net.index[v]]]
                raise ValueError(
                    f"block {i} puts input/output nodes {io!r} with others; inputs and outputs must be "
                    "singleton blocks (pass io_singletons=False to allow cloned inputs/outputs)"
                )
            acts = {net.node_activation[v].key: net.node_activation[v].name for v in block}
            raise ValueError(f"block {i} mixes activations {sorted(acts.values())}; one activation per block")

    def _index_pairs(self) -> None:
        """The block-pair index arrays, by sorting the edges by (source block, target block)."""
        net = self.net
        src, dst = net.edge_endpoints()
        E, K = net.num_edges, self.num_blocks
        sb, tb = self.node_block[src], self.node_block[dst]
        key = sb * K + tb
        order = np.argsort(key, kind="stable")  # edges by pair, θ order inside a pair
        pair_keys, starts, counts = np.unique(key[order], return_index=True, return_counts=True)
        self.edge_pair = np.empty(E, dtype=np.int64)
        self.edge_pair[order] = np.repeat(np.arange(len(pair_keys)), counts)
        self._pair_order, self._pair_starts = order, np.append(starts, E)
        self.pair_blocks = np.stack([pair_keys // K, pair_keys % K], axis=1).reshape(-1, 2)
        """(source block, target block) of every pair, sorted."""
        sizes = np.bincount(self.node_block, minlength=K)
        self.pair_shape = sizes[self.pair_blocks].reshape(-1, 2)
        self.pair_complete = counts == self.pair_shape[:, 0] * self.pair_shape[:, 1]
        width = int(sizes.max(initial=1))
        pair_sorted = self.edge_pair[order]
        self.edge_row_key, self.row_key_pair = _keys(
            order, pair_sorted, self.position_in_block[src[order]], width
        )
        self.edge_col_key, self.col_key_pair = _keys(
            order, pair_sorted, self.position_in_block[dst[order]], width
        )
        self.num_row_keys, self.num_col_keys = len(self.row_key_pair), len(self.col_key_pair)
        self.bias_block = self.node_block[len(net.inputs) :].copy()
        blocks_with_bias = np.unique(self.bias_block)
        self.bias_block_ids = {int(b): i for i, b in enumerate(blocks_with_bias.tolist())}
        self.bias_group = np.searchsorted(blocks_with_bias, self.bias_block).astype(np.int64)

    @property
    def pairs(self) -> list[BlockPair]:
        """Every ordered block pair joined by an edge, sorted by (source block, target block) (built on
        first use)."""
        if self._pairs is None:
            net, order = self.net, self._pair_order
            src, dst = net.edge_endpoints()
            rows = self.position_in_block[src[order]]
            cols = self.position_in_block[dst[order]]
            bounds = self._pair_starts
            self._pairs = [
                BlockPair(i, j, self.blocks[i], self.blocks[j], order[a:b], rows[a:b], cols[a:b])
                for (i, j), a, b in zip(self.pair_blocks.tolist(), bounds[:-1].tolist(), bounds[1:].tolist())
            ]
        return self._pairs

    # ------------------------------------------------------------------ views
    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @property
    def num_bias_blocks(self) -> int:
        return len(self.bias_block_ids)

    @property
    def is_trivial(self) -> bool:
        """True when every block is a singleton."""
        return all(len(b) == 1 for b in self.blocks)

    @property
    def all_pairs_biregular(self) -> bool:
        return all(p.biregular for p in self.pairs)

    def cached(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """``build()``, computed once per ``key`` and kept on this partition (at most
        :data:`MAX_CACHED_VIEWS`, least recently used dropped). The cache lives and dies with the
        partition, so no entry can ever be served to another one."""
        views = self._views
        if key in views:
            views.move_to_end(key)
            return views[key]
        value = build()
        views[key] = value
        if len(views) > MAX_CACHED_VIEWS:
            views.popitem(last=False)
        return value

    def check_network(self, net: DagNet, what: str = "net") -> None:
        """Raise ValueError unless ``net`` has this partition's graph: the same nodes, edges (in order),
        inputs, outputs and activations — e.g. the partition's own network or a ``copy_with`` of it."""
        if net is self.net:
            return
        if not isinstance(net, DagNet):
            raise TypeError(f"{what} must be a DagNet, got {type(net).__name__}")
        mine = self.net
        same = (
            net.nodes == mine.nodes
            and net.edges == mine.edges
            and net.inputs == mine.inputs
            and net.outputs == mine.outputs
            and all(net.node_activation[v].key == mine.node_activation[v].key for v in mine.bias_nodes)
        )
        if not same:
            raise ValueError(
                f"the partition was built for a different network ({mine.num_nodes} nodes, "
                f"{mine.num_edges} edges) than {what} ({net.num_nodes} nodes, {net.num_edges} edges); build "
                f"the Partition on {what} or on a copy of the same graph"
            )

    def block_sizes(self) -> list[int]:
        return [len(b) for b in self.blocks]

    def node_block_tensor(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """Block id of every node, in ``net.nodes`` order."""
        return torch.as_tensor(self.node_block, device=device)

    def __repr__(self) -> str:
        sizes = self.block_sizes()
        return f"Partition({self.num_blocks} blocks, sizes max {max(sizes)}, {len(self.pairs)} block pairs)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Partition):
            return NotImplemented
        return self.net is other.net and self.as_sets() == other.as_sets()

    def as_sets(self) -> set[frozenset[Node]]:
        return {frozenset(b) for b in self.blocks}

    @classmethod
    def trivial(cls, net: DagNet) -> Partition:
        """The partition into singletons."""
        return cls(net, [[v] for v in net.nodes])

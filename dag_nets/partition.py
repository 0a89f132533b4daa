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


class Partition:
    """A validated partition of a DagNet's nodes into blocks (see the module docstring)."""

    def __init__(self, net: DagNet, blocks: Sequence[Sequence[Hashable]], io_singletons: bool = True) -> None:
        if not isinstance(net, DagNet):
            raise TypeError(f"net must be a DagNet, got {type(net).__name__}")
        if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__"):
            raise TypeError("blocks must be a sequence of node sequences")
        block_of: dict[Node, int] = {}
        canon: list[list[Node]] = []
        for b, block in enumerate(blocks):
            if isinstance(block, (str, bytes)) or not hasattr(block, "__iter__"):
                raise TypeError(f"block {b} must be a sequence of nodes, got {block!r}")
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
        # Canonical order: blocks sorted by their first node's position.
        canon.sort(key=lambda blk: net.index[blk[0]])
        self.net = net
        self.blocks: list[tuple[Node, ...]] = [tuple(b) for b in canon]
        self.block_of: dict[Node, int] = {v: i for i, b in enumerate(self.blocks) for v in b}
        self.io_singletons = io_singletons
        self._views: OrderedDict[Hashable, Any] = OrderedDict()
        self._validate()
        self._index_pairs()

    def _validate(self) -> None:
        net = self.net
        for u, v in net.edges:
            if self.block_of[u] == self.block_of[v]:
                raise ValueError(
                    f"edge {(u, v)!r} lies inside block {self.block_of[u]}; blocks may not contain edges"
                )
        input_set = set(net.inputs)
        for i, block in enumerate(self.blocks):
            kinds = {v in input_set for v in block}
            if len(kinds) > 1:
                raise ValueError(f"block {i} mixes input and non-input nodes: {block!r}")
            if self.io_singletons and len(block) > 1:
                io = [v for v in block if v in input_set or v in net.outputs]
                if io:
                    raise ValueError(
                        f"block {i} puts input/output nodes {io!r} with others; inputs and outputs must be "
                        "singleton blocks (pass io_singletons=False to allow cloned inputs/outputs)"
                    )
            if not kinds.pop():
                acts = {net.node_activation[v].key: net.node_activation[v].name for v in block}
                if len(acts) > 1:
                    raise ValueError(
                        f"block {i} mixes activations {sorted(acts.values())}; one activation per block"
                    )

    def _index_pairs(self) -> None:
        net = self.net
        pos_in_block = {v: j for b in self.blocks for j, v in enumerate(b)}
        groups: dict[tuple[int, int], list[int]] = {}
        for e, (u, v) in enumerate(net.edges):
            groups.setdefault((self.block_of[u], self.block_of[v]), []).append(e)
        pairs = []
        for (i, j), eids in sorted(groups.items()):
            ids = np.asarray(eids, dtype=np.int64)
            rows = np.asarray([pos_in_block[net.edges[e][0]] for e in eids], dtype=np.int64)
            cols = np.asarray([pos_in_block[net.edges[e][1]] for e in eids], dtype=np.int64)
            pairs.append(BlockPair(i, j, self.blocks[i], self.blocks[j], ids, rows, cols))
        self.pairs: list[BlockPair] = pairs
        E = net.num_edges
        self.edge_pair = np.empty(E, dtype=np.int64)
        self.edge_row_key = np.empty(E, dtype=np.int64)  # (source node, pair) id
        self.edge_col_key = np.empty(E, dtype=np.int64)  # (target node, pair) id
        row_keys: dict[tuple[int, int], int] = {}
        col_keys: dict[tuple[int, int], int] = {}
        for p, pair in enumerate(pairs):
            self.edge_pair[pair.edge_ids] = p
            for e, r, c in zip(pair.edge_ids, pair.local_rows, pair.local_cols):
                self.edge_row_key[e] = row_keys.setdefault((p, int(r)), len(row_keys))
                self.edge_col_key[e] = col_keys.setdefault((p, int(c)), len(col_keys))
        self.num_row_keys, self.num_col_keys = len(row_keys), len(col_keys)
        self.row_key_pair = np.empty(len(row_keys), dtype=np.int64)
        for (p, _), k in row_keys.items():
            self.row_key_pair[k] = p
        self.col_key_pair = np.empty(len(col_keys), dtype=np.int64)
        for (p, _), k in col_keys.items():
            self.col_key_pair[k] = p
        self.pair_shape = np.array([pair.shape for pair in pairs], dtype=np.int64).reshape(-1, 2)
        self.pair_complete = np.array([pair.complete for pair in pairs], dtype=bool)
        self.bias_block = np.array([self.block_of[v] for v in net.bias_nodes], dtype=np.int64)
        blocks_with_bias = sorted(set(self.bias_block.tolist()))
        self.bias_block_ids = {b: i for i, b in enumerate(blocks_with_bias)}
        self.bias_group = np.array([self.bias_block_ids[b] for b in self.bias_block], dtype=np.int64)

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
        return torch.tensor([self.block_of[v] for v in self.net.nodes], dtype=torch.long, device=device)

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

"""Partition construction: the sort-based index equals the former per-edge loops
(tests/dag_nets/reference_partition.py) on the case zoo, random cloned DAGs and random partitions, and
both reject the same bad partitions with the same message."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dag_nets.builders import mlp
from dag_nets.partition import Partition
from tests.dag_nets.cases import Case
from tests.dag_nets.reference_partition import reference_index
from tests.dag_nets.strategies import ClonedCase, cloned_dags

ARRAYS = (
    "edge_pair",
    "edge_row_key",
    "edge_col_key",
    "row_key_pair",
    "col_key_pair",
    "pair_shape",
    "pair_complete",
    "bias_block",
    "bias_group",
)


def _assert_matches_reference(part: Partition, blocks: list[list]) -> None:
    ref = reference_index(part.net, blocks, part.io_singletons)
    assert part.blocks == ref["blocks"]
    assert part.block_of == ref["block_of"]
    for name in ARRAYS:
        mine, theirs = getattr(part, name), ref[name]
        assert mine.dtype.kind == theirs.dtype.kind and np.array_equal(mine, theirs), name
    assert part.num_row_keys == len(ref["row_key_pair"]) and part.num_col_keys == len(ref["col_key_pair"])
    assert len(part.pairs) == len(ref["pairs"])
    for pair, (i, j, ids, rows, cols) in zip(part.pairs, ref["pairs"]):
        assert (pair.source_block, pair.target_block) == (i, j)
        assert pair.rows == part.blocks[i] and pair.cols == part.blocks[j]
        for a, b in ((pair.edge_ids, ids), (pair.local_rows, rows), (pair.local_cols, cols)):
            assert np.array_equal(a, b)
    assert np.array_equal(part.node_block, [part.block_of[v] for v in part.net.nodes])
    assert np.array_equal(part.node_block_tensor().numpy(), part.node_block)
    assert all(
        part.blocks[b][part.position_in_block[i]] == v
        for i, (v, b) in enumerate(zip(part.net.nodes, part.node_block.tolist()))
    )


def test_zoo_matches_reference(case: Case) -> None:
    blocks = [list(b) for b in case.partition.blocks]
    _assert_matches_reference(Partition(case.net, blocks[::-1]), blocks[::-1])


@given(cloned_dags(), st.integers(0, 2**31 - 1))
def test_cloned_dags_and_shuffled_blocks_match_reference(case: ClonedCase, seed: int) -> None:
    rng = np.random.default_rng(seed)
    blocks = [[b[i] for i in rng.permutation(len(b))] for b in case.partition.blocks]
    order = rng.permutation(len(blocks))
    blocks = [blocks[i] for i in order]
    _assert_matches_reference(Partition(case.net, blocks), blocks)


@given(st.integers(0, 2**31 - 1))
def test_random_valid_partitions_match_reference(seed: int) -> None:
    """Merge hidden nodes of one layer at random (incomplete and unequal pairs, io_singletons both ways)."""
    rng = np.random.default_rng(seed)
    net = mlp(2, [4, 5], 2, activation="tanh", seed=int(seed % 1000))
    layers = [[v for v in net.bias_nodes if str(v).startswith(f"h{i}_")] for i in range(2)]
    blocks: list[list] = [[v] for v in net.inputs]
    for layer in layers:
        labels = rng.integers(0, len(layer), size=len(layer))
        blocks += [[v for v, lab in zip(layer, labels) if lab == c] for c in np.unique(labels)]
    io_singletons = bool(rng.integers(2))
    if io_singletons:
        blocks += [[v] for v in net.outputs]
    else:
        blocks.append(list(net.outputs))
    _assert_matches_reference(Partition(net, blocks, io_singletons=io_singletons), blocks)


def _bad_partitions() -> list[tuple[str, list]]:
    net = mlp(2, [3], 2, activation=["tanh", "tanh", "relu"], seed=0)
    h = [v for v in net.bias_nodes if v not in net.outputs]
    rest = [[v] for v in net.outputs]
    x0, x1 = net.inputs
    return [
        ("empty", [[x0], [x1], [], *[[v] for v in h], *rest]),
        ("not a node", [[x0], [x1, "nope"], *[[v] for v in h], *rest]),
        ("disjoint", [[x0], [x1], [h[0], h[1]], [h[1]], [h[2]], *rest]),
        ("disjoint", [[x0], [x1], [h[0], h[0]], [h[1]], [h[2]], *rest]),
        ("cover", [[x0], [x1], [h[0]], *rest]),
        ("inside block", [[x0], [x1], [h[0]], [h[1]], [h[2], net.outputs[0]], [net.outputs[1]]]),
        ("mixes input", [[x0, net.outputs[0]], [x1], *[[v] for v in h], [net.outputs[1]]]),
        ("input/output nodes", [[x0, x1], *[[v] for v in h], *rest]),
        ("mixes activations", [[x0], [x1], [h[0], h[2]], [h[1]], *rest]),
    ]


@pytest.mark.parametrize("match, blocks", _bad_partitions())
def test_bad_partitions_rejected_like_reference(match: str, blocks: list) -> None:
    net = mlp(2, [3], 2, activation=["tanh", "tanh", "relu"], seed=0)
    with pytest.raises(ValueError, match=match) as mine:
        Partition(net, blocks)
    with pytest.raises(ValueError) as theirs:
        reference_index(net, blocks)
    assert str(theirs.value) in str(mine.value)

"""Coarsest equitable partition (dag_nets/refine.py) of cloned random DAGs, against plain numpy colour
refinement.

Figures: the refinement on a ≈95,000-edge cloned random DAG against a plain numpy colour refinement
written the way a user would (per round: sort/unique the (node, neighbour colour) pairs, sum the
weights, quantize the sums to the tolerance grid, hash each node's multiset, unique) — goal within 5×;
and the whole ``coarsest_equitable_partition`` of a ≈1,000,000-edge cloned DAG — goal under 10 s, with the
part spent constructing the validated :class:`Partition` shown separately. Both must recover the planted
clone partition. The former implementation (a loop over blocks with a full scan each, kept in
tests/dag_nets/reference_refine.py) runs on the smallest graph. Table: cost against size.

    python benchmarks/bench_refine.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import Figure, emit, median_time, parse_args, print_table

from dag_nets.builders import cloned_random_dag
from dag_nets.partition import Partition
from dag_nets.refine import (
    DEFAULT_REFINE_TOL,
    coarsest_equitable_partition,
    equitable_colouring,
    start_colouring,
)

# (base nodes, base edges) → cloned edges ≈ 6 × base edges (block sizes 1–4)
FULL = {"sizes": ((300, 1_700), (2_000, 15_000), (20_000, 160_000)), "figure": 1, "big": 2}
QUICK = {"sizes": ((300, 1_700), (1_000, 6_000)), "figure": 1, "big": 1}


def numpy_colour_refinement(net, tol: float) -> np.ndarray:
    """The peer: weighted 1-WL by sort/unique and hashing, sums quantized to multiples of ``tol``."""
    src, dst = net.edge_src.numpy(), net.edge_dst.numpy()
    w = net.edge_weight.detach().numpy().astype(np.float64)
    colour = start_colouring(net, tol)
    while True:
        k = int(colour.max()) + 1
        h = np.zeros(len(colour), dtype=np.uint64)
        for direction, (mine, other) in enumerate(((dst, src), (src, dst))):
            key = mine * k + colour[other]
            uniq, inv = np.unique(key, return_inverse=True)
            sums = np.bincount(inv.ravel(), weights=w, minlength=len(uniq))
            q = np.round(sums / tol).astype(np.int64) if tol > 0 else sums.view(np.int64)
            with np.errstate(over="ignore"):
                token = (((uniq % k) * 2 + direction).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (
                    q.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
                )
                np.add.at(h, uniq // k, token)
        _, new = np.unique(np.stack([colour.astype(np.uint64), h], axis=1), axis=0, return_inverse=True)
        new = new.ravel()
        if int(new.max()) == int(colour.max()):
            return colour
        colour = new


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def main() -> None:
    # the summary sentence spans the docstring's first two lines
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    p.add_argument("--quick", action="store_true")
    args = parse_args(p)
    cfg = QUICK if args.quick else FULL
    tol = DEFAULT_REFINE_TOL
    rows, figs = [], {}
    for i, (n_base, e_base) in enumerate(cfg["sizes"]):
        t = time.perf_counter()
        net, planted, _ = cloned_random_dag(
            seed=0, n_nodes=n_base, n_edges=e_base, n_in=8, n_out=4, max_block=4
        )
        built = time.perf_counter() - t
        planted_colour = np.empty(net.num_nodes, dtype=np.int64)
        for b, block in enumerate(planted.blocks):
            planted_colour[[net.index[v] for v in block]] = b
        repeats = 3 if net.num_edges < 300_000 else 1
        t_ours = median_time(lambda net=net: equitable_colouring(net, tol), repeats=repeats)
        ours = equitable_colouring(net, tol)
        t_peer = median_time(lambda net=net: numpy_colour_refinement(net, tol), repeats=repeats)
        peer = numpy_colour_refinement(net, tol)
        t = time.perf_counter()
        part = coarsest_equitable_partition(net, tol)
        t_full = time.perf_counter() - t
        t = time.perf_counter()
        Partition(net, part.blocks)
        t_part = time.perf_counter() - t
        former = "-"
        if i == 0:
            from tests.dag_nets.reference_refine import reference_colouring

            t_former = median_time(lambda net=net: reference_colouring(net, tol), repeats=1, warmup=0)
            assert np.array_equal(reference_colouring(net, tol), ours)
            former = f"{t_former:.3f}"
        rows.append(
            [
                net.num_nodes,
                net.num_edges,
                planted.num_blocks,
                t_ours,
                t_peer,
                t_ours / t_peer,
                former,
                t_full,
                t_part,
                str(same_partition(ours, planted_colour)),
                str(same_partition(peer, planted_colour)),
                f"{built:.0f}",
            ]
        )
        figs[i] = (net.num_edges, t_ours, t_peer, t_full, t_part)
    e, t_ours, t_peer, _, _ = figs[cfg["figure"]]
    e_big, _, _, t_full, t_part = figs[cfg["big"]]
    emit(
        [
            Figure(
                f"refinement (colouring), {e:,} edges",
                t_ours,
                "s",
                "plain numpy colour refinement",
                t_peer,
                None,
                "ratio ≤ 5",
            ),
            Figure(
                f"coarsest_equitable_partition, {e_big:,} edges",
                t_full,
                "s",
                "of which: constructing Partition",
                t_part,
                None,
                "value < 10 s",
            ),
        ],
        args.json,
    )
    print_table(
        f"against size (seconds; tol={tol:g}; planted = recovers the planted clone partition)",
        [
            "nodes",
            "edges",
            "blocks",
            "refinement",
            "numpy peer",
            "ratio",
            "former impl.",
            "with Partition",
            "Partition alone",
            "planted",
            "peer planted",
            "build s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()

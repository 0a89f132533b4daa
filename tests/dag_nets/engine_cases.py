"""Graph shapes the fast DagNet engine is tested on, as data (curvlinops' ``cases.py`` style).

Each case names a builder that returns a float64 DagNet; together they cover every kind of block the
plan knows (complete dense views, gathered complete blocks, zero-padded blocks, CSR rows), mixed
activations inside one generation, registered, modulated and user-callable activations, skip edges of
every length and a single-node generation.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import networkx as nx
import numpy as np
import torch

from dag_nets.builders import cloned_random_dag, mlp, random_dag
from dag_nets.graph import DagNet
from tests.dag_nets.helpers import skip_graph, small_base
from theory.activations import from_callable, get_activation


def _skip() -> DagNet:
    G, ins, outs = skip_graph(0)
    return DagNet.from_networkx(G, inputs=ins, outputs=outs)


def _mixed_generation() -> DagNet:
    """One wide generation whose nodes carry five activations, incl. a modulated one and a callable."""
    rng = np.random.default_rng(5)
    acts = [
        "tanh",
        "relu",
        get_activation("sigmoid").modulated(1.5, -0.2),
        "softplus:2",
        from_callable(lambda z: torch.sin(z) + 0.1 * z * z, name="sin_plus_square"),
    ]
    G = nx.DiGraph()
    ins = [f"x{i}" for i in range(3)]
    G.add_nodes_from(ins)
    hidden = [f"h{i}" for i in range(12)]
    for i, v in enumerate(hidden):
        G.add_node(v, activation=acts[i % len(acts)], bias=float(rng.normal()))
        for u in ins:
            G.add_edge(u, v, weight=float(rng.normal()))
    G.add_node("y", bias=0.3)
    for u in hidden:
        G.add_edge(u, "y", weight=float(rng.normal()))
    G.add_edge("x0", "y", weight=0.7)
    return DagNet.from_networkx(G, inputs=ins, outputs=["y"])


def _chain() -> DagNet:
    """A path x → h1 → … → h6 → y with one skip edge per node: one node per generation."""
    rng = np.random.default_rng(9)
    G = nx.DiGraph()
    order = ["x"] + [f"h{i}" for i in range(6)] + ["y"]
    for v in order[1:]:
        G.add_node(v, activation="tanh" if v != "y" else "linear", bias=float(rng.normal()))
    for a, b in itertools.pairwise(order):
        G.add_edge(a, b, weight=float(rng.normal()))
    for i in range(2, len(order)):
        G.add_edge(order[i - 2], order[i], weight=float(rng.normal()))
    return DagNet.from_networkx(G, inputs=["x"], outputs=["y"])


def _mlp_wide() -> DagNet:
    """Complete 24×24 layers (≥ DENSE_MIN_EDGES edges): dense views under ``auto``."""
    return mlp(3, [24, 24], 2, activation="tanh", seed=2)


def _mlp_skip() -> DagNet:
    """Skip edges inputs → every layer interleave in θ: gathered complete blocks."""
    return mlp(4, [20, 17], 3, activation="silu", skip=True, seed=1)


def _mlp_relu() -> DagNet:
    return mlp(3, [30, 30], 2, activation="relu", seed=3)


def _random() -> DagNet:
    return random_dag(60, 500, n_in=4, n_out=3, seed=4)


def _cloned() -> DagNet:
    return cloned_random_dag(seed=3, n_nodes=12, n_edges=30)[0]


def _small_base() -> DagNet:
    return small_base(1, widths=(3, 4), n_in=2, n_out=2)


CASES: dict[str, Callable[[], DagNet]] = {
    "skip_graph": _skip,
    "mixed_generation": _mixed_generation,
    "chain": _chain,
    "mlp_wide": _mlp_wide,
    "mlp_skip": _mlp_skip,
    "mlp_relu": _mlp_relu,
    "random_dag": _random,
    "cloned_random_dag": _cloned,
    "small_base": _small_base,
}
"""Every case, by name."""

FAST_ENGINES = ("auto", "dense", "sparse")

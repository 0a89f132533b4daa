"""Hypothesis strategies: random non-layered DAGs, cloned with blocks of size 1–4 and equitable weights.

``cloned_dags()`` draws a base DAG (2 inputs, 1–2 outputs, 3–7 hidden nodes, every forward pair an edge
with probability p, so skip connections of any length occur), mixed activations per node, random
block sizes 1–4 per hidden node, and clones it with ``mode="equitable"`` (block-constant plus a
doubly-centred part: equitable, not block-constant). Numbers come from a drawn numpy seed, so a
failing example is reproducible from the printed draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch
from hypothesis import strategies as st

from dag_nets.base_network import clone_network
from dag_nets.graph import DagNet
from dag_nets.partition import Partition

SMOOTH_ACTIVATIONS = ("tanh", "sigmoid", "silu", "linear", "sin", "softplus", "gelu")
ALL_ACTIVATIONS = SMOOTH_ACTIVATIONS + ("relu", "leaky_relu:0.1", "elu")


@dataclass
class ClonedCase:
    base: DagNet
    net: DagNet
    partition: Partition
    x: torch.Tensor
    y: torch.Tensor
    seed: int


def base_dag(
    rng: np.random.Generator, n_hidden: int, n_out: int, p_edge: float, activations: tuple[str, ...]
) -> DagNet:
    n_in = 2
    G = nx.DiGraph()
    ins = [f"x{i}" for i in range(n_in)]
    hidden = [f"h{i}" for i in range(n_hidden)]
    outs = [f"y{i}" for i in range(n_out)]
    G.add_nodes_from(ins)
    for v in hidden:
        G.add_node(v, activation=str(rng.choice(activations)), bias=float(rng.normal()))
    for v in outs:
        G.add_node(v, activation="linear", bias=float(rng.normal()))
    order = ins + hidden
    for j, v in enumerate(hidden):
        preds = order[: n_in + j]
        G.add_edge(str(rng.choice(preds)), v, weight=float(rng.normal()))  # reachable
        for u in preds:
            if not G.has_edge(u, v) and rng.random() < p_edge:
                G.add_edge(u, v, weight=float(rng.normal()))
    for v in outs:
        for u in order:
            if rng.random() < p_edge:
                G.add_edge(u, v, weight=float(rng.normal()))
        if G.in_degree(v) == 0:
            G.add_edge(hidden[-1], v, weight=float(rng.normal()))
    for u in ins:  # every input must feed something
        if G.out_degree(u) == 0:
            G.add_edge(u, str(rng.choice(hidden)), weight=float(rng.normal()))
    for u in hidden:  # every hidden node must reach an output
        if G.out_degree(u) == 0:
            G.add_edge(u, str(rng.choice(outs)), weight=float(rng.normal()))
    return DagNet.from_networkx(G, inputs=ins, outputs=outs)


@st.composite
def cloned_dags(draw, activations: tuple[str, ...] = ALL_ACTIVATIONS, mode: str = "equitable") -> ClonedCase:
    seed = draw(st.integers(0, 2**31 - 1))
    n_hidden = draw(st.integers(3, 7))
    n_out = draw(st.integers(1, 2))
    p_edge = draw(st.sampled_from([0.3, 0.6, 0.9]))
    sizes = draw(st.lists(st.integers(1, 4), min_size=n_hidden, max_size=n_hidden))
    rng = np.random.default_rng(seed)
    base = base_dag(rng, n_hidden, n_out, p_edge, activations)
    net, part = clone_network(
        base,
        {f"h{i}": s for i, s in enumerate(sizes)},
        mode=mode,
        generator=torch.Generator().manual_seed(seed),
        scale=0.7,
    )
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    y = torch.randn(6, n_out, generator=gen, dtype=torch.float64)
    return ClonedCase(base, net, part, x, y, seed)

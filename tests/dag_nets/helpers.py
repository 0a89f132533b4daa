"""Small graphs shared by the dag_nets tests."""

from __future__ import annotations

import networkx as nx
import numpy as np


def skip_graph(seed: int = 0) -> tuple[nx.DiGraph, list[str], list[str]]:
    """A non-layered DAG with skip connections and mixed activations (2 inputs, 2 outputs)."""
    rng = np.random.default_rng(seed)
    G = nx.DiGraph()
    acts = {"a": "tanh", "b": "relu", "c": "sigmoid", "d": "linear", "o1": "linear", "o2": "tanh"}
    for v, act in acts.items():
        G.add_node(v, activation=act, bias=float(rng.normal()))
    G.add_nodes_from(["x1", "x2"])
    for u, v in [("x1", "a"), ("x2", "a"), ("x1", "b"), ("a", "c"), ("b", "c"), ("x2", "c"), ("a", "d"),
                 ("c", "o1"), ("d", "o1"), ("b", "o2"), ("c", "o2"), ("x1", "o2")]:
        G.add_edge(u, v, weight=float(rng.normal()))
    return G, ["x1", "x2"], ["o1", "o2"]


def small_base(seed: int = 0, widths: tuple[int, ...] = (2, 3), n_in: int = 2, n_out: int = 1, skip: bool = True):
    """A small base DagNet: MLP-shaped with a skip edge from the inputs to the last hidden layer."""
    import torch

    from dag_nets.graph import DagNet

    rng = np.random.default_rng(seed)
    acts = ["tanh", "sigmoid", "relu", "silu"]
    G = nx.DiGraph()
    layers = [[f"x{i}" for i in range(n_in)]]
    G.add_nodes_from(layers[0])
    for l, width in enumerate(widths):
        layer = [f"h{l}_{i}" for i in range(width)]
        for v in layer:
            G.add_node(v, activation=acts[(l + int(v[-1])) % 2], bias=float(rng.normal()))
        layers.append(layer)
    outs = [f"y{i}" for i in range(n_out)]
    for v in outs:
        G.add_node(v, activation="linear", bias=float(rng.normal()))
    layers.append(outs)
    for a, b in zip(layers[:-1], layers[1:]):
        for u in a:
            for v in b:
                G.add_edge(u, v, weight=float(rng.normal()))
    if skip and len(layers) > 3:
        for u in layers[0]:
            for v in layers[2]:
                G.add_edge(u, v, weight=float(rng.normal()))
    return DagNet.from_networkx(G, inputs=layers[0], outputs=outs, dtype=torch.float64)

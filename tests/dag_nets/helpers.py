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
    for u, v in [
        ("x1", "a"),
        ("x2", "a"),
        ("x1", "b"),
        ("a", "c"),
        ("b", "c"),
        ("x2", "c"),
        ("a", "d"),
        ("c", "o1"),
        ("d", "o1"),
        ("b", "o2"),
        ("c", "o2"),
        ("x1", "o2"),
    ]:
        G.add_edge(u, v, weight=float(rng.normal()))
    return G, ["x1", "x2"], ["o1", "o2"]


MIXED_ACTIVATIONS = ("tanh", "sigmoid", "relu", "silu")
"""Cycled over the hidden units of :func:`small_base` (every layer mixes them, so blocks must not)."""


def small_base(
    seed: int = 0, widths: tuple[int, ...] = (2, 3), n_in: int = 2, n_out: int = 1, skip: bool = True
):
    """A small base DagNet: ``builders.mlp`` with mixed activations (tanh, sigmoid, relu, silu cycled over the
    units), skip edges from the inputs to every later layer, and N(0, 1) biases."""
    from dag_nets.builders import mlp

    return mlp(n_in, list(widths), n_out, activation=MIXED_ACTIVATIONS, seed=seed, skip=skip, bias_scale=1.0)

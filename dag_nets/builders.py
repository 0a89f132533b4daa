"""Ready-made DagNets: MLP-shaped graphs (optionally with skip edges) and random DAGs.

Used by the CLI, the benchmarks and the proofs_check entries; every builder is seeded and
deterministic. Weights are N(0, gain²/fan_in) so activations stay O(1).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import networkx as nx
import numpy as np
import torch

from dag_nets.graph import DagNet
from dag_nets.partition import Partition

DEFAULT_GAIN = 1.0


def mlp(
    n_in: int,
    widths: Sequence[int],
    n_out: int,
    activation: str | Sequence[str] = "tanh",
    seed: int = 0,
    skip: bool = False,
    gain: float = DEFAULT_GAIN,
    bias_scale: float = 0.1,
    dtype: torch.dtype = torch.float64,
) -> DagNet:
    """Inputs x0…, hidden layers h{l}_{i}, outputs y{i} (linear); ``skip`` adds edges from the inputs to every
    later layer.

    ``activation`` is one name for every hidden unit, or a sequence cycled over the units: unit i of hidden
    layer l gets ``activation[(l + i) % len(activation)]`` (so every layer of width ≥ 2 mixes them).
    Biases are N(0, bias_scale²).
    """
    if n_in < 1 or n_out < 1 or any(w < 1 for w in widths):
        raise ValueError(
            f"layer sizes must be positive, got n_in={n_in}, widths={list(widths)}, n_out={n_out}"
        )
    acts = [activation] if isinstance(activation, str) else list(activation)
    if not acts:
        raise ValueError("activation must be a name or a non-empty sequence of names")
    rng = np.random.default_rng(seed)
    G = nx.DiGraph()
    layers = [[f"x{i}" for i in range(n_in)]]
    G.add_nodes_from(layers[0])
    for k, width in enumerate(widths):
        layer = [f"h{k}_{i}" for i in range(width)]
        for i, v in enumerate(layer):
            G.add_node(v, activation=acts[(k + i) % len(acts)], bias=float(bias_scale * rng.normal()))
        layers.append(layer)
    outs = [f"y{i}" for i in range(n_out)]
    for v in outs:
        G.add_node(v, activation="linear", bias=float(bias_scale * rng.normal()))
    layers.append(outs)
    for depth, (a, b) in enumerate(itertools.pairwise(layers)):
        sources = list(a) + (list(layers[0]) if skip and depth > 0 else [])
        std = gain / np.sqrt(len(sources))
        for v in b:
            for u in sources:
                G.add_edge(u, v, weight=float(std * rng.normal()))
    return DagNet.from_networkx(G, inputs=layers[0], outputs=outs, dtype=dtype)


def random_dag(
    n_nodes: int,
    n_edges: int,
    n_in: int = 16,
    n_out: int = 8,
    activations: Sequence[str] = ("tanh", "relu", "sigmoid"),
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> DagNet:
    """A random non-layered DAG on nodes 0…n−1 (edges only go forward in that order).

    Every non-input node gets one edge from a random earlier node (so all are reachable), every
    non-output node one edge to a random later node (so all reach an output); the remaining edges are
    uniform random forward pairs. Inputs are 0…n_in−1, outputs the last n_out nodes.
    """
    if n_nodes < n_in + n_out + 1:
        raise ValueError("n_nodes must exceed n_in + n_out")
    rng = np.random.default_rng(seed)
    hidden_lo, out_lo = n_in, n_nodes - n_out
    src = [
        int(rng.integers(0, v)) if v < out_lo else int(rng.integers(n_in, out_lo))
        for v in range(n_in, n_nodes)
    ]
    dst = list(range(n_in, n_nodes))
    for u in range(out_lo):
        lo = max(u + 1, hidden_lo)
        src.append(u)
        dst.append(int(rng.integers(lo, n_nodes)))
    extra = max(0, n_edges - len(src))
    a = rng.integers(0, out_lo, size=extra * 2)
    b = rng.integers(hidden_lo, n_nodes, size=extra * 2)
    keep = a < b
    src += a[keep][:extra].tolist()
    dst += b[keep][:extra].tolist()
    pairs = np.unique(np.stack([src, dst], axis=1), axis=0)
    # inputs may not receive edges, outputs may not send: both hold by construction of the ranges.
    fan_in = np.bincount(pairs[:, 1], minlength=n_nodes)
    weights = rng.normal(size=len(pairs)) / np.sqrt(np.maximum(fan_in[pairs[:, 1]], 1))
    G = nx.DiGraph()
    G.add_nodes_from(range(n_in))
    for v in range(n_in, n_nodes):
        act = "linear" if v >= out_lo else activations[v % len(activations)]
        G.add_node(v, activation=act, bias=float(0.1 * rng.normal()))
    G.add_weighted_edges_from(
        ((int(u), int(v), float(w)) for (u, v), w in zip(pairs, weights)), weight="weight"
    )
    return DagNet.from_networkx(
        G, inputs=list(range(n_in)), outputs=list(range(out_lo, n_nodes)), dtype=dtype
    )


def cloned_random_dag(
    seed: int = 0,
    n_nodes: int = 12,
    n_edges: int = 30,
    n_in: int = 2,
    n_out: int = 2,
    max_block: int = 4,
    mode: str = "equitable",
    scale: float = 0.5,
    activations: Sequence[str] = ("tanh", "sigmoid", "silu", "linear"),
):
    """A random non-layered base DAG (skip connections, mixed smooth activations) cloned with random block
    sizes 1…max_block per hidden node; returns (cloned net, clone partition, base net)."""
    from dag_nets.base_network import clone_network

    base = random_dag(n_nodes, n_edges, n_in=n_in, n_out=n_out, activations=activations, seed=seed)
    rng = np.random.default_rng(seed + 7919)
    sizes = {v: int(rng.integers(1, max_block + 1)) for v in base.bias_nodes if v not in base.outputs}
    net, part = clone_network(
        base, sizes, mode=mode, generator=torch.Generator().manual_seed(seed), scale=scale
    )
    return net, part, base


def two_clone_net(
    w_in: tuple[float, float], w_out: tuple[float, float], activation: str = "tanh"
) -> tuple[DagNet, Partition]:
    """x → {a, b} → y with w(x,a), w(x,b) = ``w_in`` and w(a,y), w(b,y) = ``w_out``; partition {x},{a,b},{y}.

    The smallest network with a clone block: the counterexamples of Appendix A.3 (base weights) and of
    Remark A.2 (RE alone) are instances of it.
    """
    G = nx.DiGraph()
    for v in "ab":
        G.add_node(v, activation=activation)
    G.add_node("y")
    for (u, v), w in zip((("x", "a"), ("x", "b"), ("a", "y"), ("b", "y")), (*w_in, *w_out)):
        G.add_edge(u, v, weight=float(w))
    net = DagNet.from_networkx(G, inputs=["x"], outputs=["y"])
    return net, Partition(net, [["x"], ["a", "b"], ["y"]])


def teacher_batch(n_in: int, n_out: int, batch: int, seed: int = 0, dtype: torch.dtype = torch.float64):
    """A Gaussian input batch and independent Gaussian targets."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n_in, generator=gen, dtype=dtype), torch.randn(
        batch, n_out, generator=gen, dtype=dtype
    )

"""The dag_nets case zoo: small networks, partitions, losses and data as dictionaries (curvlinops'
``test/cases.py`` style). ``conftest.py`` turns them into parametrized fixtures, so every manifold,
operator and trajectory test runs on the same zoo; :func:`build` makes a fresh :class:`Case` from a spec.

Spec keys: ``base`` (a ``dag_nets.builders`` call: builder name and keyword arguments), ``sizes``
(clones per hidden base node, or an int for every hidden node), ``mode`` and ``scale`` (clone_network),
``batch`` and ``data_seed`` (teacher_batch), ``loss``. Tags: ``on_manifold`` (θ ∈ M_C, so M_D(θ) exists
and the cloning theorems apply), ``symmetric`` (constant clones of equal size: an exact permutation
symmetry, so normal-space eigenvalues come in equal copies), ``smooth`` (C² activations only).
A spec with ``graph`` instead of ``base`` is a hand-made network with its own partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import torch

from dag_nets import builders
from dag_nets.base_network import clone_network
from dag_nets.graph import DagNet
from dag_nets.partition import Partition
from tests.dag_nets.helpers import MIXED_ACTIVATIONS

CASES: list[dict[str, Any]] = [
    {
        "name": "mlp-tanh-equitable",
        "base": ("mlp", {"n_in": 3, "widths": [3, 4], "n_out": 1, "activation": "tanh", "seed": 0}),
        "sizes": {"h0_0": 2, "h0_2": 3, "h1_1": 2, "h1_3": 3},
        "mode": "equitable",
        "scale": 0.5,
        "batch": 24,
        "data_seed": 0,
        "loss": "mse",
        "on_manifold": True,
        "smooth": True,
    },
    {
        "name": "mlp-mixed-skip-equitable",
        "base": (
            "mlp",
            {
                "n_in": 2,
                "widths": [2, 3],
                "n_out": 1,
                "activation": MIXED_ACTIVATIONS,
                "seed": 0,
                "skip": True,
                "bias_scale": 1.0,
            },
        ),
        "sizes": {"h0_0": 2, "h0_1": 3, "h1_0": 2, "h1_2": 4},
        "mode": "equitable",
        "scale": 1.0,
        "batch": 16,
        "data_seed": 1,
        "loss": "mse",
        "on_manifold": True,
        "smooth": False,
    },
    {
        "name": "random-dag-equitable",
        "base": (
            "random_dag",
            {
                "n_nodes": 12,
                "n_edges": 30,
                "n_in": 2,
                "n_out": 2,
                "activations": ("tanh", "sigmoid", "silu", "linear"),
                "seed": 4,
            },
        ),
        "sizes": {5: 3, 6: 2, 8: 4, 9: 2},
        "mode": "equitable",
        "scale": 0.5,
        "batch": 16,
        "data_seed": 4,
        "loss": "mse",
        "on_manifold": True,
        "smooth": True,
    },
    *[
        {
            "name": f"mlp-symmetric-x{factor}-seed{seed}",
            "base": ("mlp", {"n_in": 3, "widths": [3, 3], "n_out": 1, "activation": "tanh", "seed": seed}),
            "sizes": factor,
            "mode": "constant",
            "scale": 0.0,
            "batch": 24,
            "data_seed": seed,
            "loss": "mse",
            "on_manifold": True,
            "smooth": True,
            "symmetric": factor,
        }
        for factor, seed in ((2, 0), (3, 0), (3, 1), (4, 1))
    ],
    {
        "name": "incomplete-pair",
        "graph": "incomplete-pair",
        "batch": 8,
        "data_seed": 2,
        "loss": "mse",
        "on_manifold": False,
        "smooth": True,
    },
]


@dataclass
class Case:
    name: str
    net: DagNet
    partition: Partition
    x: torch.Tensor
    y: torch.Tensor
    loss: str
    spec: dict[str, Any]


def names(**tags: Any) -> list[str]:
    """Names of the cases whose tags match (``symmetric=True`` matches any clone factor)."""

    def match(spec: dict[str, Any]) -> bool:
        return all(
            bool(spec.get(k)) == v if isinstance(v, bool) else spec.get(k) == v for k, v in tags.items()
        )

    return [c["name"] for c in CASES if match(c)]


def _incomplete_pair() -> tuple[DagNet, Partition]:
    """Block pair {a,b} → {c,d} with edges a→c, a→d, b→c only (not biregular)."""
    G = nx.DiGraph()
    for v in "abcd":
        G.add_node(v, activation="tanh", bias=0.1)
    G.add_node("y")
    weights = (0.5, -0.3, 0.8, 1.1, -0.7, 0.4, 0.9)
    for (u, v), w in zip(
        [("x", "a"), ("x", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("c", "y"), ("d", "y")], weights
    ):
        G.add_edge(u, v, weight=w)
    net = DagNet.from_networkx(G, inputs=["x"], outputs=["y"])
    return net, Partition(net, [["x"], ["a", "b"], ["c", "d"], ["y"]])


def build(name: str) -> Case:
    spec = next(c for c in CASES if c["name"] == name)
    if spec.get("graph") == "incomplete-pair":
        net, part = _incomplete_pair()
    else:
        builder, kwargs = spec["base"]
        base = getattr(builders, builder)(**kwargs)
        hidden = [v for v in base.bias_nodes if v not in base.outputs]
        sizes = {v: spec["sizes"] for v in hidden} if isinstance(spec["sizes"], int) else spec["sizes"]
        net, part = clone_network(
            base,
            sizes,
            mode=spec["mode"],
            scale=spec["scale"],
            generator=torch.Generator().manual_seed(spec["data_seed"]),
        )
    x, y = builders.teacher_batch(len(net.inputs), len(net.outputs), spec["batch"], seed=spec["data_seed"])
    return Case(name, net, part, x, y, spec["loss"], spec)

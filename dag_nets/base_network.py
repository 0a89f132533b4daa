"""The base (quotient) network of a partition, and cloning a base network (Appendix A.3, Remark A.2).

Base network G̃ of a partition S_1, …, S_k: one node per block, an edge S_i → S_j when some edge joins
the blocks, and a weight w̃_ij. Two definitions:

* ``"paper"``  (Appendix A.3 as printed):  w̃_ij = (1/|S_i|) Σ_{u∈S_i, v∈S_j} w(u, v);
* ``"corrected"``:                          w̃_ij = (1/|S_j|) Σ_{u∈S_i, v∈S_j} w(u, v),

the latter being the common column sum when w ∈ CE. With CE and block-constant biases
h(v) = h̃(S_v) for every v (forward cloning); with RE ∩ CE moreover δ(v) = δ̃(S_v)/|S_v| for δ = ∂L/∂h,
and ∂L/∂w(u,v) = (∂L̃/∂w̃_ij)/|S_j|. The paper's weight equals the corrected one only when
|S_i| = |S_j|, and its forward pass is wrong otherwise (``appendix-A.3/base-network``).

Base node labels are the first node of each block (inputs and outputs keep their own names).

:func:`clone_network` goes the other way: each base node v becomes ``sizes[v]`` units, and a base edge
(u → v) with weight w̃ becomes the |S_u|×|S_v| block w̃/|S_u| · 11ᵀ (``mode="constant"``, the
"1/(input expansion)" scaling of Remark A.4) plus, for ``mode="equitable"``, a random doubly-centred
matrix (zero row and column sums), which keeps every column sum equal to w̃ and every row sum equal.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import networkx as nx
import numpy as np
import torch

from dag_nets.graph import DagNet, Node
from dag_nets.partition import Partition


def base_network(partition: Partition, definition: str = "corrected") -> DagNet:
    """The quotient network of ``partition`` under the corrected or the paper's weight definition."""
    if definition not in ("corrected", "paper"):
        raise ValueError(f"definition must be 'corrected' or 'paper', got {definition!r}")
    net = partition.net
    label = [b[0] for b in partition.blocks]
    w = net.edge_weight.detach().cpu().numpy()
    b = net.node_biases()
    G = nx.DiGraph()
    input_set = set(net.inputs)
    for i, block in enumerate(partition.blocks):
        if block[0] in input_set:
            G.add_node(label[i])
        else:
            G.add_node(
                label[i], activation=net.node_activation[block[0]], bias=float(np.mean([b[v] for v in block]))
            )
    for pair in partition.pairs:
        total = float(w[pair.edge_ids].sum())
        m, n = pair.shape
        weight = total / (n if definition == "corrected" else m)
        G.add_edge(label[pair.source_block], label[pair.target_block], weight=weight)
    ins = [label[partition.block_of[v]] for v in net.inputs]
    outs = [label[partition.block_of[v]] for v in net.outputs]
    if len(set(ins)) != len(ins) or len(set(outs)) != len(outs):
        raise ValueError("the base network needs inputs and outputs in distinct blocks")
    return DagNet.from_networkx(G, inputs=ins, outputs=outs, dtype=net.edge_weight.dtype)


def block_representative(partition: Partition) -> dict[Node, Node]:
    """Map every node of the cloned network to its base node label (the first node of its block)."""
    return {v: block[0] for block in partition.blocks for v in block}


def _clone_label(v: Hashable, k: int, size: int) -> Hashable:
    return v if size == 1 else (v, k)


def doubly_centred(m: int, n: int, generator: torch.Generator, scale: float) -> np.ndarray:
    """A random m×n matrix with zero row sums and zero column sums: C_m Z C_n with C = I − 11ᵀ/k."""
    z = torch.randn(m, n, generator=generator, dtype=torch.float64).numpy() * scale
    return z - z.mean(axis=0, keepdims=True) - z.mean(axis=1, keepdims=True) + z.mean()


def clone_network(
    base: DagNet,
    sizes: Mapping[Node, int],
    mode: str = "constant",
    generator: torch.Generator | None = None,
    scale: float = 1.0,
) -> tuple[DagNet, Partition]:
    """Clone ``base`` with ``sizes[v]`` copies of each hidden node v (default 1); inputs and outputs stay
    single.

    Returns the cloned network and its clone partition. Clones of v are labelled ``(v, k)``.
    ``mode="equitable"`` adds doubly-centred noise of standard deviation ``scale`` to every block with
    both sides of size ≥ 2 (equitable, not block-constant).
    """
    if mode not in ("constant", "equitable"):
        raise ValueError(f"mode must be 'constant' or 'equitable', got {mode!r}")
    unknown = [v for v in sizes if v not in base.index]
    if unknown:
        raise ValueError(f"sizes names nodes {unknown!r} that are not in the base network")
    io = set(base.inputs) | set(base.outputs)
    size: dict[Node, int] = {}
    for v in base.nodes:
        s = sizes.get(v, 1)
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ValueError(f"sizes[{v!r}] must be a positive integer, got {s!r}")
        if v in io and s != 1:
            raise ValueError(f"input/output node {v!r} cannot be cloned (size {s}); clone hidden nodes only")
        size[v] = int(s)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    G = nx.DiGraph()
    biases = base.node_biases()
    clones = {v: [_clone_label(v, k, size[v]) for k in range(size[v])] for v in base.nodes}
    for v in base.nodes:
        for c in clones[v]:
            if v in base.bias_index:
                G.add_node(c, activation=base.node_activation[v], bias=biases[v])
            else:
                G.add_node(c)
    for (u, v), w in base.edge_weights().items():
        m, n = size[u], size[v]
        block = np.full((m, n), w / m)
        if mode == "equitable" and m >= 2 and n >= 2:
            block = block + doubly_centred(m, n, gen, scale)
        for a, cu in enumerate(clones[u]):
            for c, cv in enumerate(clones[v]):
                G.add_edge(cu, cv, weight=float(block[a, c]))
    net = DagNet.from_networkx(
        G, inputs=list(base.inputs), outputs=list(base.outputs), dtype=base.edge_weight.dtype
    )
    partition = Partition(net, [clones[v] for v in base.nodes])
    return net, partition


def base_correspondence(
    partition: Partition, x: torch.Tensor, y: torch.Tensor, definition: str = "corrected", loss: str = "mse"
) -> dict[str, float]:
    """Largest deviations between a cloned network and its base network (Remark A.2) on a batch.

    ``forward``: max |h(v) − h̃(ṽ)|; ``output``: max |net(x) − base(x)|;
    ``backward_paper``: max |δ(v) − δ̃(ṽ)| (Remark A.2 as printed);
    ``backward_scaled``: max |δ(v) − δ̃(ṽ)/|S_v|| (the corrected relation), δ = ∂L/∂h.
    """
    from dag_nets.backprop import autograd_adjoints

    net = partition.net
    base = base_network(partition, definition)
    H, _, delta, _ = autograd_adjoints(net, net.flat_parameters(), x, y, loss)
    Hb, _, delta_b, _ = autograd_adjoints(base, base.flat_parameters(), x, y, loss)
    rep = block_representative(partition)
    cols = torch.tensor([base.index[rep[v]] for v in net.nodes])
    sizes = torch.tensor([len(partition.blocks[partition.block_of[v]]) for v in net.nodes], dtype=H.dtype)
    with torch.no_grad():
        out_err = float((net(x) - base(x)).abs().max())
    return {
        "forward": float((H - Hb[:, cols]).abs().max()),
        "output": out_err,
        "backward_paper": float((delta - delta_b[:, cols]).abs().max()),
        "backward_scaled": float((delta - delta_b[:, cols] / sizes).abs().max()),
    }

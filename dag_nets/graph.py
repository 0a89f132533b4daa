"""Feed-forward networks on an arbitrary DAG (Appendix A.3, "neural network formalization").

A :class:`DagNet` is built from an acyclic ``networkx.DiGraph``. For a non-input node v

    z(v) = Σ_{u ∈ in(v)} w(u, v) · h(u) + b(v),      h(v) = f_v(z(v)),

and h(v) = x_v for an input node (Appendix A.3; the paper has no biases, we add b(v) and keep them
block-constant on the cloning manifold, see ``docs/dag_nets.md``). The output is h(V_out) in the
given order.

Parameters are stored flat: one vector of edge weights (edge order :attr:`DagNet.edges`) and one vector
of biases of the non-input nodes (order :attr:`DagNet.bias_nodes`). The concatenation
θ = [w; b] is what :meth:`DagNet.functional` takes, so manifolds, projectors and Hessians act on
plain vectors and compose with ``torch.func``.

Engines (``engine=``, :data:`ENGINES`). The default runs :mod:`dag_nets.propagation`: a block plan of the
weight matrix (dense GEMMs where a pair of generations is densely connected, CSR products elsewhere) and
topological sweeps inside autograd Functions whose backward is the paper's δ recursion, so the cost is
linear in edges × batch whatever the depth, and gradients, double backward and ``torch.func``
transforms (grad, jvp, vmap and their compositions) all run on the same kernels. ``engine="reference"``
keeps the autograd-traced propagation (per generation one gather, one multiply and one ``index_add``,
written into the [nodes, batch] buffer) that the fast engine is tested against; a per-node loop is the
independent reference :func:`dag_nets.backprop.explicit_forward`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import torch

from dag_nets.propagation import BLOCK_MODES, PropagationPlan, propagate_theta
from theory.activations import Activation, get_activation

Node = Hashable
DEFAULT_ACTIVATION = "linear"
REFERENCE_ENGINE = "reference"
ENGINES = (*BLOCK_MODES, REFERENCE_ENGINE)
"""``auto``: the fast engine, each generation pair dense or sparse by its fill; ``dense`` / ``sparse``: the
fast engine with every block dense (zero-padded) / every edge in the CSR products; ``reference``: the
autograd-traced propagation the fast engine is tested against."""
DEFAULT_ENGINE = "auto"


@dataclass(frozen=True)
class _Generation:
    """Index data of one topological generation (all its nodes are computed at once)."""

    nodes: torch.Tensor  # global node positions of the generation (contiguous range)
    edge_src: torch.Tensor  # global position of each incoming edge's source
    edge_dst_local: torch.Tensor  # target's position inside the generation
    edge_ids: torch.Tensor  # positions of these edges in the flat weight vector
    bias_ids: torch.Tensor  # positions of the generation's nodes in the flat bias vector
    groups: tuple[tuple[int, torch.Tensor], ...]  # (activation index, local positions)


def _outside_transforms() -> Any:
    """Context in which new tensors are plain even inside ``torch.func`` transforms.

    The engines' index tensors are built on first use and cached on the DagNet; built inside
    ``torch.func.grad``/``jvp`` they would be wrapped for that transform's level and "escape" it when
    a later call reuses them. torch's own tensor printing uses the same guard.
    """
    return torch._C._DisableFuncTorch()


def _resolve_activation(node: Node, spec: Any) -> Activation:
    try:
        return get_activation(spec)
    except (ValueError, TypeError) as err:
        raise ValueError(f"node {node!r}: {err}") from None


def _finite_number(value: Any, what: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{what} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"{what} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{what} must be finite, got {out!r}")
    return out


def _check_representable(
    values: torch.Tensor, names: Sequence[Any], what: str, given: Sequence[float]
) -> None:
    """Raise ValueError naming the first entry of ``values`` (already cast to the network's dtype) that is
    NaN or infinite — e.g. a finite float64 weight beyond the range of float32."""
    bad = torch.nonzero(~torch.isfinite(values))
    if len(bad) == 0:
        return
    i = int(bad[0])
    dtype, value = values.dtype, given[i]
    if not math.isfinite(value):
        raise ValueError(f"{what} {names[i]!r} must be finite, got {value!r}")
    raise ValueError(
        f"{what} {names[i]!r} must be finite in {dtype}: {value!r} lies outside its range "
        f"±{torch.finfo(dtype).max:.6g}; rescale it or build the network with dtype=torch.float64"
    )


def _check_io(G: nx.DiGraph, nodes: Sequence[Node], what: str) -> list[Node]:
    if isinstance(nodes, (str, bytes)) or not isinstance(nodes, Iterable):
        raise TypeError(f"{what} must be a list of graph nodes, got {nodes!r}")
    out = list(nodes)
    if not out:
        raise ValueError(f"{what} must name at least one node")
    missing = [n for n in out if n not in G]
    if missing:
        raise ValueError(f"{what} names nodes {missing!r} that are not in the graph")
    if len(set(out)) != len(out):
        raise ValueError(f"{what} lists a node twice: {out!r}")
    return out


def _closure(neighbours: Callable[[Node], Iterable[Node]], start: Sequence[Node]) -> set[Node]:
    """All nodes reachable from ``start`` by repeatedly following ``neighbours`` (one multi-source search)."""
    seen = set(start)
    stack = list(start)
    while stack:
        for u in neighbours(stack.pop()):
            if u not in seen:
                seen.add(u)
                stack.append(u)
    return seen


def validate_dag(
    G: nx.DiGraph, inputs: Sequence[Node], outputs: Sequence[Node]
) -> tuple[list[Node], list[Node]]:
    """Check the structural requirements of a :class:`DagNet` and return the input/output lists.

    Acyclic; inputs have no incoming edges and are not outputs; every node is reachable from an input
    and reaches an output; every non-input node has at least one incoming edge.
    """
    if not isinstance(G, nx.DiGraph) or G.is_multigraph():
        raise TypeError(f"expected a networkx.DiGraph, got {type(G).__name__}")
    if G.number_of_nodes() == 0:
        raise ValueError("the graph has no nodes")
    if not nx.is_directed_acyclic_graph(G):
        cycle = nx.find_cycle(G)
        raise ValueError(f"the graph has a cycle: {cycle!r}; a DagNet needs an acyclic graph")
    ins = _check_io(G, inputs, "inputs")
    outs = _check_io(G, outputs, "outputs")
    both = set(ins) & set(outs)
    if both:
        raise ValueError(f"nodes {sorted(map(repr, both))} are listed both as inputs and outputs")
    for v in ins:
        if G.in_degree(v) > 0:
            raise ValueError(f"input node {v!r} has incoming edges from {list(G.predecessors(v))!r}")
    reach = _closure(G.successors, ins)
    unreached = [v for v in G.nodes if v not in reach]
    if unreached:
        raise ValueError(f"nodes {unreached[:10]!r} are not reachable from any input")
    coreach = _closure(G.predecessors, outs)
    dead_ends = [v for v in G.nodes if v not in coreach]
    if dead_ends:
        raise ValueError(f"nodes {dead_ends[:10]!r} do not reach any output")
    return ins, outs


class DagNet(torch.nn.Module):
    """A feed-forward network on a DAG with flat parameters θ = [edge weights; biases].

    Build with :meth:`from_networkx`. ``net(x)`` maps ``[batch, len(inputs)]`` to ``[batch, len(outputs)]``.
    """

    edge_src: torch.Tensor  # buffers (registered in __init__): source / target node position of each edge
    edge_dst: torch.Tensor
    output_positions: torch.Tensor  # node positions of the outputs

    def __init__(
        self,
        nodes: Sequence[Node],
        inputs: Sequence[Node],
        outputs: Sequence[Node],
        edges: Sequence[tuple[Node, Node]],
        weights: Sequence[float],
        biases: dict[Node, float],
        activations: dict[Node, Activation],
        dtype: torch.dtype = torch.float64,
        engine: str = DEFAULT_ENGINE,
    ) -> None:
        super().__init__()
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.engine = engine
        G = nx.DiGraph()
        G.add_nodes_from(nodes)
        G.add_edges_from(edges)
        self.inputs, self.outputs = validate_dag(G, inputs, outputs)
        input_set = set(self.inputs)
        # Node order: inputs (given order), then each later topological generation in insertion order.
        order = list(self.inputs)
        gen_ranges: list[tuple[int, int]] = []
        rank = {v: i for i, v in enumerate(nodes)}
        for depth, gen in enumerate(nx.topological_generations(G)):
            if depth == 0:
                extra = [v for v in gen if v not in input_set]
                if extra:
                    raise ValueError(f"nodes {extra!r} have no incoming edges but are not inputs")
                continue
            gen = sorted(gen, key=rank.__getitem__)
            gen_ranges.append((len(order), len(order) + len(gen)))
            order.extend(gen)
        self.nodes: list[Node] = order
        self.index: dict[Node, int] = {v: i for i, v in enumerate(order)}
        self.graph = G
        self.bias_nodes: list[Node] = order[len(self.inputs) :]
        self.bias_index: dict[Node, int] = {v: i for i, v in enumerate(self.bias_nodes)}
        # Edges sorted by target position then source position: contiguous per generation.
        pairs = sorted(range(len(edges)), key=lambda e: (self.index[edges[e][1]], self.index[edges[e][0]]))
        self.edges: list[tuple[Node, Node]] = [tuple(edges[e]) for e in pairs]  # type: ignore[misc]
        self.edge_index: dict[tuple[Node, Node], int] = {e: i for i, e in enumerate(self.edges)}
        self.activations: list[Activation] = []
        act_ids: dict[tuple, int] = {}
        node_act: list[int] = []
        for v in self.bias_nodes:
            act = activations[v]
            key = act.key
            if key not in act_ids:
                act_ids[key] = len(self.activations)
                self.activations.append(act)
            node_act.append(act_ids[key])
        self.node_activation: dict[Node, Activation] = {v: activations[v] for v in self.bias_nodes}
        self.edge_weight = torch.nn.Parameter(torch.tensor([float(weights[e]) for e in pairs], dtype=dtype))
        self.bias = torch.nn.Parameter(
            torch.tensor([float(biases.get(v, 0.0)) for v in self.bias_nodes], dtype=dtype)
        )
        _check_representable(
            self.edge_weight.detach(), self.edges, "weight of edge", [float(weights[e]) for e in pairs]
        )
        _check_representable(
            self.bias.detach(),
            self.bias_nodes,
            "bias of node",
            [float(biases.get(v, 0.0)) for v in self.bias_nodes],
        )
        # numpy copies of the edge ends: the engines' index data is built lazily, possibly inside a
        # torch.func transform, where a buffer's storage cannot be read.
        self._src_np = np.asarray([self.index[u] for u, _ in self.edges], dtype=np.int64)
        self._dst_np = np.asarray([self.index[v] for _, v in self.edges], dtype=np.int64)
        src = torch.from_numpy(self._src_np.copy())
        dst = torch.from_numpy(self._dst_np.copy())
        self.register_buffer("edge_src", src, persistent=False)
        self.register_buffer("edge_dst", dst, persistent=False)
        self.register_buffer(
            "output_positions", torch.tensor([self.index[v] for v in self.outputs]), persistent=False
        )
        self._gen_ranges = gen_ranges
        self._node_act = node_act
        self._generations: list[_Generation] | None = None
        self._gen_device = torch.device("cpu")
        self._plans: dict[tuple[str, torch.device], PropagationPlan] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_networkx(
        cls,
        G: nx.DiGraph,
        inputs: Sequence[Node],
        outputs: Sequence[Node],
        dtype: torch.dtype = torch.float64,
        engine: str = DEFAULT_ENGINE,
    ) -> DagNet:
        """Build from a DAG with node attributes ``activation`` (name or callable, default linear) and
        ``bias`` (default 0; ignored on inputs, which have none) and the edge attribute ``weight``.
        ``engine`` picks the propagation (:data:`ENGINES`)."""
        ins, outs = validate_dag(G, inputs, outputs)
        input_set = set(ins)
        edges, weights = [], []
        for u, v, data in G.edges(data=True):
            if "weight" not in data:
                raise ValueError(f"edge {(u, v)!r} has no 'weight' attribute")
            weights.append(_finite_number(data["weight"], f"weight of edge {(u, v)!r}"))
            edges.append((u, v))
        activations: dict[Node, Activation] = {}
        biases: dict[Node, float] = {}
        for v, data in G.nodes(data=True):
            if v in input_set:
                continue
            activations[v] = _resolve_activation(v, data.get("activation", DEFAULT_ACTIVATION))
            biases[v] = _finite_number(data.get("bias", 0.0), f"bias of node {v!r}")
        return cls(list(G.nodes), ins, outs, edges, weights, biases, activations, dtype=dtype, engine=engine)

    # ------------------------------------------------------------------ engines
    @property
    def engine(self) -> str:
        """The propagation engine (:data:`ENGINES`); assign to switch (the graph is not rebuilt)."""
        return self._engine

    @engine.setter
    def engine(self, value: str) -> None:
        if value not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {value!r}")
        self._engine = value

    def propagation_plan(
        self, device: torch.device | str = "cpu", mode: str | None = None
    ) -> PropagationPlan:
        """The fast engine's block plan on ``device`` (built once per block mode and device, then cached)."""
        mode = (self.engine if self.engine != REFERENCE_ENGINE else DEFAULT_ENGINE) if mode is None else mode
        device = torch.device(device)
        key = (mode, device)
        if key not in self._plans:
            cpu_key = (mode, torch.device("cpu"))
            with _outside_transforms():
                if cpu_key not in self._plans:
                    self._plans[cpu_key] = PropagationPlan.build(
                        self.num_nodes,
                        len(self.inputs),
                        self._gen_ranges,
                        self._src_np,
                        self._dst_np,
                        self._node_act,
                        self.activations,
                        mode=mode,
                    )
                self._plans[key] = self._plans[cpu_key].to(device)
        return self._plans[key]

    def _build_generations(self) -> None:
        """Index data of the reference engine (built on its first use)."""
        gens = []
        dst = self._dst_np.tolist()
        src_all = torch.from_numpy(self._src_np.copy())
        dst_all = torch.from_numpy(self._dst_np.copy())
        start_edge = 0
        n_in = len(self.inputs)
        for lo, hi in self._gen_ranges:
            end_edge = start_edge
            while end_edge < len(dst) and dst[end_edge] < hi:
                end_edge += 1
            acts: dict[int, list[int]] = {}
            for local, pos in enumerate(range(lo, hi)):
                acts.setdefault(self._node_act[pos - n_in], []).append(local)
            groups = tuple((a, torch.tensor(locs, dtype=torch.long)) for a, locs in sorted(acts.items()))
            gens.append(
                _Generation(
                    nodes=torch.arange(lo, hi),
                    edge_src=src_all[start_edge:end_edge].clone(),
                    edge_dst_local=dst_all[start_edge:end_edge] - lo,
                    edge_ids=torch.arange(start_edge, end_edge),
                    bias_ids=torch.arange(lo - n_in, hi - n_in),
                    groups=groups,
                )
            )
            start_edge = end_edge
        self._generations = gens
        self._gen_device = torch.device("cpu")

    def _generations_on(self, device: torch.device) -> list[_Generation]:
        with _outside_transforms():
            return self._generations_on_device(device)

    def _generations_on_device(self, device: torch.device) -> list[_Generation]:
        if self._generations is None:
            self._build_generations()
        assert self._generations is not None
        if self._gen_device != device:
            self._generations = [
                _Generation(
                    g.nodes.to(device),
                    g.edge_src.to(device),
                    g.edge_dst_local.to(device),
                    g.edge_ids.to(device),
                    g.bias_ids.to(device),
                    tuple((a, loc.to(device)) for a, loc in g.groups),
                )
                for g in self._generations
            ]
            self._gen_device = device
        return self._generations

    # ------------------------------------------------------------------ sizes and views
    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_edges(self) -> int:
        return len(self.edges)

    @property
    def num_biases(self) -> int:
        return len(self.bias_nodes)

    @property
    def num_parameters(self) -> int:
        return self.num_edges + self.num_biases

    @property
    def depth(self) -> int:
        """Number of non-input topological generations."""
        return len(self._gen_ranges)

    def node_depths(self) -> np.ndarray:
        """Topological depth of every node (longest path from an input; inputs 0), in :attr:`nodes` order."""
        depth = np.zeros(self.num_nodes, dtype=np.int64)
        for g, (lo, hi) in enumerate(self._gen_ranges, start=1):
            depth[lo:hi] = g
        return depth

    def edge_endpoints(self) -> tuple[np.ndarray, np.ndarray]:
        """(source, target) node positions of every edge, in θ order (read-only numpy arrays on the CPU)."""
        src, dst = self._src_np.view(), self._dst_np.view()
        src.flags.writeable = dst.flags.writeable = False
        return src, dst

    def node_activation_ids(self) -> np.ndarray:
        """Activation id (index into :attr:`activations`) of every non-input node, in :attr:`bias_nodes`
        order."""
        return np.asarray(self._node_act, dtype=np.int64)

    def flat_parameters(self) -> torch.Tensor:
        """θ = [edge weights; biases] as one detached vector (a copy)."""
        return torch.cat([self.edge_weight.detach(), self.bias.detach()]).clone()

    def set_flat_parameters(self, theta: torch.Tensor) -> None:
        """Overwrite the parameters from θ = [edge weights; biases]."""
        theta = torch.as_tensor(theta, dtype=self.edge_weight.dtype, device=self.edge_weight.device)
        if theta.shape != (self.num_parameters,):
            raise ValueError(f"θ must have shape ({self.num_parameters},), got {tuple(theta.shape)}")
        with torch.no_grad():
            self.edge_weight.copy_(theta[: self.num_edges])
            self.bias.copy_(theta[self.num_edges :])

    def split(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(edge weights, biases) views of a flat θ."""
        return theta[: self.num_edges], theta[self.num_edges :]

    def edge_weights(self) -> dict[tuple[Node, Node], float]:
        w = self.edge_weight.detach().cpu().tolist()
        return {e: w[i] for i, e in enumerate(self.edges)}

    def node_biases(self) -> dict[Node, float]:
        b = self.bias.detach().cpu().tolist()
        return {v: b[i] for i, v in enumerate(self.bias_nodes)}

    def to_networkx(self) -> nx.DiGraph:
        """A graph holding the current weights (edge ``weight``), biases and activations (node attributes)."""
        G = nx.DiGraph()
        biases = self.node_biases()
        for v in self.nodes:
            if v in self.bias_index:
                G.add_node(v, activation=self.node_activation[v], bias=biases[v])
            else:
                G.add_node(v)
        for (u, v), w in self.edge_weights().items():
            G.add_edge(u, v, weight=w)
        return G

    def copy_with(self, theta: torch.Tensor | None = None) -> DagNet:
        """A new DagNet on the same graph, with parameters θ (default: the current ones)."""
        theta = self.flat_parameters() if theta is None else torch.as_tensor(theta)
        w, b = self.split(theta.detach().to(self.edge_weight.dtype).cpu())
        new = DagNet(
            list(self.nodes),
            self.inputs,
            self.outputs,
            self.edges,
            w.tolist(),
            dict(zip(self.bias_nodes, b.tolist())),
            dict(self.node_activation),
            dtype=self.edge_weight.dtype,
            engine=self.engine,
        )
        return new.to(self.edge_weight.device)

    # ------------------------------------------------------------------ forward
    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"x must be a torch.Tensor of shape [batch, {len(self.inputs)}], got {type(x).__name__}"
            )
        if x.ndim != 2 or x.shape[1] != len(self.inputs):
            raise ValueError(
                f"x must have shape [batch, {len(self.inputs)}] (inputs {self.inputs!r}), "
                f"got {tuple(x.shape)}"
            )
        return x

    def node_values(
        self,
        theta: torch.Tensor,
        x: torch.Tensor,
        unit_mask: torch.Tensor | None = None,
        unit_noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(H, Z): post- and pre-activations of every node, ``[batch, num_nodes]`` in :attr:`nodes` order.

        Optional symmetry breakers (Section 2, "escaping the LoP manifolds"): ``unit_noise`` is added to
        the pre-activations z(v) and ``unit_mask`` multiplies h(v) (dropout), both ``[batch, num_nodes]``
        (input columns are ignored). Z is 0 on input columns.
        """
        x = self._check_input(x)
        H, Z = self._propagate(theta, x, unit_mask, unit_noise, keep_z=True)
        return H.T, Z.T  # type: ignore[union-attr]

    def _check_breaker(self, t: torch.Tensor | None, batch: int, what: str) -> torch.Tensor | None:
        if t is None:
            return None
        if not isinstance(t, torch.Tensor) or t.shape != (batch, self.num_nodes):
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(
                f"{what} must be a tensor of shape [batch, num_nodes] = [{batch}, {self.num_nodes}], "
                f"got {shape}"
            )
        return t

    def _propagate(
        self,
        theta: torch.Tensor,
        x: torch.Tensor,
        unit_mask: torch.Tensor | None,
        unit_noise: torch.Tensor | None,
        keep_z: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Node-major (H, Z), ``[num_nodes, batch]``, by the selected engine."""
        if not isinstance(theta, torch.Tensor) or theta.shape != (self.num_parameters,):
            shape = tuple(theta.shape) if isinstance(theta, torch.Tensor) else type(theta).__name__
            raise ValueError(
                f"θ must be a tensor of shape ({self.num_parameters},) = [edge weights; biases], got {shape}"
            )
        unit_mask = self._check_breaker(unit_mask, x.shape[0], "unit_mask")
        unit_noise = self._check_breaker(unit_noise, x.shape[0], "unit_noise")
        if self.engine == REFERENCE_ENGINE:
            return self._propagate_reference(theta, x, unit_mask, unit_noise, keep_z)
        dt = theta.dtype
        mask_t = None if unit_mask is None else unit_mask.T.to(dt)
        noise_t = None if unit_noise is None else unit_noise.T.to(dt)
        return propagate_theta(self.propagation_plan(x.device), theta, x.T.to(dt), noise_t, mask_t)

    def _propagate_reference(
        self,
        theta: torch.Tensor,
        x: torch.Tensor,
        unit_mask: torch.Tensor | None,
        unit_noise: torch.Tensor | None,
        keep_z: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The reference engine: autograd traces, per generation, a gather, a multiply and an ``index_add``
        and writes the generation into the whole [nodes, batch] buffer (cost grows with depth × nodes)."""
        w, b = self.split(theta)
        batch, n_in = x.shape[0], len(self.inputs)
        H = x.new_zeros(self.num_nodes, batch, dtype=theta.dtype)
        H = H.index_copy(0, torch.arange(n_in, device=x.device), x.T.to(theta.dtype))
        Z = torch.zeros_like(H) if keep_z else None
        mask_t = None if unit_mask is None else unit_mask.T
        noise_t = None if unit_noise is None else unit_noise.T
        for gen in self._generations_on(x.device):
            contrib = H.index_select(0, gen.edge_src) * w.index_select(0, gen.edge_ids).unsqueeze(1)
            z = H.new_zeros(len(gen.bias_ids), batch).index_add(0, gen.edge_dst_local, contrib)
            z = z + b.index_select(0, gen.bias_ids).unsqueeze(1)
            if noise_t is not None:
                z = z + noise_t.index_select(0, gen.nodes)
            if len(gen.groups) == 1:
                h = self.activations[gen.groups[0][0]].torch_fn(z)
            else:
                h = torch.zeros_like(z)
                for a, loc in gen.groups:
                    h = h.index_copy(0, loc, self.activations[a].torch_fn(z.index_select(0, loc)))
            if mask_t is not None:
                h = h * mask_t.index_select(0, gen.nodes)
            H.index_copy_(0, gen.nodes, h)
            if Z is not None:
                Z.index_copy_(0, gen.nodes, z)
        return H, Z

    def functional(
        self,
        theta: torch.Tensor,
        x: torch.Tensor,
        unit_mask: torch.Tensor | None = None,
        unit_noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Outputs h(V_out) for flat parameters θ (pure function of θ and x; works with ``torch.func``)."""
        x = self._check_input(x)
        H, _ = self._propagate(theta, x, unit_mask, unit_noise, keep_z=False)
        return H.index_select(0, self.output_positions.to(x.device)).T

    def theta(self) -> torch.Tensor:
        """The live parameters as one vector that autograd tracks back to the Parameters."""
        return torch.cat([self.edge_weight, self.bias])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.functional(self.theta(), x)


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": lambda out, y: ((out - y) ** 2).mean(),
    "cross_entropy": lambda out, y: -(y * torch.log_softmax(out, dim=1)).sum(dim=1).mean(),
}
"""Losses by name. ``mse`` is the squared error averaged over batch and outputs; ``cross_entropy`` the softmax
cross-entropy −Σ_k y_k log softmax(out)_k averaged over the batch, with y a row of class probabilities
(one-hot labels) per example."""


def get_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid choices: {', '.join(LOSSES)}")
    return LOSSES[name]


def loss_of_theta(
    net: DagNet, x: torch.Tensor, y: torch.Tensor, loss: str = "mse"
) -> Callable[[torch.Tensor], torch.Tensor]:
    """θ ↦ L(θ) on the batch (x, y): the function that gradients, HVPs and Hessians differentiate."""
    fn = get_loss(loss)
    if y.shape != (x.shape[0], len(net.outputs)):
        raise ValueError(f"y must have shape [batch, {len(net.outputs)}], got {tuple(y.shape)}")
    return lambda theta: fn(net.functional(theta, x), y)

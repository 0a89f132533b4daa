"""The LoP manifolds of Theorem 2.1 and Appendix A.3 as linear/affine subspaces of θ = [w; b].

For a :class:`~dag_nets.partition.Partition` with block pairs (S_i → S_j), X = w[S_i, S_j] (missing
edges are structural zeros):

* ``RE``  row-equitable:    every row sum of X equal;
* ``CE``  column-equitable: every column sum of X equal;
* ``C``   M_C = RE ∩ CE (Theorem 2.1 part 2);
* ``BC``  block-constant:   every existing entry of X equal;
* ``D``   M_D(θ0) = θ0 + BC for θ0 ∈ M_C (Appendix A.3, the family 𝕄_D);
* ``F``   M_F(θ0) = {θ : θ_in(v) = θ0_in(v) for v ∈ F} (Theorem 2.1 part 1); θ_in(v) is v's incoming
  edge weights and its bias.

Biases (an extension: the paper has none). On RE, CE, C and D the biases of a block are equal
(block-constant) — needed for forward cloning, since z(v) = Σ w h + b(v) — and on D the bias shift
from θ0 is block-constant.

Projections are orthogonal (Euclidean inner product on θ) and matrix-free with closed forms per block
pair. For a complete m×n pair, decompose X = ḡ 11ᵀ + a 1ᵀ + 1 bᵀ + Y with ḡ the grand mean,
a = row means − ḡ, b = column means − ḡ and Y doubly centred; these four pieces are orthogonal, and

    P_BC X = ḡ 11ᵀ,   P_RE X = X − a 1ᵀ,   P_CE X = X − 1 bᵀ,   P_C X = X − a 1ᵀ − 1 bᵀ,

so dim = 1, mn − (m−1), mn − (n−1) and (m−1)(n−1)+1 (Remark A.1 counts the last). Incomplete pairs
are projected with a small dense pseudo-inverse of the pair's own constraint matrix. The dense
constraint matrices (:meth:`LinearManifold.constraint_matrix`) are built independently from the
definitions and give the reference projector by SVD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import torch

from dag_nets.graph import Node
from dag_nets.partition import BlockPair, Partition

KINDS: tuple[str, ...] = ("RE", "CE", "C", "BC", "D", "F")
RANK_RTOL = 1e-10
"""Relative singular-value cut-off for numerical ranks of constraint matrices."""
ANCHOR_TOL = 1e-8
"""M_D(θ0) is defined for θ0 ∈ M_C: the anchor's M_C residual must be below this (relative to ‖θ0‖∞ ∨ 1)."""


# ---------------------------------------------------------------------------- per-pair dense pieces
def _pair_constraints(pair: BlockPair, kind: str) -> np.ndarray:
    """Constraint rows (over the pair's existing edges) whose null space is the pair's RE/CE/C/BC set."""
    m, n = pair.shape
    nnz = len(pair.edge_ids)
    rows = []
    if kind in ("RE", "C"):
        onehot = np.zeros((m, nnz))
        onehot[pair.local_rows, np.arange(nnz)] = 1.0
        rows.append(onehot[1:] - onehot[:1])  # row_r − row_0
    if kind in ("CE", "C"):
        onehot = np.zeros((n, nnz))
        onehot[pair.local_cols, np.arange(nnz)] = 1.0
        rows.append(onehot[1:] - onehot[:1])
    if kind == "BC":
        eye = np.eye(nnz)
        rows.append(eye[1:] - eye[:1])
    return np.concatenate(rows, axis=0) if rows else np.zeros((0, nnz))


def _null_projector(A: np.ndarray, size: int) -> np.ndarray:
    """Orthogonal projector onto the null space of A (via SVD)."""
    if A.shape[0] == 0:
        return np.eye(size)
    _, s, vt = np.linalg.svd(A, full_matrices=True)
    rank = int(np.sum(s > RANK_RTOL * max(1.0, s.max(initial=0.0))))
    null = vt[rank:]
    return null.T @ null


def _rank(A: np.ndarray) -> int:
    if A.size == 0:
        return 0
    s = np.linalg.svd(A, compute_uv=False)
    return int(np.sum(s > RANK_RTOL * max(1.0, s.max(initial=0.0))))


def pair_dimension(pair: BlockPair, kind: str) -> int:
    """Dimension of the pair's subspace: closed form for complete pairs, numerical rank otherwise."""
    m, n = pair.shape
    if pair.complete:
        return {"RE": m * n - (m - 1), "CE": m * n - (n - 1), "C": (m - 1) * (n - 1) + 1, "BC": 1}[kind]
    return len(pair.edge_ids) - _rank(_pair_constraints(pair, kind))


# ---------------------------------------------------------------------------- matrix-free projections
@dataclass
class _TorchIndex:
    pair: torch.Tensor
    row_key: torch.Tensor
    col_key: torch.Tensor
    row_key_pair: torch.Tensor
    col_key_pair: torch.Tensor
    m: torch.Tensor
    n: torch.Tensor
    count: torch.Tensor
    complete_edges: torch.Tensor  # bool mask over edges
    bias_group: torch.Tensor
    bias_count: torch.Tensor
    incomplete: list[tuple[torch.Tensor, dict[str, torch.Tensor]]] = field(default_factory=list)


_INDEX_CACHE: dict[tuple[int, str, torch.dtype], _TorchIndex] = {}


def _torch_index(part: Partition, like: torch.Tensor) -> _TorchIndex:
    key = (id(part), str(like.device), like.dtype)
    cached = _INDEX_CACHE.get(key)
    if cached is not None and getattr(cached, "_owner", None) is part:
        return cached
    dev, dt = like.device, like.dtype
    shapes = torch.as_tensor(part.pair_shape, device=dev)
    counts = torch.as_tensor([len(p.edge_ids) for p in part.pairs], device=dev, dtype=dt)
    complete_mask = np.zeros(part.net.num_edges, dtype=bool)
    incomplete = []
    for p in part.pairs:
        if p.complete:
            complete_mask[p.edge_ids] = True
        else:
            projs = {
                k: torch.as_tensor(_null_projector(_pair_constraints(p, k), len(p.edge_ids)), device=dev, dtype=dt)
                for k in ("RE", "CE", "C")
            }
            incomplete.append((torch.as_tensor(p.edge_ids, device=dev), projs))
    idx = _TorchIndex(
        pair=torch.as_tensor(part.edge_pair, device=dev),
        row_key=torch.as_tensor(part.edge_row_key, device=dev),
        col_key=torch.as_tensor(part.edge_col_key, device=dev),
        row_key_pair=torch.as_tensor(part.row_key_pair, device=dev),
        col_key_pair=torch.as_tensor(part.col_key_pair, device=dev),
        m=shapes[:, 0].to(dt) if len(part.pairs) else torch.zeros(0, device=dev, dtype=dt),
        n=shapes[:, 1].to(dt) if len(part.pairs) else torch.zeros(0, device=dev, dtype=dt),
        count=counts,
        complete_edges=torch.as_tensor(complete_mask, device=dev),
        bias_group=torch.as_tensor(part.bias_group, device=dev),
        bias_count=torch.bincount(torch.as_tensor(part.bias_group, device=dev), minlength=part.num_bias_blocks).to(dt),
        incomplete=incomplete,
    )
    idx._owner = part  # type: ignore[attr-defined]
    _INDEX_CACHE[key] = idx
    return idx


def _segment_mean(values: torch.Tensor, seg: torch.Tensor, size: int, count: torch.Tensor) -> torch.Tensor:
    return torch.zeros(size, dtype=values.dtype, device=values.device).index_add(0, seg, values) / count


def project_block_constant(part: Partition, w: torch.Tensor) -> torch.Tensor:
    """P_BC w: every existing edge of a block pair replaced by the pair's mean weight."""
    idx = _torch_index(part, w)
    if len(part.pairs) == 0:
        return torch.zeros_like(w)
    return _segment_mean(w, idx.pair, len(part.pairs), idx.count)[idx.pair]


def project_equitable(part: Partition, w: torch.Tensor, kind: str = "C") -> torch.Tensor:
    """P_RE, P_CE or P_C (= RE ∩ CE) of the edge weights, closed form per complete pair (module docstring)."""
    if kind not in ("RE", "CE", "C"):
        raise ValueError(f"kind must be 'RE', 'CE' or 'C', got {kind!r}")
    idx = _torch_index(part, w)
    out = w.clone()
    if len(part.pairs):
        P = len(part.pairs)
        grand = _segment_mean(w, idx.pair, P, idx.count)
        if kind in ("RE", "C"):
            row_mean = _segment_mean(w, idx.row_key, part.num_row_keys, idx.n[idx.row_key_pair])
            out = out - torch.where(idx.complete_edges, row_mean[idx.row_key] - grand[idx.pair], torch.zeros_like(w))
        if kind in ("CE", "C"):
            col_mean = _segment_mean(w, idx.col_key, part.num_col_keys, idx.m[idx.col_key_pair])
            out = out - torch.where(idx.complete_edges, col_mean[idx.col_key] - grand[idx.pair], torch.zeros_like(w))
    for eids, projs in idx.incomplete:
        out = out.index_copy(0, eids, projs[kind] @ w.index_select(0, eids))
    return out


def project_bias_block_constant(part: Partition, b: torch.Tensor) -> torch.Tensor:
    """Biases replaced by their block means."""
    idx = _torch_index(part, b)
    if b.numel() == 0:
        return b.clone()
    return _segment_mean(b, idx.bias_group, part.num_bias_blocks, idx.bias_count)[idx.bias_group]


def frozen_coordinates(part_or_net, frozen: Iterable[Node]) -> np.ndarray:
    """Positions in θ of θ_in(v) (incoming edge weights and bias) for every v ∈ F (Theorem 2.1 part 1)."""
    net = getattr(part_or_net, "net", part_or_net)
    frozen = list(frozen)
    bad = [v for v in frozen if v not in net.bias_index]
    if bad:
        raise ValueError(f"frozen units must be non-input nodes of the network; got {bad!r}")
    fset = set(frozen)
    ids = [e for e, (_, v) in enumerate(net.edges) if v in fset]
    ids += [net.num_edges + net.bias_index[v] for v in frozen]
    return np.asarray(sorted(ids), dtype=np.int64)


# ---------------------------------------------------------------------------- the manifold object
@dataclass
class LinearManifold:
    """One LoP manifold: a linear (RE, CE, C, BC) or affine (D, F) subspace of θ-space.

    Build with :func:`manifold`. ``anchor`` is θ0 for D and F (None for the linear ones).
    """

    kind: str
    partition: Partition
    anchor: torch.Tensor | None = None
    frozen: tuple[Node, ...] = ()

    @property
    def net(self):
        return self.partition.net

    @property
    def num_parameters(self) -> int:
        return self.net.num_parameters

    # -- projections
    def tangent(self, v: torch.Tensor) -> torch.Tensor:
        """Orthogonal projection of a θ-space vector onto the tangent space T M."""
        net, part = self.net, self.partition
        if v.shape[-1] != net.num_parameters:
            raise ValueError(f"vector must have length {net.num_parameters}, got {tuple(v.shape)}")
        if self.kind == "F":
            out = v.clone()
            out[..., torch.as_tensor(frozen_coordinates(net, self.frozen), device=v.device)] = 0
            return out
        w, b = net.split(v)
        tw = project_block_constant(part, w) if self.kind in ("BC", "D") else project_equitable(part, w, self.kind)
        return torch.cat([tw, project_bias_block_constant(part, b)])

    def normal(self, v: torch.Tensor) -> torch.Tensor:
        """Orthogonal projection onto the normal space N M = (T M)^⊥."""
        return v - self.tangent(v)

    def distance(self, theta: torch.Tensor) -> float:
        """Euclidean distance of θ to the manifold: ‖P_N (θ − θ0)‖ (θ0 = 0 for the linear ones)."""
        base = theta if self.anchor is None else theta - self.anchor.to(theta)
        return float(torch.linalg.vector_norm(self.normal(base)))

    def residual(self, theta: torch.Tensor) -> float:
        """Largest violated constraint: the max spread of row/column sums, of pair entries, of block biases,
        or of frozen coordinates, whichever define this manifold (0 exactly on the manifold)."""
        net, part = self.net, self.partition
        base = theta if self.anchor is None else theta - self.anchor.to(theta)
        if self.kind == "F":
            ids = frozen_coordinates(net, self.frozen)
            return float(base[torch.as_tensor(ids, device=base.device)].abs().max()) if len(ids) else 0.0
        w, b = (x.detach().cpu().numpy() for x in net.split(base))
        res = 0.0
        for pair in part.pairs:
            X = pair.dense(w)
            if self.kind in ("RE", "C"):
                s = X.sum(axis=1)
                res = max(res, float(s.max() - s.min()))
            if self.kind in ("CE", "C"):
                s = X.sum(axis=0)
                res = max(res, float(s.max() - s.min()))
            if self.kind in ("BC", "D"):
                vals = w[pair.edge_ids]
                res = max(res, float(vals.max() - vals.min()))
        for g in range(part.num_bias_blocks):
            vals = b[part.bias_group == g]
            res = max(res, float(vals.max() - vals.min()))
        return res

    # -- dimensions
    def dimension(self) -> int:
        """Closed-form dimension (Remark A.1 for D: #block pairs + #bias blocks)."""
        net, part = self.net, self.partition
        if self.kind == "F":
            return net.num_parameters - len(frozen_coordinates(net, self.frozen))
        pair_kind = "BC" if self.kind in ("BC", "D") else self.kind
        return sum(pair_dimension(p, pair_kind) for p in part.pairs) + part.num_bias_blocks

    def constraint_matrix(self) -> np.ndarray:
        """Dense constraint matrix A (rows = the defining linear equalities on θ, from the definitions);
        the tangent space is null(A). Built independently of the closed-form projections."""
        net, part = self.net, self.partition
        P = net.num_parameters
        rows: list[np.ndarray] = []
        if self.kind == "F":
            ids = frozen_coordinates(net, self.frozen)
            A = np.zeros((len(ids), P))
            A[np.arange(len(ids)), ids] = 1.0
            return A
        pair_kind = "BC" if self.kind in ("BC", "D") else self.kind
        for pair in part.pairs:
            local = _pair_constraints(pair, pair_kind)
            full = np.zeros((local.shape[0], P))
            full[:, pair.edge_ids] = local
            rows.append(full)
        for g in range(part.num_bias_blocks):
            members = np.flatnonzero(part.bias_group == g) + net.num_edges
            block = np.zeros((len(members) - 1, P))
            block[np.arange(len(members) - 1), members[1:]] = 1.0
            block[:, members[0]] = -1.0
            rows.append(block)
        return np.concatenate(rows, axis=0) if rows else np.zeros((0, P))

    def dense_bases(self) -> tuple[np.ndarray, np.ndarray]:
        """Orthonormal bases (tangent, normal) as columns, from the SVD of the constraint matrix."""
        A = self.constraint_matrix()
        P = self.net.num_parameters
        if A.shape[0] == 0:
            return np.eye(P), np.zeros((P, 0))
        _, s, vt = np.linalg.svd(A, full_matrices=True)
        rank = int(np.sum(s > RANK_RTOL * max(1.0, s.max(initial=0.0))))
        return vt[rank:].T, vt[:rank].T

    def dense_tangent_projector(self) -> np.ndarray:
        T, _ = self.dense_bases()
        return T @ T.T

    def dense_dimension(self) -> int:
        return self.net.num_parameters - _rank(self.constraint_matrix())

    # -- points
    def random_point(self, generator: torch.Generator | None = None, scale: float = 1.0) -> torch.Tensor:
        """A random θ on the manifold: anchor + P_T(Gaussian). For C this gives equitable weights that are
        not block-constant (almost surely, whenever some pair has m, n ≥ 2)."""
        net = self.net
        g = torch.randn(net.num_parameters, generator=generator, dtype=net.edge_weight.dtype) * scale
        point = self.tangent(g.to(net.edge_weight.device))
        return point if self.anchor is None else self.anchor.to(point) + point

    def contains(self, theta: torch.Tensor, tol: float) -> bool:
        return self.residual(theta) <= tol


def manifold(
    kind: str,
    partition: Partition,
    anchor: torch.Tensor | None = None,
    frozen: Iterable[Node] = (),
) -> LinearManifold:
    """Build a manifold: ``RE``, ``CE``, ``C``, ``BC`` (linear), ``D`` (needs ``anchor`` θ0 ∈ M_C) or
    ``F`` (needs ``anchor`` and the ``frozen`` units)."""
    if kind not in KINDS:
        raise ValueError(f"unknown manifold kind {kind!r}; valid choices: {', '.join(KINDS)}")
    if not isinstance(partition, Partition):
        raise TypeError(f"partition must be a Partition, got {type(partition).__name__}")
    frozen_t = tuple(frozen)
    if kind in ("D", "F"):
        if anchor is None:
            raise ValueError(f"manifold {kind!r} is affine: pass anchor=θ0 (a flat parameter vector)")
        anchor = torch.as_tensor(anchor).detach().clone()
        if anchor.shape != (partition.net.num_parameters,):
            raise ValueError(f"anchor must have shape ({partition.net.num_parameters},), got {tuple(anchor.shape)}")
    elif anchor is not None:
        raise ValueError(f"manifold {kind!r} is a linear subspace and takes no anchor")
    if kind == "F":
        if not frozen_t:
            raise ValueError("manifold 'F' needs at least one frozen unit")
        frozen_coordinates(partition.net, frozen_t)  # validates
    elif frozen_t:
        raise ValueError(f"frozen units only apply to manifold 'F', not {kind!r}")
    if kind == "D":
        res = LinearManifold("C", partition).residual(anchor)  # type: ignore[arg-type]
        limit = ANCHOR_TOL * max(1.0, float(anchor.abs().max()))  # type: ignore[union-attr]
        if res > limit:
            raise ValueError(f"M_D(θ0) needs θ0 ∈ M_C = RE ∩ CE; the anchor's M_C residual is {res:.3g} > {limit:.3g}")
    return LinearManifold(kind, partition, anchor, frozen_t)

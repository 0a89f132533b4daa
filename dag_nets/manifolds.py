"""The LoP manifolds of Theorem 2.1 and Appendix A.3 as linear/affine subspaces of θ = [w; b].

For a :class:`~dag_nets.partition.Partition` with block pairs (S_i → S_j), X = w[S_i, S_j] (missing
edges are structural zeros). One class per kind, all with one interface (:class:`LinearManifold`):

* :class:`RowEquitable` ``RE``       every row sum of X equal;
* :class:`ColumnEquitable` ``CE``    every column sum of X equal;
* :class:`Cloning` ``C``             M_C = RE ∩ CE (Theorem 2.1 part 2);
* :class:`BlockConstant` ``BC``      every existing entry of X equal;
* :class:`AnchoredBlockConstant` ``D``  M_D(θ0) = θ0 + BC for θ0 ∈ M_C (Appendix A.3, the family 𝕄_D);
* :class:`FrozenUnits` ``F``         M_F(θ0) = {θ : θ_in(v) = θ0_in(v) for v ∈ F} (Theorem 2.1 part 1);
  θ_in(v) is v's incoming edge weights and its bias. It needs the network, F and θ0 — no partition.

Biases (an extension: the paper has none). On RE, CE, C and D the biases of a block are equal
(block-constant) — needed for forward cloning, since z(v) = Σ w h + b(v) — and on D the bias shift
from θ0 is block-constant.

Projections are orthogonal (Euclidean inner product on θ) and matrix-free with closed forms per block
pair. For a complete m×n pair, decompose X = ḡ 11ᵀ + a 1ᵀ + 1 bᵀ + Y with ḡ the grand mean,
a = row means − ḡ, b = column means − ḡ and Y doubly centred; these four pieces are orthogonal, and

    P_BC X = ḡ 11ᵀ,   P_RE X = X − a 1ᵀ,   P_CE X = X − 1 bᵀ,   P_C X = X − a 1ᵀ − 1 bᵀ,

so dim = 1, mn − (m−1), mn − (n−1) and (m−1)(n−1)+1 (Remark A.1 counts the last). Incomplete pairs
are projected with a small dense projector onto the null space of the pair's own constraint matrix.
The dense constraint matrices (:meth:`LinearManifold.constraint_matrix`) are built independently from
the definitions and give the reference projector by SVD. Every numerical rank uses one rule,
:func:`numerical_rank`.

Projections act along dim 0, so a [P, m] matrix is projected column by column in one call; the index
tensors they need are cached on the Partition itself (:meth:`Partition.cached`, bounded).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse.linalg as sla
import torch

from dag_nets.graph import DagNet, Node
from dag_nets.partition import BlockPair, Partition

RANK_RTOL = 1e-10
"""Relative singular-value cut-off for numerical ranks of constraint matrices (:func:`numerical_rank`)."""
ANCHOR_TOL = 1e-8
"""M_D(θ0) is defined for θ0 ∈ M_C: the anchor's M_C residual must be below this (relative to ‖θ0‖∞ ∨ 1)."""


def numerical_rank(singular_values: np.ndarray) -> int:
    """Number of singular values above RANK_RTOL · max(1, s_max): the one rank rule of this module."""
    s = np.asarray(singular_values, dtype=np.float64)
    return int(np.sum(s > RANK_RTOL * max(1.0, float(s.max(initial=0.0)))))


def _row_and_null_bases(A: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal bases (columns) of the row space and the null space of A (size columns), by SVD."""
    if A.shape[0] == 0:
        return np.zeros((size, 0)), np.eye(size)
    _, s, vt = np.linalg.svd(A, full_matrices=True)
    rank = numerical_rank(s)
    return vt[:rank].T, vt[rank:].T


# ---------------------------------------------------------------------------- per-pair rules
@dataclass(frozen=True)
class PairRule:
    """What a manifold asks of the weights of every block pair X = w[S_i, S_j]."""

    equal_row_sums: bool = False
    equal_col_sums: bool = False
    constant: bool = False

    def constraints(self, pair: BlockPair) -> np.ndarray:
        """Constraint rows (over the pair's existing edges) whose null space is the pair's allowed set."""
        m, n = pair.shape
        nnz = len(pair.edge_ids)
        rows = []
        if self.equal_row_sums:
            onehot = np.zeros((m, nnz))
            onehot[pair.local_rows, np.arange(nnz)] = 1.0
            rows.append(onehot[1:] - onehot[:1])  # row_r − row_0
        if self.equal_col_sums:
            onehot = np.zeros((n, nnz))
            onehot[pair.local_cols, np.arange(nnz)] = 1.0
            rows.append(onehot[1:] - onehot[:1])
        if self.constant:
            eye = np.eye(nnz)
            rows.append(eye[1:] - eye[:1])
        return np.concatenate(rows, axis=0) if rows else np.zeros((0, nnz))

    def dimension(self, pair: BlockPair) -> int:
        """Closed form for complete pairs (module docstring), numerical rank otherwise."""
        m, n = pair.shape
        if self.constant:
            return 1
        if pair.complete:
            return m * n - (m - 1) * self.equal_row_sums - (n - 1) * self.equal_col_sums
        A = self.constraints(pair)
        return len(pair.edge_ids) - (numerical_rank(np.linalg.svd(A, compute_uv=False)) if A.size else 0)

    def null_projector(self, pair: BlockPair) -> np.ndarray:
        """Dense orthogonal projector onto the pair's allowed set (for incomplete pairs)."""
        _, null = _row_and_null_bases(self.constraints(pair), len(pair.edge_ids))
        return null @ null.T


# ---------------------------------------------------------------------------- index tensors
@dataclass(frozen=True)
class _Index:
    """Index tensors of one partition on one device and dtype (cached on the Partition)."""

    pair: torch.Tensor  # block pair of every edge
    row_key: torch.Tensor  # (pair, source) id of every edge
    col_key: torch.Tensor  # (pair, target) id of every edge
    row_count: torch.Tensor  # n of the pair, per row key (entries in a full row)
    col_count: torch.Tensor  # m of the pair, per column key
    row_key_pair: torch.Tensor
    col_key_pair: torch.Tensor
    rows_missing: torch.Tensor  # per pair: some source has no edge into the target block (its row sum is 0)
    cols_missing: torch.Tensor
    pair_count: torch.Tensor  # existing edges per pair
    bias_group: torch.Tensor
    bias_count: torch.Tensor
    incomplete: tuple[tuple[BlockPair, torch.Tensor], ...]  # (pair, its edge ids) for incomplete pairs


def _build_index(
    part: Partition, edges: np.ndarray | None, device: torch.device, dtype: torch.dtype
) -> _Index:
    """The index tensors of the edges ``edges`` (θ positions, sorted, a union of whole block pairs; None:
    every edge), renumbered so that pairs, row keys and column keys count from 0 within them."""

    def t(a, dt=None) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), device=device, dtype=dt)

    def renumber(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if edges is None:
            return np.arange(int(keys.max(initial=-1)) + 1), keys
        return np.unique(keys, return_inverse=True)

    sel = slice(None) if edges is None else edges
    pair_ids, pair = renumber(part.edge_pair[sel])  # pair_ids: the pairs' global ids, in order
    row_ids, row_key = renumber(part.edge_row_key[sel])
    col_ids, col_key = renumber(part.edge_col_key[sel])
    pair_of = np.empty(len(part.pairs), dtype=np.int64)
    pair_of[pair_ids] = np.arange(len(pair_ids))
    row_key_pair = pair_of[part.row_key_pair[row_ids]]
    col_key_pair = pair_of[part.col_key_pair[col_ids]]
    shapes = part.pair_shape[pair_ids]
    m = shapes[:, 0].astype(np.float64)
    n = shapes[:, 1].astype(np.float64)
    pairs = [part.pairs[p] for p in pair_ids.tolist()]
    incomplete = tuple(
        (p, t(p.edge_ids if edges is None else np.searchsorted(edges, p.edge_ids)))
        for p, full in zip(pairs, part.pair_complete[pair_ids].tolist())
        if not full
    )
    return _Index(
        pair=t(pair),
        row_key=t(row_key),
        col_key=t(col_key),
        row_count=t(n[row_key_pair], dtype),
        col_count=t(m[col_key_pair], dtype),
        row_key_pair=t(row_key_pair),
        col_key_pair=t(col_key_pair),
        rows_missing=t(np.bincount(row_key_pair, minlength=len(pairs)) < shapes[:, 0]),
        cols_missing=t(np.bincount(col_key_pair, minlength=len(pairs)) < shapes[:, 1]),
        pair_count=t(np.bincount(pair, minlength=len(pairs)), dtype),
        bias_group=t(part.bias_group),
        bias_count=t(np.bincount(part.bias_group, minlength=part.num_bias_blocks), dtype),
        incomplete=incomplete,
    )


def _index(part: Partition, device: torch.device, dtype: torch.dtype) -> _Index:
    """The index tensors of every edge (cached on the Partition)."""
    return part.cached(
        ("projection-index", str(device), dtype), lambda: _build_index(part, None, device, dtype)
    )


@dataclass(frozen=True)
class _Grid:
    """A complete generation-pair block of θ whose block pairs tile it as a grid.

    The block is the row-major view w[start:stop] = W [targets, sources] (the fast engine's dense view
    blocks, :class:`~dag_nets.propagation.DenseBlock`), its targets are ``target_blocks`` whole blocks of
    ``target_size`` consecutive nodes and its sources ``source_blocks`` whole blocks of ``source_size``; so
    W viewed as [target_blocks, target_size, source_blocks, source_size] holds one complete block pair
    (S_i → S_j) per (target block, source block) cell, its X = w[S_i, S_j] being the cell transposed."""

    start: int
    stop: int
    target_blocks: int
    target_size: int
    source_blocks: int
    source_size: int

    def cells(self, w: torch.Tensor) -> torch.Tensor:
        """w[start:stop] (along dim 0) as [target_blocks, target_size, source_blocks, source_size, ...]."""
        shape = (self.target_blocks, self.target_size, self.source_blocks, self.source_size)
        return w[self.start : self.stop].view(*shape, *w.shape[1:])


@dataclass(frozen=True)
class _ProjectionPlan:
    """How the weight projections run: grids by reshapes, the other edges (``rest``, θ positions; None when
    there are none) by segment sums over their own index; ``rest_is_all`` when no grid was found."""

    grids: tuple[_Grid, ...]
    rest: torch.Tensor | None
    rest_index: _Index | None
    rest_is_all: bool


def _runs(blocks: np.ndarray, sizes: np.ndarray) -> tuple[int, int] | None:
    """(number, size) when ``blocks`` (block ids of consecutive nodes) is runs of one length s, each run a
    whole block (of size s); else None."""
    s = int(sizes[blocks[0]])
    if len(blocks) % s or np.any(sizes[blocks] != s):
        return None
    runs = blocks.reshape(-1, s)
    return (len(runs), s) if np.all(runs == runs[:, :1]) else None


def _projection_plan(part: Partition, device: torch.device, dtype: torch.dtype) -> _ProjectionPlan:
    def build() -> _ProjectionPlan:
        net = part.net
        node_block = part.node_block
        sizes = np.asarray(part.block_sizes(), dtype=np.int64)
        grids = []
        covered = np.zeros(net.num_edges, dtype=bool)
        for b in net.propagation_plan("cpu", "auto").blocks:
            if b.edge_range is None:
                continue
            rows = _runs(node_block[b.rows[0] : b.rows[1]], sizes)
            cols = _runs(node_block[b.cols[0] : b.cols[1]], sizes)
            if rows is None or cols is None:
                continue
            grids.append(_Grid(*b.edge_range, *rows, *cols))
            covered[b.edge_range[0] : b.edge_range[1]] = True
        if not grids:
            return _ProjectionPlan((), None, None, True)
        rest = np.flatnonzero(~covered)
        if len(rest) == 0:
            return _ProjectionPlan(tuple(grids), None, None, False)
        return _ProjectionPlan(
            tuple(grids), torch.as_tensor(rest, device=device), _build_index(part, rest, device, dtype), False
        )

    return part.cached(("projection-plan", str(device), dtype), build)


def _incomplete_projectors(
    part: Partition, rule: PairRule, idx: _Index, scope: str, device: torch.device, dtype: torch.dtype
) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """(edge positions in ``idx``, dense null-space projector) of the incomplete pairs of ``idx``, the index
    of ``scope`` ("all" edges or the "rest" outside the grids), cached on the partition."""
    return part.cached(
        ("incomplete-projectors", rule, scope, str(device), dtype),
        lambda: tuple(
            (eids, torch.as_tensor(rule.null_projector(p), device=device, dtype=dtype))
            for p, eids in idx.incomplete
        ),
    )


def _per_row(c: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return c.reshape(-1, *([1] * (like.ndim - 1)))


def _segment_mean(values: torch.Tensor, seg: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    out = values.new_zeros((len(count), *values.shape[1:])).index_add_(0, seg, values)
    return out.div_(_per_row(count, out))


def _spread(values: torch.Tensor, groups: torch.Tensor, num_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(max, min) of the 1-D ``values`` within each group."""
    hi = values.new_full((num_groups,), -torch.inf).scatter_reduce(0, groups, values, "amax")
    lo = values.new_full((num_groups,), torch.inf).scatter_reduce(0, groups, values, "amin")
    return hi, lo


def _grid_normal_component(grid: _Grid, rule: PairRule, w: torch.Tensor, out: torch.Tensor) -> None:
    """The closed forms of :func:`weight_normal_component` on one grid, by reductions and broadcasts of its
    [target blocks, target size, source blocks, source size] view: a pair's row (source) sums run over the
    target axis, its column (target) sums over the source axis."""
    X, Y = grid.cells(w), grid.cells(out)
    m, n = grid.source_size, grid.target_size  # X of a pair is m × n
    if rule.constant:
        grand = X.mean(dim=(1, 3), keepdim=True)
        torch.sub(X, grand, out=Y)
        return
    if not (rule.equal_row_sums or rule.equal_col_sums):
        Y.zero_()
        return
    row_sums = X.sum(dim=1, keepdim=True) if rule.equal_row_sums else None  # [Jb, 1, Ib, m, ...]
    col_sums = X.sum(dim=3, keepdim=True) if rule.equal_col_sums else None  # [Jb, n, Ib, 1, ...]
    if row_sums is not None:
        grand = row_sums.sum(dim=3, keepdim=True)
    else:
        assert col_sums is not None  # a pair rule constrains row sums, column sums or both
        grand = col_sums.sum(dim=1, keepdim=True)
    grand = grand.div_(m * n)  # [Jb, 1, Ib, 1, ...]
    a = None if row_sums is None else row_sums.div_(n).sub_(grand)
    b = None if col_sums is None else col_sums.div_(m).sub_(grand)
    if a is not None and b is not None:
        torch.add(a, b, out=Y)
    else:
        Y.copy_((a if a is not None else b).expand_as(Y))  # type: ignore[union-attr]


def _segment_normal_component(
    part: Partition, rule: PairRule, idx: _Index, scope: str, w: torch.Tensor, out: torch.Tensor
) -> None:
    """:func:`weight_normal_component` on the edges of ``idx`` by segment sums over row / column keys."""
    P = len(idx.pair_count)
    if P == 0:
        out.zero_()
        return
    if rule.constant:
        torch.sub(w, _segment_mean(w, idx.pair, idx.pair_count).index_select(0, idx.pair), out=out)
    else:
        written = False
        grand = None
        for use, key, key_pair, count in (
            (rule.equal_row_sums, idx.row_key, idx.row_key_pair, idx.row_count),
            (rule.equal_col_sums, idx.col_key, idx.col_key_pair, idx.col_count),
        ):
            if not use:
                continue
            sums = w.new_zeros((len(count), *w.shape[1:])).index_add_(0, key, w)
            if grand is None:  # the grand mean of each pair from its row (or column) sums
                grand = (
                    w.new_zeros((P, *w.shape[1:]))
                    .index_add_(0, key_pair, sums)
                    .div_(_per_row(idx.pair_count, sums))
                )
            deviation = sums.div_(_per_row(count, sums)).sub_(grand.index_select(0, key_pair))
            if written:
                out.add_(deviation.index_select(0, key))
            else:
                torch.index_select(deviation, 0, key, out=out)
                written = True
        if not written:  # a rule without constraints: nothing is normal
            out.zero_()
    for eids, proj in _incomplete_projectors(part, rule, idx, scope, w.device, w.dtype):
        local = w.index_select(0, eids)
        out.index_copy_(0, eids, local - proj @ local)


def weight_normal_component(
    part: Partition, rule: PairRule, w: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """w − P w for the projector P onto what ``rule`` allows on every block pair (along dim 0), written
    into ``out`` when given.

    Complete pairs (module docstring): BC leaves w − ḡ; RE leaves a 1ᵀ, CE leaves 1 bᵀ, C both, with the
    row-mean deviations a and column-mean deviations b and the grand mean ḡ of each pair. Where block
    pairs tile a complete generation-pair block of θ as a grid (a cloned layer: every block a run of
    equal length), these are reductions and broadcasts of a reshaped view of that block — one read and
    one write of it; the other edges take one segment sum over their row or column keys each. Incomplete
    pairs use their dense null-space projector.
    """
    if out is None:
        out = torch.empty(w.shape, dtype=w.dtype, device=w.device)
    if not part.pairs:
        return out.zero_()
    plan = _projection_plan(part, w.device, w.dtype)
    if plan.rest_is_all:
        _segment_normal_component(part, rule, _index(part, w.device, w.dtype), "all", w, out)
        return out
    if not out.is_contiguous():  # the grids write through views of ``out``
        return out.copy_(weight_normal_component(part, rule, w))
    w = w.contiguous()
    for grid in plan.grids:
        _grid_normal_component(grid, rule, w, out)
    if plan.rest is not None:
        assert plan.rest_index is not None
        rest = out.new_empty((len(plan.rest), *w.shape[1:]))
        _segment_normal_component(part, rule, plan.rest_index, "rest", w.index_select(0, plan.rest), rest)
        out.index_copy_(0, plan.rest, rest)
    return out


def bias_normal_component(part: Partition, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """b − (block means of b): the part of the biases (along dim 0) normal to block-constant biases."""
    if out is None:
        out = torch.empty_like(b)
    if b.shape[0] == 0:
        return out
    group, count = part.cached(
        ("bias-index", str(b.device), b.dtype),
        lambda: (
            torch.as_tensor(part.bias_group, device=b.device),
            torch.as_tensor(
                np.bincount(part.bias_group, minlength=part.num_bias_blocks), device=b.device, dtype=b.dtype
            ),
        ),
    )
    return torch.sub(b, _segment_mean(b, group, count).index_select(0, group), out=out)


def frozen_coordinates(net: DagNet, frozen: Iterable[Node]) -> np.ndarray:
    """Positions in θ of θ_in(v) (incoming edge weights and bias) for every v ∈ F (Theorem 2.1 part 1)."""
    frozen = list(frozen)
    bad = [v for v in frozen if v not in net.bias_index]
    if bad:
        raise ValueError(f"frozen units must be non-input nodes of the network; got {bad!r}")
    fset = set(frozen)
    ids = [e for e, (_, v) in enumerate(net.edges) if v in fset]
    ids += [net.num_edges + net.bias_index[v] for v in fset]
    return np.asarray(sorted(ids), dtype=np.int64)


# ---------------------------------------------------------------------------- projector objects
@dataclass(frozen=True)
class Projector:
    """The orthogonal projector onto a manifold's tangent space (``normal=False``) or normal space, as an
    operator on θ-space: ``P(v)`` / ``matvec`` / ``matmat`` (columns), ``dense()``, ``to_scipy()``."""

    manifold: LinearManifold
    normal: bool

    @property
    def size(self) -> int:
        return self.manifold.num_parameters

    @property
    def dimension(self) -> int:
        """Rank of the projector: dim N (normal) or dim T."""
        dim_t = self.manifold.dimension()
        return self.size - dim_t if self.normal else dim_t

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        return self.manifold.normal(v) if self.normal else self.manifold.tangent(v)

    matvec = __call__
    matmat = __call__  # projections act along dim 0, so a [P, m] matrix is projected column by column

    def dense(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        eye = torch.eye(
            self.size,
            dtype=dtype or self.manifold.net.edge_weight.dtype,
            device=self.manifold.net.edge_weight.device,
        )
        return self(eye)

    def to_scipy(self) -> sla.LinearOperator:
        net = self.manifold.net
        dev, dt = net.edge_weight.device, net.edge_weight.dtype

        def apply(v: np.ndarray) -> np.ndarray:
            out = self(torch.as_tensor(np.asarray(v, dtype=np.float64), device=dev).to(dt))
            return out.cpu().numpy().astype(np.float64, copy=False)

        return sla.LinearOperator(
            (self.size, self.size), matvec=apply, matmat=apply, rmatvec=apply, dtype=np.float64
        )


# ---------------------------------------------------------------------------- the manifold classes
class LinearManifold(ABC):
    """A LoP manifold: a linear or affine subspace {θ0 + t : t ∈ T} of θ-space (θ0 = 0 when linear).

    Build one with :func:`manifold` or directly from its class. Vectors are flat θ-space tensors; the
    projections act along dim 0.
    """

    kind: ClassVar[str]

    def __init__(self, net: DagNet, anchor: torch.Tensor | None = None) -> None:
        self.net = net
        self.anchor = anchor

    @property
    def num_parameters(self) -> int:
        return self.net.num_parameters

    # -- the interface of every kind
    @abstractmethod
    def tangent(self, v: torch.Tensor) -> torch.Tensor:
        """P_T v: orthogonal projection onto the tangent space (along dim 0)."""

    @abstractmethod
    def residual(self, theta: torch.Tensor) -> float:
        """Largest violated defining equality (0 exactly on the manifold)."""

    @abstractmethod
    def dimension(self) -> int:
        """Closed-form dimension of the tangent space."""

    @abstractmethod
    def constraint_matrix(self) -> np.ndarray:
        """Dense constraint matrix A (the defining linear equalities on θ − θ0, from the definitions);
        the tangent space is null(A). Built independently of the closed-form projections."""

    # -- derived
    def _check(self, v: torch.Tensor) -> None:
        if v.shape[:1] != (self.num_parameters,):
            raise ValueError(
                f"θ-space vector must have length {self.num_parameters} along dim 0, got {tuple(v.shape)}"
            )

    def normal(self, v: torch.Tensor) -> torch.Tensor:
        """P_N v = v − P_T v: orthogonal projection onto the normal space N = T^⊥."""
        return v - self.tangent(v)

    def tangent_projector(self) -> Projector:
        return Projector(self, normal=False)

    def normal_projector(self) -> Projector:
        return Projector(self, normal=True)

    def normal_dimension(self) -> int:
        return self.num_parameters - self.dimension()

    def _offset(self, theta: torch.Tensor) -> torch.Tensor:
        return theta if self.anchor is None else theta - self.anchor.to(theta)

    def distance(self, theta: torch.Tensor) -> float:
        """Euclidean distance of θ to the manifold: ‖P_N (θ − θ0)‖."""
        return float(torch.linalg.vector_norm(self.normal(self._offset(theta))))

    def random_point(self, generator: torch.Generator | None = None, scale: float = 1.0) -> torch.Tensor:
        """A random θ on the manifold: θ0 + P_T(Gaussian). For C this gives equitable weights that are
        not block-constant (almost surely, whenever some pair has m, n ≥ 2)."""
        net = self.net
        g = torch.randn(net.num_parameters, generator=generator, dtype=net.edge_weight.dtype) * scale
        point = self.tangent(g.to(net.edge_weight.device))
        return point if self.anchor is None else self.anchor.to(point) + point

    def dense_bases(self) -> tuple[np.ndarray, np.ndarray]:
        """Orthonormal bases (tangent, normal) as columns, from the SVD of the constraint matrix."""
        normal, tangent = _row_and_null_bases(self.constraint_matrix(), self.num_parameters)
        return tangent, normal

    def dense_tangent_projector(self) -> np.ndarray:
        T, _ = self.dense_bases()
        return T @ T.T

    def dense_dimension(self) -> int:
        A = self.constraint_matrix()
        return self.num_parameters - (numerical_rank(np.linalg.svd(A, compute_uv=False)) if A.size else 0)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(kind={self.kind!r}, {self.num_parameters} parameters, dim {self.dimension()})"


class PartitionManifold(LinearManifold):
    """RE, CE, C, BC and D: weights obey :attr:`rule` on every block pair, biases are block-constant."""

    rule: ClassVar[PairRule]

    def __init__(self, partition: Partition, anchor: torch.Tensor | None = None) -> None:
        if not isinstance(partition, Partition):
            raise TypeError(f"partition must be a Partition, got {type(partition).__name__}")
        super().__init__(partition.net, anchor)
        self.partition = partition

    def normal(self, v: torch.Tensor) -> torch.Tensor:
        """P_N v, computed directly (fewer passes than v − P_T v; see :func:`weight_normal_component`)."""
        self._check(v)
        E = self.net.num_edges
        out = torch.empty_like(v)
        weight_normal_component(self.partition, self.rule, v[:E], out=out[:E])
        bias_normal_component(self.partition, v[E:], out=out[E:])
        return out

    def tangent(self, v: torch.Tensor) -> torch.Tensor:
        return v - self.normal(v)

    def residual(self, theta: torch.Tensor) -> float:
        """Max spread of row sums (RE), column sums (CE) or entries (BC) over block pairs — a row or column
        without edges in the pair counts with sum 0 — and of biases over blocks; of θ − θ0 for D."""
        self._check(theta)
        part, rule = self.partition, self.rule
        w, b = self.net.split(self._offset(theta).detach())
        idx = _index(part, w.device, w.dtype)
        spreads = [w.new_zeros(1)]
        P = len(part.pairs)
        if P and rule.equal_row_sums:
            sums = w.new_zeros(part.num_row_keys).index_add_(0, idx.row_key, w)
            hi, lo = _spread(sums, idx.row_key_pair, P)
            spreads.append(torch.where(idx.rows_missing, hi.clamp(min=0) - lo.clamp(max=0), hi - lo))
        if P and rule.equal_col_sums:
            sums = w.new_zeros(part.num_col_keys).index_add_(0, idx.col_key, w)
            hi, lo = _spread(sums, idx.col_key_pair, P)
            spreads.append(torch.where(idx.cols_missing, hi.clamp(min=0) - lo.clamp(max=0), hi - lo))
        if P and rule.constant:
            hi, lo = _spread(w, idx.pair, P)
            spreads.append(hi - lo)
        if b.numel():
            hi, lo = _spread(b, idx.bias_group, part.num_bias_blocks)
            spreads.append(hi - lo)
        return float(torch.cat(spreads).max())

    def dimension(self) -> int:
        """Σ over pairs of the pair's dimension (Remark A.1 for D: #block pairs) + #bias blocks."""
        return sum(self.rule.dimension(p) for p in self.partition.pairs) + self.partition.num_bias_blocks

    def constraint_matrix(self) -> np.ndarray:
        net, part = self.net, self.partition
        P = net.num_parameters
        rows: list[np.ndarray] = []
        for pair in part.pairs:
            local = self.rule.constraints(pair)
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


class RowEquitable(PartitionManifold):
    kind = "RE"
    rule = PairRule(equal_row_sums=True)


class ColumnEquitable(PartitionManifold):
    kind = "CE"
    rule = PairRule(equal_col_sums=True)


class Cloning(PartitionManifold):
    """M_C = RE ∩ CE (Theorem 2.1 part 2)."""

    kind = "C"
    rule = PairRule(equal_row_sums=True, equal_col_sums=True)


class BlockConstant(PartitionManifold):
    kind = "BC"
    rule = PairRule(constant=True)


class AnchoredBlockConstant(PartitionManifold):
    """M_D(θ0) = θ0 + BC, defined for θ0 ∈ M_C (Appendix A.3)."""

    kind = "D"
    rule = PairRule(constant=True)

    def __init__(self, partition: Partition, anchor: torch.Tensor) -> None:
        anchor = _as_anchor(partition.net, anchor, self.kind)
        super().__init__(partition, anchor)
        res = Cloning(partition).residual(anchor)
        limit = ANCHOR_TOL * max(1.0, float(anchor.abs().max()))
        if res > limit:
            raise ValueError(
                f"M_D(θ0) needs θ0 ∈ M_C = RE ∩ CE; the anchor's M_C residual is {res:.3g} > {limit:.3g}"
            )


class FrozenUnits(LinearManifold):
    """M_F(θ0): θ_in(v) = θ0_in(v) for every frozen unit v ∈ F (Theorem 2.1 part 1)."""

    kind = "F"

    def __init__(self, net: DagNet, frozen: Iterable[Node], anchor: torch.Tensor) -> None:
        if not isinstance(net, DagNet):
            raise TypeError(f"net must be a DagNet, got {type(net).__name__}")
        self.frozen = tuple(frozen)
        if not self.frozen:
            raise ValueError("manifold 'F' needs at least one frozen unit")
        self.coordinates = frozen_coordinates(net, self.frozen)
        super().__init__(net, _as_anchor(net, anchor, self.kind))
        self._coords = torch.as_tensor(self.coordinates)

    def tangent(self, v: torch.Tensor) -> torch.Tensor:
        self._check(v)
        out = v.clone()
        out[self._coords.to(v.device)] = 0
        return out

    def residual(self, theta: torch.Tensor) -> float:
        """max |θ − θ0| over the frozen coordinates."""
        self._check(theta)
        return float(self._offset(theta)[self._coords.to(theta.device)].abs().max())

    def dimension(self) -> int:
        return self.num_parameters - len(self.coordinates)

    def constraint_matrix(self) -> np.ndarray:
        A = np.zeros((len(self.coordinates), self.num_parameters))
        A[np.arange(len(self.coordinates)), self.coordinates] = 1.0
        return A


def _as_anchor(net: DagNet, anchor: torch.Tensor | None, kind: str) -> torch.Tensor:
    if anchor is None:
        raise ValueError(f"manifold {kind!r} is affine: pass anchor=θ0 (a flat parameter vector)")
    anchor = torch.as_tensor(anchor).detach().clone()
    if anchor.shape != (net.num_parameters,):
        raise ValueError(f"anchor must have shape ({net.num_parameters},), got {tuple(anchor.shape)}")
    if not bool(torch.isfinite(anchor).all()):
        raise ValueError("anchor θ0 contains NaN or infinite entries")
    return anchor


MANIFOLD_CLASSES: dict[str, type[LinearManifold]] = {
    cls.kind: cls
    for cls in (RowEquitable, ColumnEquitable, Cloning, BlockConstant, AnchoredBlockConstant, FrozenUnits)
}
KINDS: tuple[str, ...] = tuple(MANIFOLD_CLASSES)


def manifold(
    kind: str,
    partition: Partition,
    anchor: torch.Tensor | None = None,
    frozen: Iterable[Node] = (),
) -> LinearManifold:
    """Build a manifold by name: ``RE``, ``CE``, ``C``, ``BC`` (linear), ``D`` (needs ``anchor`` θ0 ∈ M_C)
    or ``F`` (needs ``anchor`` and the ``frozen`` units; uses only ``partition.net``)."""
    if kind not in MANIFOLD_CLASSES:
        raise ValueError(f"unknown manifold kind {kind!r}; valid choices: {', '.join(KINDS)}")
    if not isinstance(partition, Partition):
        raise TypeError(f"partition must be a Partition, got {type(partition).__name__}")
    frozen_t = tuple(frozen)
    if kind == "F":
        return FrozenUnits(partition.net, frozen_t, anchor)  # type: ignore[arg-type]
    if frozen_t:
        raise ValueError(f"frozen units only apply to manifold 'F', not {kind!r}")
    if kind == "D":
        return AnchoredBlockConstant(partition, anchor)  # type: ignore[arg-type]
    if anchor is not None:
        raise ValueError(f"manifold {kind!r} is a linear subspace and takes no anchor")
    linear = {cls.kind: cls for cls in (RowEquitable, ColumnEquitable, Cloning, BlockConstant)}
    return linear[kind](partition)

"""The fast DagNet engine: a block plan of the weight matrix, topological sweeps, and autograd Functions
whose derivatives are again sweeps (Appendix A.3, "neural network formalization").

Notation. Tensors over nodes are node-major, ``[num_nodes, batch]`` (row v is node v in
:attr:`DagNet.nodes` order: inputs, then the topological generations). A is the node × node matrix of
edge weights, A[v, u] = w(u → v), strictly lower triangular in that order. With the activation
derivative d = f'(z) on hidden and output nodes (0 on inputs) the forward pass, its tangent and its
adjoint are

    z = A h + b,   h = f(z)   (h = x on inputs)                                  forward
    ḣ = (I − diag(d) A)⁻¹ r,   r = d ⊙ (Ȧ h + ḃ) + E ẋ                          tangent
    δ = (I − Aᵀ diag(d))⁻¹ g:  δ(u) = g(u) + Σ_{u→v} w(u, v) f'(z(v)) δ(v)        adjoint
    ∂L/∂w(u, v) = Σ_n δ(v) f'(z(v)) h(u),   ∂L/∂b(v) = Σ_n δ(v) f'(z(v)),

where g = ∂L/∂h and the adjoint is the paper's δ recursion (δ = ∂L/∂h, :mod:`dag_nets.backprop`).
Both triangular solves are sweeps over the generations. Six primitives, each an autograd Function
whose backward and forward-mode rules are written in the six primitives again, so gradients,
double backward, ``torch.func.grad``/``jvp``/``vmap`` and every composition of them (jvp of grad,
jacfwd of grad) run on the fast kernels:

    spmm(w, X) = A_w X,  spmm_t(w, Y) = A_wᵀ Y,  sddmm(Y, X)_e = Σ_n Y[dst_e, n] X[src_e, n],
    solve(w, d, r) = (I − D A_w)⁻¹ r,  solve_t(w, d, g) = (I − A_wᵀ D)⁻¹ g,  propagate(w, b, x) = (H, Z).

Derivatives used (ḡ the incoming cotangent; y the output):
    solve:    λ = solve_t(w, d, ḡ);  ∂r = λ,  ∂d = λ ⊙ A_w y,  ∂w = sddmm(λ ⊙ d, y)
    solve_t:  μ = solve(w, d, ḡ);    ∂g = μ,  ∂d = y ⊙ A_w μ,  ∂w = sddmm(d ⊙ y, μ)
    spmm:     ∂X = spmm_t(w, ḡ),  ∂w = sddmm(ḡ, X);   spmm_t: ∂Y = spmm(w, ḡ),  ∂w = sddmm(Y, ḡ)
    sddmm:    ∂Y = spmm(ḡ, X),  ∂X = spmm_t(ḡ, Y)
    propagate (cotangents gH, gZ): λ = solve_t(w, d, gH + A_wᵀ gZ),  s̄ = λ ⊙ d + gZ,
              ∂w = sddmm(s̄, H),  ∂b = Σ_n s̄,  ∂x = λ[inputs],  ∂noise = s̄,  ∂mask = λ ⊙ f(z).

The block plan. Edges are grouped by (target generation, source generation). A group whose bipartite
block is filled to at least :data:`DENSE_MIN_FILL` and holds at least :data:`DENSE_MIN_EDGES` edges is a
dense block: its products are matrix products (GEMM, batch-major like ``nn.Linear``) on a view of θ when
the block is complete and stored row-major in θ (every layer of an MLP), else on a gathered copy padded
with zeros. All other edges form one CSR matrix (rows = targets, in θ order) and its transpose (rows =
sources); their products are weighted ``embedding_bag`` calls (one bag per row) and the weight gradient
is one sampled dense-dense product (``torch.sparse.sampled_addmm``). A sweep takes the rows of one
generation at a time, so every generation costs work proportional to its own edges plus a fixed number
of kernel calls, and nothing is written outside its own rows (no copy of the whole buffer per
generation): the cost is linear in edges × batch and independent of depth at fixed width. Memory is
O(nodes · batch + edges): no edge × batch temporaries on the fast path (only inside a ``vmap`` over
weights, where they are chunked to :data:`VMAP_CHUNK_ELEMENTS`). Sweeps of small generations run on one
intra-op thread (:data:`SWEEP_PARALLEL_MIN_WORK`).

Everything here is torch operations on the tensors' own device, so the CUDA path is the CPU path; the
forward kernels run on plain tensors inside the Functions (torch's legacy vmap, which would push batched
tensors into them, is refused with a clear error).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from theory.activations import Activation

DENSE_MIN_FILL = 0.5
"""A generation pair becomes a dense block from this fill on (edges / (targets · sources)). Measured on the
2-core CI CPU (one thread, 256×256 blocks, batch 64): a dense GEMM costs ≈0.026 ns per entry·sample in
float32 and ≈0.058 in float64; the sparse rows ≈0.045 (float32, embedding_bag) and ≈0.19 (float64, CSR) per
edge·sample, so dense wins from a fill of ≈0.3–0.6; at 0.5 neither choice costs more than ≈1.5×."""
DENSE_MIN_EDGES = 256
"""…and holds at least this many edges (below it one more GEMM call costs more than the edges it saves)."""
VMAP_CHUNK_ELEMENTS = 1 << 22
"""Largest edge × batch × vmap-instances temporary of the batched-weight kernels (inside ``vmap`` only)."""
SWEEP_PARALLEL_MIN_WORK = 1 << 20
"""A sweep runs on one intra-op thread when its generations average fewer multiply-adds (edges × batch) than
this: their kernels are then too small to gain from a second thread, and on a loaded machine each parallel
region waits for a descheduled thread (measured on the 2-core CI machine under load: the 990k-edge random
DAG's sweep 10–40× slower with 2 threads than with 1)."""
SWEEP_CHUNK_BYTES = 1 << 24
"""Sweeps over a wide batch run on column chunks whose [nodes, chunk] tensors hold about this many bytes
(samples are independent), and so does the sampled product of the weight gradient: measured on the
990k-edge random DAG at batch 1,024 (float32, one thread), the forward sweep takes 434 ms whole and 235 ms
in chunks of 512 columns, ``sampled_addmm`` 424 ms whole and 188 ms in chunks of 256."""
MIN_SWEEP_CHUNK = 64
SDDMM_MAX_CHUNK = 256
"""Widest column chunk of the sampled product (measured best at 256 of 32–1,024, see above)."""
BLOCK_MODES = ("auto", "dense", "sparse")
"""``auto``: dense blocks by :data:`DENSE_MIN_FILL`/:data:`DENSE_MIN_EDGES`; ``dense``: every generation pair
with an edge is a (zero-padded) dense block; ``sparse``: every edge goes through the CSR products."""


def _silence_csr_beta_warning() -> None:
    """torch warns once per process that CSR tensors are "beta"; trigger it here, silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.sparse_csr_tensor(
            torch.tensor([0, 0]),
            torch.tensor([], dtype=torch.long),
            torch.tensor([]),
            size=(1, 1),
            check_invariants=False,
        )


_silence_csr_beta_warning()


@dataclass(frozen=True)
class CsrRows:
    """Rows of a CSR matrix whose values are ``values[start:stop]`` of a value vector given at call time.

    Products with a dense node tensor: in float32 one weighted ``embedding_bag`` (a bag per row: the sum of
    the rows ``col`` of X weighted by the values; FBGEMM's kernel, measured ≈3× faster than torch's CSR
    matmul at batch 64 on this CPU, and no sparse tensor to construct); in float64, where embedding_bag has
    no fast kernel, MKL's CSR matmul (measured ≈2× faster than embedding_bag there).
    """

    crow: torch.Tensor
    col: torch.Tensor
    offsets: torch.Tensor  # crow[:-1]
    start: int
    stop: int
    shape: tuple[int, int]

    def product(self, values: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """M @ X, [rows, B], for X [num_nodes, B] (contiguous) and this block's ``values`` (stop − start)."""
        if X.dtype == torch.float64:
            M = torch.sparse_csr_tensor(self.crow, self.col, values, size=self.shape, check_invariants=False)
            return M @ X
        return torch.embedding_bag(X, self.col, self.offsets, False, 0, False, values, False, None)[0]

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        return torch.sparse_csr_tensor(
            self.crow, self.col, values[self.start : self.stop], size=self.shape, check_invariants=False
        )

    def to(self, device: torch.device) -> CsrRows:
        return CsrRows(
            self.crow.to(device),
            self.col.to(device),
            self.offsets.to(device),
            self.start,
            self.stop,
            self.shape,
        )


@dataclass(frozen=True)
class DenseBlock:
    """The weights from the nodes ``cols`` to the nodes ``rows`` as a dense [len(rows), len(cols)] matrix.

    ``edge_range``: the block is complete and stored row-major in θ, so it is the view w[e0:e1]. Otherwise
    ``gather`` lists, for every row-major entry, its position in [w; 0] (num_edges = the padding zero),
    ``edge_ids`` the block's edges and ``edge_pos`` their row-major positions (None: edge_ids = gather).
    """

    rows: tuple[int, int]
    cols: tuple[int, int]
    target_gen: int
    source_gen: int
    edge_range: tuple[int, int] | None
    gather: torch.Tensor | None
    edge_ids: torch.Tensor | None
    edge_pos: torch.Tensor | None

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows[1] - self.rows[0], self.cols[1] - self.cols[0]

    @property
    def padded(self) -> bool:
        return self.edge_pos is not None

    def to(self, device: torch.device) -> DenseBlock:
        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return DenseBlock(
            self.rows,
            self.cols,
            self.target_gen,
            self.source_gen,
            self.edge_range,
            mv(self.gather),
            mv(self.edge_ids),
            mv(self.edge_pos),
        )


@dataclass(frozen=True)
class GenerationPlan:
    """One topological generation, nodes [lo, hi): the dense blocks into it (``dense_in``) and out of it
    (``dense_out``), its rows of the sparse A (``sparse_in``) and of the sparse Aᵀ (``sparse_out``), and its
    activations as (activation id, [n, 1] boolean mask or None for the whole generation)."""

    lo: int
    hi: int
    dense_in: tuple[int, ...]
    dense_out: tuple[int, ...]
    sparse_in: CsrRows | None
    sparse_out: CsrRows | None
    groups: tuple[tuple[int, torch.Tensor | None], ...]

    def to(self, device: torch.device) -> GenerationPlan:
        return GenerationPlan(
            self.lo,
            self.hi,
            self.dense_in,
            self.dense_out,
            None if self.sparse_in is None else self.sparse_in.to(device),
            None if self.sparse_out is None else self.sparse_out.to(device),
            tuple((a, None if m is None else m.to(device)) for a, m in self.groups),
        )


@dataclass(frozen=True)
class NodeGroups:
    """Non-input nodes by activation, for whole-graph elementwise maps (f(Z), f'(Z)).

    ``runs``: (activation id, lo, hi) ranges covering the non-input rows in order, when there are few;
    else ``index`` (activation id, rows) per activation and ``inverse`` the permutation back to node order.
    """

    runs: tuple[tuple[int, int, int], ...] | None
    index: tuple[tuple[int, torch.Tensor], ...] | None
    inverse: torch.Tensor | None

    def to(self, device: torch.device) -> NodeGroups:
        return NodeGroups(
            self.runs,
            None if self.index is None else tuple((a, i.to(device)) for a, i in self.index),
            None if self.inverse is None else self.inverse.to(device),
        )


MAX_RUNS = 32
"""Up to this many same-activation runs, whole-graph elementwise maps work on row slices, else on gathers."""


@dataclass(frozen=True)
class PropagationPlan:
    """Everything the sweeps need about one DagNet's graph (weights come with each call)."""

    num_nodes: int
    num_inputs: int
    num_edges: int
    mode: str
    generations: tuple[GenerationPlan, ...]  # generation 0 holds the inputs (no activation)
    gen_sizes: tuple[int, ...]  # nodes per generation (node tensors split into generation views)
    nnz_in_sizes: tuple[int, ...]  # CSR edges into each generation (values of A split likewise)
    nnz_out_sizes: tuple[int, ...]  # CSR edges out of each generation (values of Aᵀ)
    blocks: tuple[DenseBlock, ...]
    sparse_ids: torch.Tensor | None  # θ positions of the CSR edges; None when every edge is in the CSR part
    sparse_dst: torch.Tensor  # their targets and sources (for the batched-weight kernels)
    sparse_src: torch.Tensor
    sparse_all: CsrRows | None  # the whole sparse A (rows = targets)
    sparse_all_t: CsrRows | None  # the whole sparse Aᵀ (rows = sources)
    perm_t: torch.Tensor  # CSR values of Aᵀ = (values of A)[perm_t]
    activations: tuple[Activation, ...]
    node_groups: NodeGroups
    device: torch.device

    # ------------------------------------------------------------------ construction
    @staticmethod
    def build(
        num_nodes: int,
        num_inputs: int,
        gen_ranges: Sequence[tuple[int, int]],
        edge_src: np.ndarray,
        edge_dst: np.ndarray,
        node_activation: Sequence[int],
        activations: Sequence[Activation],
        mode: str = "auto",
    ) -> PropagationPlan:
        """Plan for nodes in generations ``gen_ranges`` (non-input, contiguous, in order) and edges sorted by
        (target, source); ``node_activation[i]`` is the activation id of node ``num_inputs + i``."""
        if mode not in BLOCK_MODES:
            raise ValueError(f"block mode must be one of {BLOCK_MODES}, got {mode!r}")
        src = np.asarray(edge_src, dtype=np.int64)
        dst = np.asarray(edge_dst, dtype=np.int64)
        E, V = len(src), num_nodes
        ranges = [(0, num_inputs), *[(int(a), int(b)) for a, b in gen_ranges]]
        gen_of = np.empty(V, dtype=np.int64)
        for g, (lo, hi) in enumerate(ranges):
            gen_of[lo:hi] = g
        G = len(ranges)
        lo_of = np.array([r[0] for r in ranges], dtype=np.int64)
        size_of = np.array([r[1] - r[0] for r in ranges], dtype=np.int64)
        tg, sg = gen_of[dst], gen_of[src]
        pair = tg * G + sg
        keys, counts = np.unique(pair, return_counts=True)
        order = np.argsort(pair, kind="stable")  # edges grouped by pair, θ order inside a pair
        bounds = np.concatenate([[0], np.cumsum(counts)])
        dense_mask = np.zeros(E, dtype=bool)
        blocks: list[DenseBlock] = []
        dense_in: list[list[int]] = [[] for _ in range(G)]
        dense_out: list[list[int]] = [[] for _ in range(G)]
        for k, key in enumerate(keys.tolist()):
            t, s = divmod(key, G)
            n_t, n_s, nnz = int(size_of[t]), int(size_of[s]), int(counts[k])
            full = n_t * n_s
            if mode == "sparse" or (
                mode == "auto" and (nnz < DENSE_MIN_EDGES or nnz < DENSE_MIN_FILL * full)
            ):
                continue
            ids = order[bounds[k] : bounds[k + 1]]
            dense_mask[ids] = True
            pos = (dst[ids] - lo_of[t]) * n_s + (src[ids] - lo_of[s])
            rows = (int(lo_of[t]), int(lo_of[t] + n_t))
            cols = (int(lo_of[s]), int(lo_of[s] + n_s))
            if nnz == full and ids[-1] - ids[0] == nnz - 1 and np.all(pos == np.arange(full)):
                block = DenseBlock(rows, cols, t, s, (int(ids[0]), int(ids[-1]) + 1), None, None, None)
            else:
                gather = np.full(full, E, dtype=np.int64)
                gather[pos] = ids
                if nnz == full:
                    block = DenseBlock(
                        rows, cols, t, s, None, torch.from_numpy(gather), torch.from_numpy(gather), None
                    )
                else:
                    block = DenseBlock(
                        rows,
                        cols,
                        t,
                        s,
                        None,
                        torch.from_numpy(gather),
                        torch.from_numpy(ids.copy()),
                        torch.from_numpy(pos),
                    )
            dense_in[t].append(len(blocks))
            dense_out[s].append(len(blocks))
            blocks.append(block)
        sp_ids = np.flatnonzero(~dense_mask)
        s_src, s_dst = src[sp_ids], dst[sp_ids]
        nnz_all = len(sp_ids)
        crow = np.zeros(V + 1, dtype=np.int64)
        np.cumsum(np.bincount(s_dst, minlength=V), out=crow[1:])
        perm_t = np.lexsort((s_dst, s_src))  # sparse edges by (source, target)
        col_t = s_dst[perm_t]
        crow_t = np.zeros(V + 1, dtype=np.int64)
        np.cumsum(np.bincount(s_src, minlength=V), out=crow_t[1:])
        col = torch.from_numpy(s_src.copy())
        col_tt = torch.from_numpy(col_t.copy())

        def rows_of(c: np.ndarray, cols: torch.Tensor, lo: int, hi: int) -> CsrRows | None:
            a, b = int(c[lo]), int(c[hi])
            if a == b:
                return None
            crow_rows = torch.from_numpy(c[lo : hi + 1] - a)
            return CsrRows(crow_rows, cols[a:b], crow_rows[:-1], a, b, (hi - lo, V))

        gens = []
        for g, (lo, hi) in enumerate(ranges):
            groups: tuple[tuple[int, torch.Tensor | None], ...] = ()
            if g > 0:
                ids = np.asarray(node_activation[lo - num_inputs : hi - num_inputs])
                uniq = list(dict.fromkeys(ids.tolist()))
                if len(uniq) == 1:
                    groups = ((uniq[0], None),)
                else:
                    groups = tuple((a, torch.from_numpy(ids == a).unsqueeze(1)) for a in uniq)
            gens.append(
                GenerationPlan(
                    lo,
                    hi,
                    tuple(dense_in[g]),
                    tuple(dense_out[g]),
                    rows_of(crow, col, lo, hi),
                    rows_of(crow_t, col_tt, lo, hi),
                    groups,
                )
            )
        node_act = np.asarray(node_activation, dtype=np.int64)
        change = np.flatnonzero(np.diff(node_act)) + 1
        starts = np.concatenate([[0], change])
        if len(starts) <= MAX_RUNS:
            ends = np.concatenate([change, [len(node_act)]])
            runs = tuple(
                (int(node_act[s0]), int(s0) + num_inputs, int(s1) + num_inputs)
                for s0, s1 in zip(starts, ends)
            )
            groups_all = NodeGroups(runs, None, None)
        else:
            index, perm = [], []
            for a in dict.fromkeys(node_act.tolist()):
                members = np.flatnonzero(node_act == a) + num_inputs
                index.append((a, torch.from_numpy(members)))
                perm.append(members)
            full_perm = np.concatenate([np.arange(num_inputs), *perm])
            inverse = np.empty(V, dtype=np.int64)
            inverse[full_perm] = np.arange(V)
            groups_all = NodeGroups(None, tuple(index), torch.from_numpy(inverse))
        crow_all, crow_all_t = torch.from_numpy(crow), torch.from_numpy(crow_t)
        whole = CsrRows(crow_all, col, crow_all[:-1], 0, nnz_all, (V, V)) if nnz_all else None
        whole_t = CsrRows(crow_all_t, col_tt, crow_all_t[:-1], 0, nnz_all, (V, V)) if nnz_all else None
        return PropagationPlan(
            num_nodes=V,
            num_inputs=num_inputs,
            num_edges=E,
            mode=mode,
            generations=tuple(gens),
            gen_sizes=tuple(hi - lo for lo, hi in ranges),
            nnz_in_sizes=tuple(int(crow[hi] - crow[lo]) for lo, hi in ranges),
            nnz_out_sizes=tuple(int(crow_t[hi] - crow_t[lo]) for lo, hi in ranges),
            blocks=tuple(blocks),
            sparse_ids=None if nnz_all == E else torch.from_numpy(sp_ids),
            sparse_dst=torch.from_numpy(s_dst.copy()),
            sparse_src=torch.from_numpy(s_src.copy()),
            sparse_all=whole,
            sparse_all_t=whole_t,
            perm_t=torch.from_numpy(perm_t),
            activations=tuple(activations),
            node_groups=groups_all,
            device=torch.device("cpu"),
        )

    def to(self, device: torch.device) -> PropagationPlan:
        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return PropagationPlan(
            self.num_nodes,
            self.num_inputs,
            self.num_edges,
            self.mode,
            tuple(g.to(device) for g in self.generations),
            self.gen_sizes,
            self.nnz_in_sizes,
            self.nnz_out_sizes,
            tuple(b.to(device) for b in self.blocks),
            mv(self.sparse_ids),
            self.sparse_dst.to(device),
            self.sparse_src.to(device),
            None if self.sparse_all is None else self.sparse_all.to(device),
            None if self.sparse_all_t is None else self.sparse_all_t.to(device),
            self.perm_t.to(device),
            self.activations,
            self.node_groups.to(device),
            torch.device(device),
        )

    def summary(self) -> dict[str, int | str]:
        """Sizes of the plan: dense blocks and their edges (complete views, gathered, padded), CSR edges."""
        dense_edges = sum(self._block_edges(b) for b in self.blocks)
        return {
            "mode": self.mode,
            "generations": len(self.generations) - 1,
            "dense_blocks": len(self.blocks),
            "dense_view_blocks": sum(b.edge_range is not None for b in self.blocks),
            "padded_blocks": sum(b.padded for b in self.blocks),
            "dense_edges": dense_edges,
            "sparse_edges": self.num_edges - dense_edges,
        }

    @staticmethod
    def _block_edges(b: DenseBlock) -> int:
        if b.edge_range is not None:
            return b.edge_range[1] - b.edge_range[0]
        assert b.edge_ids is not None
        return int(b.edge_ids.numel())

    # ------------------------------------------------------------------ weights in kernel form
    def _dense_weights(self, w: torch.Tensor) -> list[torch.Tensor]:
        """Every dense block's matrix ([..., n_t, n_s]; a leading dim when ``w`` is [N, E])."""
        lead = w.shape[:-1]
        ext = None
        out = []
        for b in self.blocks:
            if b.edge_range is not None:
                out.append(w[..., b.edge_range[0] : b.edge_range[1]].reshape(*lead, *b.shape))
                continue
            if ext is None:
                ext = torch.cat([w, w.new_zeros(*lead, 1)], dim=-1)
            assert b.gather is not None
            out.append(ext.index_select(-1, b.gather).view(*lead, *b.shape))
        return out

    def _sparse_values(self, w: torch.Tensor) -> torch.Tensor:
        return w if self.sparse_ids is None else w.index_select(-1, self.sparse_ids)

    def _scatter_block(self, gw: torch.Tensor, b: DenseBlock, gW: torch.Tensor) -> None:
        """Write a dense block's gradient ``gW`` ([..., n_t, n_s]) into the edge vector(s) ``gw``."""
        flat = gW.reshape(*gW.shape[:-2], -1)
        if b.edge_range is not None:
            gw[..., b.edge_range[0] : b.edge_range[1]] = flat
            return
        assert b.edge_ids is not None
        gw.index_copy_(
            gw.ndim - 1, b.edge_ids, flat if b.edge_pos is None else flat.index_select(-1, b.edge_pos)
        )

    @staticmethod
    def _pull(
        dense: list[tuple[torch.Tensor, torch.Tensor]],
        sparse: torch.Tensor | None,
        out: torch.Tensor,
        init: torch.Tensor | None,
    ) -> None:
        """out = init + Σ M @ X over the ``dense`` terms + the ``sparse`` product (init None: 0).

        Dense terms are computed batch-major, (Xᵀ Mᵀ)ᵀ, the orientation of ``nn.Linear``: MKL's GEMM with the
        narrow batch as the inner output dimension is up to 5× slower in float64 (measured 1024×1024 blocks,
        batch 16: 8.9 ms against 1.8 ms).
        """
        acc = None
        for M, X in dense:
            if acc is None:
                acc = torch.mm(X.T, M.T) if init is None else torch.addmm(init.T, X.T, M.T)
            else:
                acc.addmm_(X.T, M.T)
        base = init if acc is None else acc.T
        if sparse is None:
            if base is None:
                out.zero_()
            else:
                out.copy_(base.expand_as(out))
        elif base is None:
            out.copy_(sparse)
        else:
            torch.add(sparse, base, out=out)

    # ------------------------------------------------------------------ raw kernels (plain tensors)
    def _sweep_threads(self, batch: int) -> contextlib.AbstractContextManager:
        """One intra-op thread for sweeps of small generations (:data:`SWEEP_PARALLEL_MIN_WORK`)."""
        work = self.num_edges * batch / max(1, len(self.generations) - 1)
        if work >= SWEEP_PARALLEL_MIN_WORK or torch.get_num_threads() == 1:
            return contextlib.nullcontext()
        return _one_thread()

    def propagate(
        self,
        w: torch.Tensor,
        b: torch.Tensor,
        x: torch.Tensor,
        noise: torch.Tensor | None,
        mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(H, Z), each [num_nodes, batch]: z = A h + b (+ noise), h = f(z) (⊙ mask); h = x on inputs."""
        B, chunk = x.shape[1], self._sweep_chunk(x)
        with self._sweep_threads(min(B, chunk)):
            if B <= chunk:
                return self._propagate(w, b, x, noise, mask)
            H = x.new_empty(self.num_nodes, B)
            Z = torch.empty_like(H)
            for c in range(0, B, chunk):
                cols = slice(c, c + chunk)
                H[:, cols], Z[:, cols] = self._propagate(
                    w,
                    b,
                    x[:, cols].contiguous(),
                    None if noise is None else noise[:, cols].contiguous(),
                    None if mask is None else mask[:, cols].contiguous(),
                )
            return H, Z

    def _sweep_chunk(self, X: torch.Tensor) -> int:
        return max(MIN_SWEEP_CHUNK, SWEEP_CHUNK_BYTES // (self.num_nodes * X.element_size()))

    def _propagate(self, w, b, x, noise, mask) -> tuple[torch.Tensor, torch.Tensor]:
        """Generation views come from one ``split`` per tensor and call (no per-generation slicing)."""
        n_in, sizes = self.num_inputs, self.gen_sizes
        H = x.new_empty(self.num_nodes, x.shape[1])
        Z = torch.empty_like(H)
        H[:n_in] = x
        Z[:n_in] = 0
        W = self._dense_weights(w.detach())
        Hs, Zs = H.split(sizes), Z.split(sizes)
        bs = (None, *b.detach().unsqueeze(1).split(sizes[1:]))
        vin = (
            self._sparse_values(w.detach()).split(self.nnz_in_sizes) if self.sparse_all is not None else None
        )
        ns = None if noise is None else noise.split(sizes)
        ms = None if mask is None else mask.split(sizes)
        acts = self.activations
        for i in range(1, len(sizes)):
            g = self.generations[i]
            z = Zs[i]
            dense = [(W[j], Hs[self.blocks[j].source_gen]) for j in g.dense_in]
            sparse = None if g.sparse_in is None else g.sparse_in.product(vin[i], H)  # type: ignore[index]
            self._pull(dense, sparse, z, bs[i])
            if ns is not None:
                z.add_(ns[i])
            a0, _ = g.groups[0]
            h = acts[a0].torch_fn(z)
            for a, sel in g.groups[1:]:
                h = torch.where(sel, acts[a].torch_fn(z), h)  # type: ignore[arg-type]
            if ms is not None:
                torch.mul(h, ms[i], out=Hs[i])
            else:
                Hs[i].copy_(h)
        return H, Z

    def solve(self, w: torch.Tensor, d: torch.Tensor, r: torch.Tensor, transpose: bool) -> torch.Tensor:
        """(I − D A)⁻¹ r by a topological sweep, or (I − Aᵀ D)⁻¹ r by a reverse one (``transpose``)."""
        w, d, r = w.detach(), d.detach(), r.detach()
        B, chunk = r.shape[1], self._sweep_chunk(r)
        with self._sweep_threads(min(B, chunk)):
            if B <= chunk:
                return self._solve(w, d, r, transpose)
            Y = torch.empty_like(r)
            for c in range(0, B, chunk):
                cols = slice(c, c + chunk)
                Y[:, cols] = self._solve(w, d[:, cols].contiguous(), r[:, cols].contiguous(), transpose)
            return Y

    def _solve(self, w: torch.Tensor, d: torch.Tensor, r: torch.Tensor, transpose: bool) -> torch.Tensor:
        W = self._dense_weights(w)
        has_sparse = self.sparse_all is not None
        sizes = self.gen_sizes
        Y = torch.empty_like(r)
        Ys, ds, rs = Y.split(sizes), d.split(sizes), r.split(sizes)
        if not transpose:
            vin = self._sparse_values(w).split(self.nnz_in_sizes) if has_sparse else None
            Ys[0].copy_(rs[0])
            for i in range(1, len(sizes)):
                g = self.generations[i]
                dense = [(W[j], Ys[self.blocks[j].source_gen]) for j in g.dense_in]
                sparse = None if g.sparse_in is None else g.sparse_in.product(vin[i], Y)  # type: ignore[index]
                if dense:
                    self._pull(dense, sparse, Ys[i], None)
                    Ys[i].mul_(ds[i]).add_(rs[i])
                else:
                    torch.addcmul(rs[i], ds[i], sparse, out=Ys[i])  # type: ignore[arg-type]
            return Y
        vout = (
            self._sparse_values(w).index_select(0, self.perm_t).split(self.nnz_out_sizes)
            if has_sparse
            else None
        )
        U = torch.empty_like(r)
        Us = U.split(sizes)
        for i in range(len(sizes) - 1, -1, -1):
            g = self.generations[i]
            dense = [(W[j].T, Us[self.blocks[j].target_gen]) for j in g.dense_out]
            sparse = None if g.sparse_out is None else g.sparse_out.product(vout[i], U)  # type: ignore[index]
            y = Ys[i]
            self._pull(dense, sparse, y, rs[i])
            torch.mul(y, ds[i], out=Us[i])
        return Y

    def spmm(self, w: torch.Tensor, X: torch.Tensor, transpose: bool) -> torch.Tensor:
        """A_w X, or A_wᵀ X (``transpose``); X is [V, B]. Batched weights [N, E] give [N, V, B] (X [V, B]
        or [N, V, B])."""
        if w.ndim == 2:
            return self._spmm_batched(w, X, transpose)
        out = torch.zeros_like(X)
        for Wb, b in zip(self._dense_weights(w), self.blocks):
            (r0, r1), (c0, c1) = b.rows, b.cols
            if transpose:  # batch-major products (see _pull)
                out[c0:c1] += (X[r0:r1].T @ Wb).T
            else:
                out[r0:r1] += (X[c0:c1].T @ Wb.T).T
        if self.sparse_all is not None:
            vals = self._sparse_values(w)
            if transpose:
                assert self.sparse_all_t is not None
                out += self.sparse_all_t.product(vals.index_select(0, self.perm_t), X.contiguous())
            else:
                out += self.sparse_all.product(vals, X.contiguous())
        return out

    def _spmm_batched(self, w: torch.Tensor, X: torch.Tensor, transpose: bool) -> torch.Tensor:
        N = w.shape[0]
        out = X.new_zeros(N, *X.shape[-2:])
        for Wb, b in zip(self._dense_weights(w), self.blocks):
            (r0, r1), (c0, c1) = b.rows, b.cols
            if transpose:
                out[:, c0:c1] += Wb.mT @ X[..., r0:r1, :]
            else:
                out[:, r0:r1] += Wb @ X[..., c0:c1, :]
        if self.sparse_all is not None:
            vals = self._sparse_values(w)
            into, frm = (
                (self.sparse_src, self.sparse_dst) if transpose else (self.sparse_dst, self.sparse_src)
            )
            step = _chunk(N, vals.shape[1] * X.shape[-1])
            for i in range(0, N, step):
                Xi = X[i : i + step] if X.ndim == 3 else X
                prod = vals[i : i + step].unsqueeze(-1) * Xi.index_select(-2, frm)
                out[i : i + step].index_add_(1, into, prod)
        return out

    def sddmm(self, Y: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """g_e = Σ_n Y[dst_e, n] X[src_e, n] (θ order), [E]; [N, E] when Y or X is [N, V, B]."""
        if Y.ndim == 3 or X.ndim == 3:
            return self._sddmm_batched(Y, X)
        E = self.num_edges
        if self.sparse_all is not None:
            pattern = self.sparse_all.matrix(Y.new_zeros(self.sparse_all.stop))
            chunk, vals = min(self._sweep_chunk(Y), SDDMM_MAX_CHUNK), None
            for c in range(0, max(1, Y.shape[1]), chunk):  # wide batches by column chunks, as the sweeps
                part = torch.sparse.sampled_addmm(
                    pattern, Y[:, c : c + chunk], X[:, c : c + chunk].T, beta=0.0
                ).values()
                vals = part if vals is None else vals + part
            assert vals is not None
            if self.sparse_ids is None:
                return vals
            gw = Y.new_empty(E)
            gw.index_copy_(0, self.sparse_ids, vals)
        else:
            gw = Y.new_empty(E)
        for b in self.blocks:
            (r0, r1), (c0, c1) = b.rows, b.cols
            if b.edge_range is not None:
                torch.mm(Y[r0:r1], X[c0:c1].T, out=gw[b.edge_range[0] : b.edge_range[1]].view(*b.shape))
            else:
                self._scatter_block(gw, b, Y[r0:r1] @ X[c0:c1].T)
        return gw

    def _sddmm_batched(self, Y: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        N = Y.shape[0] if Y.ndim == 3 else X.shape[0]
        gw = Y.new_empty(N, self.num_edges)
        for b in self.blocks:
            (r0, r1), (c0, c1) = b.rows, b.cols
            self._scatter_block(gw, b, Y[..., r0:r1, :] @ X[..., c0:c1, :].mT)
        if self.sparse_all is not None:
            step = _chunk(N, self.sparse_dst.numel() * Y.shape[-1])
            parts = []
            for i in range(0, N, step):
                Yi = Y[i : i + step] if Y.ndim == 3 else Y
                Xi = X[i : i + step] if X.ndim == 3 else X
                parts.append(
                    (Yi.index_select(-2, self.sparse_dst) * Xi.index_select(-2, self.sparse_src)).sum(-1)
                )
            vals = torch.cat(parts)
            if self.sparse_ids is None:
                return vals
            gw.index_copy_(1, self.sparse_ids, vals)
        return gw

    # ------------------------------------------------------------------ elementwise maps over all nodes
    def node_map(self, Z: torch.Tensor, derivative: bool) -> torch.Tensor:
        """f(Z) or f'(Z) node by node (each node its own activation), 0 on input rows; traceable torch ops."""
        fn = _derivative if derivative else _value
        parts = [Z.new_zeros(self.num_inputs, Z.shape[-1]).expand(*Z.shape[:-2], -1, -1)]
        ng = self.node_groups
        if ng.runs is not None:
            parts += [fn(self.activations[a], Z[..., lo:hi, :]) for a, lo, hi in ng.runs]
            return torch.cat(parts, dim=-2)
        assert ng.index is not None and ng.inverse is not None
        parts += [fn(self.activations[a], Z.index_select(-2, rows)) for a, rows in ng.index]
        return torch.cat(parts, dim=-2).index_select(-2, ng.inverse)


def _reject_legacy_vmap() -> None:
    """The kernels build CSR tensors and write generation slices, which torch's legacy vmap (behind
    ``torch.autograd.grad(is_grads_batched=True)`` and ``torch.autograd.functional.*(vectorize=True)``)
    cannot batch; ``torch.func.vmap`` dispatches to the Functions' own vmap rules instead."""
    level = torch._C._vmapmode_increment_nesting()
    torch._C._vmapmode_decrement_nesting()
    if level > 1:
        raise RuntimeError(
            "the fast DagNet engine does not support torch's legacy vmap "
            "(torch.autograd.grad(is_grads_batched=True), torch.autograd.functional with vectorize=True); "
            "use torch.func (vmap, jacrev, jacfwd, "
            "hessian), or engine='reference'"
        )


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _chunk(n: int, per_instance: int) -> int:
    return max(1, min(n, VMAP_CHUNK_ELEMENTS // max(1, per_instance)))


def _value(act: Activation, z: torch.Tensor) -> torch.Tensor:
    return act.torch_fn(z)


def _derivative(act: Activation, z: torch.Tensor) -> torch.Tensor:
    """f'(z), differentiable again: the registered closed form, or forward-mode AD of a user's callable."""
    if act.is_callable:
        return torch.func.jvp(act.torch_fn, (z,), (torch.ones_like(z),))[1]
    return act.torch_derivative(z)


# ---------------------------------------------------------------------- vmap helpers
def _fold(t: torch.Tensor | None, bdim: int | None, n: int) -> torch.Tensor | None:
    """A node tensor [V, B] of every vmap instance as one [V, n·B] tensor (instances side by side)."""
    if t is None:
        return None
    if bdim is None:
        return t.unsqueeze(1).expand(t.shape[0], n, t.shape[1]).reshape(t.shape[0], -1)
    t = t.movedim(bdim, 1)
    return t.reshape(t.shape[0], -1)


def _unfold(t: torch.Tensor, n: int) -> torch.Tensor:
    return t.view(t.shape[0], n, -1)


def _front(t: torch.Tensor, bdim: int | None) -> torch.Tensor:
    return t if bdim is None else t.movedim(bdim, 0)


def _vmap_loop(fn: Callable, n: int, in_dims: Sequence[int | None], args: Sequence) -> tuple:
    """The instances one at a time (used only when the weights themselves are batched)."""
    outs = []
    for i in range(n):
        outs.append(fn(*[a.select(d, i) if d is not None else a for a, d in zip(args, in_dims)]))
    if isinstance(outs[0], tuple):
        return tuple(torch.stack(o) for o in zip(*outs)), tuple(0 for _ in outs[0])
    return torch.stack(outs), 0


def _add(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b


# ---------------------------------------------------------------------- the autograd Functions
class _SpMM(torch.autograd.Function):
    """A_w X (``transpose``: A_wᵀ X)."""

    @staticmethod
    def forward(plan: PropagationPlan, w: torch.Tensor, X: torch.Tensor, transpose: bool) -> torch.Tensor:
        _reject_legacy_vmap()
        return plan.spmm(w, X, transpose)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        plan, w, X, transpose = inputs
        ctx.plan, ctx.transpose = plan, transpose
        ctx.save_for_backward(w, X)
        ctx.save_for_forward(w, X)
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx, g):
        if g is None:
            return None, None, None, None
        w, X = ctx.saved_tensors
        gw = gX = None
        if ctx.needs_input_grad[1]:
            gw = sddmm(ctx.plan, X, g) if ctx.transpose else sddmm(ctx.plan, g, X)
        if ctx.needs_input_grad[2]:
            gX = spmm(ctx.plan, w, g, not ctx.transpose)
        return None, gw, gX, None

    @staticmethod
    def jvp(ctx, _p, tw, tX, _t):
        w, X = ctx.saved_tensors
        out = None if tw is None else spmm(ctx.plan, tw, X, ctx.transpose)
        return _add(out, None if tX is None else spmm(ctx.plan, w, tX, ctx.transpose))

    @staticmethod
    def vmap(info, in_dims, plan, w, X, transpose):
        _, wd, xd, _ = in_dims
        n = info.batch_size
        if wd is not None:
            return plan_kernel_spmm_batched(plan, _front(w, wd), _front(X, xd), transpose), 0
        return _unfold(spmm(plan, w, _fold(X, xd, n), transpose), n), 1


def plan_kernel_spmm_batched(plan: PropagationPlan, w: torch.Tensor, X: torch.Tensor, transpose: bool):
    """Batched weights inside vmap: the instances' products through the differentiable primitive when X is
    unbatched per instance, else instance by instance."""
    if X.ndim == 3:
        return torch.stack([spmm(plan, w[i], X[i], transpose) for i in range(w.shape[0])])
    return _SpMMBatched.apply(plan, w, X, transpose)


class _SpMMBatched(torch.autograd.Function):
    """[A_{w_i} X]_i for weights [N, E] and one X [V, B] (the tangent products of jacfwd / vmapped jvp)."""

    @staticmethod
    def forward(plan: PropagationPlan, w: torch.Tensor, X: torch.Tensor, transpose: bool) -> torch.Tensor:
        _reject_legacy_vmap()
        return plan.spmm(w, X, transpose)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        plan, w, X, transpose = inputs
        ctx.plan, ctx.transpose = plan, transpose
        ctx.save_for_backward(w, X)
        ctx.save_for_forward(w, X)
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx, g):
        if g is None:
            return None, None, None, None
        w, X = ctx.saved_tensors
        gw = gX = None
        if ctx.needs_input_grad[1]:
            gw = sddmm(ctx.plan, X, g) if ctx.transpose else sddmm(ctx.plan, g, X)
        if ctx.needs_input_grad[2]:
            gX = sum(spmm(ctx.plan, w[i], g[i], not ctx.transpose) for i in range(w.shape[0]))
        return None, gw, gX, None

    @staticmethod
    def jvp(ctx, _p, tw, tX, _t):
        w, X = ctx.saved_tensors
        out = None if tw is None else _SpMMBatched.apply(ctx.plan, tw, X, ctx.transpose)
        return _add(out, None if tX is None else _SpMMBatched.apply(ctx.plan, w, tX, ctx.transpose))

    @staticmethod
    def vmap(info, in_dims, plan, w, X, transpose):
        return _vmap_loop(
            lambda a, b: _SpMMBatched.apply(plan, a, b, transpose), info.batch_size, in_dims[1:3], (w, X)
        )


class _SDDMM(torch.autograd.Function):
    """g_e = Σ_n Y[dst_e, n] X[src_e, n]."""

    @staticmethod
    def forward(plan: PropagationPlan, Y: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        _reject_legacy_vmap()
        return plan.sddmm(Y, X)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        plan, Y, X = inputs
        ctx.plan = plan
        ctx.save_for_backward(Y, X)
        ctx.save_for_forward(Y, X)
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx, g):
        if g is None:
            return None, None, None
        Y, X = ctx.saved_tensors
        gY = spmm(ctx.plan, g, X, False) if ctx.needs_input_grad[1] else None
        gX = spmm(ctx.plan, g, Y, True) if ctx.needs_input_grad[2] else None
        return None, gY, gX

    @staticmethod
    def jvp(ctx, _p, tY, tX):
        Y, X = ctx.saved_tensors
        out = None if tY is None else sddmm(ctx.plan, tY, X)
        return _add(out, None if tX is None else sddmm(ctx.plan, Y, tX))

    @staticmethod
    def vmap(info, in_dims, plan, Y, X):
        _, yd, xd = in_dims
        return _SDDMMBatched.apply(plan, _front(Y, yd), _front(X, xd)), 0


class _SDDMMBatched(torch.autograd.Function):
    """[sddmm(Y_i, X_i)]_i for node tensors [N, V, B] (either may be one [V, B] for all instances)."""

    @staticmethod
    def forward(plan: PropagationPlan, Y: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        _reject_legacy_vmap()
        return plan.sddmm(Y, X)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        plan, Y, X = inputs
        ctx.plan = plan
        ctx.save_for_backward(Y, X)
        ctx.save_for_forward(Y, X)
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx, g):
        if g is None:
            return None, None, None
        Y, X = ctx.saved_tensors
        gY = gX = None
        if ctx.needs_input_grad[1]:
            gY = plan_kernel_spmm_batched(ctx.plan, g, X, False)
            gY = gY if Y.ndim == 3 else gY.sum(0)
        if ctx.needs_input_grad[2]:
            gX = plan_kernel_spmm_batched(ctx.plan, g, Y, True)
            gX = gX if X.ndim == 3 else gX.sum(0)
        return None, gY, gX

    @staticmethod
    def jvp(ctx, _p, tY, tX):
        Y, X = ctx.saved_tensors
        out = None if tY is None else _SDDMMBatched.apply(ctx.plan, tY, X)
        return _add(out, None if tX is None else _SDDMMBatched.apply(ctx.plan, Y, tX))

    @staticmethod
    def vmap(info, in_dims, plan, Y, X):
        return _vmap_loop(lambda a, b: _SDDMMBatched.apply(plan, a, b), info.batch_size, in_dims[1:], (Y, X))


class _Solve(torch.autograd.Function):
    """(I − D A_w)⁻¹ r, or (I − A_wᵀ D)⁻¹ r (``transpose``)."""

    @staticmethod
    def forward(plan: PropagationPlan, w: torch.Tensor, d: torch.Tensor, r: torch.Tensor, transpose: bool):
        _reject_legacy_vmap()
        return plan.solve(w, d, r, transpose)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        plan, w, d, _, transpose = inputs
        ctx.plan, ctx.transpose = plan, transpose
        ctx.save_for_backward(w, d, output)
        ctx.save_for_forward(w, d, output)
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx, g):
        if g is None:
            return None, None, None, None, None
        w, d, y = ctx.saved_tensors
        plan = ctx.plan
        lam = solve(plan, w, d, g, not ctx.transpose)
        gw = gd = None
        if ctx.transpose:
            if ctx.needs_input_grad[1]:
                gw = sddmm(plan, d * y, lam)
            if ctx.needs_input_grad[2]:
                gd = y * spmm(plan, w, lam, False)
        else:
            if ctx.needs_input_grad[1]:
                gw = sddmm(plan, lam * d, y)
            if ctx.needs_input_grad[2]:
                gd = lam * spmm(plan, w, y, False)
        return None, gw, gd, lam, None

    @staticmethod
    def jvp(ctx, _p, tw, td, tr, _t):
        w, d, y = ctx.saved_tensors
        plan = ctx.plan
        rhs = tr
        if ctx.transpose:
            if tw is not None:
                rhs = _add(rhs, spmm(plan, tw, d * y, True))
            if td is not None:
                rhs = _add(rhs, spmm(plan, w, td * y, True))
        else:
            if td is not None:
                rhs = _add(rhs, td * spmm(plan, w, y, False))
            if tw is not None:
                rhs = _add(rhs, d * spmm(plan, tw, y, False))
        return solve(plan, w, d, rhs, ctx.transpose) if rhs is not None else None

    @staticmethod
    def vmap(info, in_dims, plan, w, d, r, transpose):
        _, wd, dd, rd, _ = in_dims
        n = info.batch_size
        if wd is not None:
            return _vmap_loop(
                lambda a, b, c: _Solve.apply(plan, a, b, c, transpose), n, (wd, dd, rd), (w, d, r)
            )
        return _unfold(_Solve.apply(plan, w, _fold(d, dd, n), _fold(r, rd, n), transpose), n), 1


class _Propagate(torch.autograd.Function):
    """(H, Z) of the DagNet for θ = [w; b], inputs x ([n_in, B]) and optional noise / mask.

    θ enters whole (not as the slices w, b): the gradient is then one concatenation instead of two
    zero-filled θ-sized slice gradients and their sum (measured ≈1.5 ms of an 11 ms gradient at 1.09M
    parameters)."""

    @staticmethod
    def forward(plan, theta, x, noise, mask):
        _reject_legacy_vmap()
        E = plan.num_edges
        return plan.propagate(theta[:E], theta[E:], x, noise, mask)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        plan, theta, x, _, mask = inputs
        H, Z = output
        ctx.plan = plan
        ctx.has_mask = mask is not None
        ctx.batch = x.shape[1]
        saved = (theta, H, Z) + ((mask,) if mask is not None else ())
        ctx.save_for_backward(*saved)
        ctx.save_for_forward(*saved)
        ctx.set_materialize_grads(False)

    @staticmethod
    def _slopes(ctx, Z: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        d = ctx.plan.node_map(Z, derivative=True)
        return d if mask is None else d * mask

    @staticmethod
    def backward(ctx, gH, gZ):
        plan = ctx.plan
        theta, H, Z, *rest = ctx.saved_tensors
        w = theta[: plan.num_edges]
        mask = rest[0] if ctx.has_mask else None
        n_in = plan.num_inputs
        if gH is None and gZ is None:
            return (None,) * 5
        d = _Propagate._slopes(ctx, Z, mask)
        if gZ is not None:
            # Z is 0 on inputs: no gradient there
            gZ = torch.cat([gZ.new_zeros(n_in, gZ.shape[1]), gZ[n_in:]])
            g = _add(gH, spmm(plan, w, gZ, True))
        else:
            g = gH
        lam = solve(plan, w, d, g, True)
        gs = _add(lam * d, gZ)
        need = ctx.needs_input_grad
        gtheta = torch.cat([sddmm(plan, gs, H), gs[n_in:].sum(1)]) if need[1] else None
        gx = lam[:n_in] if need[2] else None
        gnoise = gs if need[3] else None
        gmask = lam * plan.node_map(Z, derivative=False) if need[4] else None
        return None, gtheta, gx, gnoise, gmask

    @staticmethod
    def jvp(ctx, _p, ttheta, tx, tnoise, tmask):
        plan = ctx.plan
        theta, H, Z, *rest = ctx.saved_tensors
        E = plan.num_edges
        w = theta[:E]
        mask = rest[0] if ctx.has_mask else None
        n_in = plan.num_inputs
        d = _Propagate._slopes(ctx, Z, mask)
        s = None
        if ttheta is not None:
            tb = torch.cat([ttheta.new_zeros(n_in), ttheta[E:]]).unsqueeze(1).expand(-1, ctx.batch)
            s = spmm(plan, ttheta[:E], H, False) + tb
        if tnoise is not None:
            s = _add(s, torch.cat([tnoise.new_zeros(n_in, tnoise.shape[1]), tnoise[n_in:]]))
        r = None if s is None else d * s
        if tmask is not None:
            r = _add(r, tmask * plan.node_map(Z, derivative=False))
        if r is None:
            r = H.new_zeros(H.shape)
        if tx is not None:
            r = torch.cat([tx, r[n_in:]])
        else:
            r = torch.cat([r.new_zeros(n_in, r.shape[1]), r[n_in:]])
        tH = solve(plan, w, d, r, False)
        tZ = _add(spmm(plan, w, tH, False), s)
        return tH, tZ

    @staticmethod
    def vmap(info, in_dims, plan, theta, x, noise, mask):
        _, td, xd, nd, md = in_dims
        n = info.batch_size
        if td is not None:
            return _vmap_loop(lambda *a: _Propagate.apply(plan, *a), n, in_dims[1:], (theta, x, noise, mask))
        H, Z = _Propagate.apply(plan, theta, _fold(x, xd, n), _fold(noise, nd, n), _fold(mask, md, n))
        return (_unfold(H, n), _unfold(Z, n)), (1, 1)


# ---------------------------------------------------------------------- the primitives
def spmm(plan: PropagationPlan, w: torch.Tensor, X: torch.Tensor, transpose: bool = False) -> torch.Tensor:
    """A_w X ([V, B] → [V, B]), or A_wᵀ X; differentiable in w and X to any order."""
    return _SpMM.apply(plan, w, X, transpose)


def sddmm(plan: PropagationPlan, Y: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """g_e = Σ_n Y[dst_e, n] X[src_e, n] ([E], θ order); differentiable to any order."""
    return _SDDMM.apply(plan, Y, X)


def solve(plan: PropagationPlan, w: torch.Tensor, d: torch.Tensor, r: torch.Tensor, transpose: bool = False):
    """(I − diag(d) A_w)⁻¹ r (tangent sweep), or (I − A_wᵀ diag(d))⁻¹ r (adjoint sweep, ``transpose``)."""
    return _Solve.apply(plan, w, d, r, transpose)


def propagate(
    plan: PropagationPlan,
    w: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    noise: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, Z), node-major [num_nodes, batch], for edge weights ``w``, biases ``b`` and inputs ``x``
    [num_inputs, batch]."""
    return propagate_theta(plan, torch.cat([w, b]), x, noise, mask)


def propagate_theta(
    plan: PropagationPlan,
    theta: torch.Tensor,
    x: torch.Tensor,
    noise: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`propagate` for the flat θ = [w; b] (what :meth:`DagNet.functional` calls)."""
    return _Propagate.apply(plan, theta, x, noise, mask)

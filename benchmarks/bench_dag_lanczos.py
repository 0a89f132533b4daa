"""Projected Lanczos for the extreme normal-space eigenvalues of a cloned MLP-shaped DagNet (≥ 1M parameters).

Builds base MLP 32 → [256, 256] → 4 (tanh), clones every hidden unit ×4 (equitable redistribution),
giving 1,087,492 parameters, and runs dag_nets.stability.normal_stability(method="lanczos") on N_C,
end to end: time, HVPs, the time inside the HVPs and the rest (projections, deflation, ARPACK), max RSS.
Baselines in the same run, on small versions of the network:

  * the dense restricted Hessian (accuracy and time of the dense route);
  * on a constant clone with blocks of 3 (repeated eigenvalues), what one would pick without deflation:
    one eigsh per end on the shifted projected operator (the method before the deflated rounds) — its
    error against dense and its HVP count;
  * unprojected eigsh on the full Hessian (HVP count; its extremes are not the normal-space ones).

    python benchmarks/bench_dag_lanczos.py [--width 256] [--factor 4] [--k 1] [--tol 1e-6] [--threads N]
                                           [--quick] [--json]

Headline figures (``--json``): the big network's end-to-end time against the time inside its HVPs (goal
≤ 30 s at 1,087,492 parameters), its HVP count against the dense Hessian's (one HVP per parameter), and its
mean HVP against torch.func's jvp-of-grad HVP of the nn.Linear MLP with the same weights (goal ≤ 5×).
``--quick``: base width 64 (75,268 parameters) unless ``--width`` is given.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import scipy.sparse.linalg as sla
import torch
from bench_dag_hvp import linear_mlp
from common import Figure, emit, median_time, parse_args

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp, teacher_batch
from dag_nets.curvature import HessianOperator, NormalHessian
from dag_nets.lanczos import SHIFT_MARGIN
from dag_nets.manifolds import manifold
from dag_nets.stability import normal_stability

BIG_TOL = 1e-6
"""ARPACK relative tolerance on the big network (ample for the sign pattern)."""
WIDTH, QUICK_WIDTH = 256, 64
"""Base hidden width of the big network (1,087,492 parameters after cloning ×4), and with --quick (75,268)."""
PEER_AGREE = 1e-12
"""Relative agreement required between the DagNet's HVP and the nn.Linear peer's."""
GOAL_SECONDS = 30.0
"""Issue 12, goal 2: the projected Lanczos end to end on the 1,087,492-parameter network."""


def cloned(
    n_in: int, width: int, n_out: int, factor: int, batch: int, mode: str = "equitable", seed: int = 0
):
    base = mlp(n_in, [width, width], n_out, activation="tanh", seed=seed)
    net, part = clone_network(
        base,
        {v: factor for v in base.bias_nodes if v not in base.outputs},
        mode=mode,
        generator=torch.Generator().manual_seed(seed),
        scale=0.1,
    )
    x, y = teacher_batch(n_in, n_out, batch, seed=seed)
    return net, part, x, y


def single_run_per_end(op: NormalHessian, k: int, tol: float) -> tuple[np.ndarray, int]:
    """The k extremes by one eigsh per end on P_N H P_N ± σ P_T (no deflation): the baseline."""
    P = op.size

    def shifted(shift: float) -> sla.LinearOperator:
        def mv(v: np.ndarray) -> np.ndarray:
            t = torch.from_numpy(np.ascontiguousarray(v).reshape(-1))
            n = op.project(t)
            return (op.apply_in_subspace(n) + shift * (t - n)).numpy()

        return sla.LinearOperator((P, P), matvec=mv, dtype=np.float64)

    start = op.hvp_count
    v0 = op.project(torch.randn(P, dtype=torch.float64, generator=torch.Generator().manual_seed(0))).numpy()
    radius = float(
        np.abs(sla.eigsh(shifted(0.0), k=1, which="LM", v0=v0, tol=1e-3, return_eigenvectors=False)).max()
    )
    sigma = SHIFT_MARGIN * radius
    top = sla.eigsh(shifted(-sigma), k=k, which="LA", v0=v0, tol=tol, return_eigenvectors=False)
    bottom = sla.eigsh(shifted(sigma), k=k, which="SA", v0=v0, tol=tol, return_eigenvectors=False)
    return np.sort(np.concatenate([bottom, top])), op.hvp_count - start


def _max_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=None, help=f"default {WIDTH}, {QUICK_WIDTH} with --quick")
    p.add_argument("--factor", type=int, default=4)
    p.add_argument("--k", type=int, default=1)
    p.add_argument("--tol", type=float, default=BIG_TOL)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true", help=f"base width {QUICK_WIDTH} unless --width is given")
    args = parse_args(p)
    args.width = args.width if args.width is not None else (QUICK_WIDTH if args.quick else WIDTH)
    if args.threads:
        torch.set_num_threads(args.threads)
    k = args.k
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64")

    net, part, x, y = cloned(4, 6, 2, 3, args.batch)
    t = time.perf_counter()
    dense = normal_stability(net, part, x, y, space="C", method="dense")
    t_dense = time.perf_counter() - t
    t = time.perf_counter()
    small = normal_stability(net, part, x, y, space="C", method="lanczos", k=k)
    t_small = time.perf_counter() - t
    ref = np.concatenate([dense.eigenvalues[:k], dense.eigenvalues[-k:]])
    hvp = HessianOperator(net, x, y)
    full = sla.LinearOperator(
        (net.num_parameters,) * 2,
        matvec=lambda v: hvp.matvec(torch.as_tensor(v.ravel())).numpy(),
        dtype=np.float64,
    )
    sla.eigsh(full, k=k, which="LA", tol=args.tol, return_eigenvectors=False)
    sla.eigsh(full, k=k, which="SA", tol=args.tol, return_eigenvectors=False)
    print(
        f"small version: P={net.num_parameters}, dim N_C={dense.normal_dimension}: dense {t_dense:.2f} s; "
        f"deflated Lanczos {t_small:.2f} s, {small.hvp_count} HVPs, max gap to dense "
        f"{np.abs(small.eigenvalues - ref).max():.1e}, "
        f"certified {small.certified}; unprojected eigsh on the full Hessian {hvp.hvp_count} HVPs "
        "(its extremes are not normal-space eigenvalues)"
    )

    sym, spart, sx, sy = cloned(3, 3, 1, 3, 24, mode="constant")
    sdense = normal_stability(sym, spart, sx, sy, method="dense").eigenvalues
    kk = 3
    sref = np.concatenate([sdense[:kk], sdense[-kk:]])
    base_vals, base_hvps = single_run_per_end(NormalHessian.at(manifold("C", spart), sx, sy), kk, 1e-12)
    new = normal_stability(sym, spart, sx, sy, method="lanczos", k=kk)
    print(
        f"repeated eigenvalues (constant clone, blocks of 3, P={sym.num_parameters}, k={kk}): one eigsh "
        f"per end {base_hvps} HVPs, max error {np.abs(base_vals - sref).max():.1e}; deflated rounds "
        f"{new.hvp_count} HVPs, "
        f"max error {np.abs(new.eigenvalues - sref).max():.1e}, certified {new.certified}, multiplicities "
        f"{[c for _, c in new.details['multiplicities']]}"
    )

    t = time.perf_counter()
    net, part, x, y = cloned(32, args.width, 4, args.factor, args.batch)
    print(
        f"big network: P={net.num_parameters:,} parameters, {net.num_nodes} nodes, batch {args.batch}; "
        f"built in {time.perf_counter() - t:.1f} s (max RSS so far {_max_rss_gib():.2f} GiB)",
        flush=True,
    )
    t = time.perf_counter()
    res = normal_stability(net, part, x, y, space="C", method="lanczos", k=k, lanczos_tol=args.tol)
    total = time.perf_counter() - t
    hvp_s = res.details["hvp_seconds"]
    rounds = [(r.which, f"{r.masked_value:.3g}", r.matvecs, r.kept) for r in res.details["rounds"]]
    print(
        f"deflated Lanczos on N_C (dim {res.normal_dimension:,}), tol {args.tol:g}: {total:.1f} s end to "
        f"end, {res.hvp_count} HVPs; in the HVPs {hvp_s:.1f} s ({hvp_s / res.hvp_count * 1e3:.0f} ms each), "
        f"the rest (projections, deflation, ARPACK, set-up) {total - hvp_s:.1f} s "
        f"({(total - hvp_s) / res.hvp_count * 1e3:.0f} ms per HVP); rounds {rounds}; extremes "
        f"{np.array2string(res.eigenvalues, precision=6)} → {res.classification}, certified {res.certified} "
        f"(residual bound {res.details['residual_bound']:.1e}); "
        f"max RSS {_max_rss_gib():.2f} GiB"
    )
    print(f"target ≤ 30 s end to end: {'met' if total <= 30 else 'not met'} ({total / 30:.1f}× the target)")
    P = f"{net.num_parameters:,} parameters"
    goal = (
        f"value ≤ {GOAL_SECONDS:g}" if net.num_parameters > 1_000_000 else "(≤ 30 s at 1,087,492 parameters)"
    )
    emit(
        [
            Figure(
                f"projected Lanczos on N_C end to end, {P}",
                total,
                "s",
                "of which inside the HVPs",
                hvp_s,
                None,
                goal,
            ),
            Figure(
                f"projected Lanczos on N_C: HVPs, {P}",
                res.hvp_count,
                "HVPs",
                "dense Hessian (one per parameter)",
                net.num_parameters,
            ),
            Figure(
                f"one HVP inside the Lanczos (mean), {P}",
                1e3 * hvp_s / res.hvp_count,
                "ms",
                "torch.func HVP, nn.Linear MLP",
                1e3 * peer_hvp_seconds(net, x, y),
                None,
                "ratio ≤ 5" if net.num_parameters > 1_000_000 else "(ratio ≤ 5 at 1,087,492 parameters)",
            ),
        ],
        args.json,
    )


def peer_hvp_seconds(net, x: torch.Tensor, y: torch.Tensor) -> float:
    """Median time of torch.func's jvp-of-grad HVP of the nn.Linear MLP holding the same weights (the peer),
    checked against the DagNet's HVP."""
    model, where = linear_mlp(net)
    params = {k: p.detach() for k, p in model.named_parameters()}
    positions = [pos for pair in where for pos in pair]
    v = torch.randn(net.num_parameters, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    tangent = {k: v[pos] for k, pos in zip(params, positions)}
    grad = torch.func.grad(lambda p: ((torch.func.functional_call(model, p, (x,)) - y) ** 2).mean())

    def hvp() -> dict[str, torch.Tensor]:
        return torch.func.jvp(grad, (params,), (tangent,))[1]

    ours = HessianOperator(net, x, y).matvec(v)
    gap = max(float((ours[pos] - out).abs().max()) for pos, out in zip(positions, hvp().values()))
    assert gap <= PEER_AGREE * float(ours.abs().max()), f"peer HVP differs by {gap:.1e}"
    return median_time(hvp)


if __name__ == "__main__":
    main()

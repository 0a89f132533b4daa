"""Hessian-vector products on cloned MLP-shaped DagNets, against a gradient and against torch.func's HVP
of the equivalent nn.Linear MLP, and the cost of the Lanczos layer around an HVP.

For each size: one gradient (forward + backward), both HVP modes of dag_nets.curvature.HessianOperator
(double backward through a gradient graph built once; forward-over-reverse), and the peer a user would
pick instead — ``torch.func.jvp(torch.func.grad(L))`` on an nn.Linear MLP holding the same weights (its
HVP is also the independent check: the two must agree). Then the per-matvec cost of everything the
projected Lanczos adds to an HVP (two normal-space projections, the deflation, the numpy views; measured
with the HVP replaced by the identity) and of ARPACK's own iteration (reorthogonalization), so the
overhead of this layer is reported apart from the HVP itself. Each size runs with and without
dag_nets.memory.reuse_freed_memory (glibc page faults, see that module).

FLOP figures count 2·batch·edges per dense pass and nominal passes (gradient 3, HVP 6); the fraction is
of the fp64 GEMM limit of the 2-core machine (FP64_LIMIT).

    python benchmarks/bench_dag_hvp.py [--sizes 5k 75k 280k 1m] [--batch 16] [--threads N] [--quick] [--json]

Headline figures (``--json``): at the largest size, with memory reuse, the double-backward HVP against the
nn.Linear peer's HVP and against one gradient. ``--quick``: sizes 5k and 75k unless ``--sizes`` is given.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import time
from dataclasses import dataclass

import networkx as nx
import scipy.sparse.linalg as sla
import torch
from common import Figure, emit, parse_args

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp, teacher_batch
from dag_nets.curvature import HessianOperator, NormalHessian
from dag_nets.graph import DagNet, loss_of_theta
from dag_nets.lanczos import LANCZOS_VECTORS, DeflatedOperator
from dag_nets.manifolds import manifold
from dag_nets.memory import reuse_freed_memory
from dag_nets.threads import single_threaded_blas

REPEATS = 5
FP64_LIMIT = 111e9
"""fp64 GEMM FLOP/s of this CPU (README)."""
SIZES = {
    "5k": (16, [32, 32], 4, 2),
    "75k": (32, [64, 64], 4, 4),
    "280k": (32, [128, 128], 4, 4),
    "1m": (32, [256, 256], 4, 4),
}
"""(inputs, base widths, outputs, clone factor): 5,508 / 75,268 / 281,604 / 1,087,492 parameters."""
DEFAULT_SIZES = ["5k", "75k", "280k"]
QUICK_SIZES = ["5k", "75k"]


def median_time(fn, repeats: int = REPEATS) -> tuple[float, float]:
    """(median seconds, median minor page faults) of ``fn`` after one warm-up call."""
    fn()
    times, faults = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return statistics.median(times), statistics.median(faults)


def linear_mlp(net: DagNet) -> tuple[torch.nn.Sequential, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The nn.Linear MLP with the DagNet's weights (tanh hidden layers), and for each layer the positions of
    its weight matrix and bias vector in θ (to map θ-space vectors to its parameters)."""
    layers = [sorted(g, key=net.index.__getitem__) for g in nx.topological_generations(net.graph)]
    mods: list[torch.nn.Module] = []
    where = []
    for a, b in itertools.pairwise(layers):
        lin = torch.nn.Linear(len(a), len(b), dtype=net.edge_weight.dtype)
        w_pos = torch.tensor([[net.edge_index[(u, v)] for u in a] for v in b])
        b_pos = torch.tensor([net.num_edges + net.bias_index[v] for v in b])
        theta = net.flat_parameters()
        with torch.no_grad():
            lin.weight.copy_(theta[w_pos])
            lin.bias.copy_(theta[b_pos])
        mods += [lin, torch.nn.Tanh()]
        where.append((w_pos, b_pos))
    return torch.nn.Sequential(*mods[:-1]), where


@dataclass
class _Identity:
    """A SubspaceOperator whose 'HVP' is the identity: what remains is the Lanczos layer's own cost."""

    op: NormalHessian

    def __post_init__(self) -> None:
        self.size, self.dimension, self.dtype, self.device = (
            self.op.size,
            self.op.dimension,
            self.op.dtype,
            self.op.device,
        )

    def project(self, v: torch.Tensor) -> torch.Tensor:
        return self.op.project(v)

    def apply_in_subspace(self, v: torch.Tensor) -> torch.Tensor:
        return self.op.project(v)


def run(size: str, batch: int, reuse: bool) -> dict[str, float]:
    n_in, widths, n_out, factor = SIZES[size]
    base = mlp(n_in, widths, n_out, seed=0)
    net, part = clone_network(
        base,
        {v: factor for v in base.bias_nodes if v not in base.outputs},
        mode="equitable",
        generator=torch.Generator().manual_seed(0),
        scale=0.1,
    )
    x, y = teacher_batch(n_in, n_out, batch, seed=0)
    theta = net.flat_parameters()
    f = loss_of_theta(net, x, y)
    v = torch.randn(theta.shape, dtype=theta.dtype, generator=torch.Generator().manual_seed(1))

    def grad() -> torch.Tensor:
        leaf = theta.clone().requires_grad_(True)
        return torch.autograd.grad(f(leaf), leaf)[0]

    model, where = linear_mlp(net)
    params = {k: p.detach() for k, p in model.named_parameters()}

    def peer_loss(p: dict) -> torch.Tensor:
        return ((torch.func.functional_call(model, p, (x,)) - y) ** 2).mean()

    peer_grad = torch.func.grad(peer_loss)
    keys = [k for k, _ in model.named_parameters()]
    v_peer = {k: v[pos] for k, pos in zip(keys, [p for pair in where for p in pair])}

    def peer_hvp() -> dict:
        return torch.func.jvp(peer_grad, (params,), (v_peer,))[1]

    with reuse_freed_memory() if reuse else _nothing():
        t_grad, f_grad = median_time(grad)
        db = HessianOperator(net, x, y, mode="double-backward")
        fr = HessianOperator(net, x, y, mode="forward-over-reverse")
        t_db, f_db = median_time(lambda: db.matvec(v))
        t_fr, _ = median_time(lambda: fr.matvec(v))
        t_peer, _ = median_time(peer_hvp)
        hv = db.matvec(v)
        peer = peer_hvp()
        scale = float(hv.abs().max())
        gap_modes = float((hv - fr.matvec(v)).abs().max()) / scale
        gap_peer = (
            max(
                float((hv[pos] - peer[k]).abs().max())
                for k, pos in zip(keys, [p for pr in where for p in pr])
            )
            / scale
        )
        op = NormalHessian(db, manifold("C", part).normal_projector())
        t_proj, _ = median_time(lambda: op.project(v))
        layer = DeflatedOperator(_Identity(op), 2.0, torch.zeros(net.num_parameters, 0, dtype=theta.dtype))
        v_np = v.numpy().copy()
        t_layer, _ = median_time(lambda: layer.matvec(v_np))
        t0 = time.perf_counter()
        layer.calls = 0
        _arpack_iterations(layer, v)
        t_arpack = (time.perf_counter() - t0) / max(layer.calls, 1) - t_layer
    passes = 2 * batch * net.num_edges
    print(
        f"{net.num_parameters:>9} {'on ' if reuse else 'off'} {t_grad * 1e3:>8.1f} {f_grad:>7.0f} "
        f"{t_db * 1e3:>8.1f} {t_db / t_grad:>5.2f} {f_db:>7.0f} {t_fr * 1e3:>8.1f} {t_fr / t_grad:>5.2f} "
        f"{t_peer * 1e3:>8.2f} {t_db / t_peer:>6.1f} {6 * passes / t_db / FP64_LIMIT:>6.2%} "
        f"{t_proj * 1e3:>7.2f} {t_layer * 1e3:>7.2f} {max(t_arpack, 0.0) * 1e3:>7.2f} "
        f"{(t_layer + max(t_arpack, 0.0)) / t_db:>6.1%}  {gap_modes:.0e} {gap_peer:.0e}",
        flush=True,
    )
    return {
        "parameters": net.num_parameters,
        "grad": t_grad,
        "double_backward": t_db,
        "peer": t_peer,
        "fp64_fraction": 6 * passes / t_db / FP64_LIMIT,
    }


def _arpack_iterations(layer: DeflatedOperator, v: torch.Tensor) -> None:
    """A short ARPACK run on the identity-HVP operator (stopped by maxiter): its per-matvec time minus the
    layer's is ARPACK's own reorthogonalization cost."""
    try:
        with single_threaded_blas():  # as dag_nets.lanczos runs it
            sla.eigsh(
                layer.scipy(),
                k=1,
                which="SA",
                ncv=LANCZOS_VECTORS,
                maxiter=3,
                tol=1e-300,
                v0=layer.project(v).numpy(),
            )
    except sla.ArpackNoConvergence:
        pass


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--sizes",
        nargs="+",
        choices=list(SIZES),
        default=None,
        help=f"default {' '.join(DEFAULT_SIZES)}; with --quick {' '.join(QUICK_SIZES)}",
    )
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="the two smallest sizes unless --sizes is given")
    args = parse_args(p)
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, float64; "
        f"times are medians of {REPEATS}; 'reuse' = dag_nets.memory.reuse_freed_memory"
    )
    print(
        f"{'params':>9} {'reuse':>3} {'grad ms':>8} {'faults':>7} {'HVP2bwd':>8} {'/grad':>5} {'faults':>7} "
        f"{'HVPfwdrev':>8} {'/grad':>5} {'peer ms':>8} {'/peer':>6} {'%fp64':>6} {'P_N ms':>7} {'layer':>7} "
        f"{'arpack':>7} {'ovhd':>6}  agreement (modes, peer)"
    )
    for size in sizes:
        for reuse in (False, True):
            last = run(size, args.batch, reuse)
    print(
        "peer: torch.func jvp(grad) HVP of the nn.Linear MLP with the same weights; layer: the Lanczos "
        "wrapper around one HVP (two P_N, deflation, numpy views); arpack: ARPACK's own work per matvec "
        "(ncv 20); ovhd = (layer + arpack) / HVP"
    )
    P = f"{last['parameters']:,} parameters, batch {args.batch}, reuse on"
    emit(
        [
            Figure(
                f"HVP (HessianOperator, double backward), {P}",
                1e3 * last["double_backward"],
                "ms",
                "torch.func HVP, nn.Linear MLP",
                1e3 * last["peer"],
                last["fp64_fraction"],
                "ratio ≤ 5" if last["parameters"] > 1_000_000 else "(ratio ≤ 5 at 1,087,492 parameters)",
            ),
            Figure(
                f"HVP (HessianOperator, double backward), {P}",
                1e3 * last["double_backward"],
                "ms",
                "one gradient",
                1e3 * last["grad"],
                last["fp64_fraction"],
            ),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()

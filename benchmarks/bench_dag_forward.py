"""DagNet forward + backward on a random non-layered DAG (10,000 nodes, ≈990,000 edges, 425 generations).

Figure: the fast engine (dag_nets/propagation.py; this graph runs entirely on its sparse rows), float32,
batch 64. Peers in the same run: the reference engine (the autograd-traced propagation DagNet used
before, issue 12's "now": goal ≥ 10× faster) and an nn.Linear MLP with the same number of weights (4
layers of 505: what a user would pick instead). Outputs and gradients of the two engines are compared.
Tables: cost and peak memory against batch (linear in edges × batch, no super-linear memory) and
against graph size.

    python benchmarks/bench_dag_forward.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse

import torch
from common import Figure, emit, gflops_limit, median_time, parse_args, peak_memory, print_table

from dag_nets.builders import random_dag

FULL = {
    "nodes": 10_000,
    "edges": 1_000_000,
    "batches": (16, 64, 256, 1024),
    "sizes": ((2_500, 250_000), (5_000, 500_000)),
}
QUICK = {
    "nodes": 2_000,
    "edges": 100_000,
    "batches": (16, 64, 256),
    "sizes": ((500, 25_000), (1_000, 50_000)),
}
BATCH = 64
REFERENCE_MAX_BATCH = 64
"""The reference engine's memory grows with depth × nodes × batch (9 GB at batch 1,024 on the full graph)."""


def fwd_bwd(net, x: torch.Tensor):
    def run():
        net.zero_grad()
        out = net(x)
        out.square().sum().backward()
        return out.detach(), net.edge_weight.grad.clone()

    return run


def linear_peer(n_weights: int, batch: int):
    width = round((n_weights / 4) ** 0.5)
    model = torch.nn.Sequential(
        *[m for _ in range(4) for m in (torch.nn.Linear(width, width), torch.nn.Tanh())]
    )
    x = torch.randn(batch, width, generator=torch.Generator().manual_seed(0))

    def run():
        model.zero_grad()
        model(x).square().sum().backward()

    return run, 4 * width * width


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a 100k-edge graph and fewer rows")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parse_args(p)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    cfg = QUICK if args.quick else FULL
    net = random_dag(cfg["nodes"], cfg["edges"], seed=0, dtype=torch.float32)
    E = net.num_edges
    print(
        f"graph: {net.num_nodes} nodes, {E} edges, {net.depth} generations; "
        f"plan {net.propagation_plan().summary()}; "
        f"{torch.get_num_threads()} threads, float32"
    )
    x = torch.randn(BATCH, len(net.inputs), generator=torch.Generator().manual_seed(0))
    net.engine = "auto"
    t_fast = median_time(fwd_bwd(net, x))
    out_f, g_f = fwd_bwd(net, x)()
    net.engine = "reference"
    t_ref = median_time(fwd_bwd(net, x), repeats=3)
    out_r, g_r = fwd_bwd(net, x)()
    net.engine = "auto"
    lin, n_lin = linear_peer(E, BATCH)
    t_lin = median_time(lin)
    flops = 6.0 * E * BATCH  # forward, adjoint sweep, weight gradient: 2·E·B each
    limit = gflops_limit("float32") * 1e9
    print(
        "agreement with the reference engine: output "
        f"{float((out_f - out_r).abs().max() / out_r.abs().max()):.1e}, "
        f"gradient {float((g_f - g_r).abs().max() / g_r.abs().max()):.1e} (relative, float32)"
    )
    emit(
        [
            Figure(
                "DagNet fwd+bwd, fast engine (batch 64)",
                1e3 * t_fast,
                "ms",
                "reference engine (before)",
                1e3 * t_ref,
                flops / t_fast / limit,
                "ratio ≤ 0.1 (≥ 10× faster than the reference)",
            ),
            Figure(
                "DagNet fwd+bwd, fast engine (batch 64)",
                1e3 * t_fast,
                "ms",
                f"nn.Linear MLP, {n_lin:,} weights",
                1e3 * t_lin,
                flops / t_fast / limit,
            ),
        ],
        args.json,
    )
    rows = []
    for batch in cfg["batches"]:
        xb = torch.randn(batch, len(net.inputs), generator=torch.Generator().manual_seed(batch))
        t = median_time(fwd_bwd(net, xb), repeats=3)
        mem = peak_memory(fwd_bwd(net, xb))
        ref_t = ref_mem = "-"
        if batch <= REFERENCE_MAX_BATCH:
            net.engine = "reference"
            ref_t = f"{1e9 * median_time(fwd_bwd(net, xb), repeats=1) / (E * batch):.3f}"
            ref_mem = f"{peak_memory(fwd_bwd(net, xb)) / 2**20:.0f}"
            net.engine = "auto"
        node_tensor = 4 * net.num_nodes * batch / 2**20
        rows.append(
            [batch, 1e3 * t, 1e9 * t / (E * batch), mem / 2**20, mem / 2**20 / node_tensor, ref_t, ref_mem]
        )
    print_table(
        "against batch (fast engine; memory = peak RSS above the start of the call)",
        [
            "batch",
            "ms",
            "ns/edge·sample",
            "peak MB",
            "peak / one [nodes, batch] tensor",
            "reference ns/edge·sample",
            "reference peak MB",
        ],
        rows,
    )
    rows = []
    for n, e in (*cfg["sizes"], (cfg["nodes"], cfg["edges"])):
        g = net if n == cfg["nodes"] else random_dag(n, e, seed=0, dtype=torch.float32)
        xs = torch.randn(BATCH, len(g.inputs), generator=torch.Generator().manual_seed(1))
        t = median_time(fwd_bwd(g, xs), repeats=3)
        rows.append(
            [g.num_nodes, g.num_edges, g.depth, 1e3 * t, 1e9 * t / (g.num_edges * BATCH), 1e6 * t / g.depth]
        )
    print_table(
        "against graph size (batch 64)",
        ["nodes", "edges", "generations", "ms", "ns/edge·sample", "µs/generation"],
        rows,
    )


if __name__ == "__main__":
    main()

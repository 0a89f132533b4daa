"""DagNet on layered graphs against the nn.Linear MLP with the same weights; cost against depth and batch.

Figures (float32, forward + backward): the 16 × 257 layered graph (16 complete 257×257 blocks, 1.06M
edges, batch 64) — goal within 5× of nn.Linear; width 63 at depth 1,024 against depth 128 — goal ns per
edge·sample within 1.5×. Every complete block between consecutive generations runs as a GEMM on a view of
θ. Tables: ns per edge·sample and peak memory against depth (fast engine, nn.Linear, and the reference
engine where it finishes quickly) and against batch.

    python benchmarks/bench_dag_layered.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import gc

import numpy as np
import torch
from common import Figure, emit, gflops_limit, median_time, parse_args, peak_memory, print_table

from dag_nets.graph import DagNet
from theory.activations import get_activation, kaiming_gain

FULL = {
    "wide": (257, 16),
    "depths": (128, 256, 512, 1024),
    "batches": (16, 64, 256, 1024),
    "reference_depths": (128, 256),
}
QUICK = {"wide": (129, 8), "depths": (32, 64, 128), "batches": (16, 64, 256), "reference_depths": (32,)}
BATCH = 64
NARROW = 63


def layered_net(width: int, depth: int, seed: int = 0) -> DagNet:
    """``depth`` complete width×width blocks (tanh, linear outputs), N(0, g²/width) weights with g the tanh
    Kaiming gain so the signal neither vanishes nor explodes with depth; built without networkx attributes."""
    rng = np.random.default_rng(seed)
    n = width * (depth + 1)
    layer = np.arange(width)
    src = np.concatenate([np.repeat(layer + k * width, width) for k in range(depth)])
    dst = np.concatenate([np.tile(layer + (k + 1) * width, width) for k in range(depth)])
    w = rng.normal(size=len(src)) * kaiming_gain("tanh") / np.sqrt(width)
    tanh, linear = get_activation("tanh"), get_activation("linear")
    acts = {v: tanh if v < n - width else linear for v in range(width, n)}
    biases = dict(zip(range(width, n), (0.1 * rng.normal(size=n - width)).tolist()))
    return DagNet(
        list(range(n)),
        list(range(width)),
        list(range(n - width, n)),
        list(zip(src.tolist(), dst.tolist())),
        w.tolist(),
        biases,
        acts,
        dtype=torch.float32,
    )


def linear_twin(net: DagNet) -> torch.nn.Sequential:
    """The nn.Linear MLP with the DagNet's weights (one Linear per dense block, in order)."""
    plan = net.propagation_plan()
    w, b = net.edge_weight.detach(), net.bias.detach()
    mods: list[torch.nn.Module] = []
    for i, blk in enumerate(plan.blocks):
        assert blk.edge_range is not None, "a layered graph's blocks are views of θ"
        lin = torch.nn.Linear(blk.shape[1], blk.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w[blk.edge_range[0] : blk.edge_range[1]].view(blk.shape))
            r0, r1 = blk.rows
            lin.bias.copy_(b[r0 - len(net.inputs) : r1 - len(net.inputs)])
        mods += [lin] if i == len(plan.blocks) - 1 else [lin, torch.nn.Tanh()]
    return torch.nn.Sequential(*mods)


def fwd_bwd(model, x: torch.Tensor):
    def run():
        model.zero_grad()
        model(x).square().sum().backward()

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    args = parse_args(p)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    cfg = QUICK if args.quick else FULL
    limit = gflops_limit("float32") * 1e9
    print(f"{torch.get_num_threads()} threads, float32, forward + backward")

    width, depth = cfg["wide"]
    net = layered_net(width, depth)
    twin = linear_twin(net)
    x = torch.randn(BATCH, width, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        agree = float((net(x) - twin(x)).abs().max() / twin(x).abs().max())
    E = net.num_edges
    t_dag, t_lin = median_time(fwd_bwd(net, x)), median_time(fwd_bwd(twin, x))
    batch_rows = []
    for batch in cfg["batches"]:
        xb = torch.randn(batch, width, generator=torch.Generator().manual_seed(batch))
        td, tl = median_time(fwd_bwd(net, xb), repeats=3), median_time(fwd_bwd(twin, xb), repeats=3)
        batch_rows.append(
            [
                batch,
                1e9 * td / (E * batch),
                1e9 * tl / (E * batch),
                td / tl,
                peak_memory(fwd_bwd(net, xb)) / 2**20,
                peak_memory(fwd_bwd(twin, xb)) / 2**20,
            ]
        )
    del net, twin
    gc.collect()

    depth_rows, per_depth = [], {}
    for d in cfg["depths"]:
        deep = layered_net(NARROW, d)
        xd = torch.randn(BATCH, NARROW, generator=torch.Generator().manual_seed(d))
        t = median_time(fwd_bwd(deep, xd), repeats=3)
        tl = median_time(fwd_bwd(linear_twin(deep), xd), repeats=3)
        ref = "-"
        if d in cfg["reference_depths"]:
            deep.engine = "reference"
            ref = f"{1e9 * median_time(fwd_bwd(deep, xd), repeats=1) / (deep.num_edges * BATCH):.3f}"
        per_depth[d] = 1e9 * t / (deep.num_edges * BATCH)
        depth_rows.append(
            [d, deep.num_edges, per_depth[d], 1e9 * tl / (deep.num_edges * BATCH), ref, 1e6 * t / d]
        )
        del deep
        gc.collect()

    d0, d1 = cfg["depths"][0], cfg["depths"][-1]
    print(
        f"{width}×{width} blocks ×{depth}: {E:,} edges; DagNet vs its nn.Linear twin: outputs agree to "
        f"{agree:.1e}"
    )
    emit(
        [
            Figure(
                f"DagNet {depth}×{width} layered, batch {BATCH}",
                1e3 * t_dag,
                "ms",
                "nn.Linear, same weights",
                1e3 * t_lin,
                6 * E * BATCH / t_dag / limit,
                "ratio ≤ 5",
            ),
            Figure(
                f"width {NARROW}, ns/edge·sample at depth {d1}",
                per_depth[d1],
                "ns",
                f"the same at depth {d0}",
                per_depth[d0],
                None,
                "ratio ≤ 1.5",
            ),
        ],
        args.json,
    )
    print_table(
        f"against depth (width {NARROW}, batch {BATCH}; ns per edge·sample)",
        ["depth", "edges", "DagNet", "nn.Linear", "reference engine", "µs/generation"],
        depth_rows,
    )
    print_table(
        f"against batch ({depth}×{width} layered; ns per edge·sample, peak MB above the call's start)",
        ["batch", "DagNet", "nn.Linear", "ratio", "DagNet peak MB", "nn.Linear peak MB"],
        batch_rows,
    )


if __name__ == "__main__":
    main()

"""Claim: experiments.cloning.expand (index gathers on whole tensors) is much faster than the
straightforward per-entry loop, and gives the same weights.

Baseline: for every Linear weight of an MLP, loop over clone output units o' and clone input units i' and
set W'[o', i'] = W[⌊o'/k_out⌋, ⌊i'/k_in⌋] / k_in — a direct transcription of Remark A.4 (adjacent clones).
Run: ``python benchmarks/bench_cloning.py [--factor 2] [--width 0.25] [--quick] [--json]``; prints both times,
the ratio and the largest weight difference. ``--quick``: width 0.125.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import Figure, emit, parse_args
from torch import nn

from experiments.cloning import expand_with_plan
from experiments.models import build

WIDTH = 0.25
QUICK_WIDTH = 0.125


def naive_linear_weights(base: nn.Module, clone: nn.Module) -> dict[str, torch.Tensor]:
    """Per-entry loop tiling of every Linear weight of an MLP."""
    out = {}
    base_mods = dict(base.named_modules())
    for name, mod in clone.named_modules():
        if isinstance(mod, nn.Linear):
            w = base_mods[name].weight.detach()
            new = torch.empty_like(mod.weight)
            k_out, k_in = new.shape[0] // w.shape[0], new.shape[1] // w.shape[1]
            for o in range(new.shape[0]):
                for i in range(new.shape[1]):
                    new[o, i] = w[o // k_out, i // k_in] / k_in
            out[f"{name}.weight"] = new
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--factor", type=int, default=2)
    p.add_argument(
        "--width", type=float, default=None, help=f"MLP width (default {WIDTH}, {QUICK_WIDTH} with --quick)"
    )
    p.add_argument("--quick", action="store_true", help=f"width {QUICK_WIDTH} unless --width is given")
    args = parse_args(p)
    width = args.width if args.width is not None else (QUICK_WIDTH if args.quick else WIDTH)
    torch.manual_seed(0)
    base = build("mlp", (3, 32, 32), 10, width=width, normalization="none")
    t0 = time.perf_counter()
    clone, _ = expand_with_plan(base, args.factor)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = naive_linear_weights(base, clone)
    t_naive = time.perf_counter() - t0
    params = dict(clone.named_parameters())
    dev = max(float((w - params[n].detach()).abs().max()) for n, w in naive.items())
    print(
        f"mlp width {width} ×{args.factor}: expand {t_fast:.3f} s (all parameters, plan, shape probe), "
        f"per-entry loop {t_naive:.3f} s (Linear weights only), ratio {t_naive / t_fast:.1f}×, "
        f"max |Δw| {dev:.1e}"
    )
    emit(
        [
            Figure(
                f"expand, MLP width {width} ×{args.factor} (max |Δw| {dev:.0e})",
                t_fast,
                "s",
                "per-entry loop (Linear weights only)",
                t_naive,
            )
        ],
        args.json,
    )


if __name__ == "__main__":
    main()

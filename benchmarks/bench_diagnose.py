"""dag_nets.diagnose end to end on a cloned MLP of about a million parameters, its parts beside what a user
would pick instead, in the same run.

Model: the experiments' MLP 256 → [448, 448] → 10 (tanh, no normalization), expanded ×2 by
``experiments.cloning.expand`` (1,037,322 parameters), with small noise on every weight (so the clone
tolerance rule has work to do), a batch of 256 and cross-entropy targets; the scaling table adds base
widths 112 and 224. ``--quick``: base widths 8 and 16 (9,610 parameters at most), batch 64.

Figures (value, peer, ratio value/peer):

* ``diagnose`` end to end (Lanczos, k = 2) — peer: the module's own forward + backward on the batch,
  to show the cost in units of one training step;
* the normal-space HVP of the traced DagNet (what Lanczos repeats) — peer: a torch.func HVP
  (jvp of grad over ``functional_call``) of the nn.Module itself, the same product a user would write;
  fraction of the fp64 limit at an estimated 12 · P · B flop per HVP (forward, backward, and their
  tangents: 2 + 4 + 6 flop per weight and example);
* clone blocks (the tolerance ladder of dag_nets.approximate_clones) — peer: SciPy single-linkage
  clustering of every layer's incoming weight rows and bias at the chosen tolerance (``fclusterdata``),
  the check a user would write (it sees incoming weights only, not equitability);
* frozen units (``zero_derivative_fraction``) — peer: forward hooks on the module's Linear layers
  counting z ≤ 0 (what one writes for ReLU; here for the same batch);
* ``from_module`` tracing — peer: ``torch.fx.symbolic_trace`` alone.

A scaling table prints how diagnose's time grows with the width. Timings on the shared 2-core machine are
provisional (the lead re-measures on a quiet one).

    python benchmarks/bench_diagnose.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch
from common import FP64_GFLOPS, Figure, median_time, print_figures, print_table
from scipy.cluster.hierarchy import fclusterdata
from torch import fx, nn

from dag_nets.approximate_clones import approximate_equitable_partition
from dag_nets.curvature import NormalHessian
from dag_nets.diagnose import diagnose
from dag_nets.from_module import from_module
from dag_nets.frozen import zero_derivative_fraction
from dag_nets.manifolds import manifold
from experiments.cloning.expand import expand
from experiments.models.mlp import MLP
from experiments.models.spec import make_spec

INPUTS, CLASSES = 256, 10
NOISE = 1e-9
"""Weight noise (absolute) that moves clones apart without hiding them (RMS weight ≈ 0.03)."""
HVP_FLOP_PER_WEIGHT_EXAMPLE = 12
K = 2


def build(width: int, batch: int, seed: int = 0):
    torch.manual_seed(seed)
    spec = make_spec(
        "mlp", (1, 1, INPUTS), CLASSES, hidden=width, depth=2, normalization="none", activation="tanh"
    )
    model = expand(MLP(spec).double().eval(), 2)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(NOISE * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    x = torch.randn(batch, 1, 1, INPUTS, generator=gen, dtype=torch.float64)
    y = torch.randint(0, CLASSES, (batch,), generator=gen)
    return model, x, y


def module_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()


def torch_func_hvp(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p):
        return nn.functional.cross_entropy(torch.func.functional_call(model, p, (x,)), y)

    grad = torch.func.grad(loss)
    tangent = {k: torch.randn_like(v) for k, v in params.items()}
    return lambda: torch.func.jvp(grad, (params,), (tangent,))[1]


def peer_clusters(model: nn.Module, tol: float) -> int:
    """Single-linkage clusters of the [W | b] rows of every hidden Linear at distance ≤ tol (Chebyshev)."""
    blocks = 0
    for lin in [m for m in model if isinstance(m, nn.Linear)][:-1]:
        rows = torch.cat([lin.weight, lin.bias[:, None]], 1).detach().numpy()
        labels = fclusterdata(rows, t=tol, criterion="distance", metric="chebyshev", method="single")
        blocks += int(labels.max())
    return blocks


def hook_frozen(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _a, out: seen.append((out <= 0).double().mean(0)))
        for m in [m for m in model if isinstance(m, nn.Linear)][:-1]
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return seen


def measure(width: int, batch: int, repeats: int) -> tuple[list[Figure], dict]:
    model, x, y = build(width, batch)
    P = sum(p.numel() for p in model.parameters())
    t0 = time.perf_counter()
    d = diagnose(model, x, y, loss="cross_entropy", method="lanczos", k=K)
    t_diag = time.perf_counter() - t0
    t_step = median_time(lambda: module_step(model, x, y), repeats)
    md = d.module_dag
    X = md.inputs(x)
    Y = nn.functional.one_hot(y, CLASSES).double()
    assert d.clones.partition is not None
    op = NormalHessian.at(manifold("C", d.clones.partition), X, Y, md.theta(), "cross_entropy")
    v = op.project(torch.randn(op.size, dtype=torch.float64))
    t_hvp = median_time(lambda: op.apply_in_subspace(v), repeats)
    t_peer_hvp = median_time(torch_func_hvp(model, x, y), repeats)
    t_clones = median_time(lambda: approximate_equitable_partition(md.net), max(1, repeats // 2), warmup=0)
    t_peer_clones = median_time(lambda: peer_clusters(model, d.clones.tol), max(1, repeats // 2), warmup=0)
    t_frozen = median_time(lambda: zero_derivative_fraction(md.net, X), repeats)
    t_peer_frozen = median_time(lambda: hook_frozen(model, x), repeats)
    t_trace = median_time(lambda: from_module(model, x), max(1, repeats // 2), warmup=0)
    t_fx = median_time(lambda: fx.symbolic_trace(model), repeats)
    hvp_gflops = HVP_FLOP_PER_WEIGHT_EXAMPLE * P * batch / t_hvp / 1e9
    m = d.manifold
    assert m is not None
    info = {
        "parameters": P,
        "batch": batch,
        "diagnose_s": t_diag,
        "hvps": m.hvp_count,
        "classification": m.classification,
        "certified": m.certified,
        "blocks": d.clones.num_blocks,
        "exact": d.clones.exact,
        "tol": d.clones.tol,
        "relative_distance": d.clones.relative_distance,
    }
    tag = f"{P:,} params, batch {batch}"
    figures = [
        Figure(
            f"diagnose end to end (lanczos k={K}), {tag}",
            t_diag,
            "s",
            "one forward+backward of the module",
            t_step,
            None,
            "minutes at 1M parameters (issue 13)",
        ),
        Figure(
            f"normal-space HVP (DagNet engine), {tag}",
            t_hvp,
            "s",
            "torch.func HVP of the nn.Module",
            t_peer_hvp,
            hvp_gflops / FP64_GFLOPS,
            "about 2× expected: the projection is extra",
        ),
        Figure(
            f"clone blocks (tolerance ladder), {tag}",
            t_clones,
            "s",
            "scipy single linkage of weight rows",
            t_peer_clones,
            None,
            "same order as one clustering",
        ),
        Figure(
            f"frozen-unit fractions, {tag}",
            t_frozen,
            "s",
            "forward hooks on the module",
            t_peer_frozen,
            None,
            "a few forwards",
        ),
        Figure(
            f"from_module trace, {tag}",
            t_trace,
            "s",
            "torch.fx.symbolic_trace alone",
            t_fx,
            None,
            "well under the curvature step",
        ),
    ]
    return figures, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="models of at most ~9k parameters")
    parser.add_argument("--json", action="store_true", help="print the figures as a JSON list only")
    args = parser.parse_args()
    widths, batch, repeats = ([8, 16], 64, 3) if args.quick else ([112, 224, 448], 256, 5)
    rows, figures, info = [], [], {}
    for width in widths:
        figures, info = measure(width, batch, repeats)
        rows.append(
            [
                info["parameters"],
                info["diagnose_s"],
                info["hvps"],
                info["blocks"],
                info["classification"],
                str(info["certified"]),
                f"{info['relative_distance']:.2g}",
            ]
        )
    if args.json:
        json.dump([{**f.__dict__, "ratio": f.ratio} for f in figures], sys.stdout, indent=1)
        print()
        return
    print_figures(figures)
    print_table(
        "diagnose vs model size (2 hidden layers of 2·width tanh units, cloned ×2, noise 1e-9)",
        ["parameters", "diagnose s", "HVPs", "blocks", "class", "certified", "‖θ−P_Cθ‖/‖θ‖"],
        rows,
    )
    print(f"\nlargest model: clone tol {info['tol']:.3g}, exact={info['exact']}, blocks {info['blocks']}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()

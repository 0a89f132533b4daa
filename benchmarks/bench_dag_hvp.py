"""Cost of a Hessian-vector product relative to a gradient, for DagNets of growing size.

Both HVP modes of dag_nets.stability.hvp_function (double backward; forward-over-reverse via torch.func)
are timed against one gradient evaluation (forward + backward) on cloned MLP-shaped DagNets, and checked
against each other. The textbook expectation is a small constant (≈2–5×).

    python benchmarks/bench_dag_hvp.py
"""

from __future__ import annotations

import statistics
import time

import torch

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp, teacher_batch
from dag_nets.graph import loss_of_theta
from dag_nets.stability import hvp_function

REPEATS = 5
SIZES = ((16, [32, 32], 4, 2), (32, [64, 64], 4, 4), (32, [128, 128], 4, 4))


def median_time(fn) -> float:
    fn()
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    print(f"{'params':>9} {'grad s':>9} {'HVP (2×bwd) s':>14} {'ratio':>6} {'HVP (fwd/rev) s':>16} {'ratio':>6}  agreement")
    for n_in, widths, n_out, factor in SIZES:
        base = mlp(n_in, widths, n_out, seed=0)
        net, _ = clone_network(base, {v: factor for v in base.bias_nodes if v not in base.outputs})
        x, y = teacher_batch(n_in, n_out, 64, seed=0)
        theta = net.flat_parameters()
        f = loss_of_theta(net, x, y)

        def grad() -> torch.Tensor:
            leaf = theta.clone().requires_grad_(True)
            return torch.autograd.grad(f(leaf), leaf)[0]

        v = torch.randn_like(theta)
        # The double-backward HVP's gradient graph is rebuilt per call here, so the ratio is honest.
        t_grad = median_time(grad)
        t_db = median_time(lambda: hvp_function(net, x, y, theta, mode="double-backward")(v))
        t_fr = median_time(lambda: hvp_function(net, x, y, theta, mode="forward-over-reverse")(v))
        a = hvp_function(net, x, y, theta, mode="double-backward")(v)
        b = hvp_function(net, x, y, theta, mode="forward-over-reverse")(v)
        agree = float((a - b).abs().max() / a.abs().max())
        print(f"{net.num_parameters:>9} {t_grad:>9.4f} {t_db:>14.4f} {t_db / t_grad:>6.2f} {t_fr:>16.4f} {t_fr / t_grad:>6.2f}  {agree:.1e}")


if __name__ == "__main__":
    main()

"""One Hessian-vector product of a cloned MLP-shaped DagNet with 1,087,492 parameters (the network of
bench_dag_lanczos.py: base 32 → [256, 256] → 4, tanh, every hidden unit cloned ×4 with equitable noise,
batch 16, float64, mean squared error).

Figure: the HVP through ``net.functional`` on the fast engine, both ways a caller computes one —
forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``) and double backward (``torch.autograd.grad``
of the gradient, graph built per call). Peers in the same run: torch.func's jvp-of-grad HVP of the
nn.Linear MLP with the same weights (goal: within 5×) and the reference engine (issue 12's "now").
The results are compared across engines and with the nn.Linear twin. Table: cost against size.

    python benchmarks/bench_dag_engine_hvp.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse

import torch
from common import Figure, emit, gflops_limit, median_time, parse_args, print_table

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp, teacher_batch
from dag_nets.graph import DagNet, loss_of_theta

FULL = {"width": 256, "sizes": (64, 128)}
QUICK = {"width": 64, "sizes": (16, 32)}
N_IN, N_OUT, FACTOR, BATCH = 32, 4, 4, 16


def cloned_mlp(width: int, seed: int = 0) -> tuple[DagNet, torch.Tensor, torch.Tensor]:
    base = mlp(N_IN, [width, width], N_OUT, activation="tanh", seed=seed)
    net, _ = clone_network(
        base,
        {v: FACTOR for v in base.bias_nodes if v not in base.outputs},
        mode="equitable",
        generator=torch.Generator().manual_seed(seed),
        scale=0.1,
    )
    x, y = teacher_batch(N_IN, N_OUT, BATCH, seed=seed)
    return net, x, y


class Twin:
    """The nn.Linear MLP with a layered DagNet's weights, and the maps between θ and its parameters."""

    def __init__(self, net: DagNet) -> None:
        plan = net.propagation_plan()
        self.blocks = plan.blocks
        self.n_in, self.E = len(net.inputs), net.num_edges
        layers: list[torch.nn.Module] = []
        for i, b in enumerate(self.blocks):
            assert b.edge_range is not None, "a layered graph's blocks are views of θ"
            layers.append(torch.nn.Linear(b.shape[1], b.shape[0], dtype=net.edge_weight.dtype))
            if i < len(self.blocks) - 1:
                layers.append(torch.nn.Tanh())
        self.model = torch.nn.Sequential(*layers)
        self.names = [n for n, _ in self.model.named_parameters()]

    def params(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        out, k = {}, 0
        for b in self.blocks:
            (e0, e1), (r0, r1) = b.edge_range, b.rows  # type: ignore[misc]
            out[self.names[k]] = theta[e0:e1].view(b.shape)
            out[self.names[k + 1]] = theta[self.E + r0 - self.n_in : self.E + r1 - self.n_in]
            k += 2
        return out

    def theta(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        w = torch.cat([params[self.names[2 * i]].reshape(-1) for i in range(len(self.blocks))])
        b = torch.cat([params[self.names[2 * i + 1]] for i in range(len(self.blocks))])
        return torch.cat([w, b])


def hvps(net: DagNet, x: torch.Tensor, y: torch.Tensor):
    theta = net.flat_parameters()
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(1), dtype=theta.dtype)
    f = loss_of_theta(net, x, y)

    def forward_over_reverse():
        return torch.func.jvp(torch.func.grad(f), (theta,), (v,))[1]

    def double_backward():
        leaf = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(leaf), leaf, create_graph=True)
        return torch.autograd.grad(g, leaf, v)[0]

    kept = theta.clone().requires_grad_(True)
    (g_kept,) = torch.autograd.grad(f(kept), kept, create_graph=True)

    def double_backward_kept_graph():
        return torch.autograd.grad(g_kept, kept, v, retain_graph=True)[0]

    def gradient():
        return torch.func.grad(f)(theta)

    twin = Twin(net)

    def twin_loss(p):
        return ((torch.func.functional_call(twin.model, p, (x,)) - y) ** 2).mean()

    p0, pv = twin.params(theta), twin.params(v)

    def twin_hvp():
        return torch.func.jvp(torch.func.grad(twin_loss), (p0,), (pv,))[1]

    def twin_grad():
        return torch.func.grad(twin_loss)(p0)

    return (
        forward_over_reverse,
        double_backward,
        double_backward_kept_graph,
        gradient,
        twin_hvp,
        twin_grad,
        twin,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    args = parse_args(p)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = QUICK if args.quick else FULL
    net, x, y = cloned_mlp(cfg["width"])
    P = net.num_parameters
    print(
        f"cloned MLP: {P:,} parameters, {net.num_nodes} nodes, batch {BATCH}, float64, "
        f"{torch.get_num_threads()} threads; "
        f"plan {net.propagation_plan().summary()}"
    )
    fr, db, dbk, grad, twin_hvp, twin_grad, twin = hvps(net, x, y)
    t_fr, t_db, t_dbk, t_grad = median_time(fr), median_time(db), median_time(dbk), median_time(grad)
    t_twin, t_twin_grad = median_time(twin_hvp), median_time(twin_grad)
    a, b = fr(), db()
    c = twin.theta(twin_hvp())
    net.engine = "reference"
    fr_ref, *_ = hvps(net, x, y)
    t_ref = median_time(fr_ref, repeats=3)
    r = fr_ref()
    net.engine = "auto"

    def rel(u, w):
        return float((u - w).abs().max() / w.abs().max())

    print(
        f"agreement: fwd-over-rev vs double backward {rel(a, b):.1e}, vs the nn.Linear twin {rel(a, c):.1e}, "
        f"vs the reference engine {rel(a, r):.1e}"
    )
    # ≈ 10 weight-matrix passes per HVP (2 forward, 4 backward, 4 tangent)
    flops = 10.0 * 2 * net.num_edges * BATCH
    limit = gflops_limit("float64") * 1e9
    emit(
        [
            Figure(
                "HVP, fast engine, jvp of grad",
                1e3 * t_fr,
                "ms",
                "torch.func HVP, nn.Linear twin",
                1e3 * t_twin,
                flops / t_fr / limit,
                "ratio ≤ 5",
            ),
            Figure(
                "HVP, fast engine, double backward",
                1e3 * t_db,
                "ms",
                "torch.func HVP, nn.Linear twin",
                1e3 * t_twin,
                flops / t_db / limit,
                "ratio ≤ 5",
            ),
            Figure(
                "HVP, fast engine, double bwd, graph kept",
                1e3 * t_dbk,
                "ms",
                "torch.func HVP, nn.Linear twin",
                1e3 * t_twin,
                flops / t_dbk / limit,
                "ratio ≤ 5",
            ),
            Figure(
                "HVP, fast engine, jvp of grad",
                1e3 * t_fr,
                "ms",
                "reference engine, jvp of grad",
                1e3 * t_ref,
            ),
            Figure(
                "gradient, fast engine",
                1e3 * t_grad,
                "ms",
                "torch.func grad, nn.Linear twin",
                1e3 * t_twin_grad,
            ),
        ],
        args.json,
    )
    rows = []
    for width in (*cfg["sizes"], cfg["width"]):
        g_net, gx, gy = (net, x, y) if width == cfg["width"] else cloned_mlp(width)
        g_fr, g_db, g_dbk, g_grad, g_twin, _, _ = hvps(g_net, gx, gy)
        tf, td, tk, tg, tt = (median_time(fn, repeats=3) for fn in (g_fr, g_db, g_dbk, g_grad, g_twin))
        rows.append(
            [
                g_net.num_parameters,
                1e3 * tg,
                1e3 * tf,
                1e3 * td,
                1e3 * tk,
                1e3 * tt,
                tf / tt,
                td / tt,
                tk / tt,
                tk / tg,
            ]
        )
    print_table(
        "against size (ms; ratios to the nn.Linear twin's HVP; kept = gradient graph built once, as "
        "stability.hvp_function does)",
        [
            "parameters",
            "grad",
            "HVP jvp∘grad",
            "HVP double bwd",
            "HVP kept graph",
            "nn.Linear HVP",
            "ratio jvp∘grad",
            "ratio double bwd",
            "ratio kept",
            "kept / grad",
        ],
        rows,
    )


if __name__ == "__main__":
    main()

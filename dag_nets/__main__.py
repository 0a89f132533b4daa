"""``python -m dag_nets stability [options]`` — normal-space stability along training (Appendix A.5).

Trains a small base MLP-shaped DagNet on a teacher task (a fixed random teacher network of the same
input/output size), and at checkpoints clones the current base network (every hidden unit ×
``--clone``, equitable redistribution), then prints the inertia and spectrum extremes of the Hessian
restricted to the normal spaces N_C and N_D (Definition A.2). With ``--out DIR`` it writes
``stability.png`` (matplotlib Agg) and ``stability.csv``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import torch

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp
from dag_nets.graph import get_loss
from dag_nets.stability import METHODS, normal_stability


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m dag_nets", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("stability", help="normal-space inertia of a cloned network along training")
    s.add_argument("--inputs", type=int, default=3)
    s.add_argument("--widths", type=int, nargs="+", default=[4, 4], help="hidden widths of the base network")
    s.add_argument("--activation", default="tanh")
    s.add_argument("--clone", type=int, default=2, help="copies of every hidden unit")
    s.add_argument("--steps", type=int, default=300)
    s.add_argument("--checkpoints", type=int, default=4, help="number of evaluation points (incl. step 0)")
    s.add_argument("--lr", type=float, default=0.1)
    s.add_argument("--samples", type=int, default=64)
    s.add_argument("--method", choices=METHODS, default="dense")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, default=None, help="directory for stability.png and stability.csv")
    return p.parse_args(argv)


def stability_command(args: argparse.Namespace) -> int:
    if args.clone < 1 or args.steps < 0 or args.checkpoints < 1:
        print("error: --clone ≥ 1, --steps ≥ 0 and --checkpoints ≥ 1 are required", file=sys.stderr)
        return 2
    gen = torch.Generator().manual_seed(args.seed)
    teacher = mlp(args.inputs, [2 * w for w in args.widths], 1, args.activation, seed=args.seed + 1000, gain=2.0)
    student = mlp(args.inputs, args.widths, 1, args.activation, seed=args.seed)
    x = torch.randn(args.samples, args.inputs, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y = teacher(x)
    loss_fn = get_loss("mse")
    opt = torch.optim.SGD(student.parameters(), lr=args.lr)
    marks = sorted({round(i * args.steps / max(args.checkpoints - 1, 1)) for i in range(args.checkpoints)})
    sizes = {v: args.clone for v in student.bias_nodes if v not in student.outputs}
    rows = []
    print(f"{'step':>6} {'loss':>10} {'space':>5} {'dim':>5} {'(+,−,0)':>14} {'class':>10}  λ_min … λ_max")
    for step in range(args.steps + 1):
        if step in marks:
            cloned, part = clone_network(student, sizes, mode="equitable", generator=gen, scale=0.3)
            with torch.no_grad():
                loss = float(loss_fn(student(x), y))
            for space in ("C", "D"):
                res = normal_stability(cloned, part, x, y, space=space, method=args.method)
                ev = res.eigenvalues
                print(
                    f"{step:>6} {loss:>10.4g} {space:>5} {res.normal_dimension:>5} {str(res.inertia):>14} "
                    f"{res.classification:>10}  {ev.min():.4g} … {ev.max():.4g}"
                )
                rows.append((step, loss, space, res.normal_dimension, *res.inertia, res.classification, ev.min(), ev.max()))
        if step < args.steps:
            opt.zero_grad()
            loss_fn(student(x), y).backward()
            opt.step()
    if args.out is not None:
        _write(args.out, rows)
    return 0


def _write(out: Path, rows: list[tuple]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "stability.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "loss", "space", "normal_dim", "positive", "negative", "zero", "class", "lambda_min", "lambda_max"])
        w.writerows(rows)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for space, style in (("C", "-o"), ("D", "--s")):
        sel = [r for r in rows if r[2] == space]
        steps = [r[0] for r in sel]
        axes[0].plot(steps, [r[8] for r in sel], style, label=f"λ_min on N_{space}")
        axes[0].plot(steps, [r[9] for r in sel], style, label=f"λ_max on N_{space}")
        axes[1].plot(steps, [r[5] for r in sel], style, label=f"# negative on N_{space}")
        axes[1].plot(steps, [r[6] for r in sel], style, label=f"# zero on N_{space}")
    axes[0].set_xlabel("training step of the base network")
    axes[0].set_ylabel("restricted Hessian eigenvalue")
    axes[0].axhline(0.0, color="k", lw=0.5)
    axes[1].set_xlabel("training step of the base network")
    axes[1].set_ylabel("count")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle("Normal-space stability of the cloning manifold (Definition A.2)")
    fig.tight_layout()
    fig.savefig(out / "stability.png", dpi=120)
    plt.close(fig)
    print(f"wrote {out / 'stability.png'} and {out / 'stability.csv'}")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.command == "stability":
        return stability_command(args)
    return 2  # argparse enforces a known command


if __name__ == "__main__":
    sys.exit(main())

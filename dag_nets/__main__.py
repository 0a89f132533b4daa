"""``python -m dag_nets stability [options]`` — normal-space stability along training (Appendix A.5);
``python -m dag_nets diagnose CHECKPOINT --model MODULE:FACTORY --data FILE`` — frozen units, clone blocks
and their stability for a torch model of one's own (:mod:`dag_nets.diagnose_cli`).

Trains a small base MLP-shaped DagNet on a teacher task (a fixed random teacher network of the same
input/output size), and at checkpoints clones the current base network (every hidden unit ×
``--clone``, equitable redistribution), then prints the inertia and spectrum extremes of the Hessian
restricted to the normal spaces N_C and N_D (Definition A.2). With ``--out DIR`` it writes
``stability.png`` (matplotlib Agg) and ``stability.csv``, never over an earlier run's files.

Every argument is checked before any work: a bad one ends with exit status 2 and one line naming the
problem and the valid choices (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from pathlib import Path
from typing import NoReturn

import torch

from dag_nets.base_network import clone_network
from dag_nets.builders import mlp
from dag_nets.diagnose_cli import InputError, add_parser, diagnose_command
from dag_nets.graph import get_loss
from dag_nets.manifolds import manifold
from dag_nets.stability import METHODS, normal_stability
from theory.activations import get_activation

SEED_MAX = 2**32 - 1
DENSE_MAX_PARAMETERS = 4_000
"""``--method dense`` forms the P×P Hessian: above this many parameters use ``--method lanczos``."""
TEACHER_SEED_OFFSET = 1000
OUTPUT_FILES = ("stability.png", "stability.csv")
EXIT_BAD_ARGUMENT = 2
EXIT_FAILED = 1


class CliError(Exception):
    """A bad argument: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block), so every bad argument ends the same way."""

    def error(self, message: str) -> NoReturn:
        raise CliError(message)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog="python -m dag_nets", description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("stability", help="normal-space inertia of a cloned network along training")
    s.add_argument("--inputs", type=int, default=3)
    s.add_argument("--widths", type=int, nargs="+", default=[4, 4], help="hidden widths of the base network")
    s.add_argument("--activation", default="tanh")
    s.add_argument("--clone", type=int, default=2, help="copies of every hidden unit (≥ 2)")
    s.add_argument("--steps", type=int, default=300)
    s.add_argument("--checkpoints", type=int, default=4, help="number of evaluation points (incl. step 0)")
    s.add_argument("--lr", type=float, default=0.1)
    s.add_argument("--samples", type=int, default=64)
    s.add_argument("--method", choices=METHODS, default="dense")
    s.add_argument("--k", type=int, default=None, help="extremes per end for --method lanczos (default 3)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, default=None, help="new or empty directory for stability.png and .csv")
    s.add_argument("--debug", action="store_true", help="show a traceback on errors")
    add_parser(sub)
    return p.parse_args(argv)


def _check(args: argparse.Namespace) -> None:
    """Every argument in range and the output directory writable without overwriting, before any work."""

    def at_least(name: str, value: int, low: int, why: str = "") -> None:
        if value < low:
            raise CliError(f"argument --{name}: must be ≥ {low}{why}, got {value}")

    at_least("inputs", args.inputs, 1)
    if min(args.widths) < 1:
        raise CliError(f"argument --widths: every hidden width must be ≥ 1, got {args.widths}")
    at_least("clone", args.clone, 2, " (copies of every hidden unit; 1 would clone nothing, so N_C = {0})")
    at_least("steps", args.steps, 0)
    at_least("samples", args.samples, 1)
    if not 1 <= args.checkpoints <= args.steps + 1:
        raise CliError(
            f"argument --checkpoints: must be in [1, steps + 1 = {args.steps + 1}], got {args.checkpoints}"
        )
    if not 0 <= args.seed <= SEED_MAX:
        raise CliError(f"argument --seed: must be an integer in [0, {SEED_MAX}], got {args.seed}")
    if not (args.lr > 0 and args.lr < float("inf")):
        raise CliError(f"argument --lr: must be a finite number > 0, got {args.lr}")
    try:
        get_activation(args.activation)
    except (ValueError, TypeError) as err:
        raise CliError(f"argument --activation: {err}") from None
    if args.method == "dense" and args.k is not None:
        raise CliError("argument --k: only --method lanczos uses it (dense returns every eigenvalue)")
    if args.k is not None:
        at_least("k", args.k, 1)
    dims = [args.inputs] + [args.clone * w for w in args.widths] + [1]
    params = sum(a * b for a, b in itertools.pairwise(dims)) + sum(dims[1:])
    if args.method == "dense" and params > DENSE_MAX_PARAMETERS:
        raise CliError(
            f"the cloned network has {params} parameters; --method dense forms the {params}×{params} "
            f"Hessian and allows at most {DENSE_MAX_PARAMETERS}: use --method lanczos or smaller --widths"
        )
    if args.method == "lanczos":
        student = mlp(args.inputs, args.widths, 1, args.activation, seed=args.seed)
        _, part = clone_network(
            student, {v: args.clone for v in student.bias_nodes if v not in student.outputs}
        )
        dim = manifold("C", part).normal_dimension()
        k = 3 if args.k is None else args.k
        if 2 * k >= dim:
            raise CliError(
                f"argument --k: Lanczos needs 2k < dim N_C = {dim}, got k = {k}; lower --k or use "
                "--method dense"
            )
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise CliError(f"argument --out: {args.out} exists and is not a directory")
        taken = [name for name in OUTPUT_FILES if (args.out / name).exists()]
        if taken:
            raise CliError(
                f"argument --out: {args.out} already holds {', '.join(taken)} from an earlier run; "
                "choose a new directory (runs never overwrite earlier results)"
            )


def stability_command(args: argparse.Namespace) -> int:
    _check(args)
    k = 3 if args.k is None else args.k
    gen = torch.Generator().manual_seed(args.seed)
    teacher = mlp(
        args.inputs,
        [2 * w for w in args.widths],
        1,
        args.activation,
        seed=args.seed + TEACHER_SEED_OFFSET,
        gain=2.0,
    )
    student = mlp(args.inputs, args.widths, 1, args.activation, seed=args.seed)
    x = torch.randn(args.samples, args.inputs, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y = teacher(x)
    loss_fn = get_loss("mse")
    opt = torch.optim.SGD(student.parameters(), lr=args.lr)
    last = max(args.checkpoints - 1, 1)
    marks = {i * args.steps // last for i in range(args.checkpoints)}
    sizes = {v: args.clone for v in student.bias_nodes if v not in student.outputs}
    rows = []
    print(f"{'step':>6} {'loss':>10} {'space':>5} {'dim':>5} {'(+,−,0)':>14} {'class':>10}  λ_min … λ_max")
    for step in range(args.steps + 1):
        if step in marks:
            cloned, part = clone_network(student, sizes, mode="equitable", generator=gen, scale=0.3)
            with torch.no_grad():
                loss = float(loss_fn(student(x), y))
            if not torch.isfinite(torch.tensor(loss)):
                raise RuntimeError(f"training diverged at step {step} (loss {loss}); lower --lr")
            for space in ("C", "D"):
                res = normal_stability(cloned, part, x, y, space=space, method=args.method, k=k)
                ev = res.eigenvalues
                note = "" if res.certified else "  (not certified)"
                print(
                    f"{step:>6} {loss:>10.4g} {space:>5} {res.normal_dimension:>5} {res.inertia!s:>14} "
                    f"{res.classification:>10}  {ev.min():.4g} … {ev.max():.4g}{note}"
                )
                rows.append(
                    (
                        step,
                        loss,
                        space,
                        res.normal_dimension,
                        *res.inertia,
                        res.classification,
                        ev.min(),
                        ev.max(),
                        res.certified,
                    )
                )
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
    with open(out / "stability.csv", "x", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "step",
                "loss",
                "space",
                "normal_dim",
                "positive",
                "negative",
                "zero",
                "class",
                "lambda_min",
                "lambda_max",
                "certified",
            ]
        )
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
    with open(out / "stability.png", "xb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    print(f"wrote {out / 'stability.png'} and {out / 'stability.csv'}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = _parse(argv)
        if args.command == "stability":
            return stability_command(args)
        if args.command == "diagnose":
            return diagnose_command(args)
        raise CliError(f"unknown command {args.command!r}; valid: stability, diagnose")
    except (CliError, InputError) as err:
        if debug:
            raise
        print(f"python -m dag_nets: error: {err}", file=sys.stderr)
        return EXIT_BAD_ARGUMENT
    except (ValueError, TypeError, RuntimeError, OSError) as err:
        if debug:
            raise
        print(f"python -m dag_nets: error: {err}", file=sys.stderr)
        return EXIT_BAD_ARGUMENT if isinstance(err, (ValueError, TypeError)) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

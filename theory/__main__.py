"""``python -m theory``: kernel quantities of an activation from the command line (Section 3, App. A.1–A.2).

    python -m theory describe ACTIVATION [--scale A] [--shift B] [--eps E] [--json]
    python -m theory kernel ACTIVATION R [R ...] [--json]
    python -m theory table [--json]
    python -m theory accuracy [--json]
    python -m theory plot --out DIR [--quick]

Bad input (unknown activation, r outside [−1, 1] or not finite, eps ≤ 0, scale 0) prints a message naming
the problem and the valid choices and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from theory.activations import get_activation, registered_names
from theory.frozen import DEFAULT_EPSILON, frozen_probability
from theory.hermite import hermite_coefficients
from theory.kernels import alpha, gamma_from_alpha, kernel

LEADING_COEFFICIENTS = 8
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: usage + message, status 2
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    names = ", ".join(registered_names())
    p = _Parser(prog="python -m theory", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    d = sub.add_parser("describe", help="α, γ, frozen probability and Hermite coefficients of φ(A·z + B)")
    d.add_argument("activation", help=f"one of: {names} (parameterized: leaky_relu:S, elu:A, softplus:B)")
    d.add_argument("--scale", type=float, default=1.0, help="A in ψ(z) = φ(A·z + B), non-zero (default 1)")
    d.add_argument("--shift", type=float, default=0.0, help="B in ψ(z) = φ(A·z + B) (default 0)")
    d.add_argument("--eps", type=float, default=DEFAULT_EPSILON, help="ε of P(|ψ'| < ε), > 0 (default 0.01)")
    d.add_argument("--json", action="store_true")
    k = sub.add_parser("kernel", help="K_φ(R) for one or more correlations R in [−1, 1]")
    k.add_argument("activation", help=f"one of: {names}")
    k.add_argument("r", type=float, nargs="+", metavar="R")
    k.add_argument("--json", action="store_true")
    t = sub.add_parser("table", help="α, γ, K(0.5), K(−1) for every registered activation")
    t.add_argument("--json", action="store_true")
    acc = sub.add_parser("accuracy", help="measured disagreement between the independent methods, per activation")
    acc.add_argument("--json", action="store_true")
    pl = sub.add_parser("plot", help="Figures A.1–A.3 as PNG files")
    pl.add_argument("--out", required=True, help="output directory")
    pl.add_argument("--quick", action="store_true", help="coarse grids (seconds instead of ~30 s)")
    return p


def _describe(args: argparse.Namespace) -> dict:
    act = get_activation(args.activation).modulated(args.scale, args.shift)
    a = alpha(act)
    return {
        "activation": act.name,
        "scale": args.scale,
        "shift": args.shift,
        "eps": args.eps,
        "alpha": a,
        "gamma": gamma_from_alpha(a),
        "frozen_probability": frozen_probability(act, args.eps),
        "hermite": [float(c) for c in hermite_coefficients(act, LEADING_COEFFICIENTS - 1)],
    }


def _check_r(values: list[float]) -> None:
    for r in values:
        if not math.isfinite(r) or abs(r) > 1.0:
            raise ValueError(f"correlation R = {r!r} is invalid; valid choices: finite numbers in [-1, 1]")


def _table() -> list[dict]:
    rows = []
    for name in registered_names():
        act = get_activation(name)
        a = alpha(act)
        k_half, k_minus = kernel(act, np.array([0.5, -1.0]))
        rows.append({"activation": act.name, "alpha": a, "gamma": gamma_from_alpha(a), "K(0.5)": float(k_half),
                     "K(-1)": float(k_minus)})
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "describe":
            if not math.isfinite(args.eps) or args.eps <= 0:
                raise ValueError(f"--eps {args.eps!r} is invalid; valid choices: a finite number > 0")
            if not math.isfinite(args.scale) or args.scale == 0:
                raise ValueError(f"--scale {args.scale!r} is invalid; valid choices: a finite non-zero number")
            out = _describe(args)
            if args.json:
                print(json.dumps(out))
            else:
                print(f"{out['activation']}  (ψ(z) = φ({args.scale:g}·z + {args.shift:g}))")
                print(f"  alpha = K'(0)            {out['alpha']:.15g}")
                print(f"  gamma = (1-α)/(1+α)      {out['gamma']:.15g}")
                print(f"  P(|ψ'(Z)| < {args.eps:g})    {out['frozen_probability']:.15g}")
                print("  Hermite a_0..a_7         " + " ".join(f"{c:.6g}" for c in out["hermite"]))
        elif args.command == "kernel":
            act = get_activation(args.activation)
            _check_r(args.r)
            values = kernel(act, np.array(args.r))
            rows = [{"r": float(r), "K": float(v)} for r, v in zip(args.r, values)]
            if args.json:
                print(json.dumps({"activation": act.name, "kernel": rows}))
            else:
                for row in rows:
                    print(f"K_{act.name}({row['r']:g}) = {row['K']:.15g}")
        elif args.command == "table":
            rows = _table()
            if args.json:
                print(json.dumps(rows))
            else:
                print(f"{'activation':16s} {'alpha':>10s} {'gamma':>10s} {'K(0.5)':>10s} {'K(-1)':>10s}")
                for row in rows:
                    print(f"{row['activation']:16s} {row['alpha']:10.6f} {row['gamma']:10.6f} "
                          f"{row['K(0.5)']:10.6f} {row['K(-1)']:10.6f}")
        elif args.command == "accuracy":
            from theory.accuracy import method_disagreements

            rows = [method_disagreements(name) for name in registered_names()]
            if args.json:
                print(json.dumps(rows))
            else:
                print("| activation | α | γ | α: Hermite vs Stein | γ: Hermite vs Stein | K: series vs direct "
                      "| K vs closed | P(frozen) | P: roots vs ref. |")
                print("|---|---|---|---|---|---|---|---|---|")
                for row in rows:
                    kc = "–" if row["kernel_vs_closed"] is None else f"{row['kernel_vs_closed']:.1e}"
                    print(f"| {row['activation']} | {row['alpha']:.10f} | {row['gamma']:.10f} | "
                          f"{row['alpha_hermite_vs_stein']:.1e} | {row['gamma_hermite_vs_stein']:.1e} | "
                          f"{row['kernel_series_vs_direct']:.1e} | {kc} | {row['frozen_probability']:.6g} | "
                          f"{row['frozen_roots_vs_reference']:.1e} ({row['frozen_reference']}) |")
        else:
            from theory.plots import draw_all

            for path in draw_all(args.out, quick=args.quick):
                print(path)
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())

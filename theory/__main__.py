"""``python -m theory``: kernel quantities of an activation from the command line (Section 3, App. A.1–A.2).

    python -m theory describe ACTIVATION [--scale A] [--shift B] [--eps E] [--json]
    python -m theory kernel ACTIVATION R [R ...] [--json]
    python -m theory table [--json]
    python -m theory accuracy [--json]
    python -m theory plot --out DIR [--quick]

Bad input (unknown activation or malformed ``name:param``, r outside [−1, 1] or not finite, eps ≤ 0, a zero,
subnormal or non-finite scale, an option given twice, an output directory that already holds figures)
prints one line naming the problem and the valid choices and exits with status 2; so does an activation that
is constant to float64 precision, or that overflows it, at the given scale and shift.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, NoReturn

import numpy as np

from theory.activations import get_activation, registered_names
from theory.frozen import DEFAULT_EPSILON, frozen_probability
from theory.hermite import hermite_coefficients
from theory.kernels import alpha, gamma_from_alpha, kernel

LEADING_COEFFICIENTS = 8
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own errors: one line, status 2
        print(
            f"error: {message} (see python -m {self.prog.removeprefix('python -m ')} --help)", file=sys.stderr
        )
        sys.exit(EXIT_BAD_INPUT)


class _Once(argparse.Action):
    """An option that may be given once: argparse would silently keep the last of ``--scale 2 --scale 3``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, f"_seen_{self.dest}", False):
            parser.error(f"{option_string} given twice; give it once")
        setattr(namespace, f"_seen_{self.dest}", True)
        setattr(namespace, self.dest, True if self.nargs == 0 else values)


def _flag(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    parser.add_argument(name, action=_Once, nargs=0, default=False, help=help_text)


def _parser() -> argparse.ArgumentParser:
    names = ", ".join(registered_names())
    p = _Parser(prog="python -m theory", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    d = sub.add_parser("describe", help="α, γ, frozen probability and Hermite coefficients of φ(A·z + B)")
    d.add_argument("activation", help=f"one of: {names} (parameterized: leaky_relu:S, elu:A, softplus:B)")
    d.add_argument(
        "--scale",
        type=float,
        default=1.0,
        action=_Once,
        help="A in ψ(z) = φ(A·z + B), finite and non-zero (default 1)",
    )
    d.add_argument(
        "--shift", type=float, default=0.0, action=_Once, help="B in ψ(z) = φ(A·z + B) (default 0)"
    )
    d.add_argument(
        "--eps",
        type=float,
        default=DEFAULT_EPSILON,
        action=_Once,
        help="ε of P(|ψ'| < ε), > 0 (default 0.01)",
    )
    _flag(d, "--json", "print one JSON object")
    k = sub.add_parser("kernel", help="K_φ(R) for one or more correlations R in [−1, 1]")
    k.add_argument("activation", help=f"one of: {names}")
    k.add_argument("r", type=float, nargs="+", metavar="R")
    _flag(k, "--json", "print one JSON object")
    t = sub.add_parser("table", help="α, γ, K(0.5), K(−1) for every registered activation")
    _flag(t, "--json", "print one JSON list")
    acc = sub.add_parser(
        "accuracy", help="measured disagreement between the independent methods, per activation"
    )
    _flag(acc, "--json", "print one JSON list")
    pl = sub.add_parser("plot", help="Figures A.1–A.3 as PNG files")
    pl.add_argument(
        "--out", required=True, action=_Once, help="output directory (existing figures are never overwritten)"
    )
    _flag(pl, "--quick", "coarse grids (seconds instead of ~30 s)")
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
        rows.append(
            {
                "activation": act.name,
                "alpha": a,
                "gamma": gamma_from_alpha(a),
                "K(0.5)": float(k_half),
                "K(-1)": float(k_minus),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "describe":
            if not math.isfinite(args.eps) or args.eps <= 0:
                raise ValueError(f"--eps {args.eps!r} is invalid; valid choices: a finite number > 0")
            if not math.isfinite(args.scale) or abs(args.scale) < sys.float_info.min:
                raise ValueError(
                    f"--scale {args.scale!r} is invalid; valid choices: a finite number with |A| ≥ "
                    f"{sys.float_info.min:.3g}"
                )
            if not math.isfinite(args.shift):
                raise ValueError(f"--shift {args.shift!r} is invalid; valid choices: a finite number")
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
                    print(
                        f"{row['activation']:16s} {row['alpha']:10.6f} {row['gamma']:10.6f} "
                        f"{row['K(0.5)']:10.6f} {row['K(-1)']:10.6f}"
                    )
        elif args.command == "accuracy":
            from theory.accuracy import method_disagreements

            accuracy_rows = [method_disagreements(name) for name in registered_names()]
            if args.json:
                print(json.dumps(accuracy_rows))
            else:
                print(
                    "| activation | α | γ | α: Hermite vs Stein | γ: Hermite vs Stein | K: series vs direct "
                    "| K vs closed | P(frozen) | P: roots vs ref. |"
                )
                print("|---|---|---|---|---|---|---|---|---|")
                for acc in accuracy_rows:
                    kc = "–" if acc["kernel_vs_closed"] is None else f"{acc['kernel_vs_closed']:.1e}"
                    print(
                        f"| {acc['activation']} | {acc['alpha']:.10f} | {acc['gamma']:.10f} | "
                        f"{acc['alpha_hermite_vs_stein']:.1e} | {acc['gamma_hermite_vs_stein']:.1e} | "
                        f"{acc['kernel_series_vs_direct']:.1e} | {kc} | {acc['frozen_probability']:.6g} | "
                        f"{acc['frozen_roots_vs_reference']:.1e} ({acc['frozen_reference']}) |"
                    )
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

"""``python -m proofs_check [--quick | --thorough] [--only ID|PATTERN] [--seed N] [--json | --list]
[--report FILE [--force]] [--readme-section] [-v]``.

Runs every registered claim check and prints a table (or JSON). Exit status 0 only when every check ends
as expected: ``holds`` where the paper is right, ``refuted`` (with a printed counterexample) where it is
not, ``imprecise`` (each reading's outcome printed) where the sentence is hedged or ambiguous; 2 for bad
arguments (one line on stderr, no traceback). ``--only`` with an exact check id runs that check alone.
``--report FILE`` also writes the Markdown errata (:mod:`proofs_check.errata`); it never overwrites an
existing FILE unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import NoReturn

from proofs_check.errata import render_readme_section, render_report
from proofs_check.registry import SEED_MAX, Context, Result, all_checks, run_check, select

_COLUMNS = (
    ("id", 44),
    ("location", 30),
    ("claim", 44),
    ("method", 14),
    ("status", 11),
    ("margin", 10),
    ("s", 6),
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {SEED_MAX}], got {text!r}")
    return value


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog="python -m proofs_check", description=__doc__.splitlines()[0])
    level = p.add_mutually_exclusive_group()
    level.add_argument(
        "--quick", action="store_true", help="every registered check at quick effort (default)"
    )
    level.add_argument("--thorough", action="store_true", help="larger searches and property-test budgets")
    p.add_argument(
        "--only",
        metavar="ID|PATTERN",
        help="run the check with this exact id alone, else the checks whose id contains PATTERN (or "
        "matches it as a regular expression)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON instead of the table")
    out.add_argument("--list", action="store_true", help="list the selected checks without running them")
    p.add_argument(
        "--seed", type=_seed, default=0, help=f"seed for randomized searches, 0 … {SEED_MAX} (default 0)"
    )
    p.add_argument("--verbose", "-v", action="store_true", help="print every check's detail under the table")
    p.add_argument(
        "--report",
        metavar="FILE",
        type=Path,
        help="also write the Markdown errata report (paper claims that do not hold) to FILE",
    )
    p.add_argument("--force", action="store_true", help="let --report overwrite an existing FILE")
    p.add_argument(
        "--readme-section",
        action="store_true",
        help="also print the generated part of README.md's 'What the paper gets wrong'",
    )
    args = p.parse_args(argv)
    if args.force and args.report is None:
        p.error("--force only applies to --report FILE")
    if args.report is not None:
        if args.report.is_dir():
            p.error(f"--report {str(args.report)!r} is a directory; give a file name")
        if args.report.exists() and not args.force:
            p.error(
                f"--report {str(args.report)!r} exists; refusing to overwrite it (add --force to replace it)"
            )
        if not args.report.parent.is_dir():
            p.error(f"--report {str(args.report)!r}: directory {str(args.report.parent)!r} does not exist")
    return args


def _fmt_margin(m: float | None) -> str:
    return "" if m is None else f"{m:.3g}"


def _row(cells: list[str]) -> str:
    out = []
    for text, (_, width) in zip(cells, _COLUMNS):
        text = text if len(text) <= width else text[: width - 1] + "…"
        out.append(text.ljust(width))
    return "  ".join(out).rstrip()


def _summary(results: list[Result]) -> dict[str, object]:
    counts = Counter(r.outcome.status for r in results)
    unexpected = [r.check.id for r in results if not r.as_expected]
    return {
        "total": len(results),
        "holds": counts.get("holds", 0),
        "refuted": counts.get("refuted", 0),
        "imprecise": counts.get("imprecise", 0),
        "failed": counts.get("failed", 0),
        "error": counts.get("error", 0),
        "unexpected": unexpected,
        "all_as_expected": not unexpected,
        "seconds": round(sum(r.seconds for r in results), 2),
    }


def _print_table(results: list[Result], verbose: bool) -> None:
    print(_row([name for name, _ in _COLUMNS]))
    print(_row(["-" * w for _, w in _COLUMNS]))
    for r in results:
        mark = "" if r.as_expected else " !"
        print(
            _row(
                [
                    r.check.id,
                    r.check.location,
                    r.check.claim,
                    r.check.method,
                    r.outcome.status + mark,
                    _fmt_margin(r.outcome.margin),
                    f"{r.seconds:.2f}",
                ]
            )
        )
    shown = [r for r in results if verbose or r.outcome.status != "holds" or not r.as_expected]
    if shown:
        print("\nDetails" + ("" if verbose else " (claims not holding, and anything unexpected)") + ":")
    for r in shown:
        head = f"[{r.outcome.status}{'' if r.as_expected else ', expected ' + r.check.expected}] {r.check.id}"
        print(head + f" — {r.check.location}")
        print(textwrap.indent(r.outcome.detail.strip() or "(no detail)", "    "))
    s = _summary(results)
    print(
        f"\n{s['total']} checks: {s['holds']} hold, {s['refuted']} refuted (paper claim false, "
        f"counterexample shown), {s['imprecise']} imprecise, {s['failed']} failed, {s['error']} errors; "
        f"{s['seconds']} s."
    )
    if s["unexpected"]:
        print("NOT as expected: " + ", ".join(s["unexpected"]))  # type: ignore[arg-type]
    else:
        print("Every check ended as expected.")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        checks = select(all_checks(), args.only, args.thorough)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not checks:
        why = f"no check id matches --only {args.only!r}" if args.only else "no checks are registered"
        print(f"error: {why}", file=sys.stderr)
        return 2
    if args.list:
        for c in checks:
            print(f"{c.id}\t{c.location}\t{c.subject}\t{c.method}\texpected {c.expected}\t{c.claim}")
        return 0
    ctx = Context(thorough=args.thorough, seed=args.seed)
    results = []
    for check in checks:
        result = run_check(check, ctx)
        results.append(result)
        if not args.json:
            print(f"  … {check.id}: {result.outcome.status} ({result.seconds:.1f} s)", file=sys.stderr)
    if args.json:
        print(json.dumps({"checks": [r.to_json() for r in results], "summary": _summary(results)}, indent=2))
    else:
        _print_table(results, args.verbose)
    registered = all_checks()
    if args.readme_section:
        print(render_readme_section(results, registered), end="")
    if args.report is not None:
        mode = "w" if args.force else "x"
        try:
            with args.report.open(mode, encoding="utf-8") as handle:
                handle.write(render_report(results, registered, ctx))
        except OSError as err:
            print(
                f"error: cannot write the report {str(args.report)!r}: {err.strerror or err}", file=sys.stderr
            )
            return 2
        print(f"errata report written to {args.report}", file=sys.stderr)
    return 0 if all(r.as_expected for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python -m proofs_check [--quick | --thorough] [--only PATTERN] [--json] [--list]``.

Runs every registered claim check and prints a table (or JSON). Exit status 0 only when every check ends
as expected: ``holds`` where the paper is right, ``refuted`` (with a printed counterexample) where it is not.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections import Counter

from proofs_check.registry import Context, Result, all_checks, run_check, select

_COLUMNS = (("id", 44), ("claim", 46), ("method", 14), ("status", 8), ("margin", 11), ("s", 6))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m proofs_check", description=__doc__.splitlines()[0])
    level = p.add_mutually_exclusive_group()
    level.add_argument("--quick", action="store_true", help="every registered check at quick effort (default)")
    level.add_argument("--thorough", action="store_true", help="larger searches and property-test budgets")
    p.add_argument("--only", metavar="PATTERN", help="run checks whose id contains PATTERN (or matches it as a regex)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--list", action="store_true", help="list the selected checks without running them")
    p.add_argument("--seed", type=int, default=0, help="seed for randomized searches (default 0)")
    p.add_argument("--verbose", "-v", action="store_true", help="print every check's detail under the table")
    return p.parse_args(argv)


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
        print(head)
        print(textwrap.indent(r.outcome.detail.strip() or "(no detail)", "    "))
    s = _summary(results)
    print(
        f"\n{s['total']} checks: {s['holds']} hold, {s['refuted']} refuted (paper claim false, counterexample "
        f"shown), {s['imprecise']} imprecise, {s['failed']} failed, {s['error']} errors; {s['seconds']} s."
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
            print(f"{c.id}\t{c.method}\texpected {c.expected}\t{c.claim}")
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
    return 0 if all(r.as_expected for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

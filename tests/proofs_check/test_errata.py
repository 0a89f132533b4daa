"""The errata report and README's "What the paper gets wrong" come from the same data, and each erratum's
re-run command gives the same verdict alone."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from proofs_check.errata import (
    README_END,
    README_START,
    corrections_of,
    is_erratum,
    readme_section,
    render_readme_section,
    render_report,
    rerun_command,
)
from proofs_check.registry import Check, Context, Outcome, ReadingOutcome, Result, all_checks, judge_readings
from tests.check_runs import result_of

ROOT = Path(__file__).resolve().parents[2]
CHECKS = all_checks()
ERRATA = [c for c in CHECKS if is_erratum(c)]


def test_readme_errata_table_is_the_generated_one() -> None:
    """The block `python -m proofs_check --readme-section` prints: the default run, so no thorough-only check."""
    section = readme_section((ROOT / "README.md").read_text(encoding="utf-8"))
    assert section is not None, f"README.md lacks the markers {README_START!r} … {README_END!r}"
    expected = render_readme_section([result_of(c.id) for c in ERRATA if not c.thorough_only], CHECKS)
    assert section == expected, (
        "README.md's errata table is stale; regenerate it from `python -m proofs_check --readme-section`:\n" + expected)


def test_every_erratum_is_in_the_readme_with_its_correction() -> None:
    section = readme_section((ROOT / "README.md").read_text(encoding="utf-8")) or ""
    fixes = corrections_of(CHECKS)
    for c in ERRATA:
        assert f"`{c.id}`" in section and f"`{fixes[c.id][0].id}`" in section


def _fake(id: str, subject: str = "paper", corrects: tuple[str, ...] = ()) -> Check:
    return Check(id=id, claim=f"claim {id}", method="numeric", expected="holds", fn=lambda ctx: Outcome("holds"),
                 quote=f"the sentence of {id}", location=f"Theorem {id[-1]}", subject=subject,  # type: ignore[arg-type]
                 reading="the natural one", corrects=corrects)


def test_the_report_has_every_part_of_an_erratum() -> None:
    wrong, fix, fine = _fake("lemma-Z.1/a"), _fake("lemma-Z.1/a-fixed", "correction", ("lemma-Z.1/a",)), _fake("lemma-Z.1/b")
    split = judge_readings([ReadingOutcome("strict", "refuted", "x = 2 fails"), ReadingOutcome("loose", "holds", "ok")],
                           margin=0.25, detail="more evidence", summary="x = 2 fails strictly")
    results = [Result(wrong, split, 0.1), Result(fix, Outcome("holds", 0.0, "fixed for all x"), 0.1),
               Result(fine, Outcome("holds", 0.0, "fine"), 0.1)]
    report = render_report(results, [wrong, fix, fine], Context(seed=3))
    for part in ("Theorem a", "> the sentence of lemma-Z.1/a", "**Reading.** the natural one", "imprecise",
                 "Reading A (strict): **refuted** — x = 2 fails", "more evidence", "`lemma-Z.1/a-fixed` (holds)",
                 "fixed for all x", "python -m proofs_check --only lemma-Z.1/a -v --seed 3", "x = 2 fails strictly"):
        assert part in report, part
    assert "lemma-Z.1/b" not in report  # a claim that holds is no erratum
    table = render_readme_section(results, [wrong, fix, fine])
    assert "x = 2 fails strictly" in table and "`lemma-Z.1/a-fixed`" in table and "lemma-Z.1/b" not in table
    assert "Not run for this table" not in table


def test_bug_readme_section_names_the_errata_it_did_not_run() -> None:
    """A thorough-only erratum was neither in the README table nor named anywhere near it."""
    wrong, fix = _fake("lemma-Z.1/a"), _fake("lemma-Z.1/a-fixed", "correction", ("lemma-Z.1/a",))
    wrong = dataclasses.replace(wrong, expected="imprecise", thorough_only=True)
    table = render_readme_section([Result(fix, Outcome("holds", 0.0, "fixed"), 0.1)], [wrong, fix])
    assert "Not run for this table" in table and "`lemma-Z.1/a` (imprecise; corrected: `lemma-Z.1/a-fixed`)" in table


def test_rerun_command_keeps_effort_and_seed() -> None:
    assert rerun_command("lemma-A.1/relu", Context()) == "python -m proofs_check --only lemma-A.1/relu -v"
    assert rerun_command("x-1/y", Context(thorough=True, seed=2)).endswith("-v --seed 2 --thorough")


def test_an_erratum_rerun_alone_gives_the_same_verdict() -> None:
    chosen = ["theorem-3.1/equality-conditions", "appendix-A.3/base-network"]  # one imprecise, one refuted
    for check_id in chosen:
        out = subprocess.run([sys.executable, "-m", "proofs_check", "--only", check_id, "--json"], cwd=ROOT,
                             capture_output=True, text=True, check=False, timeout=300)
        data = json.loads(out.stdout)
        assert [row["id"] for row in data["checks"]] == [check_id]
        alone, in_suite = data["checks"][0], result_of(check_id)
        assert alone["status"] == in_suite.outcome.status == in_suite.check.expected
        assert alone["margin"] == in_suite.outcome.margin

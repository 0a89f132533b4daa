"""The claim registry and the runner: registration rules, selection, outcomes, JSON shape, exit status."""

from __future__ import annotations

import json

import pytest

from proofs_check import registry
from proofs_check.__main__ import main
from proofs_check.registry import (
    SEED_MAX,
    Check,
    CheckFn,
    Context,
    Outcome,
    ReadingOutcome,
    Verdict,
    claim,
    judge_readings,
    run_check,
    select,
)


def _check(id: str, expected: Verdict, fn: CheckFn | None, thorough_only: bool = False) -> Check:
    return Check(
        id=id,
        claim="a claim",
        method="numeric",
        expected=expected,
        fn=fn,  # type: ignore[arg-type]
        thorough_only=thorough_only,
        quote="a quoted sentence",
        location="Lemma Z.1",
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"id": "no-label", "claim": "c", "method": "numeric"}, "must look like"),
        ({"id": "lemma-A.1/x", "claim": "c", "method": "guess"}, "method"),
        ({"id": "lemma-A.1/x", "claim": "c", "method": "numeric", "expected": "maybe"}, "expected"),
    ],
)
def test_claim_rejects_bad_registrations(kwargs, message):
    with pytest.raises(ValueError, match=message):
        claim(**kwargs)


def test_duplicate_ids_are_rejected(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {})
    where = {"quote": "q", "location": "l"}
    claim("lemma-Z.9/dup", "c", "numeric", **where)(lambda ctx: Outcome("holds"))
    with pytest.raises(ValueError, match="twice"):
        claim("lemma-Z.9/dup", "c", "numeric", **where)(lambda ctx: Outcome("holds"))


def test_refuted_is_as_expected_only_when_registered_refuted():
    def refuting(ctx: Context) -> Outcome:
        return Outcome("refuted", margin=-0.5, detail="counterexample: x = 1")

    assert run_check(_check("lemma-Z.1/a", "refuted", refuting), Context()).as_expected
    assert not run_check(_check("lemma-Z.1/b", "holds", refuting), Context()).as_expected


def test_a_crashing_check_is_an_error_with_its_message():
    def boom(ctx: Context) -> Outcome:
        raise ZeroDivisionError("divided by nothing")

    result = run_check(_check("lemma-Z.1/c", "holds", boom), Context())
    assert result.outcome.status == "error" and not result.as_expected
    assert "divided by nothing" in result.outcome.detail


def test_select_by_substring_regex_and_effort():
    checks = [
        _check("lemma-A.1/relu", "holds", None),
        _check("theorem-3.1/rank-gain", "holds", None),
        _check("theorem-3.1/big-search", "holds", None, thorough_only=True),
    ]
    assert [c.id for c in select(checks, "lemma", thorough=False)] == ["lemma-A.1/relu"]
    assert [c.id for c in select(checks, r"^theorem-3\.1/", thorough=False)] == ["theorem-3.1/rank-gain"]
    assert len(select(checks, None, thorough=True)) == 3
    with pytest.raises(ValueError, match="regular expression"):
        select(checks, "(", thorough=False)


def test_only_with_an_exact_id_selects_that_check_alone():
    checks = [
        _check("theorem-3.1/equality-conditions", "holds", None),
        _check("theorem-3.1/equality-conditions-corrected", "holds", None),
    ]
    assert [c.id for c in select(checks, "theorem-3.1/equality-conditions", thorough=False)] == [
        "theorem-3.1/equality-conditions"
    ]
    assert len(select(checks, "equality-conditions", thorough=False)) == 2  # a pattern still selects both


def test_every_registered_id_selects_exactly_itself():
    checks = registry.all_checks()
    assert all([c.id for c in select(checks, c.id, thorough=False)] == [c.id] for c in checks)


def test_json_shape(monkeypatch, capsys):
    fake = [
        _check(
            "lemma-Z.1/ok", "holds", lambda ctx: Outcome("holds", margin=0.25, detail="attained at r=0.5")
        ),
        _check("lemma-Z.1/wrong", "refuted", lambda ctx: Outcome("refuted", margin=-1.0, detail="x=2")),
    ]
    monkeypatch.setattr("proofs_check.__main__.all_checks", lambda: fake)
    assert main(["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"checks", "summary"}
    for row in data["checks"]:
        assert {
            "id",
            "claim",
            "method",
            "status",
            "margin",
            "detail",
            "seconds",
            "quote",
            "location",
            "subject",
            "reading",
            "corrects",
            "summary",
            "readings",
        } <= set(row)
        assert (
            row["quote"] == "a quoted sentence" and row["location"] == "Lemma Z.1" and row["corrects"] == []
        )
    assert data["summary"]["total"] == 2 and data["summary"]["refuted"] == 1
    assert data["summary"]["all_as_expected"] is True


def test_exit_status_is_nonzero_when_a_check_is_not_as_expected(monkeypatch, capsys):
    fake = [_check("lemma-Z.1/bad", "holds", lambda ctx: Outcome("refuted", detail="found x=3"))]
    monkeypatch.setattr("proofs_check.__main__.all_checks", lambda: fake)
    assert main([]) == 1
    out = capsys.readouterr().out
    assert "NOT as expected: lemma-Z.1/bad" in out and "found x=3" in out


def test_unknown_pattern_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr("proofs_check.__main__.all_checks", lambda: [_check("lemma-Z.1/a", "holds", None)])
    assert main(["--only", "no-such-claim"]) == 2
    assert "no check id matches" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-1", "abc", str(SEED_MAX + 1), "1.5"])
def test_bug_negative_seed_is_rejected_with_one_line(seed, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--seed", seed, "--only", "lemma-A.1/relu"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seed" in err and "Traceback" not in err and repr(seed) in err


def test_context_rejects_bad_seeds():
    for bad in (-1, SEED_MAX + 1, 1.5, True):
        with pytest.raises(ValueError, match="seed"):
            Context(seed=bad)  # type: ignore[arg-type]


def test_report_refuses_to_overwrite_unless_forced(monkeypatch, tmp_path, capsys):
    fake = [
        _check(
            "lemma-Z.1/wrong", "refuted", lambda ctx: Outcome("refuted", margin=-1.0, detail="x = 2 fails")
        )
    ]
    monkeypatch.setattr("proofs_check.__main__.all_checks", lambda: fake)
    target = tmp_path / "errata.md"
    target.write_text("an earlier report", encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--report", str(target)])
    assert stop.value.code == 2 and "refusing to overwrite" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "an earlier report"
    assert main(["--report", str(target), "--force"]) == 0
    report = target.read_text(encoding="utf-8")
    assert "lemma-Z.1/wrong" in report and "x = 2 fails" in report
    assert "python -m proofs_check --only lemma-Z.1/wrong -v" in report


def test_force_without_report_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--force"])
    assert stop.value.code == 2 and "--report" in capsys.readouterr().err


def test_judge_readings_is_imprecise_only_when_readings_disagree():
    agree = judge_readings([ReadingOutcome("a", "holds", "1"), ReadingOutcome("b", "holds", "2")])
    split = judge_readings(
        [ReadingOutcome("a", "holds", "1"), ReadingOutcome("b", "refuted", "x = 3")], margin=0.5
    )
    assert agree.status == "holds" and split.status == "imprecise" and split.margin == 0.5
    assert "Reading A (a): HOLDS — 1" in split.detail and "Reading B (b): REFUTED — x = 3" in split.detail
    assert [r["status"] for r in split.data["readings"]] == ["holds", "refuted"]
    with pytest.raises(ValueError, match="two readings"):
        judge_readings([ReadingOutcome("a", "holds", "1")])

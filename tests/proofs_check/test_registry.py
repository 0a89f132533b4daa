"""The claim registry and the runner: registration rules, selection, outcomes, JSON shape, exit status."""

from __future__ import annotations

import json

import pytest

from proofs_check import registry
from proofs_check.__main__ import main
from proofs_check.registry import Check, Context, Outcome, claim, run_check, select


def _check(id: str, expected: str, fn, thorough_only: bool = False) -> Check:
    return Check(id=id, claim="a claim", method="numeric", expected=expected, fn=fn, thorough_only=thorough_only)


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
    claim("lemma-Z.9/dup", "c", "numeric")(lambda ctx: Outcome("holds"))
    with pytest.raises(ValueError, match="twice"):
        claim("lemma-Z.9/dup", "c", "numeric")(lambda ctx: Outcome("holds"))


def test_refuted_is_as_expected_only_when_registered_refuted():
    refuting = lambda ctx: Outcome("refuted", margin=-0.5, detail="counterexample: x = 1")  # noqa: E731
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


def test_json_shape(monkeypatch, capsys):
    fake = [
        _check("lemma-Z.1/ok", "holds", lambda ctx: Outcome("holds", margin=0.25, detail="attained at r=0.5")),
        _check("lemma-Z.1/wrong", "refuted", lambda ctx: Outcome("refuted", margin=-1.0, detail="x=2")),
    ]
    monkeypatch.setattr("proofs_check.__main__.all_checks", lambda: fake)
    assert main(["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"checks", "summary"}
    for row in data["checks"]:
        assert {"id", "claim", "method", "status", "margin", "detail", "seconds"} <= set(row)
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

"""Every registered check ends as expected at quick effort; the registrations say exactly what they test.

A refutation prints its counterexample, an imprecise verdict prints every reading's outcome, every claim
of the paper that does not hold stands beside a verified corrected statement, and every check function is
named after its claim.
"""

from __future__ import annotations

import importlib

import pytest

from proofs_check import SECTION_MODULES
from proofs_check.errata import corrections_of
from proofs_check.registry import all_checks
from tests.check_runs import assert_as_expected
from theory.activations import registered_names

CHECKS = all_checks()
BY_ID = {c.id: c for c in CHECKS}

# The entries the specification asks for by name (a check of each must exist).
REQUIRED_IDS = (
    (
        "lemma-A.1/symbolic",
        "lemma-A.1/optimal-constant",
        "theorem-3.1/rank-gain",
        "theorem-3.1/equality-conditions",
        "theorem-3.1/equality-conditions-corrected",
        "appendix-A.2/relu-bias-monotone",
        "appendix-A.2/tanh-gain-monotone",
        "appendix-A.2/frozen-increases-with-gamma",
        "theorem-2.1/frozen-sgd",
        "theorem-2.1/cloning-sgd-persistence",
        "theorem-A.1/part-1",
        "theorem-A.1/part-2",
        "theorem-A.1/part-3",
        "lemma-A.2/ce-alone-backward",
        "theorem-A.1/re-alone-forward",
        "theorem-A.1/both-needed",
        "remark-A.1/dimension",
        "remark-A.2/corrected",
        "definition-A.2/worked-classification",
        "appendix-A.3/base-network",
        "appendix-A.3/base-network-corrected",
        "theorem-A.2/mlp",
        "theorem-A.2/cnn",
        "theorem-A.2/resnet",
        "theorem-A.2/vit",
        "theorem-A.2/persistence",
        "remark-A.4/groupnorm-exact-condition",
        "remark-2.4/weight-decay-map",
    )
    + tuple(
        f"remark-2.4/{name}"
        for name in (
            "sgd",
            "momentum",
            "nesterov",
            "rmsprop",
            "adam",
            "adamw",
            "l2",
            "dropout",
            "noisy-sgd",
            "per-unit-noise",
        )
    )
    + tuple(f"lemma-A.1/{name}" for name in registered_names())
)


def test_the_specified_entries_are_registered() -> None:
    missing = sorted(set(REQUIRED_IDS) - set(BY_ID))
    assert not missing, f"missing checks: {missing}"


@pytest.mark.parametrize("module", SECTION_MODULES)
def test_every_section_module_registers_checks(module: str) -> None:
    importlib.import_module(module)
    assert any(c.fn.__module__ == module for c in CHECKS), f"{module} registers no check"


@pytest.mark.parametrize("check", [c for c in CHECKS if not c.thorough_only], ids=lambda c: c.id)
def test_check_ends_as_expected(check) -> None:
    result = assert_as_expected(check.id)
    assert result.outcome.detail.strip(), "every check says what it found"
    if check.expected == "refuted":  # a refutation names concrete numbers someone can re-run
        assert any(ch.isdigit() for ch in result.outcome.detail)
    if check.expected == "imprecise":  # ... and an imprecise verdict gives every reading's own outcome
        readings = result.outcome.data.get("readings") or []
        assert len(readings) >= 2 and len({r["status"] for r in readings}) == 2, result.outcome.detail
        assert all(f"Reading {chr(ord('A') + i)} (" in result.outcome.detail for i in range(len(readings)))
        assert check.reading, "an imprecise check says which readings it weighed"


def test_every_paper_claim_that_fails_has_a_verified_correction() -> None:
    fixes = corrections_of(CHECKS)
    lonely = [c.id for c in CHECKS if c.subject == "paper" and c.expected != "holds" and c.id not in fixes]
    assert not lonely, f"paper claims that do not hold and have no correction check: {lonely}"
    for correction in (c for c in CHECKS if c.subject == "correction"):
        assert correction.expected == "holds", f"{correction.id}: a corrected statement must hold"
        for target in correction.corrects:
            assert target in BY_ID, f"{correction.id} corrects an unknown check {target!r}"
            paper = BY_ID[target]
            assert paper.subject == "paper" and paper.expected != "holds", (
                f"{correction.id} corrects {target}, which holds"
            )


def test_corrections_quote_the_sentence_they_correct() -> None:
    for correction in (c for c in CHECKS if c.subject == "correction"):
        assert correction.quote.strip(), f"{correction.id} quotes nothing"
        quoted = {BY_ID[t].quote for t in correction.corrects}
        assert correction.quote in quoted or any(
            correction.quote in q or q in correction.quote for q in quoted
        ), f"{correction.id} quotes a sentence none of {correction.corrects} quotes"


def test_every_check_function_is_named_after_its_claim() -> None:
    unnamed = [c.id for c in CHECKS if c.fn.__name__ in ("_", "check", "<lambda>")]
    assert not unnamed, f"check functions without a name of their own: {unnamed}"
    names = [(c.fn.__module__, c.fn.__name__) for c in CHECKS]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    assert not duplicated, f"two checks share a function name: {duplicated}"


def test_check_ids_are_unique() -> None:
    assert len(BY_ID) == len(CHECKS)


def test_bug_check_order_does_not_depend_on_import_order() -> None:
    """The errata table rendered in another order when a test imported one section module first."""
    ranks = [SECTION_MODULES.index(c.fn.__module__) for c in CHECKS]
    assert ranks == sorted(ranks)

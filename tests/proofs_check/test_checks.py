"""Every registered paper check ends as expected at quick effort, and a refutation prints its counterexample."""

from __future__ import annotations

import importlib

import pytest

from proofs_check import SECTION_MODULES
from proofs_check.registry import Context, all_checks, run_check
from theory.activations import registered_names

CHECKS = all_checks()

# The entries the specification asks for by name (a check of each must exist).
REQUIRED_IDS = (
    "lemma-A.1/symbolic", "lemma-A.1/optimal-constant", "theorem-3.1/rank-gain",
    "theorem-3.1/equality-conditions", "theorem-3.1/equality-conditions-corrected",
    "appendix-A.2/relu-bias-monotone", "appendix-A.2/tanh-gain-monotone", "appendix-A.2/frozen-increases-with-gamma",
    "theorem-2.1/frozen-sgd", "theorem-2.1/cloning-sgd-persistence",
    "theorem-A.1/part-1", "theorem-A.1/part-2", "theorem-A.1/part-3", "theorem-A.1/ce-alone-backward",
    "theorem-A.1/re-alone-forward", "theorem-A.1/both-needed", "remark-A.1/dimension", "remark-A.2/corrected",
    "definition-A.2/worked-classification", "appendix-A.3/base-network", "appendix-A.3/base-network-corrected",
    "theorem-A.2/mlp", "theorem-A.2/cnn", "theorem-A.2/resnet", "theorem-A.2/vit", "theorem-A.2/persistence",
) + tuple(
    f"remark-2.4/{name}"
    for name in ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "l2", "dropout", "noisy-sgd", "per-unit-noise")
) + tuple(f"lemma-A.1/{name}" for name in registered_names())


def test_the_specified_entries_are_registered() -> None:
    missing = sorted(set(REQUIRED_IDS) - {c.id for c in CHECKS})
    assert not missing, f"missing checks: {missing}"


@pytest.mark.parametrize("module", SECTION_MODULES)
def test_every_section_module_registers_checks(module: str) -> None:
    importlib.import_module(module)
    assert any(c.fn.__module__ == module for c in CHECKS), f"{module} registers no check"


@pytest.mark.parametrize("check", [c for c in CHECKS if not c.thorough_only], ids=lambda c: c.id)
def test_check_ends_as_expected(check) -> None:
    result = run_check(check, Context(thorough=False, seed=0))
    assert result.outcome.status == check.expected, result.outcome.detail
    assert result.outcome.detail.strip(), "every check says what it found"
    if check.expected == "refuted":  # a refutation names concrete numbers someone can re-run
        assert any(ch.isdigit() for ch in result.outcome.detail)


def test_every_refuted_claim_has_a_corrected_statement_beside_it() -> None:
    ids = {c.id for c in CHECKS}
    by_label = {}
    for c in CHECKS:
        by_label.setdefault(c.id.split("/")[0], []).append(c)
    lonely = [
        c.id for c in CHECKS
        if c.expected == "refuted" and not any(o.expected == "holds" for o in by_label[c.id.split("/")[0]])
    ]
    assert not lonely, f"refuted claims without any verified statement under the same label: {lonely}"
    assert len(ids) == len(CHECKS)

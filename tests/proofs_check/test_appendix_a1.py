"""Every check registered by proofs_check.appendix_a1 ends as expected (quick effort), with its evidence printed."""

from __future__ import annotations

import pytest

import proofs_check.appendix_a1  # noqa: F401  (registers the checks)
from proofs_check.registry import Context, _REGISTRY, run_check

CHECKS = [c for c in _REGISTRY.values() if c.fn.__module__ == "proofs_check.appendix_a1"]


def test_module_registers_checks():
    assert len(CHECKS) >= 3


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_check_ends_as_expected(check):
    result = run_check(check, Context(thorough=False, seed=0))
    assert result.outcome.status == check.expected, result.outcome.detail
    assert result.outcome.detail.strip()
    if check.expected == "refuted":  # a refutation must print its counterexample
        assert any(ch.isdigit() for ch in result.outcome.detail)

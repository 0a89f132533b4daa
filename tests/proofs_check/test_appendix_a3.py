"""Every check registered by proofs_check.appendix_a3 ends as expected (holds, or refuted with a counterexample)."""

from __future__ import annotations

import pytest

import proofs_check.appendix_a3  # noqa: F401  (registers the checks)
from proofs_check.registry import Context, _REGISTRY, run_check

PREFIXES = ("theorem-A.1/", "remark-A.1/", "remark-A.2/", "appendix-A.3/")
IDS = sorted(i for i in _REGISTRY if i.startswith(PREFIXES))


def test_module_registers_checks() -> None:
    assert len(IDS) >= 3


@pytest.mark.parametrize("check_id", IDS)
def test_check_ends_as_expected(check_id: str) -> None:
    result = run_check(_REGISTRY[check_id], Context())
    assert result.outcome.status == result.check.expected, result.outcome.detail
    if result.check.expected == "refuted":
        assert result.outcome.detail.strip(), "a refuted claim must print its counterexample"

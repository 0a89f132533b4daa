"""Every Appendix A.4 check ends as registered (holds / refuted with a counterexample)."""

from __future__ import annotations

import pytest

import proofs_check.appendix_a4  # noqa: F401  (registers the checks)
from proofs_check.registry import Context, all_checks, run_check

A4_PREFIXES = ("theorem-A.2/", "lemma-A.2/", "remark-A.3/", "remark-A.4/")
CHECKS = [c for c in all_checks() if c.id.startswith(A4_PREFIXES) and not c.thorough_only]


def test_appendix_a4_registers_its_checks():
    ids = {c.id for c in CHECKS}
    assert {"theorem-A.2/mlp", "theorem-A.2/cnn", "theorem-A.2/resnet", "theorem-A.2/vit",
            "theorem-A.2/persistence", "lemma-A.2/as-printed", "lemma-A.2/corrected"} <= ids


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_check_ends_as_expected(check):
    result = run_check(check, Context())
    assert result.outcome.status == check.expected, result.outcome.detail
    if check.expected == "refuted":
        assert "seed" in result.outcome.detail  # the counterexample can be re-run

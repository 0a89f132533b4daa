"""Remark 2.4 reproduced per optimizer and per symmetry breaker: the proofs_check checks of Remark 2.4 (and
Remark A.3's weight-decay sentence), at the default seed and on the networks of a second seed."""

from __future__ import annotations

import pytest

from tests.check_runs import CHECKS, assert_as_expected

REMARK_2_4 = sorted(i for i, c in CHECKS.items()
                    if i.startswith("remark-2.4/") and c.fn.__module__ == "proofs_check.section2" and "single-noisy-step" not in i)
"""The per-optimizer and per-breaker checks on small DAG nets (proofs_check.section2); the sentences about the cloning
experiments (proofs_check.section2_escape) run the smoke cloning study and are tested by their own seeds."""
SECOND_SEED = 31
"""Another cloned DAG and batch for every optimizer and breaker (the checks build their networks from the seed)."""


@pytest.mark.parametrize("check_id", REMARK_2_4 + ["remark-A.3/weight-decay"])
def test_remark_2_4_check(check_id: str) -> None:
    assert_as_expected(check_id)


@pytest.mark.parametrize("check_id", [i for i in REMARK_2_4 if "weight-decay" not in i])
def test_remark_2_4_check_on_other_networks(check_id: str) -> None:
    assert_as_expected(check_id, seed=SECOND_SEED)

"""Each check run once per (id, effort, seed) in a test session, shared by every test that needs its result.

The claim logic lives once, in :mod:`proofs_check`; tests/paper, tests/dag_nets and tests/proofs_check
parametrize over check ids and read the results from here, so no check runs twice for the same context.
"""

from __future__ import annotations

import functools

from proofs_check.registry import Check, Context, Result, all_checks, run_check

CHECKS: dict[str, Check] = {c.id: c for c in all_checks()}


@functools.cache
def result_of(check_id: str, seed: int = 0, thorough: bool = False) -> Result:
    """The result of the registered check ``check_id`` in Context(thorough, seed) (run on first request)."""
    return run_check(CHECKS[check_id], Context(thorough=thorough, seed=seed))


def assert_as_expected(check_id: str, seed: int = 0, thorough: bool = False) -> Result:
    """Run (or reuse) the check and assert that it ends with its registered verdict; return the result."""
    result = result_of(check_id, seed, thorough)
    assert result.outcome.status == result.check.expected, (
        f"{check_id} (seed {seed}): {result.outcome.detail}"
    )
    return result

"""Definition A.2 reproduced: the proofs_check checks of the normal-space classification (N_C vs N_D) at the
default seed and at a second one (another trained base network)."""

from __future__ import annotations

import pytest

from tests.check_runs import CHECKS, assert_as_expected

DEFINITION_A_2 = sorted(i for i in CHECKS if i.startswith("definition-A.2/"))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("check_id", DEFINITION_A_2)
def test_definition_a2_check(check_id: str, seed: int) -> None:
    assert_as_expected(check_id, seed=seed)

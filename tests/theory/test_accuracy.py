"""The accuracy report: every method pair agrees to the 1e-10 target (the docs/theory.md table)."""

from __future__ import annotations

import pytest

from theory.accuracy import method_disagreements
from theory.activations import modulated

TARGET = 1e-10


@pytest.mark.parametrize(
    "act", ["relu", "silu", modulated("erf", 0.5, 0.0)], ids=["relu", "silu", "erf(0.5,0)"]
)
def test_method_disagreements_below_target(act):
    row = method_disagreements(act)
    assert 0.0 <= row["alpha"] <= 1.0 and row["gamma"] == pytest.approx(
        (1 - row["alpha"]) / (1 + row["alpha"])
    )
    for key in (
        "alpha_hermite_vs_stein",
        "gamma_hermite_vs_stein",
        "kernel_series_vs_direct",
        "frozen_roots_vs_reference",
        "alpha_vs_closed",
        "kernel_vs_closed",
    ):
        assert row[key] is None or row[key] < TARGET, key
    assert row["frozen_reference"] in ("closed", "mp")
